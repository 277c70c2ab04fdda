//! The seam between deciding what to send and putting it on the wire: a [`Transport`] POSTs
//! one request and reports the answer, nothing more (no retries, no logging). The one real
//! implementation, [`HttpTransport`], uses `ureq`: a blocking client fits the dedicated
//! delivery threads and builds far faster than a second async stack; rustls with the webpki
//! roots makes HTTPS work without the system's TLS library. Proxies come from the usual
//! `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and `NO_PROXY` variables.

use std::io::ErrorKind;
use std::time::Duration;

use crate::secret::{Secret, redact, url_secrets};

/// One POST, ready to send. The URL and header values stay [`Secret`]s, so `{:?}` is safe.
#[derive(Clone, Debug)]
pub struct OutgoingRequest {
    pub url: Secret,
    pub headers: Vec<(String, Secret)>,
    pub body: Vec<u8>,
}

/// The part of an answer that delivery decisions need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// The raw `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The start of the body, for the log line of a rejected message (Slack answers
    /// `invalid_payload`, PagerDuty a JSON error).
    pub body_excerpt: String,
}

/// No answer at all. `message` never contains the request's URL or secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// A connection, DNS or timeout failure that may pass, as opposed to a bad certificate.
    pub retryable: bool,
    pub message: String,
}

pub trait Transport: Send + Sync {
    fn post(&self, request: &OutgoingRequest) -> Result<HttpReply, TransportError>;
}

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// For the whole exchange: connecting, sending, and reading the answer.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_EXCERPT_BYTES: u64 = 512;

/// HTTP and HTTPS through `ureq`, with a connection pool shared by the delivery threads.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl Default for HttpTransport {
    fn default() -> Self {
        HttpTransport::new()
    }
}

impl HttpTransport {
    pub fn new() -> HttpTransport {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(TOTAL_TIMEOUT))
            // 4xx and 5xx are answers to classify, not errors.
            .http_status_as_error(false)
            // A webhook that redirects is misconfigured; following it would turn the POST
            // into a GET or resend the body somewhere unreviewed.
            .max_redirects(0)
            .user_agent(concat!("sloscope/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpTransport {
            agent: config.into(),
        }
    }
}

impl Transport for HttpTransport {
    fn post(&self, request: &OutgoingRequest) -> Result<HttpReply, TransportError> {
        let mut builder = self
            .agent
            .post(request.url.expose())
            .header("content-type", "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.expose());
        }
        let mut secrets = url_secrets(request.url.expose());
        secrets.extend(request.headers.iter().map(|(_, value)| value.expose()));
        let mut response = builder
            .send(request.body.as_slice())
            .map_err(|error| transport_error(&error, &secrets))?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body_excerpt = response
            .body_mut()
            .with_config()
            .limit(BODY_EXCERPT_BYTES)
            .read_to_string()
            .map(|body| excerpt(&redact(&body, &secrets)))
            .unwrap_or_default();
        Ok(HttpReply {
            status: response.status().as_u16(),
            retry_after,
            body_excerpt,
        })
    }
}

fn transport_error(error: &ureq::Error, secrets: &[&str]) -> TransportError {
    let retryable = match error {
        ureq::Error::Io(io_error) => !matches!(
            io_error.kind(),
            ErrorKind::InvalidInput | ErrorKind::InvalidData | ErrorKind::Unsupported
        ),
        ureq::Error::Timeout(_)
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Protocol(_)
        | ureq::Error::BodyStalled => true,
        _ => false,
    };
    TransportError {
        retryable,
        message: redact(&error.to_string(), secrets),
    }
}

/// The first line-ish of a body, whitespace collapsed, at most 200 characters.
fn excerpt(body: &str) -> String {
    let collapsed = body.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_collapses_whitespace_and_bounds_length() {
        assert_eq!(excerpt("  invalid_payload\n\n"), "invalid_payload");
        assert_eq!(excerpt(&"x".repeat(1000)).len(), 200);
    }

    #[test]
    fn request_debug_hides_url_and_headers() {
        let request = OutgoingRequest {
            url: Secret::new("https://hooks.slack.com/services/secret"),
            headers: vec![("authorization".into(), Secret::new("Bearer secret"))],
            body: b"{}".to_vec(),
        };
        assert!(!format!("{request:?}").contains("secret"));
    }
}
