//! Scope: when the breach started, which indicators of the subject moved, how far off target
//! they are and how much error budget went.
//!
//! The start is a change point of the subject's per-minute SLI (the baseline minutes followed
//! by the breach minutes), not the alert time: an alert fires after its burn-rate window has
//! filled, minutes after the cause. The SLI is the SLO's indicator when an SLO is given, else
//! whichever of fault rate and p99 moved more against the baseline's minute-to-minute spread.

use std::collections::BTreeMap;

use sloscope_model::{MINUTE_NANOS, SignalKind, SignalStats};

use crate::context::Context;
use crate::input::Telemetry;
use crate::report::{IndicatorChange, Scope};
use crate::stats::{change_point, mean, standard_deviation};

/// A shift smaller than this many standard errors is not a change point.
const MIN_T_STATISTIC: f64 = 3.0;

/// The SLO period the budget is counted over when the SLO does not say: 30 days, the most
/// common choice.
pub(crate) const DEFAULT_PERIOD_MINUTES: f64 = 30.0 * 24.0 * 60.0;

/// Which per-minute series the change point is searched in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sli {
    FaultRate,
    ErrorRate,
    P99,
    OverThreshold(f64),
}

impl Sli {
    fn name(self) -> &'static str {
        match self {
            Sli::FaultRate => "fault_rate",
            Sli::ErrorRate => "error_rate",
            Sli::P99 => "p99_ms",
            Sli::OverThreshold(_) => "over_latency_threshold",
        }
    }

    fn value(self, stats: &SignalStats) -> Option<f64> {
        if stats.requests == 0 {
            return None;
        }
        let requests = stats.requests as f64;
        match self {
            Sli::FaultRate => Some(stats.faults as f64 / requests),
            Sli::ErrorRate => Some((stats.faults + stats.errors) as f64 / requests),
            Sli::P99 => stats.latency.quantile(0.99),
            Sli::OverThreshold(threshold_ms) => {
                Some(1.0 - stats.latency.count_at_most(threshold_ms) as f64 / requests)
            }
        }
    }
}

/// The subject's server signals per minute.
fn subject_minutes(context: &Context<'_>, telemetry: &Telemetry) -> BTreeMap<i64, SignalStats> {
    let subject = &context.inputs.subject;
    let mut minutes: BTreeMap<i64, SignalStats> = BTreeMap::new();
    for row in &telemetry.signals {
        let key = &row.key;
        if key.kind != SignalKind::Server
            || key.service != subject.service
            || subject
                .operation
                .as_ref()
                .is_some_and(|operation| &key.operation != operation)
        {
            continue;
        }
        minutes.entry(row.minute).or_default().merge(&row.stats);
    }
    minutes
}

fn merged<'a>(minutes: impl Iterator<Item = &'a SignalStats>) -> SignalStats {
    let mut total = SignalStats::default();
    for stats in minutes {
        total.merge(stats);
    }
    total
}

/// The scope of the breach; the context's start time is set from it by the caller.
pub(crate) fn run(context: &Context<'_>) -> Scope {
    let inputs = context.inputs;
    let baseline_minutes = subject_minutes(context, &inputs.baseline);
    let breach_minutes = subject_minutes(context, &inputs.breach);
    let baseline = merged(baseline_minutes.values());
    let breach = merged(breach_minutes.values());

    let sli = choose_sli(context, &baseline_minutes, &breach_minutes);
    let started_unix_nano = start_of(sli, context, &baseline_minutes, &breach_minutes);

    let slo = inputs.slo.as_ref();
    let mut indicators = Vec::new();
    let mut push = |indicator: &str, before: Option<f64>, after: Option<f64>, target| {
        if let (Some(before), Some(after)) = (before, after) {
            indicators.push(IndicatorChange {
                indicator: indicator.to_owned(),
                baseline: crate::finding::round(before),
                breach: crate::finding::round(after),
                target,
            });
        }
    };
    let target_of = |indicator: &str| {
        slo.filter(|slo| slo.indicator == indicator)
            .map(|slo| slo.objective)
    };
    push(
        "availability",
        baseline.availability(),
        breach.availability(),
        target_of("availability"),
    );
    push(
        "fault_rate",
        Sli::FaultRate.value(&baseline),
        Sli::FaultRate.value(&breach),
        None,
    );
    push(
        "error_rate",
        Sli::ErrorRate.value(&baseline),
        Sli::ErrorRate.value(&breach),
        target_of("error_rate").map(|objective| 1.0 - objective),
    );
    push(
        "p50_ms",
        baseline.latency.quantile(0.5),
        breach.latency.quantile(0.5),
        None,
    );
    push(
        "p99_ms",
        baseline.latency.quantile(0.99),
        breach.latency.quantile(0.99),
        None,
    );
    if let Some(threshold_ms) = slo.and_then(|slo| slo.threshold_ms) {
        let within = |stats: &SignalStats| {
            (stats.requests > 0)
                .then(|| stats.latency.count_at_most(threshold_ms) as f64 / stats.requests as f64)
        };
        push(
            "within_latency_threshold",
            within(&baseline),
            within(&breach),
            slo.map(|slo| slo.objective),
        );
    }
    push(
        "requests_per_minute",
        Some(baseline.requests as f64 / context.baseline.minutes),
        Some(breach.requests as f64 / context.breach.minutes),
        None,
    );

    let bad_requests = match slo {
        Some(slo) if slo.indicator == "latency" => slo.threshold_ms.map_or(breach.faults, |ms| {
            breach.requests - breach.latency.count_at_most(ms).min(breach.requests)
        }),
        Some(slo) if slo.indicator == "error_rate" => breach.faults + breach.errors,
        _ => breach.faults,
    };
    let burn_rate = slo.and_then(|slo| {
        let allowed = 1.0 - slo.objective;
        (breach.requests > 0 && allowed > 0.0)
            .then(|| bad_requests as f64 / breach.requests as f64 / allowed)
    });
    let budget_burned = burn_rate
        .map(|rate| crate::finding::round(rate * context.breach.minutes / DEFAULT_PERIOD_MINUTES));

    Scope {
        started_unix_nano,
        indicators,
        bad_requests,
        requests: breach.requests,
        budget_burned,
        burn_rate: burn_rate.map(crate::finding::round),
        sli: Some(sli.name().to_owned()),
    }
}

fn choose_sli(
    context: &Context<'_>,
    baseline_minutes: &BTreeMap<i64, SignalStats>,
    breach_minutes: &BTreeMap<i64, SignalStats>,
) -> Sli {
    if let Some(slo) = &context.inputs.slo {
        match (slo.indicator.as_str(), slo.threshold_ms) {
            ("latency", Some(threshold_ms)) => return Sli::OverThreshold(threshold_ms),
            ("latency", None) => return Sli::P99,
            ("error_rate", _) => return Sli::ErrorRate,
            _ => return Sli::FaultRate,
        }
    }
    // Standardised change of each candidate against the baseline's minute-to-minute spread.
    let standardised = |sli: Sli| {
        let before: Vec<f64> = baseline_minutes
            .values()
            .filter_map(|s| sli.value(s))
            .collect();
        let after: Vec<f64> = breach_minutes
            .values()
            .filter_map(|s| sli.value(s))
            .collect();
        let (Some(before_mean), Some(after_mean)) = (mean(&before), mean(&after)) else {
            return 0.0;
        };
        let spread = standard_deviation(&before)
            .max(0.05 * before_mean.abs())
            .max(match sli {
                Sli::P99 => 1.0,
                _ => 0.001,
            });
        (after_mean - before_mean) / spread
    };
    if standardised(Sli::FaultRate) >= standardised(Sli::P99) {
        Sli::FaultRate
    } else {
        Sli::P99
    }
}

/// The minute the SLI shifted to worse, as unix nanoseconds; None when no shift stands out.
fn start_of(
    sli: Sli,
    context: &Context<'_>,
    baseline_minutes: &BTreeMap<i64, SignalStats>,
    breach_minutes: &BTreeMap<i64, SignalStats>,
) -> Option<u64> {
    let window = context.inputs.subject.window;
    let mut series: Vec<(i64, f64)> = Vec::new();
    // Baseline minutes first (they may lie anywhere before), then the breach's in order.
    for (minute, stats) in baseline_minutes {
        if let Some(value) = sli.value(stats) {
            series.push((*minute, value));
        }
    }
    let first_breach = series.len();
    for (minute, stats) in breach_minutes {
        if let Some(value) = sli.value(stats) {
            series.push((*minute, value));
        }
    }
    if series.len() <= first_breach {
        return None;
    }
    let values: Vec<f64> = series.iter().map(|(_, value)| *value).collect();
    let change = change_point(&values)?;
    if change.t_statistic < MIN_T_STATISTIC {
        return None;
    }
    let minute_start = |minute: i64| (minute.max(0) as u64) * MINUTE_NANOS;
    if change.index <= first_breach {
        // The shift is at the junction: the breach window is bad from its first minute.
        return Some(window.from.max(minute_start(series[first_breach].0)));
    }
    Some(minute_start(series[change.index].0).max(window.from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Inputs, Subject};
    use sloscope_model::{SignalKey, SignalRow, TimeRange};

    fn rows(
        service: &str,
        minutes: std::ops::Range<i64>,
        fault_every: Option<u64>,
    ) -> Vec<SignalRow> {
        minutes
            .map(|minute| {
                let mut stats = SignalStats::default();
                for request in 0..100u64 {
                    let fault = fault_every.is_some_and(|every| request % every == 0);
                    stats.record(20.0, fault, false);
                }
                SignalRow {
                    minute,
                    key: SignalKey {
                        kind: SignalKind::Server,
                        environment: String::new(),
                        service: service.to_owned(),
                        operation: String::from("GET /"),
                        remote_service: String::new(),
                        remote_operation: String::new(),
                        version: String::new(),
                    },
                    stats,
                }
            })
            .collect()
    }

    #[test]
    fn the_start_is_the_change_point_not_the_window_start() {
        let minute = |m: i64| m as u64 * MINUTE_NANOS;
        let mut breach_signals = rows("api", 100..105, None);
        breach_signals.extend(rows("api", 105..115, Some(4)));
        let breach = Telemetry {
            signals: breach_signals,
            ..Telemetry::default()
        };
        let baseline = Telemetry {
            signals: rows("api", 40..60, None),
            ..Telemetry::default()
        };
        let inputs = Inputs {
            subject: Subject {
                service: String::from("api"),
                operation: None,
                window: TimeRange::new(minute(100), minute(115)),
                baseline: TimeRange::new(minute(40), minute(60)),
            },
            slo: None,
            breach,
            baseline,
            changes: Vec::new(),
        };
        let context = Context::build(&inputs);
        let scope = run(&context);
        assert_eq!(scope.started_unix_nano, Some(minute(105)));
        assert_eq!(scope.sli.as_deref(), Some("fault_rate"));
        assert_eq!(scope.requests, 1500);
        assert_eq!(scope.bad_requests, 250);
        let availability = &scope.indicators[0];
        assert_eq!(availability.indicator, "availability");
        assert_eq!(availability.baseline, 1.0);
        assert!((availability.breach - (1.0 - 250.0 / 1500.0)).abs() < 1e-3);
        assert_eq!(scope.budget_burned, None);
    }
}
