//! What each kind of receiver is sent: pure functions from an [`Alert`] to the JSON its API
//! expects, with each API's size limits enforced here so that a long summary is shortened
//! rather than rejected.
//!
//! - generic webhook: the alert itself plus `version` and `dedup_key`;
//! - Slack incoming webhook: `text` (the notification fallback) and Block Kit `blocks`;
//! - PagerDuty Events API v2: a `trigger` or `resolve` event keyed by the alert's dedup key;
//! - Alertmanager webhook receiver, version 4, one alert per message.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::alert::{Alert, AlertStatus, Severity, fnv1a64};
use crate::config::{Channel, Destination};
use crate::transport::OutgoingRequest;

/// Version of the generic webhook body; bumped on an incompatible change.
pub const WEBHOOK_VERSION: &str = "1";
/// What Alertmanager writes as `endsAt` while an alert fires: Go's zero time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

const SLACK_HEADER_MAX_CHARS: usize = 150;
const SLACK_TEXT_MAX_CHARS: usize = 3000;
const SLACK_FIELD_MAX_CHARS: usize = 2000;
const SLACK_MAX_FIELDS: usize = 10;
const SLACK_BUTTON_URL_MAX_CHARS: usize = 3000;
const PAGERDUTY_SUMMARY_MAX_CHARS: usize = 1024;

/// The request `channel` sends for `alert`. `external_url` is sloscope's own address, for
/// Alertmanager's `externalURL`.
pub fn request_for(
    channel: &Channel,
    alert: &Alert,
    external_url: Option<&str>,
) -> OutgoingRequest {
    let (body, headers) = match channel.destination() {
        Destination::Webhook { headers, .. } => (webhook_body(alert), headers.clone()),
        Destination::Slack { .. } => (slack_body(alert), Vec::new()),
        Destination::PagerDuty { routing_key, .. } => {
            (pagerduty_body(alert, routing_key.expose()), Vec::new())
        }
        Destination::Alertmanager { headers, .. } => (
            alertmanager_body(alert, channel.name(), external_url.unwrap_or_default()),
            headers.clone(),
        ),
    };
    OutgoingRequest {
        url: channel.url().clone(),
        headers,
        body: body.to_string().into_bytes(),
    }
}

/// The alert as JSON, plus `version` and `dedup_key` (shared by its firing and resolved
/// messages, for receivers that deduplicate).
pub fn webhook_body(alert: &Alert) -> Value {
    let mut body = Map::new();
    body.insert("version".into(), json!(WEBHOOK_VERSION));
    body.insert("dedup_key".into(), json!(alert.dedup_key()));
    // An `Alert` always serializes to an object; anything else would be a bug here.
    if let Ok(Value::Object(fields)) = serde_json::to_value(alert) {
        body.extend(fields);
    }
    Value::Object(body)
}

/// A Slack incoming-webhook message: a coloured header, the summary, the key figures as
/// fields and a button to sloscope.
pub fn slack_body(alert: &Alert) -> Value {
    let (emoji, status_word) = match alert.status {
        AlertStatus::Firing => (":red_circle:", "Firing"),
        AlertStatus::Resolved => (":large_green_circle:", "Resolved"),
    };
    let fallback_text = format!(
        "{emoji} [{}:{}] {} {}: {}",
        alert.status.as_str().to_uppercase(),
        alert.severity.as_str(),
        alert.slo,
        alert.rule,
        alert.summary
    );

    let mut fields = vec![
        ("Service", alert.service.clone()),
        ("Severity", alert.severity.as_str().to_owned()),
        ("Rule", alert.rule.clone()),
        ("Started", rfc3339_or_zero(Some(alert.starts_at))),
    ];
    if alert.status == AlertStatus::Resolved {
        fields.push(("Resolved", rfc3339_or_zero(alert.ends_at)));
    }
    let mut field_blocks: Vec<Value> = fields
        .iter()
        .map(|(name, value)| slack_field(name, value))
        .collect();
    for (name, value) in &alert.annotations {
        if field_blocks.len() == SLACK_MAX_FIELDS {
            break;
        }
        field_blocks.push(slack_field(name, value));
    }

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(&format!("{emoji} {status_word}: {}", alert.slo), SLACK_HEADER_MAX_CHARS),
                "emoji": true,
            },
        }),
        json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&escape_mrkdwn(&alert.summary), SLACK_TEXT_MAX_CHARS)},
        }),
        json!({"type": "section", "fields": field_blocks}),
    ];
    if let Some(url) = alert
        .url
        .as_deref()
        .filter(|url| url.chars().count() <= SLACK_BUTTON_URL_MAX_CHARS)
    {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in sloscope"},
                "url": url,
            }],
        }));
    }
    json!({
        "text": truncate(&escape_mrkdwn(&fallback_text), SLACK_TEXT_MAX_CHARS),
        "blocks": blocks,
    })
}

fn slack_field(name: &str, value: &str) -> Value {
    let text = format!("*{}*\n{}", escape_mrkdwn(name), escape_mrkdwn(value));
    json!({"type": "mrkdwn", "text": truncate(&text, SLACK_FIELD_MAX_CHARS)})
}

/// Slack reads `&`, `<` and `>` as markup; everything else is literal enough.
fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A PagerDuty Events API v2 event. The dedup key is the alert's, so the resolve event
/// closes the incident the trigger opened, and a repeated trigger adds no second incident.
pub fn pagerduty_body(alert: &Alert, routing_key: &str) -> Value {
    let dedup_key = alert.dedup_key();
    if alert.status == AlertStatus::Resolved {
        // PagerDuty reads only the key of a resolve event.
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        });
    }
    let summary = if alert.summary.trim().is_empty() {
        format!("{} {}", alert.slo, alert.rule)
    } else {
        alert.summary.clone()
    };
    let source = if alert.service.is_empty() {
        "sloscope"
    } else {
        alert.service.as_str()
    };
    let severity = match alert.severity {
        Severity::Page => "critical",
        Severity::Ticket | Severity::Warning => "warning",
    };
    let mut payload = json!({
        "summary": truncate(&summary, PAGERDUTY_SUMMARY_MAX_CHARS),
        "source": source,
        "severity": severity,
        "component": alert.slo,
        "group": alert.service,
        "class": alert.rule,
        "custom_details": alert.annotations,
    });
    if let Some(timestamp) = rfc3339(alert.starts_at) {
        payload["timestamp"] = json!(timestamp);
    }
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
        "client": "sloscope",
    });
    let mut links = Vec::new();
    if let Some(url) = &alert.url {
        event["client_url"] = json!(url);
        links.push(json!({"href": url, "text": "Open in sloscope"}));
    }
    if let Some(incident_url) = alert.annotations.get("incident_url")
        && alert.url.as_ref() != Some(incident_url)
    {
        links.push(json!({"href": incident_url, "text": "Incident"}));
    }
    if !links.is_empty() {
        event["links"] = json!(links);
    }
    event
}

/// The body Alertmanager's webhook receiver posts (version 4), for one alert, so that tools
/// written for Alertmanager (and Alertmanager-compatible relays) take sloscope's alerts.
/// The alert's labels gain `alertname` (the rule) and its annotations gain `summary`, the
/// two names Alertmanager templates rely on.
pub fn alertmanager_body(alert: &Alert, receiver: &str, external_url: &str) -> Value {
    let mut labels = alert.labels.clone();
    labels.insert("alertname".into(), alert.rule.clone());
    let mut annotations = alert.annotations.clone();
    annotations
        .entry("summary".into())
        .or_insert_with(|| alert.summary.clone());
    let group_labels = BTreeMap::from([
        ("alertname".to_owned(), alert.rule.clone()),
        ("slo".to_owned(), alert.slo.clone()),
    ]);
    let ends_at = match alert.status {
        AlertStatus::Firing => ZERO_TIME.to_owned(),
        AlertStatus::Resolved => rfc3339_or_zero(alert.ends_at),
    };
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{}", label_set_string(&group_labels)),
        "truncatedAlerts": 0,
        "status": alert.status.as_str(),
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [{
            "status": alert.status.as_str(),
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339_or_zero(Some(alert.starts_at)),
            "endsAt": ends_at,
            "generatorURL": alert.url.as_deref().unwrap_or_default(),
            "fingerprint": fingerprint(&labels),
        }],
    })
}

/// Alertmanager's alert fingerprint: FNV-1a 64 over the sorted label names and values, as
/// 16 lowercase hex digits. Equal label sets give equal fingerprints across restarts.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let parts = labels
        .iter()
        .flat_map(|(name, value)| [name.as_str(), value.as_str()]);
    format!("{:016x}", fnv1a64(parts))
}

/// `{alertname="x", slo="y"}`, as Alertmanager prints a label set in a group key.
fn label_set_string(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={}", Value::String(value.clone())))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Unix seconds as RFC 3339 in UTC; `None` outside years 0 to 9999.
pub fn rfc3339(unix_seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// A missing or unrepresentable time shows as Go's zero time, which Alertmanager's
/// consumers already read as "unknown".
fn rfc3339_or_zero(unix_seconds: Option<i64>) -> String {
    unix_seconds
        .and_then(rfc3339)
        .unwrap_or_else(|| ZERO_TIME.to_owned())
}

/// At most `max_chars` characters, the last one an ellipsis when something was cut.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut shortened: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    shortened.push('…');
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::{resolved, sample_alert};
    use crate::secret::Secret;

    const ENDS_AT: i64 = 1_793_538_000; // 2026-11-01T13:00:00Z

    #[test]
    fn webhook_body_is_the_alert_with_version_and_dedup_key() {
        assert_eq!(
            webhook_body(&sample_alert()),
            json!({
                "version": "1",
                "dedup_key": "sloscope/customers-availability/burn_1h_5m/1793534400",
                "slo": "customers-availability",
                "service": "checkout",
                "rule": "burn_1h_5m",
                "severity": "page",
                "status": "firing",
                "starts_at": 1_793_534_400,
                "ends_at": null,
                "summary": "customers-availability is burning its error budget at 15.2x (1h) and 16.0x (5m)",
                "labels": {
                    "rule": "burn_1h_5m",
                    "service": "checkout",
                    "severity": "page",
                    "slo": "customers-availability",
                    "team": "customers",
                },
                "annotations": {
                    "budget_remaining": "0.62",
                    "burn_rate_1h": "15.2",
                    "burn_rate_5m": "16.0",
                    "objective": "0.999",
                },
                "url": "https://sloscope.example/slos/customers-availability",
            })
        );
    }

    #[test]
    fn slack_firing_message() {
        assert_eq!(
            slack_body(&sample_alert()),
            json!({
                "text": ":red_circle: [FIRING:page] customers-availability burn_1h_5m: customers-availability is burning its error budget at 15.2x (1h) and 16.0x (5m)",
                "blocks": [
                    {
                        "type": "header",
                        "text": {"type": "plain_text", "text": ":red_circle: Firing: customers-availability", "emoji": true},
                    },
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": "customers-availability is burning its error budget at 15.2x (1h) and 16.0x (5m)"},
                    },
                    {
                        "type": "section",
                        "fields": [
                            {"type": "mrkdwn", "text": "*Service*\ncheckout"},
                            {"type": "mrkdwn", "text": "*Severity*\npage"},
                            {"type": "mrkdwn", "text": "*Rule*\nburn_1h_5m"},
                            {"type": "mrkdwn", "text": "*Started*\n2026-11-01T12:00:00Z"},
                            {"type": "mrkdwn", "text": "*budget_remaining*\n0.62"},
                            {"type": "mrkdwn", "text": "*burn_rate_1h*\n15.2"},
                            {"type": "mrkdwn", "text": "*burn_rate_5m*\n16.0"},
                            {"type": "mrkdwn", "text": "*objective*\n0.999"},
                        ],
                    },
                    {
                        "type": "actions",
                        "elements": [{
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open in sloscope"},
                            "url": "https://sloscope.example/slos/customers-availability",
                        }],
                    },
                ],
            })
        );
    }

    #[test]
    fn slack_resolved_message_is_green_and_says_when() {
        let mut alert = resolved(&sample_alert(), ENDS_AT);
        alert.url = None;
        alert.annotations.clear();
        alert.summary = "errors < 1 % & falling".into();
        assert_eq!(
            slack_body(&alert),
            json!({
                "text": ":large_green_circle: [RESOLVED:page] customers-availability burn_1h_5m: errors &lt; 1 % &amp; falling",
                "blocks": [
                    {
                        "type": "header",
                        "text": {"type": "plain_text", "text": ":large_green_circle: Resolved: customers-availability", "emoji": true},
                    },
                    {"type": "section", "text": {"type": "mrkdwn", "text": "errors &lt; 1 % &amp; falling"}},
                    {
                        "type": "section",
                        "fields": [
                            {"type": "mrkdwn", "text": "*Service*\ncheckout"},
                            {"type": "mrkdwn", "text": "*Severity*\npage"},
                            {"type": "mrkdwn", "text": "*Rule*\nburn_1h_5m"},
                            {"type": "mrkdwn", "text": "*Started*\n2026-11-01T12:00:00Z"},
                            {"type": "mrkdwn", "text": "*Resolved*\n2026-11-01T13:00:00Z"},
                        ],
                    },
                ],
            })
        );
    }

    #[test]
    fn slack_limits_are_respected() {
        let mut alert = sample_alert();
        alert.slo = "s".repeat(400);
        alert.summary = "x".repeat(5000);
        for index in 0..20 {
            alert
                .annotations
                .insert(format!("figure_{index:02}"), "1".into());
        }
        let body = slack_body(&alert);
        let header = body["blocks"][0]["text"]["text"].as_str().expect("header");
        assert_eq!(header.chars().count(), SLACK_HEADER_MAX_CHARS);
        assert!(header.ends_with('…'));
        let section = body["blocks"][1]["text"]["text"].as_str().expect("section");
        assert_eq!(section.chars().count(), SLACK_TEXT_MAX_CHARS);
        assert_eq!(
            body["blocks"][2]["fields"]
                .as_array()
                .expect("fields")
                .len(),
            SLACK_MAX_FIELDS
        );
        assert_eq!(
            body["text"].as_str().expect("text").chars().count(),
            SLACK_TEXT_MAX_CHARS
        );
    }

    #[test]
    fn pagerduty_trigger_event() {
        let mut alert = sample_alert();
        alert.annotations.insert(
            "incident_url".into(),
            "https://sloscope.example/incidents/7".into(),
        );
        assert_eq!(
            pagerduty_body(&alert, "routingkey"),
            json!({
                "routing_key": "routingkey",
                "event_action": "trigger",
                "dedup_key": "sloscope/customers-availability/burn_1h_5m/1793534400",
                "payload": {
                    "summary": "customers-availability is burning its error budget at 15.2x (1h) and 16.0x (5m)",
                    "source": "checkout",
                    "severity": "critical",
                    "timestamp": "2026-11-01T12:00:00Z",
                    "component": "customers-availability",
                    "group": "checkout",
                    "class": "burn_1h_5m",
                    "custom_details": {
                        "budget_remaining": "0.62",
                        "burn_rate_1h": "15.2",
                        "burn_rate_5m": "16.0",
                        "incident_url": "https://sloscope.example/incidents/7",
                        "objective": "0.999",
                    },
                },
                "client": "sloscope",
                "client_url": "https://sloscope.example/slos/customers-availability",
                "links": [
                    {"href": "https://sloscope.example/slos/customers-availability", "text": "Open in sloscope"},
                    {"href": "https://sloscope.example/incidents/7", "text": "Incident"},
                ],
            })
        );
    }

    #[test]
    fn pagerduty_resolve_event_carries_the_trigger_key() {
        let firing = sample_alert();
        let body = pagerduty_body(&resolved(&firing, ENDS_AT), "routingkey");
        assert_eq!(
            body,
            json!({
                "routing_key": "routingkey",
                "event_action": "resolve",
                "dedup_key": "sloscope/customers-availability/burn_1h_5m/1793534400",
            })
        );
        assert_eq!(
            body["dedup_key"],
            pagerduty_body(&firing, "routingkey")["dedup_key"]
        );
    }

    #[test]
    fn pagerduty_severity_mapping_and_summary_limit() {
        let mut alert = sample_alert();
        alert.summary = "é".repeat(2000);
        alert.severity = Severity::Ticket;
        let body = pagerduty_body(&alert, "key");
        assert_eq!(body["payload"]["severity"], "warning");
        let summary = body["payload"]["summary"].as_str().expect("summary");
        assert_eq!(summary.chars().count(), PAGERDUTY_SUMMARY_MAX_CHARS);
        alert.severity = Severity::Warning;
        alert.summary = " ".into();
        alert.url = None;
        alert.service = String::new();
        let body = pagerduty_body(&alert, "key");
        assert_eq!(body["payload"]["severity"], "warning");
        assert_eq!(
            body["payload"]["summary"],
            "customers-availability burn_1h_5m"
        );
        assert_eq!(body["payload"]["source"], "sloscope");
        assert!(body.get("links").is_none() && body.get("client_url").is_none());
    }

    #[test]
    fn alertmanager_firing_payload() {
        let labels = json!({
            "alertname": "burn_1h_5m",
            "rule": "burn_1h_5m",
            "service": "checkout",
            "severity": "page",
            "slo": "customers-availability",
            "team": "customers",
        });
        let annotations = json!({
            "budget_remaining": "0.62",
            "burn_rate_1h": "15.2",
            "burn_rate_5m": "16.0",
            "objective": "0.999",
            "summary": "customers-availability is burning its error budget at 15.2x (1h) and 16.0x (5m)",
        });
        assert_eq!(
            alertmanager_body(&sample_alert(), "chat", "https://sloscope.example"),
            json!({
                "version": "4",
                "groupKey": "{}:{alertname=\"burn_1h_5m\", slo=\"customers-availability\"}",
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "chat",
                "groupLabels": {"alertname": "burn_1h_5m", "slo": "customers-availability"},
                "commonLabels": labels,
                "commonAnnotations": annotations,
                "externalURL": "https://sloscope.example",
                "alerts": [{
                    "status": "firing",
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": "2026-11-01T12:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "https://sloscope.example/slos/customers-availability",
                    // FNV-1a 64 of the six labels, computed independently of this crate.
                    "fingerprint": "be035d0dc3a7f340",
                }],
            })
        );
    }

    #[test]
    fn alertmanager_resolved_payload_keeps_the_fingerprint() {
        let firing = alertmanager_body(&sample_alert(), "chat", "");
        let cleared = alertmanager_body(&resolved(&sample_alert(), ENDS_AT), "chat", "");
        assert_eq!(cleared["status"], "resolved");
        assert_eq!(cleared["alerts"][0]["status"], "resolved");
        assert_eq!(cleared["alerts"][0]["endsAt"], "2026-11-01T13:00:00Z");
        assert_eq!(
            cleared["alerts"][0]["fingerprint"],
            firing["alerts"][0]["fingerprint"]
        );
        assert_eq!(cleared["groupKey"], firing["groupKey"]);
    }

    #[test]
    fn fingerprint_matches_alertmanager() {
        // prometheus/common model: labelSetToFingerprint, the values Alertmanager reports.
        assert_eq!(fingerprint(&BTreeMap::new()), "cbf29ce484222325");
        let labels = BTreeMap::from([
            ("name".to_owned(), "garland, briggs".to_owned()),
            ("fear".to_owned(), "love is not enough".to_owned()),
        ]);
        assert_eq!(fingerprint(&labels), "507a62d79ee76c9a");
    }

    #[test]
    fn times_out_of_range_become_the_zero_time() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(i64::MAX), None);
        assert_eq!(rfc3339_or_zero(Some(i64::MIN)), ZERO_TIME);
        assert_eq!(rfc3339_or_zero(None), ZERO_TIME);
    }

    #[test]
    fn request_for_picks_body_and_headers_by_channel_type() {
        let alert = sample_alert();
        let webhook = Channel::new(
            "audit",
            Destination::Webhook {
                url: Secret::new("http://127.0.0.1:9/hook"),
                headers: vec![("authorization".into(), Secret::new("Bearer t"))],
            },
        );
        let request = request_for(&webhook, &alert, None);
        assert_eq!(request.url.expose(), "http://127.0.0.1:9/hook");
        assert_eq!(request.headers.len(), 1);
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body, webhook_body(&alert));

        let pagerduty = Channel::new(
            "oncall",
            Destination::PagerDuty {
                url: Secret::new("https://events.pagerduty.com/v2/enqueue"),
                routing_key: Secret::new("key"),
            },
        );
        let body: Value =
            serde_json::from_slice(&request_for(&pagerduty, &alert, None).body).expect("json");
        assert_eq!(body["routing_key"], "key");

        let alertmanager = Channel::new(
            "relay",
            Destination::Alertmanager {
                url: Secret::new("http://127.0.0.1:9/am"),
                headers: Vec::new(),
            },
        );
        let request = request_for(&alertmanager, &alert, Some("https://sloscope.example"));
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body["receiver"], "relay");
        assert_eq!(body["externalURL"], "https://sloscope.example");
    }
}
