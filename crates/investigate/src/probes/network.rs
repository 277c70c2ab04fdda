//! Network: per call edge (caller service -> callee service), the gap between the caller's
//! span and the callee's span it caused: the caller's duration minus the callee's. That gap is
//! time on the wire, in queues and on the callee's host before its code runs. When it grows
//! while the callee's own time does not, the callee's code is not to blame and neither is the
//! caller: the time is lost between them, and the finding names the callee's side of the edge.

use std::collections::{BTreeMap, HashMap};

use crate::context::{Context, Window};
use crate::finding::{Finding, Probe, format_ms};
use crate::report::CauseKind;
use crate::stats::{median, ramp, saturate};

/// Fewer calls than this on either side and an edge is not judged.
const MIN_CALLS: usize = 3;
/// From this many calls in the breach window on, a gap that grew is sure: a few calls that
/// all lost a second each are already unlike any baseline.
const SURE_CALLS: f64 = 10.0;
/// A gap must grow by at least this many milliseconds to matter.
const MIN_GAP_GROWTH_MS: f64 = 2.0;

/// Gaps and callee durations of the calls over one edge, in ms.
#[derive(Default)]
struct EdgeCalls {
    gaps: Vec<f64>,
    callee: Vec<f64>,
}

fn edges<'a>(window: &Window<'a>) -> BTreeMap<(&'a str, &'a str), EdgeCalls> {
    let index = &window.spans;
    let mut edges: HashMap<(u32, u32), (usize, usize, EdgeCalls)> = HashMap::new();
    for position in 0..index.len() {
        // A span whose children run elsewhere is the caller's side of the call; with several
        // remote children (a fan-out inside one span) the longest one bounds the gap.
        let caller = &index.spans[position];
        let Some(longest) = index
            .remote_children(position)
            .max_by_key(|child| (index.spans[*child].duration_nanos, *child))
        else {
            continue;
        };
        let callee = &index.spans[longest];
        let gap = caller.duration_nanos.saturating_sub(callee.duration_nanos) as f64 / 1e6;
        let (_, _, calls) = edges
            .entry((index.service[position], index.service[longest]))
            .or_insert_with(|| (position, longest, EdgeCalls::default()));
        calls.gaps.push(gap);
        calls.callee.push(callee.duration_nanos as f64 / 1e6);
    }
    edges
        .into_values()
        .map(|(caller, callee, calls)| {
            (
                (
                    index.spans[caller].service.as_str(),
                    index.spans[callee].service.as_str(),
                ),
                calls,
            )
        })
        .collect()
}

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let baseline = edges(&context.baseline);
    let breach = edges(&context.breach);
    let mut findings = Vec::new();
    for ((caller, callee), after) in &breach {
        let Some(before) = baseline.get(&(*caller, *callee)) else {
            continue;
        };
        if before.gaps.len() < MIN_CALLS || after.gaps.len() < MIN_CALLS {
            continue;
        }
        let (Some(gap_before), Some(gap_after), Some(own_before), Some(own_after)) = (
            median(&before.gaps),
            median(&after.gaps),
            median(&before.callee),
            median(&after.callee),
        ) else {
            continue;
        };
        let gap_growth = gap_after - gap_before;
        let own_growth = own_after - own_before;
        if gap_growth < MIN_GAP_GROWTH_MS || own_growth > 0.5 * gap_growth {
            continue;
        }
        // Growth relative to what the call cost before: 100 ms more on a 10 ms call is a lot.
        let relative = gap_growth / (gap_before + own_before).max(1.0);
        let score = saturate(relative, 0.5)
            * ramp(after.gaps.len() as f64, MIN_CALLS as f64 - 1.0, SURE_CALLS)
            * (1.0 - (own_growth.max(0.0) / gap_growth));
        if score < 0.05 {
            continue;
        }
        let finding = Finding::new(
            Probe::Network,
            callee,
            CauseKind::Network,
            score,
            format!(
                "calls from {caller} to {callee} lose {} more between the two services (median gap {} -> {}) while {callee}'s own time went {} -> {}",
                format_ms(gap_growth),
                format_ms(gap_before),
                format_ms(gap_after),
                format_ms(own_before),
                format_ms(own_after)
            ),
        )
        .with(
            format!("median gap between {caller}'s call and {callee}'s span"),
            "gap_ms",
            Some(gap_before),
            Some(gap_after),
        )
        .with(
            format!("median duration of {callee}'s span for those calls"),
            "callee_ms",
            Some(own_before),
            Some(own_after),
        );
        let index = &context.breach.spans;
        let figure = context.breach.exemplar(
            format!("a call from {caller} to {callee} with a wide gap"),
            |position, span| {
                if span.service != *caller {
                    return None;
                }
                let longest = index
                    .remote_children(position)
                    .max_by_key(|child| (index.spans[*child].duration_nanos, *child))?;
                let callee_span = &index.spans[longest];
                (callee_span.service == *callee).then(|| {
                    span.duration_nanos
                        .saturating_sub(callee_span.duration_nanos)
                })
            },
        );
        findings.push(finding.with_figure(figure));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{front_back_window, inputs};

    /// 20 requests a minute for ten minutes: `front` calls `back`.
    fn window(first_minute: u64, gap_ms: f64, callee_ms: f64) -> crate::input::Telemetry {
        front_back_window(first_minute, 20, 2.0, gap_ms, callee_ms)
    }

    #[test]
    fn time_lost_between_caller_and_callee_names_the_callee() {
        let inputs = inputs("front", window(0, 1.0, 10.0), window(10, 40.0, 10.0));
        let context = Context::build(&inputs);
        let findings = run(&context);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let finding = &findings[0];
        assert_eq!(
            (finding.service.as_str(), finding.kind),
            ("back", CauseKind::Network)
        );
        assert!(finding.score > 0.8, "{finding:#?}");
        let gap = &finding.evidence[0];
        assert_eq!(gap.measure, "gap_ms");
        assert_eq!(gap.baseline, Some(1.0));
        assert_eq!(gap.breach, Some(40.0));
    }

    #[test]
    fn a_slower_callee_is_not_the_network() {
        let inputs = inputs("front", window(0, 1.0, 10.0), window(10, 1.0, 50.0));
        let context = Context::build(&inputs);
        assert!(run(&context).is_empty());
    }
}
