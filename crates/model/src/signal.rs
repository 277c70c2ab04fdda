//! Application signals: per-minute counts and latency of one service, operation or dependency,
//! with the semantics of CloudWatch Application Signals (see DESIGN.md).

use serde::Serialize;

use crate::LatencySketch;

pub const MINUTE_NANOS: u64 = 60_000_000_000;

/// The operation name that excess operations fold into when a service has too many.
pub const OTHER_OPERATION: &str = "other";

/// The unix minute that a nanosecond timestamp falls in.
pub fn minute_of(unix_nano: u64) -> i64 {
    (unix_nano / MINUTE_NANOS) as i64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// What a service answers: its SERVER and CONSUMER spans and local roots.
    Server,
    /// What a service calls: its CLIENT and PRODUCER spans.
    Dependency,
}

/// What one signal series is about. Dependency keys carry the remote service and operation;
/// server keys leave them empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SignalKey {
    pub kind: SignalKind,
    pub environment: String,
    pub service: String,
    pub operation: String,
    pub remote_service: String,
    pub remote_operation: String,
    pub version: String,
}

/// Counts and latency of the requests of one key in one interval. Merging two intervals adds
/// them, so any window is the merge of its minutes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalStats {
    pub requests: u64,
    pub faults: u64,
    pub errors: u64,
    pub latency: LatencySketch,
}

impl SignalStats {
    /// Counts one request of the given latency.
    pub fn record(&mut self, latency_ms: f64, fault: bool, error: bool) {
        self.requests += 1;
        self.faults += u64::from(fault);
        self.errors += u64::from(error);
        self.latency.add(latency_ms);
    }

    pub fn merge(&mut self, other: &SignalStats) {
        self.requests += other.requests;
        self.faults += other.faults;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
    }

    /// 1 - faults / requests; None without requests (no data is not 100 %).
    pub fn availability(&self) -> Option<f64> {
        (self.requests > 0).then(|| 1.0 - self.faults as f64 / self.requests as f64)
    }
}

/// One key's stats in one minute, as the store hands them out.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalRow {
    pub minute: i64,
    pub key: SignalKey,
    pub stats: SignalStats,
}
