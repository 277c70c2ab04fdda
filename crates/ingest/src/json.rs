//! OTLP/JSON decoding without silent data loss.
//!
//! `opentelemetry-proto`'s serde mapping reads the spec's examples (hex ids, lowerCamelCase
//! keys, 64-bit integers as strings or numbers), but it ignores keys it does not know and, where
//! a oneof is flattened, swallows errors: snake_case keys (`resource_spans`) give an empty
//! request, a sum or histogram whose `aggregationTemporality` is a name disappears whole, and a
//! point whose `asDouble` is `"NaN"` loses its value. So the body is first surveyed against the
//! OTLP/JSON shape (`shape.rs`; an unsupported key is an error), then decoded, and for metrics
//! the decoded request is compared with the survey: whatever vanished is reported as rejected,
//! or recovered when it is a finite `asDouble` written as a string.
//!
//! Validation of the decoded items (ids, timestamps) is `convert`'s; decompression is the
//! server's.

mod shape;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, NumberDataPoint, Sum, Summary,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{ExportRequest, IngestError, Rejections, SignalType};
use shape::{Findings, MetricFinding, Peeked, SurveyError, survey};

/// Decodes an OTLP/JSON export request body (already decompressed). The rejections count the
/// data points the JSON carried but that cannot be used as sent.
pub fn decode_json(
    signal: SignalType,
    body: &[u8],
) -> Result<(ExportRequest, Rejections), IngestError> {
    let findings = survey(signal, body).map_err(|survey_error| match survey_error {
        SurveyError::Unsupported(unsupported) => IngestError::UnsupportedJson {
            signal,
            path: unsupported.path(),
            key: unsupported.key,
            explanation: unsupported.explanation,
        },
        SurveyError::Json(error) => IngestError::Malformed {
            signal,
            reason: error.to_string(),
        },
    })?;
    let mut rejections = Rejections::new();
    let request = match signal {
        SignalType::Traces => ExportRequest::Traces(decode_typed(signal, body)?),
        SignalType::Logs => ExportRequest::Logs(decode_typed(signal, body)?),
        SignalType::Metrics => {
            let mut request: ExportMetricsServiceRequest = decode_typed(signal, body)?;
            recover_metrics(&findings, &mut request, body, &mut rejections);
            ExportRequest::Metrics(request)
        }
    };
    Ok((request, rejections))
}

fn decode_typed<Request: DeserializeOwned>(
    signal: SignalType,
    body: &[u8],
) -> Result<Request, IngestError> {
    serde_json::from_slice(body).map_err(|error| IngestError::Malformed {
        signal,
        reason: error.to_string(),
    })
}

/// Walks the decoded metrics beside the survey's findings (both in document order) and reports
/// each metric or data point whose data vanished in decoding.
fn recover_metrics(
    findings: &Findings,
    request: &mut ExportMetricsServiceRequest,
    body: &[u8],
    rejections: &mut Rejections,
) {
    let metrics = request
        .resource_metrics
        .iter_mut()
        .flat_map(|resource_metrics| &mut resource_metrics.scope_metrics)
        .flat_map(|scope_metrics| &mut scope_metrics.metrics);
    // Parsed again only if a metric vanished for a reason the survey cannot name.
    let mut document: Option<Value> = None;
    for (ordinal, (metric, finding)) in metrics.zip(&findings.metrics).enumerate() {
        let name = metric.name.as_str();
        match &mut metric.data {
            None => {
                let Some(data_key) = finding.data_key else {
                    continue;
                };
                let points = finding.data_points;
                rejections.reject(points, || {
                    let reason = match &finding.temporality_name {
                        Some(temporality) => format!(
                            "aggregationTemporality {temporality:?} is a name, otlp/json wants \
                             the enum number (1 for delta, 2 for cumulative)"
                        ),
                        None => {
                            let parsed = document.get_or_insert_with(|| {
                                serde_json::from_slice(body).unwrap_or(Value::Null)
                            });
                            explain_dropped_data(parsed, ordinal, data_key)
                        }
                    };
                    format!(
                        "metric {name:?}: {data_key} with {points} data points dropped: {reason}"
                    )
                });
            }
            Some(Data::Gauge(gauge)) => {
                recover_number_points(name, &mut gauge.data_points, finding, rejections);
            }
            Some(Data::Sum(sum)) => {
                recover_number_points(name, &mut sum.data_points, finding, rejections);
            }
            Some(_) => {}
        }
    }
}

/// Why the decoder dropped a metric's data: decoding that data alone gives serde's reason.
fn explain_dropped_data(document: &Value, ordinal: usize, data_key: &str) -> String {
    let json_data = nth_metric(document, ordinal).and_then(|metric| metric.get(data_key));
    let Some(json_data) = json_data.cloned() else {
        return String::from("it could not be decoded");
    };
    let error = match data_key {
        "gauge" => serde_json::from_value::<Gauge>(json_data).err(),
        "sum" => serde_json::from_value::<Sum>(json_data).err(),
        "histogram" => serde_json::from_value::<Histogram>(json_data).err(),
        "exponentialHistogram" => serde_json::from_value::<ExponentialHistogram>(json_data).err(),
        _ => serde_json::from_value::<Summary>(json_data).err(),
    };
    match error {
        Some(error) => error.to_string(),
        None => String::from("it could not be decoded"),
    }
}

fn json_list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn nth_metric(document: &Value, ordinal: usize) -> Option<&Value> {
    json_list(document, "resourceMetrics")
        .iter()
        .flat_map(|resource_metrics| json_list(resource_metrics, "scopeMetrics"))
        .flat_map(|scope_metrics| json_list(scope_metrics, "metrics"))
        .nth(ordinal)
}

/// Number points whose `asDouble`/`asInt` the decoder dropped (an error inside the flattened
/// value oneof): a finite number written as a string is recovered, anything else rejected.
fn recover_number_points(
    name: &str,
    points: &mut Vec<NumberDataPoint>,
    finding: &MetricFinding,
    rejections: &mut Rejections,
) {
    if finding.odd_values.is_empty() {
        return;
    }
    // The odd values are in point order: one pass over both.
    let mut odd_values = finding.odd_values.iter().peekable();
    let mut point_index = 0;
    points.retain_mut(|point| {
        let index = point_index;
        point_index += 1;
        while odd_values.next_if(|odd| odd.point_index < index).is_some() {}
        if point.value.is_some() {
            return true;
        }
        let Some(odd) = odd_values.next_if(|odd| odd.point_index == index) else {
            // No value at all: `convert` rejects the point.
            return true;
        };
        if odd.key == "asDouble" {
            let parsed = match &odd.given {
                Peeked::Text(text) => text.trim().parse::<f64>().ok(),
                _ => None,
            };
            if let Some(number) = parsed.filter(|number| number.is_finite()) {
                point.value = Some(NumberValue::AsDouble(number));
                return true;
            }
            rejections.reject(1, || {
                format!(
                    "data point {index} of metric {name:?}: asDouble {} is not a finite number",
                    odd.given
                )
            });
        } else {
            rejections.reject(1, || {
                format!(
                    "data point {index} of metric {name:?}: asInt {} is not a 64-bit integer",
                    odd.given
                )
            });
        }
        false
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE_EXAMPLE: &str = r#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeSpans": [{
          "scope": {"name": "my.library", "version": "1.0.0",
                    "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
          "spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "EEE19B7EC3C1B174",
            "parentSpanId": "EEE19B7EC3C1B173",
            "name": "I'm a server span",
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": 1544712661000000000,
            "kind": 2,
            "attributes": [
              {"key": "my.span.attr", "value": {"stringValue": "some value"}},
              {"key": "retries", "value": {"intValue": "3"}},
              {"key": "bytes", "value": {"intValue": 1024}},
              {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"boolValue": true}]}}}
            ],
            "status": {"code": 2, "message": "boom"}
          }]
        }]
      }]
    }"#;

    const METRICS_EXAMPLE: &str = r#"{
      "resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeMetrics": [{
          "scope": {"name": "my.library", "version": "1.0.0"},
          "metrics": [
            {"name": "my.counter", "unit": "1", "description": "I am a Counter",
             "sum": {"aggregationTemporality": 1, "isMonotonic": true,
                     "dataPoints": [{"asDouble": 5, "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
                                     "attributes": [{"key": "my.counter.attr", "value": {"stringValue": "some value"}}]}]}},
            {"name": "my.gauge", "unit": "1", "description": "I am a Gauge",
             "gauge": {"dataPoints": [{"asInt": "10", "timeUnixNano": 1544712660300000000}]}},
            {"name": "my.histogram", "unit": "1", "description": "I am a Histogram",
             "histogram": {"aggregationTemporality": 1,
                           "dataPoints": [{"startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
                                           "count": "2", "sum": 2, "bucketCounts": ["1", 1], "explicitBounds": [1], "min": 0, "max": 2}]}},
            {"name": "my.exponential.histogram", "unit": "1",
             "exponentialHistogram": {"aggregationTemporality": 1,
                                      "dataPoints": [{"startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
                                                      "count": "3", "sum": 10, "scale": 0, "zeroCount": "1",
                                                      "positive": {"offset": 1, "bucketCounts": ["0", "2"]}, "min": 0, "max": 5, "zeroThreshold": 0}]}}
          ]
        }]
      }]
    }"#;

    const LOGS_EXAMPLE: &str = r#"{
      "resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeLogs": [{
          "scope": {"name": "my.library", "version": "1.0.0"},
          "logRecords": [{
            "timeUnixNano": "1544712660300000000",
            "observedTimeUnixNano": 1544712660300000000,
            "severityNumber": 10,
            "severityText": "Information",
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "EEE19B7EC3C1B174",
            "body": {"stringValue": "Example log record"},
            "attributes": [
              {"key": "string.attribute", "value": {"stringValue": "some string"}},
              {"key": "int.attribute", "value": {"intValue": "10"}},
              {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "some.map.key", "value": {"stringValue": "some value"}}]}}}
            ]
          }]
        }]
      }]
    }"#;

    fn decode_metrics(body: &str) -> (ExportMetricsServiceRequest, Rejections) {
        match decode_json(SignalType::Metrics, body.as_bytes()) {
            Ok((ExportRequest::Metrics(request), rejections)) => (request, rejections),
            other => panic!("expected metrics, got {other:?}"),
        }
    }

    fn number_point_values(request: &ExportMetricsServiceRequest) -> Vec<Option<NumberValue>> {
        let mut values = Vec::new();
        for metric in &request.resource_metrics[0].scope_metrics[0].metrics {
            if let Some(Data::Gauge(gauge)) = &metric.data {
                values.extend(gauge.data_points.iter().map(|point| point.value));
            }
        }
        values
    }

    #[test]
    fn decodes_the_spec_trace_example_with_hex_ids_and_64_bit_integers() {
        let (request, rejections) =
            decode_json(SignalType::Traces, TRACE_EXAMPLE.as_bytes()).unwrap();
        assert!(rejections.is_empty());
        let ExportRequest::Traces(request) = request else {
            panic!("not traces")
        };
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            hex::encode(&span.trace_id),
            "5b8efff798038103d269b633813fc60c"
        );
        assert_eq!(hex::encode(&span.span_id), "eee19b7ec3c1b174");
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        assert_eq!(span.kind, 2);
        assert_eq!(span.attributes.len(), 4);
        assert_eq!(span.status.as_ref().map(|status| status.code), Some(2));
    }

    #[test]
    fn decodes_the_spec_metrics_example() {
        let (request, rejections) = decode_metrics(METRICS_EXAMPLE);
        assert!(rejections.is_empty(), "{rejections:?}");
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 4);
        assert!(metrics.iter().all(|metric| metric.data.is_some()));
        assert_eq!(
            number_point_values(&request),
            vec![Some(NumberValue::AsInt(10))]
        );
        let Some(Data::Histogram(histogram)) = &metrics[2].data else {
            panic!("not a histogram")
        };
        assert_eq!(histogram.data_points[0].bucket_counts, vec![1, 1]);
    }

    #[test]
    fn decodes_the_spec_logs_example() {
        let (request, rejections) = decode_json(SignalType::Logs, LOGS_EXAMPLE.as_bytes()).unwrap();
        assert!(rejections.is_empty());
        let ExportRequest::Logs(request) = request else {
            panic!("not logs")
        };
        let record = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.time_unix_nano, 1_544_712_660_300_000_000);
        assert_eq!(record.observed_time_unix_nano, 1_544_712_660_300_000_000);
        assert_eq!(record.trace_id.len(), 16);
        assert_eq!(record.attributes.len(), 3);
    }

    #[test]
    fn json_and_protobuf_decode_to_the_same_request() {
        let (request, _) = decode_json(SignalType::Traces, TRACE_EXAMPLE.as_bytes()).unwrap();
        let body = request.encode_protobuf();
        assert_eq!(
            crate::decode_protobuf(SignalType::Traces, &body),
            Ok(request)
        );
    }

    #[test]
    fn snake_case_top_level_key_is_an_error_naming_it() {
        let body = br#"{"resource_spans": [{"scope_spans": []}]}"#;
        let error = decode_json(SignalType::Traces, body).unwrap_err();
        let IngestError::UnsupportedJson { key, path, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(key, "resource_spans");
        assert_eq!(path, "the top level");
        assert!(error.to_string().contains("\"resourceSpans\""), "{error}");
    }

    #[test]
    fn snake_case_key_deep_inside_is_an_error_with_its_path() {
        let body = br#"{"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "5b8efff798038103d269b633813fc60c", "attributes": [{"key": "a", "value": {"string_value": "x"}}]}
        ]}]}]}"#;
        let error = decode_json(SignalType::Traces, body).unwrap_err();
        let IngestError::UnsupportedJson { key, path, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(key, "string_value");
        assert_eq!(
            path,
            "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value"
        );
    }

    #[test]
    fn object_with_no_known_key_is_an_error() {
        let body = br#"{"spans": [{"name": "x"}]}"#;
        let error = decode_json(SignalType::Traces, body).unwrap_err();
        let IngestError::UnsupportedJson { key, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(key, "spans");
        assert!(
            error.to_string().contains("expected resourceSpans"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_beside_known_ones_are_ignored_as_otlp_json_asks() {
        let body = br#"{"resourceSpans": [], "somethingNew": 1}"#;
        let (request, rejections) = decode_json(SignalType::Traces, body).unwrap();
        assert_eq!(request.item_count(), 0);
        assert!(rejections.is_empty());
        assert!(decode_json(SignalType::Logs, b"{}").is_ok());
    }

    #[test]
    fn invalid_json_reports_line_and_column() {
        let body = b"{\"resourceSpans\": [\n  {\"scopeSpans\": [}\n]}";
        let error = decode_json(SignalType::Traces, body).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, IngestError::Malformed { .. }));
        assert!(message.contains("line 2 column"), "{message}");
    }

    #[test]
    fn wrong_types_report_line_and_column() {
        let body = b"{\"resourceSpans\": [{\"scopeSpans\": [{\"spans\": [\n{\"kind\": \"SPAN_KIND_SERVER\"}]}]}]}";
        let message = decode_json(SignalType::Traces, body)
            .unwrap_err()
            .to_string();
        assert!(message.contains("SPAN_KIND_SERVER"), "{message}");
        assert!(message.contains("line 2 column"), "{message}");
    }

    #[test]
    fn non_object_body_is_an_error() {
        let message = decode_json(SignalType::Metrics, b"[1, 2]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "malformed metrics request: invalid type: sequence, expected an otlp/json object at line 1 column 1"
        );
        let null_message = decode_json(SignalType::Logs, b"null")
            .unwrap_err()
            .to_string();
        assert!(
            null_message.contains("invalid type: null"),
            "{null_message}"
        );
        let trailing = decode_json(SignalType::Logs, b"{} {}")
            .unwrap_err()
            .to_string();
        assert!(
            trailing.contains("trailing characters at line 1 column 4"),
            "{trailing}"
        );
    }

    #[test]
    fn temporality_given_as_a_name_rejects_the_points_of_that_metric() {
        let body = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "requests", "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE", "isMonotonic": true,
                                         "dataPoints": [{"asInt": "5", "timeUnixNano": "1700000000000000000"},
                                                        {"asInt": "6", "timeUnixNano": "1700000060000000000"}]}},
            {"name": "latency", "histogram": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA",
                                              "dataPoints": [{"count": "1", "timeUnixNano": "1700000000000000000"}]}},
            {"name": "memory", "gauge": {"dataPoints": [{"asInt": "7", "timeUnixNano": "1700000000000000000"}]}}
        ]}]}]}"#;
        let (request, rejections) = decode_metrics(body);
        assert_eq!(rejections.count, 3);
        assert_eq!(rejections.messages.len(), 2);
        assert!(
            rejections.messages[0]
                .starts_with("metric \"requests\": sum with 2 data points dropped"),
            "{:?}",
            rejections.messages
        );
        assert!(
            rejections.messages[0].contains("\"AGGREGATION_TEMPORALITY_CUMULATIVE\" is a name")
        );
        assert!(rejections.messages[1].contains("histogram"));
        assert_eq!(
            number_point_values(&request),
            vec![Some(NumberValue::AsInt(7))]
        );
    }

    #[test]
    fn non_finite_doubles_are_rejected_and_numeric_strings_recovered() {
        let body = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "temperature", "gauge": {"dataPoints": [
                {"asDouble": "NaN", "timeUnixNano": "1700000000000000000"},
                {"asDouble": "Infinity", "timeUnixNano": "1700000000000000000"},
                {"asDouble": "-Infinity", "timeUnixNano": "1700000000000000000"},
                {"asDouble": "21.5", "timeUnixNano": "1700000000000000000"},
                {"asInt": "many", "timeUnixNano": "1700000000000000000"},
                {"asDouble": 3, "timeUnixNano": "1700000000000000000"},
                {"timeUnixNano": "1700000000000000000"}
            ]}}
        ]}]}]}"#;
        let (request, rejections) = decode_metrics(body);
        assert_eq!(rejections.count, 4, "{rejections:?}");
        assert!(
            rejections.messages[0].contains("asDouble \"NaN\" is not a finite number"),
            "{:?}",
            rejections.messages
        );
        assert!(rejections.messages[3].contains("asInt \"many\" is not a 64-bit integer"));
        // The point without any value is left for `convert` to reject, so it is counted once.
        assert_eq!(
            number_point_values(&request),
            vec![
                Some(NumberValue::AsDouble(21.5)),
                Some(NumberValue::AsDouble(3.0)),
                None
            ]
        );
    }

    #[test]
    fn other_errors_inside_a_metric_are_reported_with_serde_reason() {
        let body = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "latency", "histogram": {"aggregationTemporality": 2,
                "dataPoints": [{"count": "1", "sum": "NaN", "timeUnixNano": "1700000000000000000"}]}}
        ]}]}]}"#;
        let (_, rejections) = decode_metrics(body);
        assert_eq!(rejections.count, 1);
        assert!(
            rejections.messages[0].contains("expected f64"),
            "{:?}",
            rejections.messages
        );
    }
}
