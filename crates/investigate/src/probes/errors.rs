//! Error patterns, per service: requests that ended in an error status, exceptions recorded on
//! spans, log templates that appeared or grew (`logs`), and a changed code path (`flow`).
//!
//! Counts are compared as rates: what the baseline predicts for the breach window against what
//! the breach window has. Error severity weighs most, warnings less, other lines little: a
//! service that starts logging a new kind of information line says less than one that starts
//! logging errors.

use std::collections::{BTreeMap, HashMap};

use sloscope_model::{StatusCode, TraceId};

use crate::context::{Context, Window};
use crate::finding::{Finding, Probe, format_percent, round, shorten};
use crate::probes::flow::{self, FlowChange};
use crate::probes::logs::{self, Entries};
use crate::report::{CauseKind, ComparisonRow, Figure};
use crate::stats::{ramp, saturate, two_proportion_z};

/// Fewer excess errors than this is noise.
const MIN_EXCESS: f64 = 3.0;
/// An exception type the baseline had must grow at least this much to count.
const MIN_GROWTH: f64 = 2.0;
/// The weighted excess per minute that scores 0.63.
const SCORE_SCALE: f64 = 4.0;
/// Evidence lines kept per service.
const MAX_EVIDENCE: usize = 5;
/// The most a finding scores without an exception behind it: error logs and statuses say that
/// a service fails, an exception type also says what in its code fails. A service that only
/// fails more is better described by its degraded signals (the dependencies probe).
const WITHOUT_EXCEPTION: f64 = 0.85;
/// Error statuses weigh less than messages: they repeat what the fault rate already says.
const STATUS_WEIGHT: f64 = 0.3;
/// The most that new or grown lines of information add up to (weighted, per minute): a new
/// code path full of information lines is one change, not one per line.
const INFORMATION_CAP: f64 = 0.5;
/// What a missing occurrence of a step that stopped happening weighs (an error line weighs 1).
const VANISHED_STEP_WEIGHT: f64 = 0.3;
/// What a line that names another service weighs.
const ABOUT_ANOTHER_SERVICE: f64 = 0.3;
/// The deviating steps per request that score 0.63 (before the ceiling).
const FLOW_SCALE: f64 = 1.0;
/// The most a changed flow alone scores: it says the service's code path changed, not that
/// it fails.
const FLOW_CEILING: f64 = 0.7;

/// One thing that appeared or grew in a service, with its weight.
#[derive(Clone, Debug)]
struct Item {
    is_exception: bool,
    /// A line of information (not a warning or an error): many of them together still say
    /// little, so their sum is capped.
    is_information: bool,
    weighted_per_minute: f64,
    summary: String,
    /// The log template or exception, for one that appeared or grew.
    pattern: Option<String>,
    measure: &'static str,
    baseline: f64,
    breach: f64,
}

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let names = &context.names;
    let mut items: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for (service, item) in span_status_items(context) {
        items.entry(service).or_default().push(item);
    }
    for (service, item) in exception_items(context) {
        items.entry(service).or_default().push(item);
    }
    let mined = logs::mine(context);
    let entries = [
        &Entries::of(&context.baseline),
        &Entries::of(&context.breach),
    ];
    let services = service_names(context);
    let troubled = troubled_services_per_trace(context, &mined);
    for (service, service_logs) in &mined {
        let name = names.name(*service);
        let downstream = context.graph.downstream(name);
        for change in logs::changes(*service, name, service_logs, entries, &services) {
            let novelty = if change.is_new { "new" } else { "grown" };
            // A line about a call to another service says little about this one's code.
            let (mut weight, mut about) = match &change.names_service {
                Some(other) => (ABOUT_ANOTHER_SERVICE, format!(" (about {other})")),
                None => (1.0, String::new()),
            };
            // Nor does one logged in requests where a service downstream failed first.
            let echoed = echoed_share(&change.traces, &troubled, &downstream, names);
            if echoed > 0.0 {
                weight *= 1.0 - echoed;
                about.push_str(&format!(
                    " ({:.0} % in requests where a service it calls failed too)",
                    echoed * 100.0
                ));
            }
            items.entry(name.to_owned()).or_default().push(Item {
                is_exception: false,
                is_information: change.severity == logs::Severity::Other,
                weighted_per_minute: weight * change.severity.weight(change.is_new) * change.excess
                    / context.breach.minutes,
                summary: format!(
                    "{novelty} {} log template in {name}{about}: {} lines in the breach window, {} in the baseline ({:.0} expected for its requests): {}",
                    change.severity.label(),
                    change.breach_lines,
                    change.baseline_lines,
                    change.expected,
                    shorten(&change.text, 200)
                ),
                pattern: Some(shorten(&change.text, 120)),
                measure: "log_lines_per_minute",
                baseline: change.baseline_lines as f64 / context.baseline.minutes,
                breach: change.breach_lines as f64 / context.breach.minutes,
            });
        }
    }
    let mut flows: BTreeMap<String, flow::ServiceFlow> = flow::flows(context, &mined)
        .into_iter()
        .map(|(service, change)| (names.name(service).to_owned(), change))
        .collect();
    // A step that stopped happening is as telling as a new error line, though weaker: the
    // code stopped before it (an exception) or went elsewhere.
    for (service, service_flow) in &flows {
        for step in &service_flow.vanished {
            let missing = step.expected - step.observed;
            items.entry(service.clone()).or_default().push(Item {
                is_exception: false,
                is_information: false,
                weighted_per_minute: VANISHED_STEP_WEIGHT * missing / context.breach.minutes,
                summary: step.text.clone(),
                pattern: None,
                measure: "step_count",
                baseline: step.expected,
                breach: step.observed,
            });
        }
    }

    let mut services: Vec<String> = items.keys().cloned().collect();
    services.extend(flows.keys().cloned());
    services.sort();
    services.dedup();
    let mut findings = Vec::new();
    for service in services {
        let mut service_items = items.remove(&service).unwrap_or_default();
        service_items.sort_by(|a, b| {
            b.weighted_per_minute
                .total_cmp(&a.weighted_per_minute)
                .then_with(|| a.summary.cmp(&b.summary))
        });
        let information: f64 = service_items
            .iter()
            .filter(|item| item.is_information)
            .map(|item| item.weighted_per_minute)
            .sum();
        let total: f64 = service_items
            .iter()
            .filter(|item| !item.is_information)
            .map(|item| item.weighted_per_minute)
            .sum::<f64>()
            + information.min(INFORMATION_CAP);
        let ceiling = if service_items.iter().any(|item| item.is_exception) {
            1.0
        } else {
            WITHOUT_EXCEPTION
        };
        let items_score = ceiling * saturate(total, SCORE_SCALE);
        let flow = flows
            .remove(&service)
            .map(|flow| (flow_score(&flow.change), flow.change.share, flow.text))
            .filter(|(score, _, _)| *score >= 0.05);
        let flow_score = flow.as_ref().map_or(0.0, |(score, _, _)| *score);
        let score = 1.0 - (1.0 - items_score) * (1.0 - flow_score);
        if score < 0.05 {
            continue;
        }
        let summary = match (service_items.first(), &flow) {
            (Some(item), Some((flow_score, _, text))) => {
                if *flow_score > items_score {
                    text.clone()
                } else {
                    item.summary.clone()
                }
            }
            (Some(item), None) => item.summary.clone(),
            (None, Some((_, _, text))) => text.clone(),
            (None, None) => continue,
        };
        let mut finding = Finding::new(
            Probe::ErrorPatterns,
            &service,
            CauseKind::ErrorPattern,
            score,
            summary,
        );
        if let Some((_, share, text)) = flow {
            finding.add(text, "flow_deviation_per_request", Some(0.0), Some(share));
        }
        let patterns: Vec<ComparisonRow> = service_items
            .iter()
            .filter_map(|item| {
                Some(ComparisonRow {
                    label: item.pattern.clone()?,
                    baseline: round(item.baseline),
                    breach: round(item.breach),
                })
            })
            .take(MAX_EVIDENCE)
            .collect();
        if !patterns.is_empty() {
            finding.figures.push(Figure::Comparison {
                title: format!("log templates and exceptions of {service} that appeared or grew"),
                unit: String::from("/min"),
                columns: [String::from("baseline"), String::from("breach")],
                rows: patterns,
            });
        }
        finding.figures.extend(context.breach.exemplar(
            format!("a failed request in {service}"),
            |_, span| {
                (span.service == service && span.status == StatusCode::Error)
                    .then_some(span.duration_nanos)
            },
        ));
        for item in service_items.into_iter().take(MAX_EVIDENCE) {
            finding.add(
                item.summary,
                item.measure,
                Some(item.baseline),
                Some(item.breach),
            );
        }
        findings.push(finding);
    }
    findings
}

/// Per trace of the breach window, the services that show trouble in it: an error line, a
/// span with an error status, or a span of an error path (`BasicErrorController.error`).
fn troubled_services_per_trace(
    context: &Context<'_>,
    mined: &BTreeMap<u32, logs::ServiceLogs<'_>>,
) -> HashMap<TraceId, Vec<u32>> {
    let index = &context.breach.spans;
    let mut error_operation: Vec<Option<bool>> = vec![None; context.names.len()];
    let mut troubled: HashMap<TraceId, Vec<u32>> = HashMap::new();
    for (position, span) in index.spans.iter().enumerate() {
        let operation = index.operation[position];
        let error_path = *error_operation[operation as usize]
            .get_or_insert_with(|| flow::is_error_operation(context.names.name(operation)));
        if error_path || span.status == StatusCode::Error {
            troubled
                .entry(span.trace_id)
                .or_default()
                .push(index.service[position]);
        }
    }
    for (service, service_logs) in mined {
        for (line, pattern) in &service_logs.breach {
            if let Some(trace) = line.trace_id
                && service_logs.severity(*pattern) == logs::Severity::Error
            {
                troubled.entry(trace).or_default().push(*service);
            }
        }
    }
    for services in troubled.values_mut() {
        services.sort_unstable();
        services.dedup();
    }
    troubled
}

/// The share of `traces` in which a service of `downstream` shows trouble too.
fn echoed_share(
    traces: &[TraceId],
    troubled: &HashMap<TraceId, Vec<u32>>,
    downstream: &std::collections::BTreeSet<String>,
    names: &crate::context::Names<'_>,
) -> f64 {
    if traces.is_empty() || downstream.is_empty() {
        return 0.0;
    }
    let echoed = traces
        .iter()
        .filter(|trace| {
            troubled.get(*trace).is_some_and(|services| {
                services
                    .iter()
                    .any(|service| downstream.contains(names.name(*service)))
            })
        })
        .count();
    echoed as f64 / traces.len() as f64
}

/// The services of either window (with spans or signals), sorted.
fn service_names<'a>(context: &'a Context<'a>) -> Vec<&'a str> {
    let mut services: Vec<&str> = Vec::new();
    for window in [&context.baseline, &context.breach] {
        services.extend(window.services.keys().map(String::as_str));
        let mut seen = vec![false; context.names.len()];
        for service in &window.spans.service {
            if !seen[*service as usize] {
                seen[*service as usize] = true;
                services.push(context.names.name(*service));
            }
        }
    }
    services.sort_unstable();
    services.dedup();
    services
}

fn flow_score(change: &FlowChange) -> f64 {
    FLOW_CEILING * saturate(change.share, FLOW_SCALE) * ramp(change.deviation, 5.0, 20.0)
}

/// Entry spans per interned service: (requests, errors) in a window.
fn entry_errors(window: &Window<'_>, services: usize) -> Vec<(u64, u64)> {
    let index = &window.spans;
    let mut counts = vec![(0u64, 0u64); services];
    for position in 0..index.len() {
        if !index.is_entry(position) {
            continue;
        }
        let entry = &mut counts[index.service[position] as usize];
        entry.0 += 1;
        entry.1 += u64::from(index.spans[position].status == StatusCode::Error);
    }
    counts
}

fn span_status_items(context: &Context<'_>) -> Vec<(String, Item)> {
    let services = context.names.len();
    let baseline = entry_errors(&context.baseline, services);
    let breach = entry_errors(&context.breach, services);
    let mut items = Vec::new();
    for (service, ((requests, errors), (baseline_requests, baseline_errors))) in
        breach.iter().zip(&baseline).enumerate()
    {
        if *requests == 0 {
            continue;
        }
        let rate_before = if *baseline_requests > 0 {
            *baseline_errors as f64 / *baseline_requests as f64
        } else {
            0.0
        };
        let expected = rate_before * *requests as f64;
        let excess = *errors as f64 - expected;
        let z = two_proportion_z(
            *baseline_errors as f64,
            *baseline_requests as f64,
            *errors as f64,
            *requests as f64,
        );
        if excess < MIN_EXCESS || (*baseline_requests > 0 && z < 3.0) {
            continue;
        }
        let name = context.names.name(service as u32);
        let rate_after = *errors as f64 / *requests as f64;
        items.push((
            name.to_owned(),
            Item {
                is_exception: false,
                is_information: false,
                weighted_per_minute: STATUS_WEIGHT * excess / context.breach.minutes,
                summary: format!(
                    "{name} answers with an error status on {} of its requests (baseline {})",
                    format_percent(rate_after),
                    format_percent(rate_before)
                ),
                pattern: None,
                measure: "error_status_rate",
                baseline: rate_before,
                breach: rate_after,
            },
        ));
    }
    items
}

/// Exceptions per (service, type) in a window, with the message of the first one.
fn exceptions<'a>(window: &Window<'a>) -> BTreeMap<(&'a str, &'a str), (u64, &'a str)> {
    let mut counts: BTreeMap<(&str, &str), (u64, &str)> = BTreeMap::new();
    for span in window.spans.spans {
        for exception in &span.exceptions {
            let entry = counts
                .entry((span.service.as_str(), exception.kind.as_str()))
                .or_insert((0, exception.message.as_str()));
            entry.0 += 1;
        }
    }
    counts
}

/// Spans per interned service in a window.
fn span_counts(window: &Window<'_>, services: usize) -> Vec<u64> {
    let mut counts = vec![0u64; services];
    for service in &window.spans.service {
        counts[*service as usize] += 1;
    }
    counts
}

fn exception_items(context: &Context<'_>) -> Vec<(String, Item)> {
    let baseline = exceptions(&context.baseline);
    let breach = exceptions(&context.breach);
    if breach.is_empty() {
        return Vec::new();
    }
    let services = context.names.len();
    let baseline_spans = span_counts(&context.baseline, services);
    let breach_spans = span_counts(&context.breach, services);
    let mut items = Vec::new();
    for ((service, kind), (count, message)) in &breach {
        let before = baseline
            .get(&(*service, *kind))
            .map_or(0, |(count, _)| *count);
        // Scale the baseline count by the service's traffic in each window.
        let traffic = context
            .names
            .id(service)
            .map(|id| (baseline_spans[id as usize], breach_spans[id as usize]));
        let scale = match traffic {
            Some((before_spans, after_spans)) if before_spans > 0 => {
                after_spans as f64 / before_spans as f64
            }
            _ => context.breach.minutes / context.baseline.minutes,
        };
        let expected = before as f64 * scale;
        let excess = *count as f64 - expected;
        if excess < MIN_EXCESS || (before > 0 && (*count as f64) < MIN_GROWTH * expected) {
            continue;
        }
        let novelty = if before == 0 { "new" } else { "grown" };
        items.push((
            (*service).to_owned(),
            Item {
                is_exception: true,
                is_information: false,
                weighted_per_minute: excess / context.breach.minutes,
                summary: format!(
                    "{novelty} exception {kind} in {service}: {count} in the breach window, {before} in the baseline: {}",
                    shorten(message, 160)
                ),
                pattern: Some(shorten(&format!("{kind}: {message}"), 120)),
                measure: "exceptions_per_minute",
                baseline: before as f64 / context.baseline.minutes,
                breach: *count as f64 / context.breach.minutes,
            },
        ));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Exception;
    use crate::testing::{call, inputs, request_start, telemetry};

    /// `front` calls `back`; every `every`-th request of `back` records `exception`.
    fn window(first_minute: u64, exceptions: &[(&str, u32)]) -> crate::input::Telemetry {
        let mut spans = Vec::new();
        for request in 0..200u32 {
            let start = request_start(first_minute, request, 20);
            let trace = first_minute as u32 * 1000 + request;
            let mut request_spans = call(trace, trace * 3, "front", "back", start, 2.0, 1.0, 5.0);
            for (kind, every) in exceptions {
                if request % every == 0 {
                    request_spans[2].exceptions.push(Exception {
                        kind: (*kind).to_owned(),
                        message: format!("{kind} at request {request}"),
                    });
                    request_spans[2].status = StatusCode::Error;
                }
            }
            spans.extend(request_spans);
        }
        telemetry(spans, Vec::new(), Vec::new())
    }

    #[test]
    fn a_new_exception_is_an_error_pattern_and_an_old_one_is_not() {
        let old = ("java.io.IOException", 20);
        let new = ("java.lang.IllegalStateException", 4);
        let inputs = inputs("front", window(0, &[old]), window(10, &[old, new]));
        let context = Context::build(&inputs);
        let findings = run(&context);
        let back = findings
            .iter()
            .find(|finding| finding.service == "back")
            .expect("back has a new exception");
        assert_eq!(back.kind, CauseKind::ErrorPattern);
        // Five new exceptions a minute.
        assert!(back.score > 0.7, "{back:#?}");
        assert!(
            back.summary
                .contains("new exception java.lang.IllegalStateException")
        );
        assert!(
            back.evidence
                .iter()
                .all(|item| !item.summary.contains("java.io.IOException")),
            "{back:#?}"
        );
    }

    #[test]
    fn the_same_exceptions_at_the_same_rate_are_no_pattern() {
        let old = [("java.io.IOException", 20)];
        let inputs = inputs("front", window(0, &old), window(10, &old));
        let context = Context::build(&inputs);
        assert!(run(&context).is_empty(), "{:#?}", run(&context));
    }
}
