//! The OTLP/gRPC receiver (`TraceService`, `MetricsService`, `LogsService` on port 4317).
//!
//! The generated tonic servers decode with prost and answer a malformed message with
//! `INTERNAL`; OTLP wants `INVALID_ARGUMENT`, and the store wants the request's bytes for its
//! log anyway. So these services take the message as raw bytes (a pass-through codec) and
//! give them to the same ingest stage as OTLP/HTTP.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use sloscope_ingest::SignalType;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};

use crate::auth::Authenticator;
use crate::config::Scope;
use crate::pipeline::{Encoded, ExportResponse, Ingestor, Refused};

/// Passes message bytes through untouched in both directions.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = bytes::Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, destination: &mut EncodeBuf<'_>) -> Result<(), Status> {
        bytes::BufMut::put_slice(destination, &item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = bytes::Bytes;
    type Error = Status;

    fn decode(&mut self, source: &mut DecodeBuf<'_>) -> Result<Option<bytes::Bytes>, Status> {
        Ok(Some(source.copy_to_bytes(source.remaining())))
    }
}

/// The three OTLP services differ only in name and signal.
pub trait OtlpSignal: Send + Sync + 'static {
    const SIGNAL: SignalType;
    const NAME: &'static str;
}

pub struct Traces;
pub struct Metrics;
pub struct Logs;

impl OtlpSignal for Traces {
    const SIGNAL: SignalType = SignalType::Traces;
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl OtlpSignal for Metrics {
    const SIGNAL: SignalType = SignalType::Metrics;
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
}

impl OtlpSignal for Logs {
    const SIGNAL: SignalType = SignalType::Logs;
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

pub struct OtlpService<S> {
    ingestor: Arc<Ingestor>,
    authenticator: Arc<Authenticator>,
    max_request_bytes: usize,
    signal: std::marker::PhantomData<S>,
}

impl<S> Clone for OtlpService<S> {
    fn clone(&self) -> Self {
        OtlpService {
            ingestor: self.ingestor.clone(),
            authenticator: self.authenticator.clone(),
            max_request_bytes: self.max_request_bytes,
            signal: std::marker::PhantomData,
        }
    }
}

impl<S: OtlpSignal> OtlpService<S> {
    pub fn new(
        ingestor: Arc<Ingestor>,
        authenticator: Arc<Authenticator>,
        max_request_bytes: usize,
    ) -> Self {
        OtlpService {
            ingestor,
            authenticator,
            max_request_bytes,
            signal: std::marker::PhantomData,
        }
    }
}

impl<S: OtlpSignal> NamedService for OtlpService<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S: OtlpSignal> tower::Service<http::Request<tonic::body::Body>> for OtlpService<S> {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move {
            if request.uri().path() != format!("/{}/Export", S::NAME) {
                return Ok(Status::unimplemented(format!(
                    "{} has only the Export method",
                    S::NAME
                ))
                .into_http());
            }
            let mut grpc = Grpc::new(RawCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(service.max_request_bytes);
            let response = grpc.unary(ExportMethod(service), request).await;
            Ok(oversize_is_not_retryable(response))
        })
    }
}

/// tonic refuses a message over the size limit with `OUT_OF_RANGE`, which OTLP clients retry
/// although the same request can never succeed. Answer `INVALID_ARGUMENT`, which no client
/// retries, as OTLP/HTTP answers 413 (SDKs retry `RESOURCE_EXHAUSTED` too, whatever the spec
/// says about retry information).
fn oversize_is_not_retryable(
    response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let out_of_range = response
        .headers()
        .get("grpc-status")
        .is_some_and(|code| code == "11");
    if !out_of_range {
        return response;
    }
    let message = response
        .headers()
        .get("grpc-message")
        .and_then(|value| value.to_str().ok())
        .map(|text| text.replace("%20", " "))
        .unwrap_or_else(|| "message exceeds the size limit".into());
    Status::invalid_argument(message).into_http()
}

struct ExportMethod<S>(OtlpService<S>);

impl<S: OtlpSignal> UnaryService<bytes::Bytes> for ExportMethod<S> {
    type Response = Vec<u8>;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: Request<bytes::Bytes>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move {
            let authorization = request
                .metadata()
                .get("authorization")
                .and_then(|value| value.to_str().ok());
            if let Err(denied) = service
                .authenticator
                .check_value(authorization, Scope::Ingest)
            {
                let code = if denied.unauthenticated {
                    Code::Unauthenticated
                } else {
                    Code::PermissionDenied
                };
                return Err(Status::new(code, denied.message));
            }
            let body = request.into_inner();
            match service
                .ingestor
                .export(S::SIGNAL, Encoded::Protobuf(body))
                .await
            {
                Ok(accepted) => Ok(Response::new(
                    ExportResponse::new(S::SIGNAL, accepted).encode_protobuf(),
                )),
                Err(Refused::Invalid(message)) => Err(Status::invalid_argument(message)),
                Err(Refused::Busy) => Err(Status::resource_exhausted(
                    "ingest queue is full, retry later",
                )),
                Err(Refused::Unavailable(message)) => Err(Status::unavailable(message)),
            }
        })
    }
}
