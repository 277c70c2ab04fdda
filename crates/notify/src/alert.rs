//! The alert a notification is made of: plain data handed over by the SLO evaluator, which
//! decides when an alert fires or clears. This module only names its identity: the key that
//! ties a firing message to its resolved message and lets receivers deduplicate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How urgently a human must act, after the SRE Workbook's page / ticket split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Wake someone up: the budget burns fast enough to be gone within hours or days.
    Page,
    /// Look at it this week: a slow burn.
    Ticket,
    /// Informational: a budget below its warning threshold, missing data.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert of one SLO, as it fires or as it clears. The resolved message of an alert
/// carries the same `slo`, `rule` and `starts_at` as its firing message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub slo: String,
    pub service: String,
    /// The alert rule, e.g. `burn_1h_5m`, `budget_exhausted`, `no_data`.
    pub rule: String,
    pub severity: Severity,
    pub status: AlertStatus,
    /// Unix seconds when the alert began firing.
    pub starts_at: i64,
    /// Unix seconds when the alert cleared; `None` while firing.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// One human sentence, e.g. "customers-availability is burning its error budget at
    /// 15.2x (1h) and 16.0x (5m); 62 % of the 30-day budget left".
    pub summary: String,
    /// `slo`, `service`, `severity`, `rule` plus the SLO's own labels; routes match on these.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Figures: objective, attainment, budget_remaining, burn rates, forecast, incident_url.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Link to the SLO or incident in sloscope's UI.
    #[serde(default)]
    pub url: Option<String>,
}

/// PagerDuty accepts deduplication keys of at most 255 characters.
const MAX_DEDUP_KEY_LENGTH: usize = 255;

impl Alert {
    /// The key shared by the firing and the resolved message of this alert, and by every
    /// repetition of them: `sloscope/<slo>/<rule>/<starts_at>`, or a hash of those parts when
    /// that would exceed PagerDuty's 255 characters.
    pub fn dedup_key(&self) -> String {
        let readable = format!("sloscope/{}/{}/{}", self.slo, self.rule, self.starts_at);
        if readable.len() <= MAX_DEDUP_KEY_LENGTH {
            return readable;
        }
        let starts_at = self.starts_at.to_string();
        let hash = fnv1a64([self.slo.as_str(), self.rule.as_str(), starts_at.as_str()]);
        format!("sloscope/{hash:016x}")
    }
}

/// FNV-1a (64 bit) over the parts, each followed by the byte 0xff, which cannot occur in
/// UTF-8. This is the hash Prometheus and Alertmanager use for label fingerprints, and it is
/// stable across Rust releases, unlike `std`'s `DefaultHasher`.
pub(crate) fn fnv1a64<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    const OFFSET_BASIS: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    const SEPARATOR: u8 = 0xff;
    let mut hash = OFFSET_BASIS;
    for part in parts {
        for &byte in part.as_bytes().iter().chain(std::iter::once(&SEPARATOR)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The alert every payload test in this crate starts from.
    pub(crate) fn sample_alert() -> Alert {
        let labels = [
            ("rule", "burn_1h_5m"),
            ("service", "checkout"),
            ("severity", "page"),
            ("slo", "customers-availability"),
            ("team", "customers"),
        ];
        let annotations = [
            ("budget_remaining", "0.62"),
            ("burn_rate_1h", "15.2"),
            ("burn_rate_5m", "16.0"),
            ("objective", "0.999"),
        ];
        Alert {
            slo: "customers-availability".into(),
            service: "checkout".into(),
            rule: "burn_1h_5m".into(),
            severity: Severity::Page,
            status: AlertStatus::Firing,
            starts_at: 1_793_534_400, // 2026-11-01T12:00:00Z
            ends_at: None,
            summary:
                "customers-availability is burning its error budget at 15.2x (1h) and 16.0x (5m)"
                    .into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            url: Some("https://sloscope.example/slos/customers-availability".into()),
        }
    }

    pub(crate) fn resolved(alert: &Alert, ends_at: i64) -> Alert {
        Alert {
            status: AlertStatus::Resolved,
            ends_at: Some(ends_at),
            ..alert.clone()
        }
    }

    #[test]
    fn dedup_key_is_shared_by_firing_and_resolved() {
        let firing = sample_alert();
        let cleared = resolved(&firing, firing.starts_at + 600);
        assert_eq!(
            firing.dedup_key(),
            "sloscope/customers-availability/burn_1h_5m/1793534400"
        );
        assert_eq!(firing.dedup_key(), cleared.dedup_key());
        let later = Alert {
            starts_at: firing.starts_at + 3600,
            ..firing.clone()
        };
        assert_ne!(firing.dedup_key(), later.dedup_key());
    }

    #[test]
    fn dedup_key_of_a_long_name_is_a_hash_within_pagerduty_limit() {
        let alert = Alert {
            slo: "s".repeat(300),
            ..sample_alert()
        };
        let key = alert.dedup_key();
        assert!(key.len() <= MAX_DEDUP_KEY_LENGTH);
        assert_eq!(key.len(), "sloscope/".len() + 16);
        assert_eq!(key, alert.clone().dedup_key());
    }

    #[test]
    fn fnv1a64_matches_prometheus_label_fingerprints() {
        // prometheus/common model/signature_test.go: the empty set and one labelled set.
        assert_eq!(fnv1a64(std::iter::empty()), 14_695_981_039_346_656_037);
        let labels = ["fear", "love is not enough", "name", "garland, briggs"];
        assert_eq!(fnv1a64(labels), 5_799_056_148_416_392_346);
    }

    #[test]
    fn alert_round_trips_through_json() {
        let alert = sample_alert();
        let json = serde_json::to_string(&alert).expect("serialize");
        let back: Alert = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, alert);
        assert!(json.contains(r#""severity":"page""#));
        assert!(json.contains(r#""status":"firing""#));
    }
}
