//! Flow: how one service's behaviour within a request changed, as the sequence of what it does
//! per trace: the spans it starts (by operation) and the log templates it writes, in time
//! order. A step that always followed another in the baseline and no longer does (a method
//! that now throws before its next log line), or one that never followed it and now does (a
//! new branch), is a change in the service's own code path.
//!
//! Each step is judged *given the step before it*, so a different mix of requests (more of one
//! endpoint, less of another) changes little: the transitions out of a step the baseline knows
//! well are compared, not the counts of steps. A transition counts by how far its breach count
//! is from what the baseline predicts, weighted by how complete the change is (a step that
//! vanished or appeared counts fully, a proportion that shifted counts little), and the sum is
//! taken as a share of the service's transitions in the breach window.
//!
//! A fault rarely takes hold exactly where the window starts (an agent attaches, a rollout
//! reaches the pod some seconds later), and the requests before it dilute a change that is
//! complete after it. So when a step the baseline dominantly took stopped partway through the
//! window and never came back, the flow is also judged from that onset on, and the stronger of
//! the two judgements counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use sloscope_model::TraceId;

use crate::context::Context;
use crate::finding::shorten;
use crate::probes::logs::{Pattern, ServiceLogs, Severity};
use crate::probes::words;
use crate::stats::ramp;

/// A step of a service within a trace: a span (by interned operation) or a log template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Step {
    Start,
    Span(u32),
    Log(Pattern),
    End,
}

/// Whether a step is a sign of trouble: an error (a log line of error severity, an error-path
/// span) or a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trouble {
    None,
    Warning,
    Error,
}

/// One step with the trace and time it happened at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub trace: TraceId,
    pub time: u64,
    pub step: Step,
}

/// Words that make a span's operation an error path (`BasicErrorController.error`,
/// `handleException`).
const ERROR_WORDS: [&str; 5] = ["error", "errors", "exception", "fault", "failure"];

/// Whether an operation is an error path by its words.
pub(crate) fn is_error_operation(operation: &str) -> bool {
    words(operation)
        .iter()
        .any(|word| ERROR_WORDS.contains(&word.as_str()))
}

/// A step must have been seen this often in the baseline for what follows it to be judged.
const MIN_SOURCE_COUNT: u32 = 5;
/// A transition whose count is this close to its prediction is not a change.
const MIN_DEVIATION: f64 = 3.0;
/// What a step that now follows where it did not weighs, unless it is an error.
const NEW_BRANCH_WEIGHT: f64 = 0.3;
/// What a branch the baseline took, now taken more often, weighs, unless it is an error.
const GROWN_BRANCH_WEIGHT: f64 = 0.1;

/// The change of one service's flow.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FlowChange {
    /// Completeness-weighted deviation per request of the service in the breach window (per
    /// transition when the service has no requests of its own): 0, to about 2 when every
    /// request took another path.
    pub share: f64,
    pub deviation: f64,
    pub transitions: u32,
    /// The transition that deviates most: from, to, baseline count and total of `from`,
    /// breach count and total of `from`.
    pub strongest: Option<Transition>,
    /// Steps that stopped happening: the steps before them happened, often enough that the
    /// baseline predicts at least [`MIN_VANISHED`] of them, and they (almost) never followed.
    /// With how many were expected and seen, the largest first.
    pub vanished: Vec<(Step, f64, f64)>,
    /// When the change was judged from a step that stopped partway through the breach window:
    /// the start of the first request after its last occurrence.
    pub onset_unix_nano: Option<u64>,
}

/// A step predicted fewer times than this is not judged as vanished.
pub(crate) const MIN_VANISHED: f64 = 5.0;
/// A step seen at most this share of its prediction has vanished.
const VANISHED_SHARE: f64 = 0.1;

/// A transition the baseline took at least this share of the times its source happened can
/// mark where a change began when it stops.
const ONSET_SHARE: f64 = 0.6;
/// The share of the service's traces in the breach window that must follow an onset: a change
/// that holds only at the very end of the window is too little to judge apart.
const ONSET_MIN_TRACES: f64 = 0.5;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Transition {
    pub from: Step,
    pub to: Step,
    pub baseline: (u32, u32),
    pub breach: (u32, u32),
}

struct Counts {
    transitions: HashMap<(Step, Step), u32>,
    sources: HashMap<Step, u32>,
    total: u32,
}

/// Sorts events by trace, then time, then step: the order in which transitions are read.
fn sort_events(events: &mut [Event]) {
    events.sort_by(|a, b| {
        a.trace
            .cmp(&b.trace)
            .then(a.time.cmp(&b.time))
            .then(a.step.cmp(&b.step))
    });
}

fn count(mut events: Vec<Event>) -> Counts {
    sort_events(&mut events);
    let mut counts = Counts {
        transitions: HashMap::new(),
        sources: HashMap::new(),
        total: 0,
    };
    let mut add = |from: Step, to: Step| {
        *counts.transitions.entry((from, to)).or_default() += 1;
        *counts.sources.entry(from).or_default() += 1;
        counts.total += 1;
    };
    let mut previous: Option<(TraceId, Step)> = None;
    for event in &events {
        // A step repeated in a row is one step: a loop that runs more or fewer times (more
        // items in an order, more calls in a fan-out) is not another path.
        if previous == Some((event.trace, event.step)) {
            continue;
        }
        match previous {
            Some((trace, step)) if trace == event.trace => add(step, event.step),
            Some((_, step)) => {
                add(step, Step::End);
                add(Step::Start, event.step);
            }
            None => add(Step::Start, event.step),
        }
        previous = Some((event.trace, event.step));
    }
    if let Some((_, step)) = previous {
        add(step, Step::End);
    }
    counts
}

/// How the flow changed from `baseline` to `breach`, with the deviation per request of the
/// service when the start times of its `requests` in the breach window are known; None when
/// the breach has no events.
///
/// Not every change weighs the same. A step that stopped following one it mostly followed is a
/// broken path (a method that throws before its next line); a step that now follows where it
/// never did may be a branch the short baseline did not happen to see, and counts less unless
/// it is an error. An error step that stopped following is a recovery and does not count. And a
/// step that moved (it follows another step now, but happens as often as the baseline
/// predicts) is a reordering, as concurrent work and clocks make, not a change: each
/// transition weighs as much as its target step vanished (or appeared) overall.
///
/// When a step stopped partway through the window (see [`onset`]), the requests from then on
/// are judged too, and the judgement with the larger deviation per request is the answer.
pub(crate) fn compare(
    baseline: Vec<Event>,
    breach: Vec<Event>,
    requests: Option<&[u64]>,
    mut trouble: impl FnMut(Step) -> Trouble,
) -> Option<FlowChange> {
    if breach.is_empty() {
        return None;
    }
    let before = count(baseline);
    let requests_since = |since: u64| -> Option<u32> {
        let starts = requests?;
        let count = starts.iter().filter(|start| **start >= since).count();
        Some(u32::try_from(count).unwrap_or(u32::MAX))
    };
    let onset = onset(&before, &breach, &mut trouble);
    let whole = judge(
        &before,
        &count(breach.clone()),
        requests_since(0),
        &mut trouble,
    );
    let Some(onset_unix_nano) = onset else {
        return Some(whole);
    };
    let mut trace_starts: HashMap<TraceId, u64> = HashMap::new();
    for event in &breach {
        let start = trace_starts.entry(event.trace).or_insert(event.time);
        *start = (*start).min(event.time);
    }
    let later: Vec<Event> = breach
        .into_iter()
        .filter(|event| trace_starts[&event.trace] >= onset_unix_nano)
        .collect();
    let mut since_onset = judge(
        &before,
        &count(later),
        requests_since(onset_unix_nano),
        &mut trouble,
    );
    since_onset.onset_unix_nano = Some(onset_unix_nano);
    Some(if since_onset.share > whole.share {
        since_onset
    } else {
        whole
    })
}

/// Where in the breach window a transition the baseline dominantly took (at least
/// [`ONSET_SHARE`] of the times its source happened) stopped for good: the start of the first
/// trace after its last occurrence. The traces from there on must be at least
/// [`ONSET_MIN_TRACES`] of the window's and predict at least [`MIN_VANISHED`] occurrences of
/// it, so that a dominant step missing a few times by chance marks nothing. Of several such
/// transitions, the one predicted most often (then the earliest) marks the onset. A transition
/// that never happened in the window marks none: the whole window already shows it.
fn onset(
    before: &Counts,
    breach: &[Event],
    mut trouble: impl FnMut(Step) -> Trouble,
) -> Option<u64> {
    let mut events = breach.to_vec();
    sort_events(&mut events);
    // Each trace's transitions, as `count` reads them, with the time of its first step.
    let mut traces: Vec<TraceTransitions> = Vec::new();
    for trace_events in events.chunk_by(|a, b| a.trace == b.trace) {
        let mut steps: Vec<Step> = trace_events.iter().map(|event| event.step).collect();
        steps.dedup();
        steps.push(Step::End);
        let transitions = steps.windows(2).map(|pair| (pair[0], pair[1])).collect();
        traces.push(TraceTransitions {
            start: trace_events[0].time,
            trace: trace_events[0].trace,
            transitions,
        });
    }
    traces.sort_by(|a, b| a.start.cmp(&b.start).then(a.trace.cmp(&b.trace)));
    let min_later_traces = ONSET_MIN_TRACES * traces.len() as f64;
    // Walking back from the last trace: each transition's first sighting is its last
    // occurrence, and the sources counted so far are those of the traces after it.
    let mut later_sources: HashMap<Step, u32> = HashMap::new();
    let mut settled: HashSet<(Step, Step)> = HashSet::new();
    let mut best: Option<(f64, u64)> = None;
    for position in (0..traces.len()).rev() {
        let later_traces = traces.len() - position - 1;
        for &(from, to) in &traces[position].transitions {
            if !settled.insert((from, to)) {
                continue;
            }
            let source_before = before.sources.get(&from).copied().unwrap_or(0);
            let count_before = before.transitions.get(&(from, to)).copied().unwrap_or(0);
            if source_before < MIN_SOURCE_COUNT || (later_traces as f64) < min_later_traces {
                continue;
            }
            let baseline_share = f64::from(count_before) / f64::from(source_before);
            if baseline_share < ONSET_SHARE || trouble(to) != Trouble::None {
                continue;
            }
            let expected =
                baseline_share * f64::from(later_sources.get(&from).copied().unwrap_or(0));
            let Some(TraceTransitions { start, .. }) = traces.get(position + 1) else {
                continue;
            };
            if expected >= MIN_VANISHED
                && best.is_none_or(|(most, earliest)| {
                    expected > most || (expected == most && *start < earliest)
                })
            {
                best = Some((expected, *start));
            }
        }
        for &(from, _) in &traces[position].transitions {
            *later_sources.entry(from).or_default() += 1;
        }
    }
    best.map(|(_, start)| start)
}

/// One trace's transitions of a service, in order, with the time of its first step.
struct TraceTransitions {
    start: u64,
    trace: TraceId,
    transitions: Vec<(Step, Step)>,
}

/// The flow change of `after` against `before` (see [`compare`]).
fn judge(
    before: &Counts,
    after: &Counts,
    requests: Option<u32>,
    mut trouble: impl FnMut(Step) -> Trouble,
) -> FlowChange {
    // Targets of each source in either window.
    let mut targets: BTreeMap<Step, Vec<Step>> = BTreeMap::new();
    for (from, to) in before.transitions.keys().chain(after.transitions.keys()) {
        targets.entry(*from).or_default().push(*to);
    }
    // How often each step happens in the breach against what the baseline predicts from the
    // steps before it, over the sources that are judged.
    let mut step_totals: HashMap<Step, (f64, f64)> = HashMap::new();
    for (from, tos) in &targets {
        let source_before = before.sources.get(from).copied().unwrap_or(0);
        let source_after = after.sources.get(from).copied().unwrap_or(0);
        if *from == Step::Start || source_before < MIN_SOURCE_COUNT || source_after == 0 {
            continue;
        }
        let mut seen: Vec<Step> = tos.clone();
        seen.sort();
        seen.dedup();
        for to in seen {
            let count_before = before.transitions.get(&(*from, to)).copied().unwrap_or(0);
            let count_after = after.transitions.get(&(*from, to)).copied().unwrap_or(0);
            let totals = step_totals.entry(to).or_default();
            totals.0 += source_after as f64 * count_before as f64 / source_before as f64;
            totals.1 += count_after as f64;
        }
    }
    let mut deviation = 0.0;
    let mut strongest: Option<(f64, Transition)> = None;
    for (from, mut tos) in targets {
        // Which request starts a service's flow depends on the mix of requests, not on it.
        if from == Step::Start {
            continue;
        }
        let source_before = before.sources.get(&from).copied().unwrap_or(0);
        let source_after = after.sources.get(&from).copied().unwrap_or(0);
        if source_before < MIN_SOURCE_COUNT || source_after == 0 {
            continue;
        }
        tos.sort();
        tos.dedup();
        for to in tos {
            let count_before = before.transitions.get(&(from, to)).copied().unwrap_or(0);
            let count_after = after.transitions.get(&(from, to)).copied().unwrap_or(0);
            let observed = count_after as f64;
            let expected = if count_before > 0 {
                source_after as f64 * count_before as f64 / source_before as f64
            } else {
                // Never seen: as if half a time, so that a new step counts nearly fully.
                source_after as f64 * 0.5 / (source_before as f64 + 1.0)
            };
            let distance = (observed - expected).abs();
            if distance < MIN_DEVIATION {
                continue;
            }
            let step_trouble = trouble(to);
            let error = step_trouble == Trouble::Error;
            let baseline_share = count_before as f64 / source_before as f64;
            let (step_expected, step_observed) = step_totals.get(&to).copied().unwrap_or_default();
            let (completeness, kind_weight) = if observed < expected {
                if step_trouble != Trouble::None {
                    continue; // fewer errors or warnings than before: a recovery
                }
                let vanished = if step_expected > 0.0 {
                    (1.0 - step_observed / step_expected).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                // A dominant step that vanished counts fully, a minor branch less, a step that
                // only moved not at all.
                (
                    (1.0 - observed / expected).min(vanished),
                    ramp(baseline_share, 0.2, 0.6),
                )
            } else {
                let weight = match (error, count_before) {
                    (true, _) => 1.0,
                    (false, 0) => NEW_BRANCH_WEIGHT,
                    // A branch the baseline took, taken more often: the mix of requests.
                    (false, _) => GROWN_BRANCH_WEIGHT,
                };
                let appeared = if step_observed > 0.0 {
                    (1.0 - step_expected / step_observed).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                ((1.0 - expected / observed).min(appeared), weight)
            };
            let weighted = distance * completeness * completeness * kind_weight;
            if weighted <= 0.0 {
                continue;
            }
            deviation += weighted;
            let transition = Transition {
                from,
                to,
                baseline: (count_before, source_before),
                breach: (count_after, source_after),
            };
            if strongest.as_ref().is_none_or(|(best, best_transition)| {
                weighted > *best || (weighted == *best && transition.from < best_transition.from)
            }) {
                strongest = Some((weighted, transition));
            }
        }
    }
    let mut vanished: Vec<(Step, f64, f64)> = step_totals
        .iter()
        .filter(|(step, (expected, observed))| {
            !matches!(step, Step::Start | Step::End)
                && *expected >= MIN_VANISHED
                && *observed <= VANISHED_SHARE * expected
                && trouble(**step) == Trouble::None
        })
        .map(|(step, (expected, observed))| (*step, *expected, *observed))
        .collect();
    vanished.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    FlowChange {
        share: deviation / requests.unwrap_or(after.total).max(1) as f64,
        deviation,
        transitions: after.total,
        strongest: strongest.map(|(_, transition)| transition),
        vanished,
        onset_unix_nano: None,
    }
}

/// Each service's flow compared across the windows (by interned service), with a sentence on
/// the transition that changed most.
pub(crate) fn flows(
    context: &Context<'_>,
    logs: &BTreeMap<u32, ServiceLogs<'_>>,
) -> BTreeMap<u32, ServiceFlow> {
    let names = &context.names;
    let mut events: Vec<(Vec<Event>, Vec<Event>)> = vec![(Vec::new(), Vec::new()); names.len()];
    // When each request a service served in the breach window started: deviations are counted
    // per request (of those after the onset, when the change is judged from one).
    let mut requests: Vec<Vec<u64>> = vec![Vec::new(); names.len()];
    let breach_index = &context.breach.spans;
    for position in 0..breach_index.len() {
        if breach_index.is_entry(position) {
            requests[breach_index.service[position] as usize]
                .push(breach_index.spans[position].start_unix_nano);
        }
    }
    for (window, is_breach) in [(&context.baseline, false), (&context.breach, true)] {
        let index = &window.spans;
        for (position, span) in index.spans.iter().enumerate() {
            let entry = &mut events[index.service[position] as usize];
            let event = Event {
                trace: span.trace_id,
                time: span.start_unix_nano,
                step: Step::Span(index.operation[position]),
            };
            if is_breach {
                entry.1.push(event);
            } else {
                entry.0.push(event);
            }
        }
    }
    for (service, service_logs) in logs {
        let entry = &mut events[*service as usize];
        for (lines, target) in [
            (&service_logs.baseline, &mut entry.0),
            (&service_logs.breach, &mut entry.1),
        ] {
            for (line, pattern) in lines {
                if let Some(trace) = line.trace_id {
                    target.push(Event {
                        trace,
                        time: line.time_unix_nano,
                        step: Step::Log(service_logs.step(*pattern)),
                    });
                }
            }
        }
    }
    let mut error_operation: Vec<Option<bool>> = vec![None; names.len()];
    let mut changes = BTreeMap::new();
    for (service, (baseline, breach)) in events.into_iter().enumerate() {
        let service = service as u32;
        let service_logs = logs.get(&service);
        let mut trouble = |step: Step| match step {
            Step::Span(operation) => {
                let error = *error_operation[operation as usize]
                    .get_or_insert_with(|| is_error_operation(names.name(operation)));
                if error { Trouble::Error } else { Trouble::None }
            }
            Step::Log(pattern) => match service_logs.map(|logs| logs.severity(pattern)) {
                Some(Severity::Error) => Trouble::Error,
                Some(Severity::Warning) => Trouble::Warning,
                _ => Trouble::None,
            },
            Step::Start | Step::End => Trouble::None,
        };
        let service_requests = &requests[service as usize];
        let service_requests =
            (!service_requests.is_empty()).then_some(service_requests.as_slice());
        let Some(change) = compare(baseline, breach, service_requests, &mut trouble) else {
            continue;
        };
        let describe = |step: Step| match step {
            Step::Start => String::from("its first step"),
            Step::End => String::from("the end of its part of the request"),
            Step::Span(operation) => format!("span `{}`", shorten(names.name(operation), 80)),
            Step::Log(pattern) => match service_logs.and_then(|logs| logs.text(pattern)) {
                Some(text) => format!("log `{}`", shorten(&text, 100)),
                None => format!("log pattern {}", pattern.0),
            },
        };
        let name = names.name(service);
        // The onset, in seconds into the breach window.
        let since = change.onset_unix_nano.map_or(String::new(), |onset| {
            let seconds = onset.saturating_sub(context.inputs.subject.window.from) as f64 / 1e9;
            format!(" from {seconds:.0} s into the window on")
        });
        let text = match &change.strongest {
            Some(transition) => format!(
                "the code path of {name} changed{since} ({:.2} deviating steps per request): after {}, {} followed {} of {} times (baseline {} of {})",
                change.share,
                describe(transition.from),
                describe(transition.to),
                transition.breach.0,
                transition.breach.1,
                transition.baseline.0,
                transition.baseline.1
            ),
            None => format!("the code path of {name} did not change"),
        };
        let vanished = change
            .vanished
            .iter()
            .map(|(step, expected, observed)| VanishedStep {
                text: format!(
                    "a step of {name} stopped: {} happened {observed:.0} times where the steps before it predict {expected:.0}",
                    describe(*step)
                ),
                expected: *expected,
                observed: *observed,
            })
            .collect();
        changes.insert(
            service,
            ServiceFlow {
                change,
                text,
                vanished,
            },
        );
    }
    changes
}

/// One service's flow change as the error-pattern probe reports it.
pub(crate) struct ServiceFlow {
    pub change: FlowChange,
    /// A sentence on the transition that changed most.
    pub text: String,
    pub vanished: Vec<VanishedStep>,
}

/// A step that stopped happening, described.
pub(crate) struct VanishedStep {
    pub text: String,
    pub expected: f64,
    pub observed: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(number: u8) -> TraceId {
        [number; 16]
    }

    /// A request handled by `handle`, logging `received` and then `done` (or only `received`).
    fn request(number: u8, finishes: bool) -> Vec<Event> {
        let mut events = vec![
            Event {
                trace: trace(number),
                time: 1,
                step: Step::Span(0),
            },
            Event {
                trace: trace(number),
                time: 2,
                step: Step::Log(Pattern(0)),
            },
        ];
        if finishes {
            events.push(Event {
                trace: trace(number),
                time: 3,
                step: Step::Log(Pattern(1)),
            });
        }
        events
    }

    #[test]
    fn a_step_that_stopped_following_is_a_change() {
        let baseline: Vec<Event> = (0..40).flat_map(|number| request(number, true)).collect();
        let broken: Vec<Event> = (0..40)
            .flat_map(|number| request(number, number % 2 == 0))
            .collect();
        let change = compare(baseline.clone(), broken, None, |_| Trouble::None).expect("events");
        // Half of 40 requests miss `done`: half complete. The ends only moved.
        assert!(change.deviation > 4.0, "{change:?}");
        let strongest = change.strongest.expect("a transition");
        assert_eq!(strongest.from, Step::Log(Pattern(0)));
        // Half the requests end after `received` now: either side of that shows.
        assert!(strongest.to == Step::End || strongest.to == Step::Log(Pattern(1)));

        let same = compare(baseline.clone(), baseline, None, |_| Trouble::None).expect("events");
        assert_eq!(same.deviation, 0.0);
    }

    #[test]
    fn a_step_that_stopped_partway_through_the_window_is_judged_from_then_on() {
        // Request `number` at time `number * 10`, logging `done` unless it is at or after
        // `stops_at`.
        let requests = |stops_at: u8| -> Vec<Event> {
            (0..40)
                .flat_map(|number| {
                    request(number, number < stops_at)
                        .into_iter()
                        .map(move |event| Event {
                            time: u64::from(number) * 10 + event.time,
                            ..event
                        })
                })
                .collect()
        };
        let baseline = requests(40);
        let starts: Vec<u64> = (0..40).map(|number| number * 10 + 1).collect();
        // The fault took hold at the 16th request: `done` never followed again.
        let broken = requests(15);
        let whole = judge(
            &count(baseline.clone()),
            &count(broken.clone()),
            Some(40),
            |_| Trouble::None,
        );
        let change =
            compare(baseline.clone(), broken, Some(&starts), |_| Trouble::None).expect("events");
        assert_eq!(change.onset_unix_nano, Some(151), "{change:?}");
        assert!(change.share > whole.share, "{change:?} {whole:?}");
        // From the onset on, `done` vanished; over the whole window it only became rarer.
        assert_eq!(change.vanished.len(), 1, "{change:?}");
        assert!(whole.vanished.is_empty(), "{whole:?}");

        // Missing from only the last few requests marks no onset: too little to judge apart.
        let late =
            compare(baseline, requests(30), Some(&starts), |_| Trouble::None).expect("events");
        assert_eq!(late.onset_unix_nano, None, "{late:?}");
    }

    #[test]
    fn fewer_errors_is_a_recovery_not_a_change() {
        let error = Step::Log(Pattern(9));
        let with_error = |number: u8, fails: bool| {
            let mut events = request(number, !fails);
            if fails {
                events.push(Event {
                    trace: trace(number),
                    time: 3,
                    step: error,
                });
            }
            events
        };
        let trouble = |step: Step| {
            if step == error {
                Trouble::Error
            } else {
                Trouble::None
            }
        };
        let baseline: Vec<Event> = (0..40).flat_map(|n| with_error(n, n % 2 == 0)).collect();
        let breach: Vec<Event> = (0..40).flat_map(|n| with_error(n, false)).collect();
        let recovered = compare(baseline.clone(), breach.clone(), None, trouble).expect("events");
        let failing = compare(breach, baseline, None, trouble).expect("events");
        assert!(
            recovered.deviation < failing.deviation,
            "{recovered:?} {failing:?}"
        );
    }

    #[test]
    fn a_step_that_only_moved_is_not_a_change() {
        // `done` (log 1) and a call (span 2) race: the baseline mostly logs first.
        let request = |number: u8, log_first: bool| {
            let (log_time, span_time) = if log_first { (3, 4) } else { (4, 3) };
            vec![
                Event {
                    trace: trace(number),
                    time: 1,
                    step: Step::Span(0),
                },
                Event {
                    trace: trace(number),
                    time: log_time,
                    step: Step::Log(Pattern(1)),
                },
                Event {
                    trace: trace(number),
                    time: span_time,
                    step: Step::Span(2),
                },
            ]
        };
        let baseline: Vec<Event> = (0..60).flat_map(|n| request(n, n % 10 != 0)).collect();
        let breach: Vec<Event> = (0..60).flat_map(|n| request(n, n % 10 == 0)).collect();
        let change = compare(baseline, breach, None, |_| Trouble::None).expect("events");
        assert!(change.deviation < 1.0, "{change:?}");
    }

    #[test]
    fn a_different_mix_of_requests_is_not_a_change() {
        // Two kinds of request, each with its own fixed flow; the breach has another mix.
        let kind = |number: u8, other: bool| {
            let (span, log) = if other { (1, 5) } else { (0, 0) };
            vec![
                Event {
                    trace: trace(number),
                    time: 1,
                    step: Step::Span(span),
                },
                Event {
                    trace: trace(number),
                    time: 2,
                    step: Step::Log(Pattern(log)),
                },
            ]
        };
        let baseline: Vec<Event> = (0..100).flat_map(|n| kind(n, n % 10 == 0)).collect();
        let breach: Vec<Event> = (0..100).flat_map(|n| kind(n, n % 2 == 0)).collect();
        let change = compare(baseline, breach, None, |_| Trouble::None).expect("events");
        assert_eq!(change.deviation, 0.0, "{change:?}");
    }
}
