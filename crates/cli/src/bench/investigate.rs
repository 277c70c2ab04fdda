//! `sloscope bench investigate`: how long an investigation of one hour of breach against one
//! hour of baseline takes with millions of spans stored (the goal: under 2 s for 2 million).
//!
//! The shop workload of the ingest bench goes to a real server over OTLP/HTTP: half the spans
//! spread over the baseline hour, half over the breach hour, in which every statement on the
//! `inventory` database is slower (a missing index). After a flush, the bench asks
//! `POST /api/v1/investigations` for the entry service several times and reports the wall time
//! of each answer (median and p90) and the server's own figure, with the top causes, so a fast
//! but wrong answer shows. There is no peer: no open-source system does this investigation.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::http::{self, Connection};
use super::load;
use super::targets::{Target, TargetKind};
use super::workload::{TimeWindow, Workload};

const HOUR_NANOS: u64 = 3_600 * 1_000_000_000;
const SLOW_NAMESPACE: &str = "inventory";
const GOAL_SECONDS: f64 = 2.0;

#[derive(clap::Args)]
pub struct InvestigateArgs {
    /// Spans stored: half in the baseline hour, half in the breach hour.
    #[arg(long, default_value_t = 2_000_000)]
    spans: u64,
    /// Investigations timed after the load.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// How many times slower the `inventory` statements are in the breach hour.
    #[arg(long, default_value_t = 8.0)]
    slowdown: f64,
    #[arg(long, default_value_t = 2)]
    clients: usize,
    #[arg(long, default_value_t = 2_000)]
    spans_per_request: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn quantile(values: &[f64], fraction: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

pub fn run(args: InvestigateArgs) -> anyhow::Result<()> {
    let workspace = tempfile::Builder::new()
        .prefix("sloscope-bench-investigate")
        .tempdir()
        .context("cannot create a scratch directory")?;
    let mut target = Target::start_sloscope(TargetKind::SloscopeDurable, workspace.path())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_nanos() as u64;
    let breach_start = now - now % 60_000_000_000 - HOUR_NANOS;
    let baseline_start = breach_start - HOUR_NANOS;
    let loaded = Instant::now();
    let mut stored = 0;
    for (label, start, workload) in [
        ("baseline", baseline_start, Workload::new(args.seed)),
        (
            "breach",
            breach_start,
            Workload::new(args.seed + 1).with_slow_database(SLOW_NAMESPACE, args.slowdown),
        ),
    ] {
        eprintln!("loading the {label} hour: {} spans", args.spans / 2);
        let (outcome, _) = load::load_spread(
            target.otlp_http,
            args.clients,
            workload,
            args.spans / 2,
            args.spans_per_request,
            TimeWindow {
                start_unix_nano: start,
                length_nanos: HOUR_NANOS,
            },
        )
        .with_context(|| {
            format!(
                "loading the {label} hour; server log:\n{}",
                target.log_tail()
            )
        })?;
        stored += outcome.spans;
    }
    target.check_alive()?;
    let api = target.api.context("sloscope has no query API")?;
    let flushed = http::request_once(api, "POST", "/api/v1/admin/flush")?;
    if flushed.status != 200 {
        bail!(
            "flush answered {}: {}",
            flushed.status,
            flushed.body_excerpt()
        );
    }
    let load_seconds = loaded.elapsed().as_secs_f64();
    eprintln!("{stored} spans stored and flushed in {load_seconds:.0} s");

    let seconds = |nanos: u64| nanos / 1_000_000_000;
    let body = json!({
        "service": "frontend",
        "from": seconds(breach_start),
        "to": seconds(breach_start + HOUR_NANOS),
        "baseline_from": seconds(baseline_start),
        "baseline_to": seconds(breach_start),
    })
    .to_string();
    let mut connection = Connection::open(api)?;
    let mut wall_ms = Vec::new();
    let mut server_ms = Vec::new();
    let mut fetch_ms = Vec::new();
    let mut last = Value::Null;
    for run in 0..args.runs.max(1) {
        let started = Instant::now();
        let response = connection.request(
            "POST",
            "/api/v1/investigations",
            Some("application/json"),
            body.as_bytes(),
        )?;
        let elapsed = started.elapsed();
        if response.status != 201 {
            bail!(
                "investigation answered {}: {}",
                response.status,
                response.body_excerpt()
            );
        }
        last = serde_json::from_slice(&response.body).context("the report is not JSON")?;
        wall_ms.push(elapsed.as_secs_f64() * 1e3);
        server_ms.push(last["elapsed_ms"].as_f64().unwrap_or(f64::NAN));
        fetch_ms.push(last["fetch_ms"].as_f64().unwrap_or(f64::NAN));
        eprintln!("  run {}: {:.0} ms", run + 1, wall_ms[run]);
    }
    target.stop()?;
    let causes: Vec<Value> = last["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .take(3)
        .map(|cause| json!({ "service": cause["service"], "kind": cause["kind"], "confidence": cause["confidence"], "summary": cause["summary"] }))
        .collect();
    let median_seconds = quantile(&wall_ms, 0.5) / 1e3;
    let report = json!({
        "spans_stored": stored,
        "breach_window_hours": 1,
        "baseline_window_hours": 1,
        "fault": format!("statements on the {SLOW_NAMESPACE} database {}x slower", args.slowdown),
        "runs": wall_ms.len(),
        "wall_ms": { "median": quantile(&wall_ms, 0.5), "p90": quantile(&wall_ms, 0.9), "all": wall_ms },
        "server_ms": { "median": quantile(&server_ms, 0.5), "fetch_median": quantile(&fetch_ms, 0.5) },
        "goal_seconds": GOAL_SECONDS,
        "met": median_seconds < GOAL_SECONDS,
        "spans_sampled": last["not_checked"].to_string().contains("sampl"),
        "top_causes": causes,
        "peer": "none: no open-source system runs this investigation",
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("investigation of 1 h of breach against 1 h of baseline, {stored} spans stored");
    println!(
        "  wall time per investigation: median {:.0} ms, p90 {:.0} ms over {} runs (server: median {:.0} ms, of which reading the store {:.0} ms)",
        quantile(&wall_ms, 0.5),
        quantile(&wall_ms, 0.9),
        wall_ms.len(),
        quantile(&server_ms, 0.5),
        quantile(&fetch_ms, 0.5)
    );
    println!(
        "  goal: under {GOAL_SECONDS:.0} s: {}",
        if median_seconds < GOAL_SECONDS {
            "met"
        } else {
            "NOT met"
        }
    );
    for (rank, cause) in causes.iter().enumerate() {
        println!(
            "  cause {}: {} {} ({:.0} %): {}",
            rank + 1,
            cause["service"].as_str().unwrap_or_default(),
            cause["kind"].as_str().unwrap_or_default(),
            cause["confidence"].as_f64().unwrap_or_default() * 100.0,
            cause["summary"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}
