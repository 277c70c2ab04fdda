//! Load: throughput against the baseline. More requests to the subject than usual, with its
//! latency or faults up, points at the load itself; a service downstream whose requests grew
//! far more than the subject's (a retry storm, a batch job, a cache that stopped hitting) is a
//! load cause of its own.

use crate::context::Context;
use crate::finding::{Finding, Probe, format_ms};
use crate::probes::dependencies::degradations;
use crate::probes::{Degradation, requests_trend};
use crate::report::CauseKind;
use crate::stats::{ramp, saturate};

/// A throughput ratio of the subject below this is ordinary variation.
const MIN_RATIO: f64 = 1.4;
/// Downstream, the request mix varies more than the total does: a service's own growth (beyond
/// the subject's) must be larger, and the service must have suffered from it.
const MIN_DOWNSTREAM_RATIO: f64 = 3.0;
/// A service must have suffered at least this much (faults or latency) for its load to count.
const MIN_SUFFERING: f64 = 0.2;
const MIN_DOWNSTREAM_SUFFERING: f64 = 0.3;
/// Fewer requests per minute than this in the breach window and load is not judged.
const MIN_REQUESTS_PER_MINUTE: f64 = 5.0;

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let degradations = degradations(context);
    let subject = context.subject();
    let subject_ratio = degradations
        .get(subject)
        .map(throughput_ratio)
        .unwrap_or(1.0);
    let mut findings = Vec::new();
    for (service, degradation) in &degradations {
        let is_subject = service == subject;
        if !is_subject && !context.breach.services.contains_key(service) {
            continue; // a remote without server signals: its callers' load shows elsewhere
        }
        let (before, after) = degradation.requests_per_minute;
        if after < MIN_REQUESTS_PER_MINUTE || before <= 0.0 {
            continue;
        }
        let ratio = throughput_ratio(degradation);
        // Downstream, only growth beyond what the subject's own growth explains counts.
        let own_ratio = if is_subject {
            ratio
        } else {
            ratio / subject_ratio.max(1.0)
        };
        let suffered = degradation.score();
        // More requests that the service handled as well as before are not why it breached.
        if own_ratio < MIN_RATIO
            || suffered < MIN_SUFFERING
            || (!is_subject
                && (own_ratio < MIN_DOWNSTREAM_RATIO || suffered < MIN_DOWNSTREAM_SUFFERING))
        {
            continue;
        }
        let score = saturate(own_ratio - 1.0, 1.0)
            * (0.4 + 0.6 * suffered)
            * if is_subject { 1.0 } else { 0.7 }
            * ramp(
                after,
                MIN_REQUESTS_PER_MINUTE,
                4.0 * MIN_REQUESTS_PER_MINUTE,
            );
        if score < 0.05 {
            continue;
        }
        let finding = Finding::new(
            Probe::Load,
            service,
            CauseKind::Load,
            score,
            format!(
                "{service} received {own_ratio:.1}x its baseline throughput ({before:.0} -> {after:.0} requests per minute){}",
                if suffered > 0.3 {
                    format!(" and its p90 went {} -> {}", format_ms(degradation.p90_ms.0), format_ms(degradation.p90_ms.1))
                } else {
                    String::new()
                }
            ),
        )
        .with(
            format!("requests per minute to {service}"),
            "requests_per_minute",
            Some(before),
            Some(after),
        );
        let finding = match busiest_growth(context, service, after - before) {
            Some((operation, before, after)) => finding.with(
                format!("most of the growth is {operation} of {service}: {before:.0} -> {after:.0} requests per minute"),
                "operation_requests_per_minute",
                Some(before),
                Some(after),
            ),
            None => finding,
        };
        let finding = finding.with_figure(requests_trend(
            context,
            service,
            format!("requests per minute to {service}, by operation"),
            |key| &key.operation,
            "other operations",
        ));
        findings.push(degradation.add_evidence(finding, service));
    }
    findings
}

/// The operation of `service` whose requests per minute grew the most, with its rates before
/// and after, when it holds at least half of the service's `growth` (requests per minute).
fn busiest_growth(context: &Context<'_>, service: &str, growth: f64) -> Option<(String, f64, f64)> {
    let per_minute = |window: &crate::context::Window<'_>, operation: &str| {
        window
            .operations
            .get(service)
            .and_then(|operations| operations.get(operation))
            .map_or(0.0, |stats| stats.requests as f64 / window.minutes)
    };
    let (operation, before, after) = context
        .breach
        .operations
        .get(service)?
        .keys()
        .map(|operation| {
            (
                operation,
                per_minute(&context.baseline, operation),
                per_minute(&context.breach, operation),
            )
        })
        .max_by(|a, b| {
            (a.2 - a.1)
                .total_cmp(&(b.2 - b.1))
                .then_with(|| b.0.cmp(a.0))
        })?;
    (growth > 0.0 && after - before >= 0.5 * growth).then(|| (operation.clone(), before, after))
}

fn throughput_ratio(degradation: &Degradation) -> f64 {
    let (before, after) = degradation.requests_per_minute;
    if before <= 0.0 {
        return 1.0;
    }
    after / before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{front_back_window, inputs};

    fn window(first_minute: u64, per_minute: u32, front_ms: f64) -> crate::input::Telemetry {
        front_back_window(first_minute, per_minute, front_ms, 1.0, 5.0)
    }

    #[test]
    fn more_traffic_with_slower_answers_is_load() {
        let inputs = inputs("front", window(0, 20, 2.0), window(10, 60, 20.0));
        let context = Context::build(&inputs);
        let findings = run(&context);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(
            (finding.service.as_str(), finding.kind),
            ("front", CauseKind::Load)
        );
        assert!(finding.score > 0.6, "{finding:#?}");
        assert_eq!(finding.evidence[0].baseline, Some(20.0));
        assert_eq!(finding.evidence[0].breach, Some(60.0));
    }

    #[test]
    fn the_same_traffic_is_not_load() {
        let inputs = inputs("front", window(0, 20, 2.0), window(10, 22, 20.0));
        let context = Context::build(&inputs);
        assert!(run(&context).is_empty());
    }
}
