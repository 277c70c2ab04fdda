//! Backpressure end to end: when more exports arrive than the store can take, the server
//! answers 429 with `Retry-After` (retryable per OTLP) instead of queueing without bound,
//! keeps its memory bounded, keeps serving, and every export it acknowledged is stored.
//!
//! Run: `cargo test -p sloscope --test e2e_backpressure`.

mod common;

use std::sync::Mutex;
use std::thread;

use common::{
    IdSource, SECOND, http_request, now_unix_nanos, server_span, start_server, trace_request,
};
use prost::Message;

/// Resident memory of a process in KiB, from /proc.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn overload_is_pushed_back_and_memory_stays_bounded() {
    let config_dir = tempfile::tempdir().unwrap();
    let config_path = config_dir.path().join("sloscope.toml");
    // A tiny budget: a handful of 1 MiB exports at once, then 429.
    std::fs::write(&config_path, "[ingest]\nmax_request_bytes = 2097152\nmax_in_flight_bytes = 8388608\nqueue_capacity = 2\n").unwrap();
    let server = start_server(&["--config", config_path.to_str().unwrap()]);
    let pid = server.pid();

    // About 1 MiB of spans per export, each export with its own ids.
    let bodies: Vec<Vec<u8>> = (0..8u64)
        .map(|seed| {
            let mut ids = IdSource::new(seed + 100);
            let now = now_unix_nanos();
            let spans = (0..2500)
                .map(|_| {
                    server_span(
                        ids.trace_id(),
                        ids.span_id(),
                        "/items/{id}",
                        now - SECOND,
                        1_000_000,
                        200,
                    )
                })
                .collect();
            let mut request = trace_request("loaded", spans);
            for span in &mut request.resource_spans[0].scope_spans[0].spans {
                span.attributes
                    .push(common::string_attribute("padding", &"x".repeat(300)));
            }
            request.encode_to_vec()
        })
        .collect();
    let accepted = Mutex::new(0u64);
    let throttled = Mutex::new(0u64);
    let peak_kib = Mutex::new(0u64);
    thread::scope(|scope| {
        for worker in 0..16 {
            let bodies = &bodies;
            let (accepted, throttled, peak_kib, server) =
                (&accepted, &throttled, &peak_kib, &server);
            scope.spawn(move || {
                for round in 0..10 {
                    let body = &bodies[(worker + round) % bodies.len()];
                    let response = http_request(
                        server.otlp_http_addr,
                        "POST",
                        "/v1/traces",
                        &[("Content-Type", "application/x-protobuf")],
                        body,
                    )
                    .unwrap();
                    match response.status {
                        200 => *accepted.lock().unwrap() += 2500,
                        429 => {
                            assert_eq!(
                                response.header("retry-after"),
                                Some("1"),
                                "a 429 must say when to retry"
                            );
                            *throttled.lock().unwrap() += 1;
                        }
                        other => panic!("overload answered {other}: {}", response.text()),
                    }
                    let resident = resident_kib(pid);
                    let mut peak = peak_kib.lock().unwrap();
                    *peak = (*peak).max(resident);
                }
            });
        }
    });
    let accepted = accepted.into_inner().unwrap();
    let throttled = throttled.into_inner().unwrap();
    let peak_mib = peak_kib.into_inner().unwrap() / 1024;
    assert!(
        throttled > 0,
        "160 concurrent 1 MiB exports against an 8 MiB budget were never pushed back"
    );
    assert!(accepted > 0);
    // 8 MiB of budget, a 2-deep queue and a head of decoded spans: far below a gigabyte.
    assert!(
        peak_mib < 1024,
        "resident memory reached {peak_mib} MiB under overload"
    );

    // Still serving, and every acknowledged span is counted.
    let services = server.get_json("/api/v1/services");
    let loaded = services
        .as_array()
        .unwrap()
        .iter()
        .find(|service| service["name"] == "loaded")
        .expect("the loaded service");
    assert_eq!(loaded["requests"].as_u64(), Some(accepted));
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.lines().any(|line| line
            .starts_with("sloscope_ingest_requests_throttled_total{signal=\"traces\"}")
            && !line.ends_with(" 0")),
        "{metrics}"
    );
}
