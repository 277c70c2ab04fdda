//! End to end with the official OpenTelemetry Python SDK: start the real `sloscope serve`, let
//! `tests/e2e/otel_sdk_export.py` export a known set of traces, metrics and logs over OTLP gRPC
//! and OTLP/HTTP (unmodified SDK exporters), then check every figure the query API gives
//! against the manifest the script wrote: exact request, fault and error counts per service,
//! operation and dependency; latency percentiles within the sketch's 1 % of the exact ones;
//! whole traces; logs by trace and text; metric points. The same checks run three times: on
//! the in-memory head, after rolling it into Parquet segments, and after `kill -9` and a
//! restart.
//!
//! The SDK lives in a virtualenv under `target/e2e-venv`, created on first use with
//! `python3 -m venv` and pip (so the first run needs PyPI; later runs reuse it). Without
//! network on the first run the test fails, saying so: a skipped end-to-end test would hide
//! exactly the regressions it exists for.
//!
//! Run: `cargo test -p sloscope --test e2e_otel_sdk`. `SLOSCOPE_E2E_PYTHON` names another
//! interpreter than `python3` for creating the virtualenv.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{
    Failures, ServerGuard, eventually, percent_encode, query_with, run_with_timeout, start_server,
    start_server_in, time_window,
};
use serde_json::Value;

/// Pinned so that every run exports with the same SDK; the marker file in the virtualenv
/// records them, and changing them here reinstalls.
const SDK_REQUIREMENTS: &[&str] = &[
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-grpc==1.45.2",
    "opentelemetry-exporter-otlp-proto-http==1.45.2",
];

/// The sketch promises 1 % relative accuracy; a hair more absorbs float rounding.
const RELATIVE_ACCURACY: f64 = 0.01;

#[test]
fn the_python_sdk_exports_over_grpc_and_http_and_every_figure_is_exact() {
    let python = ensure_sdk_virtualenv();
    let data_dir = tempfile::Builder::new()
        .prefix("sloscope-e2e-sdk-")
        .tempdir()
        .expect("temporary data dir");
    let mut server = start_server_in(data_dir.path(), &[]);
    let manifest = run_export_script(&python, &server, &[]);
    let window = time_window(
        number(&manifest["window"]["from_unix_nano"]) as u64,
        number(&manifest["window"]["to_unix_nano"]) as u64,
    );

    // Acknowledged exports must become queryable promptly; after that every check is exact.
    let expected_requests: u64 = operations(&manifest)
        .iter()
        .map(|operation| count(operation, "requests"))
        .sum();
    let settled = eventually(Duration::from_secs(10), || {
        let services = server.get_json(&format!("/api/v1/services?{}", query_with(&[], &window)));
        let seen: u64 = services
            .as_array()
            .into_iter()
            .flatten()
            .map(|service| count(service, "requests"))
            .sum();
        if seen == expected_requests {
            Ok(())
        } else {
            Err(format!("{seen} of {expected_requests} requests visible"))
        }
    });
    if let Err(failure) = settled {
        panic!("the exported spans did not all show up in /api/v1/services within 10 s: {failure}");
    }

    // The same answers from the in-memory head, from Parquet segments after a roll, and after
    // kill -9 and a restart that reads segments and replays the log.
    let mut failures = Failures::default();
    check_everything(&server, &manifest, &window, &mut failures);

    let flushed = server.post_api("/api/v1/admin/flush");
    failures.check(
        flushed["segments"]
            .as_u64()
            .is_some_and(|segments| segments > 0),
        || format!("POST /api/v1/admin/flush wrote no segment: {flushed}"),
    );
    let mut after_flush = Failures::default();
    check_everything(&server, &manifest, &window, &mut after_flush);
    failures.extend_prefixed("[after POST /api/v1/admin/flush] ", after_flush);

    server.kill();
    let server = start_server_in(data_dir.path(), &[]);
    let mut after_restart = Failures::default();
    check_everything(&server, &manifest, &window, &mut after_restart);
    failures.extend_prefixed("[after flush, kill -9 and restart] ", after_restart);
    failures.finish("the query API disagrees with what the OpenTelemetry SDK sent");
}

/// OTLP calls some gRPC codes and HTTP statuses transient; SDK exporters retry them until
/// their timeout. A request over the size limit can never succeed, so it must be refused with
/// a code that is not among them, and the SDK must give up at once.
#[test]
fn an_export_over_the_size_limit_fails_at_once_instead_of_being_retried() {
    // The Python SDK retries RESOURCE_EXHAUSTED too, with or without retry information.
    const RETRYABLE_GRPC_CODES: [&str; 7] = [
        "RESOURCE_EXHAUSTED",
        "CANCELLED",
        "DEADLINE_EXCEEDED",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNAVAILABLE",
        "DATA_LOSS",
    ];
    let python = ensure_sdk_virtualenv();
    let config_dir = tempfile::tempdir().expect("temporary config dir");
    let config = config_dir.path().join("sloscope.toml");
    fs::write(&config, "[ingest]\nmax_request_bytes = 65536\n").expect("write the config file");
    let server = start_server(&["--config", config.to_str().expect("utf-8 temp path")]);
    let report = run_export_script(&python, &server, &["--oversized-span-bytes", "100000"]);

    let mut failures = Failures::default();
    let grpc = &report["grpc"];
    let grpc_status = text(grpc, "status");
    failures.check(grpc_status == "INVALID_ARGUMENT", || {
        format!(
            "gRPC Export of a {} byte request (limit 65536) answered {grpc_status} ({}), expected INVALID_ARGUMENT as \
             sloscope.example.toml documents{}",
            report["request_bytes"],
            grpc["message"],
            if RETRYABLE_GRPC_CODES.contains(&grpc_status) { "; OTLP clients retry this code" } else { "" }
        )
    });
    let http = &report["http"];
    failures.check(number_or_none(&http["status"]) == Some(413.0), || {
        format!(
            "POST /v1/traces of a {} byte body answered {}, expected 413",
            report["request_bytes"], http["status"]
        )
    });
    for (transport, outcome) in [("gRPC", grpc), ("HTTP", http)] {
        let seconds = number_or_none(&outcome["sdk_seconds"]).unwrap_or(f64::NAN);
        failures.check(text(outcome, "sdk_result") == "FAILURE" && seconds < 2.0, || {
            format!(
                "the Python SDK's {transport} exporter took {seconds:.2} s to end with {} (it retried a refusal that can never succeed)",
                outcome["sdk_result"]
            )
        });
    }
    failures.finish("an export over the size limit");
}

fn check_everything(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    check_health(server, failures);
    check_services(server, manifest, window, failures);
    check_operation_signals(server, manifest, window, failures);
    check_dependencies(server, manifest, window, failures);
    check_dependency_signals(server, manifest, window, failures);
    check_traces(server, manifest, failures);
    check_span_search(server, manifest, window, failures);
    check_logs(server, manifest, window, failures);
    check_metrics(server, manifest, window, failures);
}

// ---------------------------------------------------------------------------------------------
// The Python side

fn target_dir() -> PathBuf {
    // target/<profile>/sloscope: the virtualenv goes next to the profile directories.
    let binary = Path::new(env!("CARGO_BIN_EXE_sloscope"));
    binary
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in target/<profile>/")
        .to_owned()
}

/// Creates (once) `target/e2e-venv` with the OpenTelemetry SDK; returns its interpreter.
/// The tests of this file run in parallel: only one of them may create it.
fn ensure_sdk_virtualenv() -> PathBuf {
    static VIRTUALENV: OnceLock<PathBuf> = OnceLock::new();
    VIRTUALENV.get_or_init(create_sdk_virtualenv).clone()
}

fn create_sdk_virtualenv() -> PathBuf {
    let virtualenv = target_dir().join("e2e-venv");
    let python = virtualenv.join("bin").join("python");
    let marker = virtualenv.join(".sloscope-e2e-requirements");
    let wanted = SDK_REQUIREMENTS.join("\n");
    if python.exists() && fs::read_to_string(&marker).is_ok_and(|installed| installed == wanted) {
        return python;
    }
    if !python.exists() {
        let system_python =
            std::env::var("SLOSCOPE_E2E_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let created = run_with_timeout(
            Command::new(&system_python)
                .args(["-m", "venv"])
                .arg(&virtualenv),
            Duration::from_secs(120),
        )
        .unwrap_or_else(|error| {
            panic!(
                "cannot run `{system_python} -m venv`: {error}; this test needs Python 3 with venv"
            )
        });
        assert!(
            created.succeeded(),
            "`{system_python} -m venv {}` failed (on Debian install python3-venv):\n{}",
            virtualenv.display(),
            created.stderr
        );
    }
    let installed = run_with_timeout(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                "--timeout",
                "30",
            ])
            .args(SDK_REQUIREMENTS),
        Duration::from_secs(600),
    )
    .unwrap_or_else(|error| panic!("cannot run pip in {}: {error}", virtualenv.display()));
    assert!(
        installed.succeeded(),
        "pip could not install the OpenTelemetry Python SDK into {} (no network? the first run needs PyPI; \
         later runs reuse the virtualenv). This test does not skip, because skipping would hide the \
         regressions it exists for.\n--- pip stderr ---\n{}",
        virtualenv.display(),
        installed.stderr
    );
    fs::write(&marker, &wanted).expect("write the virtualenv marker");
    python
}

/// Runs `tests/e2e/otel_sdk_export.py` against the server with `extra_args`; returns the
/// manifest it wrote.
fn run_export_script(python: &Path, server: &ServerGuard, extra_args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/otel_sdk_export.py");
    let output_dir = tempfile::tempdir().expect("temporary dir for the manifest");
    let manifest_path = output_dir.path().join("manifest.json");
    let mut command = Command::new(python);
    command
        .arg(&script)
        .args([
            "--grpc-endpoint",
            &format!("http://{}", server.otlp_grpc_addr),
        ])
        .args([
            "--http-endpoint",
            &format!("http://{}", server.otlp_http_addr),
        ])
        .arg("--manifest")
        .arg(&manifest_path)
        .args(extra_args)
        // Loopback must never go through a proxy (requests and grpc both honour these).
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_")
            || key.eq_ignore_ascii_case("http_proxy")
            || key.eq_ignore_ascii_case("https_proxy")
        {
            command.env_remove(key);
        }
    }
    let started = Instant::now();
    let finished =
        run_with_timeout(&mut command, Duration::from_secs(180)).expect("run the export script");
    assert!(
        finished.succeeded(),
        "{} failed ({:?} after {:?}): some export was refused or never sent\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server stderr ---\n{}",
        script.display(),
        finished.status,
        started.elapsed(),
        finished.stdout,
        finished.stderr,
        server.stderr.text()
    );
    let text = fs::read_to_string(&manifest_path).expect("the script writes its manifest");
    serde_json::from_str(&text).expect("the manifest is JSON")
}

// ---------------------------------------------------------------------------------------------
// Reading the manifest and the answers

/// A JSON number, or a number in a string (OTLP/JSON writes 64-bit integers as strings).
fn number_or_none(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

fn number(value: &Value) -> f64 {
    number_or_none(value).unwrap_or_else(|| panic!("expected a number, got {value}"))
}

fn count(object: &Value, key: &str) -> u64 {
    number_or_none(&object[key]).map_or(u64::MAX, |value| value as u64)
}

fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object[key].as_str().unwrap_or_default()
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn operations(manifest: &Value) -> &[Value] {
    array(&manifest["operations"])
}

fn latencies(object: &Value) -> Vec<u64> {
    array(&object["latencies_nanos"])
        .iter()
        .map(|value| number(value) as u64)
        .collect()
}

/// The sketch's definition: the value at rank floor(q * (n - 1)) of the sorted values, in ms.
fn exact_quantile_ms(latencies_nanos: &[u64], quantile: f64) -> f64 {
    let mut sorted = latencies_nanos.to_vec();
    sorted.sort_unstable();
    let rank = (quantile * (sorted.len() - 1) as f64).floor() as usize;
    sorted[rank] as f64 / 1e6
}

fn check_quantile(
    failures: &mut Failures,
    what: &str,
    answered: &Value,
    latencies_nanos: &[u64],
    quantile: f64,
) {
    let exact = exact_quantile_ms(latencies_nanos, quantile);
    match number_or_none(answered) {
        None => failures.push(format!("{what}: no p{} in the answer (got {answered})", quantile * 100.0)),
        Some(value) => failures.check((value - exact).abs() <= RELATIVE_ACCURACY * exact + 1e-9, || {
            format!(
                "{what}: p{} is {value} ms, the exact value is {exact} ms ({:.3} % off, more than 1 %)",
                quantile * 100.0,
                (value - exact).abs() / exact * 100.0
            )
        }),
    }
}

fn check_counts(failures: &mut Failures, what: &str, answered: &Value, expected: &Value) {
    for key in ["requests", "faults", "errors"] {
        let (got, want) = (count(answered, key), count(expected, key));
        failures.check(got == want, || {
            format!("{what}: {key} is {} but {want} were sent", answered[key])
        });
    }
    let requests = count(expected, "requests") as f64;
    let availability = 1.0 - count(expected, "faults") as f64 / requests;
    match number_or_none(&answered["availability"]) {
        Some(value) => failures.check((value - availability).abs() < 1e-9, || {
            format!(
                "{what}: availability is {value}, expected 1 - faults / requests = {availability}"
            )
        }),
        None => failures.push(format!("{what}: no availability in {answered}")),
    }
}

/// Sums operations (or dependencies) into one expected entry with all their latencies.
fn merged(entries: &[&Value]) -> Value {
    let sum = |key: &str| entries.iter().map(|entry| count(entry, key)).sum::<u64>();
    let all_latencies: Vec<u64> = entries.iter().flat_map(|entry| latencies(entry)).collect();
    serde_json::json!({
        "requests": sum("requests"),
        "faults": sum("faults"),
        "errors": sum("errors"),
        "latencies_nanos": all_latencies,
    })
}

/// Every operation name an answer uses must be a route template, never a raw URL path.
fn check_not_raw_path(failures: &mut Failures, manifest: &Value, what: &str, operation: &str) {
    for raw_path in array(&manifest["raw_paths"])
        .iter()
        .filter_map(Value::as_str)
    {
        failures.check(!operation.contains(raw_path), || {
            format!("{what}: operation {operation:?} contains the raw URL path {raw_path:?}")
        });
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

fn check_health(server: &ServerGuard, failures: &mut Failures) {
    for path in ["/healthz", "/readyz"] {
        let status = server.get(path).status;
        failures.check(status == 200, || format!("GET {path} answered {status}"));
    }
}

/// `2026-11-21T10:00:00Z` for unix seconds (days to civil date after Howard Hinnant).
fn rfc3339(unix_seconds: i64) -> String {
    sloscope_model::format_timestamp(unix_seconds as u64 * 1_000_000_000)
}

fn check_services(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    let target = format!("/api/v1/services?{}", query_with(&[], window));
    let services = server.get_json(&target);
    // The same window written in RFC 3339 gives the same answer.
    let rfc3339_window: Vec<(&str, String)> = window
        .iter()
        .map(|(key, seconds)| (*key, rfc3339(seconds.parse().expect("unix seconds"))))
        .collect();
    let rfc3339_target = format!("/api/v1/services?{}", query_with(&[], &rfc3339_window));
    let same = server.get_json(&rfc3339_target);
    failures.check(same == services, || {
        format!("GET {rfc3339_target} answered {same}, but GET {target} answered {services}")
    });
    for (name, expected) in manifest["services"].as_object().expect("manifest services") {
        let what = format!("GET {target}: service {name}");
        let Some(answered) = array(&services)
            .iter()
            .find(|service| text(service, "name") == name)
        else {
            failures.push(format!("{what} is missing from {services}"));
            continue;
        };
        let service_operations: Vec<&Value> = operations(manifest)
            .iter()
            .filter(|operation| text(operation, "service") == name)
            .collect();
        let totals = merged(&service_operations);
        check_counts(failures, &what, answered, &totals);
        check_quantile(
            failures,
            &format!("{what} p50_ms"),
            &answered["p50_ms"],
            &latencies(&totals),
            0.50,
        );
        check_quantile(
            failures,
            &format!("{what} p99_ms"),
            &answered["p99_ms"],
            &latencies(&totals),
            0.99,
        );
        let environment = text(expected, "environment");
        failures.check(text(answered, "environment") == environment, || {
            format!(
                "{what}: environment is {} but the resource said {environment:?}",
                answered["environment"]
            )
        });
        let version = text(expected, "version");
        let versions: Vec<&str> = array(&answered["versions"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        failures.check(versions == [version], || {
            format!("{what}: versions are {versions:?}, expected [{version:?}]")
        });
        let expected_operations: BTreeSet<&str> = service_operations
            .iter()
            .map(|operation| text(operation, "operation"))
            .collect();
        match &answered["operations"] {
            Value::Array(names) => {
                let names: BTreeSet<&str> = names.iter().filter_map(Value::as_str).collect();
                failures.check(names == expected_operations, || {
                    format!("{what}: operations {names:?}, expected {expected_operations:?}")
                });
                for name in names {
                    check_not_raw_path(failures, manifest, &what, name);
                }
            }
            other => {
                let operation_count = number_or_none(other).map(|value| value as usize);
                failures.check(operation_count == Some(expected_operations.len()), || {
                    format!(
                        "{what}: operations is {other}, expected {} ({expected_operations:?})",
                        expected_operations.len()
                    )
                });
            }
        }
    }
}

fn check_operation_signals(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    for expected in operations(manifest) {
        let (service, operation) = (text(expected, "service"), text(expected, "operation"));
        let target = format!(
            "/api/v1/services/{}/signals?{}",
            percent_encode(service),
            query_with(
                &[("operation", operation), ("percentiles", "50,90,99")],
                window
            )
        );
        let response = server.get(&target);
        if response.status != 200 {
            failures.push(format!(
                "GET {target} answered {}: {}",
                response.status,
                response.text()
            ));
            continue;
        }
        let Ok(signals) = response.json() else {
            failures.push(format!("GET {target}: not JSON: {}", response.text()));
            continue;
        };
        let what = format!("GET {target}");
        failures.check(
            text(&signals, "service") == service && text(&signals, "operation") == operation,
            || {
                format!(
                    "{what}: answered for service {} operation {}",
                    signals["service"], signals["operation"]
                )
            },
        );
        let total = &signals["total"];
        check_counts(failures, &format!("{what} total"), total, expected);
        for (key, quantile) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99)] {
            check_quantile(
                failures,
                &format!("{what} total.latency_ms.{key}"),
                &total["latency_ms"][key],
                &latencies(expected),
                quantile,
            );
        }
        // The points partition the total.
        let points = array(&signals["points"]);
        for key in ["requests", "faults", "errors"] {
            let summed: u64 = points
                .iter()
                .map(|point| number_or_none(&point[key]).unwrap_or(0.0) as u64)
                .sum();
            failures.check(summed == count(expected, key), || {
                format!(
                    "{what}: the points' {key} add up to {summed}, not {}",
                    count(expected, key)
                )
            });
        }
        failures.check(
            number_or_none(&signals["step_seconds"]).is_some_and(|step| step > 0.0),
            || format!("{what}: step_seconds is {}", signals["step_seconds"]),
        );
        let timestamps: Vec<f64> = points
            .iter()
            .filter_map(|point| number_or_none(&point["timestamp"]))
            .collect();
        failures.check(timestamps.windows(2).all(|pair| pair[0] < pair[1]), || {
            format!("{what}: point timestamps not increasing: {timestamps:?}")
        });
    }

    // INTERNAL children and raw URL paths are not operations.
    let names = array(&manifest["non_operations"])
        .iter()
        .chain(array(&manifest["raw_paths"]))
        .filter_map(Value::as_str);
    for name in names {
        let target = format!(
            "/api/v1/services/checkout/signals?{}",
            query_with(&[("operation", name)], window)
        );
        let response = server.get(&target);
        let requests = response
            .json()
            .map(|signals| count(&signals["total"], "requests"))
            .unwrap_or(0);
        failures.check(
            response.status == 404 || (response.status == 200 && requests == 0),
            || {
                format!(
                    "GET {target}: {name:?} is not an operation, but the answer was {} {}",
                    response.status,
                    response.text()
                )
            },
        );
    }
}

fn dependency_key(entry: &Value) -> (String, String, String) {
    (
        text(entry, "service").to_owned(),
        text(entry, "remote_service").to_owned(),
        text(entry, "remote_operation").to_owned(),
    )
}

fn check_dependencies(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    let target = format!("/api/v1/dependencies?{}", query_with(&[], window));
    let dependencies = server.get_json(&target);
    let answered: BTreeMap<_, &Value> = array(&dependencies)
        .iter()
        .map(|entry| (dependency_key(entry), entry))
        .collect();
    let expected: BTreeMap<_, &Value> = array(&manifest["dependencies"])
        .iter()
        .map(|entry| (dependency_key(entry), entry))
        .collect();
    let answered_keys: BTreeSet<_> = answered.keys().collect();
    let expected_keys: BTreeSet<_> = expected.keys().collect();
    failures.check(answered_keys == expected_keys, || {
        format!(
            "GET {target}: dependency edges {answered_keys:?}, expected exactly {expected_keys:?}"
        )
    });
    for (key, want) in &expected {
        let what = format!("GET {target}: {} -> {} {}", key.0, key.1, key.2);
        let Some(got) = answered.get(key) else {
            continue;
        };
        for field in ["requests", "faults", "errors"] {
            failures.check(count(got, field) == count(want, field), || {
                format!(
                    "{what}: {field} is {} but {} were sent",
                    got[field], want[field]
                )
            });
        }
        check_quantile(
            failures,
            &format!("{what} p99_ms"),
            &got["p99_ms"],
            &latencies(want),
            0.99,
        );
        check_not_raw_path(failures, manifest, &what, &key.2);
    }
}

fn check_dependency_signals(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    let mut edges: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for dependency in array(&manifest["dependencies"]) {
        let (service, remote_service, _) = dependency_key(dependency);
        edges
            .entry((service, remote_service))
            .or_default()
            .push(dependency);
    }
    for ((service, remote_service), entries) in edges {
        let target = format!(
            "/api/v1/services/{}/signals?{}",
            percent_encode(&service),
            query_with(
                &[
                    ("kind", "dependency"),
                    ("remote_service", &remote_service),
                    ("percentiles", "50,90,99")
                ],
                window
            )
        );
        let response = server.get(&target);
        let Ok(signals) = response.json().map_err(|error| {
            failures.push(format!(
                "GET {target} answered {}: {error}",
                response.status
            ))
        }) else {
            continue;
        };
        if response.status != 200 {
            failures.push(format!(
                "GET {target} answered {}: {signals}",
                response.status
            ));
            continue;
        }
        let expected = merged(&entries);
        check_counts(
            failures,
            &format!("GET {target} total"),
            &signals["total"],
            &expected,
        );
        for (key, quantile) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99)] {
            check_quantile(
                failures,
                &format!("GET {target} total.latency_ms.{key}"),
                &signals["total"]["latency_ms"][key],
                &latencies(&expected),
                quantile,
            );
        }
    }
}

/// `SPAN_KIND_SERVER`, `Server` and `server` all name the same kind.
fn normalised_kind(kind: &str) -> String {
    kind.to_ascii_lowercase()
        .trim_start_matches("span_kind_")
        .to_owned()
}

fn check_traces(server: &ServerGuard, manifest: &Value, failures: &mut Failures) {
    for expected_trace in array(&manifest["traces"]) {
        let trace_id = text(expected_trace, "trace_id");
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
        let Ok(answered) = response.json() else {
            failures.push(format!("GET {target}: not JSON"));
            continue;
        };
        failures.check(text(&answered, "trace_id") == trace_id, || {
            format!("GET {target}: trace_id is {}", answered["trace_id"])
        });
        let answered_spans: BTreeMap<&str, &Value> = array(&answered["spans"])
            .iter()
            .map(|span| (text(span, "span_id"), span))
            .collect();
        let expected_spans = array(&expected_trace["spans"]);
        let expected_ids: BTreeSet<&str> = expected_spans
            .iter()
            .map(|span| text(span, "span_id"))
            .collect();
        let answered_ids: BTreeSet<&str> = answered_spans.keys().copied().collect();
        failures.check(
            answered_ids == expected_ids && array(&answered["spans"]).len() == expected_spans.len(),
            || {
                format!(
                    "GET {target}: span ids {answered_ids:?} ({} spans), expected {expected_ids:?}",
                    array(&answered["spans"]).len()
                )
            },
        );
        for expected in expected_spans {
            let span_id = text(expected, "span_id");
            let Some(got) = answered_spans.get(span_id) else {
                continue;
            };
            let what = format!(
                "GET {target}: span {span_id} ({} {})",
                text(expected, "service"),
                text(expected, "name")
            );
            for field in [
                "trace_id",
                "parent_span_id",
                "service",
                "name",
                "status_code",
            ] {
                let want = if field == "trace_id" {
                    trace_id
                } else {
                    text(expected, field)
                };
                failures.check(text(got, field) == want, || {
                    format!("{what}: {field} is {}, expected {want:?}", got[field])
                });
            }
            failures.check(
                normalised_kind(text(got, "kind")) == text(expected, "kind"),
                || {
                    format!(
                        "{what}: kind is {}, expected {}",
                        got["kind"], expected["kind"]
                    )
                },
            );
            for field in ["start_time_unix_nano", "duration_nanos"] {
                failures.check(
                    number_or_none(&got[field]).map(|value| value as u64)
                        == Some(number(&expected[field]) as u64),
                    || {
                        format!(
                            "{what}: {field} is {}, expected {}",
                            got[field], expected[field]
                        )
                    },
                );
            }
            if let Some(operation) = expected["operation"].as_str() {
                failures.check(text(got, "operation") == operation, || {
                    format!(
                        "{what}: operation is {}, expected {operation:?}",
                        got["operation"]
                    )
                });
            }
            if let Some(remote_service) = expected["remote_service"].as_str() {
                failures.check(text(got, "remote_service") == remote_service, || {
                    format!(
                        "{what}: remote_service is {}, expected {remote_service:?}",
                        got["remote_service"]
                    )
                });
            }
            if let Some(operation) = got["operation"].as_str() {
                check_not_raw_path(failures, manifest, &what, operation);
            }
            for (key, value) in expected["attributes"].as_object().into_iter().flatten() {
                failures.check(&got["attributes"][key] == value, || {
                    format!(
                        "{what}: attribute {key} is {}, expected {value}",
                        got["attributes"][key]
                    )
                });
            }
        }
        // A trace whose spans came over both transports must come back whole.
        let services: BTreeSet<&str> = expected_spans
            .iter()
            .map(|span| text(span, "service"))
            .collect();
        let answered_services: BTreeSet<&str> = answered_spans
            .values()
            .map(|span| text(span, "service"))
            .collect();
        failures.check(services == answered_services, || {
            format!("GET {target}: services {answered_services:?}, expected {services:?}")
        });
    }
    let unknown = "/api/v1/traces/0123456789abcdef0123456789abcdef";
    let status = server.get(unknown).status;
    failures.check(status == 404, || {
        format!("GET {unknown} (never sent) answered {status}, expected 404")
    });
}

fn all_spans(manifest: &Value) -> impl Iterator<Item = &Value> {
    array(&manifest["traces"])
        .iter()
        .flat_map(|trace| array(&trace["spans"]))
}

fn check_span_search(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    for service in ["checkout", "inventory"] {
        let target = format!(
            "/api/v1/spans?{}",
            query_with(
                &[("service", service), ("status", "error"), ("limit", "1000")],
                window
            )
        );
        let answered = server.get_json(&target);
        let got: BTreeSet<&str> = array(&answered["spans"])
            .iter()
            .map(|span| text(span, "span_id"))
            .collect();
        let want: BTreeSet<&str> = all_spans(manifest)
            .filter(|span| text(span, "service") == service && text(span, "status_code") == "error")
            .map(|span| text(span, "span_id"))
            .collect();
        failures.check(
            want.len() as u64 == count(&manifest["error_status_spans"], service),
            || {
                format!(
                    "manifest inconsistency: {} error spans of {service}",
                    want.len()
                )
            },
        );
        failures.check(got == want, || {
            format!(
                "GET {target}: {} spans {got:?}, expected the {} with status ERROR {want:?}",
                got.len(),
                want.len()
            )
        });
        for span in array(&answered["spans"]) {
            failures.check(
                text(span, "service") == service && text(span, "status_code") == "error",
                || {
                    format!(
                        "GET {target}: answered a span of {} with status {}",
                        span["service"], span["status_code"]
                    )
                },
            );
        }
    }

    // Slow requests: the two outliers of `GET /cart/{id}` (over 1 s; everything else is under 0.3 s).
    let target = format!(
        "/api/v1/spans?{}",
        query_with(
            &[
                ("service", "checkout"),
                ("operation", "GET /cart/{id}"),
                ("min_duration_ms", "1000"),
                ("limit", "1000")
            ],
            window
        )
    );
    let answered = server.get_json(&target);
    let got: BTreeSet<&str> = array(&answered["spans"])
        .iter()
        .map(|span| text(span, "span_id"))
        .collect();
    let want: BTreeSet<&str> = all_spans(manifest)
        .filter(|span| text(span, "service") == "checkout" && span["operation"] == "GET /cart/{id}")
        .filter(|span| number(&span["duration_nanos"]) > 1e9)
        .map(|span| text(span, "span_id"))
        .collect();
    failures.check(want.len() == 2, || {
        format!("manifest inconsistency: {} slow carts", want.len())
    });
    failures.check(got == want, || {
        format!("GET {target}: spans {got:?}, expected the slow ones {want:?}")
    });
}

fn log_bodies<'a>(logs: impl Iterator<Item = &'a Value>) -> BTreeSet<String> {
    logs.map(|record| match &record["body"] {
        Value::String(body) => body.clone(),
        other => other.to_string(),
    })
    .collect()
}

fn fetch_logs(
    server: &ServerGuard,
    window: &[(&str, String)],
    pairs: &[(&str, &str)],
    failures: &mut Failures,
) -> Option<(String, Vec<Value>)> {
    let mut all = pairs.to_vec();
    all.push(("limit", "1000"));
    let target = format!("/api/v1/logs?{}", query_with(&all, window));
    let response = server.get(&target);
    match response.json() {
        Ok(answered) if response.status == 200 => Some((target, array(&answered["logs"]).to_vec())),
        _ => {
            failures.push(format!(
                "GET {target} answered {}: {}",
                response.status,
                response.text()
            ));
            None
        }
    }
}

fn check_logs(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    let sent = array(&manifest["logs"]);
    let fetch = |pairs: &[(&str, &str)], failures: &mut Failures| {
        fetch_logs(server, window, pairs, failures)
    };
    let mut results = Vec::new();

    // By trace: exactly the records logged inside that trace's spans.
    let trace_ids: BTreeSet<&str> = sent
        .iter()
        .map(|record| text(record, "trace_id"))
        .filter(|id| !id.is_empty())
        .collect();
    for trace_id in &trace_ids {
        if let Some((target, logs)) = fetch(&[("trace_id", trace_id)], failures) {
            let want = log_bodies(
                sent.iter()
                    .filter(|record| text(record, "trace_id") == *trace_id),
            );
            results.push((target, logs, want));
        }
    }
    // By text, by service.
    for needle in ["declined", "deadlock", "reindex finished"] {
        if let Some((target, logs)) = fetch(&[("contains", needle)], failures) {
            let want = log_bodies(
                sent.iter()
                    .filter(|record| text(record, "body").contains(needle)),
            );
            results.push((target, logs, want));
        }
    }
    for service in ["checkout", "inventory"] {
        if let Some((target, logs)) = fetch(&[("service", service)], failures) {
            let want = log_bodies(
                sent.iter()
                    .filter(|record| text(record, "service") == service),
            );
            results.push((target, logs, want));
        }
    }
    let by_body: BTreeMap<&str, &Value> = sent
        .iter()
        .map(|record| (text(record, "body"), record))
        .collect();
    for (target, logs, want) in &results {
        let got = log_bodies(logs.iter());
        failures.check(&got == want && logs.len() == want.len(), || {
            format!(
                "GET {target}: {} records {got:?}, expected {want:?}",
                logs.len()
            )
        });
        for record in logs {
            let Some(expected) = by_body.get(text(record, "body")) else {
                continue;
            };
            let what = format!("GET {target}: record {:?}", text(record, "body"));
            for field in ["service", "severity_text", "trace_id", "span_id"] {
                failures.check(text(record, field) == text(expected, field), || {
                    format!(
                        "{what}: {field} is {}, expected {}",
                        record[field], expected[field]
                    )
                });
            }
            for field in ["time_unix_nano", "severity_number"] {
                let (got, want) = (
                    number_or_none(&record[field]).map(|value| value as u64),
                    number(&expected[field]) as u64,
                );
                failures.check(got == Some(want), || {
                    format!("{what}: {field} is {}, expected {want}", record[field])
                });
            }
        }
    }

    // By severity: at least ERROR, so every ERROR record and nothing below it.
    if let Some((target, logs)) = fetch(&[("severity", "error")], failures) {
        let want = log_bodies(
            sent.iter()
                .filter(|record| (17..=20).contains(&(number(&record["severity_number"]) as i64))),
        );
        let got = log_bodies(logs.iter());
        failures.check(want.is_subset(&got), || {
            format!("GET {target}: {got:?} lacks some ERROR records of {want:?}")
        });
        for record in &logs {
            let severity = number_or_none(&record["severity_number"]).unwrap_or(0.0);
            failures.check(severity >= 17.0, || {
                format!("GET {target}: answered a record of severity {severity}: {record}")
            });
        }
    }
}

/// The series of a metric answer that has the service and attributes of a sent series.
fn find_series<'a>(answered: &'a Value, sent: &Value) -> Option<&'a Value> {
    array(&answered["series"]).iter().find(|series| {
        text(series, "service") == text(sent, "service")
            && series["attributes"] == sent["attributes"]
    })
}

fn check_metrics(
    server: &ServerGuard,
    manifest: &Value,
    window: &[(&str, String)],
    failures: &mut Failures,
) {
    let sent_series = array(&manifest["metrics"]);
    let names: BTreeSet<&str> = sent_series
        .iter()
        .map(|series| text(series, "name"))
        .collect();
    for name in names {
        // Without a service filter both services' series come back; with one, only its own.
        let target = format!(
            "/api/v1/metrics/{}?{}",
            percent_encode(name),
            query_with(&[("step", "60")], window)
        );
        let answered = server.get_json(&target);
        failures.check(text(&answered, "name") == name, || {
            format!("GET {target}: name is {}", answered["name"])
        });
        let expected_count = sent_series
            .iter()
            .filter(|series| text(series, "name") == name)
            .count();
        failures.check(array(&answered["series"]).len() == expected_count, || {
            format!(
                "GET {target}: {} series, expected {expected_count}: {answered}",
                array(&answered["series"]).len()
            )
        });
        let filtered_target = format!(
            "/api/v1/metrics/{}?{}",
            percent_encode(name),
            query_with(&[("service", "checkout"), ("step", "60")], window)
        );
        let filtered = server.get_json(&filtered_target);
        let services: BTreeSet<&str> = array(&filtered["series"])
            .iter()
            .map(|series| text(series, "service"))
            .collect();
        failures.check(services == BTreeSet::from(["checkout"]), || {
            format!("GET {filtered_target}: series of services {services:?}")
        });

        for sent in sent_series
            .iter()
            .filter(|series| text(series, "name") == name)
        {
            let what = format!(
                "GET {target}: series of {} {}",
                text(sent, "service"),
                sent["attributes"]
            );
            let Some(series) = find_series(&answered, sent) else {
                failures.push(format!("{what} is missing from {answered}"));
                continue;
            };
            failures.check(text(series, "unit") == text(sent, "unit"), || {
                format!(
                    "{what}: unit is {}, expected {}",
                    series["unit"], sent["unit"]
                )
            });
            failures.check(
                normalised_kind(text(series, "kind")).contains(text(sent, "kind")),
                || {
                    format!(
                        "{what}: kind is {}, expected {}",
                        series["kind"], sent["kind"]
                    )
                },
            );
            check_metric_points(failures, &what, sent, series);
        }
    }
}

/// Points are buckets of `step`; whichever way the sent points fell into them, the buckets
/// must hold all of them: the counts add up, the extremes are the sent extremes, and the
/// newest bucket's `last` is the newest value sent (a histogram point counts as its mean).
fn check_metric_points(failures: &mut Failures, what: &str, sent: &Value, series: &Value) {
    let points = array(&series["points"]);
    let sent_points = array(&sent["points"]);
    if points.is_empty() {
        failures.push(format!("{what}: no points"));
        return;
    }
    // A distribution stands for its mean in a series, the way a gauge stands for its value.
    let scalar = |point: &Value| {
        if text(sent, "kind") == "histogram" {
            number(&point["sum"]) / number(&point["count"])
        } else {
            number(&point["value"])
        }
    };
    let sent_values: Vec<f64> = sent_points.iter().map(scalar).collect();
    let newest_sent = sent_points
        .iter()
        .max_by_key(|point| number(&point["time_unix_nano"]) as u64)
        .map(scalar);
    let newest_bucket = points
        .iter()
        .max_by(|left, right| number(&left["timestamp"]).total_cmp(&number(&right["timestamp"])));
    let newest_last = newest_bucket.and_then(|point| number_or_none(&point["last"]));
    failures.check(newest_last == newest_sent, || format!("{what}: the newest bucket's last is {newest_last:?}, the newest value sent {newest_sent:?}"));
    let bucket_max = points
        .iter()
        .filter_map(|point| number_or_none(&point["max"]))
        .fold(f64::NEG_INFINITY, f64::max);
    let bucket_min = points
        .iter()
        .filter_map(|point| number_or_none(&point["min"]))
        .fold(f64::INFINITY, f64::min);
    let sent_max = sent_values
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let sent_min = sent_values.iter().copied().fold(f64::INFINITY, f64::min);
    failures.check(bucket_max == sent_max && bucket_min == sent_min, || {
        format!("{what}: buckets span [{bucket_min}, {bucket_max}], the values sent [{sent_min}, {sent_max}]: {points:?}")
    });
    let bucket_count: f64 = points
        .iter()
        .filter_map(|point| number_or_none(&point["count"]))
        .sum();
    failures.check(bucket_count as usize == sent_points.len(), || {
        format!(
            "{what}: the buckets count {bucket_count} points, {} were sent",
            sent_points.len()
        )
    });
}
