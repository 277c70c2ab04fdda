//! One SLO's evaluation: its event history, its objective and policy, and the state of each
//! alert rule. `evaluate` costs O(number of rules) whatever the period, since every window is
//! a difference of cumulative counts.

use serde::{Deserialize, Serialize};

use crate::alert::{
    AlertPolicy, Phase, RuleState, Severity, Transition, WindowBurn, burn_condition, window_burn,
};
use crate::budget;
use crate::series::{EventSeries, Events};

pub const BUDGET_EXHAUSTED: &str = "budget_exhausted";
pub const BUDGET_WARNING: &str = "budget_warning";
pub const NO_DATA: &str = "no_data";

/// The figures and alert states of one evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Unix seconds.
    pub at: i64,
    pub objective: f64,
    pub period_good: u64,
    pub period_total: u64,
    pub attainment: Option<f64>,
    pub budget_remaining: Option<f64>,
    /// Burn rate over the last hour, the pace the forecast assumes.
    pub current_burn_rate: Option<f64>,
    /// Minutes until the budget is gone at the current burn rate.
    pub exhaustion_forecast_minutes: Option<f64>,
    pub windows: Vec<WindowBurn>,
    pub states: Vec<RuleState>,
    pub transitions: Vec<Transition>,
}

impl Evaluation {
    pub fn firing(&self) -> impl Iterator<Item = &RuleState> {
        self.states
            .iter()
            .filter(|state| state.phase == Phase::Firing)
    }
}

#[derive(Clone, Debug)]
pub struct SloEvaluator {
    objective: f64,
    period_minutes: i64,
    policy: AlertPolicy,
    series: EventSeries,
    states: Vec<RuleState>,
    /// The first evaluation (unix seconds): a new SLO over a silent service waits the no-data
    /// window before saying so.
    started_at: Option<i64>,
}

impl SloEvaluator {
    /// `objective` is a fraction (0.999); `period_minutes` the length of the SLO window.
    pub fn new(objective: f64, period_minutes: i64, policy: AlertPolicy) -> SloEvaluator {
        let minute_span = (policy.longest_window() + 60) as usize;
        let hour_span = (period_minutes / 60 + 2) as usize;
        let mut states: Vec<RuleState> = policy
            .burn_rules
            .iter()
            .map(|rule| RuleState::new(rule.name(), rule.severity))
            .collect();
        states.push(RuleState::new(BUDGET_EXHAUSTED.into(), Severity::Page));
        states.push(RuleState::new(BUDGET_WARNING.into(), Severity::Warning));
        states.push(RuleState::new(NO_DATA.into(), Severity::Ticket));
        SloEvaluator {
            objective,
            period_minutes,
            policy,
            series: EventSeries::new(minute_span, hour_span),
            states,
            started_at: None,
        }
    }

    pub fn record(&mut self, minute: i64, events: Events) {
        self.series.add(minute, events);
    }

    pub fn series(&self) -> &EventSeries {
        &self.series
    }

    pub fn policy(&self) -> &AlertPolicy {
        &self.policy
    }

    pub fn states(&self) -> &[RuleState] {
        &self.states
    }

    /// Restores rule states saved before a restart (matched by rule name).
    pub fn restore(&mut self, saved: &[RuleState]) {
        for state in &mut self.states {
            if let Some(previous) = saved.iter().find(|previous| previous.rule == state.rule) {
                *state = previous.clone();
            }
        }
    }

    /// Evaluates at `now` (unix seconds). The period is the rolling window ending now, or, for
    /// calendar windows, from `period_start_minute` on.
    pub fn evaluate(&mut self, now: i64, period_start_minute: Option<i64>) -> Evaluation {
        let now_minute = now.div_euclid(60);
        self.series.advance_to(now_minute);
        let period_start = period_start_minute.unwrap_or(now_minute - self.period_minutes + 1);
        let period = self.series.sum(period_start, now_minute + 1);
        let attainment = budget::attainment(period);
        let budget_remaining = budget::budget_remaining(period, self.objective);

        let mut windows: Vec<WindowBurn> = Vec::new();
        let window_of = |minutes: i64, windows: &mut Vec<WindowBurn>| -> WindowBurn {
            if let Some(existing) = windows.iter().find(|window| window.minutes == minutes) {
                return existing.clone();
            }
            let computed = window_burn(&self.series, now_minute, minutes, self.objective);
            windows.push(computed.clone());
            computed
        };
        let mut verdicts = Vec::with_capacity(self.states.len());
        for rule in &self.policy.burn_rules {
            let long = window_of(rule.long_minutes, &mut windows);
            let short = window_of(rule.short_minutes, &mut windows);
            verdicts.push(burn_condition(rule, &long, &short, self.policy.min_events));
        }
        let hour = window_of(60, &mut windows);
        let recent = self
            .series
            .sum(now_minute - self.policy.no_data_minutes + 1, now_minute + 1);
        // Budget rules need enough events too: three failures of a quiet first hour are no news.
        let budget_known = period.total >= self.policy.min_events;
        verdicts.push(budget_known && budget_remaining.is_some_and(|remaining| remaining <= 0.0));
        verdicts.push(
            budget_known
                && budget_remaining.is_some_and(|remaining| remaining < self.policy.budget_warning),
        );
        let started_at = *self.started_at.get_or_insert(now);
        let no_data_window = self.policy.no_data_minutes * 60;
        let silent_long_enough = now - started_at >= no_data_window
            || self
                .series
                .first_exact_minute()
                .is_some_and(|first| first <= now_minute - self.policy.no_data_minutes);
        verdicts.push(recent.total == 0 && silent_long_enough);
        windows.sort_by_key(|window| window.minutes);

        let pending_seconds = self.policy.pending_minutes * 60;
        let mut transitions = Vec::new();
        for (state, condition) in self.states.iter_mut().zip(verdicts) {
            transitions.extend(state.step(condition, now, pending_seconds));
        }
        // A firing page makes the same SLO's tickets redundant.
        let page_firing = self
            .states
            .iter()
            .any(|state| state.severity == Severity::Page && state.phase == Phase::Firing);
        for state in &mut self.states {
            if state.severity == Severity::Ticket && state.rule != NO_DATA {
                let was_inhibited = state.inhibited;
                state.inhibited = page_firing && state.phase == Phase::Firing;
                if was_inhibited && !state.inhibited && state.phase == Phase::Firing {
                    transitions.push(Transition {
                        rule: state.rule.clone(),
                        severity: state.severity,
                        from: Phase::Firing,
                        to: Phase::Firing,
                        at: now,
                    });
                }
            }
        }
        let inhibited: Vec<String> = self
            .states
            .iter()
            .filter(|state| state.inhibited)
            .map(|state| state.rule.clone())
            .collect();
        transitions.retain(|transition| !inhibited.contains(&transition.rule));

        let current_burn_rate = hour.burn_rate;
        let exhaustion_forecast_minutes = match (budget_remaining, current_burn_rate) {
            (Some(remaining), Some(rate)) => {
                budget::minutes_to_exhaustion(remaining, rate, self.period_minutes)
            }
            _ => None,
        };
        Evaluation {
            at: now,
            objective: self.objective,
            period_good: period.good,
            period_total: period.total,
            attainment,
            budget_remaining,
            current_burn_rate,
            exhaustion_forecast_minutes,
            windows,
            states: self.states.clone(),
            transitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertPolicy;

    const THIRTY_DAYS: i64 = 30 * 24 * 60;

    fn evaluator() -> SloEvaluator {
        SloEvaluator::new(0.999, THIRTY_DAYS, AlertPolicy::workbook(THIRTY_DAYS))
    }

    /// Feeds `rps` requests per second with `error_ratio` bad, one minute at a time, evaluating
    /// every 30 seconds; returns the first time (seconds after `from`) the rule fired.
    fn run(
        slo: &mut SloEvaluator,
        from_minute: i64,
        minutes: i64,
        rps: u64,
        error_ratio: f64,
        rule: &str,
    ) -> Option<i64> {
        let mut fired = None;
        for minute in from_minute..from_minute + minutes {
            let total = rps * 60;
            let bad = (total as f64 * error_ratio).round() as u64;
            slo.record(minute, Events::new(total - bad, total));
            for half in [30, 60] {
                let evaluation = slo.evaluate(minute * 60 + half - 1, None);
                if fired.is_none() && evaluation.firing().any(|state| state.rule == rule) {
                    fired = Some(minute * 60 + half - 1 - from_minute * 60);
                }
            }
        }
        fired
    }

    /// Two days of healthy traffic so that the budget is intact and no rule is near firing.
    fn healthy(slo: &mut SloEvaluator) -> i64 {
        let days = 2 * 24 * 60;
        assert_eq!(run(slo, 0, days, 100, 0.0, "burn_1h_5m"), None);
        days
    }

    #[test]
    fn a_total_outage_pages_within_about_a_minute() {
        let mut slo = evaluator();
        let start = healthy(&mut slo);
        // The workbook: 1h at 14.4x on 99.9 % needs 1.44 % of the hour bad: 0.0144 h = 52 s.
        let fired = run(&mut slo, start, 10, 100, 1.0, "burn_1h_5m").expect("pages");
        assert!(fired <= 90, "paged after {fired} s");
    }

    #[test]
    fn fifteen_percent_errors_page_after_about_six_minutes_and_clear_after_five() {
        let mut slo = evaluator();
        let start = healthy(&mut slo);
        let fired = run(&mut slo, start, 10, 100, 0.15, "burn_1h_5m").expect("pages");
        // 1.44 % of an hour at 15 % errors: 5.76 minutes.
        assert!((5 * 60..=7 * 60).contains(&fired), "paged after {fired} s");
        // Errors stop: the 5-minute window empties and the page resolves about 5 minutes later.
        let after = start + 10;
        let mut resolved_after = None;
        for minute in after..after + 10 {
            slo.record(minute, Events::new(6000, 6000));
            let evaluation = slo.evaluate(minute * 60 + 59, None);
            let state = evaluation
                .states
                .iter()
                .find(|state| state.rule == "burn_1h_5m")
                .unwrap();
            if resolved_after.is_none() && state.phase == Phase::Resolved {
                resolved_after = Some(minute - after + 1);
            }
        }
        let resolved_after = resolved_after.expect("resolves");
        assert!(
            (4..=6).contains(&resolved_after),
            "resolved after {resolved_after} min"
        );
    }

    #[test]
    fn a_one_x_burn_opens_a_ticket_but_never_pages() {
        let mut slo = evaluator();
        let start = healthy(&mut slo);
        let mut paged = false;
        let mut ticketed = false;
        for minute in start..start + 4 * 24 * 60 {
            slo.record(minute, Events::new(5994, 6000)); // exactly 0.1 % bad: burn rate 1
            let evaluation = slo.evaluate(minute * 60 + 59, None);
            paged |= evaluation
                .firing()
                .any(|state| state.severity == Severity::Page && state.rule.starts_with("burn"));
            ticketed |= evaluation.firing().any(|state| state.rule == "burn_3d_6h");
        }
        assert!(!paged);
        assert!(ticketed);
    }

    #[test]
    fn one_failed_request_at_night_does_not_page() {
        let mut slo = evaluator();
        for minute in 0..120 {
            let events = if minute == 100 {
                Events::new(0, 1)
            } else {
                Events::default()
            };
            slo.record(minute, events);
            let evaluation = slo.evaluate(minute * 60 + 59, None);
            assert!(
                !evaluation
                    .firing()
                    .any(|state| state.rule.starts_with("burn"))
            );
        }
    }

    #[test]
    fn a_firing_page_inhibits_tickets() {
        let mut slo = evaluator();
        let start = healthy(&mut slo);
        run(&mut slo, start, 8 * 60, 100, 1.0, "burn_1h_5m");
        let evaluation = slo.evaluate((start + 8 * 60) * 60, None);
        let ticket = evaluation
            .states
            .iter()
            .find(|state| state.rule == "burn_3d_6h")
            .unwrap();
        assert_eq!(ticket.phase, Phase::Firing);
        assert!(ticket.inhibited);
    }
}
