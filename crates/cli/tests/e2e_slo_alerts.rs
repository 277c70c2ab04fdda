//! SLO alerts end to end: spans exported over OTLP make an SLO burn, the real server pages
//! through a webhook channel (a real HTTP receiver in this test), `/metrics` shows the rule
//! firing, the page opens an incident with an investigation, and once the faults stop the
//! receiver gets the resolved message and the incident is resolved with a post-mortem draft.
//!
//! The SLO has a one-day window, so the workbook's page rule scales to 14.4x over 2 minutes
//! and 1 minute, and the server evaluates every second: the whole story takes one to two
//! minutes of wall time.
//!
//! Run: `cargo test -p sloscope --test e2e_slo_alerts`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    IdSource, SECOND, ServerGuard, http_request, now_unix_nanos, server_span, start_server,
    trace_request,
};
use serde_json::Value;

const SERVICE: &str = "customers";
const PAGE_RULE: &str = "burn_2m_1m";

/// A webhook receiver: records every JSON body posted to it and answers 200.
fn start_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook receiver");
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut content_length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; content_length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(document) = serde_json::from_slice::<Value>(&body)
            {
                sink.lock().unwrap().push(document);
            }
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, received)
}

/// Sends `count` server spans ending now, `faulty` of them with HTTP 503.
fn send(server: &ServerGuard, ids: &mut IdSource, count: usize, faulty: usize) {
    let now = now_unix_nanos();
    let spans = (0..count)
        .map(|index| {
            let status = if index < faulty { 503 } else { 200 };
            server_span(
                ids.trace_id(),
                ids.span_id(),
                "/customers/{id}",
                now - SECOND,
                20_000_000,
                status,
            )
        })
        .collect();
    let response = server.post_protobuf("traces", &trace_request(SERVICE, spans));
    assert_eq!(response.status, 200, "{}", response.text());
}

fn wait_for_webhook(
    received: &Arc<Mutex<Vec<Value>>>,
    status: &str,
    timeout: Duration,
    keep_sending: impl Fn(),
) -> Value {
    let started = Instant::now();
    loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .find(|message| message["rule"] == PAGE_RULE && message["status"] == status)
            .cloned();
        if let Some(message) = found {
            return message;
        }
        assert!(
            started.elapsed() < timeout,
            "no {status} webhook for {PAGE_RULE} within {timeout:?}; got {:?}",
            received.lock().unwrap()
        );
        keep_sending();
        thread::sleep(Duration::from_millis(500));
    }
}

/// Waits up to a minute for the only incident to satisfy `ready`, calling `between` between
/// looks.
fn wait_for_incident(
    server: &ServerGuard,
    ready: impl Fn(&Value) -> bool,
    mut between: impl FnMut(),
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = server.get_json("/api/v1/incidents");
        if let Some(incident) = listed["incidents"].as_array().and_then(|list| list.first())
            && ready(incident)
        {
            return incident.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no incident got there: {listed:#}"
        );
        between();
        thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn an_slo_burn_pages_through_a_webhook_and_resolves() {
    let (hook_url, received) = start_receiver();
    let config_dir = tempfile::tempdir().unwrap();
    let config_path = config_dir.path().join("sloscope.toml");
    std::fs::write(
        &config_path,
        format!("[slo]\nevaluation_interval_secs = 1\n\n[incidents]\nrecovery_minutes = 0\n\n[[notify.channels]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{hook_url}\"\n"),
    )
    .unwrap();
    let server = start_server(&["--config", config_path.to_str().unwrap()]);
    let spec = "apiVersion: sloscope/v1\nkind: SLO\nname: customers-availability\nservice: customers\nindicator:\n  availability: {}\nobjective: 99\nwindow: 1d\n";
    let created = http_request(
        server.http_addr,
        "PUT",
        "/api/v1/slos/customers-availability",
        &[("Content-Type", "application/yaml")],
        spec.as_bytes(),
    )
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());

    // Faults go on until the page fires: the 1-minute short window only holds the current
    // minute, so one burst could fall out of it when a minute boundary passes.
    let ids = Mutex::new(IdSource::new(7));
    send(&server, &mut ids.lock().unwrap(), 100, 0);
    send(&server, &mut ids.lock().unwrap(), 100, 60);
    let firing = wait_for_webhook(&received, "firing", Duration::from_secs(30), || {
        send(&server, &mut ids.lock().unwrap(), 100, 60)
    });
    assert_eq!(firing["slo"], "customers-availability");
    assert_eq!(firing["severity"], "page");
    assert!(
        firing["summary"]
            .as_str()
            .unwrap()
            .contains("burning its error budget"),
        "{firing}"
    );

    let metrics = server.get("/metrics").text();
    let state_line = metrics
        .lines()
        .find(|line| {
            line.starts_with("sloscope_slo_alert_state{")
                && line.contains(&format!("rule=\"{PAGE_RULE}\""))
        })
        .unwrap_or_else(|| panic!("no alert state series in /metrics:\n{metrics}"));
    assert!(
        state_line.ends_with(" 2"),
        "the page rule is not firing in /metrics: {state_line}"
    );
    assert!(
        metrics.contains("slo:objective:ratio{sloth_id=\"customers-customers-availability\""),
        "{metrics}"
    );

    // The page opened one incident, and the incident worker investigated it.
    let incident = wait_for_incident(
        &server,
        |incident| !incident["investigation_id"].is_null(),
        || {},
    );
    assert_eq!(incident["slo"], "customers-availability");
    assert_eq!(incident["service"], SERVICE);
    assert_eq!(incident["state"], "investigating", "{incident}");
    let incident_id = incident["id"].as_str().unwrap().to_owned();

    // The faults stop; healthy traffic goes on until the short window has only good requests.
    let resolved = wait_for_webhook(&received, "resolved", Duration::from_secs(150), || {
        send(&server, &mut ids.lock().unwrap(), 50, 0)
    });
    assert_eq!(resolved["slo"], "customers-availability");
    // Recovery needs the SLO within target (traffic in its shortest window, all good).
    let incident = wait_for_incident(
        &server,
        |incident| incident["state"] == "resolved",
        || send(&server, &mut ids.lock().unwrap(), 20, 0),
    );
    assert_eq!(
        incident["id"],
        incident_id.as_str(),
        "one incident per breach"
    );
    let listed = server.get_json("/api/v1/incidents");
    assert_eq!(listed["incidents"].as_array().unwrap().len(), 1, "{listed}");
    let postmortem = server
        .get(&format!("/api/v1/incidents/{incident_id}/postmortem"))
        .text();
    for needle in [
        "## Summary",
        "## Impact",
        "## Timeline",
        "page alert fired",
        "investigation",
        "mitigated",
        "recovered",
        "## Corrective actions",
    ] {
        assert!(
            postmortem.contains(needle),
            "no `{needle}` in:\n{postmortem}"
        );
    }
    let status = server.get_json("/api/v1/slos/customers-availability");
    let history = status["alert_history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|event| event["rule"] == PAGE_RULE && event["to"] == "resolved"),
        "{status}"
    );
}
