//! The OTLP export request of any signal, and its protobuf encoding both ways.
//!
//! Protobuf is the wire format the write-ahead log keeps, so a JSON export is re-encoded with
//! [`ExportRequest::encode_protobuf`] before it is stored. The JSON mapping is in `json.rs`;
//! decompression and size limits are the server's.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;

use crate::{IngestError, SignalType};

/// A decoded export request, before validation.
#[derive(Clone, Debug, PartialEq)]
pub enum ExportRequest {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

impl ExportRequest {
    pub fn signal(&self) -> SignalType {
        match self {
            ExportRequest::Traces(_) => SignalType::Traces,
            ExportRequest::Metrics(_) => SignalType::Metrics,
            ExportRequest::Logs(_) => SignalType::Logs,
        }
    }

    pub fn encode_protobuf(&self) -> Vec<u8> {
        match self {
            ExportRequest::Traces(request) => request.encode_to_vec(),
            ExportRequest::Metrics(request) => request.encode_to_vec(),
            ExportRequest::Logs(request) => request.encode_to_vec(),
        }
    }

    /// How many items (spans, data points, log records) the request carries.
    pub fn item_count(&self) -> usize {
        match self {
            ExportRequest::Traces(request) => request
                .resource_spans
                .iter()
                .flat_map(|resource_spans| &resource_spans.scope_spans)
                .map(|scope_spans| scope_spans.spans.len())
                .sum(),
            ExportRequest::Metrics(request) => request
                .resource_metrics
                .iter()
                .flat_map(|resource_metrics| &resource_metrics.scope_metrics)
                .flat_map(|scope_metrics| &scope_metrics.metrics)
                .map(|metric| match &metric.data {
                    Some(Data::Gauge(gauge)) => gauge.data_points.len(),
                    Some(Data::Sum(sum)) => sum.data_points.len(),
                    Some(Data::Histogram(histogram)) => histogram.data_points.len(),
                    Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
                    Some(Data::Summary(summary)) => summary.data_points.len(),
                    None => 0,
                })
                .sum(),
            ExportRequest::Logs(request) => request
                .resource_logs
                .iter()
                .flat_map(|resource_logs| &resource_logs.scope_logs)
                .map(|scope_logs| scope_logs.log_records.len())
                .sum(),
        }
    }
}

/// Decodes an OTLP/protobuf export request body (already decompressed).
pub fn decode_protobuf(signal: SignalType, body: &[u8]) -> Result<ExportRequest, IngestError> {
    let decoded = match signal {
        SignalType::Traces => ExportTraceServiceRequest::decode(body).map(ExportRequest::Traces),
        SignalType::Metrics => {
            ExportMetricsServiceRequest::decode(body).map(ExportRequest::Metrics)
        }
        SignalType::Logs => ExportLogsServiceRequest::decode(body).map(ExportRequest::Logs),
    };
    decoded.map_err(|error| IngestError::Malformed {
        signal,
        reason: format!(
            "cannot decode {} from protobuf: {error}",
            signal.request_type()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn one_span_request() -> ExportTraceServiceRequest {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: String::from("GET /customers/{id}"),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_100_000_000,
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_round_trips() {
        let request = ExportRequest::Traces(one_span_request());
        let body = request.encode_protobuf();
        let decoded = decode_protobuf(SignalType::Traces, &body);
        assert_eq!(decoded, Ok(request));
    }

    #[test]
    fn truncated_protobuf_is_an_error_naming_the_request_type() {
        let body = ExportRequest::Traces(one_span_request()).encode_protobuf();
        let truncated = &body[..body.len() - 5];
        let error = decode_protobuf(SignalType::Traces, truncated).unwrap_err();
        let message = error.to_string();
        assert!(matches!(
            error,
            IngestError::Malformed {
                signal: SignalType::Traces,
                ..
            }
        ));
        assert!(
            message
                .starts_with("malformed traces request: cannot decode ExportTraceServiceRequest"),
            "{message}"
        );
        assert!(message.contains("failed to decode"), "{message}");
    }

    #[test]
    fn garbage_is_an_error_for_every_signal() {
        for signal in SignalType::ALL {
            let error = decode_protobuf(signal, &[0xff, 0xff, 0xff]).unwrap_err();
            assert!(error.to_string().contains(signal.request_type()), "{error}");
        }
    }

    #[test]
    fn empty_body_is_an_empty_request() {
        let decoded = decode_protobuf(SignalType::Logs, &[]).unwrap();
        assert_eq!(decoded.item_count(), 0);
        assert_eq!(decoded.signal(), SignalType::Logs);
    }
}
