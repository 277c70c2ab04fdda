//! Changes: a deployment (a `service.version` the breach window has and the baseline does not)
//! or a recorded change event near the start of the breach. A new version is compared with the
//! version it replaced on the same signals; a change whose service degraded, or whose new
//! version does worse than the old, weighs more than one that only happened at the time.

use std::collections::BTreeMap;

use sloscope_model::{MINUTE_NANOS, SignalKind, StatusCode};

use crate::context::Context;
use crate::finding::{Finding, Probe, format_ms, format_percent};
use crate::probes::dependencies::degradations;
use crate::probes::{Degradation, requests_trend};
use crate::report::{CauseKind, Figure};
use crate::stats::ramp;

/// A recorded change further than this before the start is not considered near it.
const CHANGE_HORIZON_MINUTES: f64 = 60.0;

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let degradations = degradations(context);
    let mut findings = new_versions(context, &degradations);
    findings.extend(change_events(context, &degradations));
    findings
}

/// Versions seen per service in a window: from the server signals, else from the spans.
fn versions_of(context: &Context<'_>, breach: bool) -> BTreeMap<String, BTreeMap<String, u64>> {
    let window = if breach {
        &context.breach
    } else {
        &context.baseline
    };
    let mut versions: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (service, by_version) in &window.versions {
        for (version, stats) in by_version {
            if !version.is_empty() && stats.requests > 0 {
                *versions
                    .entry(service.clone())
                    .or_default()
                    .entry(version.clone())
                    .or_default() += stats.requests;
            }
        }
    }
    // Spans count only for services whose signals carry no version.
    let mut from_signals: Vec<Option<bool>> = vec![None; context.names.len()];
    for (position, span) in window.spans.spans.iter().enumerate() {
        if span.version.is_empty() {
            continue;
        }
        let service = window.spans.service[position] as usize;
        let has_signals = *from_signals[service]
            .get_or_insert_with(|| window.versions.contains_key(&span.service));
        if has_signals {
            continue;
        }
        *versions
            .entry(span.service.clone())
            .or_default()
            .entry(span.version.clone())
            .or_default() += 1;
    }
    versions
}

/// The first minute a version of a service has server signals in the breach window.
fn first_minute(context: &Context<'_>, service: &str, version: &str) -> Option<u64> {
    let from_signals = context
        .inputs
        .breach
        .signals
        .iter()
        .filter(|row| {
            row.key.kind == SignalKind::Server
                && row.key.service == service
                && row.key.version == version
                && row.stats.requests > 0
        })
        .map(|row| row.minute.max(0) as u64 * MINUTE_NANOS)
        .min();
    from_signals.or_else(|| {
        context
            .breach
            .spans
            .spans
            .iter()
            .filter(|span| span.service == service && span.version == version)
            .map(|span| span.start_unix_nano)
            .min()
    })
}

fn new_versions(
    context: &Context<'_>,
    degradations: &BTreeMap<String, Degradation>,
) -> Vec<Finding> {
    let breach_versions = versions_of(context, true);
    let baseline_versions = versions_of(context, false);
    let mut findings = Vec::new();
    for (service, versions) in &breach_versions {
        let known = baseline_versions.get(service);
        for (version, requests) in versions {
            if known.is_some_and(|known| known.contains_key(version)) {
                continue;
            }
            let old_version = known.and_then(|known| {
                known
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                    .map(|(name, _)| name.clone())
            });
            findings.push(version_finding(
                context,
                degradations,
                service,
                version,
                *requests,
                old_version,
            ));
        }
    }
    findings
}

fn version_finding(
    context: &Context<'_>,
    degradations: &BTreeMap<String, Degradation>,
    service: &str,
    version: &str,
    requests: u64,
    old_version: Option<String>,
) -> Finding {
    let new_stats = context
        .breach
        .versions
        .get(service)
        .and_then(|versions| versions.get(version));
    // The old version in the breach window if it still serves, else in the baseline.
    let old_stats = old_version.as_ref().and_then(|old| {
        context
            .breach
            .versions
            .get(service)
            .and_then(|versions| versions.get(old))
            .filter(|stats| stats.requests >= 20)
            .or_else(|| {
                context
                    .baseline
                    .versions
                    .get(service)
                    .and_then(|versions| versions.get(old))
            })
    });
    let versus = match (old_stats, new_stats) {
        (Some(old), Some(new)) => Some(Degradation::of(old, new, 1.0, 1.0)),
        _ => None,
    };
    let service_degradation = degradations.get(service).map_or(0.0, Degradation::score);
    let version_degradation = versus.as_ref().map_or(0.0, Degradation::score);
    let started = context.started_unix_nano;
    let appeared = first_minute(context, service, version);
    let near_start = appeared.map_or(0.5, |appeared| {
        let minutes = appeared.abs_diff(started) as f64 / 60e9;
        1.0 - ramp(minutes, 5.0, CHANGE_HORIZON_MINUTES)
    });
    // A new version alone is a lead; one that does worse or coincides with the start is more.
    let score = (0.35 + 0.35 * version_degradation.max(0.6 * service_degradation))
        * (0.6 + 0.4 * near_start);
    let from = old_version
        .as_deref()
        .map_or(String::new(), |old| format!(" (replacing {old})"));
    let mut finding = Finding::new(
        Probe::Changes,
        service,
        CauseKind::Deployment,
        score,
        format!("{service} deployed version {version}{from} in the breach window"),
    );
    finding = finding.with(
        format!(
            "version {version} of {service} served {requests} requests in the breach window and none in the baseline{}",
            appeared.map_or(String::new(), |time| format!(
                ", from {}",
                crate::markdown::format_time(time)
            ))
        ),
        "version_requests",
        Some(0.0),
        Some(requests as f64),
    );
    let failures = versus
        .as_ref()
        .is_some_and(|versus| versus.fault_score > versus.latency_score);
    let finding = finding.with_figure(versions_trend(context, service));
    let mut finding = finding.with_figure(new_version_request(context, service, version, failures));
    if let Some(versus) = versus {
        let old = old_version.unwrap_or_default();
        finding = finding.with(
            format!(
                "{version} against {old}: fault rate {} vs {}, p90 {} vs {}",
                format_percent(versus.fault_rate.1),
                format_percent(versus.fault_rate.0),
                format_ms(versus.p90_ms.1),
                format_ms(versus.p90_ms.0)
            ),
            "p90_ms",
            Some(versus.p90_ms.0),
            Some(versus.p90_ms.1),
        );
        if versus.fault_score > 0.1 {
            finding = finding.with(
                format!("fault rate of {version} against {old}"),
                "fault_rate",
                Some(versus.fault_rate.0),
                Some(versus.fault_rate.1),
            );
        }
    }
    finding
}

/// The requests of `service` per minute and version: a new version taking over.
fn versions_trend(context: &Context<'_>, service: &str) -> Option<Figure> {
    requests_trend(
        context,
        service,
        format!("requests per minute to {service}, by version"),
        |key| &key.version,
        "other versions",
    )
}

/// A slow (or failed) request that `service` served on `version`, on its trace.
fn new_version_request(
    context: &Context<'_>,
    service: &str,
    version: &str,
    failures: bool,
) -> Option<Figure> {
    let index = &context.breach.spans;
    context.breach.exemplar(
        format!(
            "a {} request of {service} {version}",
            if failures { "failed" } else { "slow" }
        ),
        |position, span| {
            (span.service == service
                && span.version == version
                && index.is_entry(position)
                && (!failures || span.status == StatusCode::Error))
                .then_some(span.duration_nanos)
        },
    )
}

fn change_events(
    context: &Context<'_>,
    degradations: &BTreeMap<String, Degradation>,
) -> Vec<Finding> {
    let started = context.started_unix_nano;
    let window_end = context.inputs.subject.window.to;
    let mut findings = Vec::new();
    for change in &context.inputs.changes {
        // Changes after the breach window cannot have caused it.
        if change.time_unix_nano >= window_end {
            continue;
        }
        let minutes_before = if change.time_unix_nano <= started {
            (started - change.time_unix_nano) as f64 / 60e9
        } else {
            // After the detected start but within the window: still a lead, a weaker one.
            2.0 * (change.time_unix_nano - started) as f64 / 60e9
        };
        if minutes_before > CHANGE_HORIZON_MINUTES {
            continue;
        }
        let proximity = 1.0 - ramp(minutes_before, 3.0, CHANGE_HORIZON_MINUTES);
        let degradation = degradations
            .get(&change.service)
            .map_or(0.0, Degradation::score);
        let score = (0.5 + 0.4 * degradation) * (0.4 + 0.6 * proximity);
        let version = change
            .version
            .as_deref()
            .map_or(String::new(), |version| format!(" (version {version})"));
        let finding = Finding::new(
            Probe::Changes,
            &change.service,
            CauseKind::Deployment,
            score,
            format!(
                "{} change to {}{version} {:.0} min before the breach started: {}",
                change.kind, change.service, minutes_before, change.description
            ),
        )
        .with(
            format!(
                "{} at {}: {}",
                change.kind,
                crate::markdown::format_time(change.time_unix_nano),
                change.description
            ),
            "minutes_before_start",
            None,
            Some(minutes_before),
        );
        // A deployment of a version is drawn as the version taking over, and a request of it.
        let finding = match &change.version {
            Some(version) => finding
                .with_figure(versions_trend(context, &change.service))
                .with_figure(new_version_request(
                    context,
                    &change.service,
                    version,
                    degradations
                        .get(&change.service)
                        .is_some_and(|degradation| {
                            degradation.fault_score > degradation.latency_score
                        }),
                )),
            None => finding,
        };
        findings.push(finding);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{ChangeEvent, Inputs};
    use crate::testing::{call, inputs, request_start, telemetry};

    fn window(first_minute: u64, version: &str, back_ms: f64) -> crate::input::Telemetry {
        let mut spans = Vec::new();
        for request in 0..200u32 {
            let start = request_start(first_minute, request, 20);
            let trace = first_minute as u32 * 1000 + request;
            let mut request_spans =
                call(trace, trace * 3, "front", "back", start, 2.0, 1.0, back_ms);
            request_spans[2].version = version.to_owned();
            spans.extend(request_spans);
        }
        telemetry(spans, Vec::new(), Vec::new())
    }

    #[test]
    fn a_new_version_that_does_worse_is_a_deployment() {
        let inputs = inputs("front", window(0, "1.0", 10.0), window(10, "1.1", 40.0));
        let context = Context::build(&inputs);
        let findings = run(&context);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(
            (finding.service.as_str(), finding.kind),
            ("back", CauseKind::Deployment)
        );
        assert!(finding.summary.contains("1.1") && finding.summary.contains("1.0"));
        assert!(finding.score > 0.5, "{finding:#?}");
        let same = inputs_with_version("1.1");
        assert!(
            run(&Context::build(&same)).is_empty(),
            "no new version, no deployment"
        );
    }

    fn inputs_with_version(version: &str) -> Inputs {
        inputs("front", window(0, version, 10.0), window(10, version, 10.0))
    }

    #[test]
    fn a_recorded_change_counts_near_the_start_only() {
        let mut near = inputs_with_version("1.0");
        near.changes.push(ChangeEvent {
            time_unix_nano: 9 * MINUTE_NANOS,
            service: String::from("back"),
            kind: String::from("config"),
            description: String::from("pool size 10 -> 2"),
            version: None,
        });
        let mut far = near.clone();
        far.changes[0].time_unix_nano = 0;
        far.subject.window.from = 200 * MINUTE_NANOS;
        far.subject.window.to = 210 * MINUTE_NANOS;
        let near_findings = run(&Context::build(&near));
        assert_eq!(near_findings.len(), 1, "{near_findings:#?}");
        assert!(near_findings[0].summary.contains("pool size 10 -> 2"));
        assert!(run(&Context::build(&far)).is_empty());
    }
}
