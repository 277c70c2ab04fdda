//! Alert rules and their state machine. Multi-window, multi-burn-rate rules after the SRE
//! Workbook ("Alerting on SLOs", table 5-8): a rule fires when the burn rate over its long
//! window AND over its short window (1/12 of it) both reach the threshold, each window holding
//! at least a minimum number of events. Budget rules fire on the budget remaining; the no-data
//! rule fires when the SLO's scope has had no events for a while.
//!
//! Every rule moves inactive -> pending -> firing -> resolved (-> pending ...), with the time
//! of each step, so that state survives restarts and history can be shown.

use serde::{Deserialize, Serialize};

use crate::budget;
use crate::series::{EventSeries, Events};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Page,
    Ticket,
    Warning,
}

/// One burn-rate rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BurnRule {
    pub severity: Severity,
    pub burn_rate: f64,
    pub long_minutes: i64,
    pub short_minutes: i64,
}

impl BurnRule {
    pub fn name(&self) -> String {
        format!(
            "burn_{}_{}",
            window_label(self.long_minutes),
            window_label(self.short_minutes)
        )
    }
}

/// `5m`, `1h`, `3d`: the shortest exact form of a window.
pub fn window_label(minutes: i64) -> String {
    if minutes % (24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// The default policy of the SRE Workbook for a 30-day period, with windows scaled to
/// `period_minutes` (a 7-day SLO pages on 14.4x over 14 minutes and 70 seconds... rounded to
/// whole minutes, at least one minute).
pub fn workbook_rules(period_minutes: i64) -> Vec<BurnRule> {
    const THIRTY_DAYS: f64 = 30.0 * 24.0 * 60.0;
    let scale = |minutes: i64| {
        ((minutes as f64) * period_minutes as f64 / THIRTY_DAYS)
            .round()
            .max(1.0) as i64
    };
    let rule = |severity, burn_rate, long_minutes: i64| BurnRule {
        severity,
        burn_rate,
        long_minutes: scale(long_minutes),
        short_minutes: scale(long_minutes / 12),
    };
    vec![
        rule(Severity::Page, 14.4, 60),
        rule(Severity::Page, 6.0, 6 * 60),
        rule(Severity::Ticket, 1.0, 3 * 24 * 60),
    ]
}

/// What each rule of an SLO looks at, besides its windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    pub burn_rules: Vec<BurnRule>,
    /// Below this many events in a window, a burn-rate rule does not fire (low traffic).
    pub min_events: u64,
    /// Warn when the remaining budget falls below this share (0.5 = 50 %).
    pub budget_warning: f64,
    /// Minutes without events before the no-data rule fires.
    pub no_data_minutes: i64,
    /// Minutes a condition must hold before pending becomes firing.
    pub pending_minutes: i64,
}

impl AlertPolicy {
    pub fn workbook(period_minutes: i64) -> AlertPolicy {
        AlertPolicy {
            burn_rules: workbook_rules(period_minutes),
            min_events: 20,
            budget_warning: 0.5,
            no_data_minutes: 15,
            pending_minutes: 0,
        }
    }

    /// The longest window any rule needs, in minutes.
    pub fn longest_window(&self) -> i64 {
        self.burn_rules
            .iter()
            .map(|rule| rule.long_minutes)
            .max()
            .unwrap_or(60)
            .max(self.no_data_minutes)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Inactive,
    Pending,
    Firing,
    Resolved,
}

/// The state of one rule, with the times (unix seconds) of its last transitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    pub rule: String,
    pub severity: Severity,
    pub phase: Phase,
    pub pending_since: Option<i64>,
    pub firing_since: Option<i64>,
    pub resolved_at: Option<i64>,
    /// A ticket held back because a page of the same SLO is firing.
    pub inhibited: bool,
}

/// A change worth telling someone about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub rule: String,
    pub severity: Severity,
    pub from: Phase,
    pub to: Phase,
    pub at: i64,
}

impl RuleState {
    pub fn new(rule: String, severity: Severity) -> RuleState {
        RuleState {
            rule,
            severity,
            phase: Phase::Inactive,
            pending_since: None,
            firing_since: None,
            resolved_at: None,
            inhibited: false,
        }
    }

    /// Advances the state machine with this evaluation's verdict.
    pub fn step(&mut self, condition: bool, now: i64, pending_seconds: i64) -> Option<Transition> {
        let before = self.phase;
        match (self.phase, condition) {
            (Phase::Inactive | Phase::Resolved, true) => {
                self.pending_since = Some(now);
                self.phase = Phase::Pending;
                if pending_seconds == 0 {
                    self.phase = Phase::Firing;
                    self.firing_since = Some(now);
                }
            }
            (Phase::Pending, true) => {
                if now - self.pending_since.unwrap_or(now) >= pending_seconds {
                    self.phase = Phase::Firing;
                    self.firing_since = Some(now);
                }
            }
            (Phase::Pending, false) => self.phase = Phase::Inactive,
            (Phase::Firing, false) => {
                self.phase = Phase::Resolved;
                self.resolved_at = Some(now);
            }
            (Phase::Firing, true) | (Phase::Inactive | Phase::Resolved, false) => {}
        }
        (self.phase != before).then(|| Transition {
            rule: self.rule.clone(),
            severity: self.severity,
            from: before,
            to: self.phase,
            at: now,
        })
    }
}

/// One window's figures at an evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowBurn {
    pub window: String,
    pub minutes: i64,
    pub good: u64,
    pub total: u64,
    pub burn_rate: Option<f64>,
}

pub fn window_burn(
    series: &EventSeries,
    now_minute: i64,
    minutes: i64,
    objective: f64,
) -> WindowBurn {
    let events = series.sum(now_minute - minutes + 1, now_minute + 1);
    WindowBurn {
        window: window_label(minutes),
        minutes,
        good: events.good,
        total: events.total,
        burn_rate: budget::burn_rate(events, objective),
    }
}

/// Whether a burn-rate rule's condition holds, and why not when it does not.
pub fn burn_condition(
    rule: &BurnRule,
    long: &WindowBurn,
    short: &WindowBurn,
    min_events: u64,
) -> bool {
    // A burn of exactly the threshold counts, whatever the rounding of 1 - objective.
    let threshold = rule.burn_rate * (1.0 - 1e-9);
    let burning = |window: &WindowBurn| {
        window.total >= min_events && window.burn_rate.is_some_and(|rate| rate >= threshold)
    };
    burning(long) && burning(short)
}

/// Whether the window holds enough events for any burn-rate rule to be trusted.
pub fn has_enough_events(window: Events, min_events: u64) -> bool {
    window.total >= min_events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workbook_rules_for_thirty_days() {
        let rules = workbook_rules(30 * 24 * 60);
        assert_eq!(rules[0].long_minutes, 60);
        assert_eq!(rules[0].short_minutes, 5);
        assert_eq!(rules[1].long_minutes, 360);
        assert_eq!(rules[1].short_minutes, 30);
        assert_eq!(rules[2].long_minutes, 3 * 24 * 60);
        assert_eq!(rules[2].short_minutes, 6 * 60);
        assert_eq!(rules[0].name(), "burn_1h_5m");
        // A 7-day period scales every window by 7/30.
        assert_eq!(workbook_rules(7 * 24 * 60)[0].long_minutes, 14);
    }

    #[test]
    fn state_machine_with_and_without_a_pending_period() {
        let mut state = RuleState::new("r".into(), Severity::Page);
        assert_eq!(state.step(true, 100, 120).unwrap().to, Phase::Pending);
        assert!(state.step(true, 160, 120).is_none());
        assert_eq!(state.step(true, 220, 120).unwrap().to, Phase::Firing);
        assert_eq!(state.firing_since, Some(220));
        let resolved = state.step(false, 400, 120).unwrap();
        assert_eq!(
            (resolved.from, resolved.to),
            (Phase::Firing, Phase::Resolved)
        );
        let mut immediate = RuleState::new("r".into(), Severity::Page);
        assert_eq!(immediate.step(true, 10, 0).unwrap().to, Phase::Firing);
    }
}
