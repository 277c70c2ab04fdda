//! The `[notify]` section of the server's TOML: channels (where to send), routes (which
//! alerts go where) and the retry policy. Parsed into serde structs with explicit defaults,
//! then validated into [`NotifySettings`], whose channels are ready to send to. Secrets stay
//! in [`Secret`]s through both stages, so `{:?}` of either never shows one.
//!
//! ```toml
//! [notify]
//! retry_max_attempts = 6
//! retry_initial_ms = 500
//! retry_max_ms = 60000
//!
//! [[notify.channels]]
//! name = "oncall"
//! type = "pagerduty"
//! routing_key = "..."
//!
//! [[notify.routes]]
//! channels = ["oncall"]
//! severities = ["page"]
//! match = { team = "customers" }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::alert::Severity;
use crate::retry::RetryPolicy;
use crate::router::{Route, Router};
use crate::secret::{Secret, url_secrets};

/// PagerDuty Events API v2 endpoint, used when a pagerduty channel names no `url`.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Errors a caller can act on: a setting to fix, or a thread the OS refused.
#[derive(Debug, Error)]
pub enum NotifyError {
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("cannot start the delivery thread of channel `{channel}`: {source}")]
    Spawn {
        channel: String,
        source: std::io::Error,
    },
}

fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> NotifyError {
    NotifyError::Invalid {
        setting: setting.into(),
        reason: reason.into(),
    }
}

/// `[notify]` as written. Serializing it (for a config dump) prints secrets as `***`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    pub channels: Vec<ChannelConfig>,
    /// Tried in order; an empty list sends every alert to every channel.
    pub routes: Vec<RouteConfig>,
    /// Attempts per message, the first included.
    pub retry_max_attempts: u32,
    /// Ceiling of the first backoff; each retry doubles it, up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    /// Longest wait between two attempts, also the cap on a server's `Retry-After`.
    pub retry_max_ms: u64,
    /// Alerts waiting per channel; past it `send` drops and counts them instead of blocking.
    pub queue_capacity: usize,
    /// Alerts remembered per channel for deduplication (least recently seen forgotten first).
    pub dedup_capacity: usize,
    /// sloscope's own address, reported as `externalURL` in Alertmanager payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            channels: Vec::new(),
            routes: Vec::new(),
            retry_max_attempts: 6,
            retry_initial_ms: 500,
            retry_max_ms: 60_000,
            queue_capacity: 256,
            dedup_capacity: 4096,
            external_url: None,
        }
    }
}

/// One `[[notify.channels]]` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// Required for webhook, slack and alertmanager; optional for pagerduty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// PagerDuty integration (routing) key; pagerduty only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<Secret>,
    /// Extra request headers (e.g. `Authorization`); webhook and alertmanager only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
}

/// One `[[notify.routes]]` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Channel names the matching alerts go to.
    pub channels: Vec<String>,
    /// Severities this route takes; empty takes any.
    #[serde(default)]
    pub severities: Vec<Severity>,
    /// Labels the alert must carry with exactly these values; empty matches any alert.
    #[serde(default, rename = "match")]
    pub label_match: BTreeMap<String, String>,
    /// Keep trying later routes after this one matched. By default the first match wins,
    /// as in Alertmanager.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// The alert as JSON, for any HTTP receiver.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// PagerDuty Events API v2.
    PagerDuty,
    /// The Alertmanager webhook receiver payload (version 4), for tools that consume it.
    Alertmanager,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::PagerDuty => "pagerduty",
            ChannelKind::Alertmanager => "alertmanager",
        }
    }
}

/// A validated channel: a name and everything needed to send to it.
#[derive(Clone, Debug)]
pub struct Channel {
    name: String,
    destination: Destination,
}

/// Where and how a channel sends. Every URL, key and header value is a [`Secret`].
#[derive(Clone, Debug)]
pub enum Destination {
    Webhook {
        url: Secret,
        headers: Vec<(String, Secret)>,
    },
    Slack {
        url: Secret,
    },
    PagerDuty {
        url: Secret,
        routing_key: Secret,
    },
    Alertmanager {
        url: Secret,
        headers: Vec<(String, Secret)>,
    },
}

impl Channel {
    pub(crate) fn new(name: impl Into<String>, destination: Destination) -> Channel {
        Channel {
            name: name.into(),
            destination,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    pub fn kind(&self) -> ChannelKind {
        match self.destination {
            Destination::Webhook { .. } => ChannelKind::Webhook,
            Destination::Slack { .. } => ChannelKind::Slack,
            Destination::PagerDuty { .. } => ChannelKind::PagerDuty,
            Destination::Alertmanager { .. } => ChannelKind::Alertmanager,
        }
    }

    pub fn url(&self) -> &Secret {
        match &self.destination {
            Destination::Webhook { url, .. }
            | Destination::Slack { url }
            | Destination::PagerDuty { url, .. }
            | Destination::Alertmanager { url, .. } => url,
        }
    }

    /// Every secret of this channel, to scrub from messages written by other libraries.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut secrets = url_secrets(self.url().expose());
        match &self.destination {
            Destination::Webhook { headers, .. } | Destination::Alertmanager { headers, .. } => {
                secrets.extend(headers.iter().map(|(_, value)| value.expose()));
            }
            Destination::PagerDuty { routing_key, .. } => secrets.push(routing_key.expose()),
            Destination::Slack { .. } => {}
        }
        secrets
    }

    /// What the API may show of this channel: no path, query, user info or key.
    pub fn summary(&self) -> ChannelSummary {
        ChannelSummary {
            name: self.name.clone(),
            kind: self.kind(),
            destination_host: destination_host(self.url().expose()),
        }
    }
}

/// A channel as the HTTP API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelSummary {
    pub name: String,
    pub kind: ChannelKind,
    /// Host and explicit port of the URL, e.g. `hooks.slack.com`.
    pub destination_host: Option<String>,
}

fn destination_host(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// `[notify]` after validation.
#[derive(Clone, Debug)]
pub struct NotifySettings {
    router: Router,
    retry: RetryPolicy,
    queue_capacity: usize,
    dedup_capacity: usize,
    external_url: Option<String>,
}

impl NotifySettings {
    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    pub fn dedup_capacity(&self) -> usize {
        self.dedup_capacity
    }

    pub fn external_url(&self) -> Option<&str> {
        self.external_url.as_deref()
    }
}

impl NotifyConfig {
    /// Checks every channel and route; messages name the setting but never a secret.
    pub fn validate(&self) -> Result<NotifySettings, NotifyError> {
        let mut channels = Vec::with_capacity(self.channels.len());
        let mut names = BTreeSet::new();
        for (position, channel_config) in self.channels.iter().enumerate() {
            let channel = channel_config.validate(position)?;
            if !names.insert(channel.name.clone()) {
                return Err(invalid(
                    format!("notify.channels[{position}].name"),
                    format!("channel `{}` is defined twice", channel.name),
                ));
            }
            channels.push(channel);
        }

        let mut routes = Vec::with_capacity(self.routes.len());
        for (position, route_config) in self.routes.iter().enumerate() {
            routes.push(route_config.validate(position, &channels)?);
        }

        let retry = RetryPolicy::new(
            self.retry_max_attempts,
            Duration::from_millis(self.retry_initial_ms),
            Duration::from_millis(self.retry_max_ms),
        )?;
        if self.queue_capacity == 0 {
            return Err(invalid("notify.queue_capacity", "must be at least 1"));
        }
        if self.dedup_capacity == 0 {
            return Err(invalid("notify.dedup_capacity", "must be at least 1"));
        }
        if let Some(external_url) = &self.external_url {
            check_url("notify.external_url", external_url)?;
        }
        Ok(NotifySettings {
            router: Router::new(channels, routes),
            retry,
            queue_capacity: self.queue_capacity,
            dedup_capacity: self.dedup_capacity,
            external_url: self.external_url.clone(),
        })
    }
}

impl ChannelConfig {
    fn validate(&self, position: usize) -> Result<Channel, NotifyError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(invalid(
                format!("notify.channels[{position}].name"),
                "must not be empty",
            ));
        }
        let setting = |field: &str| format!("notify.channels[{name}].{field}");
        let kind = self.kind.as_str();

        if self.kind != ChannelKind::PagerDuty && self.routing_key.is_some() {
            return Err(invalid(
                setting("routing_key"),
                format!("not used by {kind} channels"),
            ));
        }
        let takes_headers = matches!(self.kind, ChannelKind::Webhook | ChannelKind::Alertmanager);
        if !takes_headers && !self.headers.is_empty() {
            return Err(invalid(
                setting("headers"),
                format!("not used by {kind} channels"),
            ));
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for (header_name, header_value) in &self.headers {
            if http::HeaderName::try_from(header_name.as_str()).is_err() {
                return Err(invalid(
                    setting("headers"),
                    format!("`{header_name}` is not a valid header name"),
                ));
            }
            if http::HeaderValue::try_from(header_value.expose()).is_err() {
                return Err(invalid(
                    setting("headers"),
                    format!("the value of `{header_name}` is not a valid header value"),
                ));
            }
            headers.push((header_name.clone(), header_value.clone()));
        }

        let url = match (&self.url, self.kind) {
            (Some(url), _) => url.clone(),
            (None, ChannelKind::PagerDuty) => Secret::new(PAGERDUTY_EVENTS_URL),
            (None, _) => {
                return Err(invalid(
                    setting("url"),
                    format!("required for {kind} channels"),
                ));
            }
        };
        check_url(&setting("url"), url.expose())?;

        let destination = match self.kind {
            ChannelKind::Webhook => Destination::Webhook { url, headers },
            ChannelKind::Slack => Destination::Slack { url },
            ChannelKind::Alertmanager => Destination::Alertmanager { url, headers },
            ChannelKind::PagerDuty => {
                let routing_key = match &self.routing_key {
                    Some(key) if !key.expose().trim().is_empty() => key.clone(),
                    _ => {
                        return Err(invalid(
                            setting("routing_key"),
                            "required for pagerduty channels",
                        ));
                    }
                };
                Destination::PagerDuty { url, routing_key }
            }
        };
        Ok(Channel::new(name, destination))
    }
}

impl RouteConfig {
    fn validate(&self, position: usize, channels: &[Channel]) -> Result<Route, NotifyError> {
        let setting = format!("notify.routes[{position}].channels");
        if self.channels.is_empty() {
            return Err(invalid(setting, "must name at least one channel"));
        }
        let mut channel_indices = Vec::with_capacity(self.channels.len());
        for channel_name in &self.channels {
            let Some(index) = channels
                .iter()
                .position(|channel| channel.name == *channel_name)
            else {
                return Err(invalid(
                    setting,
                    format!("no channel is named `{channel_name}`"),
                ));
            };
            if !channel_indices.contains(&index) {
                channel_indices.push(index);
            }
        }
        Ok(Route::new(
            channel_indices,
            self.severities.clone(),
            self.label_match.clone(),
            self.continue_matching,
        ))
    }
}

/// An absolute http(s) URL with a host. The message never quotes the URL: it may be secret.
fn check_url(setting: &str, url: &str) -> Result<(), NotifyError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| invalid(setting, "is not a valid URL"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(invalid(
            setting,
            "must be an absolute http:// or https:// URL",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK_URL: &str = "https://hooks.slack.com/services/T0001/B0001/slacktokenvalue";
    const ROUTING_KEY: &str = "pagerdutyroutingkey0123456789abc";
    const BEARER: &str = "Bearer webhooktokenvalue";

    /// The server's TOML file as far as this crate is concerned.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper {
        notify: NotifyConfig,
    }

    fn parse(text: &str) -> Result<NotifyConfig, toml::de::Error> {
        toml::from_str::<Wrapper>(text).map(|wrapper| wrapper.notify)
    }

    fn full_config() -> NotifyConfig {
        parse(&format!(
            r#"
            [notify]
            retry_max_attempts = 4
            external_url = "https://sloscope.example"

            [[notify.channels]]
            name = "oncall"
            type = "pagerduty"
            routing_key = "{ROUTING_KEY}"

            [[notify.channels]]
            name = "chat"
            type = "slack"
            url = "{SLACK_URL}"

            [[notify.channels]]
            name = "audit"
            type = "webhook"
            url = "http://user:password@receiver.internal:9000/hooks/sloscope?token=querytoken"
            headers = {{ Authorization = "{BEARER}" }}

            [[notify.routes]]
            channels = ["oncall"]
            severities = ["page"]
            match = {{ team = "customers" }}
            continue = true

            [[notify.routes]]
            channels = ["chat", "audit"]
            "#
        ))
        .expect("parse")
    }

    #[test]
    fn parses_and_validates_every_channel_type() {
        let settings = full_config().validate().expect("valid");
        let summaries = settings.router().channel_summaries();
        assert_eq!(
            summaries,
            vec![
                ChannelSummary {
                    name: "oncall".into(),
                    kind: ChannelKind::PagerDuty,
                    destination_host: Some("events.pagerduty.com".into()),
                },
                ChannelSummary {
                    name: "chat".into(),
                    kind: ChannelKind::Slack,
                    destination_host: Some("hooks.slack.com".into()),
                },
                ChannelSummary {
                    name: "audit".into(),
                    kind: ChannelKind::Webhook,
                    destination_host: Some("receiver.internal:9000".into()),
                },
            ]
        );
        assert_eq!(settings.retry().max_attempts(), 4);
        assert_eq!(settings.external_url(), Some("https://sloscope.example"));
        assert_eq!(settings.queue_capacity(), 256);
    }

    #[test]
    fn no_rendering_of_the_config_shows_a_secret() {
        let config = full_config();
        let settings = config.validate().expect("valid");
        let renderings = [
            format!("{config:?}"),
            format!("{config:#?}"),
            format!("{settings:?}"),
            serde_json::to_string(&config).expect("json"),
            serde_json::to_string(&settings.router().channel_summaries()).expect("json"),
        ];
        for rendering in renderings {
            for secret in [
                SLACK_URL,
                "slacktokenvalue",
                ROUTING_KEY,
                BEARER,
                "password",
                "querytoken",
                "/hooks/sloscope",
            ] {
                assert!(
                    !rendering.contains(secret),
                    "{secret} leaked in {rendering}"
                );
            }
            assert!(rendering.contains("***") || rendering.contains("destination_host"));
        }
    }

    #[test]
    fn defaults_work_without_any_setting() {
        let config = parse("[notify]").expect("parse");
        let settings = config.validate().expect("valid");
        assert!(settings.router().channels().is_empty());
        assert_eq!(settings.retry().max_attempts(), 6);
        assert_eq!(settings.retry().initial(), Duration::from_millis(500));
        assert_eq!(settings.retry().max(), Duration::from_secs(60));
        assert_eq!(settings.dedup_capacity(), 4096);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = parse("[notify]\nretries = 3").expect_err("unknown field");
        assert!(error.to_string().contains("retries"), "{error}");
        let error = parse(
            "[[notify.channels]]\nname = \"a\"\ntype = \"slack\"\nurl = \"https://x\"\nkey = \"k\"",
        )
        .expect_err("unknown channel field");
        assert!(error.to_string().contains("key"), "{error}");
        let error =
            parse("[[notify.channels]]\nname = \"a\"\ntype = \"email\"").expect_err("unknown type");
        assert!(error.to_string().contains("email"), "{error}");
    }

    fn validation_error(text: &str) -> String {
        parse(text)
            .expect("parse")
            .validate()
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn invalid_channels_are_explained_without_quoting_the_secret() {
        let cases = [
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"slack\"",
                "`notify.channels[c].url`: required for slack channels",
            ),
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"pagerduty\"",
                "`notify.channels[c].routing_key`: required for pagerduty channels",
            ),
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"webhook\"\nurl = \"ftp://secret-host/secret-path\"",
                "`notify.channels[c].url`: must be an absolute http:// or https:// URL",
            ),
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"webhook\"\nurl = \"not a url secret\"",
                "`notify.channels[c].url`: is not a valid URL",
            ),
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"slack\"\nurl = \"https://x\"\nrouting_key = \"k\"",
                "`notify.channels[c].routing_key`: not used by slack channels",
            ),
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"slack\"\nurl = \"https://x\"\nheaders = { A = \"b\" }",
                "`notify.channels[c].headers`: not used by slack channels",
            ),
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"webhook\"\nurl = \"https://x\"\nheaders = { A = \"secret\\nvalue\" }",
                "`notify.channels[c].headers`: the value of `A` is not a valid header value",
            ),
            (
                "[[notify.channels]]\nname = \"c\"\ntype = \"slack\"\nurl = \"https://x\"\n[[notify.channels]]\nname = \"c\"\ntype = \"slack\"\nurl = \"https://y\"",
                "`notify.channels[1].name`: channel `c` is defined twice",
            ),
            (
                "[[notify.channels]]\nname = \" \"\ntype = \"slack\"\nurl = \"https://x\"",
                "`notify.channels[0].name`: must not be empty",
            ),
        ];
        for (text, expected) in cases {
            let message = validation_error(text);
            assert!(message.contains(expected), "{message} lacks {expected}");
            assert!(!message.contains("secret"), "{message}");
        }
    }

    #[test]
    fn invalid_routes_and_retry_settings_are_explained() {
        let channel = "[[notify.channels]]\nname = \"c\"\ntype = \"slack\"\nurl = \"https://x\"\n";
        let cases = [
            (
                format!("{channel}[[notify.routes]]\nchannels = []"),
                "`notify.routes[0].channels`: must name at least one channel",
            ),
            (
                format!("{channel}[[notify.routes]]\nchannels = [\"d\"]"),
                "`notify.routes[0].channels`: no channel is named `d`",
            ),
            (
                "[notify]\nretry_max_attempts = 0".to_owned(),
                "`notify.retry_max_attempts`: must be at least 1",
            ),
            (
                "[notify]\nretry_initial_ms = 0".to_owned(),
                "`notify.retry_initial_ms`: must be at least 1",
            ),
            (
                "[notify]\nretry_initial_ms = 2000\nretry_max_ms = 1000".to_owned(),
                "`notify.retry_max_ms`: must be at least `retry_initial_ms`",
            ),
            (
                "[notify]\nqueue_capacity = 0".to_owned(),
                "`notify.queue_capacity`: must be at least 1",
            ),
            (
                "[notify]\nexternal_url = \"/relative\"".to_owned(),
                "`notify.external_url`: must be an absolute",
            ),
        ];
        for (text, expected) in cases {
            let message = validation_error(&text);
            assert!(message.contains(expected), "{message} lacks {expected}");
        }
    }

    #[test]
    fn shipped_example_config_loads() {
        let text = include_str!("../notify.example.toml");
        let config = parse(text).expect("example parses");
        let settings = config.validate().expect("example validates");
        assert!(!settings.router().channels().is_empty());
    }
}
