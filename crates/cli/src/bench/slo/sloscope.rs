//! The sloscope side of `bench slo`, in process.
//!
//! Two measurements:
//! - **Evaluation cycle**: every SLO instance holds its full history (recorded straight into its
//!   evaluator, as the engine's backfill from the store would), the store holds the spans of
//!   the last minutes as real writes, and each cycle does what `SloEngine::cycle` does after its
//!   spec refresh: one rollup query for the revisable minutes of every service, rows grouped by
//!   service, then `observe` + `evaluate` + publish for every SLO.
//! - **Engine cycle**: the server's own `SloEngine::cycle` over the same SLOs written as spec
//!   files into a watched directory, which adds what the server does every cycle besides
//!   evaluating (refreshing the specs from the directory, keeping alert history, saving the
//!   alert state when an alert changed). Its SLOs only know the history the store holds (the
//!   engine has no way to be handed 30 days of it): a window sum costs the same, but the
//!   smaller series are kinder to the caches, so this figure flatters the evaluation itself.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sloscope_ingest::SignalType;
use sloscope_model::{
    AttrValue, Attributes, Batch, MINUTE_NANOS, Resource, SignalRow, Span, SpanKind, StatusCode,
    TimeRange,
};
use sloscope_server::slos::SloEngine;
use sloscope_slo::instance::{REVISABLE_MINUTES, SloInstance};
use sloscope_slo::{Evaluation, Events, Phase, indicator};
use sloscope_store::{DiscardStore, SignalFilter, Store, Write};

use super::fleet::{Fleet, LATENCY_THRESHOLD_MS};
use super::machine::{self, resident_bytes};

/// Seconds between two cycles, as the server runs them.
pub const CYCLE_SECONDS: i64 = 30;
/// Cycles run before the timed ones: the first observes every revisable minute at once.
const WARM_UP_CYCLES: usize = 2;
/// Cycles run after the timed ones to see where the time goes.
pub const BREAKDOWN_CYCLES: usize = 5;

/// One SLO as the engine keeps it: the live instance and its last evaluation.
struct Managed {
    instance: SloInstance,
    last: Option<Evaluation>,
}

/// What one cycle did.
#[derive(Clone, Debug)]
pub struct Cycle {
    pub duration: Duration,
    pub rows: usize,
    pub transitions: usize,
    pub firing: usize,
}

pub struct CycleFigures {
    pub cycles: Vec<Cycle>,
    /// Resident memory before the SLOs were built and after their history was recorded.
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    /// The sum of `EventSeries::heap_bytes` over all SLOs.
    pub series_heap_bytes: u64,
    pub build_seconds: f64,
    pub minutes_recorded: u64,
    /// The error ratio over the last day of each SLO at the last cycle, by fleet index.
    pub day_error_ratios: Vec<Option<f64>>,
    pub breakdown: Breakdown,
    /// Cores other processes kept busy while the cycles were timed.
    pub other_cores: f64,
}

pub struct EngineFigures {
    pub cycles: Vec<Cycle>,
    pub spec_files: usize,
    pub first_cycle_seconds: f64,
    /// The alert state file, which the engine rewrites in every cycle where an alert changed.
    pub state_file_bytes: u64,
}

/// A store holding the spans of `[from_minute, to_minute)` for every operation, submitted as
/// real writes (one per minute) so that the rollups are the ones ingestion derives.
pub fn filled_store(
    fleet: &Fleet,
    from_minute: i64,
    to_minute: i64,
) -> anyhow::Result<Arc<DiscardStore>> {
    let store = Arc::new(DiscardStore::new(1_000));
    let resources: Vec<Arc<Resource>> = (0..fleet.service_count())
        .map(|service_index| {
            let service =
                &fleet.operations[service_index * super::fleet::OPERATIONS_PER_SERVICE].service;
            Arc::new(Resource::from_attributes(Attributes(vec![
                ("service.name".to_owned(), AttrValue::Str(service.clone())),
                (
                    "service.version".to_owned(),
                    AttrValue::Str("1.0.0".to_owned()),
                ),
            ])))
        })
        .collect();
    let mut spans_written = 0u64;
    for minute in from_minute..to_minute {
        let mut spans = Vec::new();
        for (index, operation) in fleet.operations.iter().enumerate() {
            let resource = &resources[index / super::fleet::OPERATIONS_PER_SERVICE];
            let traffic = fleet.traffic(index, minute);
            for request in 0..traffic.requests {
                let noise = fleet.noise(index, minute, request);
                // The first `slow` requests are slow, the last `faults` failed.
                let latency_ms = if request < traffic.slow {
                    400.0 + (noise % 2_600) as f64
                } else {
                    5.0 + (noise % 1_000) as f64 * (LATENCY_THRESHOLD_MS - 60.0) / 1_000.0
                };
                let fault = request >= traffic.requests - traffic.faults;
                let start = minute as u64 * MINUTE_NANOS + (noise >> 20) % (MINUTE_NANOS / 2);
                let mut trace_id = [0u8; 16];
                trace_id[..8].copy_from_slice(&noise.to_le_bytes());
                trace_id[8..].copy_from_slice(&(index as u64 + 1).to_le_bytes());
                spans.push(Span {
                    resource: Arc::clone(resource),
                    scope_name: "bench".to_owned(),
                    trace_id,
                    span_id: (noise | 1).to_le_bytes(),
                    parent_span_id: None,
                    parent_is_remote: false,
                    name: operation.name.clone(),
                    kind: SpanKind::Server,
                    start_unix_nano: start,
                    end_unix_nano: start + (latency_ms * 1_000_000.0) as u64,
                    status_code: if fault {
                        StatusCode::Error
                    } else {
                        StatusCode::Unset
                    },
                    status_message: String::new(),
                    attributes: Attributes::default(),
                    events: Vec::new(),
                    links: Vec::new(),
                });
            }
        }
        spans_written += spans.len() as u64;
        store
            .submit(Write {
                signal: SignalType::Traces,
                payload: Default::default(),
                batch: Batch {
                    spans,
                    logs: Vec::new(),
                    points: Vec::new(),
                },
            })
            .context("the store refused a write")?;
    }
    eprintln!(
        "  store: {spans_written} spans over {} minutes, {} rollup rows",
        to_minute - from_minute,
        store.stats().rollup_series
    );
    Ok(store)
}

/// The SLO instances with every minute of history before `before_minute` recorded.
fn build_fleet(fleet: &Fleet, before_minute: i64) -> (Vec<Managed>, u64) {
    let mut managed: Vec<Managed> = fleet
        .slos
        .iter()
        .map(|slo| Managed {
            instance: SloInstance::new(fleet.spec(slo)),
            last: None,
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let per_thread = managed.len().div_ceil(threads).max(1);
    let from_minute = fleet.history_start();
    let recorded: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = managed
            .chunks_mut(per_thread)
            .enumerate()
            .map(|(chunk_index, chunk)| {
                let first_slo = chunk_index * per_thread;
                scope.spawn(move || {
                    let mut recorded = 0u64;
                    // SLOs of one operation sit next to each other: compute its traffic once.
                    let mut cached: Option<(usize, Vec<super::fleet::MinuteTraffic>)> = None;
                    for (offset, entry) in chunk.iter_mut().enumerate() {
                        let slo = &fleet.slos[first_slo + offset];
                        if cached
                            .as_ref()
                            .is_none_or(|(index, _)| *index != slo.operation)
                        {
                            let minutes = (from_minute..before_minute)
                                .map(|minute| fleet.traffic(slo.operation, minute))
                                .collect();
                            cached = Some((slo.operation, minutes));
                        }
                        let (_, minutes) = cached.as_ref().expect("just filled");
                        let evaluator = entry.instance.evaluator_mut();
                        for (traffic, minute) in minutes.iter().zip(from_minute..) {
                            let bad = traffic.bad(slo.kind);
                            evaluator.record(
                                minute,
                                Events::new(traffic.requests - bad, traffic.requests),
                            );
                            recorded += 1;
                        }
                    }
                    recorded
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("history worker panicked"))
            .sum()
    });
    (managed, recorded)
}

/// Where a cycle's time goes, summed over the cycles it was taken for.
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    pub cycles: u32,
    /// The rollup query (rows cloned out of the store).
    pub fetch: Duration,
    /// Rows grouped by service.
    pub group: Duration,
    /// The spec cloned, as the engine does for every SLO.
    pub spec: Duration,
    /// The SLO's rows turned into events per minute.
    pub events: Duration,
    pub observe: Duration,
    pub evaluate: Duration,
    /// The evaluation cloned into the published map and kept as the last one.
    pub publish: Duration,
    /// The rows and the previous published map dropped.
    pub release: Duration,
}

impl Breakdown {
    /// Milliseconds per cycle of each phase, in order.
    pub fn per_cycle_ms(&self) -> [(&'static str, f64); 8] {
        let per_cycle =
            |duration: Duration| duration.as_secs_f64() * 1e3 / f64::from(self.cycles.max(1));
        [
            ("fetch", per_cycle(self.fetch)),
            ("group", per_cycle(self.group)),
            ("spec clone", per_cycle(self.spec)),
            ("events", per_cycle(self.events)),
            ("observe", per_cycle(self.observe)),
            ("evaluate", per_cycle(self.evaluate)),
            ("publish", per_cycle(self.publish)),
            ("release", per_cycle(self.release)),
        ]
    }
}

/// Adds the time since `*mark` to `phase` and moves the mark, when a breakdown is taken.
fn lap(breakdown: bool, mark: &mut Instant, phase: &mut Duration) {
    if breakdown {
        let now = Instant::now();
        *phase += now - *mark;
        *mark = now;
    }
}

/// One cycle as `SloEngine::cycle` runs it once its specs are refreshed; with `breakdown`,
/// also the time of each phase (the clock reads cost about a millisecond per cycle).
fn evaluation_cycle(
    store: &dyn Store,
    fleet: &mut [Managed],
    published: &mut BTreeMap<String, Evaluation>,
    now: i64,
    breakdown: Option<&mut Breakdown>,
) -> anyhow::Result<Cycle> {
    let started = Instant::now();
    let timing = breakdown.is_some();
    let mut phases = Breakdown::default();
    let mut mark = started;
    let now_minute = now.div_euclid(60);
    let recent = TimeRange::new(
        ((now_minute - REVISABLE_MINUTES).max(0) as u64) * MINUTE_NANOS,
        (now_minute as u64 + 1) * MINUTE_NANOS,
    );
    let rows = store.signals(recent, &SignalFilter::default())?;
    let row_count = rows.len();
    lap(timing, &mut mark, &mut phases.fetch);
    let mut by_service: HashMap<&str, Vec<&SignalRow>> = HashMap::new();
    for row in &rows {
        by_service
            .entry(row.key.service.as_str())
            .or_default()
            .push(row);
    }
    lap(timing, &mut mark, &mut phases.group);
    let mut transitions = 0;
    let mut firing = 0;
    let mut next_published = BTreeMap::new();
    for entry in fleet.iter_mut() {
        let spec = entry.instance.spec().clone();
        lap(timing, &mut mark, &mut phases.spec);
        let service_rows = by_service
            .get(spec.service.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let minutes = indicator::minute_events(
            &spec,
            service_rows
                .iter()
                .map(|row| (row.minute, &row.key, &row.stats)),
        );
        lap(timing, &mut mark, &mut phases.events);
        entry.instance.observe(&minutes, now_minute);
        lap(timing, &mut mark, &mut phases.observe);
        let evaluation = entry.instance.evaluate(now);
        lap(timing, &mut mark, &mut phases.evaluate);
        transitions += evaluation.transitions.len();
        firing += evaluation
            .states
            .iter()
            .filter(|state| state.phase == Phase::Firing)
            .count();
        next_published.insert(spec.name.clone(), evaluation.clone());
        entry.last = Some(evaluation);
        lap(timing, &mut mark, &mut phases.publish);
    }
    *published = next_published;
    drop(by_service);
    drop(rows);
    lap(timing, &mut mark, &mut phases.release);
    let duration = started.elapsed();
    if let Some(total) = breakdown {
        total.cycles += 1;
        total.fetch += phases.fetch;
        total.group += phases.group;
        total.spec += phases.spec;
        total.events += phases.events;
        total.observe += phases.observe;
        total.evaluate += phases.evaluate;
        total.publish += phases.publish;
        total.release += phases.release;
    }
    Ok(Cycle {
        duration,
        rows: row_count,
        transitions,
        firing,
    })
}

/// Builds every SLO with its history and times `cycles` evaluation cycles over `store`.
pub fn measure_cycles(
    fleet: &Fleet,
    store: &dyn Store,
    cycles: usize,
) -> anyhow::Result<CycleFigures> {
    let rss_before_bytes = resident_bytes(None)?;
    let build_started = Instant::now();
    let first_live_minute = fleet.end_minute - REVISABLE_MINUTES;
    let (mut managed, minutes_recorded) = build_fleet(fleet, first_live_minute);
    let build_seconds = build_started.elapsed().as_secs_f64();
    let rss_after_bytes = resident_bytes(None)?;
    let series_heap_bytes = managed
        .iter()
        .map(|entry| entry.instance.evaluator().series().heap_bytes() as u64)
        .sum();
    eprintln!(
        "  {} SLOs built with {minutes_recorded} SLO-minutes of history in {build_seconds:.1} s",
        managed.len()
    );

    let mut published = BTreeMap::new();
    let mut timed = Vec::with_capacity(cycles);
    let mut now = fleet.end_minute * 60 + 5;
    let meter = machine::Meter::start(std::process::id())?;
    for round in 0..WARM_UP_CYCLES + cycles {
        let cycle = evaluation_cycle(store, &mut managed, &mut published, now, None)?;
        if round >= WARM_UP_CYCLES {
            timed.push(cycle);
        }
        now += CYCLE_SECONDS;
    }
    let other_cores = meter.finish()?.other_cores;
    // A few more cycles with the clock read between phases, apart from the timed ones.
    let mut breakdown = Breakdown::default();
    for _ in 0..BREAKDOWN_CYCLES {
        evaluation_cycle(
            store,
            &mut managed,
            &mut published,
            now,
            Some(&mut breakdown),
        )?;
        now += CYCLE_SECONDS;
    }
    let day_error_ratios = managed
        .iter()
        .map(|entry| {
            entry.last.as_ref().and_then(|evaluation| {
                evaluation
                    .windows
                    .iter()
                    .find(|window| window.minutes == super::fleet::MINUTES_PER_DAY)
                    .and_then(|window| Events::new(window.good, window.total).error_ratio())
            })
        })
        .collect();
    Ok(CycleFigures {
        cycles: timed,
        rss_before_bytes,
        rss_after_bytes,
        series_heap_bytes,
        build_seconds,
        minutes_recorded,
        day_error_ratios,
        breakdown,
        other_cores,
    })
}

/// Times the server's own `SloEngine::cycle` with every SLO as a spec file in a watched
/// directory (one file per service), over the same store.
pub fn measure_engine(
    fleet: &Fleet,
    store: Arc<dyn Store>,
    cycles: usize,
    scratch: &Path,
) -> anyhow::Result<EngineFigures> {
    let watch_dir = scratch.join("slos");
    let data_dir = scratch.join("data");
    std::fs::create_dir_all(&watch_dir).context("cannot create the spec directory")?;
    std::fs::create_dir_all(&data_dir).context("cannot create the engine's data directory")?;
    let mut by_service: BTreeMap<&str, Vec<sloscope_slo::spec::SloSpec>> = BTreeMap::new();
    for slo in &fleet.slos {
        let service = fleet.operations[slo.operation].service.as_str();
        by_service.entry(service).or_default().push(fleet.spec(slo));
    }
    for (service, specs) in &by_service {
        let text = sloscope_slo::parse::to_yaml_documents(specs);
        std::fs::write(watch_dir.join(format!("{service}.yaml")), text)
            .context("cannot write a spec file")?;
    }
    let engine = SloEngine::new(store, &data_dir, Some(watch_dir), None);
    let mut now = fleet.end_minute * 60 + 5;
    // The first cycle loads every SLO and logs each one: keep that out of the log.
    let first_started = Instant::now();
    let loaded =
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            engine.cycle(now)
        })
        .context("the engine's first cycle failed")?;
    let first_cycle_seconds = first_started.elapsed().as_secs_f64();
    anyhow::ensure!(
        loaded == fleet.slos.len(),
        "the engine loaded {loaded} SLOs of {}",
        fleet.slos.len()
    );
    eprintln!(
        "  engine loaded {loaded} SLOs from {} files in {first_cycle_seconds:.1} s",
        by_service.len()
    );
    now += CYCLE_SECONDS;
    let mut timed = Vec::with_capacity(cycles);
    for round in 0..WARM_UP_CYCLES - 1 + cycles {
        let started = Instant::now();
        engine.cycle(now).context("an engine cycle failed")?;
        let duration = started.elapsed();
        if round >= WARM_UP_CYCLES - 1 {
            let evaluations = engine.evaluations();
            let firing = evaluations
                .values()
                .map(|evaluation| evaluation.firing().count())
                .sum();
            let transitions = evaluations
                .values()
                .map(|evaluation| evaluation.transitions.len())
                .sum();
            timed.push(Cycle {
                duration,
                rows: 0,
                transitions,
                firing,
            });
        }
        now += CYCLE_SECONDS;
    }
    let state_file_bytes =
        std::fs::metadata(data_dir.join("slo-state.json")).map_or(0, |metadata| metadata.len());
    Ok(EngineFigures {
        cycles: timed,
        spec_files: by_service.len(),
        first_cycle_seconds,
        state_file_bytes,
    })
}
