//! What an investigation says: ranked causes with evidence and remedies, and what it could
//! not check.

use serde::{Deserialize, Serialize};

use crate::input::Subject;

/// The kinds of cause an investigation can name (the API's `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    Deployment,
    SlowQuery,
    Dependency,
    ErrorPattern,
    Load,
    CpuSaturation,
    MemoryLeak,
    ResourceExhaustion,
    Network,
    CodeRegression,
    Unknown,
}

/// One number behind a finding, with its baseline when there is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The probe that measured it: `scope`, `bubbleup`, `self_time`, `dependencies`,
    /// `changes`, `error_patterns`, `network`, `load`, `resources`, `slow_queries`.
    pub probe: String,
    /// One sentence a person reads, numbers included.
    pub summary: String,
    /// The measure's name, e.g. `p99_ms`, `fault_rate`, `requests_per_minute`.
    pub measure: String,
    pub baseline: Option<f64>,
    pub breach: Option<f64>,
}

/// A corrective action and the evidence that motivates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remedy {
    pub action: String,
    pub because: String,
}

/// Evidence a person should see drawn rather than read: the slow span on its trace, how the
/// values of an attribute or the log templates split before and during the breach, a resource
/// over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Figure {
    /// A typical bad request of the breach, with the span that shows the cause.
    Trace {
        title: String,
        /// 32 hex digits.
        trace_id: String,
        /// 16 hex digits: the span to point at.
        span_id: String,
        /// When the span started, unix nanoseconds: where to look for the trace.
        time_unix_nano: u64,
    },
    /// The values of one dimension (an attribute's values, log templates), the baseline's
    /// against the breach's, largest change first.
    Comparison {
        title: String,
        /// `%` (shares, as fractions) or `/min` (rates).
        unit: String,
        /// What the two columns are, e.g. `good requests` and `bad requests`.
        columns: [String; 2],
        rows: Vec<ComparisonRow>,
    },
    /// A measure over the baseline and the breach, one line per instance (a pod's memory),
    /// with the limit it runs into when one is known.
    Trend {
        title: String,
        /// `bytes`, `%` (fractions), `/min` or empty.
        unit: String,
        series: Vec<TrendSeries>,
        limit: Option<f64>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    pub label: String,
    /// The first column's value: the baseline's, or the good requests' of an attribute diff.
    pub baseline: f64,
    /// The second column's value: the breach's, or the bad requests'.
    pub breach: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendSeries {
    pub label: String,
    /// `[unix nanoseconds, value]`, by time.
    pub points: Vec<(u64, f64)>,
}

/// A suspected cause: findings of one or more probes merged for one service and kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub rank: usize,
    pub service: String,
    pub kind: CauseKind,
    pub summary: String,
    /// 0 to 1.
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
    /// The evidence worth drawing, the cause's own first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<Figure>,
    pub remedies: Vec<Remedy>,
}

/// One indicator of the subject, baseline against breach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndicatorChange {
    /// `availability`, `fault_rate`, `error_rate`, `p50_ms`, `p99_ms`, `requests_per_minute`.
    pub indicator: String,
    pub baseline: f64,
    pub breach: f64,
    /// The SLO target for this indicator, when an SLO names one.
    pub target: Option<f64>,
}

/// When the breach started and how far off target it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Change point of the subject's SLI, unix nanoseconds; None when no change point stands out.
    pub started_unix_nano: Option<u64>,
    pub indicators: Vec<IndicatorChange>,
    /// Requests of the subject in the breach window that were bad (faults, or over the
    /// latency threshold of a latency SLO).
    pub bad_requests: u64,
    pub requests: u64,
    /// The fraction of the error budget burned in the breach window, when an SLO is known
    /// (of a 30-day budget: the SLO context does not carry its period).
    pub budget_burned: Option<f64>,
    /// How fast the breach window spent budget: its bad fraction over the fraction the
    /// objective allows (1 spends exactly the budget over the period), when an SLO is known.
    #[serde(default)]
    pub burn_rate: Option<f64>,
    /// The per-minute indicator the start was found in (`fault_rate`, `error_rate`, `p99_ms`,
    /// `over_latency_threshold`).
    #[serde(default)]
    pub sli: Option<String>,
}

/// The result of an investigation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub subject: Subject,
    pub scope: Scope,
    pub causes: Vec<Cause>,
    /// What could not be checked and why (no logs, no metrics, no version attribute, ...).
    pub not_checked: Vec<String>,
}
