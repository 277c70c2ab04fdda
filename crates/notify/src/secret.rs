//! A string that must never be shown: webhook URLs (Slack's carries its token in the path),
//! PagerDuty routing keys, authorization header values. Debug, Display and Serialize all
//! print `***`, so a config dump, a log line or an API answer cannot leak one by accident;
//! the value is read only through [`Secret::expose`], at the point of sending.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// What every rendering of a [`Secret`] shows.
pub const REDACTED: &str = "***";

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The real value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "\"{REDACTED}\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Replaces every occurrence of the secrets in `text`, for error messages written by other
/// libraries that may quote a URL.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut redacted = text.to_owned();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        redacted = redacted.replace(secret, REDACTED);
    }
    redacted
}

/// The parts of a URL to redact: the whole of it, and its path and query alone (which carry
/// a Slack webhook's token, and which a receiver may echo in an error body).
pub(crate) fn url_secrets(url: &str) -> Vec<&str> {
    let mut secrets = vec![url];
    let path = url
        .split_once("://")
        .and_then(|(_, after_scheme)| after_scheme.find('/').map(|start| &after_scheme[start..]));
    // A bare "/" identifies nothing and would redact every slash in a message.
    if let Some(path) = path.filter(|path| path.len() > 1) {
        secrets.push(path);
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "https://hooks.slack.com/services/T000/B000/XXXXXXXX";

    #[test]
    fn every_rendering_hides_the_value() {
        let secret = Secret::new(VALUE);
        assert_eq!(format!("{secret:?}"), "\"***\"");
        assert_eq!(format!("{secret:#?}"), "\"***\"");
        assert_eq!(secret.to_string(), "***");
        assert_eq!(
            serde_json::to_string(&secret).expect("serialize"),
            "\"***\""
        );
        assert_eq!(secret.expose(), VALUE);
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        let secret: Secret = serde_json::from_str(&format!("\"{VALUE}\"")).expect("deserialize");
        assert_eq!(secret.expose(), VALUE);
    }

    #[test]
    fn url_secrets_are_the_url_and_its_path() {
        assert_eq!(url_secrets(VALUE), [VALUE, "/services/T000/B000/XXXXXXXX"]);
        assert_eq!(
            url_secrets("http://receiver:9000/"),
            ["http://receiver:9000/"]
        );
        assert_eq!(
            url_secrets("http://receiver:9000"),
            ["http://receiver:9000"]
        );
    }

    #[test]
    fn redact_replaces_every_occurrence_and_ignores_empty_secrets() {
        let message = format!("cannot reach {VALUE}: refused ({VALUE})");
        assert_eq!(
            redact(&message, &[VALUE, ""]),
            "cannot reach ***: refused (***)"
        );
    }
}
