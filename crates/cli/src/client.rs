//! The commands that talk to a running server (`slo list`, `investigate`, ...) share this:
//! where the server is, its token, and JSON requests with the API's error messages surfaced.

use anyhow::{Context, bail};
use serde_json::Value;

#[derive(clap::Args)]
pub struct ServerArgs {
    /// The server's API address.
    #[arg(long, env = "SLOSCOPE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Bearer token with the read scope, when the server has tokens.
    #[arg(long, env = "SLOSCOPE_TOKEN")]
    pub token: Option<String>,
    /// Print the API's JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl ServerArgs {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|token| format!("Bearer {token}"))
    }

    /// The answer's text, or the API's error message when the status is not a success.
    fn finish(
        &self,
        url: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<String> {
        let mut response = result
            .with_context(|| format!("cannot reach the sloscope server at {}", self.server))?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("cannot read the answer of {url}"))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|body| body["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{url} answered {status}"));
            bail!("{message}");
        }
        Ok(text)
    }

    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let url = self.url(path);
        let mut request = Self::agent().get(&url);
        if let Some(authorization) = self.authorization() {
            request = request.header("authorization", &authorization);
        }
        self.finish(&url, request.call())
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let text = self.get_text(path)?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} did not answer JSON", self.url(path)))
    }

    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let url = self.url(path);
        let mut request = Self::agent()
            .post(&url)
            .header("content-type", "application/json");
        if let Some(authorization) = self.authorization() {
            request = request.header("authorization", &authorization);
        }
        let text = self.finish(&url, request.send(body.to_string().as_bytes()))?;
        serde_json::from_str(&text).with_context(|| format!("{url} did not answer JSON"))
    }
}
