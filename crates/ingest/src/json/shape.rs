//! The OTLP/JSON shape, and a survey of a request body against it that builds nothing: it
//! streams through the JSON once, borrowing keys, and notes what the typed decoder would
//! silently lose.
//!
//! - A key the decoder would ignore although the sender meant something by it (snake_case, or
//!   an object none of whose keys OTLP defines) stops the survey as [`Unsupported`].
//! - For metrics, it notes per metric which data it had, how many data points, a temporality
//!   given as a name, and each `asDouble`/`asInt` that is not a JSON number, so that
//!   `json.rs` can tell what vanished after decoding and why.
//!
//! Types are the typed decoder's business: where the survey meets a value of the wrong type it
//! fails like serde would, with line and column.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::SignalType;

/// The keys OTLP/JSON defines for one kind of object, what each holds, and what the survey
/// notes in it.
pub(super) struct Shape {
    role: Role,
    keys: &'static [(&'static str, Holds)],
}

#[derive(Clone, Copy)]
enum Holds {
    /// A string, number, boolean or a list of those: nothing to look into.
    Scalar,
    Object(&'static Shape),
    List(&'static Shape),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    /// A metric: the survey starts a new [`MetricFinding`].
    Metric,
    /// A metric's data (`gauge`, `sum`...): its data points are counted, its temporality peeked.
    MetricData,
    /// A gauge or sum data point: its value is peeked.
    NumberPoint,
}

impl Shape {
    fn holds(&self, key: &str) -> Option<(&'static str, Holds)> {
        self.keys.iter().find(|(name, _)| *name == key).copied()
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

    fn key_list(&self) -> String {
        let names: Vec<&str> = self.keys.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }
}

pub(super) fn snake_to_camel_case(key: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// The shapes, from the OTLP protos (lowerCamelCase field names).

static TRACES_REQUEST: Shape = Shape {
    role: Role::Plain,
    keys: &[("resourceSpans", Holds::List(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("resource", Holds::Object(&RESOURCE)),
        ("scopeSpans", Holds::List(&SCOPE_SPANS)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SCOPE_SPANS: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("scope", Holds::Object(&SCOPE)),
        ("spans", Holds::List(&SPAN)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SPAN: Shape = Shape {
    role: Role::Plain,
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
    role: Role::Plain,
    keys: &[
        ("timeUnixNano", Holds::Scalar),
        ("name", Holds::Scalar),
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
    ],
};
static SPAN_LINK: Shape = Shape {
    role: Role::Plain,
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
    role: Role::Plain,
    keys: &[("message", Holds::Scalar), ("code", Holds::Scalar)],
};

static METRICS_REQUEST: Shape = Shape {
    role: Role::Plain,
    keys: &[("resourceMetrics", Holds::List(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("resource", Holds::Object(&RESOURCE)),
        ("scopeMetrics", Holds::List(&SCOPE_METRICS)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SCOPE_METRICS: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("scope", Holds::Object(&SCOPE)),
        ("metrics", Holds::List(&METRIC)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static METRIC: Shape = Shape {
    role: Role::Metric,
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
    role: Role::MetricData,
    keys: &[("dataPoints", Holds::List(&NUMBER_POINT))],
};
static SUM: Shape = Shape {
    role: Role::MetricData,
    keys: &[
        ("dataPoints", Holds::List(&NUMBER_POINT)),
        ("aggregationTemporality", Holds::Scalar),
        ("isMonotonic", Holds::Scalar),
    ],
};
static HISTOGRAM: Shape = Shape {
    role: Role::MetricData,
    keys: &[
        ("dataPoints", Holds::List(&HISTOGRAM_POINT)),
        ("aggregationTemporality", Holds::Scalar),
    ],
};
static EXPONENTIAL_HISTOGRAM: Shape = Shape {
    role: Role::MetricData,
    keys: &[
        ("dataPoints", Holds::List(&EXPONENTIAL_HISTOGRAM_POINT)),
        ("aggregationTemporality", Holds::Scalar),
    ],
};
static SUMMARY: Shape = Shape {
    role: Role::MetricData,
    keys: &[("dataPoints", Holds::List(&SUMMARY_POINT))],
};
static NUMBER_POINT: Shape = Shape {
    role: Role::NumberPoint,
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
    role: Role::Plain,
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
    role: Role::Plain,
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
    role: Role::Plain,
    keys: &[("offset", Holds::Scalar), ("bucketCounts", Holds::Scalar)],
};
static SUMMARY_POINT: Shape = Shape {
    role: Role::Plain,
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
    role: Role::Plain,
    keys: &[("quantile", Holds::Scalar), ("value", Holds::Scalar)],
};
static EXEMPLAR: Shape = Shape {
    role: Role::Plain,
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
    role: Role::Plain,
    keys: &[("resourceLogs", Holds::List(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("resource", Holds::Object(&RESOURCE)),
        ("scopeLogs", Holds::List(&SCOPE_LOGS)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static SCOPE_LOGS: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("scope", Holds::Object(&SCOPE)),
        ("logRecords", Holds::List(&LOG_RECORD)),
        ("schemaUrl", Holds::Scalar),
    ],
};
static LOG_RECORD: Shape = Shape {
    role: Role::Plain,
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
    role: Role::Plain,
    keys: &[
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
        ("entityRefs", Holds::Scalar),
    ],
};
static SCOPE: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("name", Holds::Scalar),
        ("version", Holds::Scalar),
        ("attributes", Holds::List(&KEY_VALUE)),
        ("droppedAttributesCount", Holds::Scalar),
    ],
};
static KEY_VALUE: Shape = Shape {
    role: Role::Plain,
    keys: &[
        ("key", Holds::Scalar),
        ("value", Holds::Object(&ANY_VALUE)),
        ("keyStrindex", Holds::Scalar),
    ],
};
static ANY_VALUE: Shape = Shape {
    role: Role::Plain,
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
    role: Role::Plain,
    keys: &[("values", Holds::List(&ANY_VALUE))],
};
static KEY_VALUE_LIST: Shape = Shape {
    role: Role::Plain,
    keys: &[("values", Holds::List(&KEY_VALUE))],
};

fn request_shape(signal: SignalType) -> &'static Shape {
    match signal {
        SignalType::Traces => &TRACES_REQUEST,
        SignalType::Metrics => &METRICS_REQUEST,
        SignalType::Logs => &LOGS_REQUEST,
    }
}

// ---------------------------------------------------------------------------------------------
// What the survey finds.

/// A key the decoder would ignore although the sender meant something by it.
#[derive(Debug)]
pub(super) struct Unsupported {
    pub(super) key: String,
    pub(super) explanation: String,
    /// Where, innermost step first (built while the error travels up, so only on error).
    reversed_steps: Vec<String>,
}

impl Unsupported {
    pub(super) fn path(&self) -> String {
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

/// A value given where a number was expected, as the survey saw it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Peeked {
    Number,
    Text(String),
    Other(&'static str),
}

impl fmt::Display for Peeked {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peeked::Number => formatter.write_str("a number"),
            Peeked::Text(text) => write!(formatter, "{text:?}"),
            Peeked::Other(kind) => formatter.write_str(kind),
        }
    }
}

/// A gauge or sum point whose `asDouble` or `asInt` is not a JSON number.
#[derive(Debug)]
pub(super) struct OddValue {
    pub(super) point_index: usize,
    pub(super) key: &'static str,
    pub(super) given: Peeked,
}

/// What one metric of the body held, in document order.
#[derive(Debug, Default)]
pub(super) struct MetricFinding {
    /// `gauge`, `sum`, `histogram`, `exponentialHistogram` or `summary`.
    pub(super) data_key: Option<&'static str>,
    pub(super) data_points: u64,
    pub(super) temporality_name: Option<String>,
    pub(super) odd_values: Vec<OddValue>,
}

#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(super) metrics: Vec<MetricFinding>,
    unsupported: Option<Unsupported>,
    /// The index of the data point being surveyed, within its metric.
    current_point: usize,
}

pub(super) enum SurveyError {
    Unsupported(Unsupported),
    Json(serde_json::Error),
}

/// Surveys a request body of the signal. Invalid JSON fails here, with serde's line and column.
pub(super) fn survey(signal: SignalType, body: &[u8]) -> Result<Findings, SurveyError> {
    let mut findings = Findings::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let walked = ObjectWalker {
        shape: request_shape(signal),
        findings: &mut findings,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match walked {
        Ok(()) => Ok(findings),
        Err(error) => match findings.unsupported.take() {
            Some(unsupported) => Err(SurveyError::Unsupported(unsupported)),
            None => Err(SurveyError::Json(error)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The walkers: serde visitors that consume the JSON without keeping it.

/// A map key, borrowed from the body unless it has escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(text) => text,
            Key::Owned(text) => text,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(text))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(text))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Reads any value as [`Peeked`]. A string holding an integer counts as a number when the
/// field is an integer one: OTLP/JSON writes 64-bit integers as strings, and the decoder reads
/// them, so the common case allocates nothing.
struct PeekSeed {
    integer_text_is_number: bool,
}

impl<'de> DeserializeSeed<'de> for PeekSeed {
    type Value = Peeked;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Peeked, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PeekSeed {
    type Value = Peeked;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Peeked, E> {
        Ok(Peeked::Other("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Peeked, E> {
        Ok(Peeked::Number)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Peeked, E> {
        Ok(Peeked::Number)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Peeked, E> {
        Ok(Peeked::Number)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Peeked, E> {
        if self.integer_text_is_number && text.parse::<i64>().is_ok() {
            return Ok(Peeked::Number);
        }
        Ok(Peeked::Text(text.to_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Peeked, E> {
        Ok(Peeked::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Peeked, A::Error> {
        while sequence.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Peeked::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Peeked, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Peeked::Other("an object"))
    }
}

/// Surveys one object of the given shape (or `null`, which OTLP/JSON treats as absent).
struct ObjectWalker<'f> {
    shape: &'static Shape,
    findings: &'f mut Findings,
}

/// Surveys a list of objects of the given shape.
struct ListWalker<'f> {
    shape: &'static Shape,
    findings: &'f mut Findings,
    /// The list is a metric's `dataPoints`.
    counts_points: bool,
}

impl<'de> DeserializeSeed<'de> for ObjectWalker<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> DeserializeSeed<'de> for ListWalker<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Stops the walk; the reason waits in `Findings::unsupported`.
fn stop<E: de::Error>(findings: &mut Findings, unsupported: Unsupported) -> E {
    findings.unsupported = Some(unsupported);
    E::custom("unsupported otlp/json key")
}

/// Adds a step to the path of an unsupported key on its way up.
fn with_step<T, E>(
    findings: &mut Findings,
    result: Result<T, E>,
    step: impl FnOnce() -> String,
) -> Result<T, E> {
    if result.is_err()
        && let Some(unsupported) = findings.unsupported.as_mut()
    {
        unsupported.reversed_steps.push(step());
    }
    result
}

impl<'de> Visitor<'de> for ObjectWalker<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an otlp/json object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let findings = self.findings;
        let role = self.shape.role;
        // Taken now: lists inside the point (attributes, exemplars) are walked before its value
        // may be.
        let point_index = findings.current_point;
        if role == Role::Metric {
            findings.metrics.push(MetricFinding::default());
        }
        let mut known_keys = 0;
        let mut first_unknown_key: Option<String> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key_text = key.as_str();
            let Some((name, holds)) = self.shape.holds(key_text) else {
                if let Some(camel_case) = self.shape.camel_case_of(key_text) {
                    let unsupported = Unsupported {
                        key: key_text.to_owned(),
                        explanation: format!(
                            "is snake_case; otlp/json keys are lowerCamelCase (\"{camel_case}\")"
                        ),
                        reversed_steps: Vec::new(),
                    };
                    return Err(stop(findings, unsupported));
                }
                if first_unknown_key.is_none() {
                    first_unknown_key = Some(key_text.to_owned());
                }
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            known_keys += 1;
            match holds {
                Holds::Scalar => match (role, name) {
                    (Role::MetricData, "aggregationTemporality") => {
                        if let Peeked::Text(temporality) = map.next_value_seed(PeekSeed {
                            integer_text_is_number: true,
                        })? && let Some(metric) = findings.metrics.last_mut()
                        {
                            metric.temporality_name = Some(temporality);
                        }
                    }
                    (Role::NumberPoint, "asDouble" | "asInt") => {
                        let integer_text_is_number = name == "asInt";
                        let given = map.next_value_seed(PeekSeed {
                            integer_text_is_number,
                        })?;
                        if given != Peeked::Number
                            && let Some(metric) = findings.metrics.last_mut()
                        {
                            metric.odd_values.push(OddValue {
                                point_index,
                                key: name,
                                given,
                            });
                        }
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
                Holds::Object(inner_shape) => {
                    if role == Role::Metric
                        && inner_shape.role == Role::MetricData
                        && let Some(metric) = findings.metrics.last_mut()
                    {
                        metric.data_key.get_or_insert(name);
                    }
                    let walked = map.next_value_seed(ObjectWalker {
                        shape: inner_shape,
                        findings: &mut *findings,
                    });
                    with_step(findings, walked, || name.to_owned())?;
                }
                Holds::List(item_shape) => {
                    let counts_points = role == Role::MetricData && name == "dataPoints";
                    let walker = ListWalker {
                        shape: item_shape,
                        findings: &mut *findings,
                        counts_points,
                    };
                    let walked = map.next_value_seed(walker);
                    with_step(findings, walked, || name.to_owned())?;
                }
            }
        }
        if known_keys == 0
            && let Some(key) = first_unknown_key
        {
            let unsupported = Unsupported {
                key,
                explanation: format!(
                    "is not an otlp/json field, and no key of the object is (expected {})",
                    self.shape.key_list()
                ),
                reversed_steps: Vec::new(),
            };
            return Err(stop(findings, unsupported));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for ListWalker<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list of otlp/json objects")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<(), A::Error> {
        let findings = self.findings;
        let mut index = 0;
        loop {
            if self.counts_points {
                findings.current_point = index;
            }
            let walked = sequence.next_element_seed(ObjectWalker {
                shape: self.shape,
                findings: &mut *findings,
            });
            match with_step(findings, walked, || format!("[{index}]"))? {
                Some(()) => index += 1,
                None => break,
            }
        }
        if self.counts_points
            && let Some(metric) = findings.metrics.last_mut()
        {
            metric.data_points += index as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsupported(signal: SignalType, body: &str) -> Unsupported {
        match survey(signal, body.as_bytes()) {
            Err(SurveyError::Unsupported(unsupported)) => unsupported,
            Err(SurveyError::Json(error)) => panic!("json error {error}"),
            Ok(findings) => panic!("no error: {findings:?}"),
        }
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

    #[test]
    fn path_of_a_deep_unsupported_key() {
        let body = r#"{"resourceLogs": [{}, {"scopeLogs": [{"logRecords": [{"body": {"kvlistValue": {"values": [
            {"key": "a", "value": {"int_value": 1}}]}}}]}]}]}"#;
        let found = unsupported(SignalType::Logs, body);
        assert_eq!(found.key, "int_value");
        assert_eq!(
            found.path(),
            "resourceLogs[1].scopeLogs[0].logRecords[0].body.kvlistValue.values[0].value"
        );
    }

    #[test]
    fn escaped_keys_are_read_too() {
        let found = unsupported(SignalType::Traces, r#"{"resource\u005fspans": []}"#);
        assert_eq!(found.key, "resource_spans");
    }

    #[test]
    fn nulls_and_unknown_keys_are_accepted() {
        let body =
            r#"{"resourceSpans": [{"resource": null, "scopeSpans": null, "future": {"x": 1}}]}"#;
        assert!(survey(SignalType::Traces, body.as_bytes()).is_ok());
    }

    #[test]
    fn metric_findings_follow_document_order() {
        let body = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "a", "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA", "dataPoints": [{}, {}]}},
            {"name": "b", "gauge": {"dataPoints": [{"asDouble": 1}, {"exemplars": [{"asDouble": "NaN"}, {}], "attributes": [{"key": "k"}, {"key": "l"}, {"key": "m"}], "asDouble": "NaN"}, {"asInt": null}, {"asInt": "7"}, {"asInt": 8}]}}
        ]}, {"metrics": [{"name": "c"}]}]}]}"#;
        let findings = match survey(SignalType::Metrics, body.as_bytes()) {
            Ok(findings) => findings,
            Err(_) => panic!("survey failed"),
        };
        assert_eq!(findings.metrics.len(), 3);
        let first = &findings.metrics[0];
        assert_eq!((first.data_key, first.data_points), (Some("sum"), 2));
        assert_eq!(
            first.temporality_name.as_deref(),
            Some("AGGREGATION_TEMPORALITY_DELTA")
        );
        let second = &findings.metrics[1];
        assert_eq!((second.data_key, second.data_points), (Some("gauge"), 5));
        assert_eq!(second.odd_values.len(), 2, "{:?}", second.odd_values);
        assert_eq!(
            (second.odd_values[0].point_index, second.odd_values[0].key),
            (1, "asDouble")
        );
        assert_eq!(
            second.odd_values[0].given,
            Peeked::Text(String::from("NaN"))
        );
        assert_eq!(
            (second.odd_values[1].point_index, second.odd_values[1].key),
            (2, "asInt")
        );
        assert_eq!(second.odd_values[1].given, Peeked::Other("null"));
        assert_eq!(findings.metrics[2].data_key, None);
    }
}
