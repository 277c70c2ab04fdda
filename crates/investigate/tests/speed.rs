//! How long an investigation of a large window takes: about 200,000 spans and 80,000 logs in
//! the breach window (and as many in the baseline). Ignored by default; run it in release:
//! `cargo test --release -p sloscope-investigate --test speed -- --ignored --nocapture`.
//! `sloscope bench investigate` is where the figure for the record comes from.

mod world;

use std::time::Instant;

use sloscope_investigate::investigate;
use world::Scenario;

#[test]
#[ignore = "a timing, meaningful in release builds only"]
fn a_window_of_200k_spans_is_investigated_in_well_under_a_second() {
    let mut scenario = Scenario::with_fault(|params| {
        params.requests_per_minute = 670;
        params.cpu.insert("inventory", 0.95);
        params.self_ms.insert("inventory", 40.0);
        params.exception = Some((
            "inventory",
            "java.lang.IllegalStateException",
            "stock cache not initialised",
            0.1,
        ));
    });
    scenario.baseline.requests_per_minute = 670;
    scenario.before_onset.requests_per_minute = 670;
    let inputs = scenario.inputs();
    let cpu_before = thread_cpu_ms();
    let started = Instant::now();
    let report = investigate(&inputs);
    let elapsed = started.elapsed();
    let cpu = thread_cpu_ms()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    eprintln!(
        "investigate: {} spans, {} logs, {} metric samples per window in {:.0} ms ({} ms of CPU); top cause {} {:?}",
        inputs.breach.spans.len(),
        inputs.breach.logs.len(),
        inputs.breach.metrics.len(),
        elapsed.as_secs_f64() * 1e3,
        cpu.map_or_else(|| String::from("?"), |cpu| format!("{cpu:.0}")),
        report.causes[0].service,
        report.causes[0].kind
    );
    assert!(inputs.breach.spans.len() >= 190_000);
    if !cfg!(debug_assertions) {
        // CPU time, not wall time: the machine may be busy with other work.
        let spent = cpu.unwrap_or(elapsed.as_secs_f64() * 1e3);
        assert!(spent < 1000.0, "{spent} ms");
    }
}

/// This thread's CPU time in ms, from `/proc/thread-self/stat` (Linux; clock ticks of 10 ms).
fn thread_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces, hence the last parenthesis).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) * 10.0)
}
