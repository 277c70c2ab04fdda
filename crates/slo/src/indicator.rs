//! From application signals to an SLO's events: which signal keys an SLO covers, and which of
//! their requests are good under its indicator. Metric-ratio indicators are computed from
//! metric points by the server instead.

use std::collections::BTreeMap;

use sloscope_model::{SignalKey, SignalKind, SignalStats};

use crate::series::Events;
use crate::spec::{Indicator, Scope, SloSpec};

/// Whether a signal key belongs to the SLO's scope.
pub fn covers(spec: &SloSpec, key: &SignalKey) -> bool {
    if key.service != spec.service
        || spec
            .environment
            .as_ref()
            .is_some_and(|environment| *environment != key.environment)
    {
        return false;
    }
    match &spec.scope {
        Scope::Service => key.kind == SignalKind::Server,
        Scope::Operation { operation } => {
            key.kind == SignalKind::Server && key.operation == *operation
        }
        Scope::Dependency {
            remote_service,
            remote_operation,
        } => {
            key.kind == SignalKind::Dependency
                && key.remote_service == *remote_service
                && remote_operation
                    .as_ref()
                    .is_none_or(|operation| *operation == key.remote_operation)
        }
    }
}

/// Good and total events of one key's stats under the indicator; None for metric ratios.
pub fn events_of(indicator: &Indicator, stats: &SignalStats) -> Option<Events> {
    let good = match indicator {
        Indicator::Availability => stats.requests - stats.faults,
        Indicator::ErrorRate => {
            stats.requests
                - stats
                    .faults
                    .saturating_add(stats.errors)
                    .min(stats.requests)
        }
        Indicator::Latency { threshold_ms } => stats
            .latency
            .count_at_most(*threshold_ms)
            .min(stats.requests),
        Indicator::MetricRatio { .. } => return None,
    };
    Some(Events::new(good, stats.requests))
}

/// Events per minute of the SLO from signal rows `(minute, key, stats)`.
pub fn minute_events<'a>(
    spec: &SloSpec,
    rows: impl IntoIterator<Item = (i64, &'a SignalKey, &'a SignalStats)>,
) -> BTreeMap<i64, Events> {
    let mut minutes: BTreeMap<i64, Events> = BTreeMap::new();
    for (minute, key, stats) in rows {
        if !covers(spec, key) {
            continue;
        }
        if let Some(events) = events_of(&spec.indicator, stats) {
            let slot = minutes.entry(minute).or_default();
            *slot = Events::new(slot.good + events.good, slot.total + events.total);
        }
    }
    minutes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertPolicy;
    use crate::spec::{Budgeting, Window};

    fn spec(scope: Scope, indicator: Indicator) -> SloSpec {
        SloSpec {
            name: "s".into(),
            description: String::new(),
            service: "customers".into(),
            environment: None,
            scope,
            indicator,
            objective: 0.99,
            window: Window::Rolling { days: 30 },
            budgeting: Budgeting::Occurrences,
            alerting: AlertPolicy::workbook(30 * 24 * 60),
            exclusions: vec![],
            labels: Default::default(),
        }
    }

    fn key(kind: SignalKind, operation: &str, remote: &str) -> SignalKey {
        SignalKey {
            kind,
            environment: "default".into(),
            service: "customers".into(),
            operation: operation.into(),
            remote_service: remote.into(),
            remote_operation: String::new(),
            version: "1".into(),
        }
    }

    #[test]
    fn indicators_count_good_events() {
        let mut stats = SignalStats::default();
        for millis in [10.0, 50.0, 150.0, 250.0, 900.0] {
            stats.record(millis, false, false);
        }
        stats.record(20.0, true, false);
        stats.record(30.0, false, true);
        assert_eq!(
            events_of(&Indicator::Availability, &stats),
            Some(Events::new(6, 7))
        );
        assert_eq!(
            events_of(&Indicator::ErrorRate, &stats),
            Some(Events::new(5, 7))
        );
        assert_eq!(
            events_of(
                &Indicator::Latency {
                    threshold_ms: 200.0
                },
                &stats
            ),
            Some(Events::new(5, 7))
        );
    }

    #[test]
    fn scopes_pick_their_keys() {
        let server = key(SignalKind::Server, "GET /customers/{id}", "");
        let other = key(SignalKind::Server, "POST /customers", "");
        let database = key(
            SignalKind::Dependency,
            "GET /customers/{id}",
            "postgresql:shop",
        );
        let by_operation = spec(
            Scope::Operation {
                operation: "GET /customers/{id}".into(),
            },
            Indicator::Availability,
        );
        assert!(
            covers(&by_operation, &server)
                && !covers(&by_operation, &other)
                && !covers(&by_operation, &database)
        );
        let by_dependency = spec(
            Scope::Dependency {
                remote_service: "postgresql:shop".into(),
                remote_operation: None,
            },
            Indicator::Availability,
        );
        assert!(covers(&by_dependency, &database) && !covers(&by_dependency, &server));
        let whole = spec(Scope::Service, Indicator::Availability);
        assert!(covers(&whole, &server) && covers(&whole, &other) && !covers(&whole, &database));
    }
}
