//! One live SLO: its spec, its evaluator, and the bookkeeping that turns "the totals the
//! rollups hold for each recent minute" into events recorded exactly once. Rollups of the
//! last few minutes still grow (late spans, the current minute), so the instance remembers
//! what it recorded for them and records only the difference.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::cron::ExclusionSchedule;
use crate::evaluate::{Evaluation, SloEvaluator};
use crate::series::Events;
use crate::spec::{Budgeting, CalendarUnit, SloSpec, Window};
use crate::timeslice::Slicer;

/// Minutes whose rollups may still change; older minutes are final.
pub const REVISABLE_MINUTES: i64 = 5;

#[derive(Clone, Debug)]
pub struct SloInstance {
    spec: SloSpec,
    evaluator: SloEvaluator,
    slicer: Option<Slicer>,
    /// What was recorded (occurrences) or seen (timeslices) for minutes not yet final.
    recent: BTreeMap<i64, Events>,
    /// The first minute not yet final.
    final_before: i64,
    /// The spec's exclusion windows, compiled once.
    exclusions: ExclusionSchedule,
}

impl SloInstance {
    pub fn new(spec: SloSpec) -> SloInstance {
        let evaluator = SloEvaluator::new(
            spec.objective,
            spec.window.period_minutes(),
            spec.alerting.clone(),
        );
        let slicer = match spec.budgeting {
            Budgeting::Occurrences => None,
            Budgeting::Timeslices {
                slice_minutes,
                slice_target,
            } => Some(Slicer::new(i64::from(slice_minutes), slice_target)),
        };
        // Specs are validated when parsed, so their cron expressions compile.
        let exclusions = ExclusionSchedule::new(&spec.exclusions)
            .unwrap_or_else(|_| ExclusionSchedule::new(&[]).expect("no exclusions"));
        SloInstance {
            spec,
            evaluator,
            slicer,
            recent: BTreeMap::new(),
            final_before: i64::MIN,
            exclusions,
        }
    }

    pub fn spec(&self) -> &SloSpec {
        &self.spec
    }

    pub fn evaluator(&self) -> &SloEvaluator {
        &self.evaluator
    }

    pub fn evaluator_mut(&mut self) -> &mut SloEvaluator {
        &mut self.evaluator
    }

    /// Takes the current totals of some minutes (in any order, each complete as of now).
    /// Excluded minutes are dropped; only growth over what was seen before is recorded.
    pub fn observe(&mut self, minutes: &BTreeMap<i64, Events>, now_minute: i64) {
        let horizon = now_minute - REVISABLE_MINUTES;
        for (&minute, &events) in minutes {
            if minute < self.final_before || self.exclusions.excluded(minute) {
                continue;
            }
            let seen = self.recent.get(&minute).copied().unwrap_or_default();
            if self.slicer.is_none() && events.total > seen.total {
                let good = events
                    .good
                    .saturating_sub(seen.good)
                    .min(events.total - seen.total);
                self.evaluator
                    .record(minute, Events::new(good, events.total - seen.total));
            }
            self.recent.insert(minute, events);
        }
        // Minutes past the horizon are final: slice them, and forget them.
        let still_open = self.recent.split_off(&horizon);
        let finished = std::mem::replace(&mut self.recent, still_open);
        if let Some(slicer) = &mut self.slicer {
            for (minute, events) in finished {
                if let Some((slice_end, slice_event)) = slicer.push(minute, events) {
                    self.evaluator.record(slice_end, slice_event);
                }
            }
            if let Some((slice_end, slice_event)) = slicer.flush_before(horizon) {
                self.evaluator.record(slice_end, slice_event);
            }
        }
        self.final_before = self.final_before.max(horizon);
    }

    /// The first minute of the current period for calendar windows; None for rolling ones.
    pub fn period_start_minute(&self, now: i64) -> Option<i64> {
        let Window::Calendar { unit, timezone } = &self.spec.window else {
            return None;
        };
        let zone = TimeZone::get(timezone).unwrap_or(TimeZone::UTC);
        let instant = Timestamp::from_second(now).ok()?.to_zoned(zone);
        let day_start = instant.start_of_day().ok()?;
        let start = match unit {
            CalendarUnit::Month => day_start.first_of_month().ok()?.start_of_day().ok()?,
            CalendarUnit::Week => {
                let days_since_monday = i64::from(day_start.weekday().to_monday_zero_offset());
                day_start
                    .checked_sub(jiff::Span::new().days(days_since_monday))
                    .ok()?
            }
        };
        Some(start.timestamp().as_second().div_euclid(60))
    }

    pub fn evaluate(&mut self, now: i64) -> Evaluation {
        let period_start = self.period_start_minute(now);
        self.evaluator.evaluate(now, period_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertPolicy;
    use crate::spec::{Exclusion, Indicator, Scope};

    fn spec(budgeting: Budgeting, window: Window) -> SloSpec {
        SloSpec {
            name: "s".into(),
            description: String::new(),
            service: "customers".into(),
            environment: None,
            scope: Scope::Service,
            indicator: Indicator::Availability,
            objective: 0.99,
            window,
            budgeting,
            alerting: AlertPolicy::workbook(30 * 24 * 60),
            exclusions: vec![],
            labels: Default::default(),
        }
    }

    #[test]
    fn growing_minutes_are_recorded_once() {
        let mut slo = SloInstance::new(spec(Budgeting::Occurrences, Window::Rolling { days: 30 }));
        let now_minute = 1_000_000;
        slo.observe(
            &BTreeMap::from([(now_minute, Events::new(5, 10))]),
            now_minute,
        );
        slo.observe(
            &BTreeMap::from([(now_minute, Events::new(8, 20))]),
            now_minute,
        );
        slo.observe(
            &BTreeMap::from([
                (now_minute, Events::new(8, 20)),
                (now_minute + 1, Events::new(1, 1)),
            ]),
            now_minute + 1,
        );
        let evaluation = slo.evaluate((now_minute + 1) * 60 + 30);
        assert_eq!((evaluation.period_good, evaluation.period_total), (9, 21));
    }

    #[test]
    fn excluded_minutes_do_not_count() {
        let mut with_exclusion = spec(Budgeting::Occurrences, Window::Rolling { days: 30 });
        with_exclusion.exclusions = vec![Exclusion::Once {
            from: 100 * 60,
            to: 102 * 60,
            reason: "maintenance".into(),
        }];
        let mut slo = SloInstance::new(with_exclusion);
        let minutes: BTreeMap<i64, Events> = (98..104)
            .map(|minute| (minute, Events::new(0, 10)))
            .collect();
        slo.observe(&minutes, 200);
        assert_eq!(slo.evaluate(200 * 60).period_total, 40);
    }

    #[test]
    fn timeslices_count_slices() {
        let mut slo = SloInstance::new(spec(
            Budgeting::Timeslices {
                slice_minutes: 5,
                slice_target: 0.9,
            },
            Window::Rolling { days: 30 },
        ));
        // Ten minutes: the first slice is healthy, the second has one terrible minute.
        let minutes: BTreeMap<i64, Events> = (0..10)
            .map(|minute| {
                (
                    minute,
                    if minute == 7 {
                        Events::new(0, 10)
                    } else {
                        Events::new(10, 10)
                    },
                )
            })
            .collect();
        slo.observe(&minutes, 100);
        let evaluation = slo.evaluate(100 * 60);
        assert_eq!((evaluation.period_good, evaluation.period_total), (1, 2));
    }

    #[test]
    fn calendar_months_start_at_local_midnight() {
        let slo = SloInstance::new(spec(
            Budgeting::Occurrences,
            Window::Calendar {
                unit: CalendarUnit::Month,
                timezone: "Europe/Berlin".into(),
            },
        ));
        // 2026-11-21T12:00:00Z: the month began 2026-10-31T23:00:00Z in Berlin.
        let now = 1_795_262_400;
        assert_eq!(slo.period_start_minute(now), Some(1_793_487_600 / 60));
    }
}
