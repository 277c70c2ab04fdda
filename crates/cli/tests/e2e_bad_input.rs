//! Bad input end to end: what a broken, hostile or confused client sends to the OTLP/HTTP
//! receiver gets the status the OTLP specification asks for and a message that names the
//! problem, and it costs nothing else: after each case the server still answers and the data
//! sent before it is still there.
//!
//! Every test starts its own server with `[ingest] max_request_bytes = 65536` and a little
//! known-good data (a trace, a log record inside it, a gauge point).
//!
//! Run: `cargo test -p sloscope --test e2e_bad_input`.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::{
    HttpResponse, IdSource, MILLISECOND, SECOND, ServerGuard, database_span, eventually,
    gauge_metric, hex, log_record, logs_request, metrics_request, now_unix_nanos, query_with,
    server_span, start_server_in, string_attribute, time_window, trace_request,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::{Value, json};
use tempfile::TempDir;

const MAX_REQUEST_BYTES: usize = 65_536;
const SERVICE: &str = "bad-input";

/// `google.rpc.Status`, the body of an OTLP/HTTP error answer in protobuf.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The error message of an OTLP/HTTP error answer, in whichever encoding it came.
fn error_message(response: &HttpResponse) -> String {
    let content_type = response.header("content-type").unwrap_or_default();
    if content_type.starts_with("application/json") {
        response
            .json()
            .ok()
            .and_then(|body| body["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| response.text())
    } else if content_type.starts_with("application/x-protobuf") {
        RpcStatus::decode(response.body.as_slice())
            .map(|status| status.message)
            .unwrap_or_else(|_| response.text())
    } else {
        response.text()
    }
}

/// Lowercase letters and digits only, so `traceId`, `trace_id` and `trace id` all read `traceid`.
fn squashed(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|character| character.to_ascii_lowercase())
        .collect()
}

fn assert_refused(response: &HttpResponse, status: u16, what: &str, must_name: &[&str]) {
    let message = error_message(response);
    assert_eq!(
        response.status, status,
        "{what}: expected {status}, got {} {message}",
        response.status
    );
    assert!(
        !message.trim().is_empty(),
        "{what}: the {status} answer does not say why"
    );
    for name in must_name {
        assert!(
            squashed(&message).contains(&squashed(name)),
            "{what}: the message {message:?} does not name {name:?}"
        );
    }
}

/// A server with a small body limit and some known-good data in it.
struct Fixture {
    server: ServerGuard,
    data_dir: TempDir,
    config_dir: TempDir,
    ids: IdSource,
    /// Known-good traces sent so far: (trace id, span ids), all of which must stay queryable.
    traces: Vec<([u8; 16], Vec<[u8; 8]>)>,
    gauge_time: u64,
}

impl Fixture {
    fn start() -> Fixture {
        let data_dir = tempfile::Builder::new()
            .prefix("sloscope-bad-input-")
            .tempdir()
            .expect("temporary data dir");
        let config_dir = tempfile::tempdir().expect("temporary config dir");
        let config = config_dir.path().join("sloscope.toml");
        fs::write(
            &config,
            format!("[ingest]\nmax_request_bytes = {MAX_REQUEST_BYTES}\n"),
        )
        .expect("write the config file");
        let server = start_server_in(
            data_dir.path(),
            &["--config", config.to_str().expect("utf-8 temp path")],
        );
        let mut fixture = Fixture {
            server,
            data_dir,
            config_dir,
            ids: IdSource::new(0xBAD),
            traces: Vec::new(),
            gauge_time: 0,
        };
        fixture.send_known_good();
        fixture
    }

    fn send_known_good(&mut self) {
        let now = now_unix_nanos();
        let trace_id = self.ids.trace_id();
        let span_ids = [self.ids.span_id(), self.ids.span_id()];
        let start = now - 30 * SECOND;
        let spans = vec![
            server_span(
                trace_id,
                span_ids[0],
                "/items/{id}",
                start,
                25 * MILLISECOND,
                200,
            ),
            database_span(
                trace_id,
                span_ids[1],
                span_ids[0],
                "items",
                start + MILLISECOND,
                5 * MILLISECOND,
            ),
        ];
        let response = self
            .server
            .post_protobuf("traces", &trace_request(SERVICE, spans));
        assert_eq!(
            response.status,
            200,
            "known-good trace: {}",
            response.text()
        );
        let response = self.server.post_protobuf(
            "logs",
            &logs_request(
                SERVICE,
                vec![log_record(
                    start + 2 * MILLISECOND,
                    9,
                    "INFO",
                    "known good record",
                    Some((trace_id, span_ids[0])),
                )],
            ),
        );
        assert_eq!(response.status, 200, "known-good log: {}", response.text());
        self.gauge_time = now - 20 * SECOND;
        let response = self.server.post_protobuf(
            "metrics",
            &metrics_request(
                SERVICE,
                vec![gauge_metric(
                    "bad_input.known_good",
                    "1",
                    &[(self.gauge_time, 42.0)],
                )],
            ),
        );
        assert_eq!(
            response.status,
            200,
            "known-good metric: {}",
            response.text()
        );
        self.traces.push((trace_id, span_ids.to_vec()));
    }

    /// The server answers, and everything known-good that was sent is still there.
    fn assert_intact(&self, after: &str) {
        let server = &self.server;
        assert_eq!(server.get("/readyz").status, 200, "after {after}: /readyz");
        for (trace_id, span_ids) in &self.traces {
            let target = format!("/api/v1/traces/{}", hex(trace_id));
            let checked = eventually(Duration::from_secs(5), || {
                let response = server.get(&target);
                let spans = response
                    .json()
                    .ok()
                    .and_then(|body| body["spans"].as_array().cloned())
                    .unwrap_or_default();
                let mut got: Vec<String> = spans
                    .iter()
                    .filter_map(|span| span["span_id"].as_str().map(str::to_owned))
                    .collect();
                let mut want: Vec<String> = span_ids.iter().map(|id| hex(id)).collect();
                got.sort();
                want.sort();
                if response.status == 200 && got == want {
                    Ok(())
                } else {
                    Err(format!("{} {got:?}, expected {want:?}", response.status))
                }
            });
            if let Err(failure) = checked {
                panic!("after {after}: GET {target}: {failure}");
            }
        }
        let (first_trace, _) = &self.traces[0];
        let logs = server.get_json(&format!(
            "/api/v1/logs?{}",
            query_with(&[("trace_id", &hex(first_trace))], &[])
        ));
        let bodies: Vec<&str> = logs["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|record| record["body"].as_str())
            .collect();
        assert_eq!(
            bodies,
            ["known good record"],
            "after {after}: logs of the first known-good trace"
        );
        let metric = server.get_json(&format!(
            "/api/v1/metrics/bad_input.known_good?{}",
            query_with(
                &[("service", SERVICE)],
                &time_window(self.gauge_time - 60 * SECOND, self.gauge_time + 60 * SECOND)
            )
        ));
        let lasts: Vec<f64> = metric["series"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|series| series["points"].as_array().cloned().unwrap_or_default())
            .filter_map(|point| point["last"].as_f64())
            .collect();
        assert_eq!(lasts, [42.0], "after {after}: the known-good gauge point");
    }

    /// kill -9 and start again on the same directory: bad input must not poison the log replay.
    fn restart(&mut self) {
        self.server.kill();
        let config = self.config_dir.path().join("sloscope.toml");
        self.server = start_server_in(
            self.data_dir.path(),
            &["--config", config.to_str().expect("utf-8 temp path")],
        );
    }

    fn trace_is_absent(&self, trace_id: &[u8]) -> bool {
        self.server
            .get(&format!("/api/v1/traces/{}", hex(trace_id)))
            .status
            == 404
    }
}

/// A small valid trace export (one server span) for the given ids.
fn one_span_request(
    trace_id: &[u8],
    span_id: &[u8],
    start: u64,
) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    let mut span = server_span(
        [0; 16],
        [0; 8],
        "/things/{id}",
        start,
        10 * MILLISECOND,
        200,
    );
    span.trace_id = trace_id.to_vec();
    span.span_id = span_id.to_vec();
    trace_request(SERVICE, vec![span])
}

/// OTLP/JSON for spans given as (traceId, spanId, start) hex strings and times.
fn json_spans(spans: &[(String, String, u64)]) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|(trace_id, span_id, start)| {
            json!({
                "traceId": trace_id,
                "spanId": span_id,
                "name": "GET /things/{id}",
                "kind": 2,
                "startTimeUnixNano": start.to_string(),
                "endTimeUnixNano": (start + 10 * MILLISECOND).to_string(),
                "attributes": [
                    {"key": "http.request.method", "value": {"stringValue": "GET"}},
                    {"key": "http.route", "value": {"stringValue": "/things/{id}"}},
                    {"key": "http.response.status_code", "value": {"intValue": "200"}}
                ]
            })
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": SERVICE}}]},
            "scopeSpans": [{"scope": {"name": "e2e"}, "spans": spans}]
        }]
    })
}

/// `rejected_spans` of a successful answer, protobuf or JSON (where int64 may be a string).
fn rejected_spans(response: &HttpResponse) -> Option<i64> {
    if response
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json")
    {
        let body = response.json().ok()?;
        let rejected = &body["partialSuccess"]["rejectedSpans"];
        rejected
            .as_i64()
            .or_else(|| rejected.as_str().and_then(|text| text.parse().ok()))
    } else {
        ExportTraceServiceResponse::decode(response.body.as_slice())
            .ok()?
            .partial_success
            .map(|partial| partial.rejected_spans)
    }
}

#[test]
fn truncated_protobuf_is_refused_with_400() {
    let fixture = Fixture::start();
    let mut ids = IdSource::new(1);
    let now = now_unix_nanos();
    let trace_id = ids.trace_id();
    let whole = one_span_request(&trace_id, &ids.span_id(), now - SECOND).encode_to_vec();
    for cut in [whole.len() / 2, whole.len() - 1] {
        let response =
            fixture
                .server
                .post_otlp("traces", "application/x-protobuf", &[], &whole[..cut]);
        assert_refused(
            &response,
            400,
            &format!("traces protobuf cut to {cut} of {} bytes", whole.len()),
            &[],
        );
    }
    let logs = logs_request(
        SERVICE,
        vec![log_record(now, 9, "INFO", "never stored", None)],
    )
    .encode_to_vec();
    let response = fixture.server.post_otlp(
        "logs",
        "application/x-protobuf",
        &[],
        &logs[..logs.len() - 3],
    );
    assert_refused(&response, 400, "truncated logs protobuf", &[]);
    let metrics = metrics_request(
        SERVICE,
        vec![gauge_metric("bad_input.never", "1", &[(now, 1.0)])],
    )
    .encode_to_vec();
    let response = fixture.server.post_otlp(
        "metrics",
        "application/x-protobuf",
        &[],
        &metrics[..metrics.len() / 2],
    );
    assert_refused(&response, 400, "truncated metrics protobuf", &[]);
    assert!(
        fixture.trace_is_absent(&trace_id),
        "a truncated export must store nothing"
    );
    fixture.assert_intact("truncated protobuf");
}

#[test]
fn an_unsupported_content_type_is_415() {
    let fixture = Fixture::start();
    let body = one_span_request(&[7; 16], &[7; 8], now_unix_nanos() - SECOND).encode_to_vec();
    for content_type in ["text/plain", "application/xml", "application/grpc"] {
        let response = fixture.server.post_otlp("traces", content_type, &[], &body);
        assert_refused(
            &response,
            415,
            &format!("Content-Type: {content_type}"),
            &[],
        );
    }
    assert!(fixture.trace_is_absent(&[7; 16]));
    fixture.assert_intact("unsupported content types");
}

#[test]
fn invalid_json_is_refused_with_400() {
    let fixture = Fixture::start();
    for (what, body) in [
        ("cut-off JSON", r#"{"resourceSpans": ["#),
        ("not JSON at all", "resourceSpans=1"),
        (
            "a field of the wrong type",
            r#"{"resourceSpans": {"scopeSpans": 3}}"#,
        ),
        (
            "an id that is not hex",
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"zz","name":"x"}]}]}]}"#,
        ),
    ] {
        let response = fixture
            .server
            .post_otlp("traces", "application/json", &[], body.as_bytes());
        assert_refused(&response, 400, what, &[]);
    }
    fixture.assert_intact("invalid JSON");
}

#[test]
fn snake_case_json_keys_are_refused_with_400_naming_the_key() {
    let fixture = Fixture::start();
    let mut ids = IdSource::new(2);
    let trace_id = ids.trace_id();
    // What a client that serialises the protobuf structs with their Rust/Go field names sends.
    let body = json!({
        "resource_spans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"string_value": SERVICE}}]},
            "scope_spans": [{"spans": [{
                "trace_id": hex(&trace_id),
                "span_id": hex(&ids.span_id()),
                "name": "GET /things/{id}",
                "start_time_unix_nano": (now_unix_nanos() - SECOND).to_string(),
                "end_time_unix_nano": now_unix_nanos().to_string()
            }]}]
        }]
    });
    let response = fixture.server.post_json("traces", &body);
    assert_refused(&response, 400, "snake_case OTLP/JSON", &["resource_spans"]);
    assert!(fixture.trace_is_absent(&trace_id));
    fixture.assert_intact("snake_case JSON");
}

#[test]
fn ids_of_the_wrong_length_are_rejected_and_the_rest_is_kept() {
    let mut fixture = Fixture::start();
    let mut ids = IdSource::new(3);
    let start = now_unix_nanos() - 10 * SECOND;

    // All bad, JSON: a 6-digit trace id.
    let body = json_spans(&[("abcdef".into(), hex(&ids.span_id()), start)]);
    assert_refused(
        &fixture.server.post_json("traces", &body),
        400,
        "JSON span with a 3-byte trace id",
        &["trace", "id"],
    );
    // All bad, protobuf: a 4-byte span id.
    let trace_id = ids.trace_id();
    let response = fixture
        .server
        .post_protobuf("traces", &one_span_request(&trace_id, &[1, 2, 3, 4], start));
    assert_refused(
        &response,
        400,
        "protobuf span with a 4-byte span id",
        &["span", "id"],
    );
    assert!(fixture.trace_is_absent(&trace_id));
    fixture.assert_intact("all-bad ids");

    // Mixed, JSON: three good spans, a 15-byte trace id and a 9-byte span id.
    let good_trace = ids.trace_id();
    let good_spans = [ids.span_id(), ids.span_id(), ids.span_id()];
    let mut spans: Vec<(String, String, u64)> = good_spans
        .iter()
        .map(|span_id| (hex(&good_trace), hex(span_id), start))
        .collect();
    let short_trace = hex(&ids.trace_id()[..15]);
    spans.push((short_trace.clone(), hex(&ids.span_id()), start));
    spans.push((
        hex(&good_trace),
        format!("{}ff", hex(&ids.span_id())),
        start,
    ));
    let response = fixture.server.post_json("traces", &json_spans(&spans));
    assert_eq!(
        response.status,
        200,
        "mixed JSON export: {}",
        response.text()
    );
    assert_eq!(
        rejected_spans(&response),
        Some(2),
        "mixed JSON export: partial success should count 2 rejected spans: {}",
        response.text()
    );
    assert!(
        !error_message_of_partial_success(&response).is_empty(),
        "the partial success should say why: {}",
        response.text()
    );
    fixture.traces.push((good_trace, good_spans.to_vec()));

    // Mixed, protobuf: two good spans and a 17-byte trace id.
    let good_trace = ids.trace_id();
    let good_spans = [ids.span_id(), ids.span_id()];
    let mut request = one_span_request(&good_trace, &good_spans[0], start);
    let second = one_span_request(&good_trace, &good_spans[1], start).resource_spans[0].scope_spans
        [0]
    .spans[0]
        .clone();
    let mut long_trace = ids.trace_id().to_vec();
    long_trace.push(0x17);
    let bad = one_span_request(&long_trace, &ids.span_id(), start).resource_spans[0].scope_spans[0]
        .spans[0]
        .clone();
    request.resource_spans[0].scope_spans[0]
        .spans
        .extend([second, bad]);
    let response = fixture.server.post_protobuf("traces", &request);
    assert_eq!(
        response.status,
        200,
        "mixed protobuf export: {}",
        response.text()
    );
    assert_eq!(
        rejected_spans(&response),
        Some(1),
        "mixed protobuf export: partial success should count 1 rejected span"
    );
    fixture.traces.push((good_trace, good_spans.to_vec()));

    fixture.assert_intact("mixed ids");
    // The log keeps whole requests, bad spans included: replaying it must reject them again.
    fixture.restart();
    fixture.assert_intact("mixed ids, after kill -9 and restart");
}

fn error_message_of_partial_success(response: &HttpResponse) -> String {
    if response
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json")
    {
        response
            .json()
            .ok()
            .and_then(|body| {
                body["partialSuccess"]["errorMessage"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    } else {
        ExportTraceServiceResponse::decode(response.body.as_slice())
            .ok()
            .and_then(|answer| answer.partial_success.map(|partial| partial.error_message))
            .unwrap_or_default()
    }
}

#[test]
fn absurd_timestamps_are_rejected_and_the_rest_is_kept() {
    let mut fixture = Fixture::start();
    let mut ids = IdSource::new(4);
    let now = now_unix_nanos();
    let year_1970 = SECOND; // 1970-01-01T00:00:01Z
    let year_2500 = 16_725_225_600 * SECOND; // 2500-01-01T00:00:00Z

    let good_trace = ids.trace_id();
    let good_span = ids.span_id();
    let (old_trace, future_trace) = (ids.trace_id(), ids.trace_id());
    let mut request = one_span_request(&good_trace, &good_span, now - 5 * SECOND);
    for (trace_id, start) in [(old_trace, year_1970), (future_trace, year_2500)] {
        let span = one_span_request(&trace_id, &ids.span_id(), start).resource_spans[0].scope_spans
            [0]
        .spans[0]
            .clone();
        request.resource_spans[0].scope_spans[0].spans.push(span);
    }
    let response = fixture.server.post_protobuf("traces", &request);
    assert_eq!(
        response.status,
        200,
        "spans of 1970 and 2500 beside a good one: {}",
        response.text()
    );
    assert_eq!(
        rejected_spans(&response),
        Some(2),
        "the spans of 1970 and 2500 should be rejected"
    );
    fixture.traces.push((good_trace, vec![good_span]));
    assert!(fixture.trace_is_absent(&old_trace) && fixture.trace_is_absent(&future_trace));

    // Only absurd times: nothing usable, so the whole request is refused.
    let response = fixture.server.post_protobuf(
        "traces",
        &one_span_request(&ids.trace_id(), &ids.span_id(), year_2500),
    );
    assert_refused(&response, 400, "a request whose only span is in 2500", &[]);
    let response = fixture.server.post_protobuf(
        "logs",
        &logs_request(
            SERVICE,
            vec![log_record(year_1970, 9, "INFO", "from 1970", None)],
        ),
    );
    assert_refused(
        &response,
        400,
        "a request whose only log record is from 1970",
        &[],
    );

    fixture.assert_intact("absurd timestamps");
    fixture.restart();
    fixture.assert_intact("absurd timestamps, after kill -9 and restart");
}

#[test]
fn a_body_over_the_limit_is_413() {
    let mut fixture = Fixture::start();
    let mut ids = IdSource::new(5);
    let trace_id = ids.trace_id();
    let mut request = one_span_request(&trace_id, &ids.span_id(), now_unix_nanos() - SECOND);
    request.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(string_attribute(
            "padding",
            &"x".repeat(2 * MAX_REQUEST_BYTES),
        ));
    let body = request.encode_to_vec();
    assert!(body.len() > MAX_REQUEST_BYTES);
    let response = fixture
        .server
        .post_otlp("traces", "application/x-protobuf", &[], &body);
    assert_refused(
        &response,
        413,
        &format!("a {} byte protobuf body", body.len()),
        &[],
    );
    let json_body = format!(
        r#"{{"resourceSpans":[],"padding":"{}"}}"#,
        "y".repeat(2 * MAX_REQUEST_BYTES)
    );
    let response =
        fixture
            .server
            .post_otlp("traces", "application/json", &[], json_body.as_bytes());
    assert_refused(
        &response,
        413,
        &format!("a {} byte JSON body", json_body.len()),
        &[],
    );
    // Far over the limit: refused early, without the server reading (or buffering) 8 MiB.
    let started = Instant::now();
    let huge = vec![0x0a; 8 << 20];
    let response = fixture
        .server
        .post_otlp("traces", "application/x-protobuf", &[], &huge);
    assert_refused(&response, 413, "an 8 MiB body", &[]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refusing an 8 MiB body took {:?}",
        started.elapsed()
    );
    assert!(fixture.trace_is_absent(&trace_id));

    // Just under the limit still goes through, gzip too.
    let small_trace = ids.trace_id();
    let small_span = ids.span_id();
    let small =
        one_span_request(&small_trace, &small_span, now_unix_nanos() - SECOND).encode_to_vec();
    let response = fixture.server.post_otlp(
        "traces",
        "application/x-protobuf",
        &[("Content-Encoding", "gzip")],
        &gzip_stored(&small),
    );
    assert_eq!(
        response.status,
        200,
        "a small gzip export: {}",
        error_message(&response)
    );
    fixture.traces.push((small_trace, vec![small_span]));
    fixture.assert_intact("bodies over the limit");
}

#[test]
fn a_gzip_bomb_is_413_and_fast() {
    let fixture = Fixture::start();
    // About 6.5 KB on the wire, over 1 MiB inflated: 16 times the limit.
    let bomb = gzip_of_zeros(4096);
    assert!(bomb.len() < 8 * 1024, "the bomb is {} bytes", bomb.len());
    let started = Instant::now();
    let response = fixture.server.post_otlp(
        "traces",
        "application/x-protobuf",
        &[("Content-Encoding", "gzip")],
        &bomb,
    );
    let elapsed = started.elapsed();
    assert_refused(
        &response,
        413,
        "a gzip body that inflates past the limit",
        &[],
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "refusing the gzip bomb took {elapsed:?}: inflation must stop at the limit"
    );
    let response = fixture.server.post_otlp(
        "logs",
        "application/json",
        &[("Content-Encoding", "gzip")],
        &bomb,
    );
    assert_refused(
        &response,
        413,
        "a gzip JSON body that inflates past the limit",
        &[],
    );
    fixture.assert_intact("gzip bombs");
}

// ---------------------------------------------------------------------------------------------
// gzip by hand (no compression dependency): stored blocks for real payloads, and a fixed-Huffman
// stream of zeros for the bomb.

fn crc32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

fn gzip_trailer(out: &mut Vec<u8>, crc: u32, length: usize) {
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(length as u32).to_le_bytes());
}

/// gzip with uncompressed ("stored") deflate blocks.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = GZIP_HEADER.to_vec();
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (index, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(index == chunks.len() - 1)); // BFINAL, BTYPE = 00
        out.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(chunk.len() as u16)).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    gzip_trailer(&mut out, crc32(data.iter().copied()), data.len());
    out
}

/// Packs deflate's bit stream: fields least significant bit first, Huffman codes most first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bit: u32,
}

impl BitWriter {
    fn push_bit(&mut self, set: bool) {
        if self.bit.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if set {
            *self.bytes.last_mut().expect("a byte was pushed") |= 1 << (self.bit % 8);
        }
        self.bit += 1;
    }

    fn field(&mut self, value: u32, bits: u32) {
        for index in 0..bits {
            self.push_bit(value >> index & 1 == 1);
        }
    }

    fn code(&mut self, code: u32, bits: u32) {
        for index in (0..bits).rev() {
            self.push_bit(code >> index & 1 == 1);
        }
    }
}

/// gzip of `1 + 258 * repeats` zero bytes: one literal zero, then matches of length 258 at
/// distance 1, 13 bits each, in one fixed-Huffman block.
fn gzip_of_zeros(repeats: usize) -> Vec<u8> {
    let mut bits = BitWriter::default();
    bits.field(1, 1); // BFINAL
    bits.field(1, 2); // BTYPE = 01, fixed Huffman
    bits.code(0x30, 8); // literal 0
    for _ in 0..repeats {
        bits.code(0xC5, 8); // length symbol 285: 258 bytes
        bits.code(0, 5); // distance symbol 0: distance 1
    }
    bits.code(0, 7); // end of block
    let length = 1 + 258 * repeats;
    let mut out = GZIP_HEADER.to_vec();
    out.extend_from_slice(&bits.bytes);
    gzip_trailer(&mut out, crc32(std::iter::repeat_n(0u8, length)), length);
    out
}
