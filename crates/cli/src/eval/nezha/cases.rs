//! The windows each fault is investigated over: the data after the injection, against a
//! baseline without faults. Chosen from the times in the recording alone (injections, span
//! start times, fault-free periods), never from anything the labels say about the cause.

use sloscope_model::TimeRange;

use super::recording::{Fault, FaultFreePeriod};

const SECOND: u64 = 1_000_000_000;

/// Where the baseline window comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselinePolicy {
    /// The data just before the injection when it is at least as long as the window, else the
    /// recording's fault-free period.
    Auto,
    /// The data just before the injection, since the previous window ended.
    Preceding,
    /// The recording's fault-free period (`construct_data`) of the same day, or the nearest.
    Construct,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaselineSource {
    Preceding,
    /// A fault-free period, by its day.
    Construct(String),
    /// Neither had data: the stretch of the window's length before it.
    Before,
}

impl BaselineSource {
    pub fn describe(&self) -> String {
        match self {
            BaselineSource::Preceding => "preceding".to_owned(),
            BaselineSource::Construct(day) => format!("construct_data/{day}"),
            BaselineSource::Before => "before (no data)".to_owned(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The longest window after an injection.
    pub max_window: u64,
    /// How far before an injection the preceding baseline may start.
    pub lookback: u64,
    pub policy: BaselinePolicy,
}

/// One fault to investigate, with its windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// An index into the recording's faults.
    pub fault: usize,
    pub window: TimeRange,
    pub baseline: TimeRange,
    pub baseline_source: BaselineSource,
    pub window_spans: usize,
    pub baseline_spans: usize,
}

fn floor_second(unix_nano: u64) -> u64 {
    unix_nano / SECOND * SECOND
}

/// The first whole second after `unix_nano`.
fn second_after(unix_nano: u64) -> u64 {
    (unix_nano / SECOND + 1) * SECOND
}

/// The starts in `[from, to)` of the sorted `starts`, as an index range.
fn between(starts: &[u64], from: u64, to: u64) -> std::ops::Range<usize> {
    let low = starts.partition_point(|&start| start < from);
    let high = starts.partition_point(|&start| start < to).max(low);
    low..high
}

/// The fault-free period of `day`, else of the latest day before it, else the first one.
fn fault_free_for<'a>(periods: &'a [FaultFreePeriod], day: &str) -> Option<&'a FaultFreePeriod> {
    periods
        .iter()
        .filter(|period| period.day.as_str() <= day)
        .max_by(|left, right| left.day.cmp(&right.day))
        .or_else(|| {
            periods
                .iter()
                .min_by(|left, right| left.day.cmp(&right.day))
        })
}

/// How long before a recorded injection the preceding baseline ends.
const PRECEDING_GUARD: u64 = 60 * SECOND;

/// Windows for every fault (sorted by injection time); `span_starts` sorted.
///
/// The window runs from the injection for `max_window`, never into the next injection: spans
/// may stop before the per-minute metrics and the logs do, so it is not cut at the last span.
/// A preceding baseline ends `PRECEDING_GUARD` before the injection: recorded injection times
/// lag the first effects of a fault by up to a minute, so the minute before is not fault-free.
pub fn plan(
    faults: &[Fault],
    span_starts: &[u64],
    fault_free: &[FaultFreePeriod],
    settings: &Settings,
) -> Vec<Case> {
    debug_assert!(span_starts.is_sorted());
    let mut cases = Vec::with_capacity(faults.len());
    for (index, fault) in faults.iter().enumerate() {
        let injected = floor_second(fault.inject_unix_nano);
        let next_injection = faults
            .iter()
            .map(|other| other.inject_unix_nano)
            .filter(|&other| other > fault.inject_unix_nano)
            .min();
        let longest_to = (injected + settings.max_window)
            .min(next_injection.unwrap_or(u64::MAX))
            .max(injected + SECOND);
        let in_window = between(span_starts, injected, longest_to);
        let window = TimeRange::new(injected, longest_to);
        let window_length = window.to - window.from;

        let previous_window_end = faults[..index]
            .iter()
            .map(|previous| previous.inject_unix_nano + settings.max_window)
            .max();
        let preceding_from = previous_window_end
            .unwrap_or(0)
            .max(injected.saturating_sub(settings.lookback));
        let preceding_to = injected.saturating_sub(PRECEDING_GUARD);
        let preceding = (preceding_from < preceding_to).then(|| {
            let spans = between(span_starts, preceding_from, preceding_to);
            let from = spans
                .clone()
                .next()
                .map(|first| floor_second(span_starts[first]).max(floor_second(preceding_from)))
                .unwrap_or(preceding_from);
            (TimeRange::new(from, preceding_to), spans.len())
        });
        let preceding_with_data = preceding.filter(|(_, spans)| *spans > 0);
        let construct = fault_free_for(fault_free, &fault.day).map(|period| {
            let range = TimeRange::new(
                floor_second(period.first_unix_nano),
                second_after(period.last_unix_nano),
            );
            let spans = between(span_starts, range.from, range.to).len();
            (range, spans, period.day.clone())
        });
        let long_enough =
            preceding_with_data.filter(|(range, _)| range.to - range.from >= window_length);

        let chosen = match settings.policy {
            BaselinePolicy::Auto => long_enough
                .map(|(range, spans)| (range, spans, BaselineSource::Preceding))
                .or_else(|| {
                    construct
                        .clone()
                        .map(|(range, spans, day)| (range, spans, BaselineSource::Construct(day)))
                })
                .or_else(|| {
                    preceding_with_data
                        .map(|(range, spans)| (range, spans, BaselineSource::Preceding))
                }),
            BaselinePolicy::Preceding => preceding_with_data
                .map(|(range, spans)| (range, spans, BaselineSource::Preceding))
                .or_else(|| {
                    construct
                        .clone()
                        .map(|(range, spans, day)| (range, spans, BaselineSource::Construct(day)))
                }),
            BaselinePolicy::Construct => construct
                .clone()
                .map(|(range, spans, day)| (range, spans, BaselineSource::Construct(day)))
                .or_else(|| {
                    preceding_with_data
                        .map(|(range, spans)| (range, spans, BaselineSource::Preceding))
                }),
        };
        let (baseline, baseline_spans, baseline_source) = chosen.unwrap_or_else(|| {
            let from = injected.saturating_sub(window_length);
            (TimeRange::new(from, injected), 0, BaselineSource::Before)
        });
        cases.push(Case {
            fault: index,
            window,
            baseline,
            baseline_source,
            window_spans: in_window.len(),
            baseline_spans,
        });
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60 * SECOND;
    const T0: u64 = 1_674_981_784 * SECOND;

    fn fault(day: &str, at: u64) -> Fault {
        Fault {
            day: day.into(),
            inject_time: String::new(),
            inject_unix_nano: at,
            pod: "p".into(),
            service: "s".into(),
            kind: "k".into(),
        }
    }

    fn settings(policy: BaselinePolicy) -> Settings {
        Settings {
            max_window: 3 * MINUTE,
            lookback: 10 * MINUTE,
            policy,
        }
    }

    /// One span every ten seconds over `[from, to)`.
    fn spans_every_ten_seconds(from: u64, to: u64) -> Vec<u64> {
        (from..to).step_by(10 * SECOND as usize).collect()
    }

    #[test]
    fn the_window_lasts_its_length_but_stops_at_the_next_injection() {
        let faults = vec![fault("d", T0), fault("d", T0 + 2 * MINUTE)];
        let mut starts = spans_every_ten_seconds(T0 - MINUTE, T0 + 90 * SECOND);
        starts.extend(spans_every_ten_seconds(T0 + 2 * MINUTE, T0 + 10 * MINUTE));
        let cases = plan(&faults, &starts, &[], &settings(BaselinePolicy::Auto));
        // Spans stop 80 s after the first injection; metrics and logs may not.
        assert_eq!(cases[0].window, TimeRange::new(T0, T0 + 2 * MINUTE));
        assert_eq!(cases[0].window_spans, 9);
        assert_eq!(
            cases[1].window,
            TimeRange::new(T0 + 2 * MINUTE, T0 + 5 * MINUTE)
        );
    }

    #[test]
    fn auto_takes_the_preceding_data_only_when_it_is_as_long_as_the_window() {
        let fault_free = vec![FaultFreePeriod {
            day: "d".into(),
            first_unix_nano: T0 - 60 * MINUTE,
            last_unix_nano: T0 - 57 * MINUTE,
        }];
        let short = spans_every_ten_seconds(T0 - MINUTE, T0 + 2 * MINUTE);
        let cases = plan(
            &[fault("d", T0)],
            &short,
            &fault_free,
            &settings(BaselinePolicy::Auto),
        );
        assert_eq!(
            cases[0].baseline_source,
            BaselineSource::Construct("d".into())
        );
        assert_eq!(
            cases[0].baseline,
            TimeRange::new(T0 - 60 * MINUTE, T0 - 57 * MINUTE + SECOND)
        );

        let long = spans_every_ten_seconds(T0 - 5 * MINUTE, T0 + 2 * MINUTE);
        let cases = plan(
            &[fault("d", T0)],
            &long,
            &fault_free,
            &settings(BaselinePolicy::Auto),
        );
        assert_eq!(cases[0].baseline_source, BaselineSource::Preceding);
        // The minute before the injection is left out: effects come before the label.
        assert_eq!(
            cases[0].baseline,
            TimeRange::new(T0 - 5 * MINUTE, T0 - MINUTE)
        );
        assert_eq!(cases[0].baseline_spans, 24);
    }

    #[test]
    fn the_preceding_baseline_starts_after_the_previous_window() {
        let faults = vec![fault("d", T0), fault("d", T0 + 5 * MINUTE)];
        let starts = spans_every_ten_seconds(T0 - MINUTE, T0 + 8 * MINUTE);
        let cases = plan(&faults, &starts, &[], &settings(BaselinePolicy::Preceding));
        assert_eq!(
            cases[1].baseline,
            TimeRange::new(T0 + 3 * MINUTE, T0 + 4 * MINUTE)
        );
    }

    #[test]
    fn the_fault_free_period_of_the_same_or_an_earlier_day_is_preferred() {
        let periods = vec![
            FaultFreePeriod {
                day: "2023-01-29".into(),
                first_unix_nano: T0,
                last_unix_nano: T0 + MINUTE,
            },
            FaultFreePeriod {
                day: "2023-01-31".into(),
                first_unix_nano: T0 + 48 * 60 * MINUTE,
                last_unix_nano: T0 + 48 * 60 * MINUTE + MINUTE,
            },
        ];
        assert_eq!(
            fault_free_for(&periods, "2023-01-30").unwrap().day,
            "2023-01-29"
        );
        assert_eq!(
            fault_free_for(&periods, "2023-01-31").unwrap().day,
            "2023-01-31"
        );
        assert_eq!(
            fault_free_for(&periods, "2023-01-28").unwrap().day,
            "2023-01-29"
        );
        assert!(fault_free_for(&[], "2023-01-28").is_none());
    }

    #[test]
    fn without_any_data_the_baseline_is_the_stretch_before() {
        let cases = plan(&[fault("d", T0)], &[], &[], &settings(BaselinePolicy::Auto));
        assert_eq!(cases[0].baseline_source, BaselineSource::Before);
        assert_eq!(cases[0].window, TimeRange::new(T0, T0 + 3 * MINUTE));
        assert_eq!(cases[0].baseline, TimeRange::new(T0 - 3 * MINUTE, T0));
    }
}
