//! Self time: which operation's own time (its duration minus the time its children cover)
//! grew, per request of the subject. Summed per request, the growth of one operation's self
//! time is its contribution to the subject's latency growth, wherever it sits on the path.
//!
//! Spans that call another service, and database calls, are left to the network and slow-query
//! probes: their self time is the wire and the database, not the service's own code.

use std::collections::{BTreeMap, HashMap};

use sloscope_model::SpanKind;

use crate::context::{Context, Window};
use crate::finding::{Finding, Probe, format_ms};
use crate::probes::{latency_relevance, subject_mean_ms, subject_requests};
use crate::report::CauseKind;
use crate::stats::{median, ramp, saturate};

/// Fewer calls than this on either side and an operation is not judged.
const MIN_CALLS: usize = 10;
/// The median self time per call must grow by at least this factor.
const MIN_RATIO: f64 = 1.5;

#[derive(Clone, Debug, Default)]
struct SelfTime {
    per_call_ms: Vec<f64>,
    total_ms: f64,
}

fn self_times<'a>(window: &Window<'a>) -> BTreeMap<(&'a str, &'a str), SelfTime> {
    let index = &window.spans;
    let mut times: HashMap<(u32, u32), (usize, SelfTime)> = HashMap::new();
    for position in 0..index.len() {
        let span = &index.spans[position];
        let calls_out = matches!(span.kind, SpanKind::Client | SpanKind::Producer)
            || span.db_statement.is_some()
            || index.remote_children(position).next().is_some();
        if calls_out {
            continue;
        }
        let (_, entry) = times
            .entry((index.service[position], index.operation[position]))
            .or_insert_with(|| (position, SelfTime::default()));
        let self_ms = index.self_time_nanos(position) as f64 / 1e6;
        entry.per_call_ms.push(self_ms);
        entry.total_ms += self_ms;
    }
    times
        .into_values()
        .map(|(example, times)| {
            let span = &index.spans[example];
            ((span.service.as_str(), span.operation.as_str()), times)
        })
        .collect()
}

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let requests_before = subject_requests(context, &context.baseline);
    let requests_after = subject_requests(context, &context.breach);
    if requests_before <= 0.0 || requests_after <= 0.0 {
        return Vec::new();
    }
    let mean_before = subject_mean_ms(context, &context.baseline).unwrap_or(0.0);
    let mean_after = subject_mean_ms(context, &context.breach).unwrap_or(0.0);
    // What the growth is measured against: the subject's latency growth, or its baseline latency
    // when it did not grow (a breach of errors alone).
    let reference = (mean_after - mean_before).max(0.25 * mean_before).max(1.0);

    let relevance = latency_relevance(context);
    let baseline = self_times(&context.baseline);
    let breach = self_times(&context.breach);
    // Per service: the operations whose self time grew, with their growth per subject request.
    let mut grown: BTreeMap<&str, Vec<(f64, String, f64, f64)>> = BTreeMap::new();
    for ((service, operation), after) in &breach {
        let Some(before) = baseline.get(&(*service, *operation)) else {
            continue;
        };
        if before.per_call_ms.len() < MIN_CALLS || after.per_call_ms.len() < MIN_CALLS {
            continue;
        }
        // Medians: one slow call (a GC pause, a cold cache) must not make an operation slower.
        let (Some(median_before), Some(median_after)) =
            (median(&before.per_call_ms), median(&after.per_call_ms))
        else {
            continue;
        };
        if median_after < MIN_RATIO * median_before || median_after - median_before < 0.5 {
            continue;
        }
        let per_request = after.total_ms / requests_after - before.total_ms / requests_before;
        if per_request <= 0.0 {
            continue;
        }
        grown.entry(service).or_default().push((
            per_request,
            (*operation).to_owned(),
            median_before,
            median_after,
        ));
    }
    let mut findings = Vec::new();
    for (service, mut operations) in grown {
        operations.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let contribution: f64 = operations.iter().map(|operation| operation.0).sum();
        let (_, top_operation, top_before, top_after) = &operations[0];
        let growth = top_after / top_before.max(1e-3);
        let score =
            saturate(contribution / reference, 0.5) * ramp(growth, MIN_RATIO, 2.0) * relevance;
        if score < 0.05 {
            continue;
        }
        let mut finding = Finding::new(
            Probe::SelfTime,
            service,
            CauseKind::CodeRegression,
            score,
            format!(
                "{service} spends {} more of its own time per request of the subject; {top_operation} went {} -> {} per call",
                format_ms(contribution),
                format_ms(*top_before),
                format_ms(*top_after)
            ),
        );
        finding = finding.with_figure(context.breach.exemplar(
            format!("a slow {top_operation} of {service}, by its own time"),
            |position, span| {
                (span.service == service && span.operation == *top_operation)
                    .then(|| context.breach.spans.self_time_nanos(position))
            },
        ));
        for (per_request, operation, before, after) in operations.iter().take(3) {
            finding = finding.with(
                format!(
                    "self time of {service} {operation} per call (+{} per subject request)",
                    format_ms(*per_request)
                ),
                "self_time_ms",
                Some(*before),
                Some(*after),
            );
        }
        findings.push(finding);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{front_back_window, inputs};

    fn window(first_minute: u64, front_ms: f64, back_ms: f64) -> crate::input::Telemetry {
        front_back_window(first_minute, 20, front_ms, 1.0, back_ms)
    }

    #[test]
    fn the_operation_whose_own_time_grew_is_named() {
        let inputs = inputs("front", window(0, 2.0, 10.0), window(10, 2.0, 60.0));
        let context = Context::build(&inputs);
        let findings = run(&context);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(
            (finding.service.as_str(), finding.kind),
            ("back", CauseKind::CodeRegression)
        );
        assert!(finding.score > 0.8, "{finding:#?}");
        assert_eq!(finding.evidence[0].baseline, Some(10.0));
        assert_eq!(finding.evidence[0].breach, Some(60.0));
    }

    #[test]
    fn the_caller_of_a_slower_callee_keeps_its_own_time() {
        // front's duration grows with back's, but its own time does not.
        let inputs = inputs("front", window(0, 2.0, 10.0), window(10, 2.0, 60.0));
        let context = Context::build(&inputs);
        assert!(
            run(&context)
                .iter()
                .all(|finding| finding.service != "front")
        );
    }
}
