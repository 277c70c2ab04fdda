//! The Prometheus side of `bench slo`: the same fleet as Sloth-style rules over the same
//! traffic, evaluated by a real Prometheus (the Debian package) started for the run.
//!
//! Data: recording rules do not backfill, so Prometheus gets what it would hold after running
//! the rules for the whole period: the raw counters at the scrape interval for the longest
//! window any rule reads them over (3 days, plus an hour), and Sloth's 5-minute SLI series at
//! the evaluation interval for the whole history (the 30-day rule reads it), both written as
//! OpenMetrics and turned into blocks by `promtool tsdb create-blocks-from openmetrics`. The
//! blocks are cut on promtool's 54-hour grid so that none overlap (overlapping blocks would
//! be compacted while the rules are being timed). From the end of the backfill on, a scrape
//! target in this process serves the counters as they keep growing, so the short windows
//! hold live data when the rules run.
//!
//! Figures: `prometheus_rule_group_last_duration_seconds` summed over every group (one round
//! of all rules), the process's CPU time per evaluation interval, missed iterations, and its
//! resident memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::super::http;
use super::super::process::free_loopback_address;
use super::fleet::{Fleet, LATENCY_BUCKET_LABEL, MinuteTraffic};
use super::machine;
use super::sloth::{
    self, BUCKET_METRIC, LONGEST_RAW_WINDOW_MINUTES, REQUESTS_METRIC, SLI_5M_METRIC,
};

pub const PROMETHEUS_BINARY: &str = "prometheus";
pub const PROMTOOL_BINARY: &str = "promtool";
/// Scrape and rule evaluation interval: Prometheus's default, and the step of the backfill.
pub const INTERVAL_SECONDS: i64 = 60;
/// promtool's block span for `--max-block-duration=54h`; cells of the backfill follow it.
const BLOCK_SECONDS: i64 = 54 * 3_600;
const BLOCK_FLAG: &str = "--max-block-duration=54h";
/// Prometheus is stopped if it grows past this (the machine is shared).
const MEMORY_LIMIT_BYTES: u64 = 16 << 30;
/// promtool runs at once (one per core of the machine this was written for).
const PARALLEL_PROMTOOLS: usize = 2;

#[derive(Clone, Copy)]
pub struct Options {
    /// Evaluation intervals waited after Prometheus is ready (and every group has run once).
    pub warm_up_rounds: u64,
    /// Evaluation intervals measured at least; more, up to 15, until every group has run
    /// once more on average.
    pub measured_rounds: usize,
}

pub struct Backfill {
    /// Minutes of raw counters and of the 5m SLI series.
    pub raw_minutes: i64,
    pub sli_minutes: i64,
    pub raw_series: usize,
    pub sli_series: usize,
    pub raw_samples: u64,
    pub sli_samples: u64,
    pub text_bytes: u64,
    pub blocks: usize,
    pub seconds: f64,
}

pub struct Figures {
    pub version: String,
    pub backfill: Backfill,
    pub tsdb_bytes: u64,
    pub rule_files: usize,
    /// Scrapes of the live counters served during the run.
    pub scrapes: u64,
    pub evaluation: RuleEvaluation,
}

/// What the running Prometheus reported.
pub struct RuleEvaluation {
    pub groups: usize,
    pub rules: u64,
    pub startup_seconds: f64,
    /// Sum of `prometheus_rule_group_last_duration_seconds` at each measured snapshot.
    pub round_seconds: Vec<f64>,
    /// Process CPU time per evaluation interval, and per round of all groups actually run
    /// (more when Prometheus cannot keep up with the interval).
    pub cpu_seconds_per_interval: f64,
    pub cpu_seconds_per_completed_round: Option<f64>,
    /// Group evaluations during the measurement (missed iterations not counted), divided by
    /// the number of groups, and the evaluation intervals the measurement lasted.
    pub rounds_run: f64,
    pub intervals_measured: f64,
    /// Prometheus's cores, the cores waiting for the disk and the other processes' cores.
    pub usage: machine::Usage,
    pub queue_time_p90_seconds: f64,
    pub inner_eval_p90_seconds: f64,
    /// Distinct warnings and errors of Prometheus's log, with how often each came.
    pub log_problems: Vec<(String, usize)>,
    /// `prometheus_rule_group_iterations_missed_total` summed: during the measurement, and
    /// since the start.
    pub iterations_missed_measured: f64,
    pub iterations_missed_total: f64,
    pub evaluation_failures: f64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    /// `slo:sli_error:ratio_rate1d` by Sloth id at the end of the measurement, or why not.
    pub day_error_ratios: Result<HashMap<String, f64>, String>,
}

/// Whether the two programs are on the path.
pub fn installed() -> bool {
    [PROMETHEUS_BINARY, PROMTOOL_BINARY].iter().all(|binary| {
        Command::new(binary)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

fn version() -> String {
    Command::new(PROMETHEUS_BINARY)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| {
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            text.lines().next().map(str::to_owned)
        })
        .unwrap_or_else(|| "prometheus (version unknown)".to_owned())
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Cumulative counts of one operation's three raw series.
#[derive(Clone, Copy, Default)]
struct Counters {
    ok: u64,
    failed: u64,
    fast: u64,
}

impl Counters {
    fn add(&mut self, traffic: MinuteTraffic) {
        self.ok += traffic.requests - traffic.faults;
        self.failed += traffic.faults;
        self.fast += traffic.requests - traffic.slow;
    }
}

/// Which of an operation's raw series a line is for.
#[derive(Clone, Copy)]
enum RawSeries {
    Ok,
    Failed,
    Fast,
}

impl RawSeries {
    fn value(self, counters: &Counters) -> u64 {
        match self {
            RawSeries::Ok => counters.ok,
            RawSeries::Failed => counters.failed,
            RawSeries::Fast => counters.fast,
        }
    }

    fn name(self, service: &str, operation: &str) -> String {
        match self {
            RawSeries::Ok => format!(
                "{REQUESTS_METRIC}{{service=\"{service}\",operation=\"{operation}\",code=\"2xx\"}}"
            ),
            RawSeries::Failed => format!(
                "{REQUESTS_METRIC}{{service=\"{service}\",operation=\"{operation}\",code=\"5xx\"}}"
            ),
            RawSeries::Fast => format!(
                "{BUCKET_METRIC}{{service=\"{service}\",operation=\"{operation}\",le=\"{LATENCY_BUCKET_LABEL}\"}}"
            ),
        }
    }
}

const RAW_SERIES: [RawSeries; 3] = [RawSeries::Ok, RawSeries::Failed, RawSeries::Fast];

/// Writes the samples of `[from, to)` (minutes) as OpenMetrics: first every SLO's 5m SLI
/// series, then each raw series family, series after series. `counters` hold each
/// operation's totals before `from` and are advanced to `to`.
fn write_cell(
    fleet: &Fleet,
    slos_by_operation: &[Vec<usize>],
    path: &Path,
    (from, to): (i64, i64),
    raw_from: i64,
    counters: &mut [Counters],
) -> anyhow::Result<(u64, u64)> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut sli_samples = 0u64;
    let mut raw_samples = 0u64;
    let mut traffic: Vec<MinuteTraffic> = Vec::new();
    for (operation_index, slo_indexes) in slos_by_operation.iter().enumerate() {
        // The 5m ratio at minute m covers the minutes [m - 5, m).
        traffic.clear();
        traffic.extend((from - 5..to).map(|minute| fleet.traffic(operation_index, minute)));
        for &slo_index in slo_indexes {
            let slo = &fleet.slos[slo_index];
            let series = format!(
                "{SLI_5M_METRIC}{{sloth_id=\"{}\",sloth_service=\"{}\",sloth_slo=\"{}\",sloth_window=\"5m\"}}",
                slo.name, fleet.operations[operation_index].service, slo.short_name
            );
            for (offset, minute) in (from..to).enumerate() {
                let window = &traffic[offset..offset + 5];
                let total: u64 = window.iter().map(|minute| minute.requests).sum();
                let bad: u64 = window.iter().map(|minute| minute.bad(slo.kind)).sum();
                let ratio = if total == 0 {
                    f64::NAN
                } else {
                    bad as f64 / total as f64
                };
                writeln!(out, "{series} {ratio} {}", minute * 60)?;
                sli_samples += 1;
            }
        }
    }
    let raw_start = from.max(raw_from);
    if raw_start < to {
        for series in RAW_SERIES {
            for (operation_index, operation) in fleet.operations.iter().enumerate() {
                let name = series.name(&operation.service, &operation.name);
                let mut running = counters[operation_index];
                for minute in raw_start..to {
                    // The sample at the start of a minute counts the minutes before it.
                    writeln!(out, "{name} {} {}", series.value(&running), minute * 60)?;
                    running.add(fleet.traffic(operation_index, minute));
                    raw_samples += 1;
                }
                if matches!(series, RawSeries::Fast) {
                    counters[operation_index] = running;
                }
            }
        }
    }
    out.write_all(b"# EOF\n")?;
    out.flush()?;
    Ok((sli_samples, raw_samples))
}

/// One promtool at work on one cell; killed if dropped unfinished (the backfill failed).
struct PromtoolRun {
    child: Child,
    input: PathBuf,
}

impl Drop for PromtoolRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn finish_promtool(mut run: PromtoolRun) -> anyhow::Result<()> {
    let status = run.child.wait().context("promtool did not finish")?;
    let log = run.input.with_extension("log");
    if !status.success() {
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = output.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n");
        bail!("promtool failed on {}: {tail}", run.input.display());
    }
    std::fs::remove_file(&run.input).ok();
    std::fs::remove_file(&log).ok();
    Ok(())
}

/// Backfills `data_dir`; returns what was written and each operation's counters at the end.
fn backfill(
    fleet: &Fleet,
    data_dir: &Path,
    work_dir: &Path,
) -> anyhow::Result<(Backfill, Vec<Counters>)> {
    let started = Instant::now();
    let sli_from = fleet.history_start();
    let end = fleet.end_minute;
    let raw_from = sli_from.max(end - LONGEST_RAW_WINDOW_MINUTES - 60);
    let mut slos_by_operation: Vec<Vec<usize>> = vec![Vec::new(); fleet.operations.len()];
    for (index, slo) in fleet.slos.iter().enumerate() {
        slos_by_operation[slo.operation].push(index);
    }
    let mut counters = vec![Counters::default(); fleet.operations.len()];
    let cell_minutes = BLOCK_SECONDS / 60;
    let first_cell = sli_from.div_euclid(cell_minutes);
    let last_cell = (end - 1).div_euclid(cell_minutes);
    let mut running: Vec<PromtoolRun> = Vec::new();
    let mut figures = Backfill {
        raw_minutes: end - raw_from,
        sli_minutes: end - sli_from,
        raw_series: fleet.operations.len() * RAW_SERIES.len(),
        sli_series: fleet.slos.len(),
        raw_samples: 0,
        sli_samples: 0,
        text_bytes: 0,
        blocks: 0,
        seconds: 0.0,
    };
    for cell in first_cell..=last_cell {
        let from = sli_from.max(cell * cell_minutes);
        let to = end.min((cell + 1) * cell_minutes);
        if from >= to {
            continue;
        }
        let input = work_dir.join(format!("cell-{cell}.om"));
        let (sli, raw) = write_cell(
            fleet,
            &slos_by_operation,
            &input,
            (from, to),
            raw_from,
            &mut counters,
        )?;
        figures.sli_samples += sli;
        figures.raw_samples += raw;
        figures.text_bytes += std::fs::metadata(&input).map_or(0, |metadata| metadata.len());
        while running.len() >= PARALLEL_PROMTOOLS {
            finish_promtool(running.remove(0))?;
        }
        let log = File::create(input.with_extension("log")).context("cannot create a log")?;
        let child = Command::new(PROMTOOL_BINARY)
            .args(["tsdb", "create-blocks-from", "openmetrics", BLOCK_FLAG])
            .arg(&input)
            .arg(data_dir)
            .stdout(log.try_clone().context("cannot share the log")?)
            .stderr(log)
            .spawn()
            .context("cannot start promtool")?;
        running.push(PromtoolRun { child, input });
        figures.blocks += 1;
        eprintln!(
            "  backfill: cell {}/{} written ({sli} SLI + {raw} raw samples), {:.0} s so far",
            cell - first_cell + 1,
            last_cell - first_cell + 1,
            started.elapsed().as_secs_f64()
        );
    }
    for run in running {
        finish_promtool(run)?;
    }
    figures.seconds = started.elapsed().as_secs_f64();
    Ok((figures, counters))
}

/// Serves the raw counters as a Prometheus scrape target, from the end of the backfill on.
struct ScrapeTarget<'fleet> {
    fleet: &'fleet Fleet,
    /// Counters before `through_minute`.
    counters: Mutex<(Vec<Counters>, i64)>,
    scrapes: AtomicU64,
}

impl ScrapeTarget<'_> {
    fn body(&self) -> String {
        let now_minute = unix_seconds().div_euclid(60);
        let mut state = self.counters.lock().expect("counters lock");
        let (counters, through_minute) = &mut *state;
        while *through_minute < now_minute {
            for (index, operation_counters) in counters.iter_mut().enumerate() {
                operation_counters.add(self.fleet.traffic(index, *through_minute));
            }
            *through_minute += 1;
        }
        let mut body = String::with_capacity(counters.len() * 3 * 90);
        for series in RAW_SERIES {
            for (operation, operation_counters) in self.fleet.operations.iter().zip(counters.iter())
            {
                body.push_str(&series.name(&operation.service, &operation.name));
                body.push(' ');
                body.push_str(&series.value(operation_counters).to_string());
                body.push('\n');
            }
        }
        body
    }

    fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = stream.read(&mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            request.extend_from_slice(&buffer[..read]);
        }
        let body = self.body();
        self.scrapes.fetch_add(1, Ordering::Relaxed);
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(body.as_bytes())
    }

    fn serve(&self, listener: &TcpListener, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    // A failed scrape shows up in Prometheus's `up`; nothing to do here.
                    let _ = stream.set_nonblocking(false);
                    let _ = self.answer(stream);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// A Prometheus process that is stopped when dropped.
struct Running {
    child: Child,
    address: SocketAddr,
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The rule-group figures of one `/metrics` read.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    groups: usize,
    rules: u64,
    last_duration_sum: f64,
    iterations_sum: f64,
    iterations_min: f64,
    missed_sum: f64,
    failures_sum: f64,
    /// 90th percentiles of the query engine's time in its queue and evaluating (all
    /// queries, rules included).
    queue_time_p90: f64,
    inner_eval_p90: f64,
}

impl Snapshot {
    /// Group evaluations that ran: Prometheus counts missed iterations as iterations too.
    fn evaluations_run(&self) -> f64 {
        self.iterations_sum - self.missed_sum
    }
}

fn sample_value(line: &str) -> Option<f64> {
    line.rsplit(' ').next()?.parse().ok()
}

fn snapshot(address: SocketAddr) -> anyhow::Result<Snapshot> {
    let response = http::request_once(address, "GET", "/metrics")
        .context("cannot read Prometheus's /metrics")?;
    if response.status != 200 {
        bail!("Prometheus's /metrics answered {}", response.status);
    }
    let text = String::from_utf8_lossy(&response.body);
    let mut figures = Snapshot {
        iterations_min: f64::INFINITY,
        ..Snapshot::default()
    };
    for line in text.lines() {
        let Some(value) = sample_value(line) else {
            continue;
        };
        if line.starts_with("prometheus_rule_group_last_duration_seconds{") {
            figures.groups += 1;
            figures.last_duration_sum += value;
        } else if line.starts_with("prometheus_rule_group_iterations_total{") {
            figures.iterations_sum += value;
            figures.iterations_min = figures.iterations_min.min(value);
        } else if line.starts_with("prometheus_rule_group_iterations_missed_total{") {
            figures.missed_sum += value;
        } else if line.starts_with("prometheus_rule_evaluation_failures_total{") {
            figures.failures_sum += value;
        } else if line.starts_with("prometheus_rule_group_rules{") {
            figures.rules += value as u64;
        } else if line.starts_with(
            "prometheus_engine_query_duration_seconds{slice=\"queue_time\",quantile=\"0.9\"}",
        ) {
            figures.queue_time_p90 = value;
        } else if line.starts_with(
            "prometheus_engine_query_duration_seconds{slice=\"inner_eval\",quantile=\"0.9\"}",
        ) {
            figures.inner_eval_p90 = value;
        }
    }
    if figures.groups == 0 {
        figures.iterations_min = 0.0;
    }
    Ok(figures)
}

/// The distinct warnings and errors of a Prometheus log (by message and error, the first
/// hundred characters), most frequent first.
fn log_problems(path: &Path) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in text.lines() {
        let problem = line.contains("level=warn") || line.contains("level=error");
        // The stop at the end of the run is ours.
        if !problem || line.contains("Received SIGTERM") {
            continue;
        }
        let field = |name: &str| -> String {
            let Some(start) = line.find(&format!("{name}=")) else {
                return String::new();
            };
            let rest = &line[start + name.len() + 1..];
            match rest.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap_or_default().to_owned(),
                None => rest.split(' ').next().unwrap_or_default().to_owned(),
            }
        };
        let problem: String = format!("{}: {}", field("msg"), field("err"))
            .chars()
            .take(100)
            .collect();
        *counts.entry(problem).or_default() += 1;
    }
    let mut problems: Vec<(String, usize)> = counts.into_iter().collect();
    problems.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(&right.0)));
    problems.truncate(5);
    problems
}

fn directory_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => directory_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |metadata| metadata.len()),
            Err(_) => 0,
        })
        .sum()
}

fn write_rules(fleet: &Fleet, rules_dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(rules_dir).context("cannot create the rules directory")?;
    let mut by_service: std::collections::BTreeMap<&str, Vec<&super::fleet::SloDefinition>> =
        std::collections::BTreeMap::new();
    for slo in &fleet.slos {
        by_service
            .entry(fleet.operations[slo.operation].service.as_str())
            .or_default()
            .push(slo);
    }
    for (service, slos) in &by_service {
        std::fs::write(
            rules_dir.join(format!("{service}.yml")),
            sloth::rule_file(fleet, slos),
        )
        .context("cannot write a rule file")?;
    }
    Ok(by_service.len())
}

/// The 1-day error ratio of every SLO, read through the federation endpoint: it reads the
/// storage directly, so it does not queue behind the rules for the query engine.
fn day_error_ratios(address: SocketAddr) -> anyhow::Result<HashMap<String, f64>> {
    let response = http::request_once(
        address,
        "GET",
        "/federate?match%5B%5D=slo%3Asli_error%3Aratio_rate1d",
    )?;
    if response.status != 200 {
        bail!(
            "/federate answered {}: {}",
            response.status,
            response.body_excerpt()
        );
    }
    let text = String::from_utf8_lossy(&response.body);
    let mut ratios = HashMap::new();
    for line in text.lines() {
        if !line.starts_with("slo:sli_error:ratio_rate1d{") {
            continue;
        }
        let Some(id) = line
            .split("sloth_id=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        // `name{labels} value timestamp`: the value is the second field from the end.
        let mut fields = line.rsplit(' ');
        fields.next();
        if let Some(value) = fields.next().and_then(|text| text.parse::<f64>().ok()) {
            ratios.insert(id.to_owned(), value);
        }
    }
    Ok(ratios)
}

/// Backfills, starts Prometheus with the rules, waits for the warm-up rounds and measures.
pub fn measure(fleet: &Fleet, options: Options, scratch: &Path) -> anyhow::Result<Figures> {
    let data_dir = scratch.join("data");
    let work_dir = scratch.join("backfill");
    let rules_dir = scratch.join("rules");
    std::fs::create_dir_all(&data_dir).context("cannot create the TSDB directory")?;
    std::fs::create_dir_all(&work_dir).context("cannot create the backfill directory")?;
    let rule_files = write_rules(fleet, &rules_dir)?;
    eprintln!(
        "  {} rule groups in {rule_files} files; backfilling {} days of data",
        fleet.slos.len() * sloth::GROUPS_PER_SLO,
        fleet.days
    );
    let (backfill, counters) = backfill(fleet, &data_dir, &work_dir)?;
    let tsdb_bytes = directory_bytes(&data_dir);
    eprintln!(
        "  backfill done in {:.0} s: {} samples, {:.1} GB of OpenMetrics, {:.2} GB of blocks",
        backfill.seconds,
        backfill.sli_samples + backfill.raw_samples,
        backfill.text_bytes as f64 / 1e9,
        tsdb_bytes as f64 / 1e9
    );

    let target = ScrapeTarget {
        fleet,
        counters: Mutex::new((counters, fleet.end_minute)),
        scrapes: AtomicU64::new(0),
    };
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind the scrape target")?;
    listener
        .set_nonblocking(true)
        .context("cannot make the scrape target non-blocking")?;
    let target_address = listener.local_addr()?;
    let stop = AtomicBool::new(false);
    let web_address = free_loopback_address()?;
    let config_path = scratch.join("prometheus.yml");
    std::fs::write(
        &config_path,
        format!(
            "global:\n  scrape_interval: {INTERVAL_SECONDS}s\n  evaluation_interval: {INTERVAL_SECONDS}s\n\
             rule_files:\n  - {}/*.yml\n\
             scrape_configs:\n  - job_name: fleet\n    static_configs:\n      - targets: ['{target_address}']\n    \
             metric_relabel_configs:\n      - action: labeldrop\n        regex: job|instance\n",
            rules_dir.display()
        ),
    )
    .context("cannot write prometheus.yml")?;

    std::thread::scope(|scope| -> anyhow::Result<Figures> {
        scope.spawn(|| target.serve(&listener, &stop));
        let outcome = run_prometheus(
            fleet,
            options,
            scratch,
            &config_path,
            &data_dir,
            web_address,
        );
        stop.store(true, Ordering::Relaxed);
        Ok(Figures {
            version: version(),
            backfill,
            tsdb_bytes,
            rule_files,
            scrapes: target.scrapes.load(Ordering::Relaxed),
            evaluation: outcome?,
        })
    })
}

fn run_prometheus(
    fleet: &Fleet,
    options: Options,
    scratch: &Path,
    config_path: &Path,
    data_dir: &Path,
    web_address: SocketAddr,
) -> anyhow::Result<RuleEvaluation> {
    let log = File::create(scratch.join("prometheus.log")).context("cannot create a log")?;
    let started = Instant::now();
    let child = Command::new(PROMETHEUS_BINARY)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.tsdb.path={}", data_dir.display()))
        .arg(format!("--web.listen-address={web_address}"))
        // Keep every backfilled block, and compact none of them while the rules are timed.
        .arg("--storage.tsdb.retention.time=400d")
        .arg("--storage.tsdb.max-block-duration=2h")
        .stdout(log.try_clone().context("cannot share the log")?)
        .stderr(log)
        .spawn()
        .context("cannot start prometheus")?;
    let mut prometheus = Running {
        child,
        address: web_address,
    };
    let log_tail = || {
        let text = std::fs::read_to_string(scratch.join("prometheus.log")).unwrap_or_default();
        text.lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    };
    let ready_deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if let Ok(Some(status)) = prometheus.child.try_wait() {
            bail!(
                "prometheus exited ({status}) while starting:\n{}",
                log_tail()
            );
        }
        if http::request_once(prometheus.address, "GET", "/-/ready")
            .is_ok_and(|response| response.status == 200)
        {
            break;
        }
        if Instant::now() > ready_deadline {
            bail!("prometheus was not ready after 15 minutes:\n{}", log_tail());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let startup_seconds = started.elapsed().as_secs_f64();
    eprintln!("  prometheus ready in {startup_seconds:.0} s; warming up");

    let interval = Duration::from_secs(INTERVAL_SECONDS as u64);
    let pid = prometheus.pid();
    let mut peak_rss_bytes = 0u64;
    // Every read of /metrics also checks that Prometheus is alive and within its memory.
    let mut observe = |what: &str| -> anyhow::Result<Snapshot> {
        if let Ok(Some(status)) = prometheus.child.try_wait() {
            bail!("prometheus exited ({status}) {what}:\n{}", log_tail());
        }
        let rss = machine::resident_bytes(Some(pid)).unwrap_or(0);
        peak_rss_bytes = peak_rss_bytes.max(rss);
        if rss > MEMORY_LIMIT_BYTES {
            bail!(
                "prometheus grew to {:.1} GiB {what}; stopped to protect the machine",
                rss as f64 / (1u64 << 30) as f64
            );
        }
        snapshot(prometheus.address)
    };

    // Warm-up: every group has run, and the scrapes have filled the short windows again.
    let ready_at = Instant::now();
    let warm_up = interval * options.warm_up_rounds as u32;
    let warm_up_deadline = ready_at + warm_up + interval * 15;
    let expected_groups = fleet.slos.len() * sloth::GROUPS_PER_SLO;
    loop {
        std::thread::sleep(Duration::from_secs(20));
        let current = observe("while warming up")?;
        if current.groups >= expected_groups
            && current.iterations_min >= 1.0
            && ready_at.elapsed() >= warm_up
        {
            let expected_rules = (fleet.slos.len() * sloth::RULES_PER_SLO) as u64;
            if current.rules != expected_rules {
                bail!(
                    "prometheus loaded {} rules, expected {expected_rules}",
                    current.rules
                );
            }
            break;
        }
        if Instant::now() > warm_up_deadline {
            bail!(
                "prometheus ran {} groups of {expected_groups}, the slowest {} times, in {:.0} s",
                current.groups,
                current.iterations_min,
                ready_at.elapsed().as_secs_f64()
            );
        }
    }

    // Measurement: the asked intervals, longer when Prometheus cannot keep up, until every
    // group has run once more on average (capped).
    let first = observe("at the start of the measurement")?;
    let meter = machine::Meter::start(pid)?;
    let mut snapshots: Vec<Snapshot> = Vec::new();
    let most_intervals = options.measured_rounds + 15;
    for round in 1..=most_intervals {
        std::thread::sleep(interval);
        let current = observe("while measured")?;
        let rounds_so_far =
            (current.evaluations_run() - first.evaluations_run()) / current.groups.max(1) as f64;
        eprintln!(
            "  interval {round}: rule groups' last durations sum to {:.2} s; {rounds_so_far:.2} rounds of all groups so far",
            current.last_duration_sum
        );
        snapshots.push(current);
        if round >= options.measured_rounds && rounds_so_far >= 1.0 {
            break;
        }
    }
    let usage = meter.finish()?;
    let last = snapshots.last().cloned().unwrap_or_else(|| first.clone());
    let rounds_run = (last.evaluations_run() - first.evaluations_run()) / last.groups.max(1) as f64;
    let day_error_ratios =
        day_error_ratios(prometheus.address).map_err(|error| format!("{error:#}"));
    let rss_bytes = machine::resident_bytes(Some(pid)).unwrap_or(0);
    prometheus.stop();
    let log_problems = log_problems(&scratch.join("prometheus.log"));
    Ok(RuleEvaluation {
        groups: last.groups,
        rules: last.rules,
        startup_seconds,
        round_seconds: snapshots
            .iter()
            .map(|snapshot| snapshot.last_duration_sum)
            .collect(),
        cpu_seconds_per_interval: usage.process_cores() * INTERVAL_SECONDS as f64,
        cpu_seconds_per_completed_round: (rounds_run > 0.0).then(|| usage.process_cpu / rounds_run),
        rounds_run,
        intervals_measured: usage.seconds / INTERVAL_SECONDS as f64,
        usage,
        queue_time_p90_seconds: last.queue_time_p90,
        inner_eval_p90_seconds: last.inner_eval_p90,
        log_problems,
        iterations_missed_measured: last.missed_sum - first.missed_sum,
        iterations_missed_total: last.missed_sum,
        evaluation_failures: last.failures_sum,
        rss_bytes,
        peak_rss_bytes: peak_rss_bytes.max(rss_bytes),
        day_error_ratios,
    })
}
