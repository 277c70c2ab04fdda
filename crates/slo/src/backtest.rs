//! Replays stored history through an SLO's alert policy: when each rule would have fired and
//! cleared, how long after the trouble began it fired (detection time), and how much of the
//! error budget was gone by then. Teams tune a policy with this before trusting it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::{Phase, Severity};
use crate::instance::SloInstance;
use crate::series::Events;
use crate::spec::SloSpec;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    pub rule: String,
    pub severity: Severity,
    /// When the trouble began: the first minute, within the rule's long window, that burned
    /// at the rule's rate on its own (unix seconds).
    pub onset_at: i64,
    pub fired_at: i64,
    pub cleared_at: Option<i64>,
    pub detection_seconds: i64,
    /// Share of the period's error budget spent between the onset and the firing.
    pub budget_consumed_at_firing: f64,
    pub budget_remaining_at_firing: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    pub slo: String,
    pub from: i64,
    pub to: i64,
    pub evaluations: u64,
    pub firings: Vec<Firing>,
}

/// Replays `minutes` (the SLO's events per minute, history before `from` included) from `from`
/// to `to` (unix seconds), evaluating once a minute at the end of each minute.
pub fn backtest(spec: &SloSpec, minutes: &BTreeMap<i64, Events>, from: i64, to: i64) -> Backtest {
    let mut instance = SloInstance::new(spec.clone());
    let from_minute = from.div_euclid(60);
    let to_minute = to.div_euclid(60);
    let history: BTreeMap<i64, Events> = minutes
        .range(..from_minute)
        .map(|(minute, events)| (*minute, *events))
        .collect();
    instance.observe(&history, from_minute);
    let mut firings: Vec<Firing> = Vec::new();
    let mut evaluations = 0;
    for minute in from_minute..to_minute {
        let current: BTreeMap<i64, Events> = minutes
            .get(&minute)
            .map(|events| (minute, *events))
            .into_iter()
            .collect();
        instance.observe(&current, minute);
        let now = minute * 60 + 59;
        let evaluation = instance.evaluate(now);
        evaluations += 1;
        for transition in &evaluation.transitions {
            match transition.to {
                Phase::Firing if transition.from != Phase::Firing => {
                    let onset_minute = onset(spec, minutes, &transition.rule, minute);
                    let spent: u64 = minutes
                        .range(onset_minute..=minute)
                        .map(|(_, events)| events.bad())
                        .sum();
                    let allowed = (1.0 - spec.objective) * evaluation.period_total as f64;
                    firings.push(Firing {
                        rule: transition.rule.clone(),
                        severity: transition.severity,
                        onset_at: onset_minute * 60,
                        fired_at: now,
                        cleared_at: None,
                        detection_seconds: now - onset_minute * 60,
                        budget_consumed_at_firing: if allowed > 0.0 {
                            spent as f64 / allowed
                        } else {
                            0.0
                        },
                        budget_remaining_at_firing: evaluation.budget_remaining,
                    });
                }
                Phase::Resolved => {
                    if let Some(open) = firings.iter_mut().rev().find(|firing| {
                        firing.rule == transition.rule && firing.cleared_at.is_none()
                    }) {
                        open.cleared_at = Some(now);
                    }
                }
                _ => {}
            }
        }
    }
    Backtest {
        slo: spec.name.clone(),
        from,
        to,
        evaluations,
        firings,
    }
}

/// The first minute within the rule's long window before `fired_minute` whose own error
/// ratio reached the rule's burn rate; the firing minute itself when none did.
fn onset(
    spec: &SloSpec,
    minutes: &BTreeMap<i64, Events>,
    rule_name: &str,
    fired_minute: i64,
) -> i64 {
    let Some(rule) = spec
        .alerting
        .burn_rules
        .iter()
        .find(|rule| rule.name() == rule_name)
    else {
        return fired_minute;
    };
    let threshold = rule.burn_rate * (1.0 - spec.objective);
    minutes
        .range(fired_minute - rule.long_minutes + 1..=fired_minute)
        .find(|(_, events)| events.error_ratio().is_some_and(|ratio| ratio >= threshold))
        .map(|(minute, _)| *minute)
        .unwrap_or(fired_minute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertPolicy;
    use crate::spec::{Budgeting, Indicator, Scope, Window};

    #[test]
    fn an_outage_is_found_with_its_detection_time() {
        let spec = SloSpec {
            name: "checkout".into(),
            description: String::new(),
            service: "checkout".into(),
            environment: None,
            scope: Scope::Service,
            indicator: Indicator::Availability,
            objective: 0.999,
            window: Window::Rolling { days: 30 },
            budgeting: Budgeting::Occurrences,
            alerting: AlertPolicy::workbook(30 * 24 * 60),
            exclusions: vec![],
            labels: Default::default(),
        };
        let start = 28_000_000;
        let outage = start + 1440;
        let minutes: BTreeMap<i64, Events> = (start..start + 1500)
            .map(|minute| {
                let bad = if (outage..outage + 20).contains(&minute) {
                    6000
                } else {
                    0
                };
                (minute, Events::new(6000 - bad, 6000))
            })
            .collect();
        let report = backtest(&spec, &minutes, (start + 1400) * 60, (start + 1500) * 60);
        let page = report
            .firings
            .iter()
            .find(|firing| firing.rule == "burn_1h_5m")
            .expect("the outage pages");
        assert_eq!(page.onset_at, outage * 60);
        assert!(page.detection_seconds <= 120, "{}", page.detection_seconds);
        assert!(page.cleared_at.is_some());
        assert!(page.budget_consumed_at_firing > 0.0);
    }
}
