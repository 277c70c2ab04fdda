//! The receive and derive stages of sloscope as pure functions: OTLP export requests in
//! (protobuf or OTLP/JSON bytes), validated model records and per-minute application signals
//! out, with every item that could not be used counted and explained.
//!
//! - [`decode_protobuf`] and [`decode_json`] turn a request body into an [`ExportRequest`];
//!   the JSON path also catches the cases where the serde mapping of `opentelemetry-proto`
//!   would silently lose data.
//! - [`convert`] validates ids and timestamps and moves the request into a
//!   [`sloscope_model::Batch`], rejecting the items that are unusable.
//! - [`derive_signals`] folds spans into per-minute [`SignalStats`](sloscope_model::SignalStats)
//!   with the semantics of CloudWatch Application Signals, with an [`OperationGuard`] bounding
//!   the number of operations per service.
//!
//! Nothing here does I/O, spawns tasks or reads the clock (the caller passes the time): sockets,
//! HTTP and gRPC framing, decompression and size limits belong to `sloscope-server`, keeping
//! records and rollups to `sloscope-store`.

mod convert;
mod decode;
mod error;
mod json;
mod rejections;
mod signals;

pub use convert::{Converted, convert};
pub use decode::{ExportRequest, decode_protobuf};
pub use error::IngestError;
pub use json::decode_json;
pub use rejections::Rejections;
pub use signals::{
    OperationGuard, SignalDeltas, UNKNOWN_REMOTE_SERVICE, derive_signals, remote_target,
    server_operation,
};

use std::fmt;

/// The three OTLP signals, each with its own export request and item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignalType {
    Traces,
    Metrics,
    Logs,
}

impl SignalType {
    pub const ALL: [SignalType; 3] = [SignalType::Traces, SignalType::Metrics, SignalType::Logs];

    /// The name OTLP/HTTP uses in its paths (`/v1/traces`).
    pub fn name(self) -> &'static str {
        match self {
            SignalType::Traces => "traces",
            SignalType::Metrics => "metrics",
            SignalType::Logs => "logs",
        }
    }

    /// What one item of the signal is called in partial-success answers ("3 spans rejected").
    pub fn item_noun(self) -> &'static str {
        match self {
            SignalType::Traces => "spans",
            SignalType::Metrics => "data points",
            SignalType::Logs => "log records",
        }
    }

    /// The protobuf message of the signal's export request.
    pub fn request_type(self) -> &'static str {
        match self {
            SignalType::Traces => "ExportTraceServiceRequest",
            SignalType::Metrics => "ExportMetricsServiceRequest",
            SignalType::Logs => "ExportLogsServiceRequest",
        }
    }
}

impl fmt::Display for SignalType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    //! The three stages together, as the server runs them.

    use std::time::Instant;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, InstrumentationScope, KeyValue, any_value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    use super::*;

    const NOW: u64 = 1_700_000_000_000_000_000;

    fn key_value(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn text(key: &str, value: &str) -> KeyValue {
        key_value(key, any_value::Value::StringValue(value.to_owned()))
    }

    /// An export like an instrumented HTTP service sends: about 450 bytes a span.
    fn realistic_request(spans_per_request: u64, seed: u64) -> ExportTraceServiceRequest {
        let resource = Resource {
            attributes: vec![
                text("service.name", "checkout"),
                text("service.version", "2.3.1"),
                text("deployment.environment.name", "production"),
                text("host.name", "ip-10-0-3-17.ec2.internal"),
                text("telemetry.sdk.name", "opentelemetry"),
                text("telemetry.sdk.language", "java"),
                text("telemetry.sdk.version", "1.45.0"),
                text("process.runtime.name", "OpenJDK Runtime Environment"),
            ],
            ..Default::default()
        };
        let spans = (0..spans_per_request)
            .map(|index| {
                let number = seed * spans_per_request + index;
                let is_client = index % 2 == 1;
                let route = [
                    "/customers/{id}",
                    "/orders",
                    "/orders/{id}/items",
                    "/health",
                ][(number % 4) as usize];
                let status = if number.is_multiple_of(50) {
                    503
                } else if number.is_multiple_of(10) {
                    404
                } else {
                    200
                };
                let mut attributes = vec![
                    text(
                        "http.request.method",
                        if number.is_multiple_of(3) {
                            "POST"
                        } else {
                            "GET"
                        },
                    ),
                    key_value(
                        "http.response.status_code",
                        any_value::Value::IntValue(status),
                    ),
                    text("url.path", &format!("/customers/{number}")),
                    text(
                        "user_agent.original",
                        "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101",
                    ),
                    text("network.protocol.version", "1.1"),
                ];
                if is_client {
                    attributes.push(text("server.address", "inventory.internal"));
                    attributes.push(text("url.template", "/items/{id}"));
                } else {
                    attributes.push(text("http.route", route));
                }
                let start = NOW - 3_600_000_000_000 + number * 1_000_000;
                Span {
                    trace_id: (number as u128 + 1).to_be_bytes().to_vec(),
                    span_id: (number + 1).to_be_bytes().to_vec(),
                    parent_span_id: if is_client {
                        (number).to_be_bytes().to_vec()
                    } else {
                        Vec::new()
                    },
                    name: format!("GET {route}"),
                    kind: if is_client { 3 } else { 2 },
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + 1_000_000 + number % 97 * 1_000_000,
                    attributes,
                    status: Some(Status {
                        code: if status >= 500 { 2 } else { 0 },
                        message: String::new(),
                    }),
                    ..Default::default()
                }
            })
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: String::from("io.opentelemetry.tomcat-10.0"),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_to_signals_keeps_every_span() {
        let body = ExportRequest::Traces(realistic_request(500, 0)).encode_protobuf();
        let request = decode_protobuf(SignalType::Traces, &body).unwrap();
        assert_eq!(request.item_count(), 500);
        let converted = convert(request, NOW);
        assert_eq!(converted.rejected, Rejections::default());
        assert_eq!(converted.batch.spans.len(), 500);
        let mut guard = OperationGuard::new(100);
        let mut deltas = SignalDeltas::new();
        derive_signals(&converted.batch.spans, &mut guard, &mut deltas);
        let requests: u64 = deltas.values().map(|stats| stats.requests).sum();
        // Every server span is a local root and every client span a dependency: one signal each.
        assert_eq!(requests, 500);
        assert!(
            deltas
                .keys()
                .all(|(_, key)| !key.operation.contains("/customers/1"))
        );
        assert_eq!(guard.total_folded(), 0);
    }

    /// Run with `cargo test -p sloscope-ingest --release -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, meaningful only in release builds"]
    fn throughput_of_decode_convert_derive() {
        let spans_per_request = 1_000;
        let requests = 200;
        let bodies: Vec<Vec<u8>> = (0..requests)
            .map(|seed| {
                ExportRequest::Traces(realistic_request(spans_per_request, seed)).encode_protobuf()
            })
            .collect();
        let average_bytes =
            bodies.iter().map(Vec::len).sum::<usize>() as u64 / (requests * spans_per_request);
        let mut guard = OperationGuard::new(200);
        let mut deltas = SignalDeltas::new();
        let mut decode_seconds = 0.0;
        let mut convert_seconds = 0.0;
        let mut derive_seconds = 0.0;
        for body in &bodies {
            let started = Instant::now();
            let request = decode_protobuf(SignalType::Traces, body).unwrap();
            let decoded = Instant::now();
            let converted = convert(request, NOW);
            let converted_at = Instant::now();
            derive_signals(&converted.batch.spans, &mut guard, &mut deltas);
            let derived = Instant::now();
            decode_seconds += (decoded - started).as_secs_f64();
            convert_seconds += (converted_at - decoded).as_secs_f64();
            derive_seconds += (derived - converted_at).as_secs_f64();
        }
        let total_spans = (requests * spans_per_request) as f64;
        let total_seconds = decode_seconds + convert_seconds + derive_seconds;
        eprintln!(
            "{average_bytes} bytes a span: {:.0} spans/s overall (decode {:.0}/s, convert {:.0}/s, derive {:.0}/s)",
            total_spans / total_seconds,
            total_spans / decode_seconds,
            total_spans / convert_seconds,
            total_spans / derive_seconds,
        );
        let json_bodies: Vec<Vec<u8>> = (0..20)
            .map(|seed| serde_json::to_vec(&realistic_request(spans_per_request, seed)).unwrap())
            .collect();
        let json_started = Instant::now();
        for body in &json_bodies {
            let (request, rejections) = decode_json(SignalType::Traces, body).unwrap();
            assert!(rejections.is_empty());
            assert_eq!(request.item_count() as u64, spans_per_request);
        }
        let json_spans = (json_bodies.len() as u64 * spans_per_request) as f64;
        eprintln!(
            "otlp/json decode: {:.0} spans/s",
            json_spans / json_started.elapsed().as_secs_f64()
        );
        let reference_started = Instant::now();
        for body in &json_bodies {
            let _decoded: ExportTraceServiceRequest = serde_json::from_slice(body).unwrap();
        }
        eprintln!(
            "opentelemetry-proto serde alone, for reference: {:.0} spans/s",
            json_spans / reference_started.elapsed().as_secs_f64()
        );
    }
}
