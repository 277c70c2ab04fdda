//! An OTLP/HTTP exporter, doing what the OpenTelemetry Collector's `otlphttp` exporter does:
//! protobuf bodies, gzip, `POST /v1/traces|logs|metrics`, a bounded queue drained by a few
//! sender threads (a full queue blocks the producer: backpressure, not loss), and retries
//! of 429, 502, 503, 504 and connection failures with exponential backoff and jitter,
//! honouring `Retry-After`, until a time budget runs out. Partial successes are counted.
//!
//! Blocking threads with `ureq`: the simulation is a plain loop, and a second async runtime
//! would buy nothing here.

use std::io::Write as _;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tracing::warn;

#[derive(Clone, Debug)]
pub struct ExporterConfig {
    /// The OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318`.
    pub endpoint: String,
    /// Sender threads (the Collector's `sending_queue.num_consumers`).
    pub senders: usize,
    /// Requests waiting for a sender before `export` blocks.
    pub queue_capacity: usize,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one request may keep retrying before it is dropped (and counted).
    pub max_elapsed: Duration,
    /// One attempt: connect, send, read the answer.
    pub timeout: Duration,
}

impl ExporterConfig {
    pub fn new(endpoint: impl Into<String>) -> ExporterConfig {
        ExporterConfig {
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
            senders: 2,
            queue_capacity: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(120),
            timeout: Duration::from_secs(30),
        }
    }
}

/// One export request of one signal, with the number of items it carries.
pub enum Payload {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

impl Payload {
    fn path(&self) -> &'static str {
        match self {
            Payload::Traces(_) => "/v1/traces",
            Payload::Logs(_) => "/v1/logs",
            Payload::Metrics(_) => "/v1/metrics",
        }
    }

    fn items(&self) -> u64 {
        match self {
            Payload::Traces(request) => request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len() as u64)
                .sum(),
            Payload::Logs(request) => request
                .resource_logs
                .iter()
                .flat_map(|resource| &resource.scope_logs)
                .map(|scope| scope.log_records.len() as u64)
                .sum(),
            Payload::Metrics(request) => request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics)
                .map(|metric| match &metric.data {
                    Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(gauge)) => {
                        gauge.data_points.len() as u64
                    }
                    Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum)) => {
                        sum.data_points.len() as u64
                    }
                    _ => 0,
                })
                .sum(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Payload::Traces(request) => request.encode_to_vec(),
            Payload::Logs(request) => request.encode_to_vec(),
            Payload::Metrics(request) => request.encode_to_vec(),
        }
    }

    /// Items the server rejected, from the response's partial success.
    fn rejected(&self, response: &[u8]) -> (u64, String) {
        let (rejected, message) = match self {
            Payload::Traces(_) => ExportTraceServiceResponse::decode(response)
                .ok()
                .and_then(|answer| answer.partial_success)
                .map(|partial| (partial.rejected_spans, partial.error_message)),
            Payload::Logs(_) => ExportLogsServiceResponse::decode(response)
                .ok()
                .and_then(|answer| answer.partial_success)
                .map(|partial| (partial.rejected_log_records, partial.error_message)),
            Payload::Metrics(_) => ExportMetricsServiceResponse::decode(response)
                .ok()
                .and_then(|answer| answer.partial_success)
                .map(|partial| (partial.rejected_data_points, partial.error_message)),
        }
        .unwrap_or_default();
        (rejected.max(0) as u64, message)
    }
}

/// What the exporter did so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub spans: u64,
    pub logs: u64,
    pub points: u64,
    pub requests: u64,
    /// Attempts that were answered with a retryable status or failed to connect.
    pub retries: u64,
    /// Compressed bytes of the requests that were accepted.
    pub bytes_sent: u64,
    /// Items the server rejected in a partial success.
    pub rejected: u64,
    /// Items of requests that failed for good (not retryable, or out of time).
    pub dropped: u64,
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Shared {
    stats: Mutex<ExportStats>,
    /// Payloads queued or being sent.
    pending: Mutex<usize>,
    idle: Condvar,
}

/// See the module documentation.
pub struct Exporter {
    sender: Option<SyncSender<Payload>>,
    senders: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Exporter {
    pub fn new(config: ExporterConfig) -> Exporter {
        let (sender, receiver) = sync_channel::<Payload>(config.queue_capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let shared = Arc::new(Shared::default());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            // 429 and 503 are answers to act on, not errors.
            .http_status_as_error(false)
            .user_agent(concat!("sloscope-sim/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let senders = (0..config.senders.max(1))
            .map(|index| {
                let receiver = receiver.clone();
                let shared = shared.clone();
                let agent = agent.clone();
                let config = config.clone();
                std::thread::Builder::new()
                    .name(format!("otlp-sender-{index}"))
                    .spawn(move || send_loop(&receiver, &shared, &agent, &config))
                    .expect("spawn an otlp sender thread")
            })
            .collect();
        Exporter {
            sender: Some(sender),
            senders,
            shared,
        }
    }

    /// Queues one request; blocks while the queue is full.
    pub fn export(&self, payload: Payload) {
        if payload.items() == 0 {
            return;
        }
        *self.shared.pending.lock().expect("pending lock") += 1;
        let sent = self
            .sender
            .as_ref()
            .map(|sender| sender.send(payload).is_ok())
            .unwrap_or(false);
        if !sent {
            self.finish_one();
        }
    }

    fn finish_one(&self) {
        finish(&self.shared);
    }

    /// Waits until every queued request was answered (or given up on).
    pub fn flush(&self) {
        let mut pending = self.shared.pending.lock().expect("pending lock");
        while *pending > 0 {
            pending = self.shared.idle.wait(pending).expect("pending lock");
        }
    }

    pub fn stats(&self) -> ExportStats {
        self.shared.stats.lock().expect("stats lock").clone()
    }

    /// Sends what is queued, stops the sender threads, and returns the final figures.
    pub fn shutdown(mut self) -> ExportStats {
        self.flush();
        self.sender = None;
        for sender in self.senders.drain(..) {
            let _ = sender.join();
        }
        self.stats()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // Closing the channel ends the sender threads once the queue is empty.
        self.sender = None;
    }
}

fn finish(shared: &Shared) {
    let mut pending = shared.pending.lock().expect("pending lock");
    *pending = pending.saturating_sub(1);
    if *pending == 0 {
        shared.idle.notify_all();
    }
}

fn send_loop(
    receiver: &Mutex<Receiver<Payload>>,
    shared: &Shared,
    agent: &ureq::Agent,
    config: &ExporterConfig,
) {
    let mut jitter = fastrand::Rng::new();
    loop {
        let next = receiver.lock().expect("receiver lock").recv();
        let Ok(payload) = next else {
            return;
        };
        let items = payload.items();
        let body = gzip(&payload.encode());
        let url = format!("{}{}", config.endpoint, payload.path());
        let outcome = send_with_retries(agent, &url, &body, config, &mut jitter);
        {
            let mut stats = shared.stats.lock().expect("stats lock");
            stats.retries += outcome.retries;
            match &outcome.result {
                Ok(response) => {
                    stats.requests += 1;
                    stats.bytes_sent += body.len() as u64;
                    let (rejected, message) = payload.rejected(response);
                    let accepted = items.saturating_sub(rejected);
                    match payload {
                        Payload::Traces(_) => stats.spans += accepted,
                        Payload::Logs(_) => stats.logs += accepted,
                        Payload::Metrics(_) => stats.points += accepted,
                    }
                    if rejected > 0 {
                        stats.rejected += rejected;
                        stats.last_error = Some(message);
                    }
                }
                Err(message) => {
                    warn!(items, error = %message, "otlp export failed; items dropped");
                    stats.dropped += items;
                    stats.last_error = Some(message.clone());
                }
            }
        }
        finish(shared);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // The fastest level: on loopback, CPU is scarcer than bytes.
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

struct SendOutcome {
    /// The response body of an accepted request, or why it was given up.
    result: Result<Vec<u8>, String>,
    retries: u64,
}

/// Statuses the OTLP/HTTP specification says to retry.
fn retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// `Retry-After` as delay-seconds (what OTLP receivers send); an HTTP-date is ignored and
/// the backoff applies instead.
fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn send_with_retries(
    agent: &ureq::Agent,
    url: &str,
    body: &[u8],
    config: &ExporterConfig,
    jitter: &mut fastrand::Rng,
) -> SendOutcome {
    let started = Instant::now();
    let mut retries = 0;
    let mut failed_attempts: u32 = 0;
    loop {
        let attempt = agent
            .post(url)
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "gzip")
            .send(body);
        let (problem, requested_wait) = match attempt {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let answer = response
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .unwrap_or_default();
                if (200..300).contains(&status) {
                    return SendOutcome {
                        result: Ok(answer),
                        retries,
                    };
                }
                let message = format!(
                    "{url} answered {status}: {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(200)])
                );
                if !retryable(status) {
                    return SendOutcome {
                        result: Err(message),
                        retries,
                    };
                }
                (message, retry_after(&response))
            }
            Err(error) => (format!("{url}: {error}"), None),
        };
        retries += 1;
        failed_attempts += 1;
        // Full jitter on an exponential ceiling; a server's Retry-After is a floor.
        let doublings = (failed_attempts - 1).min(16);
        let ceiling = config
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(config.max_backoff);
        let mut wait = ceiling.mul_f64(jitter.f64());
        if let Some(requested) = requested_wait {
            wait = wait.max(requested);
        }
        if started.elapsed() + wait > config.max_elapsed {
            return SendOutcome {
                result: Err(format!("gave up after {retries} retries: {problem}")),
                retries,
            };
        }
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    /// Each request's method line and the number of spans it carried.
    type Seen = Arc<Mutex<Vec<(String, usize)>>>;

    /// A tiny OTLP/HTTP server: answers each request with the next of `answers` (status and
    /// extra header lines), then 200; records each request's method line and decoded span count.
    fn serve(answers: Vec<(u16, &'static str)>) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let mut decoded = Vec::new();
                flate2::read::GzDecoder::new(body.as_slice())
                    .read_to_end(&mut decoded)
                    .unwrap();
                let request = ExportTraceServiceRequest::decode(decoded.as_slice()).unwrap();
                let spans = request.resource_spans[0].scope_spans[0].spans.len();
                record
                    .lock()
                    .unwrap()
                    .push((request_line.trim().to_owned(), spans));
                let (status, headers) = answers.next().unwrap_or((200, ""));
                let response = format!(
                    "HTTP/1.1 {status} X\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n"
                );
                reader.into_inner().write_all(response.as_bytes()).unwrap();
            }
        });
        (endpoint, seen)
    }

    fn spans(count: usize) -> Payload {
        Payload::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); count],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        })
    }

    fn quick(endpoint: &str) -> ExporterConfig {
        ExporterConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(10),
            ..ExporterConfig::new(endpoint)
        }
    }

    #[test]
    fn a_429_is_retried_after_the_servers_retry_after() {
        let (endpoint, seen) = serve(vec![(429, "retry-after: 1\r\n"), (503, "")]);
        let exporter = Exporter::new(quick(&endpoint));
        let started = Instant::now();
        exporter.export(spans(3));
        let stats = exporter.shutdown();
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "Retry-After: 1 was honoured"
        );
        assert_eq!(stats.retries, 2);
        assert_eq!(stats.spans, 3);
        assert_eq!(stats.dropped, 0);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(
            seen.iter()
                .all(|(line, count)| line.starts_with("POST /v1/traces ") && *count == 3)
        );
    }

    #[test]
    fn a_400_is_dropped_without_retrying() {
        let (endpoint, seen) = serve(vec![(400, "")]);
        let exporter = Exporter::new(quick(&endpoint));
        exporter.export(spans(2));
        let stats = exporter.shutdown();
        assert_eq!(stats.retries, 0);
        assert_eq!(stats.dropped, 2);
        assert_eq!(stats.spans, 0);
        assert!(stats.last_error.unwrap().contains("400"));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_server_that_stays_away_is_given_up_on_in_time() {
        // Bind and drop: nothing listens there any more.
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config = ExporterConfig {
            max_elapsed: Duration::from_millis(300),
            ..quick(&format!("http://{address}"))
        };
        let exporter = Exporter::new(config);
        exporter.export(spans(1));
        let stats = exporter.shutdown();
        assert_eq!(stats.dropped, 1);
        assert!(stats.retries >= 1);
    }
}
