//! Small builders for the probes' unit tests: spans, per-minute signals derived from them as
//! the store derives them, and inputs with a baseline window of minutes 0..10 and a breach
//! window of minutes 10..20.

use std::collections::BTreeMap;

use sloscope_model::{
    MINUTE_NANOS, SignalKey, SignalKind, SignalRow, SignalStats, SpanKind, StatusCode, TimeRange,
};

use crate::input::{Inputs, LogLine, MetricSample, SpanRecord, Subject, Telemetry};

pub(crate) const MS: u64 = 1_000_000;

/// The first minute of the breach window (the baseline is minutes 0..10).
pub(crate) const BREACH_MINUTE: u64 = 10;

pub(crate) fn span_id(number: u32) -> [u8; 8] {
    let mut id = [0u8; 8];
    id[4..].copy_from_slice(&number.to_be_bytes());
    id[0] = 1;
    id
}

pub(crate) fn trace_id(number: u32) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[12..].copy_from_slice(&number.to_be_bytes());
    id[0] = 1;
    id
}

/// A span of `trace`, starting `start_ms` after the window's minute `minute`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn span(
    trace: u32,
    id: u32,
    parent: Option<u32>,
    service: &str,
    operation: &str,
    kind: SpanKind,
    start_ns: u64,
    duration_ms: f64,
) -> SpanRecord {
    SpanRecord {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id),
        service: service.to_owned(),
        version: String::new(),
        operation: operation.to_owned(),
        kind,
        remote_service: String::new(),
        start_unix_nano: start_ns,
        duration_nanos: (duration_ms * MS as f64) as u64,
        status: StatusCode::Unset,
        db_statement: None,
        dimensions: Vec::new(),
        exceptions: Vec::new(),
    }
}

/// Per-minute signals as the store derives them: server keys for server spans, dependency keys
/// for client spans.
pub(crate) fn signals(spans: &[SpanRecord]) -> Vec<SignalRow> {
    let mut rows: BTreeMap<(i64, SignalKey), SignalStats> = BTreeMap::new();
    for span in spans {
        let kind = match span.kind {
            SpanKind::Server => SignalKind::Server,
            SpanKind::Client => SignalKind::Dependency,
            _ => continue,
        };
        let (remote_service, remote_operation) = if kind == SignalKind::Dependency {
            (span.remote_service.clone(), span.operation.clone())
        } else {
            (String::new(), String::new())
        };
        let key = SignalKey {
            kind,
            environment: String::new(),
            service: span.service.clone(),
            operation: span.operation.clone(),
            remote_service,
            remote_operation,
            version: span.version.clone(),
        };
        rows.entry(((span.start_unix_nano / MINUTE_NANOS) as i64, key))
            .or_default()
            .record(
                span.duration_nanos as f64 / 1e6,
                span.status == StatusCode::Error,
                false,
            );
    }
    rows.into_iter()
        .map(|((minute, key), stats)| SignalRow { minute, key, stats })
        .collect()
}

/// Telemetry of spans (signals derived), logs and metrics.
pub(crate) fn telemetry(
    spans: Vec<SpanRecord>,
    logs: Vec<LogLine>,
    metrics: Vec<MetricSample>,
) -> Telemetry {
    Telemetry {
        signals: signals(&spans),
        spans,
        spans_sampled: false,
        logs,
        metrics,
    }
}

/// Inputs for `subject`: the baseline is minutes 0..10, the breach minutes 10..20.
pub(crate) fn inputs(subject: &str, baseline: Telemetry, breach: Telemetry) -> Inputs {
    Inputs {
        subject: Subject {
            service: subject.to_owned(),
            operation: None,
            window: TimeRange::new(
                BREACH_MINUTE * MINUTE_NANOS,
                2 * BREACH_MINUTE * MINUTE_NANOS,
            ),
            baseline: TimeRange::new(0, BREACH_MINUTE * MINUTE_NANOS),
        },
        slo: None,
        breach,
        baseline,
        changes: Vec::new(),
    }
}

/// The start of request `request` of `per_minute` in the window that starts at `first_minute`.
pub(crate) fn request_start(first_minute: u64, request: u32, per_minute: u32) -> u64 {
    first_minute * MINUTE_NANOS + u64::from(request) * MINUTE_NANOS / u64::from(per_minute)
}

/// Ten minutes from `first_minute` of `front` calling `back`, `per_minute` requests a minute,
/// each with the given times in ms (see [`call`]).
pub(crate) fn front_back_window(
    first_minute: u64,
    per_minute: u32,
    front_ms: f64,
    gap_ms: f64,
    back_ms: f64,
) -> Telemetry {
    let mut spans = Vec::new();
    for request in 0..per_minute * 10 {
        let start = request_start(first_minute, request, per_minute);
        let trace = first_minute as u32 * 100_000 + request;
        spans.extend(call(
            trace,
            trace * 3,
            "front",
            "back",
            start,
            front_ms,
            gap_ms,
            back_ms,
        ));
    }
    telemetry(spans, Vec::new(), Vec::new())
}

/// Calls of a `caller` server span to a `callee` over a client span, with the given times in
/// ms: caller self time, gap on the wire (both ways together), callee time. Returns the spans
/// of one request: the caller's server span, its client span, the callee's server span.
#[allow(clippy::too_many_arguments)]
pub(crate) fn call(
    trace: u32,
    first_id: u32,
    caller: &str,
    callee: &str,
    start: u64,
    caller_self_ms: f64,
    gap_ms: f64,
    callee_ms: f64,
) -> Vec<SpanRecord> {
    let client_ms = gap_ms + callee_ms;
    let server_start = start + (caller_self_ms / 2.0 * MS as f64) as u64;
    let callee_start = server_start + (gap_ms / 2.0 * MS as f64) as u64;
    let mut client = span(
        trace,
        first_id + 1,
        Some(first_id),
        caller,
        "call",
        SpanKind::Client,
        server_start,
        client_ms,
    );
    client.remote_service = callee.to_owned();
    vec![
        span(
            trace,
            first_id,
            None,
            caller,
            "GET /",
            SpanKind::Server,
            start,
            caller_self_ms + client_ms,
        ),
        client,
        span(
            trace,
            first_id + 2,
            Some(first_id + 1),
            callee,
            "serve",
            SpanKind::Server,
            callee_start,
            callee_ms,
        ),
    ]
}
