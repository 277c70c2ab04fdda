//! What an investigation looks at: telemetry of the breach window and of a baseline window,
//! already fetched. Fetching is the server's business; the probes only read these.

use serde::{Deserialize, Serialize};
use sloscope_model::{SignalRow, SpanId, SpanKind, StatusCode, TimeRange, TraceId};

/// The service (and optionally operation) whose breach is investigated, and the two windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub service: String,
    pub operation: Option<String>,
    /// The breach window.
    pub window: TimeRange,
    /// The fault-free window the breach is compared with.
    pub baseline: TimeRange,
}

/// One span, narrowed to what the probes read.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub service: String,
    pub version: String,
    /// The derived operation (server spans) or the span name.
    pub operation: String,
    pub kind: SpanKind,
    /// The remote service of a client span (`peer.service`, database, messaging, address).
    pub remote_service: String,
    pub start_unix_nano: u64,
    pub duration_nanos: u64,
    pub status: StatusCode,
    /// `db.query.text` (or the older `db.statement`) of a database client span.
    pub db_statement: Option<String>,
    /// Dimensions for the over-representation diff: host, pod, version, endpoint, and other
    /// low-cardinality span and resource attributes, as text.
    pub dimensions: Vec<(String, String)>,
    /// Exceptions recorded as span events: type and message.
    pub exceptions: Vec<Exception>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    pub kind: String,
    pub message: String,
}

/// One log record.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub time_unix_nano: u64,
    pub service: String,
    /// OTLP severity number (0 when unset; 17 and above are errors).
    pub severity_number: i32,
    pub body: String,
    pub trace_id: Option<TraceId>,
}

/// One metric sample of a resource series (CPU, memory, connection pool, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSample {
    pub name: String,
    pub service: String,
    /// What distinguishes series of one metric within a service: pod, host, pool name.
    pub instance: String,
    pub unit: String,
    pub time_unix_nano: u64,
    pub value: f64,
}

/// A recorded change (`POST /api/v1/changes`): a deployment, a configuration or feature-flag
/// change, a migration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub time_unix_nano: u64,
    pub service: String,
    /// `deployment`, `config`, `feature_flag`, `migration`, or whatever the recorder says.
    pub kind: String,
    pub description: String,
    pub version: Option<String>,
}

/// The telemetry of one window.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    /// Per-minute signal rows of every service (the whole service graph, not only the subject).
    pub signals: Vec<SignalRow>,
    /// Spans of whole traces; may be a sample when the window holds more than the fetch limit.
    pub spans: Vec<SpanRecord>,
    /// Whether `spans` is a sample of a larger window.
    pub spans_sampled: bool,
    pub logs: Vec<LogLine>,
    pub metrics: Vec<MetricSample>,
}

/// The SLO that breached, when the investigation was started by one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloContext {
    pub name: String,
    /// `availability`, `latency`, `error_rate` or `metric_ratio`.
    pub indicator: String,
    /// The objective as a fraction, e.g. 0.999.
    pub objective: f64,
    /// The latency threshold of a latency SLO, in milliseconds.
    pub threshold_ms: Option<f64>,
    /// The fraction of the error budget left at the start of the investigation.
    pub budget_remaining: Option<f64>,
}

/// Everything a run of the probes reads.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub subject: Subject,
    pub slo: Option<SloContext>,
    pub breach: Telemetry,
    pub baseline: Telemetry,
    pub changes: Vec<ChangeEvent>,
}
