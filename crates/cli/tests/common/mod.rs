//! What the end-to-end tests share: starting the real `sloscope` binary on free ports in a
//! temporary data directory, a minimal blocking HTTP/1.1 client over `TcpStream`, and
//! builders for OTLP protobuf export requests.
//!
//! The client is deliberately tiny (one request per connection, `Connection: close`) so that
//! the tests need no HTTP dependency and see exactly the bytes the server sends. Assertions
//! live in the tests; this module only fails when the harness itself cannot work (the binary
//! does not start, a socket cannot be opened).

#![allow(dead_code)] // each test binary uses a different part of this module

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use serde_json::Value;
use tempfile::TempDir;

pub const SECOND: u64 = 1_000_000_000;
pub const MILLISECOND: u64 = 1_000_000;

/// How long a fresh or recovering server may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one HTTP exchange with the server may take.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

pub fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

/// A port nobody listened on a moment ago. Another process could take it before the server
/// binds it; `start_server` retries with new ports when that happens.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener
        .local_addr()
        .expect("ephemeral port address")
        .port()
}

/// Lines a child process wrote, collected by a reader thread.
#[derive(Clone, Default)]
pub struct CapturedOutput(Arc<Mutex<Vec<String>>>);

impl CapturedOutput {
    fn collect(&self, stream: impl Read + Send + 'static) -> thread::JoinHandle<()> {
        let lines = Arc::clone(&self.0);
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                match line {
                    Ok(line) => lines
                        .lock()
                        .unwrap_or_else(|poison| poison.into_inner())
                        .push(line),
                    Err(_) => break,
                }
            }
        })
    }

    pub fn text(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .join("\n")
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .any(|line| line.contains(needle))
    }
}

/// A running `sloscope serve`; killed (SIGKILL) when dropped.
pub struct ServerGuard {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub otlp_grpc_addr: SocketAddr,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    readers: Vec<thread::JoinHandle<()>>,
    /// Dropped after the child is killed, so the server never sees its directory vanish.
    _temp_dir: Option<TempDir>,
}

/// Starts `sloscope serve` on free ports in a new temporary data directory, with
/// `extra_args` appended (for example `["--config", path]`), and waits until it is ready.
pub fn start_server(extra_args: &[&str]) -> ServerGuard {
    let temp_dir = tempfile::Builder::new()
        .prefix("sloscope-e2e-")
        .tempdir()
        .expect("create a temporary data dir");
    let mut guard = start_server_in(temp_dir.path(), extra_args);
    guard._temp_dir = Some(temp_dir);
    guard
}

/// Starts `sloscope serve` on free ports with the given data directory (which outlives the
/// server: restarts reuse it), and waits until `/readyz` answers 200.
pub fn start_server_in(data_dir: &Path, extra_args: &[&str]) -> ServerGuard {
    let mut last_failure = String::new();
    for _attempt in 0..3 {
        match try_start(data_dir, extra_args) {
            Ok(guard) => return guard,
            Err(failure) if failure.contains("in use") => last_failure = failure,
            Err(failure) => panic!("{failure}"),
        }
    }
    panic!("sloscope could not bind free ports three times: {last_failure}");
}

fn try_start(data_dir: &Path, extra_args: &[&str]) -> Result<ServerGuard, String> {
    let localhost = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let (otlp_grpc_addr, otlp_http_addr, http_addr) = (
        localhost(free_port()),
        localhost(free_port()),
        localhost(free_port()),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_sloscope"));
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--otlp-grpc-addr", &otlp_grpc_addr.to_string()])
        .args(["--otlp-http-addr", &otlp_http_addr.to_string()])
        .args(["--http-addr", &http_addr.to_string()])
        .args(extra_args)
        .env("NO_COLOR", "1") // plain log lines, so tests can look for text in them
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Settings from the developer's environment must not leak into the test.
    for (key, _) in std::env::vars() {
        if key.starts_with("SLOSCOPE_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", env!("CARGO_BIN_EXE_sloscope")))?;
    let stdout = CapturedOutput::default();
    let stderr = CapturedOutput::default();
    let readers = vec![
        stdout.collect(child.stdout.take().expect("piped stdout")),
        stderr.collect(child.stderr.take().expect("piped stderr")),
    ];
    let mut guard = ServerGuard {
        child: Some(child),
        data_dir: data_dir.to_owned(),
        http_addr,
        otlp_http_addr,
        otlp_grpc_addr,
        stdout,
        stderr,
        readers,
        _temp_dir: None,
    };
    let started = Instant::now();
    loop {
        if let Some(status) = guard.try_wait() {
            guard.join_readers();
            return Err(format!(
                "sloscope serve exited with {status} before it was ready\n--- stdout ---\n{}\n--- stderr ---\n{}",
                guard.stdout.text(),
                guard.stderr.text()
            ));
        }
        if let Ok(response) = http_request(http_addr, "GET", "/readyz", &[], b"")
            && response.status == 200
        {
            return Ok(guard);
        }
        if started.elapsed() > READY_TIMEOUT {
            guard.kill();
            return Err(format!(
                "sloscope serve did not answer 200 on /readyz within {READY_TIMEOUT:?}\n--- stderr ---\n{}",
                guard.stderr.text()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

impl ServerGuard {
    /// The server's process id (0 once killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// `kill -9`: on Unix `Child::kill` sends SIGKILL, so nothing gets to flush or clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.join_readers();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.try_wait().is_none()
    }

    pub fn get(&self, target: &str) -> HttpResponse {
        http_request(self.http_addr, "GET", target, &[], b"").unwrap_or_else(|error| {
            panic!(
                "GET {target} failed: {error}\n--- server stderr ---\n{}",
                self.stderr.text()
            )
        })
    }

    /// GETs a JSON document from the query API, failing unless the answer is 200.
    pub fn get_json(&self, target: &str) -> Value {
        let response = self.get(target);
        assert_eq!(response.status, 200, "GET {target}: {}", response.text());
        response
            .json()
            .unwrap_or_else(|error| panic!("GET {target}: {error}"))
    }

    /// POSTs to the query API (`/api/v1/admin/flush`), failing unless the answer is 200.
    pub fn post_api(&self, target: &str) -> Value {
        let response =
            http_request(self.http_addr, "POST", target, &[], b"").unwrap_or_else(|error| {
                panic!(
                    "POST {target} failed: {error}\n--- server stderr ---\n{}",
                    self.stderr.text()
                )
            });
        assert_eq!(response.status, 200, "POST {target}: {}", response.text());
        response
            .json()
            .unwrap_or_else(|error| panic!("POST {target}: {error}"))
    }

    /// POSTs an OTLP/HTTP export to `/v1/{signal}` on the OTLP/HTTP port.
    pub fn post_otlp(
        &self,
        signal: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let mut all_headers = vec![("Content-Type", content_type)];
        all_headers.extend_from_slice(headers);
        http_request(
            self.otlp_http_addr,
            "POST",
            &format!("/v1/{signal}"),
            &all_headers,
            body,
        )
        .unwrap_or_else(|error| {
            panic!(
                "POST /v1/{signal} failed: {error}\n--- server stderr ---\n{}",
                self.stderr.text()
            )
        })
    }

    pub fn post_protobuf(&self, signal: &str, message: &impl prost::Message) -> HttpResponse {
        self.post_otlp(
            signal,
            "application/x-protobuf",
            &[],
            &message.encode_to_vec(),
        )
    }

    pub fn post_json(&self, signal: &str, document: &Value) -> HttpResponse {
        self.post_otlp(
            signal,
            "application/json",
            &[],
            document.to_string().as_bytes(),
        )
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            let stderr = self.stderr.text();
            let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
            eprintln!(
                "--- last lines of sloscope's stderr ({}) ---",
                self.data_dir.display()
            );
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// One HTTP answer, body already de-chunked.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|error| format!("answer is not JSON ({error}): {}", self.text()))
    }
}

/// Sends one HTTP/1.1 request on a new connection and reads the whole answer.
///
/// A server may answer (413, 415) before it has read the body and then close the
/// connection; a failed body write is therefore not an error as long as an answer arrives.
pub fn http_request(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // Write the body while reading: a server that refuses a large body answers early and stops
    // reading, and a client that insisted on writing everything first would never see that.
    let mut writer = stream.try_clone()?;
    let (body_written, read_result, raw) = thread::scope(|scope| {
        let writing = scope.spawn(move || writer.write_all(body).and_then(|()| writer.flush()));
        let mut raw = Vec::new();
        let read_result = stream.read_to_end(&mut raw);
        let _ = stream.shutdown(Shutdown::Both); // unblocks a writer the server stopped reading
        let body_written = writing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("body writer panicked")));
        (body_written, read_result, raw)
    });
    if raw.is_empty() {
        body_written?;
        read_result?;
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed without an answer",
        ));
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> io::Result<HttpResponse> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let head_end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| {
            invalid(format!(
                "no end of headers in {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = std::str::from_utf8(&raw[..head_end])
        .map_err(|error| invalid(format!("headers are not UTF-8: {error}")))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let rest = &raw[head_end + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let body =
        if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
            dechunk(rest).map_err(invalid)?
        } else if let Some(length) =
            header("content-length").and_then(|value| value.parse::<usize>().ok())
        {
            if rest.len() < length {
                return Err(invalid(format!(
                    "body has {} of {length} bytes",
                    rest.len()
                )));
            }
            rest[..length].to_vec()
        } else {
            rest.to_vec()
        };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("chunk size line without end")?;
        let size_text =
            std::str::from_utf8(&rest[..line_end]).map_err(|error| error.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|error| format!("chunk size {size_text:?}: {error}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err(format!("chunk of {size} bytes is cut short"));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Percent-encodes a query string: `query(&[("operation", "GET /cart/{id}")])`.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut encoded = String::new();
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            encoded.push('&');
        }
        encoded.push_str(&percent_encode(key));
        encoded.push('=');
        encoded.push_str(&percent_encode(value));
    }
    encoded
}

pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// What a finished (or timed-out and killed) child process left behind.
pub struct Finished {
    /// `None` when the process ran past its time and was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }
}

/// Runs a command to completion with its output captured, killing it after `timeout`.
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> io::Result<Finished> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = CapturedOutput::default();
    let stderr = CapturedOutput::default();
    let readers = [
        stdout.collect(child.stdout.take().expect("piped stdout")),
        stderr.collect(child.stderr.take().expect("piped stderr")),
    ];
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    for reader in readers {
        let _ = reader.join();
    }
    Ok(Finished {
        status,
        stdout: stdout.text(),
        stderr: stderr.text(),
    })
}

/// Polls `check` until it succeeds or `timeout` passes; returns the last failure on timeout.
/// For the short window in which an acknowledged export may not be queryable yet.
pub fn eventually(
    timeout: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(failure) if started.elapsed() > timeout => return Err(failure),
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Reproducible ids (splitmix64), so a failing run can be replayed.
pub struct IdSource(u64);

impl IdSource {
    pub fn new(seed: u64) -> IdSource {
        IdSource(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (mixed ^ (mixed >> 31)) | 1 // never all zeroes, which OTLP reserves for "no id"
    }

    pub fn trace_id(&mut self) -> [u8; 16] {
        let mut id = [0; 16];
        id[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        id[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        id
    }

    pub fn span_id(&mut self) -> [u8; 8] {
        self.next_u64().to_be_bytes()
    }
}

pub fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

pub fn int_attribute(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            string_attribute("service.name", service),
            string_attribute("deployment.environment.name", "e2e"),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "sloscope-e2e".into(),
        version: "1".into(),
        ..Default::default()
    })
}

/// A SERVER span of operation `GET {route}`, with an HTTP status.
pub fn server_span(
    trace_id: [u8; 16],
    span_id: [u8; 8],
    route: &str,
    start: u64,
    duration: u64,
    http_status: i64,
) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        name: format!("GET {route}"),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes: vec![
            string_attribute("http.request.method", "GET"),
            string_attribute("http.route", route),
            int_attribute("http.response.status_code", http_status),
        ],
        status: (http_status >= 500).then(|| Status {
            code: status::StatusCode::Error as i32,
            message: format!("HTTP {http_status}"),
        }),
        ..Default::default()
    }
}

/// A CLIENT span to a PostgreSQL database, child of `parent`.
pub fn database_span(
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: [u8; 8],
    namespace: &str,
    start: u64,
    duration: u64,
) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: parent.to_vec(),
        name: format!("SELECT {namespace}"),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes: vec![
            string_attribute("db.system.name", "postgresql"),
            string_attribute("db.namespace", namespace),
            string_attribute("db.operation.name", "SELECT"),
        ],
        ..Default::default()
    }
}

pub fn trace_request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A log record with a string body, optionally inside a span.
pub fn log_record(
    time: u64,
    severity_number: i32,
    severity_text: &str,
    body: &str,
    context: Option<([u8; 16], [u8; 8])>,
) -> LogRecord {
    let (trace_id, span_id) = match context {
        Some((trace_id, span_id)) => (trace_id.to_vec(), span_id.to_vec()),
        None => (Vec::new(), Vec::new()),
    };
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: time,
        severity_number,
        severity_text: severity_text.to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.to_owned())),
        }),
        trace_id,
        span_id,
        ..Default::default()
    }
}

pub fn logs_request(service: &str, log_records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(service),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn number_point(time: u64, value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

/// A gauge with one point per `(time, value)`.
pub fn gauge_metric(name: &str, unit: &str, points: &[(u64, f64)]) -> Metric {
    Metric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points
                .iter()
                .map(|&(time, value)| number_point(time, value, Vec::new()))
                .collect(),
        })),
        ..Default::default()
    }
}

/// A monotonic cumulative sum with one point per `(time, value)`, all from `start`.
pub fn counter_metric(name: &str, unit: &str, start: u64, points: &[(u64, f64)]) -> Metric {
    Metric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points
                .iter()
                .map(|&(time, value)| NumberDataPoint {
                    start_time_unix_nano: start,
                    ..number_point(time, value, Vec::new())
                })
                .collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

pub fn metrics_request(service: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(service),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `from=&to=` covering `[from, to]` in whole unix seconds (rounded outwards).
pub fn time_window(from_nanos: u64, to_nanos: u64) -> Vec<(&'static str, String)> {
    vec![
        ("from", (from_nanos / SECOND).to_string()),
        ("to", to_nanos.div_ceil(SECOND).to_string()),
    ]
}

/// Joins owned and borrowed query pairs: `query_with(&[("service", "x")], &window)`.
pub fn query_with(pairs: &[(&str, &str)], more: &[(&str, String)]) -> String {
    let mut all: Vec<(&str, &str)> = pairs.to_vec();
    all.extend(more.iter().map(|(key, value)| (*key, value.as_str())));
    query(&all)
}

/// Failures collected over a whole test, so that one run reports every wrong figure, not
/// only the first.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn check(&mut self, condition: bool, message: impl FnOnce() -> String) {
        if !condition {
            self.0.push(message());
        }
    }

    pub fn push(&mut self, message: String) {
        self.0.push(message);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Takes over another run's failures, each prefixed with the stage they belong to.
    pub fn extend_prefixed(&mut self, prefix: &str, other: Failures) {
        self.0.extend(
            other
                .0
                .into_iter()
                .map(|failure| format!("{prefix}{failure}")),
        );
    }

    /// Panics with every failure if there were any.
    pub fn finish(self, what: &str) {
        if !self.0.is_empty() {
            panic!(
                "{what}: {} failed check(s):\n- {}",
                self.0.len(),
                self.0.join("\n- ")
            );
        }
    }
}
