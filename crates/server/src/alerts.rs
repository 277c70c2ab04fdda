//! Turns SLO alert transitions into notifications: a sentence a person reads at 3 a.m., the
//! figures behind it, and the labels routes match on. Delivery is `sloscope-notify`'s.

use std::collections::BTreeMap;

use sloscope_notify::{Alert, AlertStatus, Notifier};
use sloscope_slo::alert::window_label;
use sloscope_slo::spec::SloSpec;
use sloscope_slo::{Evaluation, Phase, Severity, Transition};

use crate::slos::AlertSink;

pub struct NotifierSink {
    notifier: Notifier,
    external_url: Option<String>,
}

impl NotifierSink {
    pub fn new(notifier: Notifier, external_url: Option<String>) -> NotifierSink {
        NotifierSink {
            notifier,
            external_url,
        }
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }
}

fn percent(value: f64) -> String {
    format!("{:.2} %", value * 100.0)
}

/// "1d 2h", "45m": a duration as people say it.
pub fn human_minutes(minutes: f64) -> String {
    let total = minutes.round().max(0.0) as i64;
    let (days, hours, rest) = (total / 1440, total % 1440 / 60, total % 60);
    match (days, hours) {
        (0, 0) => format!("{rest}m"),
        (0, _) => format!("{hours}h {rest}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// The sentence of a notification.
pub fn summary(spec: &SloSpec, transition: &Transition, evaluation: &Evaluation) -> String {
    let budget = evaluation
        .budget_remaining
        .map(percent)
        .unwrap_or_else(|| "unknown".into());
    let period = window_label(spec.window.period_minutes());
    if transition.to == Phase::Resolved {
        return format!(
            "{}: {} resolved; {budget} of the {period} error budget left",
            spec.name, transition.rule
        );
    }
    let rates: Vec<String> = evaluation
        .windows
        .iter()
        .filter(|window| transition.rule.contains(&format!("_{}", window.window)))
        .filter_map(|window| {
            window
                .burn_rate
                .map(|rate| format!("{rate:.1}x ({})", window.window))
        })
        .collect();
    let what = match transition.rule.as_str() {
        "budget_exhausted" => "has exhausted its error budget".to_owned(),
        "budget_warning" => format!(
            "is below {} of its error budget",
            percent(spec.alerting.budget_warning)
        ),
        "no_data" => format!(
            "has had no events for {}",
            window_label(spec.alerting.no_data_minutes)
        ),
        _ => format!("is burning its error budget at {}", rates.join(" and ")),
    };
    let forecast = evaluation
        .exhaustion_forecast_minutes
        .map(|minutes| format!("; exhausted in {} at this rate", human_minutes(minutes)))
        .unwrap_or_default();
    format!(
        "{} ({}) {what}; {budget} of the {period} budget left{forecast}",
        spec.name, spec.service
    )
}

impl AlertSink for NotifierSink {
    fn alert(&self, spec: &SloSpec, transition: &Transition, evaluation: &Evaluation) {
        let status = match transition.to {
            Phase::Firing => AlertStatus::Firing,
            Phase::Resolved => AlertStatus::Resolved,
            Phase::Pending | Phase::Inactive => return,
        };
        let state = evaluation
            .states
            .iter()
            .find(|state| state.rule == transition.rule);
        let starts_at = state
            .and_then(|state| state.firing_since)
            .unwrap_or(transition.at);
        let severity = match transition.severity {
            Severity::Page => sloscope_notify::Severity::Page,
            Severity::Ticket => sloscope_notify::Severity::Ticket,
            Severity::Warning => sloscope_notify::Severity::Warning,
        };
        let mut labels: BTreeMap<String, String> = spec.labels.clone();
        labels.insert("slo".into(), spec.name.clone());
        labels.insert("service".into(), spec.service.clone());
        labels.insert("rule".into(), transition.rule.clone());
        labels.insert("severity".into(), severity.as_str().into());
        let mut annotations = BTreeMap::new();
        annotations.insert("objective".into(), percent(spec.objective));
        if let Some(attainment) = evaluation.attainment {
            annotations.insert("attainment".into(), percent(attainment));
        }
        if let Some(remaining) = evaluation.budget_remaining {
            annotations.insert("budget_remaining".into(), percent(remaining));
        }
        for window in &evaluation.windows {
            if let Some(rate) = window.burn_rate {
                annotations.insert(format!("burn_rate_{}", window.window), format!("{rate:.2}"));
            }
        }
        if let Some(minutes) = evaluation.exhaustion_forecast_minutes {
            annotations.insert("exhaustion_forecast".into(), human_minutes(minutes));
        }
        let url = self
            .external_url
            .as_ref()
            .map(|base| format!("{}/slos/{}", base.trim_end_matches('/'), spec.name));
        self.notifier.send(Alert {
            slo: spec.name.clone(),
            service: spec.service.clone(),
            rule: transition.rule.clone(),
            severity,
            status,
            starts_at,
            ends_at: (status == AlertStatus::Resolved).then_some(transition.at),
            summary: summary(spec, transition, evaluation),
            labels,
            annotations,
            url,
        });
    }
}

/// Logs and notifies: every transition is logged, firing and resolved ones are delivered.
pub struct Sinks(pub Vec<std::sync::Arc<dyn AlertSink>>);

impl AlertSink for Sinks {
    fn alert(&self, spec: &SloSpec, transition: &Transition, evaluation: &Evaluation) {
        for sink in &self.0 {
            sink.alert(spec, transition, evaluation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(human_minutes(45.2), "45m");
        assert_eq!(human_minutes(125.0), "2h 5m");
        assert_eq!(human_minutes(1560.0), "1d 2h");
    }
}
