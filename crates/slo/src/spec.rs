//! SLO specifications as users write them (YAML files in a watched directory, or API objects)
//! and as the evaluator needs them: validated, with durations in minutes and objectives as
//! fractions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::AlertPolicy;

/// What the SLO is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Scope {
    /// Every request the service answers.
    Service,
    /// The requests of one operation of the service (`GET /customers/{id}`).
    Operation { operation: String },
    /// The calls of the service to one dependency (`postgresql:shop`), optionally one of its
    /// operations.
    Dependency {
        remote_service: String,
        remote_operation: Option<String>,
    },
}

/// Which events are good.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Indicator {
    /// Good: requests without a fault (5xx, status error).
    Availability,
    /// Good: requests at most `threshold_ms` long.
    Latency { threshold_ms: f64 },
    /// Good: requests without an error or a fault (4xx or 5xx).
    ErrorRate,
    /// Good/total or bad/total from two queries over stored metrics.
    MetricRatio {
        numerator: MetricQuery,
        denominator: MetricQuery,
        numerator_is: RatioKind,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioKind {
    Good,
    Bad,
}

/// A stored metric, summed over the points matching every label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricQuery {
    pub metric: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Window {
    Rolling {
        days: u32,
    },
    /// From the start of the current calendar week (Monday) or month, in `timezone` (IANA name).
    Calendar {
        unit: CalendarUnit,
        timezone: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarUnit {
    Week,
    Month,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Budgeting {
    /// Request-based: every event counts.
    Occurrences,
    /// Period-based: a slice of `slice_minutes` (1-15) is good when its own good ratio is at
    /// least `slice_target`; the objective is over slices.
    Timeslices {
        slice_minutes: u32,
        slice_target: f64,
    },
}

/// A period that does not count against the budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Exclusion {
    /// Unix seconds, `[from, to)`.
    Once { from: i64, to: i64, reason: String },
    /// Every time the cron expression (5 fields, minute hour day-of-month month day-of-week, in
    /// UTC) matches, for `duration_minutes`.
    Recurring {
        cron: String,
        duration_minutes: u32,
        reason: String,
    },
}

/// A validated SLO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloSpec {
    pub name: String,
    pub description: String,
    pub service: String,
    /// None: any environment.
    pub environment: Option<String>,
    pub scope: Scope,
    pub indicator: Indicator,
    /// A fraction: 0.999.
    pub objective: f64,
    pub window: Window,
    pub budgeting: Budgeting,
    pub alerting: AlertPolicy,
    pub exclusions: Vec<Exclusion>,
    pub labels: BTreeMap<String, String>,
}

impl Window {
    /// The length of the SLO period in minutes (a month counts 30 days for scaling windows).
    pub fn period_minutes(&self) -> i64 {
        match self {
            Window::Rolling { days } => i64::from(*days) * 24 * 60,
            Window::Calendar {
                unit: CalendarUnit::Week,
                ..
            } => 7 * 24 * 60,
            Window::Calendar {
                unit: CalendarUnit::Month,
                ..
            } => 30 * 24 * 60,
        }
    }
}
