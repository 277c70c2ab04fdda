//! The telemetry the shop emits, as plain records: spans, log records and metric points, each
//! pointing at the resource (one pod of one version) that emitted it. Turning them into OTLP
//! export requests is `otlp`'s business, so the model can be tested without protobuf.

use std::borrow::Cow;

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// An attribute value, as OTLP's `AnyValue` holds the scalar ones.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(Cow<'static, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(number) => Some(*number),
            _ => None,
        }
    }
}

impl From<&'static str> for Value {
    fn from(text: &'static str) -> Value {
        Value::Text(Cow::Borrowed(text))
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(Cow::Owned(text))
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Value {
        Value::Int(number)
    }
}

impl From<f64> for Value {
    fn from(number: f64) -> Value {
        Value::Float(number)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Value {
        Value::Bool(flag)
    }
}

pub type Attributes = Vec<(&'static str, Value)>;

/// The value of `key` among `attributes`.
pub fn attribute<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, value)| value)
}

/// What emits telemetry: one pod of one service at one version.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub service: &'static str,
    /// The instrumentation scope its spans, logs and metrics are reported under.
    pub scope: &'static str,
    pub attributes: Attributes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpanEvent {
    pub time: u64,
    pub name: &'static str,
    pub attributes: Attributes,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Index into the shop's resources.
    pub resource: usize,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub name: Cow<'static, str>,
    pub kind: SpanKind,
    /// Unix nanoseconds.
    pub start: u64,
    pub end: u64,
    /// The status message of a span whose status is ERROR; None for an unset status.
    pub error: Option<String>,
    pub attributes: Attributes,
    pub events: Vec<SpanEvent>,
}

impl SpanRecord {
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn attribute(&self, key: &str) -> Option<&Value> {
        attribute(&self.attributes, key)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warn,
    Error,
}

impl Severity {
    /// The OTLP severity number.
    pub fn number(self) -> i32 {
        match self {
            Severity::Info => 9,
            Severity::Warn => 13,
            Severity::Error => 17,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    pub resource: usize,
    pub time: u64,
    pub severity: Severity,
    pub body: String,
    /// The trace context of the request that logged it, if any.
    pub trace: Option<(TraceId, SpanId)>,
    pub attributes: Attributes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    /// A cumulative sum since the process started.
    Counter,
    /// A cumulative non-monotonic sum (OpenTelemetry's UpDownCounter).
    UpDownCounter,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub resource: usize,
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub kind: MetricKind,
    /// When the cumulative series started (the process start).
    pub start: u64,
    pub time: u64,
    pub value: f64,
    pub attributes: Attributes,
}

/// What the shop emitted since it was last drained.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    pub spans: Vec<SpanRecord>,
    pub logs: Vec<LogRecord>,
    pub points: Vec<MetricPoint>,
}

impl Telemetry {
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.logs.is_empty() && self.points.is_empty()
    }

    pub fn append(&mut self, other: &mut Telemetry) {
        self.spans.append(&mut other.spans);
        self.logs.append(&mut other.logs);
        self.points.append(&mut other.points);
    }
}
