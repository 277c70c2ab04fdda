//! `sloscope bench ingest`: spans per server CPU-second for sloscope and for Rotel in the same
//! run, bytes per span on disk, and the latency of a rollup query over a week of spans.
//!
//! The load generator and the servers share the machine's cores, so wall-clock throughput says
//! as much about the client as about the server; the headline figure divides the spans
//! acknowledged by the CPU time of the server's process tree alone (from `/proc`), measured
//! from the first request until the server is idle again. Every run starts a fresh server in a
//! scratch directory; runs go round the targets in turn so a noisy moment hits all of them,
//! and the report gives the median of the runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::http::{self, Connection};
use super::load::{self, LoadOutcome};
use super::process::CpuClock;
use super::targets::{Target, TargetKind, default_venv, ensure_rotel};
use super::workload::{EncodedRequest, Tally, TimeWindow, Workload, generate_pool};

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Spans sent to each target in each run.
    #[arg(long, default_value_t = 2_000_000)]
    spans: u64,
    /// Runs per target; the report gives the median.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Spans loaded (spread over the last 7 days) before timing the rollup query; 0 skips it.
    #[arg(long, default_value_t = 10_000_000)]
    query_spans: u64,
    /// Leave Rotel out (no ratios then).
    #[arg(long)]
    skip_rotel: bool,
    /// Leave out the `sync = "always"` runs.
    #[arg(long)]
    skip_sync_always: bool,
    /// Client threads, each with its own keep-alive connection.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Spans per export request (whole traces, so requests hold a few more).
    #[arg(long, default_value_t = 1_000)]
    spans_per_request: u64,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Python virtual environment holding Rotel [default: target/bench-venv]
    #[arg(long)]
    venv: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

const GOAL_BYTES_PER_SPAN: f64 = 76.0;
const GOAL_QUERY_MILLISECONDS: f64 = 50.0;
const QUERY_REPEATS: usize = 20;
const QUERIED_SERVICE: &str = "frontend";
const WEEK_NANOS: u64 = 7 * 24 * 3_600 * 1_000_000_000;
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// What one run against one target measured.
struct RunMeasurement {
    load: LoadOutcome,
    cpu_seconds: f64,
    /// CPU time of everything else on the machine (not the server, not this client) during
    /// the run: other work competing for the cores makes the run less trustworthy.
    background_cpu_seconds: f64,
    storage: Option<StorageMeasurement>,
}

impl RunMeasurement {
    fn spans_per_cpu_second(&self) -> f64 {
        self.load.spans as f64 / self.cpu_seconds.max(1e-9)
    }
}

/// After a durable run: everything rolled into segments, and what that cost.
struct StorageMeasurement {
    span_segment_bytes: u64,
    all_segment_bytes: u64,
    spans_written: u64,
    /// Server CPU for the load plus the flush.
    cpu_seconds_with_flush: f64,
}

pub fn run(args: IngestArgs) -> anyhow::Result<()> {
    if args.runs == 0 || args.spans == 0 || args.spans_per_request == 0 {
        bail!("--runs, --spans and --spans-per-request must be at least 1");
    }
    let clock = CpuClock::detect();
    let mut kinds = Vec::new();
    if !args.skip_rotel {
        kinds.push(TargetKind::RotelBlackhole);
    }
    kinds.extend([TargetKind::SloscopeDiscard, TargetKind::SloscopeDurable]);
    if !args.skip_sync_always {
        kinds.push(TargetKind::SloscopeSyncAlways);
    }
    let rotel_agent = if args.skip_rotel {
        None
    } else {
        let venv = args.venv.clone().unwrap_or_else(default_venv);
        Some(
            ensure_rotel(&venv)
                .context("rotel is needed for the comparison (or pass --skip-rotel)")?,
        )
    };

    let now = unix_nano_now();
    let minute = 60_000_000_000;
    let generation_started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let (pool, tally) = generate_pool(
        args.spans,
        args.spans_per_request,
        TimeWindow {
            start_unix_nano: now - minute,
            length_nanos: minute,
        },
        args.seed,
        threads,
    );
    eprintln!(
        "generated in {:.1} s: {}",
        generation_started.elapsed().as_secs_f64(),
        tally.describe()
    );

    let mut measurements: Vec<(TargetKind, Vec<RunMeasurement>)> =
        kinds.iter().map(|kind| (*kind, Vec::new())).collect();
    for run_number in 1..=args.runs {
        for (kind, runs) in measurements.iter_mut() {
            let measurement =
                measure_run(*kind, rotel_agent.as_deref(), &pool, args.clients, clock)
                    .with_context(|| format!("run {run_number} of {}", kind.label()))?;
            eprintln!(
                "run {run_number}/{}: {:<42} {:>9.0} spans per CPU-second ({:.2} CPU-s, other processes {:.2} CPU-s), {:>9.0} spans/s wall{}{}",
                args.runs,
                kind.label(),
                measurement.spans_per_cpu_second(),
                measurement.cpu_seconds,
                measurement.background_cpu_seconds,
                measurement.load.spans_per_wall_second(),
                if measurement.load.pushbacks > 0 {
                    format!(", {} pushbacks", measurement.load.pushbacks)
                } else {
                    String::new()
                },
                measurement
                    .storage
                    .as_ref()
                    .map_or(String::new(), |storage| format!(
                        ", {:.1} bytes per span in segments",
                        storage.span_segment_bytes as f64 / measurement.load.spans as f64
                    )),
            );
            runs.push(measurement);
        }
    }

    let query = if args.query_spans > 0 {
        Some(measure_query(&args, clock)?)
    } else {
        None
    };
    let report = build_report(&args, &tally, &measurements, query.as_ref());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("cannot render the report")?
        );
    } else {
        print_table(&report);
    }
    Ok(())
}

fn unix_nano_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

fn scratch_directory() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("sloscope-bench-")
        .tempdir()
        .context("cannot create a scratch directory")
}

fn start_target(
    kind: TargetKind,
    rotel_agent: Option<&Path>,
    workspace: &Path,
) -> anyhow::Result<Target> {
    match kind {
        TargetKind::RotelBlackhole => {
            Target::start_rotel(rotel_agent.context("rotel was not set up")?, workspace)
        }
        _ => Target::start_sloscope(kind, workspace),
    }
}

fn measure_run(
    kind: TargetKind,
    rotel_agent: Option<&Path>,
    pool: &[EncodedRequest],
    clients: usize,
    clock: CpuClock,
) -> anyhow::Result<RunMeasurement> {
    let workspace = scratch_directory()?;
    let mut target = start_target(kind, rotel_agent, workspace.path())?;
    let pid = target.pid();
    let next_request = AtomicUsize::new(0);
    let machine_before = clock.machine_busy_seconds()?;
    let client_before = clock.process_seconds(std::process::id())?;
    let cpu_before = clock.process_tree_seconds(pid)?;
    let load = load::drive(target.otlp_http, clients, || {
        pool.get(next_request.fetch_add(1, Ordering::Relaxed))
    });
    let load = match load {
        Ok(load) => load,
        Err(error) => {
            let context = match target.check_alive() {
                Ok(()) => format!(
                    "{} is still running; its log ends with:\n{}",
                    kind.label(),
                    target.log_tail()
                ),
                Err(died) => format!("{died:#}"),
            };
            return Err(error.context(context));
        }
    };
    let cpu_after = clock.seconds_once_idle(pid, IDLE_LIMIT)?;
    let client_after = clock.process_seconds(std::process::id())?;
    let machine_after = clock.machine_busy_seconds()?;
    let background_cpu_seconds = ((machine_after - machine_before)
        - (cpu_after - cpu_before)
        - (client_after - client_before))
        .max(0.0);
    target.check_alive()?;
    if load.rejected_spans > 0 {
        eprintln!(
            "  {} rejected {} spans (partial success)",
            kind.label(),
            load.rejected_spans
        );
    }
    let storage = match kind {
        TargetKind::SloscopeDurable | TargetKind::SloscopeSyncAlways => {
            Some(measure_storage(&target, workspace.path(), clock)?)
        }
        TargetKind::RotelBlackhole | TargetKind::SloscopeDiscard => None,
    };
    if let Some(storage) = &storage
        && storage.spans_written != load.spans
    {
        eprintln!(
            "  warning: {} acknowledged {} spans but reports {} written",
            kind.label(),
            load.spans,
            storage.spans_written
        );
    }
    let cpu_seconds = cpu_after - cpu_before;
    let storage = storage.map(|mut storage| {
        storage.cpu_seconds_with_flush -= cpu_before;
        storage
    });
    target.stop()?;
    Ok(RunMeasurement {
        load,
        cpu_seconds,
        background_cpu_seconds,
        storage,
    })
}

/// Rolls the head into segments (`POST /api/v1/admin/flush`) and measures what is on disk.
/// The returned CPU seconds are the server's total so far; the caller subtracts its start.
fn measure_storage(
    target: &Target,
    workspace: &Path,
    clock: CpuClock,
) -> anyhow::Result<StorageMeasurement> {
    let api = target.api.context("the target has no query API")?;
    let response = http::request_once(api, "POST", "/api/v1/admin/flush")?;
    if response.status != 200 {
        bail!(
            "flush answered {}: {}",
            response.status,
            response.body_excerpt()
        );
    }
    let answer: Value =
        serde_json::from_slice(&response.body).context("flush did not answer JSON")?;
    let cpu_seconds_with_flush = clock.seconds_once_idle(target.pid(), IDLE_LIMIT)?;
    let span_segment_bytes =
        directory_bytes(&workspace.join("data").join("segments").join("spans"))?;
    Ok(StorageMeasurement {
        span_segment_bytes,
        all_segment_bytes: answer["segment_bytes"].as_u64().unwrap_or(0),
        spans_written: answer["rows_written"][0].as_u64().unwrap_or(0),
        cpu_seconds_with_flush,
    })
}

/// The size of the files under `directory`, recursively (zero if it does not exist).
fn directory_bytes(directory: &Path) -> anyhow::Result<u64> {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot list {}", directory.display()));
        }
    };
    let mut total = 0;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", directory.display()))?;
        let metadata = entry
            .metadata()
            .with_context(|| format!("cannot stat {}", entry.path().display()))?;
        total += if metadata.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}

/// The rollup query phase: a week of spans into a fresh durable sloscope, then the p99 latency
/// of one service over the whole week, timed warm, and again after a restart.
struct QueryMeasurement {
    tally: Tally,
    load: LoadOutcome,
    flush_seconds: f64,
    span_segment_bytes: u64,
    warm: QueryTimings,
    after_restart: QueryTimings,
    restart_seconds: f64,
}

struct QueryTimings {
    milliseconds: Vec<f64>,
    /// The answer's `total`, to show the query counted what was sent.
    total: Value,
}

fn measure_query(args: &IngestArgs, clock: CpuClock) -> anyhow::Result<QueryMeasurement> {
    let workspace = scratch_directory()?;
    let mut target = Target::start_sloscope(TargetKind::SloscopeDurable, workspace.path())?;
    let now = unix_nano_now();
    let week_start = now - WEEK_NANOS;
    eprintln!(
        "query phase: loading {} spans spread over the last 7 days into {}",
        args.query_spans,
        TargetKind::SloscopeDurable.label()
    );

    let (load, tally) = load::load_spread(
        target.otlp_http,
        args.clients,
        Workload::new(args.seed.wrapping_add(0x9_0000)),
        args.query_spans,
        args.spans_per_request,
        TimeWindow {
            start_unix_nano: week_start,
            length_nanos: WEEK_NANOS,
        },
    )
    .with_context(|| {
        format!(
            "loading the query data; log of the server:\n{}",
            target.log_tail()
        )
    })?;
    target.check_alive()?;
    eprintln!(
        "  loaded {} spans in {:.0} s ({:.0} spans/s wall)",
        load.spans,
        load.wall.as_secs_f64(),
        load.spans_per_wall_second()
    );

    let api = target.api.context("sloscope has no query API")?;
    let flush_started = Instant::now();
    let response = http::request_once(api, "POST", "/api/v1/admin/flush")?;
    if response.status != 200 {
        bail!(
            "flush answered {}: {}",
            response.status,
            response.body_excerpt()
        );
    }
    let flush_seconds = flush_started.elapsed().as_secs_f64();
    clock.seconds_once_idle(target.pid(), IDLE_LIMIT)?;
    let span_segment_bytes =
        directory_bytes(&workspace.path().join("data").join("segments").join("spans"))?;
    eprintln!(
        "  flushed in {flush_seconds:.1} s; {:.1} bytes per span in segments",
        span_segment_bytes as f64 / load.spans.max(1) as f64
    );

    let path = format!(
        "/api/v1/services/{QUERIED_SERVICE}/signals?from={}&to={}&step=7d&percentiles=99",
        week_start / 1_000_000_000,
        now / 1_000_000_000 + 3_600
    );
    let warm = time_query(api, &path)?;
    eprintln!(
        "  warm query: median {:.1} ms; total {}",
        median(&warm.milliseconds),
        warm.total
    );

    target.stop()?;
    let restart_started = Instant::now();
    let target = Target::start_sloscope(TargetKind::SloscopeDurable, workspace.path())?;
    let restart_seconds = restart_started.elapsed().as_secs_f64();
    let restarted_api = target.api.context("sloscope has no query API")?;
    let after_restart = time_query(restarted_api, &path)?;
    eprintln!(
        "  after a restart ({restart_seconds:.1} s): first query {:.1} ms, median {:.1} ms",
        after_restart.milliseconds[0],
        median(&after_restart.milliseconds)
    );
    target.stop()?;
    Ok(QueryMeasurement {
        tally,
        load,
        flush_seconds,
        span_segment_bytes,
        warm,
        after_restart,
        restart_seconds,
    })
}

fn time_query(api: std::net::SocketAddr, path: &str) -> anyhow::Result<QueryTimings> {
    let mut connection = Connection::open(api)?;
    let mut milliseconds = Vec::with_capacity(QUERY_REPEATS);
    let mut total = Value::Null;
    for _ in 0..QUERY_REPEATS {
        let started = Instant::now();
        let response = connection.get(path)?;
        milliseconds.push(started.elapsed().as_secs_f64() * 1_000.0);
        if response.status != 200 {
            bail!(
                "GET {path} answered {}: {}",
                response.status,
                response.body_excerpt()
            );
        }
        let answer: Value =
            serde_json::from_slice(&response.body).context("the signals answer is not JSON")?;
        total = answer["total"].clone();
    }
    if total["latency_ms"]["p99"].is_null() {
        bail!("GET {path} gave no p99 latency: {total}");
    }
    Ok(QueryTimings {
        milliseconds,
        total,
    })
}

fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// The quantile of `values` with linear interpolation between closest ranks (0 when empty).
fn quantile(values: &[f64], fraction: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let position = fraction * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower as f64)
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn build_report(
    args: &IngestArgs,
    tally: &Tally,
    measurements: &[(TargetKind, Vec<RunMeasurement>)],
    query: Option<&QueryMeasurement>,
) -> Value {
    let rotel_median = measurements
        .iter()
        .find(|(kind, _)| *kind == TargetKind::RotelBlackhole)
        .map(|(_, runs)| {
            median(
                &runs
                    .iter()
                    .map(RunMeasurement::spans_per_cpu_second)
                    .collect::<Vec<_>>(),
            )
        });
    let mut targets = Vec::new();
    for (kind, runs) in measurements {
        let per_cpu: Vec<f64> = runs
            .iter()
            .map(RunMeasurement::spans_per_cpu_second)
            .collect();
        let wall: Vec<f64> = runs
            .iter()
            .map(|run| run.load.spans_per_wall_second())
            .collect();
        let per_cpu_median = median(&per_cpu);
        let ratio = rotel_median.map(|rotel| per_cpu_median / rotel);
        let goal = kind.goal_ratio();
        let mut entry = json!({
            "target": kind.key(),
            "label": kind.label(),
            "spans_per_cpu_second": round(per_cpu_median, 0),
            "spans_per_cpu_second_runs": per_cpu.iter().map(|value| round(*value, 0)).collect::<Vec<_>>(),
            "spans_per_wall_second": round(median(&wall), 0),
            "server_cpu_seconds_runs": runs.iter().map(|run| round(run.cpu_seconds, 2)).collect::<Vec<_>>(),
            "background_cpu_seconds_runs": runs.iter().map(|run| round(run.background_cpu_seconds, 2)).collect::<Vec<_>>(),
            "pushbacks": runs.iter().map(|run| run.load.pushbacks).sum::<u64>(),
            "rejected_spans": runs.iter().map(|run| run.load.rejected_spans).sum::<u64>(),
            "ratio_to_rotel": ratio.map(|value| round(value, 3)),
            "goal_ratio_to_rotel": goal,
            "goal_met": goal.zip(ratio).map(|(goal, ratio)| ratio >= goal),
        });
        let storage: Vec<(&RunMeasurement, &StorageMeasurement)> = runs
            .iter()
            .filter_map(|run| run.storage.as_ref().map(|storage| (run, storage)))
            .collect();
        if !storage.is_empty() {
            let bytes_per_span: Vec<f64> = storage
                .iter()
                .map(|(run, storage)| {
                    storage.span_segment_bytes as f64 / run.load.spans.max(1) as f64
                })
                .collect();
            let with_flush: Vec<f64> = storage
                .iter()
                .map(|(run, storage)| {
                    run.load.spans as f64 / storage.cpu_seconds_with_flush.max(1e-9)
                })
                .collect();
            let bytes_median = median(&bytes_per_span);
            entry["spans_per_cpu_second_with_flush"] = json!(round(median(&with_flush), 0));
            entry["bytes_per_span_on_disk"] = json!(round(bytes_median, 1));
            entry["bytes_per_span_on_disk_runs"] = json!(
                bytes_per_span
                    .iter()
                    .map(|value| round(*value, 1))
                    .collect::<Vec<_>>()
            );
            entry["all_segment_bytes_runs"] = json!(
                storage
                    .iter()
                    .map(|(_, storage)| storage.all_segment_bytes)
                    .collect::<Vec<_>>()
            );
            entry["spans_written_runs"] = json!(
                storage
                    .iter()
                    .map(|(_, storage)| storage.spans_written)
                    .collect::<Vec<_>>()
            );
            entry["goal_bytes_per_span"] = json!(GOAL_BYTES_PER_SPAN);
            entry["bytes_goal_met"] = json!(bytes_median <= GOAL_BYTES_PER_SPAN);
        }
        targets.push(entry);
    }
    let query_report = query.map(|query| {
        let warm_median = median(&query.warm.milliseconds);
        json!({
            "spans_loaded": query.load.spans,
            "traces_loaded": query.tally.traces,
            "load_seconds": round(query.load.wall.as_secs_f64(), 1),
            "load_spans_per_wall_second": round(query.load.spans_per_wall_second(), 0),
            "pushbacks": query.load.pushbacks,
            "flush_seconds": round(query.flush_seconds, 2),
            "bytes_per_span_on_disk": round(query.span_segment_bytes as f64 / query.load.spans.max(1) as f64, 1),
            "service": QUERIED_SERVICE,
            "repeats": QUERY_REPEATS,
            "median_ms": round(warm_median, 2),
            "p90_ms": round(quantile(&query.warm.milliseconds, 0.9), 2),
            "restart_seconds": round(query.restart_seconds, 2),
            "after_restart_first_ms": round(query.after_restart.milliseconds.first().copied().unwrap_or(0.0), 2),
            "after_restart_median_ms": round(median(&query.after_restart.milliseconds), 2),
            "total": query.warm.total,
            "goal_ms": GOAL_QUERY_MILLISECONDS,
            "goal_met": warm_median < GOAL_QUERY_MILLISECONDS,
            "goal_applies": query.load.spans >= 10_000_000,
        })
    });
    json!({
        "workload": {
            "spans_per_run": tally.spans,
            "requests_per_run": tally.requests,
            "spans_per_request": args.spans_per_request,
            "bytes_per_span_protobuf": round(tally.bytes_per_span(), 1),
            "error_span_percent": round(tally.share(tally.error_spans), 2),
            "clients": args.clients,
            "runs": args.runs,
            "seed": args.seed,
        },
        "targets": targets,
        "query": query_report,
    })
}

fn yes_no(met: &Value) -> &'static str {
    match met.as_bool() {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "-",
    }
}

fn print_table(report: &Value) {
    let workload = &report["workload"];
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "sloscope bench ingest: {} spans per run ({} requests, {} bytes per span in protobuf, {} % in error), {} clients, median of {} runs",
        workload["spans_per_run"],
        workload["requests_per_run"],
        workload["bytes_per_span_protobuf"],
        workload["error_span_percent"],
        workload["clients"],
        workload["runs"]
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<44} {:>14} {:>14} {:>9} {:>7} {:>5}",
        "target", "spans/CPU-s", "wall spans/s", "vs rotel", "goal", "met"
    );
    let targets = report["targets"].as_array().cloned().unwrap_or_default();
    for target in &targets {
        let ratio = target["ratio_to_rotel"]
            .as_f64()
            .map_or("-".to_owned(), |ratio| format!("{ratio:.2}x"));
        let goal = target["goal_ratio_to_rotel"]
            .as_f64()
            .map_or("-".to_owned(), |goal| format!(">={goal:.1}x"));
        let _ = writeln!(
            out,
            "{:<44} {:>14} {:>14} {:>9} {:>7} {:>5}",
            target["label"].as_str().unwrap_or_default(),
            thousands(target["spans_per_cpu_second"].as_f64().unwrap_or(0.0)),
            thousands(target["spans_per_wall_second"].as_f64().unwrap_or(0.0)),
            ratio,
            goal,
            yes_no(&target["goal_met"])
        );
        if let Some(with_flush) = target["spans_per_cpu_second_with_flush"].as_f64() {
            let _ = writeln!(
                out,
                "{:<44} {:>14}",
                "  incl. the final flush into segments",
                thousands(with_flush)
            );
        }
    }
    let server_cpu: f64 = targets
        .iter()
        .flat_map(|target| cpu_runs(&target["server_cpu_seconds_runs"]))
        .sum();
    let background_cpu: f64 = targets
        .iter()
        .flat_map(|target| cpu_runs(&target["background_cpu_seconds_runs"]))
        .sum();
    if background_cpu > 0.1 * server_cpu {
        let _ = writeln!(
            out,
            "warning: other processes used {background_cpu:.1} CPU-s during the runs ({:.0} % of the servers' {server_cpu:.1}); the figures are noisy",
            100.0 * background_cpu / server_cpu.max(1e-9)
        );
    }
    let _ = writeln!(out);
    for target in &targets {
        if let Some(bytes) = target["bytes_per_span_on_disk"].as_f64() {
            let _ = writeln!(
                out,
                "bytes per span in span segments, {:<28} {:>7.1}   goal <= {GOAL_BYTES_PER_SPAN}   met {}",
                target["target"].as_str().unwrap_or_default(),
                bytes,
                yes_no(&target["bytes_goal_met"])
            );
        }
    }
    let query = &report["query"];
    if !query.is_null() {
        let _ = writeln!(
            out,
            "p99 of `{}` over 7 days from rollups, {} spans stored: median {} ms, p90 {} ms   goal < {GOAL_QUERY_MILLISECONDS} ms   met {}{}",
            query["service"].as_str().unwrap_or_default(),
            query["spans_loaded"],
            query["median_ms"],
            query["p90_ms"],
            yes_no(&query["goal_met"]),
            if query["goal_applies"].as_bool() == Some(true) {
                ""
            } else {
                " (goal is for 10 million spans)"
            }
        );
        let _ = writeln!(
            out,
            "  answer: {} requests of {} traces sent, p99 {} ms; after a restart: first query {} ms, median {} ms",
            query["total"]["requests"],
            query["traces_loaded"],
            query["total"]["latency_ms"]["p99"],
            query["after_restart_first_ms"],
            query["after_restart_median_ms"],
        );
        let _ = writeln!(
            out,
            "  loaded at {} spans/s wall; {} bytes per span in span segments",
            thousands(query["load_spans_per_wall_second"].as_f64().unwrap_or(0.0)),
            query["bytes_per_span_on_disk"],
        );
    }
}

fn cpu_runs(runs: &Value) -> Vec<f64> {
    runs.as_array()
        .map(|runs| runs.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// `1234567.0` as `1,234,567`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(
            quantile(
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0],
                0.9
            ),
            10.0
        );
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
