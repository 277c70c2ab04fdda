//! The probes: each a pure function of the [`Context`] (breach and baseline windows, indexed)
//! returning findings with a score and the numbers behind them. Which findings become causes,
//! and in what order, is the ranker's business (`rank`).
//!
//! Every probe compares the breach window with the baseline *relative to each service's own
//! past*: rates per minute or shares of the service's own traffic, ratios of its own latency.
//! Nothing depends on a service's name or on absolute sizes of one system.

pub(crate) mod bubbleup;
pub(crate) mod changes;
pub(crate) mod dependencies;
pub(crate) mod errors;
pub(crate) mod flow;
pub(crate) mod load;
pub(crate) mod logs;
pub(crate) mod network;
pub(crate) mod resources;
pub(crate) mod scope;
pub(crate) mod self_time;
pub(crate) mod slow_queries;

use std::collections::BTreeMap;

use sloscope_model::{MINUTE_NANOS, SignalKey, SignalKind, SignalStats};

use crate::context::{Context, Window};
use crate::finding::{Finding, format_ms, format_percent};
use crate::report::{Figure, TrendSeries};
use crate::stats::{ramp, saturate, thin, two_proportion_z};

/// Runs every probe that takes findings (the scope probe runs first, on its own).
pub(crate) fn run_all(context: &Context<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(bubbleup::run(context));
    findings.extend(self_time::run(context));
    findings.extend(dependencies::run(context));
    findings.extend(changes::run(context));
    findings.extend(errors::run(context));
    findings.extend(network::run(context));
    findings.extend(load::run(context));
    findings.extend(resources::run(context));
    findings.extend(slow_queries::run(context));
    findings
}

/// The spans where requests enter the subject service (of the subject operation, when one is
/// named), in span order.
pub(crate) fn subject_entries<'w>(_context: &Context<'_>, window: &'w Window<'_>) -> &'w [usize] {
    &window.subject_entries
}

/// How many requests the subject served in a window: its entry spans, else its server signals.
pub(crate) fn subject_requests(context: &Context<'_>, window: &Window<'_>) -> f64 {
    let entries = subject_entries(context, window).len();
    if entries > 0 {
        return entries as f64;
    }
    window
        .services
        .get(context.subject())
        .map_or(0.0, |stats| stats.requests as f64)
}

/// The mean duration of the subject's entry spans, in ms.
pub(crate) fn subject_mean_ms(context: &Context<'_>, window: &Window<'_>) -> Option<f64> {
    let entries = subject_entries(context, window);
    if entries.is_empty() {
        return window
            .services
            .get(context.subject())
            .and_then(|stats| stats.latency.mean());
    }
    let total: f64 = entries
        .iter()
        .map(|position| window.spans.spans[*position].duration_nanos as f64 / 1e6)
        .sum();
    Some(total / entries.len() as f64)
}

/// Points kept per line of a trend figure.
pub(crate) const TREND_POINTS: usize = 300;

/// Where a trend figure starts: the stretch of baseline just before the breach window, four
/// windows long and at least ten minutes, so that the change shows at a readable scale.
pub(crate) fn trend_start(context: &Context<'_>) -> u64 {
    let subject = &context.inputs.subject;
    let before = (4 * subject.window.duration_nanos()).max(10 * MINUTE_NANOS);
    subject
        .window
        .from
        .saturating_sub(before)
        .max(subject.baseline.from.min(subject.window.from))
}

/// Lines kept in a requests trend; the rest are summed as one.
const MAX_TREND_LINES: usize = 4;

/// The server requests per minute of `service` over the baseline and the breach, one line per
/// value of `line` (its operations, its versions): the busiest lines of the breach window, the
/// rest summed as `others`.
pub(crate) fn requests_trend(
    context: &Context<'_>,
    service: &str,
    title: String,
    line: impl Fn(&SignalKey) -> &str,
    others: &str,
) -> Option<Figure> {
    let inputs = context.inputs;
    let first_minute = (trend_start(context) / MINUTE_NANOS) as i64;
    let rows = || {
        inputs
            .baseline
            .signals
            .iter()
            .chain(&inputs.breach.signals)
            .filter(move |row| {
                row.key.kind == SignalKind::Server
                    && row.key.service == service
                    && row.minute >= first_minute
            })
    };
    let mut breach_totals: BTreeMap<&str, u64> = BTreeMap::new();
    for row in &inputs.breach.signals {
        if row.key.kind == SignalKind::Server && row.key.service == service {
            *breach_totals.entry(line(&row.key)).or_default() += row.stats.requests;
        }
    }
    let mut busiest: Vec<(&str, u64)> = breach_totals.into_iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let kept: Vec<&str> = busiest
        .iter()
        .take(MAX_TREND_LINES)
        .map(|(name, _)| *name)
        .collect();
    let mut lines: BTreeMap<&str, BTreeMap<i64, f64>> = BTreeMap::new();
    for row in rows() {
        let name = line(&row.key);
        let name = if kept.contains(&name) || kept.is_empty() {
            name
        } else {
            others
        };
        *lines
            .entry(name)
            .or_default()
            .entry(row.minute)
            .or_default() += row.stats.requests as f64;
    }
    if lines.is_empty() {
        return None;
    }
    let mut series: Vec<TrendSeries> = lines
        .into_iter()
        .map(|(label, minutes)| TrendSeries {
            label: if label.is_empty() {
                String::from("unknown")
            } else {
                label.to_owned()
            },
            points: thin(
                minutes
                    .into_iter()
                    .map(|(minute, requests)| (minute.max(0) as u64 * MINUTE_NANOS, requests))
                    .collect(),
                TREND_POINTS,
            ),
        })
        .collect();
    // The busiest first, as the legend reads.
    series.sort_by_key(|series| {
        kept.iter()
            .position(|name| *name == series.label)
            .unwrap_or(kept.len())
    });
    Some(Figure::Trend {
        title,
        unit: String::from("/min"),
        series,
        limit: None,
    })
}

/// How much a latency finding downstream matters: as much as the subject got slower. When its
/// latency held, someone else's slower code explains little of the breach (1 without signals
/// of the subject).
pub(crate) fn latency_relevance(context: &Context<'_>) -> f64 {
    let subject = context.subject();
    let degradations = dependencies::degradations(context);
    degradations
        .get(subject)
        .map_or(1.0, |degradation| 0.4 + 0.6 * degradation.latency_score)
}

/// How much worse one series of signals got from the baseline to the breach window.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Degradation {
    pub requests_per_minute: (f64, f64),
    pub fault_rate: (f64, f64),
    pub p50_ms: (f64, f64),
    pub p90_ms: (f64, f64),
    pub p99_ms: (f64, f64),
    /// 0 to 1: how surely the fault rate rose.
    pub fault_score: f64,
    /// 0 to 1: how surely the latency rose.
    pub latency_score: f64,
}

/// Fewer requests than this on either side and a latency change is not judged.
const MIN_REQUESTS_FOR_LATENCY: u64 = 5;
/// Fewer requests than this on either side and the p99 is the maximum: not judged.
const MIN_REQUESTS_FOR_TAIL: u64 = 50;

impl Degradation {
    pub fn of(
        baseline: &SignalStats,
        breach: &SignalStats,
        baseline_minutes: f64,
        breach_minutes: f64,
    ) -> Degradation {
        let rate = |stats: &SignalStats| {
            if stats.requests == 0 {
                0.0
            } else {
                stats.faults as f64 / stats.requests as f64
            }
        };
        let quantile = |stats: &SignalStats, q: f64| stats.latency.quantile(q).unwrap_or(0.0);
        let fault_rate = (rate(baseline), rate(breach));
        let z = two_proportion_z(
            baseline.faults as f64,
            baseline.requests as f64,
            breach.faults as f64,
            breach.requests as f64,
        );
        // A rise of 5 points of fault rate scores 0.63, if it is beyond noise.
        let fault_score = saturate(fault_rate.1 - fault_rate.0, 0.05) * ramp(z, 2.0, 4.0);
        let p50_ms = (quantile(baseline, 0.5), quantile(breach, 0.5));
        let p90_ms = (quantile(baseline, 0.9), quantile(breach, 0.9));
        let p99_ms = (quantile(baseline, 0.99), quantile(breach, 0.99));
        let latency_score = if baseline.requests < MIN_REQUESTS_FOR_LATENCY
            || breach.requests < MIN_REQUESTS_FOR_LATENCY
        {
            0.0
        } else {
            // Log-ratios so that doubling scores the same at 2 ms as at 2 s; p90 before p99
            // because a few requests make a p99 of noise. A rise of under 2 ms, or of under a
            // fifth, is jitter.
            let log_ratio = |(before, after): (f64, f64)| {
                if after - before < 2.0_f64.max(0.2 * before) {
                    0.0
                } else {
                    (after / before.max(0.1)).ln()
                }
            };
            let tail = if baseline.requests.min(breach.requests) >= MIN_REQUESTS_FOR_TAIL {
                0.5 * log_ratio(p99_ms)
            } else {
                0.0
            };
            let effect = log_ratio(p90_ms).max(tail);
            saturate(effect, 0.7) * ramp(breach.requests as f64, 3.0, 20.0)
        };
        Degradation {
            requests_per_minute: (
                baseline.requests as f64 / baseline_minutes,
                breach.requests as f64 / breach_minutes,
            ),
            fault_rate,
            p50_ms,
            p90_ms,
            p99_ms,
            fault_score,
            latency_score,
        }
    }

    /// Faults or latency: either is a degradation.
    pub fn score(&self) -> f64 {
        1.0 - (1.0 - self.fault_score) * (1.0 - self.latency_score)
    }

    /// One sentence for the part that degraded most.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.fault_score > 0.1 {
            parts.push(format!(
                "fault rate {} -> {}",
                format_percent(self.fault_rate.0),
                format_percent(self.fault_rate.1)
            ));
        }
        if self.latency_score > 0.1 {
            parts.push(format!(
                "p90 {} -> {}, p99 {} -> {}",
                format_ms(self.p90_ms.0),
                format_ms(self.p90_ms.1),
                format_ms(self.p99_ms.0),
                format_ms(self.p99_ms.1)
            ));
        }
        if parts.is_empty() {
            parts.push(String::from("no clear change"));
        }
        parts.join("; ")
    }

    /// Adds the measures that degraded to a finding.
    pub fn add_evidence(&self, mut finding: Finding, what: &str) -> Finding {
        if self.fault_score > 0.1 {
            finding = finding.with(
                format!(
                    "{what}: fault rate {} -> {}",
                    format_percent(self.fault_rate.0),
                    format_percent(self.fault_rate.1)
                ),
                "fault_rate",
                Some(self.fault_rate.0),
                Some(self.fault_rate.1),
            );
        }
        if self.latency_score > 0.1 {
            finding = finding
                .with(
                    format!(
                        "{what}: p90 {} -> {}",
                        format_ms(self.p90_ms.0),
                        format_ms(self.p90_ms.1)
                    ),
                    "p90_ms",
                    Some(self.p90_ms.0),
                    Some(self.p90_ms.1),
                )
                .with(
                    format!(
                        "{what}: p99 {} -> {}",
                        format_ms(self.p99_ms.0),
                        format_ms(self.p99_ms.1)
                    ),
                    "p99_ms",
                    Some(self.p99_ms.0),
                    Some(self.p99_ms.1),
                );
        }
        finding
    }
}

/// Lowercase words of a name: split at punctuation, digits and camelCase boundaries
/// (`CpuUsageRate(%)` -> `cpu usage rate`, `process.runtime.jvm.memory.usage` -> ...).
pub(crate) fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in name.chars() {
        if !character.is_alphabetic() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if character.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = character.is_lowercase();
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_names() {
        assert_eq!(words("CpuUsageRate(%)"), ["cpu", "usage", "rate"]);
        assert_eq!(
            words("process.runtime.jvm.memory.usage"),
            ["process", "runtime", "jvm", "memory", "usage"]
        );
        assert_eq!(
            words("db_pool_active_connections"),
            ["db", "pool", "active", "connections"]
        );
        assert_eq!(words("HTTPServer"), ["httpserver"]);
    }

    #[test]
    fn degradation_needs_both_size_and_significance() {
        let mut baseline = SignalStats::default();
        let mut breach = SignalStats::default();
        for request in 0..1000 {
            baseline.record(10.0 + (request % 10) as f64, request % 200 == 0, false);
            breach.record(30.0 + (request % 10) as f64, request % 5 == 0, false);
        }
        let degradation = Degradation::of(&baseline, &breach, 10.0, 10.0);
        assert!(degradation.fault_score > 0.9, "{degradation:?}");
        // p90 about doubled: 0.63 by design.
        assert!(degradation.latency_score > 0.6, "{degradation:?}");
        let same = Degradation::of(&baseline, &baseline, 10.0, 10.0);
        assert_eq!(same.score(), 0.0);
    }
}
