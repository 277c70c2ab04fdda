//! OTLP/JSON decoding without silent data loss.
//!
//! `opentelemetry-proto`'s serde mapping reads the spec's examples (hex ids, lowerCamelCase
//! keys, 64-bit integers as strings or numbers), but it ignores keys it does not know and, where
//! a oneof is flattened, swallows errors: snake_case keys (`resource_spans`) give an empty
//! request, a sum or histogram whose `aggregationTemporality` is a name disappears whole, and a
//! point whose `asDouble` is `"NaN"` loses its value. So the body is parsed into a
//! [`serde_json::Value`] first and checked against the OTLP/JSON shape (unknown snake_case keys
//! are an error), then decoded; for metrics, the decoded request is compared with the JSON to
//! find what was dropped, which is reported as rejected (or recovered, for a finite `asDouble`
//! written as a string).
//!
//! Validation of the decoded items (ids, timestamps) is `convert`'s; decompression is the
//! server's.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, NumberDataPoint, Sum, Summary,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{ExportRequest, IngestError, Rejections, SignalType};

/// Decodes an OTLP/JSON export request body (already decompressed). The rejections count the
/// data points the JSON carried but that cannot be used as sent.
pub fn decode_json(
    signal: SignalType,
    body: &[u8],
) -> Result<(ExportRequest, Rejections), IngestError> {
    let document: Value = serde_json::from_slice(body).map_err(|error| IngestError::Malformed {
        signal,
        reason: error.to_string(),
    })?;
    let Value::Object(top_level) = &document else {
        return Err(IngestError::Malformed {
            signal,
            reason: format!("expected a json object, found {}", json_type(&document)),
        });
    };
    check_shape(top_level, request_shape(signal)).map_err(|unsupported| {
        IngestError::UnsupportedJson {
            signal,
            key: unsupported.key,
            path: unsupported.path.render(),
            explanation: unsupported.explanation,
        }
    })?;
    let mut rejections = Rejections::new();
    let request = match signal {
        SignalType::Traces => ExportRequest::Traces(decode_owned(signal, document, body)?),
        SignalType::Logs => ExportRequest::Logs(decode_owned(signal, document, body)?),
        SignalType::Metrics => {
            // Decoded from a borrowed document, which is kept to find what the decoder dropped.
            let decoded = ExportMetricsServiceRequest::deserialize(&document);
            let mut request = decoded.map_err(|error| located_error(signal, &error, body))?;
            recover_metrics(&document, &mut request, &mut rejections);
            ExportRequest::Metrics(request)
        }
    };
    Ok((request, rejections))
}

fn decode_owned<Request: DeserializeOwned>(
    signal: SignalType,
    document: Value,
    body: &[u8],
) -> Result<Request, IngestError> {
    serde_json::from_value(document).map_err(|error| located_error(signal, &error, body))
}

/// Decoding from a `Value` loses the position of the error; decoding the body again (only on
/// this error path) gets serde's line and column back.
fn located_error(signal: SignalType, error: &serde_json::Error, body: &[u8]) -> IngestError {
    let located = match signal {
        SignalType::Traces => serde_json::from_slice::<ExportTraceServiceRequest>(body).err(),
        SignalType::Metrics => serde_json::from_slice::<ExportMetricsServiceRequest>(body).err(),
        SignalType::Logs => serde_json::from_slice::<ExportLogsServiceRequest>(body).err(),
    };
    let reason = match located {
        Some(located_error) => located_error.to_string(),
        None => error.to_string(),
    };
    IngestError::Malformed { signal, reason }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// The OTLP/JSON shape, as far as it is needed to notice keys the decoder would ignore.

/// The keys OTLP/JSON defines for one kind of object, and what each holds.
struct Shape {
    keys: &'static [(&'static str, Holds)],
}

#[derive(Clone, Copy)]
enum Holds {
    /// A string, number, boolean or list of those: nothing to look into.
    Scalar,
    Object(&'static Shape),
    List(&'static Shape),
}

impl Shape {
    fn holds(&self, key: &str) -> Option<Holds> {
        self.keys
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, holds)| *holds)
    }

    /// The lowerCamelCase key that `key` is the snake_case spelling of, if any.
    fn camel_case_of(&self, key: &str) -> Option<&'static str> {
        if !key.contains('_') {
            return None;
        }
        let camel_case = snake_to_camel_case(key);
        self.keys
            .iter()
            .map(|(name, _)| *name)
            .find(|name| *name == camel_case)
    }
}

fn snake_to_camel_case(key: &str) -> String {
    let mut camel_case = String::with_capacity(key.len());
    let mut capitalize_next = false;
    for character in key.chars() {
        if character == '_' {
            capitalize_next = true;
        } else if capitalize_next {
            camel_case.extend(character.to_uppercase());
            capitalize_next = false;
        } else {
            camel_case.push(character);
        }
    }
    camel_case
}

static TRACES_REQUEST: Shape = Shape {
    keys: &[("resourceSpans", Holds::List(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Shape = Shape {
    keys: &[
        ("resource", Holds::Object(&RESOURCE)),
        ("scopeSpans", Holds::List(&SCOPE_SPANS)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SCOPE_SPANS: Shape = Shape {
    keys: &[
        ("scope", Holds::Object(&SCOPE)),
        ("spans", Holds::List(&SPAN)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SPAN: Shape = Shape {
    keys: &[
        ("traceId", Holds::Scalar),
        ("spanId", Holds::Scalar),
        ("traceState", Holds::Scalar),
        ("parentSpanId", Holds::Scalar),
        ("flags", Holds::Scalar),
        ("name", Holds::Scalar),
        ("kind", Holds::Scalar),
        ("startTimeUnixNano", Holds::Scalar),
        ("endTimeUnixNano", Holds::Scalar),
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
        ("events", Holds::List(&SPAN_EVENT)),
        ("droppedEventsCount", Holds::Scalar),
        ("links", Holds::List(&SPAN_LINK)),
        ("droppedLinksCount", Holds::Scalar),
        ("status", Holds::Object(&STATUS)),
    ],
};
static SPAN_EVENT: Shape = Shape {
    keys: &[
        ("timeUnixNano", Holds::Scalar),
        ("name", Holds::Scalar),
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
    ],
};
static SPAN_LINK: Shape = Shape {
    keys: &[
        ("traceId", Holds::Scalar),
        ("spanId", Holds::Scalar),
        ("traceState", Holds::Scalar),
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
        ("flags", Holds::Scalar),
    ],
};
static STATUS: Shape = Shape {
    keys: &[("message", Holds::Scalar), ("code", Holds::Scalar)],
};

static METRICS_REQUEST: Shape = Shape {
    keys: &[("resourceMetrics", Holds::List(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Shape = Shape {
    keys: &[
        ("resource", Holds::Object(&RESOURCE)),
        ("scopeMetrics", Holds::List(&SCOPE_METRICS)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SCOPE_METRICS: Shape = Shape {
    keys: &[
        ("scope", Holds::Object(&SCOPE)),
        ("metrics", Holds::List(&METRIC)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static METRIC: Shape = Shape {
    keys: &[
        ("name", Holds::Scalar),
        ("description", Holds::Scalar),
        ("unit", Holds::Scalar),
        ("metadata", Holds::List(&KEY_VALUE)),
        ("gauge", Holds::Object(&GAUGE)),
        ("sum", Holds::Object(&SUM)),
        ("histogram", Holds::Object(&HISTOGRAM)),
        (
            "exponentialHistogram",
            Holds::Object(&EXPONENTIAL_HISTOGRAM),
        ),
        ("summary", Holds::Object(&SUMMARY)),
    ],
};
static GAUGE: Shape = Shape {
    keys: &[("dataPoints", Holds::List(&NUMBER_POINT))],
};
static SUM: Shape = Shape {
    keys: &[
        ("dataPoints", Holds::List(&NUMBER_POINT)),
        ("aggregationTemporality", Holds::Scalar),
        ("isMonotonic", Holds::Scalar),
    ],
};
static HISTOGRAM: Shape = Shape {
    keys: &[
        ("dataPoints", Holds::List(&HISTOGRAM_POINT)),
        ("aggregationTemporality", Holds::Scalar),
    ],
};
static EXPONENTIAL_HISTOGRAM: Shape = Shape {
    keys: &[
        ("dataPoints", Holds::List(&EXPONENTIAL_HISTOGRAM_POINT)),
        ("aggregationTemporality", Holds::Scalar),
    ],
};
static SUMMARY: Shape = Shape {
    keys: &[("dataPoints", Holds::List(&SUMMARY_POINT))],
};
static NUMBER_POINT: Shape = Shape {
    keys: &[
        ("attributes", Holds::List(&KEY_VALUE)),
        ("startTimeUnixNano", Holds::Scalar),
        ("timeUnixNano", Holds::Scalar),
        ("exemplars", Holds::List(&EXEMPLAR)),
        ("flags", Holds::Scalar),
        ("asDouble", Holds::Scalar),
        ("asInt", Holds::Scalar),
    ],
};
static HISTOGRAM_POINT: Shape = Shape {
    keys: &[
        ("attributes", Holds::List(&KEY_VALUE)),
        ("startTimeUnixNano", Holds::Scalar),
        ("timeUnixNano", Holds::Scalar),
        ("count", Holds::Scalar),
        ("sum", Holds::Scalar),
        ("bucketCounts", Holds::Scalar),
        ("explicitBounds", Holds::Scalar),
        ("exemplars", Holds::List(&EXEMPLAR)),
        ("flags", Holds::Scalar),
        ("min", Holds::Scalar),
        ("max", Holds::Scalar),
    ],
};
static EXPONENTIAL_HISTOGRAM_POINT: Shape = Shape {
    keys: &[
        ("attributes", Holds::List(&KEY_VALUE)),
        ("startTimeUnixNano", Holds::Scalar),
        ("timeUnixNano", Holds::Scalar),
        ("count", Holds::Scalar),
        ("sum", Holds::Scalar),
        ("scale", Holds::Scalar),
        ("zeroCount", Holds::Scalar),
        ("positive", Holds::Object(&BUCKETS)),
        ("negative", Holds::Object(&BUCKETS)),
        ("flags", Holds::Scalar),
        ("exemplars", Holds::List(&EXEMPLAR)),
        ("min", Holds::Scalar),
        ("max", Holds::Scalar),
        ("zeroThreshold", Holds::Scalar),
    ],
};
static BUCKETS: Shape = Shape {
    keys: &[("offset", Holds::Scalar), ("bucketCounts", Holds::Scalar)],
};
static SUMMARY_POINT: Shape = Shape {
    keys: &[
        ("attributes", Holds::List(&KEY_VALUE)),
        ("startTimeUnixNano", Holds::Scalar),
        ("timeUnixNano", Holds::Scalar),
        ("count", Holds::Scalar),
        ("sum", Holds::Scalar),
        ("quantileValues", Holds::List(&QUANTILE)),
        ("flags", Holds::Scalar),
    ],
};
static QUANTILE: Shape = Shape {
    keys: &[("quantile", Holds::Scalar), ("value", Holds::Scalar)],
};
static EXEMPLAR: Shape = Shape {
    keys: &[
        ("filteredAttributes", Holds::List(&KEY_VALUE)),
        ("timeUnixNano", Holds::Scalar),
        ("spanId", Holds::Scalar),
        ("traceId", Holds::Scalar),
        ("asDouble", Holds::Scalar),
        ("asInt", Holds::Scalar),
    ],
};

static LOGS_REQUEST: Shape = Shape {
    keys: &[("resourceLogs", Holds::List(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Shape = Shape {
    keys: &[
        ("resource", Holds::Object(&RESOURCE)),
        ("scopeLogs", Holds::List(&SCOPE_LOGS)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SCOPE_LOGS: Shape = Shape {
    keys: &[
        ("scope", Holds::Object(&SCOPE)),
        ("logRecords", Holds::List(&LOG_RECORD)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static LOG_RECORD: Shape = Shape {
    keys: &[
        ("timeUnixNano", Holds::Scalar),
        ("observedTimeUnixNano", Holds::Scalar),
        ("severityNumber", Holds::Scalar),
        ("severityText", Holds::Scalar),
        ("body", Holds::Object(&ANY_VALUE)),
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
        ("flags", Holds::Scalar),
        ("traceId", Holds::Scalar),
        ("spanId", Holds::Scalar),
        ("eventName", Holds::Scalar),
    ],
};

static RESOURCE: Shape = Shape {
    keys: &[
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
        ("entityRefs", Holds::Scalar),
    ],
};
static SCOPE: Shape = Shape {
    keys: &[
        ("name", Holds::Scalar),
        ("version", Holds::Scalar),
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
    ],
};
static KEY_VALUE: Shape = Shape {
    keys: &[
        ("key", Holds::Scalar),
        ("value", Holds::Object(&ANY_VALUE)),
        ("keyStrindex", Holds::Scalar),
    ],
};
static ANY_VALUE: Shape = Shape {
    keys: &[
        ("stringValue", Holds::Scalar),
        ("boolValue", Holds::Scalar),
        ("intValue", Holds::Scalar),
        ("doubleValue", Holds::Scalar),
        ("arrayValue", Holds::Object(&ARRAY_VALUE)),
        ("kvlistValue", Holds::Object(&KEY_VALUE_LIST)),
        ("bytesValue", Holds::Scalar),
    ],
};
static ARRAY_VALUE: Shape = Shape {
    keys: &[("values", Holds::List(&ANY_VALUE))],
};
static KEY_VALUE_LIST: Shape = Shape {
    keys: &[("values", Holds::List(&KEY_VALUE))],
};

fn request_shape(signal: SignalType) -> &'static Shape {
    match signal {
        SignalType::Traces => &TRACES_REQUEST,
        SignalType::Metrics => &METRICS_REQUEST,
        SignalType::Logs => &LOGS_REQUEST,
    }
}

/// A key the decoder would ignore although the sender meant something by it.
struct Unsupported {
    key: String,
    path: JsonPath,
    explanation: String,
}

/// Where in the document, built innermost first while an error travels up (only then).
#[derive(Default)]
struct JsonPath {
    reversed_steps: Vec<String>,
}

impl JsonPath {
    fn render(&self) -> String {
        if self.reversed_steps.is_empty() {
            return String::from("the top level");
        }
        let mut rendered = String::new();
        for step in self.reversed_steps.iter().rev() {
            if !rendered.is_empty() && !step.starts_with('[') {
                rendered.push('.');
            }
            rendered.push_str(step);
        }
        rendered
    }
}

impl Unsupported {
    fn within(mut self, step: String) -> Unsupported {
        self.path.reversed_steps.push(step);
        self
    }
}

/// Checks one object and everything below it. Unknown keys are ignored, as OTLP/JSON asks,
/// unless they are the snake_case spelling of a known key, or no key of the object is known
/// (then the sender used another schema and the object would decode as empty).
fn check_shape(object: &Map<String, Value>, shape: &Shape) -> Result<(), Unsupported> {
    let mut known_keys = 0;
    for (key, child) in object {
        let Some(holds) = shape.holds(key) else {
            if let Some(camel_case) = shape.camel_case_of(key) {
                return Err(Unsupported {
                    key: key.clone(),
                    path: JsonPath::default(),
                    explanation: format!(
                        "is snake_case; otlp/json keys are lowerCamelCase (\"{camel_case}\")"
                    ),
                });
            }
            continue;
        };
        known_keys += 1;
        match (holds, child) {
            (Holds::Object(inner_shape), Value::Object(inner)) => {
                check_shape(inner, inner_shape).map_err(|error| error.within(key.clone()))?;
            }
            (Holds::List(item_shape), Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    if let Value::Object(inner) = item {
                        check_shape(inner, item_shape).map_err(|error| {
                            error.within(format!("[{index}]")).within(key.clone())
                        })?;
                    }
                }
            }
            // Scalars, and containers of the wrong type, which the decoder reports itself.
            _ => {}
        }
    }
    if known_keys == 0
        && let Some(first_key) = object.keys().next()
    {
        let expected: Vec<&str> = shape.keys.iter().map(|(name, _)| *name).collect();
        return Err(Unsupported {
            key: first_key.clone(),
            path: JsonPath::default(),
            explanation: format!(
                "is not an otlp/json field, and no key of the object is (expected {})",
                expected.join(", ")
            ),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Metrics: what the decoder dropped without an error.

const DATA_KEYS: [&str; 5] = [
    "gauge",
    "sum",
    "histogram",
    "exponentialHistogram",
    "summary",
];

fn json_list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Walks the decoded request beside its JSON (the decoder keeps every list's length, so the
/// two line up by index) and reports each metric or data point whose data vanished.
fn recover_metrics(
    document: &Value,
    request: &mut ExportMetricsServiceRequest,
    rejections: &mut Rejections,
) {
    let json_resources = json_list(document, "resourceMetrics");
    for (resource_metrics, json_resource) in request.resource_metrics.iter_mut().zip(json_resources)
    {
        let json_scopes = json_list(json_resource, "scopeMetrics");
        for (scope_metrics, json_scope) in
            resource_metrics.scope_metrics.iter_mut().zip(json_scopes)
        {
            let json_metrics = json_list(json_scope, "metrics");
            for (metric, json_metric) in scope_metrics.metrics.iter_mut().zip(json_metrics) {
                let name = metric.name.as_str();
                match &mut metric.data {
                    None => report_dropped_data(name, json_metric, rejections),
                    Some(Data::Gauge(gauge)) => {
                        let json_points = json_metric
                            .get("gauge")
                            .map(|data| json_list(data, "dataPoints"));
                        recover_number_points(
                            name,
                            &mut gauge.data_points,
                            json_points.unwrap_or_default(),
                            rejections,
                        );
                    }
                    Some(Data::Sum(sum)) => {
                        let json_points = json_metric
                            .get("sum")
                            .map(|data| json_list(data, "dataPoints"));
                        recover_number_points(
                            name,
                            &mut sum.data_points,
                            json_points.unwrap_or_default(),
                            rejections,
                        );
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// The metric had data in the JSON that the decoder dropped whole (the `data` oneof is
/// flattened, and serde turns any error inside a flattened option into `None`).
fn report_dropped_data(name: &str, json_metric: &Value, rejections: &mut Rejections) {
    let dropped = DATA_KEYS.iter().find_map(|key| {
        json_metric
            .get(*key)
            .filter(|data| !data.is_null())
            .map(|data| (*key, data))
    });
    let Some((data_key, json_data)) = dropped else {
        return;
    };
    let points = json_list(json_data, "dataPoints").len() as u64;
    rejections.reject(points, || {
        let reason = explain_dropped_data(data_key, json_data);
        format!("metric {name:?}: {data_key} with {points} data points dropped: {reason}")
    });
}

fn explain_dropped_data(data_key: &str, json_data: &Value) -> String {
    if let Some(Value::String(temporality)) = json_data.get("aggregationTemporality") {
        return format!(
            "aggregationTemporality {temporality:?} is a name, otlp/json wants the enum number \
             (1 for delta, 2 for cumulative)"
        );
    }
    let error = match data_key {
        "gauge" => Gauge::deserialize(json_data).err(),
        "sum" => Sum::deserialize(json_data).err(),
        "histogram" => Histogram::deserialize(json_data).err(),
        "exponentialHistogram" => ExponentialHistogram::deserialize(json_data).err(),
        _ => Summary::deserialize(json_data).err(),
    };
    match error {
        Some(error) => error.to_string(),
        None => String::from("it could not be decoded"),
    }
}

/// Number points whose `asDouble`/`asInt` the decoder dropped (an error inside the flattened
/// value oneof): a finite number written as a string is recovered, anything else rejected.
fn recover_number_points(
    name: &str,
    points: &mut Vec<NumberDataPoint>,
    json_points: &[Value],
    rejections: &mut Rejections,
) {
    let mut index = 0;
    points.retain_mut(|point| {
        let point_index = index;
        index += 1;
        if point.value.is_some() {
            return true;
        }
        let Some(json_point) = json_points.get(point_index) else {
            return true;
        };
        if let Some(json_double) = json_point.get("asDouble") {
            let parsed = json_double.as_str().and_then(|text| text.trim().parse::<f64>().ok());
            if let Some(number) = parsed.filter(|number| number.is_finite()) {
                point.value = Some(NumberValue::AsDouble(number));
                return true;
            }
            rejections.reject(1, || {
                format!("data point {point_index} of metric {name:?}: asDouble {json_double} is not a finite number")
            });
            return false;
        }
        if let Some(json_integer) = json_point.get("asInt") {
            rejections.reject(1, || {
                format!("data point {point_index} of metric {name:?}: asInt {json_integer} is not a 64-bit integer")
            });
            return false;
        }
        // No value at all: `convert` rejects the point.
        true
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
            "malformed metrics request: expected a json object, found an array"
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

    #[test]
    fn snake_case_converts_to_camel_case() {
        assert_eq!(snake_to_camel_case("resource_spans"), "resourceSpans");
        assert_eq!(
            snake_to_camel_case("start_time_unix_nano"),
            "startTimeUnixNano"
        );
        assert_eq!(snake_to_camel_case("name"), "name");
    }
}
