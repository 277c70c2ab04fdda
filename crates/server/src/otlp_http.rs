//! The OTLP/HTTP receiver (`/v1/traces`, `/v1/metrics`, `/v1/logs` on port 4318), per the
//! OTLP specification: protobuf or JSON bodies, optional gzip, partial success in the
//! response, `google.rpc.Status` bodies on errors, 429/503 with `Retry-After` when pushed back.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use prost::Message;
use sloscope_ingest::SignalType;

use crate::auth::Authenticator;
use crate::config::Scope;
use crate::pipeline::{Accepted, Encoded, ExportResponse, Ingestor, Refused};

#[derive(Clone)]
struct Receiver {
    ingestor: Arc<Ingestor>,
    authenticator: Arc<Authenticator>,
    max_request_bytes: usize,
}

pub fn router(
    ingestor: Arc<Ingestor>,
    authenticator: Arc<Authenticator>,
    max_request_bytes: usize,
) -> Router {
    let receiver = Receiver {
        ingestor,
        authenticator,
        max_request_bytes,
    };
    Router::new()
        .route(
            "/v1/traces",
            post(|state, headers, body| export(state, SignalType::Traces, headers, body)),
        )
        .route(
            "/v1/metrics",
            post(|state, headers, body| export(state, SignalType::Metrics, headers, body)),
        )
        .route(
            "/v1/logs",
            post(|state, headers, body| export(state, SignalType::Logs, headers, body)),
        )
        .with_state(receiver)
}

/// `google.rpc.Status`, the body of every OTLP/HTTP error response.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

const GRPC_INVALID_ARGUMENT: i32 = 3;
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
const GRPC_UNAUTHENTICATED: i32 = 16;
const GRPC_PERMISSION_DENIED: i32 = 7;
const GRPC_UNAVAILABLE: i32 = 14;

fn error_response(format: Format, status: StatusCode, code: i32, message: String) -> Response {
    let body = match format {
        Format::Protobuf => RpcStatus { code, message }.encode_to_vec(),
        Format::Json => {
            serde_json::to_vec(&serde_json::json!({ "code": code, "message": message }))
                .unwrap_or_default()
        }
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response();
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn success_response(format: Format, signal: SignalType, accepted: Accepted) -> Response {
    let response = ExportResponse::new(signal, accepted);
    let body = match format {
        Format::Protobuf => response.encode_protobuf(),
        Format::Json => response.encode_json(),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// Inflates a gzip body, refusing to produce more than `limit` bytes (a gzip bomb stops here).
fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, (StatusCode, String)> {
    let mut decoder = flate2::read::GzDecoder::new(compressed).take(limit as u64 + 1);
    let mut inflated = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    decoder.read_to_end(&mut inflated).map_err(|error| {
        (
            StatusCode::BAD_REQUEST,
            format!("body is not valid gzip: {error}"),
        )
    })?;
    if inflated.len() > limit {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed body exceeds the limit of {limit} bytes"),
        ));
    }
    Ok(inflated)
}

async fn export(
    State(receiver): State<Receiver>,
    signal: SignalType,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = match media_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Format::Protobuf,
        "application/json" => Format::Json,
        _ => {
            return error_response(
                Format::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                GRPC_INVALID_ARGUMENT,
                format!(
                    "content type `{content_type}` is not supported: use application/x-protobuf or application/json"
                ),
            );
        }
    };
    if let Err(denied) = receiver.authenticator.check(&headers, Scope::Ingest) {
        let (status, code) = if denied.unauthenticated {
            (StatusCode::UNAUTHORIZED, GRPC_UNAUTHENTICATED)
        } else {
            (StatusCode::FORBIDDEN, GRPC_PERMISSION_DENIED)
        };
        return error_response(format, status, code, denied.message);
    }
    let limit = receiver.max_request_bytes;
    let raw: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_response(
                format,
                StatusCode::PAYLOAD_TOO_LARGE,
                GRPC_INVALID_ARGUMENT,
                format!("body exceeds the limit of {limit} bytes"),
            );
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity");
    let body = match encoding.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => raw,
        "gzip" | "x-gzip" => match gunzip(&raw, limit) {
            Ok(inflated) => bytes::Bytes::from(inflated),
            Err((status, message)) => {
                return error_response(format, status, GRPC_INVALID_ARGUMENT, message);
            }
        },
        other => {
            return error_response(
                format,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                GRPC_INVALID_ARGUMENT,
                format!("content encoding `{other}` is not supported: use gzip or none"),
            );
        }
    };
    let encoded = match format {
        Format::Protobuf => Encoded::Protobuf(body),
        Format::Json => Encoded::Json(body),
    };
    match receiver.ingestor.export(signal, encoded).await {
        Ok(accepted) => success_response(format, signal, accepted),
        Err(Refused::Invalid(message)) => error_response(
            format,
            StatusCode::BAD_REQUEST,
            GRPC_INVALID_ARGUMENT,
            message,
        ),
        Err(Refused::Busy) => error_response(
            format,
            StatusCode::TOO_MANY_REQUESTS,
            GRPC_RESOURCE_EXHAUSTED,
            "ingest queue is full, retry later".into(),
        ),
        Err(Refused::Unavailable(message)) => error_response(
            format,
            StatusCode::SERVICE_UNAVAILABLE,
            GRPC_UNAVAILABLE,
            message,
        ),
    }
}
