//! Crash safety end to end: what the server acknowledged survives `kill -9`, and a torn record
//! at the end of the write-ahead log (a crash in the middle of a write) is cut off at start-up,
//! reported, and costs nothing that was acknowledged. Killed under concurrent exports, the
//! server keeps every acknowledged export and each export in flight whole or not at all.
//!
//! Exports are OTLP/HTTP protobuf built here with `opentelemetry-proto`; every one must be
//! acknowledged with 200 and no rejected item before the server is killed, since only
//! acknowledged data is promised to survive.
//!
//! Run: `cargo test -p sloscope --test e2e_crash`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{
    Failures, IdSource, MILLISECOND, SECOND, ServerGuard, counter_metric, database_span,
    eventually, gauge_metric, hex, http_request, log_record, logs_request, metrics_request,
    now_unix_nanos, query_with, server_span, start_server_in, time_window, trace_request,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::Value;

const SERVICE: &str = "crash-test";
const MINUTE: u64 = 60 * SECOND;

/// Everything acknowledged so far, as the queries must return it.
#[derive(Default)]
struct Acknowledged {
    /// trace id (hex) -> span ids (hex)
    traces: BTreeMap<String, BTreeSet<String>>,
    server_spans: u64,
    server_faults: u64,
    database_spans: u64,
    /// body -> trace id (hex, empty without one)
    logs: BTreeMap<String, String>,
    /// metric name -> (time, value) of every point
    points: BTreeMap<String, Vec<(u64, f64)>>,
    earliest: u64,
    latest: u64,
}

impl Acknowledged {
    fn saw_time(&mut self, time: u64) {
        self.earliest = if self.earliest == 0 {
            time
        } else {
            self.earliest.min(time)
        };
        self.latest = self.latest.max(time);
    }

    fn window(&self) -> Vec<(&'static str, String)> {
        time_window(self.earliest - MINUTE, self.latest + MINUTE)
    }
}

/// Sends traces, logs and metric points in many small exports, each acknowledged.
struct Sender {
    ids: IdSource,
    /// Minute-aligned; metric points go one per minute after it so each has a bucket.
    base: u64,
    next_metric_minute: u64,
    sent_exports: usize,
}

impl Sender {
    fn new(seed: u64) -> Sender {
        let now = now_unix_nanos();
        let base = (now - 70 * MINUTE) / MINUTE * MINUTE;
        Sender {
            ids: IdSource::new(seed),
            base,
            next_metric_minute: 0,
            sent_exports: 0,
        }
    }

    fn send_round(&mut self, server: &ServerGuard, acknowledged: &mut Acknowledged, round: u64) {
        // One trace: a server span and two database calls; every fifth request fails.
        let trace_id = self.ids.trace_id();
        let root = self.ids.span_id();
        let children = [self.ids.span_id(), self.ids.span_id()];
        let start = self.base + round * 7 * SECOND;
        let status = if round % 5 == 4 { 500 } else { 200 };
        let spans = vec![
            server_span(
                trace_id,
                root,
                "/orders/{id}",
                start,
                (40 + round % 13) * MILLISECOND,
                status,
            ),
            database_span(
                trace_id,
                children[0],
                root,
                "orders",
                start + MILLISECOND,
                3 * MILLISECOND,
            ),
            database_span(
                trace_id,
                children[1],
                root,
                "orders",
                start + 5 * MILLISECOND,
                4 * MILLISECOND,
            ),
        ];
        let response = server.post_protobuf("traces", &trace_request(SERVICE, spans));
        assert_eq!(
            response.status,
            200,
            "trace export {round}: {}",
            response.text()
        );
        let answer = ExportTraceServiceResponse::decode(response.body.as_slice())
            .expect("an ExportTraceServiceResponse");
        assert!(
            answer
                .partial_success
                .as_ref()
                .is_none_or(|partial| partial.rejected_spans == 0),
            "trace export {round}: {answer:?}"
        );
        acknowledged.traces.insert(
            hex(&trace_id),
            [root].iter().chain(&children).map(|id| hex(id)).collect(),
        );
        acknowledged.server_spans += 1;
        acknowledged.server_faults += u64::from(status >= 500);
        acknowledged.database_spans += 2;
        acknowledged.saw_time(start);

        // Two log records, one inside the trace.
        let records = [
            (
                format!("order {round} accepted after {} ms", 40 + round % 13),
                Some((trace_id, root)),
            ),
            (format!("heartbeat {round} from {SERVICE}"), None),
        ];
        let request = logs_request(
            SERVICE,
            records
                .iter()
                .map(|(body, context)| {
                    log_record(
                        start + 2 * MILLISECOND,
                        if context.is_some() { 9 } else { 5 },
                        "INFO",
                        body,
                        *context,
                    )
                })
                .collect(),
        );
        let response = server.post_protobuf("logs", &request);
        assert_eq!(
            response.status,
            200,
            "log export {round}: {}",
            response.text()
        );
        let answer = ExportLogsServiceResponse::decode(response.body.as_slice())
            .expect("an ExportLogsServiceResponse");
        assert!(
            answer
                .partial_success
                .as_ref()
                .is_none_or(|partial| partial.rejected_log_records == 0),
            "log export {round}: {answer:?}"
        );
        for (body, context) in records {
            acknowledged.logs.insert(
                body,
                context
                    .map(|(trace_id, _)| hex(&trace_id))
                    .unwrap_or_default(),
            );
        }

        // A gauge and a counter point, each in a minute of its own.
        let time = self.base + self.next_metric_minute * MINUTE + 5 * SECOND;
        self.next_metric_minute += 1;
        let depth = (round * 3 % 17) as f64 + 0.5;
        let total = (round * (round + 1) / 2) as f64;
        let request = metrics_request(
            SERVICE,
            vec![
                gauge_metric("crash.queue.depth", "{item}", &[(time, depth)]),
                counter_metric("crash.orders", "{order}", self.base, &[(time, total)]),
            ],
        );
        let response = server.post_protobuf("metrics", &request);
        assert_eq!(
            response.status,
            200,
            "metric export {round}: {}",
            response.text()
        );
        let answer = ExportMetricsServiceResponse::decode(response.body.as_slice())
            .expect("an ExportMetricsServiceResponse");
        assert!(
            answer
                .partial_success
                .as_ref()
                .is_none_or(|partial| partial.rejected_data_points == 0),
            "metric export {round}: {answer:?}"
        );
        acknowledged
            .points
            .entry("crash.queue.depth".into())
            .or_default()
            .push((time, depth));
        acknowledged
            .points
            .entry("crash.orders".into())
            .or_default()
            .push((time, total));
        acknowledged.saw_time(time);
        self.sent_exports += 3;
    }
}

/// Every acknowledged span, log record and metric point is queryable, and the signals derived
/// from the spans count every request once.
fn check_everything_is_there(server: &ServerGuard, acknowledged: &Acknowledged, when: &str) {
    let mut failures = Failures::default();
    let window = acknowledged.window();

    for (trace_id, span_ids) in &acknowledged.traces {
        let target = format!("/api/v1/traces/{trace_id}");
        let response = server.get(&target);
        if response.status != 200 {
            failures.push(format!(
                "GET {target} answered {}: {}",
                response.status,
                response.text()
            ));
            continue;
        }
        let answered = response.json().unwrap_or_default();
        let spans = answered["spans"].as_array().cloned().unwrap_or_default();
        let got: BTreeSet<String> = spans
            .iter()
            .filter_map(|span| span["span_id"].as_str().map(str::to_owned))
            .collect();
        failures.check(&got == span_ids && spans.len() == span_ids.len(), || {
            format!(
                "GET {target}: {} spans {got:?}, expected {span_ids:?}",
                spans.len()
            )
        });
    }

    let target = format!("/api/v1/services?{}", query_with(&[], &window));
    let services = server.get_json(&target);
    match services.as_array().into_iter().flatten().find(|service| service["name"] == SERVICE) {
        Some(service) => {
            failures.check(service["requests"] == acknowledged.server_spans && service["faults"] == acknowledged.server_faults, || {
                format!(
                    "GET {target}: {} requests and {} faults, expected {} and {} (signals lost or counted twice)",
                    service["requests"], service["faults"], acknowledged.server_spans, acknowledged.server_faults
                )
            })
        }
        None => failures.push(format!("GET {target}: no service {SERVICE} in {services}")),
    }
    let target = format!("/api/v1/dependencies?{}", query_with(&[], &window));
    let dependencies = server.get_json(&target);
    let database =
        dependencies.as_array().into_iter().flatten().find(|edge| {
            edge["service"] == SERVICE && edge["remote_service"] == "postgresql:orders"
        });
    failures.check(
        database.is_some_and(|edge| edge["requests"] == acknowledged.database_spans),
        || {
            format!(
                "GET {target}: expected {} calls {SERVICE} -> postgresql:orders in {dependencies}",
                acknowledged.database_spans
            )
        },
    );

    let target = format!(
        "/api/v1/logs?{}",
        query_with(&[("service", SERVICE), ("limit", "10000")], &window)
    );
    let logs = server.get_json(&target);
    let records = logs["logs"].as_array().cloned().unwrap_or_default();
    let got: BTreeMap<String, String> = records
        .iter()
        .map(|record| {
            (
                record["body"].as_str().unwrap_or_default().to_owned(),
                record["trace_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    failures.check(
        got == acknowledged.logs && records.len() == acknowledged.logs.len(),
        || {
            let missing: Vec<&String> = acknowledged
                .logs
                .keys()
                .filter(|body| !got.contains_key(*body))
                .collect();
            format!(
                "GET {target}: {} records, expected {}; missing {missing:?}",
                records.len(),
                acknowledged.logs.len()
            )
        },
    );

    // One point per minute and 60 s steps from a whole minute: each bucket holds one point.
    for (name, points) in &acknowledged.points {
        let from = points
            .iter()
            .map(|(time, _)| *time)
            .min()
            .unwrap_or_default()
            / MINUTE
            * MINUTE;
        let to = points
            .iter()
            .map(|(time, _)| *time)
            .max()
            .unwrap_or_default()
            + MINUTE;
        let target = format!(
            "/api/v1/metrics/{name}?{}",
            query_with(
                &[("service", SERVICE), ("step", "60")],
                &time_window(from, to)
            )
        );
        let answered = server.get_json(&target);
        let series = answered["series"].as_array().cloned().unwrap_or_default();
        let got: Vec<(u64, f64, u64)> = series
            .iter()
            .flat_map(|series| series["points"].as_array().cloned().unwrap_or_default())
            .map(|point| {
                (
                    point["timestamp"].as_u64().unwrap_or(0),
                    point["last"].as_f64().unwrap_or(f64::NAN),
                    point["count"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let want: Vec<(u64, f64, u64)> = points
            .iter()
            .map(|(time, value)| (time / MINUTE * 60, *value, 1))
            .collect();
        failures.check(series.len() == 1 && got == want, || {
            format!("GET {target}: {} series with (timestamp, last, count) {got:?}, expected one series with {want:?}", series.len())
        });
    }
    failures.finish(&format!("{when}: acknowledged data is missing"));
}

/// The service and dependency summaries (counts and percentiles) of a window, which a
/// restart must reproduce exactly: the sketches are recovered, not rebuilt approximately.
struct Summaries {
    targets: [String; 2],
    answers: [Value; 2],
}

impl Summaries {
    fn take(server: &ServerGuard, window: &[(&str, String)]) -> Summaries {
        let targets = [
            format!("/api/v1/services?{}", query_with(&[], window)),
            format!("/api/v1/dependencies?{}", query_with(&[], window)),
        ];
        let answers = [server.get_json(&targets[0]), server.get_json(&targets[1])];
        Summaries { targets, answers }
    }

    fn assert_unchanged(&self, server: &ServerGuard, when: &str) {
        for (target, before) in self.targets.iter().zip(&self.answers) {
            let now = server.get_json(target);
            assert_eq!(&now, before, "{when}: GET {target} changed");
        }
    }
}

fn newest_wal_file(data_dir: &Path) -> PathBuf {
    let wal_dir = data_dir.join("wal");
    let mut files: Vec<PathBuf> = fs::read_dir(&wal_dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", wal_dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
        .collect();
    files.sort(); // named after their first sequence number, zero-padded
    files
        .pop()
        .unwrap_or_else(|| panic!("no *.wal file in {}", wal_dir.display()))
}

/// What a crash in the middle of `write` leaves: a record header promising 4096 bytes of body,
/// a checksum, and only the first 100 bytes of the body.
fn append_torn_record(path: &Path) -> u64 {
    let intact_length = fs::metadata(path).expect("wal file metadata").len();
    let mut torn = Vec::new();
    torn.extend_from_slice(&4096u32.to_le_bytes());
    torn.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    torn.extend(std::iter::repeat_n(0xAB, 100));
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open the wal file for appending");
    file.write_all(&torn).expect("append the torn record");
    file.sync_all().expect("sync the wal file");
    intact_length
}

#[test]
fn acknowledged_data_survives_kill_9_and_a_torn_wal_tail() {
    let data_dir = tempfile::Builder::new()
        .prefix("sloscope-crash-")
        .tempdir()
        .expect("temporary data dir");
    let mut acknowledged = Acknowledged::default();
    let mut sender = Sender::new(0xC0FFEE);

    // 1. Acknowledged exports, then SIGKILL straight after the last acknowledgement.
    let mut server = start_server_in(data_dir.path(), &[]);
    for round in 0..40 {
        sender.send_round(&server, &mut acknowledged, round);
    }
    // Before the crash the same checks pass (otherwise a failure below is not about crashing).
    if let Err(failure) = eventually(Duration::from_secs(10), || {
        let services = server.get_json(&format!(
            "/api/v1/services?{}",
            query_with(&[], &acknowledged.window())
        ));
        let requests = services
            .as_array()
            .into_iter()
            .flatten()
            .find(|service| service["name"] == SERVICE)
            .map(|service| service["requests"].clone());
        if requests == Some(Value::from(acknowledged.server_spans)) {
            Ok(())
        } else {
            Err(format!("requests {requests:?}"))
        }
    }) {
        panic!("acknowledged spans never became visible before the crash: {failure}");
    }
    check_everything_is_there(&server, &acknowledged, "before kill -9");
    for round in 40..45 {
        sender.send_round(&server, &mut acknowledged, round);
    }
    let before_kill = Summaries::take(&server, &acknowledged.window());
    server.kill();

    // 2. Restart on the same directory: all of it is back, summaries and percentiles included.
    // Then a roll into segments, more exports on top, and another kill.
    let mut server = start_server_in(data_dir.path(), &[]);
    check_everything_is_there(&server, &acknowledged, "after kill -9 and restart");
    before_kill.assert_unchanged(&server, "after kill -9 and restart");
    server.post_api("/api/v1/admin/flush");
    check_everything_is_there(&server, &acknowledged, "after a roll into segments");
    for round in 45..55 {
        sender.send_round(&server, &mut acknowledged, round);
    }
    let before_second_kill = Summaries::take(&server, &acknowledged.window());
    server.kill();

    // 3. A torn record at the end of the newest log file: start-up cuts it and says so.
    let wal_file = newest_wal_file(data_dir.path());
    let intact_length = append_torn_record(&wal_file);
    let server = start_server_in(data_dir.path(), &[]);
    let reported = eventually(Duration::from_secs(5), || {
        if server.stderr.contains("torn tail") {
            Ok(())
        } else {
            Err(server.stderr.text())
        }
    });
    if let Err(stderr) = reported {
        panic!(
            "the server started but did not report the torn tail of {} on stderr:\n{stderr}",
            wal_file.display()
        );
    }
    if let Ok(metadata) = fs::metadata(&wal_file) {
        assert!(
            metadata.len() <= intact_length,
            "{} is {} bytes after recovery; the torn record after byte {intact_length} should have been cut",
            wal_file.display(),
            metadata.len()
        );
    }
    check_everything_is_there(&server, &acknowledged, "after a torn wal tail");
    before_second_kill.assert_unchanged(&server, "after a torn wal tail");
    assert_eq!(sender.sent_exports, 55 * 3);
}

/// What one exporting thread attempted and which of its exports were acknowledged.
#[derive(Default)]
struct Attempts {
    /// trace id (hex) -> (span ids, acknowledged)
    traces: BTreeMap<String, (BTreeSet<String>, bool)>,
}

const CONCURRENT_SERVICE: &str = "crash-concurrent";
/// Each exporting thread stops after this many exports even if the server lives on, which
/// keeps every span of the test within one query's limit.
const MAX_EXPORTS_PER_THREAD: u64 = 500;

/// Exports one trace of four spans per request from `threads` threads until the server stops
/// answering, counting acknowledgements in `acknowledged`; each thread returns what it sent.
fn export_until_killed(
    address: SocketAddr,
    threads: u64,
    base: u64,
    acknowledged: &Arc<AtomicUsize>,
) -> Vec<JoinHandle<Attempts>> {
    (0..threads)
        .map(|thread_index| {
            let acknowledged = Arc::clone(acknowledged);
            thread::spawn(move || {
                let mut ids = IdSource::new(0xFEED_0000 + thread_index);
                let mut attempts = Attempts::default();
                for round in 0..MAX_EXPORTS_PER_THREAD {
                    let trace_id = ids.trace_id();
                    let root = ids.span_id();
                    let children = [ids.span_id(), ids.span_id(), ids.span_id()];
                    let start =
                        base + (thread_index * MAX_EXPORTS_PER_THREAD + round) * 100 * MILLISECOND;
                    let mut spans = vec![server_span(
                        trace_id,
                        root,
                        "/burst/{id}",
                        start,
                        20 * MILLISECOND,
                        200,
                    )];
                    for (index, child) in children.iter().enumerate() {
                        spans.push(database_span(
                            trace_id,
                            *child,
                            root,
                            "burst",
                            start + index as u64 * MILLISECOND,
                            MILLISECOND,
                        ));
                    }
                    let body = trace_request(CONCURRENT_SERVICE, spans).encode_to_vec();
                    let span_ids = std::iter::once(root)
                        .chain(children)
                        .map(|id| hex(&id))
                        .collect();
                    attempts.traces.insert(hex(&trace_id), (span_ids, false));
                    let headers = [("Content-Type", "application/x-protobuf")];
                    match http_request(address, "POST", "/v1/traces", &headers, &body) {
                        Ok(response) if response.status == 200 => {
                            if let Some(entry) = attempts.traces.get_mut(&hex(&trace_id)) {
                                entry.1 = true;
                            }
                            acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                        // Pushed back: not acknowledged; go on with the next trace.
                        Ok(response) if response.status == 429 || response.status == 503 => {}
                        Ok(response) => panic!(
                            "export {round} of thread {thread_index}: {} {}",
                            response.status,
                            response.text()
                        ),
                        // The server is gone.
                        Err(_) => break,
                    }
                }
                attempts
            })
        })
        .collect()
}

#[test]
fn kill_9_in_the_middle_of_concurrent_exports_loses_nothing_acknowledged() {
    let data_dir = tempfile::Builder::new()
        .prefix("sloscope-crash-concurrent-")
        .tempdir()
        .expect("temporary data dir");
    let mut server = start_server_in(data_dir.path(), &[]);
    let base = (now_unix_nanos() - 40 * MINUTE) / MINUTE * MINUTE;
    let acknowledged_count = Arc::new(AtomicUsize::new(0));
    let exporters = export_until_killed(server.otlp_http_addr, 4, base, &acknowledged_count);
    // Kill the server under the exporters once a good number of exports went through.
    let started = Instant::now();
    while acknowledged_count.load(Ordering::Relaxed) < 300
        && started.elapsed() < Duration::from_secs(60)
    {
        thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let attempts: Vec<Attempts> = exporters
        .into_iter()
        .map(|exporter| exporter.join().expect("exporter thread"))
        .collect();
    let sent: BTreeMap<&String, &(BTreeSet<String>, bool)> = attempts
        .iter()
        .flat_map(|attempt| &attempt.traces)
        .collect();
    let acknowledged = sent.values().filter(|(_, acked)| *acked).count();
    assert!(
        acknowledged >= 300,
        "only {acknowledged} exports were acknowledged in a minute before the kill"
    );
    assert!(
        acknowledged < sent.len(),
        "every export finished before the kill: nothing was in flight"
    );

    let server = start_server_in(data_dir.path(), &[]);
    let window = time_window(
        base - MINUTE,
        base + 4 * MAX_EXPORTS_PER_THREAD * 100 * MILLISECOND + MINUTE,
    );
    let target = format!(
        "/api/v1/spans?{}",
        query_with(
            &[("service", CONCURRENT_SERVICE), ("limit", "10000")],
            &window
        )
    );
    let answered = server.get_json(&target);
    let mut stored: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stored_spans = 0;
    for span in answered["spans"].as_array().into_iter().flatten() {
        let trace_id = span["trace_id"].as_str().unwrap_or_default().to_owned();
        stored
            .entry(trace_id)
            .or_default()
            .insert(span["span_id"].as_str().unwrap_or_default().to_owned());
        stored_spans += 1;
    }
    let mut failures = Failures::default();
    failures.check(stored_spans < 10_000, || {
        format!("GET {target}: hit the limit, the check is incomplete")
    });
    for (trace_id, (span_ids, acked)) in &sent {
        // Acknowledged: all there. In flight at the kill: all or nothing, never a part.
        match stored.get(*trace_id) {
            Some(got) => failures.check(got == span_ids, || {
                format!("trace {trace_id}: stored spans {got:?}, the export held {span_ids:?}")
            }),
            None => failures.check(!acked, || {
                format!("trace {trace_id}: acknowledged but not stored")
            }),
        }
    }
    let unknown: Vec<&String> = stored
        .keys()
        .filter(|trace_id| !sent.contains_key(trace_id))
        .collect();
    failures.check(unknown.is_empty(), || {
        format!("stored traces nobody sent: {unknown:?}")
    });
    failures.check(
        stored_spans == stored.values().map(BTreeSet::len).sum::<usize>(),
        || {
            format!(
                "GET {target}: {stored_spans} spans for {} distinct ones (stored twice?)",
                stored.values().map(BTreeSet::len).sum::<usize>()
            )
        },
    );
    let services = server.get_json(&format!("/api/v1/services?{}", query_with(&[], &window)));
    let requests = services
        .as_array()
        .into_iter()
        .flatten()
        .find(|service| service["name"] == CONCURRENT_SERVICE)
        .and_then(|service| service["requests"].as_u64())
        .unwrap_or(0);
    failures.check(requests == stored.len() as u64, || {
        format!("the signals count {requests} requests but {} traces are stored ({acknowledged} acknowledged of {} sent)", stored.len(), sent.len())
    });
    failures.finish(&format!(
        "kill -9 under concurrent exports ({acknowledged} acknowledged of {} sent)",
        sent.len()
    ));
}
