//! Dependencies: walk the service graph downstream of the subject and judge each service by
//! its own signals (fault rate and latency, breach against baseline). A service whose callee
//! degraded at the same time is more likely a victim than a cause (a cascading failure), so
//! only the deepest degraded services keep their full score; their callers keep a fraction.
//!
//! Databases and external services have no server signals of their own: they are judged by
//! what their callers measured (the callers' dependency signals towards them).

use std::collections::BTreeMap;

use sloscope_model::{SignalStats, StatusCode};

use crate::context::Context;
use crate::finding::{Finding, Probe};
use crate::probes::{Degradation, latency_relevance};
use crate::report::{CauseKind, Figure};

/// Below this, a service did not degrade.
const DEGRADED: f64 = 0.3;
/// What a degraded service keeps of its score when one of its callees degraded too.
const VICTIM_SHARE: f64 = 0.35;

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let degradations = degradations(context);
    let subject = context.subject();
    // Slower callees matter as much as the subject got slower: when its latency held, theirs
    // explains little of the breach. Failures downstream matter either way (retries and
    // fallbacks can hide them from the subject's signals).
    let latency_relevance = latency_relevance(context);
    let mut findings = Vec::new();
    for (service, degradation) in &degradations {
        let score = 1.0
            - (1.0 - degradation.fault_score)
                * (1.0 - latency_relevance * degradation.latency_score);
        if score < DEGRADED || service == subject {
            continue;
        }
        // Degraded callees explain this service's degradation at least in part.
        let mut degraded_callees: Vec<(&str, f64)> = context
            .graph
            .callees(service)
            .filter(|callee| callee != service)
            .filter_map(|callee| {
                let callee_score = degradations.get(callee)?.score();
                (callee_score >= DEGRADED).then_some((callee, callee_score))
            })
            .collect();
        degraded_callees.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let (final_score, summary) = match degraded_callees.first() {
            Some((callee, callee_score)) if *callee_score >= 0.5 * score => (
                score * VICTIM_SHARE,
                format!(
                    "{service} degraded ({}) but so did its callee {callee}",
                    degradation.describe()
                ),
            ),
            _ => (
                score,
                format!(
                    "{service} degraded ({}) while none of its callees did",
                    degradation.describe()
                ),
            ),
        };
        let finding = Finding::new(
            Probe::Dependencies,
            service,
            CauseKind::Dependency,
            final_score,
            summary,
        );
        let finding = finding.with_figure(call_of(context, service, degradation));
        findings.push(degradation.add_evidence(finding, service));
    }
    findings
}

/// A slow (or, when faults are what rose, failed) request of `service` on its trace: its own
/// entry span, or a caller's span towards it when it has no spans of its own (a database, an
/// external API).
fn call_of(context: &Context<'_>, service: &str, degradation: &Degradation) -> Option<Figure> {
    let index = &context.breach.spans;
    let failures = degradation.fault_score >= degradation.latency_score;
    let remote_prefix = format!("{service}:");
    context.breach.exemplar(
        format!(
            "a {} request of {service}",
            if failures { "failed" } else { "slow" }
        ),
        |position, span| {
            if failures && span.status != StatusCode::Error {
                return None;
            }
            let own = span.service == service && index.is_entry(position);
            let towards = (span.remote_service == service
                || span.remote_service.starts_with(&remote_prefix))
                && index.remote_children(position).next().is_none();
            (own || towards).then_some(span.duration_nanos)
        },
    )
}

/// The degradation of every service with signals in the breach window, and of every remote
/// (database, external API) that callers report on.
pub(crate) fn degradations(context: &Context<'_>) -> BTreeMap<String, Degradation> {
    let empty = SignalStats::default();
    let mut result = BTreeMap::new();
    let no_operations = BTreeMap::new();
    for (service, breach) in &context.breach.services {
        let baseline = context.baseline.services.get(service).unwrap_or(&empty);
        let mut degradation = Degradation::of(
            baseline,
            breach,
            context.baseline.minutes,
            context.breach.minutes,
        );
        // Latency judged per operation: a service answering a different mix of requests is
        // not slower for it. The weights are the operations' shares of the breach requests.
        let before = context
            .baseline
            .operations
            .get(service)
            .unwrap_or(&no_operations);
        let after = context
            .breach
            .operations
            .get(service)
            .unwrap_or(&no_operations);
        if after.len() > 1 {
            let mut weighted = 0.0;
            let mut weights = 0.0;
            for (operation, after_stats) in after {
                let Some(before_stats) = before.get(operation) else {
                    continue;
                };
                let per_operation = Degradation::of(before_stats, after_stats, 1.0, 1.0);
                let weight = after_stats.requests as f64;
                weighted += weight * per_operation.latency_score;
                weights += weight;
            }
            degradation.latency_score = if weights > 0.0 {
                weighted / weights
            } else {
                0.0
            };
        }
        result.insert(service.clone(), degradation);
    }
    // Remotes without server signals, merged over their callers.
    let mut remote_breach: BTreeMap<&str, SignalStats> = BTreeMap::new();
    let mut remote_baseline: BTreeMap<&str, SignalStats> = BTreeMap::new();
    for ((_, remote), stats) in &context.breach.dependencies {
        if !context.breach.services.contains_key(remote) {
            remote_breach.entry(remote).or_default().merge(stats);
        }
    }
    for ((_, remote), stats) in &context.baseline.dependencies {
        if !context.breach.services.contains_key(remote) {
            remote_baseline.entry(remote).or_default().merge(stats);
        }
    }
    for (remote, breach) in &remote_breach {
        let baseline = remote_baseline.get(remote).unwrap_or(&empty);
        result.insert(
            (*remote).to_owned(),
            Degradation::of(
                baseline,
                breach,
                context.baseline.minutes,
                context.breach.minutes,
            ),
        );
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Inputs, Subject, Telemetry};
    use sloscope_model::{SignalKey, SignalKind, SignalRow, TimeRange};

    fn row(kind: SignalKind, service: &str, remote: &str, latency: f64, faults: u64) -> SignalRow {
        let mut stats = SignalStats::default();
        for request in 0..200u64 {
            stats.record(latency, request < faults, false);
        }
        SignalRow {
            minute: 0,
            key: SignalKey {
                kind,
                environment: String::new(),
                service: service.to_owned(),
                operation: String::from("op"),
                remote_service: remote.to_owned(),
                remote_operation: String::new(),
                version: String::new(),
            },
            stats,
        }
    }

    fn inputs(breach: Vec<SignalRow>, baseline: Vec<SignalRow>) -> Inputs {
        Inputs {
            subject: Subject {
                service: String::from("front"),
                operation: None,
                window: TimeRange::new(0, 60_000_000_000),
                baseline: TimeRange::new(0, 60_000_000_000),
            },
            slo: None,
            breach: Telemetry {
                signals: breach,
                ..Telemetry::default()
            },
            baseline: Telemetry {
                signals: baseline,
                ..Telemetry::default()
            },
            changes: Vec::new(),
        }
    }

    #[test]
    fn the_deepest_degraded_service_keeps_its_score() {
        use SignalKind::{Dependency, Server};
        let baseline = vec![
            row(Server, "front", "", 20.0, 0),
            row(Dependency, "front", "cart", 10.0, 0),
            row(Server, "cart", "", 8.0, 0),
            row(Dependency, "cart", "redis", 1.0, 0),
        ];
        let breach = vec![
            row(Server, "front", "", 200.0, 40),
            row(Dependency, "front", "cart", 180.0, 40),
            row(Server, "cart", "", 170.0, 40),
            row(Dependency, "cart", "redis", 160.0, 40),
        ];
        let inputs = inputs(breach, baseline);
        let context = Context::build(&inputs);
        let findings = run(&context);
        let score = |service: &str| {
            findings
                .iter()
                .find(|finding| finding.service == service)
                .map(|finding| finding.score)
        };
        // The subject is the symptom, not a finding; redis (judged by cart's calls) is deepest.
        assert_eq!(score("front"), None);
        let redis = score("redis").expect("redis degraded");
        let cart = score("cart").expect("cart degraded");
        assert!(redis > 0.8, "{findings:#?}");
        assert!(cart < redis * 0.5, "{findings:#?}");
    }
}
