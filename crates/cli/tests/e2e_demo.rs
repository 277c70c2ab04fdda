//! `sloscope demo` end to end: the real binary starts its server, backfills a simulated shop
//! over OTLP/HTTP, injects the default fault (a customers deploy with a slow query), and the
//! customers latency SLO pages; the investigation's top cause names customers.
//!
//! Sized for a debug build: two hours of history and live time ten times faster than the
//! wall clock, on free ports in a temporary directory; about half a minute.
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

#[test]
fn the_default_demo_pages_on_customers_latency_and_blames_customers() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("demo");
    let (success, stdout, stderr) = run_demo(&[
        "--exit-after-report",
        "--speed",
        "10",
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
    assert!(
        stdout.contains("PAGE  customers-latency"),
        "no page\n{report}"
    );
    assert!(
        stdout.contains("FAULT  customers v1.4.2 rolls out"),
        "{report}"
    );
    // The backfill went through the OTLP receiver and nothing was lost on the way.
    assert!(stdout.contains("  done: "), "{report}");
    assert!(!stdout.contains("dropped"), "{report}");
    // The scenario's SLOs were written where the server watches.
    let specs = std::fs::read_to_string(data_dir.join("specs/customers.yaml")).unwrap();
    assert!(specs.contains("name: customers-latency"));
    // The investigation ranks its causes; the first names customers.
    let top_cause = stdout
        .lines()
        .find(|line| line.starts_with("  1. "))
        .unwrap_or_else(|| panic!("no ranked cause\n{report}"));
    assert!(
        top_cause.starts_with("  1. customers "),
        "top cause: {top_cause}\n{report}"
    );
    assert!(
        stdout.contains("Open the incident: http://127.0.0.1:"),
        "{report}"
    );
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
