//! Plain data shared by every stage of sloscope: the telemetry records that arrive over OTLP
//! (spans, log records, metric points), the keys and counters of application signals, and the
//! mergeable latency sketch behind every percentile.
//!
//! Nothing here does I/O or knows about wire formats: decoding lives in `sloscope-ingest`,
//! persistence in `sloscope-store`.

mod record;
mod signal;
mod sketch;
mod time_range;

pub use record::{
    AttrValue, Attributes, Batch, ExponentialBuckets, LogRecord, MetricKind, MetricPoint,
    PointValue, Resource, Span, SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, Temporality,
    TraceId, attribute, attributes_to_json, write_attributes_json,
};
pub use signal::{
    MINUTE_NANOS, OTHER_OPERATION, SignalKey, SignalKind, SignalRow, SignalStats, minute_of,
};
pub use sketch::{LatencySketch, RELATIVE_ACCURACY, SketchDecodeError, get_varint, put_varint};
pub use time_range::{TimeParseError, TimeRange, format_timestamp, parse_timestamp};
