//! Investigations end to end: spans of a small shop exported over OTLP to the real server,
//! a deployment recorded through `POST /api/v1/changes`, then `POST /api/v1/investigations`
//! names the cause (a statement of the new `customers` version that got slow), the report
//! reads back as JSON and Markdown, and malformed requests get clear 400s.
//!
//! Run: `cargo test -p sloscope --test e2e_investigate`.

mod common;

use common::{
    IdSource, MILLISECOND, SECOND, ServerGuard, database_span, http_request, int_attribute,
    now_unix_nanos, server_span, start_server, string_attribute,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use serde_json::{Value, json};

const MINUTE: u64 = 60 * SECOND;
const SLOW_STATEMENT: &str = "SELECT * FROM customers WHERE email = 'ann@example.com'";

fn request(service: &str, version: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string_attribute("service.name", service),
                    string_attribute("service.version", version),
                    string_attribute("host.name", &format!("{service}-1")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "e2e".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One request: frontend -> customers (HTTP) -> postgresql. `slow` makes the customers
/// statement take 400 ms instead of 4 ms.
fn one_request(
    ids: &mut IdSource,
    start: u64,
    slow: bool,
    frontend: &mut Vec<Span>,
    customers: &mut Vec<Span>,
) {
    let trace = ids.trace_id();
    let (root, call, served, query) = (ids.span_id(), ids.span_id(), ids.span_id(), ids.span_id());
    let db_time = if slow { 400 } else { 4 } * MILLISECOND;
    let served_time = db_time + 6 * MILLISECOND;
    let call_time = served_time + 2 * MILLISECOND;
    frontend.push(server_span(
        trace,
        root,
        "/checkout",
        start,
        call_time + 5 * MILLISECOND,
        200,
    ));
    frontend.push(Span {
        trace_id: trace.to_vec(),
        span_id: call.to_vec(),
        parent_span_id: root.to_vec(),
        name: "GET".into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: start + MILLISECOND,
        end_time_unix_nano: start + MILLISECOND + call_time,
        attributes: vec![
            string_attribute("peer.service", "customers"),
            string_attribute("http.request.method", "GET"),
            int_attribute("http.response.status_code", 200),
        ],
        ..Default::default()
    });
    let mut server = server_span(
        trace,
        served,
        "/customers/{id}",
        start + 2 * MILLISECOND,
        served_time,
        200,
    );
    server.parent_span_id = call.to_vec();
    customers.push(server);
    let mut database = database_span(
        trace,
        query,
        served,
        "shop",
        start + 3 * MILLISECOND,
        db_time,
    );
    let statement = if slow {
        SLOW_STATEMENT
    } else {
        "SELECT * FROM customers WHERE id = 42"
    };
    database
        .attributes
        .push(string_attribute("db.query.text", statement));
    customers.push(database);
}

/// Ten minutes of baseline then ten minutes after `customers` 1.4.2 ships the slow statement.
fn send_story(server: &ServerGuard, breach_start: u64) {
    let mut ids = IdSource::new(11);
    for minute in 0..20u64 {
        let minute_start = breach_start - 10 * MINUTE + minute * MINUTE;
        let slow = minute >= 10;
        let (mut frontend, mut customers) = (Vec::new(), Vec::new());
        for index in 0..60 {
            one_request(
                &mut ids,
                minute_start + index * SECOND,
                slow,
                &mut frontend,
                &mut customers,
            );
        }
        let version = if slow { "1.4.2" } else { "1.4.1" };
        for (service, version, spans) in [
            ("frontend", "2.0.0", frontend),
            ("customers", version, customers),
        ] {
            let response = server.post_protobuf("traces", &request(service, version, spans));
            assert_eq!(response.status, 200, "{}", response.text());
        }
    }
}

fn post(server: &ServerGuard, target: &str, body: &Value) -> (u16, Value) {
    let response = http_request(
        server.http_addr,
        "POST",
        target,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap();
    let status = response.status;
    (status, response.json().unwrap_or(Value::Null))
}

#[test]
fn an_investigation_names_the_slow_statement_of_the_new_version() {
    let server = start_server(&[]);
    let breach_start = (now_unix_nanos() / MINUTE - 12) * MINUTE;
    send_story(&server, breach_start);
    let (status, change) = post(
        &server,
        "/api/v1/changes",
        &json!({ "service": "customers", "version": "1.4.2", "time": (breach_start / SECOND) as f64 }),
    );
    assert_eq!(status, 201, "{change}");
    assert_eq!(change["kind"], "deployment");

    let seconds = |nanos: u64| (nanos / SECOND) as f64;
    let (status, report) = post(
        &server,
        "/api/v1/investigations",
        &json!({
            "service": "frontend",
            "from": seconds(breach_start),
            "to": seconds(breach_start + 10 * MINUTE),
            "baseline_from": seconds(breach_start - 10 * MINUTE),
            "baseline_to": seconds(breach_start),
        }),
    );
    assert_eq!(status, 201, "{report}");
    let causes = report["causes"].as_array().expect("causes");
    assert!(!causes.is_empty(), "no causes: {report}");
    let top = &causes[0];
    assert_eq!(top["rank"], 1, "{report}");
    assert_eq!(
        top["service"], "customers",
        "the top cause is not customers: {report:#}"
    );
    let kind = top["kind"].as_str().unwrap();
    assert!(
        ["slow_query", "deployment"].contains(&kind),
        "top cause kind {kind}: {report:#}"
    );
    let cited = serde_json::to_string(&report).unwrap();
    assert!(
        cited.contains("customers WHERE email"),
        "the statement is not cited: {report:#}"
    );
    assert!(
        cited.contains("1.4.2"),
        "the new version is not cited: {report:#}"
    );
    assert!(!top["remedies"].as_array().unwrap().is_empty(), "{top}");

    let id = report["id"].as_str().expect("id");
    let again = server.get_json(&format!("/api/v1/investigations/{id}"));
    assert_eq!(again["causes"], report["causes"]);
    let markdown = server.get(&format!("/api/v1/investigations/{id}?format=markdown"));
    assert_eq!(markdown.status, 200);
    assert!(markdown.text().contains("customers"), "{}", markdown.text());
    let listed = server.get_json("/api/v1/investigations");
    assert_eq!(listed["investigations"][0]["id"], id);
    let changes = server.get_json("/api/v1/changes?service=customers");
    assert_eq!(changes["changes"][0]["version"], "1.4.2");

    // The same through the command line.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sloscope"))
        .args(["investigate", "frontend", "--server"])
        .arg(format!("http://{}", server.http_addr))
        .arg("--from")
        .arg((breach_start / SECOND).to_string())
        .arg("--to")
        .arg(((breach_start + 10 * MINUTE) / SECOND).to_string())
        .arg("--baseline-from")
        .arg(((breach_start - 10 * MINUTE) / SECOND).to_string())
        .arg("--baseline-to")
        .arg((breach_start / SECOND).to_string())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("# Investigation: frontend"), "{printed}");
    let first_cause = printed
        .lines()
        .find(|line| line.starts_with("### 1."))
        .unwrap_or_default();
    assert!(first_cause.contains("customers"), "{printed}");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_sloscope"))
        .args([
            "investigate",
            "frontend",
            "--from",
            "20",
            "--to",
            "10",
            "--server",
        ])
        .arg(format!("http://{}", server.http_addr))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("before `to`"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn malformed_investigation_requests_get_clear_errors() {
    let server = start_server(&[]);
    let cases = [
        (json!({ "from": 1, "to": 2 }), 400, "service"),
        (
            json!({ "service": "", "from": 1, "to": 2 }),
            400,
            "`service` is empty",
        ),
        (
            json!({ "service": "a", "from": "yesterday", "to": 2 }),
            400,
            "`from`",
        ),
        (
            json!({ "service": "a", "from": 20, "to": 10 }),
            400,
            "before `to`",
        ),
        (
            json!({ "service": "a", "from": 10, "to": 20, "baseline_from": 1 }),
            400,
            "baseline_to",
        ),
        (
            json!({ "service": "a", "from": 10, "to": 20, "slo": "nope" }),
            404,
            "nope",
        ),
        (
            json!({ "service": "a", "from": 10, "to": 20, "colour": "red" }),
            400,
            "colour",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = post(&server, "/api/v1/investigations", &body);
        assert_eq!(got, status, "{body} -> {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{body} -> {message}");
    }
    let response = http_request(
        server.http_addr,
        "POST",
        "/api/v1/investigations",
        &[],
        b"{not json",
    )
    .unwrap();
    assert_eq!(response.status, 400, "{}", response.text());
    let (status, answer) = post(&server, "/api/v1/changes", &json!({ "version": "1" }));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(server.get("/api/v1/investigations/unknown").status, 404);
    assert_eq!(
        server.get("/api/v1/incidents/unknown/postmortem").status,
        404
    );
    // The server still serves.
    assert_eq!(server.get("/healthz").status, 200);
}
