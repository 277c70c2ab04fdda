//! `sloscope demo`: sloscope doing its job end to end with nothing else installed. It starts
//! the server in this process on a fresh data directory, backfills hours of a simulated
//! shop's normal traffic (at full speed, over real OTLP/HTTP), loads the SLOs of the chosen
//! scenario, runs live traffic, injects the fault, waits for the page, and prints the
//! investigation and the link to the incident. Everything it shows comes from the server's
//! API, as a user would see it; the simulation lives in `sloscope-sim`.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sloscope_server::{Bound, Config, Overrides};

use crate::client::ServerArgs;
use sloscope_sim::scenario::Rollout;
use sloscope_sim::{
    BackfillProgress, Exporter, ExporterConfig, LiveClock, Scenario, Shop, backfill, run_live,
};

/// Model time the live phase has for the fault to page before it runs in real time.
const FAULT_ALLOWANCE: Duration = Duration::from_secs(180);
/// A file that marks a directory as the demo's own, so that it may be wiped on the next run.
const MARKER: &str = ".sloscope-demo";
const NANOS: u64 = 1_000_000_000;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// The fault to inject: slow-query-after-deploy, dependency-outage, traffic-spike,
    /// memory-leak, cpu-saturation, network-delay, bad-deploy-errors
    #[arg(long, default_value = "slow-query-after-deploy", value_parser = parse_scenario)]
    scenario: Scenario,
    /// Live time runs this many times faster than the wall clock (it starts in the past and
    /// catches up); 1 is real time, `max` the fastest (100)
    #[arg(long, default_value = "1", value_parser = parse_speed)]
    speed: f64,
    /// Hours of normal traffic sent before going live (baselines and error budgets)
    #[arg(long, default_value_t = 24)]
    backfill_hours: u64,
    /// Seconds (of model time) of live normal traffic before the fault
    #[arg(long, default_value_t = 20)]
    fault_after: u64,
    /// Seed of the simulation: the same seed replays the same traffic
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Stop after printing the investigation instead of serving until Ctrl-C
    #[arg(long)]
    exit_after_report: bool,
    /// The demo's data directory, wiped at the start of every demo run (only if an earlier demo
    /// made it)
    #[arg(long, default_value = "sloscope-data/demo")]
    data_dir: PathBuf,
    /// Query API listen address
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_addr: String,
    /// OTLP/HTTP listen address (the simulated shop exports here)
    #[arg(long, default_value = "127.0.0.1:4318")]
    otlp_http_addr: String,
    /// OTLP/gRPC listen address
    #[arg(long, default_value = "127.0.0.1:4317")]
    otlp_grpc_addr: String,
    /// Seconds between two SLO evaluations
    #[arg(long, default_value_t = 2)]
    evaluation_interval: u64,
    /// Give up when nothing paged this many (wall) seconds after the fault
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

fn parse_scenario(text: &str) -> Result<Scenario, String> {
    text.parse()
        .map_err(|error: sloscope_sim::scenario::UnknownScenario| error.to_string())
}

/// The fastest live time runs: the shop's model time still has to reach the wall clock
/// before its traffic can be told from the history.
const MAX_SPEED: f64 = 100.0;

fn parse_speed(text: &str) -> Result<f64, String> {
    if text == "max" {
        return Ok(MAX_SPEED);
    }
    match text.parse::<f64>() {
        Ok(speed) if (1.0..=MAX_SPEED).contains(&speed) => Ok(speed),
        _ => Err(format!(
            "expected a number from 1 to {MAX_SPEED} or `max`, got {text:?}"
        )),
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}

/// `14:02:05` of a unix-nanosecond time, UTC.
fn clock_time(unix_nanos: u64) -> String {
    let seconds = unix_nanos / NANOS % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn rfc3339(unix_nanos: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp((unix_nanos / NANOS) as i64)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| (unix_nanos / NANOS).to_string())
}

fn count(value: u64) -> String {
    match value {
        0..1_000 => value.to_string(),
        1_000..1_000_000 => format!("{:.1}k", value as f64 / 1e3),
        _ => format!("{:.2}M", value as f64 / 1e6),
    }
}

/// Wipes the demo's data directory (only if an earlier demo made it) and makes it anew.
fn prepare_data_dir(directory: &Path) -> anyhow::Result<()> {
    if directory.exists() {
        let is_empty = std::fs::read_dir(directory)
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !is_empty && !directory.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `sloscope demo` (no {MARKER} file); not deleting it: pass another --data-dir",
                directory.display()
            );
        }
        std::fs::remove_dir_all(directory)
            .with_context(|| format!("cannot clear {}", directory.display()))?;
    }
    std::fs::create_dir_all(directory.join("specs"))
        .with_context(|| format!("cannot create {}", directory.display()))?;
    std::fs::write(
        directory.join(MARKER),
        "made by `sloscope demo`; the next demo run deletes this directory\n",
    )?;
    Ok(())
}

/// The server running on its own runtime thread.
struct RunningServer {
    bound: Bound,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), sloscope_server::ServeError>>>,
}

impl RunningServer {
    /// Starts the server. Ctrl-C only sets `interrupted`: the demo stops the shop first and the
    /// server last, so that the shop's last exports still find it.
    fn start(config: Config, interrupted: Arc<AtomicBool>) -> anyhow::Result<RunningServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let (ready_sender, ready_receiver) = std::sync::mpsc::channel();
        let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sloscope-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::spawn(async move {
                        if tokio::signal::ctrl_c().await.is_ok() {
                            interrupted.store(true, Ordering::SeqCst);
                        }
                    });
                    let shutdown = async move {
                        let _ = stop_receiver.await;
                    };
                    sloscope_server::serve(config, shutdown, move |bound| {
                        let _ = ready_sender.send(bound.clone());
                    })
                    .await
                })
            })
            .context("cannot start the server thread")?;
        match ready_receiver.recv() {
            Ok(bound) => Ok(RunningServer {
                bound,
                stop: Some(stop_sender),
                thread: Some(thread),
            }),
            Err(_) => {
                let outcome = thread.join();
                match outcome {
                    Ok(Err(error)) => Err(error).context("the server did not start"),
                    _ => bail!("the server did not start"),
                }
            }
        }
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(outcome) => outcome.context("the server failed")?,
                Err(_) => bail!("the server thread panicked"),
            }
        }
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Prints the backfill's progress: a bar redrawn in place on a terminal, a line per quarter
/// otherwise.
struct ProgressPrinter {
    terminal: bool,
    started: Instant,
    last_draw: Instant,
    quarters_printed: u64,
}

impl ProgressPrinter {
    fn new() -> ProgressPrinter {
        ProgressPrinter {
            terminal: std::io::stdout().is_terminal(),
            started: Instant::now(),
            last_draw: Instant::now(),
            quarters_printed: 0,
        }
    }

    fn show(&mut self, progress: &BackfillProgress) {
        let share = progress.done as f64 / progress.total.max(1) as f64;
        let exported = &progress.exported;
        let line = format!(
            "{:3.0} %  {} spans, {} logs, {} metric points sent  {:.0} s",
            share * 100.0,
            count(exported.spans),
            count(exported.logs),
            count(exported.points),
            self.started.elapsed().as_secs_f64()
        );
        if self.terminal {
            if self.last_draw.elapsed() < Duration::from_millis(200) && share < 1.0 {
                return;
            }
            self.last_draw = Instant::now();
            let filled = (share * 30.0).round() as usize;
            print!(
                "\r  {}{}  {line}   ",
                "█".repeat(filled),
                "░".repeat(30 - filled)
            );
            let _ = std::io::stdout().flush();
        } else {
            let quarter = (share * 4.0).floor() as u64;
            if quarter > self.quarters_printed {
                self.quarters_printed = quarter;
                println!("  {line}");
            }
        }
    }

    fn finish(&self) {
        if self.terminal {
            println!();
        }
    }
}

/// What the live lines and the page report read from one SLO.
struct SloView {
    status: String,
    budget_remaining: Option<f64>,
    burn_rates: Vec<(String, f64)>,
    /// The first page rule that went to firing: (rule, unix seconds).
    page: Option<(String, i64)>,
    /// The first burn-rate rule that pages (`burn_14m_1m`): the windows worth watching.
    page_rule: Option<String>,
    attainment: Option<f64>,
}

fn read_slo(api: &ServerArgs, name: &str) -> anyhow::Result<SloView> {
    let body = api.get(&format!("/api/v1/slos/{name}"))?;
    let page = body["alert_history"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|event| event["severity"] == "page" && event["to"] == "firing")
        .map(|event| {
            (
                event["rule"].as_str().unwrap_or("page").to_owned(),
                event["at"].as_i64().unwrap_or(0),
            )
        });
    let burn_rates = body["burn_rates"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(window, burn)| Some((window.clone(), burn.as_f64()?)))
        .collect();
    let page_rule = body["evaluation"]["states"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|state| state["severity"] == "page")
        .filter_map(|state| state["rule"].as_str())
        .find(|rule| rule.starts_with("burn_"))
        .map(str::to_owned);
    Ok(SloView {
        status: body["status"].as_str().unwrap_or("?").to_owned(),
        budget_remaining: body["budget_remaining"].as_f64(),
        burn_rates,
        page,
        page_rule,
        attainment: body["attainment"].as_f64(),
    })
}

fn percent(value: Option<f64>) -> String {
    match value {
        Some(value) => format!("{:.1} %", value * 100.0),
        None => "-".into(),
    }
}

/// The windows of a burn-rate rule (`burn_14m_1m` -> 14m and 1m).
fn rule_windows(rule: &str) -> Vec<&str> {
    match rule.strip_prefix("burn_") {
        Some(windows) => windows.split('_').collect(),
        None => Vec::new(),
    }
}

/// The burn rates over a rule's windows: `38.2x over 14m and 120.5x over 1m`.
fn rule_burns(rule: &str, burn_rates: &[(String, f64)]) -> String {
    let mut parts = Vec::new();
    for window in rule_windows(rule) {
        if let Some((_, burn)) = burn_rates.iter().find(|(name, _)| name == window) {
            parts.push(format!("{burn:.1}x over {window}"));
        }
    }
    parts.join(" and ")
}

/// `14m` -> 14, `1h24m` -> 84, `3d` -> 4320.
fn window_minutes(window: &str) -> Option<u64> {
    let mut minutes = 0;
    let mut number = String::new();
    for character in window.chars() {
        if character.is_ascii_digit() {
            number.push(character);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        minutes += match character {
            'm' => value,
            'h' => value * 60,
            'd' => value * 24 * 60,
            _ => return None,
        };
    }
    number.is_empty().then_some(minutes)
}

/// One live line for the scenario's service: traffic, latency and faults over the last
/// minute of model time, its versions, and the paging SLO's state.
fn live_line(api: &ServerArgs, service: &str, slo: &str, model_now: u64) -> anyhow::Result<String> {
    // Signals are kept per minute: read from the start of the previous minute, and divide by
    // the time covered (one to two minutes) for a rate that does not wobble.
    let to = model_now / NANOS;
    let from = (to / 60).saturating_sub(1) * 60;
    let covered_minutes = (to - from).max(1) as f64 / 60.0;
    let signals = api.get(&format!(
        "/api/v1/services/{service}/signals?from={from}&to={to}&step=1m&percentiles=50,99"
    ))?;
    let total = &signals["total"];
    let requests = total["requests"].as_u64().unwrap_or(0);
    let faults = total["faults"].as_u64().unwrap_or(0);
    let p50 = total["latency_ms"]["p50"].as_f64();
    let p99 = total["latency_ms"]["p99"].as_f64();
    let services = api.get(&format!("/api/v1/services?from={from}&to={to}"))?;
    let versions = services
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["name"] == service)
        .and_then(|entry| entry["versions"].as_array())
        .map(|versions| {
            versions
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("+")
        })
        .unwrap_or_default();
    let milliseconds = |value: Option<f64>| match value {
        Some(value) if value >= 100.0 => format!("{value:.0} ms"),
        Some(value) => format!("{value:.1} ms"),
        None => "-".into(),
    };
    let mut line = format!(
        "{}  {service} v{versions}  {:.0} req/min  p50 {}  p99 {}  faults {:.2} %",
        clock_time(model_now),
        requests as f64 / covered_minutes,
        milliseconds(p50),
        milliseconds(p99),
        if requests > 0 {
            100.0 * faults as f64 / requests as f64
        } else {
            0.0
        },
    );
    {
        let view = read_slo(api, slo)?;
        let burns = view
            .page_rule
            .as_deref()
            .map(|rule| rule_burns(rule, &view.burn_rates))
            .unwrap_or_default();
        line.push_str(&format!(
            "  | {slo}: {}, burn {burns}, budget left {}",
            view.status,
            percent(view.budget_remaining)
        ));
    }
    Ok(line)
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.backfill_hours == 0 || args.backfill_hours > 24 * 7 {
        bail!("--backfill-hours must be between 1 and 168");
    }
    let scenario = args.scenario;
    let story = scenario.story();
    let service = story.service.name();
    prepare_data_dir(&args.data_dir)?;
    let spec_dir = args.data_dir.join("specs");

    // The demo is self-contained: no config file, no SLOSCOPE_* variables.
    let overrides = Overrides {
        data_dir: Some(args.data_dir.clone()),
        otlp_grpc_addr: Some(args.otlp_grpc_addr.clone()),
        otlp_http_addr: Some(args.otlp_http_addr.clone()),
        http_addr: Some(args.http_addr.clone()),
        slo_dir: Some(spec_dir.clone()),
    };
    let mut config = Config::from_parts(None, &[], &overrides)?;
    config.slo_interval = Duration::from_secs(args.evaluation_interval.clamp(1, 30));
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut server = RunningServer::start(config, interrupted.clone())?;
    let bound = server.bound.clone();
    let api = ServerArgs {
        server: format!("http://{}", bound.http),
        token: None,
        json: false,
    };
    let demo_started = Instant::now();

    println!(
        "sloscope demo: scenario {scenario}, seed {}, speed {}x (times are UTC)",
        args.seed, args.speed
    );
    println!("  API        http://{}/api/v1", bound.http);
    println!(
        "  OTLP       http://{}/v1/{{traces,metrics,logs}} (the simulated shop exports here) and grpc {}",
        bound.otlp_http, bound.otlp_grpc
    );
    println!(
        "  data dir   {} (wiped by the next demo run)",
        args.data_dir.display()
    );
    println!(
        "  the shop   frontend -> customers (PostgreSQL), catalog (Redis, PostgreSQL), orders (PostgreSQL, Redis, Kafka) -> payments -> api.paymentgateway.example"
    );
    println!();

    // History: the backfill ends where the live phase's model time will start.
    let fault_after = Duration::from_secs(args.fault_after);
    let compressed = fault_after + FAULT_ALLOWANCE;
    let planned = LiveClock::new(unix_nanos(), args.speed, compressed);
    let history_end = planned.model_start();
    let history_start = history_end - args.backfill_hours * 3600 * NANOS;
    let mut shop = Shop::new(
        args.seed,
        scenario,
        history_start,
        history_end + fault_after.as_nanos() as u64,
    );
    let exporter = Arc::new(Exporter::new(ExporterConfig::new(format!(
        "http://{}",
        bound.otlp_http
    ))));
    println!(
        "[1/4] backfill: {} h of normal traffic, {} to {}, at full speed over OTLP/HTTP",
        args.backfill_hours,
        rfc3339(history_start),
        rfc3339(history_end)
    );
    let backfill_started = Instant::now();
    let mut printer = ProgressPrinter::new();
    let sent = backfill(
        &mut shop,
        &exporter,
        history_end,
        &interrupted,
        |progress| printer.show(progress),
    );
    if interrupted.load(Ordering::SeqCst) {
        println!();
        return Ok(());
    }
    printer.finish();
    let backfill_seconds = backfill_started.elapsed().as_secs_f64();
    println!(
        "  done: {} spans, {} logs, {} metric points ({:.0} MB gzip) in {backfill_seconds:.0} s, {} spans/s",
        count(sent.spans),
        count(sent.logs),
        count(sent.points),
        sent.bytes_sent as f64 / 1e6,
        count((sent.spans as f64 / backfill_seconds.max(0.001)) as u64)
    );
    if sent.dropped > 0 || sent.rejected > 0 {
        println!(
            "  warning: {} items dropped, {} rejected: {}",
            sent.dropped,
            sent.rejected,
            sent.last_error.clone().unwrap_or_default()
        );
    }
    for (at, rollout) in shop.deploys() {
        if *at < history_end {
            record_deploy(&api, *at, rollout)?;
            println!(
                "  the deploy pipeline recorded: {} {} at {}",
                rollout.service.name(),
                rollout.version,
                rfc3339(*at)
            );
        }
    }

    // SLOs, loaded after the history so that it counts towards their budgets.
    println!();
    let spec_file = spec_dir.join(format!("{service}.yaml"));
    std::fs::write(&spec_file, scenario.slo_yaml())
        .with_context(|| format!("cannot write {}", spec_file.display()))?;
    println!(
        "[2/4] SLOs of {service}, from {} (7-day windows; page at 14.4x over 14m and 1m)",
        spec_file.display()
    );
    let targets = scenario.slo_targets();
    let waiting_since = Instant::now();
    loop {
        let list = api.get("/api/v1/slos")?;
        let loaded = list["slos"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|slo| !slo["evaluated_at"].is_null())
            .count();
        if loaded >= targets.len() {
            break;
        }
        if waiting_since.elapsed() > Duration::from_secs(120) {
            bail!("the SLOs were not loaded within 2 minutes: {list}");
        }
        if interrupted.load(Ordering::SeqCst) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let list = api.get("/api/v1/slos")?;
    for slo in list["slos"].as_array().into_iter().flatten() {
        println!(
            "  {:26} {:48} objective {:.1} %  attainment {}  budget left {}",
            slo["name"].as_str().unwrap_or("?"),
            slo["description"].as_str().unwrap_or(""),
            slo["objective"].as_f64().unwrap_or(0.0) * 100.0,
            percent(slo["attainment"].as_f64()),
            percent(slo["budget_remaining"].as_f64()),
        );
    }

    // Live: the clock starts now; the shop catches up with its model start first.
    println!();
    let clock = LiveClock::new(unix_nanos(), args.speed, compressed);
    let fault_at = clock.model_start() + fault_after.as_nanos() as u64;
    // Before the catch-up, which runs past the fault time planned before the backfill.
    shop.reschedule_fault(fault_at);
    backfill(
        &mut shop,
        &exporter,
        clock.model_start(),
        &interrupted,
        |_| {},
    );
    let live_deploys: Vec<(u64, Rollout)> = shop
        .deploys()
        .iter()
        .filter(|(at, _)| *at >= fault_at)
        .copied()
        .collect();
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic = {
        let exporter = exporter.clone();
        let stop = stop_traffic.clone();
        std::thread::Builder::new()
            .name("shop".into())
            .spawn(move || run_live(&mut shop, &exporter, &clock, &stop))
            .context("cannot start the shop's live traffic")?
    };
    let stop_live = |traffic: std::thread::JoinHandle<()>| {
        stop_traffic.store(true, Ordering::SeqCst);
        let _ = traffic.join();
    };
    if args.speed > 1.0 {
        println!(
            "[3/4] live traffic, {}x faster than the wall clock until it catches up with it; the fault comes at {} (in {:.0} s)",
            args.speed,
            clock_time(fault_at),
            clock.wall_until(fault_at).as_secs_f64()
        );
    } else {
        println!(
            "[3/4] live traffic; the fault comes at {} (in {} s)",
            clock_time(fault_at),
            args.fault_after
        );
    }
    let line_every = Duration::from_secs(if args.speed > 1.0 { 2 } else { 5 });
    let mut last_line = Instant::now() - line_every;
    let mut fault_announced = false;
    let mut fault_wall: Option<Instant> = None;
    let page = loop {
        if interrupted.load(Ordering::SeqCst) {
            stop_live(traffic);
            return Ok(());
        }
        let model_now = clock.model_now();
        if !fault_announced && model_now >= fault_at {
            fault_announced = true;
            fault_wall = Some(Instant::now());
            println!("  {}  FAULT  {}", clock_time(fault_at), story.fault);
            for (at, rollout) in &live_deploys {
                record_deploy(&api, *at, rollout)?;
            }
        }
        let view = read_slo(&api, story.paging_slo)?;
        if let Some((rule, _)) = view.page.clone() {
            break (view, rule);
        }
        if let Some(since) = fault_wall
            && since.elapsed() > Duration::from_secs(args.timeout)
        {
            stop_live(traffic);
            bail!(
                "{} did not page within {} s of the fault",
                story.paging_slo,
                args.timeout
            );
        }
        if last_line.elapsed() >= line_every {
            last_line = Instant::now();
            println!(
                "  {}",
                live_line(&api, service, story.paging_slo, model_now)?
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    };

    // The page.
    let (view, rule) = page;
    let paged_model = clock.model_now();
    let after_fault = paged_model.saturating_sub(fault_at) / NANOS;
    let wall_after_fault = fault_wall
        .map(|since| since.elapsed().as_secs())
        .unwrap_or(0);
    println!();
    let why = if rule.starts_with("burn_") {
        format!(
            "burn rate {} (pages at 14.4x)",
            rule_burns(&rule, &view.burn_rates)
        )
    } else {
        format!("{rule} (budget left {})", percent(view.budget_remaining))
    };
    println!(
        "  {}  PAGE  {}: {why}",
        clock_time(paged_model),
        story.paging_slo
    );
    println!(
        "        rule {rule} fired {after_fault} s after the fault in model time ({wall_after_fault} s of wall time); budget left {}, attainment {}",
        percent(view.budget_remaining),
        percent(view.attainment),
    );

    // The investigation: of the incident the page opened, or asked for over the page's window.
    println!();
    // A budget page has no window of its own: take the SLO's burn-rate page rule's.
    let burn_rule = if rule.starts_with("burn_") {
        Some(rule.as_str())
    } else {
        view.page_rule.as_deref()
    };
    let long_window_minutes = burn_rule
        .and_then(|burn_rule| rule_windows(burn_rule).first().copied())
        .and_then(window_minutes)
        .unwrap_or(15);
    let window_to = clock.model_now();
    let window_from = window_to.saturating_sub(long_window_minutes * 60 * NANOS);
    let Some(found) = investigate(
        &api,
        &story,
        service,
        (window_from, window_to),
        &interrupted,
    )?
    else {
        stop_live(traffic);
        return server.stop();
    };
    let subject = &found.report["subject"];
    let time_of = |value: &Value| value.as_u64().map(clock_time).unwrap_or_default();
    println!(
        "[4/4] investigation {}{} of {service}: {} to {} against {} to {}",
        found.id,
        found
            .incident
            .as_ref()
            .map(|incident| format!(" (incident {incident}, opened by the page)"))
            .unwrap_or_default(),
        time_of(&subject["window"]["from"]),
        time_of(&subject["window"]["to"]),
        time_of(&subject["baseline"]["from"]),
        time_of(&subject["baseline"]["to"]),
    );
    print_report(&found.report);
    // The web UI's incident page; an investigation asked for directly has no incident.
    let link = match &found.incident {
        Some(incident) => format!("http://{}/incidents/{incident}", bound.http),
        None => format!(
            "http://{}/api/v1/investigations/{}?format=markdown",
            bound.http, found.id
        ),
    };
    println!();
    println!("Open the incident: {link}");
    println!(
        "The demo took {:.0} s (backfill {backfill_seconds:.0} s).",
        demo_started.elapsed().as_secs_f64()
    );

    if !args.exit_after_report {
        println!();
        println!(
            "sloscope keeps running, and so do the shop and its fault: try\n  curl -s http://{0}/api/v1/services\n  curl -s http://{0}/api/v1/slos/{1}\n  sloscope slo status {1} --server http://{0}\nCtrl-C to stop.",
            bound.http, story.paging_slo
        );
        while !interrupted.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    stop_live(traffic);
    let totals = exporter.stats();
    server.stop()?;
    println!(
        "stopped: the shop sent {} spans, {} logs and {} metric points in all",
        count(totals.spans),
        count(totals.logs),
        count(totals.points)
    );
    Ok(())
}

struct Investigation {
    id: String,
    incident: Option<String>,
    report: Value,
}

/// The investigation of the incident the page opened; when no incident shows up in time,
/// one asked for over the page's `window`. None when interrupted.
fn investigate(
    api: &ServerArgs,
    story: &sloscope_sim::Story,
    service: &str,
    window: (u64, u64),
    interrupted: &AtomicBool,
) -> anyhow::Result<Option<Investigation>> {
    let (from, to) = window;
    let waiting_since = Instant::now();
    // The page opens an incident, whose investigation runs on its own: give it time.
    while waiting_since.elapsed() < Duration::from_secs(120) {
        if interrupted.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let answer = api.get("/api/v1/incidents")?;
        let incident = answer["incidents"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|incident| incident["slo"] == story.paging_slo);
        if let Some(incident) = incident
            && let Some(investigation) = incident["investigation_id"].as_str()
        {
            let report = api.get(&format!("/api/v1/investigations/{investigation}"))?;
            return Ok(Some(Investigation {
                id: investigation.to_owned(),
                incident: incident["id"].as_str().map(str::to_owned),
                report,
            }));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    println!(
        "  no incident was investigated for {} within 2 minutes; investigating directly",
        story.paging_slo
    );
    let report = api.post(
        "/api/v1/investigations",
        &json!({
            "service": service,
            "slo": story.paging_slo,
            "from": rfc3339(from),
            "to": rfc3339(to),
        }),
    )?;
    let Some(id) = report["id"].as_str().map(str::to_owned) else {
        bail!("POST /api/v1/investigations answered without an id: {report}");
    };
    Ok(Some(Investigation {
        id,
        incident: None,
        report,
    }))
}

/// Records a deploy as a change event, as a deploy pipeline would (`POST /api/v1/changes`).
fn record_deploy(api: &ServerArgs, at: u64, rollout: &Rollout) -> anyhow::Result<()> {
    api.post(
        "/api/v1/changes",
        &json!({
            "service": rollout.service.name(),
            "kind": "deployment",
            "version": rollout.version,
            "description": format!("rolling update of {} to {}", rollout.service.name(), rollout.version),
            "time": rfc3339(at),
        }),
    )?;
    Ok(())
}

fn print_report(report: &Value) {
    let causes = report["causes"].as_array().cloned().unwrap_or_default();
    if causes.is_empty() {
        println!("  no suspected cause stood out");
    }
    for cause in &causes {
        println!(
            "  {}. {}  {}  (confidence {:.0} %)",
            cause["rank"].as_u64().unwrap_or(0),
            cause["service"].as_str().unwrap_or("?"),
            cause["kind"].as_str().unwrap_or("?"),
            cause["confidence"].as_f64().unwrap_or(0.0) * 100.0
        );
        println!("     {}", cause["summary"].as_str().unwrap_or(""));
        for evidence in cause["evidence"].as_array().into_iter().flatten().take(4) {
            println!(
                "     - [{}] {}",
                evidence["probe"].as_str().unwrap_or("?"),
                evidence["summary"].as_str().unwrap_or("")
            );
        }
        for remedy in cause["remedies"].as_array().into_iter().flatten().take(3) {
            println!(
                "     -> {} ({})",
                remedy["action"].as_str().unwrap_or(""),
                remedy["because"].as_str().unwrap_or("")
            );
        }
    }
    for missing in report["not_checked"].as_array().into_iter().flatten() {
        if let Some(text) = missing.as_str() {
            println!("  not checked: {text}");
        }
    }
}
