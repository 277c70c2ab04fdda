//! `sloscope demo` end to end, one test per scenario: the real binary starts its server,
//! backfills a simulated shop over OTLP/HTTP, injects the scenario's fault, the scenario's SLO
//! pages, and the investigation's top cause has the right service and kind and names what was
//! injected (the version, the statement, the pod, the endpoint, the call edge).
//!
//! Sized for a debug build: two hours of history and `--speed max`, on free ports in a
//! temporary directory; each demo takes about half a minute.
//!
//! Run: `cargo test -p sloscope --test e2e_demo`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A demo that has not finished by then has failed (a debug build needs about 30 s).
const DEMO_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `sloscope demo` with `arguments`; returns its exit success, stdout and stderr.
fn run_demo(arguments: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sloscope"))
        .arg("demo")
        .args(arguments)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sloscope demo");
    let collect = |stream: Box<dyn std::io::Read + Send>| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        (lines, reader)
    };
    let (stdout, stdout_reader) = collect(Box::new(child.stdout.take().unwrap()));
    let (stderr, stderr_reader) = collect(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the demo") {
            break Some(status);
        }
        if started.elapsed() > DEMO_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(200));
    };
    let _ = stdout_reader.join();
    let _ = stderr_reader.join();
    let stdout = stdout.lock().unwrap().join("\n");
    let stderr = stderr.lock().unwrap().join("\n");
    assert!(
        status.is_some(),
        "the demo did not finish within {DEMO_TIMEOUT:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (
        status.is_some_and(|status| status.success()),
        stdout,
        stderr,
    )
}

/// What one scenario must lead to.
struct Expected {
    scenario: &'static str,
    /// The service whose SLOs the scenario brings.
    service: &'static str,
    paging_slo: &'static str,
    /// The top cause's service and kind, as the demo prints them.
    cause_service: &'static str,
    cause_kind: &'static str,
    /// Text the top cause must show: what the scenario injected (a version, a statement, a
    /// pod, an endpoint, a call edge).
    names: &'static [&'static str],
}

/// Runs the demo headless on one scenario and checks the page and the investigation's top
/// cause.
fn check_scenario(expected: Expected) {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("demo");
    let (success, stdout, stderr) = run_demo(&[
        "--scenario",
        expected.scenario,
        "--exit-after-report",
        "--speed",
        "max",
        "--backfill-hours",
        "2",
        "--seed",
        "7",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--http-addr",
        "127.0.0.1:0",
        "--otlp-http-addr",
        "127.0.0.1:0",
        "--otlp-grpc-addr",
        "127.0.0.1:0",
    ]);
    let report = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(success, "the demo failed\n{report}");
    assert!(stdout.contains("  FAULT  "), "no fault\n{report}");
    assert!(
        stdout.contains(&format!("  PAGE  {}: ", expected.paging_slo)),
        "no page of {}\n{report}",
        expected.paging_slo
    );
    // The backfill went through the OTLP receiver and nothing was lost on the way.
    assert!(stdout.contains("  done: "), "{report}");
    assert!(!stdout.contains("dropped"), "{report}");
    // The scenario's SLOs were written where the server watches.
    let specs =
        std::fs::read_to_string(data_dir.join(format!("specs/{}.yaml", expected.service))).unwrap();
    assert!(specs.contains(&format!("name: {}", expected.paging_slo)));
    // The first ranked cause, with its evidence and remedies.
    let lines: Vec<&str> = stdout.lines().collect();
    let first = lines
        .iter()
        .position(|line| line.starts_with("  1. "))
        .unwrap_or_else(|| panic!("no ranked cause\n{report}"));
    let top_cause = lines[first..]
        .iter()
        .take_while(|line| line.starts_with("  1. ") || line.starts_with("     "))
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    let heading = format!("  1. {}  {}  ", expected.cause_service, expected.cause_kind);
    assert!(
        top_cause.starts_with(&heading),
        "top cause is not {heading:?}:\n{top_cause}\n{report}"
    );
    for name in expected.names {
        assert!(
            top_cause.contains(name),
            "the top cause does not name {name:?}:\n{top_cause}\n{report}"
        );
    }
    assert!(
        stdout.contains("Open the incident: http://127.0.0.1:"),
        "{report}"
    );
}

#[test]
fn slow_query_after_deploy_blames_the_customers_deploy() {
    check_scenario(Expected {
        scenario: "slow-query-after-deploy",
        service: "customers",
        paging_slo: "customers-latency",
        cause_service: "customers",
        cause_kind: "deployment",
        names: &["1.4.2", "loyalty_accounts"],
    });
}

#[test]
fn dependency_outage_blames_the_payment_api() {
    check_scenario(Expected {
        scenario: "dependency-outage",
        service: "payments",
        paging_slo: "payments-availability",
        cause_service: "api.paymentgateway.example",
        cause_kind: "dependency",
        names: &["api.paymentgateway.example degraded", "fault rate"],
    });
}

#[test]
fn traffic_spike_blames_the_load_on_the_product_page() {
    check_scenario(Expected {
        scenario: "traffic-spike",
        service: "frontend",
        paging_slo: "frontend-product-latency",
        cause_service: "frontend",
        cause_kind: "load",
        names: &["GET /products/{id}", "requests per minute"],
    });
}

#[test]
fn memory_leak_blames_the_catalog_pods_memory() {
    check_scenario(Expected {
        scenario: "memory-leak",
        service: "catalog",
        paging_slo: "catalog-latency",
        cause_service: "catalog",
        cause_kind: "memory_leak",
        names: &["memory of catalog (catalog-", "of its limit", "restarted"],
    });
}

#[test]
fn cpu_saturation_blames_the_orders_pods_cpu() {
    check_scenario(Expected {
        scenario: "cpu-saturation",
        service: "orders",
        paging_slo: "orders-list-latency",
        cause_service: "orders",
        cause_kind: "cpu_saturation",
        names: &["CPU of orders (orders-", "of its limit"],
    });
}

#[test]
fn network_delay_blames_the_orders_to_payments_path() {
    check_scenario(Expected {
        scenario: "network-delay",
        service: "orders",
        paging_slo: "orders-checkout-latency",
        cause_service: "payments",
        cause_kind: "network",
        names: &["calls from orders to payments", "median gap"],
    });
}

#[test]
fn bad_deploy_errors_blames_the_orders_deploy() {
    check_scenario(Expected {
        scenario: "bad-deploy-errors",
        service: "orders",
        paging_slo: "orders-availability",
        cause_service: "orders",
        cause_kind: "deployment",
        names: &["2.4.0", "nil pointer dereference"],
    });
}

#[test]
fn the_demo_does_not_wipe_a_directory_it_did_not_make() {
    let data = tempfile::tempdir().unwrap();
    let precious = data.path().join("notes.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let (success, _, stderr) = run_demo(&[
        "--exit-after-report",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--http-addr",
        "127.0.0.1:0",
    ]);
    assert!(!success);
    assert!(
        stderr.contains("was not made by `sloscope demo`"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
}
