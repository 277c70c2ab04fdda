//! Which channels an alert goes to. Routes are tried in order, as in Alertmanager: a route
//! matches when the alert's severity is among its severities (or it lists none) and every
//! label it names carries exactly the given value; the first match wins unless it says
//! `continue`. With no routes configured at all, every alert goes to every channel, so a
//! single configured channel works without writing a route.

use std::collections::BTreeMap;

use crate::alert::{Alert, Severity};
use crate::config::{Channel, ChannelSummary};

#[derive(Clone, Debug)]
pub struct Route {
    /// Indices into the router's channels, without repeats.
    channel_indices: Vec<usize>,
    severities: Vec<Severity>,
    label_match: BTreeMap<String, String>,
    continue_matching: bool,
}

impl Route {
    pub(crate) fn new(
        channel_indices: Vec<usize>,
        severities: Vec<Severity>,
        label_match: BTreeMap<String, String>,
        continue_matching: bool,
    ) -> Route {
        Route {
            channel_indices,
            severities,
            label_match,
            continue_matching,
        }
    }

    fn matches(&self, alert: &Alert) -> bool {
        let severity_matches =
            self.severities.is_empty() || self.severities.contains(&alert.severity);
        let labels_match = self
            .label_match
            .iter()
            .all(|(name, value)| alert.labels.get(name) == Some(value));
        severity_matches && labels_match
    }
}

#[derive(Clone, Debug)]
pub struct Router {
    channels: Vec<Channel>,
    routes: Vec<Route>,
}

impl Router {
    pub(crate) fn new(channels: Vec<Channel>, routes: Vec<Route>) -> Router {
        debug_assert!(
            routes
                .iter()
                .flat_map(|route| &route.channel_indices)
                .all(|&index| index < channels.len()),
            "routes point at known channels"
        );
        Router { channels, routes }
    }

    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// The channels `alert` goes to, each once, in the order routes name them.
    pub fn route(&self, alert: &Alert) -> Vec<&Channel> {
        self.route_indices(alert)
            .into_iter()
            .map(|index| &self.channels[index])
            .collect()
    }

    pub(crate) fn route_indices(&self, alert: &Alert) -> Vec<usize> {
        if self.routes.is_empty() {
            return (0..self.channels.len()).collect();
        }
        let mut selected = Vec::new();
        for route in &self.routes {
            if !route.matches(alert) {
                continue;
            }
            for &index in &route.channel_indices {
                if !selected.contains(&index) {
                    selected.push(index);
                }
            }
            if !route.continue_matching {
                break;
            }
        }
        selected
    }

    /// Every channel as the API may show it: name, type and host, never a URL or key.
    pub fn channel_summaries(&self) -> Vec<ChannelSummary> {
        self.channels.iter().map(Channel::summary).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::sample_alert;
    use crate::config::NotifyConfig;

    fn router(routes: &str) -> Router {
        let channels = ["oncall", "tickets", "chat", "audit"]
            .iter()
            .map(|name| format!("[[channels]]\nname = \"{name}\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1/{name}\"\n"))
            .collect::<String>();
        let config: NotifyConfig = toml::from_str(&format!("{channels}{routes}")).expect("parse");
        config.validate().expect("valid").router().clone()
    }

    fn names(router: &Router, alert: &Alert) -> Vec<String> {
        router
            .route(alert)
            .iter()
            .map(|channel| channel.name().to_owned())
            .collect()
    }

    fn alert_with(severity: Severity, team: &str) -> Alert {
        let mut alert = sample_alert();
        alert.severity = severity;
        alert
            .labels
            .insert("severity".into(), severity.as_str().into());
        alert.labels.insert("team".into(), team.into());
        alert
    }

    const ROUTES: &str = r#"
        [[routes]]
        channels = ["audit"]
        continue = true

        [[routes]]
        channels = ["oncall", "chat"]
        severities = ["page"]
        match = { team = "customers" }

        [[routes]]
        channels = ["tickets"]
        severities = ["ticket", "warning"]

        [[routes]]
        channels = ["chat"]
    "#;

    #[test]
    fn first_match_wins_after_continuing_routes() {
        let router = router(ROUTES);
        let page = alert_with(Severity::Page, "customers");
        assert_eq!(names(&router, &page), ["audit", "oncall", "chat"]);
        let ticket = alert_with(Severity::Ticket, "customers");
        assert_eq!(names(&router, &ticket), ["audit", "tickets"]);
        // A page of another team falls through to the catch-all route.
        let other_page = alert_with(Severity::Page, "payments");
        assert_eq!(names(&router, &other_page), ["audit", "chat"]);
    }

    #[test]
    fn label_match_needs_every_label_with_its_exact_value() {
        let router = router(
            "[[routes]]\nchannels = [\"oncall\"]\nmatch = { team = \"customers\", tier = \"1\" }\n",
        );
        let mut alert = alert_with(Severity::Page, "customers");
        assert!(router.route(&alert).is_empty(), "tier label missing");
        alert.labels.insert("tier".into(), "2".into());
        assert!(router.route(&alert).is_empty(), "tier label differs");
        alert.labels.insert("tier".into(), "1".into());
        assert_eq!(names(&router, &alert), ["oncall"]);
    }

    #[test]
    fn without_routes_every_channel_gets_every_alert() {
        let router = router("");
        assert_eq!(
            names(&router, &sample_alert()),
            ["oncall", "tickets", "chat", "audit"]
        );
    }

    #[test]
    fn a_channel_named_twice_is_sent_once() {
        let router = router(
            "[[routes]]\nchannels = [\"chat\", \"chat\"]\ncontinue = true\n[[routes]]\nchannels = [\"chat\", \"oncall\"]\n",
        );
        assert_eq!(names(&router, &sample_alert()), ["chat", "oncall"]);
    }
}
