//! Telemetry records as sloscope keeps them: close to the OTLP data model, with the resource
//! shared between the records of one export so that its attributes are held once.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// An attribute value, the OTLP `AnyValue` without its wrapper.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(#[serde(serialize_with = "hex::serde::serialize")] Vec<u8>),
    Array(Vec<AttrValue>),
    Map(Attributes),
}

impl AttrValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(number) => Some(*number),
            AttrValue::Str(text) => text.parse().ok(),
            AttrValue::Double(number) if number.fract() == 0.0 => Some(*number as i64),
            _ => None,
        }
    }

    /// The value as text, the way a person would read it in a table.
    pub fn to_text(&self) -> String {
        match self {
            AttrValue::Str(text) => text.clone(),
            AttrValue::Bool(flag) => flag.to_string(),
            AttrValue::Int(number) => number.to_string(),
            AttrValue::Double(number) => number.to_string(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }
}

/// Attributes in arrival order; OTLP keys are unique, so a list is cheaper than a map.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(pub Vec<(String, AttrValue)>);

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Attributes {
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(AttrValue::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Looks a key up in the span's attributes first, then in its resource's.
pub fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a AttrValue> {
    span.attributes
        .get(key)
        .or_else(|| span.resource.attributes.get(key))
}

/// Attributes as a JSON object, the form they take in segments and API answers.
pub fn attributes_to_json(attributes: &Attributes) -> String {
    let mut json = String::with_capacity(16 + 48 * attributes.0.len());
    let _ = write_attributes_json(attributes, &mut json);
    json
}

/// Writes attributes as a JSON object, exactly as `serde_json` would, into `out`.
///
/// Every stored span, log and point goes through this, so it is written by hand: strings are
/// scanned eight bytes at a time for what JSON must escape, and the caller's buffer (an Arrow
/// column builder) is written in place, with no string allocated per record.
pub fn write_attributes_json(attributes: &Attributes, out: &mut impl fmt::Write) -> fmt::Result {
    out.write_char('{')?;
    for (position, (key, value)) in attributes.0.iter().enumerate() {
        if position > 0 {
            out.write_char(',')?;
        }
        write_json_string(key, out)?;
        out.write_char(':')?;
        write_value_json(value, out)?;
    }
    out.write_char('}')
}

fn write_value_json(value: &AttrValue, out: &mut impl fmt::Write) -> fmt::Result {
    match value {
        AttrValue::Str(text) => write_json_string(text, out),
        AttrValue::Bool(flag) => out.write_str(if *flag { "true" } else { "false" }),
        AttrValue::Int(number) => write!(out, "{number}"),
        // serde_json's float formatting (shortest round trip, `null` for NaN and infinities).
        AttrValue::Double(number) => {
            out.write_str(&serde_json::to_string(number).unwrap_or_else(|_| String::from("null")))
        }
        AttrValue::Bytes(bytes) => {
            out.write_char('"')?;
            for byte in bytes {
                write!(out, "{byte:02x}")?;
            }
            out.write_char('"')
        }
        AttrValue::Array(values) => {
            out.write_char('[')?;
            for (position, item) in values.iter().enumerate() {
                if position > 0 {
                    out.write_char(',')?;
                }
                write_value_json(item, out)?;
            }
            out.write_char(']')
        }
        AttrValue::Map(attributes) => write_attributes_json(attributes, out),
    }
}

/// Whether any of the eight bytes of `word` is a quote, a backslash or a control character.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |value: u64| value.wrapping_sub(ONES) & !value & HIGHS != 0;
    // Bytes below 0x20 (bytes of 0x80 and up have their high bit set and are left out).
    let control = word.wrapping_sub(0x20 * ONES) & !word & HIGHS != 0;
    control
        || has_zero(word ^ (u64::from(b'"') * ONES))
        || has_zero(word ^ (u64::from(b'\\') * ONES))
}

/// Writes `text` as a JSON string with serde_json's escapes.
fn write_json_string(text: &str, out: &mut impl fmt::Write) -> fmt::Result {
    out.write_char('"')?;
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    let mut position = 0;
    while position < bytes.len() {
        // Whole words without anything to escape are skipped at once.
        if let Some(chunk) = bytes.get(position..position + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            if !needs_escape(word) {
                position += 8;
                continue;
            }
        }
        let end = (position + 8).min(bytes.len());
        for index in position..end {
            let escaped = match bytes[index] {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                byte @ 0..0x20 => {
                    out.write_str(&text[clean_from..index])?;
                    write!(out, "\\u{:04x}", byte)?;
                    clean_from = index + 1;
                    continue;
                }
                _ => continue,
            };
            out.write_str(&text[clean_from..index])?;
            out.write_str(escaped)?;
            clean_from = index + 1;
        }
        position = end;
    }
    out.write_str(&text[clean_from..])?;
    out.write_char('"')
}

/// The entity that produced telemetry, with the identifying fields sloscope needs pulled out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub service: String,
    pub environment: String,
    pub version: String,
    pub attributes: Attributes,
}

impl Resource {
    pub const DEFAULT_ENVIRONMENT: &'static str = "default";
    pub const UNKNOWN_SERVICE: &'static str = "unknown_service";

    /// Reads `service.name`, `deployment.environment.name` (or the older
    /// `deployment.environment`) and `service.version` from the attributes.
    pub fn from_attributes(attributes: Attributes) -> Resource {
        let service = attributes
            .get_str("service.name")
            .filter(|name| !name.is_empty())
            .unwrap_or(Self::UNKNOWN_SERVICE)
            .to_owned();
        let environment = attributes
            .get_str("deployment.environment.name")
            .or_else(|| attributes.get_str("deployment.environment"))
            .filter(|name| !name.is_empty())
            .unwrap_or(Self::DEFAULT_ENVIRONMENT)
            .to_owned();
        let version = attributes
            .get_str("service.version")
            .unwrap_or_default()
            .to_owned();
        Resource {
            service,
            environment,
            version,
            attributes,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    pub fn from_otlp(value: i32) -> SpanKind {
        match value {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    pub fn to_otlp(self) -> i32 {
        match self {
            SpanKind::Unspecified => 0,
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    pub fn from_otlp(value: i32) -> StatusCode {
        match value {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    pub fn to_otlp(self) -> i32 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpanEvent {
    pub time_unix_nano: u64,
    pub name: String,
    pub attributes: Attributes,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpanLink {
    #[serde(serialize_with = "hex::serde::serialize")]
    pub trace_id: TraceId,
    #[serde(serialize_with = "hex::serde::serialize")]
    pub span_id: SpanId,
    pub attributes: Attributes,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub resource: Arc<Resource>,
    pub scope_name: String,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent lives in another process (OTLP span flags bit 9); such a span is
    /// the local root of its service's part of the trace.
    pub parent_is_remote: bool,
    pub name: String,
    pub kind: SpanKind,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub status_code: StatusCode,
    pub status_message: String,
    pub attributes: Attributes,
    pub events: Vec<SpanEvent>,
    pub links: Vec<SpanLink>,
}

impl Span {
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    pub fn is_local_root(&self) -> bool {
        self.parent_span_id.is_none() || self.parent_is_remote
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    pub resource: Arc<Resource>,
    pub scope_name: String,
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_number: i32,
    pub severity_text: String,
    /// The body rendered as text (a structured body becomes its JSON).
    pub body: String,
    pub attributes: Attributes,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
}

impl LogRecord {
    /// The record's time: the event time when the source set it, else when it was observed.
    pub fn timestamp(&self) -> u64 {
        if self.time_unix_nano != 0 {
            self.time_unix_nano
        } else {
            self.observed_time_unix_nano
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Temporality {
    Unspecified,
    Delta,
    Cumulative,
}

impl Temporality {
    pub fn from_otlp(value: i32) -> Temporality {
        match value {
            1 => Temporality::Delta,
            2 => Temporality::Cumulative,
            _ => Temporality::Unspecified,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MetricKind {
    Gauge,
    Sum {
        monotonic: bool,
        temporality: Temporality,
    },
    Histogram {
        temporality: Temporality,
    },
    ExponentialHistogram {
        temporality: Temporality,
    },
    Summary,
}

impl MetricKind {
    pub fn name(&self) -> &'static str {
        match self {
            MetricKind::Gauge => "gauge",
            MetricKind::Sum { .. } => "sum",
            MetricKind::Histogram { .. } => "histogram",
            MetricKind::ExponentialHistogram { .. } => "exponential_histogram",
            MetricKind::Summary => "summary",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExponentialBuckets {
    pub offset: i32,
    pub bucket_counts: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum PointValue {
    Number {
        value: f64,
    },
    Histogram {
        count: u64,
        sum: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
        explicit_bounds: Vec<f64>,
        bucket_counts: Vec<u64>,
    },
    ExponentialHistogram {
        count: u64,
        sum: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
        scale: i32,
        zero_count: u64,
        positive: ExponentialBuckets,
        negative: ExponentialBuckets,
    },
    Summary {
        count: u64,
        sum: f64,
        quantiles: Vec<(f64, f64)>,
    },
}

impl PointValue {
    /// One number that stands for the point: the value of a gauge or sum, the mean of a
    /// distribution (NaN when it has no sum).
    pub fn scalar(&self) -> f64 {
        match self {
            PointValue::Number { value } => *value,
            PointValue::Histogram { count, sum, .. }
            | PointValue::ExponentialHistogram { count, sum, .. } => match sum {
                Some(total) if *count > 0 => total / *count as f64,
                _ => f64::NAN,
            },
            PointValue::Summary { count, sum, .. } => {
                if *count > 0 {
                    sum / *count as f64
                } else {
                    f64::NAN
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub resource: Arc<Resource>,
    pub name: String,
    pub unit: String,
    pub kind: MetricKind,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub attributes: Attributes,
    pub value: PointValue,
}

/// What one export request carried, after decoding and validation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub spans: Vec<Span>,
    pub logs: Vec<LogRecord>,
    pub points: Vec<MetricPoint>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.logs.is_empty() && self.points.is_empty()
    }

    pub fn len(&self) -> usize {
        self.spans.len() + self.logs.len() + self.points.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = AttrValue> {
        let leaf = prop_oneof![
            any::<String>().prop_map(AttrValue::Str),
            "[\"\\\\\\x00-\\x1f a-z]{0,40}".prop_map(AttrValue::Str),
            any::<bool>().prop_map(AttrValue::Bool),
            any::<i64>().prop_map(AttrValue::Int),
            any::<f64>().prop_map(AttrValue::Double),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttrValue::Bytes),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(AttrValue::Array),
                proptest::collection::vec(("[a-z.\"]{0,12}", inner), 0..4)
                    .prop_map(|pairs| AttrValue::Map(Attributes(pairs))),
            ]
        })
    }

    proptest! {
        #[test]
        fn attributes_are_written_as_serde_json_writes_them(
            pairs in proptest::collection::vec((any::<String>(), value()), 0..6)
        ) {
            let attributes = Attributes(pairs);
            let expected = serde_json::to_string(&attributes).unwrap();
            prop_assert_eq!(attributes_to_json(&attributes), expected);
        }
    }

    #[test]
    fn every_escape_is_serde_jsons() {
        let text: String = (0u8..0x80)
            .map(char::from)
            .chain("é\u{2028}😀".chars())
            .collect();
        let attributes = Attributes(vec![(text.clone(), AttrValue::Str(text.repeat(3)))]);
        assert_eq!(
            attributes_to_json(&attributes),
            serde_json::to_string(&attributes).unwrap()
        );
        assert_eq!(attributes_to_json(&Attributes::default()), "{}");
    }
}
