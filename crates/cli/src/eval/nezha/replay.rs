//! The real path: a sloscope server started in this process on loopback ports with a fresh
//! store, export requests POSTed to its OTLP/HTTP receiver as any SDK would, investigations
//! asked of its API. The evaluation sees the server only through HTTP.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use serde_json::Value;
use sloscope_server::{Bound, Config, Overrides};

/// How long the server may take to open its store and bind.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one export may keep being pushed back before the replay gives up.
const PUSHBACK_LIMIT: Duration = Duration::from_secs(600);
/// Recordings are years old: retention must not delete them as they arrive.
const KEEP_RECORDINGS: Duration = Duration::from_secs(100 * 366 * 24 * 3600);
/// An investigation over a debug build can take a while; anything longer is a hung server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(900);
/// Investigation reports carry evidence; they stay well under this.
const MAX_ANSWER_BYTES: u64 = 256 << 20;

/// A server running on its own thread and runtime; stopped (and its scratch store deleted)
/// when dropped.
pub struct LocalServer {
    pub bound: Bound,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
    _scratch: Option<tempfile::TempDir>,
}

impl LocalServer {
    /// Starts a server on a fresh store: in `store_dir` (which must be empty or absent) to keep
    /// it for a later `sloscope serve --data-dir`, else in a temporary directory.
    pub fn start(store_dir: Option<&Path>) -> anyhow::Result<LocalServer> {
        let (scratch, data_dir) = match store_dir {
            Some(directory) => {
                let occupied = std::fs::read_dir(directory)
                    .map(|mut entries| entries.next().is_some())
                    .unwrap_or(false);
                if occupied {
                    bail!(
                        "{} is not empty: the evaluation needs a fresh store",
                        directory.display()
                    );
                }
                (None, directory.to_path_buf())
            }
            None => {
                let scratch = tempfile::Builder::new()
                    .prefix("sloscope-eval-nezha-")
                    .tempdir()
                    .context("cannot create a scratch directory for the store")?;
                let directory = scratch.path().to_path_buf();
                (Some(scratch), directory)
            }
        };
        let any_port = || Some("127.0.0.1:0".to_owned());
        let overrides = Overrides {
            data_dir: Some(data_dir.clone()),
            otlp_grpc_addr: any_port(),
            otlp_http_addr: any_port(),
            http_addr: any_port(),
            slo_dir: None,
        };
        // No environment: a SLOSCOPE_* variable of the caller must not change the evaluation.
        let mut config = Config::from_parts(None, &[], &overrides)?;
        config.store.retention = KEEP_RECORDINGS;

        let (ready_sender, ready_receiver) = mpsc::channel();
        let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sloscope-server".into())
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the server's async runtime")?;
                let stopped = async move {
                    let _ = stop_receiver.await;
                };
                runtime.block_on(sloscope_server::serve(config, stopped, move |bound| {
                    let _ = ready_sender.send(bound.clone());
                }))?;
                Ok(())
            })
            .context("cannot start the server thread")?;
        let bound = match ready_receiver.recv_timeout(READY_TIMEOUT) {
            Ok(bound) => bound,
            Err(_) if thread.is_finished() => {
                let outcome = thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
                outcome.context("the server did not start")?;
                bail!("the server stopped before it was ready");
            }
            Err(_) => bail!(
                "the server was not ready after {} s",
                READY_TIMEOUT.as_secs()
            ),
        };
        Ok(LocalServer {
            bound,
            stop: Some(stop_sender),
            thread: Some(thread),
            _scratch: scratch,
        })
    }

    /// Stops the server and waits until its store is shut down.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// The kinds of OTLP export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

impl Signal {
    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
        }
    }

    /// Rejected items and the server's explanation from an export's partial success.
    fn rejected(self, body: &[u8]) -> anyhow::Result<(u64, String)> {
        let partial = match self {
            Signal::Traces => ExportTraceServiceResponse::decode(body)?
                .partial_success
                .map(|partial| (partial.rejected_spans, partial.error_message)),
            Signal::Logs => ExportLogsServiceResponse::decode(body)?
                .partial_success
                .map(|partial| (partial.rejected_log_records, partial.error_message)),
            Signal::Metrics => ExportMetricsServiceResponse::decode(body)?
                .partial_success
                .map(|partial| (partial.rejected_data_points, partial.error_message)),
        };
        let (rejected, message) = partial.unwrap_or_default();
        Ok((rejected.max(0) as u64, message))
    }
}

/// What one kind of export amounted to.
#[derive(Clone, Debug, Default)]
pub struct Sent {
    pub records: u64,
    pub requests: u64,
    pub bytes: u64,
    /// Items the server refused (partial success).
    pub rejected: u64,
    /// Times the server pushed back (429/503) and the request was sent again.
    pub retries: u64,
    pub first_rejection: Option<String>,
    pub seconds: f64,
}

/// A blocking HTTP client of the server's OTLP receiver and API.
pub struct Client {
    agent: ureq::Agent,
    otlp: String,
    api: String,
}

impl Client {
    pub fn new(bound: &Bound) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(REQUEST_TIMEOUT))
            // Statuses are answers to act on (push-back, not found), not transport errors.
            .http_status_as_error(false)
            .user_agent(concat!("sloscope-eval/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client {
            agent,
            otlp: format!("http://{}", bound.otlp_http),
            api: format!("http://{}", bound.http),
        }
    }

    /// POSTs one encoded protobuf export of `records` items, again while the server pushes back
    /// (429 or 503, waiting as its `Retry-After` says); adds what happened to `sent`.
    pub fn export(
        &self,
        signal: Signal,
        records: usize,
        body: &[u8],
        sent: &mut Sent,
    ) -> anyhow::Result<()> {
        let url = format!("{}{}", self.otlp, signal.path());
        let started = Instant::now();
        loop {
            let mut response = self
                .agent
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .send(body)
                .with_context(|| format!("cannot POST {url}"))?;
            let status = response.status().as_u16();
            let answer = response
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER_BYTES)
                .read_to_vec()
                .with_context(|| format!("cannot read the answer of {url}"))?;
            if matches!(status, 429 | 503) && started.elapsed() < PUSHBACK_LIMIT {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .clamp(1, 30);
                sent.retries += 1;
                std::thread::sleep(Duration::from_secs(wait));
                continue;
            }
            if status != 200 {
                bail!(
                    "{url} answered {status}: {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(300)])
                );
            }
            let (rejected, message) = signal
                .rejected(&answer)
                .with_context(|| format!("{url} answered an invalid export response"))?;
            sent.records += records as u64;
            sent.requests += 1;
            sent.bytes += body.len() as u64;
            sent.rejected += rejected;
            if rejected > 0 && sent.first_rejection.is_none() {
                sent.first_rejection = Some(message);
            }
            return Ok(());
        }
    }

    /// POSTs JSON to the API; the status and the JSON answer.
    pub fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.api);
        let response = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&serde_json::to_vec(body)?[..])
            .with_context(|| format!("cannot POST {url}"))?;
        read_json(&url, response)
    }

    pub fn get_json(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.api);
        let response = self
            .agent
            .get(&url)
            .call()
            .with_context(|| format!("cannot GET {url}"))?;
        read_json(&url, response)
    }
}

fn read_json(
    url: &str,
    mut response: ureq::http::Response<ureq::Body>,
) -> anyhow::Result<(u16, Value)> {
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()
        .with_context(|| format!("cannot read the answer of {url}"))?;
    let value = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{url} answered {status} without JSON: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
    })?;
    Ok((status, value))
}
