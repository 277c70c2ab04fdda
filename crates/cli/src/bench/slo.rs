//! `sloscope bench slo`: what evaluating 10,000 SLOs over 30-day windows costs sloscope (time
//! per evaluation cycle and memory), and, in the same run over the same traffic, what
//! Prometheus spends evaluating the equivalent Sloth-style recording and alerting rules.
//!
//! Both sides get one synthetic fleet ([`fleet`]): services with five operations each, an
//! availability and a latency SLO per operation, 99.9 % or 99 %, 30 rolling days, Sloth's four
//! burn-rate alert rules, and per-minute traffic with a daily cycle and incidents. sloscope's
//! cycle is timed in process ([`sloscope`]); Prometheus is the Debian package, started on
//! loopback with backfilled blocks and the generated rules ([`prometheus`], [`sloth`]).

mod fleet;
mod machine;
mod prometheus;
mod sloscope;
mod sloth;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use fleet::{Fleet, MINUTES_PER_DAY, SLO_PERIOD_DAYS};
use sloscope_slo::instance::REVISABLE_MINUTES;

#[derive(clap::Args)]
pub struct SloArgs {
    /// SLOs to evaluate (half availability, half latency; five operations per service).
    #[arg(long, default_value_t = 10_000)]
    slos: usize,
    /// Days of per-minute history before the measurement (the SLO window is 30 days).
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Timed evaluation cycles (30 s apart in the SLOs' time).
    #[arg(long, default_value_t = 20)]
    cycles: usize,
    /// Leave Prometheus out (no ratio then).
    #[arg(long)]
    skip_prometheus: bool,
    /// Prometheus evaluation intervals (60 s) waited before the measurement, once every rule
    /// group has run.
    #[arg(long, default_value_t = 3)]
    warm_up_rounds: u64,
    /// Prometheus evaluation intervals measured (more when it cannot keep up, until every
    /// group has run once more on average).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seed of the traffic generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

const GOAL_CYCLE_MILLISECONDS: f64 = 100.0;
const GOAL_SHARE_OF_PROMETHEUS: f64 = 0.1;

fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn milliseconds(cycles: &[sloscope::Cycle]) -> Vec<f64> {
    cycles
        .iter()
        .map(|cycle| cycle.duration.as_secs_f64() * 1e3)
        .collect()
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// How far the two sides' error ratios over the last day are apart, SLO by SLO.
struct Agreement {
    compared: usize,
    median_relative_difference: f64,
    p90_relative_difference: f64,
}

fn agreement(
    fleet: &Fleet,
    sloscope_ratios: &[Option<f64>],
    prometheus_ratios: &std::collections::HashMap<String, f64>,
) -> Agreement {
    let mut differences = Vec::new();
    for (slo, ratio) in fleet.slos.iter().zip(sloscope_ratios) {
        let (Some(ours), Some(theirs)) = (ratio, prometheus_ratios.get(&slo.name)) else {
            continue;
        };
        let scale = ours.abs().max(theirs.abs());
        if scale > 0.0 && theirs.is_finite() {
            differences.push((ours - theirs).abs() / scale);
        } else if scale == 0.0 {
            differences.push(0.0);
        }
    }
    Agreement {
        compared: differences.len(),
        median_relative_difference: quantile(&differences, 0.5),
        p90_relative_difference: quantile(&differences, 0.9),
    }
}

pub fn run(args: SloArgs) -> anyhow::Result<()> {
    if args.slos == 0 || args.cycles == 0 || args.rounds == 0 {
        bail!("--slos, --cycles and --rounds must be at least 1");
    }
    if !(1..=SLO_PERIOD_DAYS * 4).contains(&args.days) {
        bail!("--days must be between 1 and {}", SLO_PERIOD_DAYS * 4);
    }
    if !args.skip_prometheus && !prometheus::installed() {
        bail!(
            "prometheus and promtool are needed for the comparison (Debian: `apt-get install prometheus`), or pass --skip-prometheus"
        );
    }
    let now_minute = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs() as i64
        / 60;
    let fleet = Fleet::new(args.slos, args.days, now_minute, args.seed);
    eprintln!(
        "bench slo: {} SLOs over {} operations of {} services, {} days of history, {} incidents",
        fleet.slos.len(),
        fleet.operations.len(),
        fleet.service_count(),
        fleet.days,
        fleet.incidents
    );

    eprintln!("sloscope: filling the store with the last minutes' spans");
    // The cycles read the revisable minutes before each `now`; the history covers the rest.
    let cycle_minutes =
        (2 + (args.cycles + sloscope::BREAKDOWN_CYCLES) as i64) * sloscope::CYCLE_SECONDS / 60 + 3;
    let store = sloscope::filled_store(
        &fleet,
        fleet.end_minute - REVISABLE_MINUTES,
        fleet.end_minute + cycle_minutes,
    )?;
    eprintln!(
        "sloscope: building the SLOs with their history, then {} cycles",
        args.cycles
    );
    let cycles = sloscope::measure_cycles(&fleet, store.as_ref(), args.cycles)?;
    let cycle_ms = milliseconds(&cycles.cycles);
    eprintln!(
        "  evaluation cycle: median {:.1} ms, p90 {:.1} ms",
        quantile(&cycle_ms, 0.5),
        quantile(&cycle_ms, 0.9)
    );

    let scratch = tempfile::Builder::new()
        .prefix("sloscope-bench-slo-")
        .tempdir()
        .context("cannot create a scratch directory")?;
    eprintln!("sloscope: the server's SloEngine over the same SLOs as spec files");
    let engine = sloscope::measure_engine(
        &fleet,
        Arc::clone(&store) as Arc<dyn sloscope_store::Store>,
        args.cycles,
        &scratch.path().join("engine"),
    )?;
    let engine_ms = milliseconds(&engine.cycles);
    eprintln!(
        "  engine cycle: median {:.1} ms, p90 {:.1} ms",
        quantile(&engine_ms, 0.5),
        quantile(&engine_ms, 0.9)
    );
    drop(store);
    std::fs::remove_dir_all(scratch.path().join("engine")).ok();

    let prometheus = if args.skip_prometheus {
        None
    } else {
        eprintln!("prometheus: rules, backfill, run");
        let options = prometheus::Options {
            warm_up_rounds: args.warm_up_rounds,
            measured_rounds: args.rounds,
        };
        Some(prometheus::measure(
            &fleet,
            options,
            &scratch.path().join("prometheus"),
        )?)
    };
    scratch
        .close()
        .context("cannot remove the scratch directory")?;

    let report = Report {
        args: &args,
        fleet: &fleet,
        cycles: &cycles,
        engine: &engine,
        prometheus: prometheus.as_ref(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        report.print();
    }
    Ok(())
}

struct Report<'run> {
    args: &'run SloArgs,
    fleet: &'run Fleet,
    cycles: &'run sloscope::CycleFigures,
    engine: &'run sloscope::EngineFigures,
    prometheus: Option<&'run prometheus::Figures>,
}

impl Report<'_> {
    fn cycle_median_ms(&self) -> f64 {
        quantile(&milliseconds(&self.cycles.cycles), 0.5)
    }

    fn engine_median_ms(&self) -> f64 {
        quantile(&milliseconds(&self.engine.cycles), 0.5)
    }

    /// Prometheus's time for one round of all rules, and what it is: the smaller of the summed
    /// group durations and the CPU time per completed round, so that neither contention
    /// (which stretches group durations) nor scrapes (which cost CPU) count against it.
    fn prometheus_round_seconds(&self) -> Option<(f64, &'static str)> {
        let evaluation = &self.prometheus?.evaluation;
        let summed = quantile(&evaluation.round_seconds, 0.5);
        match evaluation.cpu_seconds_per_completed_round {
            Some(cpu) if cpu < summed => Some((cpu, "CPU seconds per completed round")),
            _ => Some((summed, "summed rule group durations")),
        }
    }

    /// Engine cycle times in milliseconds: of the cycles that saved the alert state (an alert
    /// changed), and of the others.
    fn engine_ms_by_state_save(&self) -> (Vec<f64>, Vec<f64>) {
        let (saving, quiet): (Vec<_>, Vec<_>) = self
            .engine
            .cycles
            .iter()
            .cloned()
            .partition(|cycle| cycle.transitions > 0);
        (milliseconds(&saving), milliseconds(&quiet))
    }

    fn rss_growth(&self) -> u64 {
        self.cycles
            .rss_after_bytes
            .saturating_sub(self.cycles.rss_before_bytes)
    }

    fn to_json(&self) -> Value {
        let cycle_ms = milliseconds(&self.cycles.cycles);
        let engine_ms = milliseconds(&self.engine.cycles);
        let last = self.cycles.cycles.last();
        let prometheus = self.prometheus.map(|figures| {
            let evaluation = &figures.evaluation;
            let agreement = match &evaluation.day_error_ratios {
                Ok(ratios) => {
                    let agreement = agreement(self.fleet, &self.cycles.day_error_ratios, ratios);
                    json!({
                        "compared": agreement.compared,
                        "median_relative_difference": agreement.median_relative_difference,
                        "p90_relative_difference": agreement.p90_relative_difference,
                    })
                }
                Err(error) => json!({ "error": error }),
            };
            json!({
                "version": figures.version,
                "rule_files": figures.rule_files,
                "rule_groups": evaluation.groups,
                "rules": evaluation.rules,
                "evaluation_interval_seconds": prometheus::INTERVAL_SECONDS,
                "backfill": {
                    "raw_series": figures.backfill.raw_series,
                    "raw_minutes": figures.backfill.raw_minutes,
                    "raw_samples": figures.backfill.raw_samples,
                    "sli_5m_series": figures.backfill.sli_series,
                    "sli_5m_minutes": figures.backfill.sli_minutes,
                    "sli_5m_samples": figures.backfill.sli_samples,
                    "openmetrics_bytes": figures.backfill.text_bytes,
                    "blocks": figures.backfill.blocks,
                    "seconds": figures.backfill.seconds,
                },
                "tsdb_bytes": figures.tsdb_bytes,
                "startup_seconds": evaluation.startup_seconds,
                "round_rule_seconds": evaluation.round_seconds,
                "round_rule_seconds_median": quantile(&evaluation.round_seconds, 0.5),
                "cpu_seconds_per_interval": evaluation.cpu_seconds_per_interval,
                "cpu_seconds_per_completed_round": evaluation.cpu_seconds_per_completed_round,
                "rounds_run": evaluation.rounds_run,
                "intervals_measured": evaluation.intervals_measured,
                "seconds_per_completed_round": evaluation.intervals_measured
                    * prometheus::INTERVAL_SECONDS as f64
                    / evaluation.rounds_run,
                "prometheus_cores": evaluation.usage.process_cores(),
                "iowait_cores": evaluation.usage.iowait_cores,
                "other_processes_cores": evaluation.usage.other_cores,
                "query_queue_time_p90_seconds": evaluation.queue_time_p90_seconds,
                "query_inner_eval_p90_seconds": evaluation.inner_eval_p90_seconds,
                "log_problems": evaluation
                    .log_problems
                    .iter()
                    .map(|(problem, count)| json!({ "problem": problem, "count": count }))
                    .collect::<Vec<_>>(),
                "iterations_missed_during_measurement": evaluation.iterations_missed_measured,
                "iterations_missed_total": evaluation.iterations_missed_total,
                "rule_evaluation_failures": evaluation.evaluation_failures,
                "rss_bytes": evaluation.rss_bytes,
                "peak_rss_bytes": evaluation.peak_rss_bytes,
                "scrapes": figures.scrapes,
                "day_error_ratio_agreement": agreement,
            })
        });
        let basis = self.prometheus_round_seconds();
        let ratio = basis.map(|(seconds, _)| self.cycle_median_ms() / 1e3 / seconds);
        let engine_ratio = basis.map(|(seconds, _)| self.engine_median_ms() / 1e3 / seconds);
        json!({
            "slos": self.fleet.slos.len(),
            "operations": self.fleet.operations.len(),
            "services": self.fleet.service_count(),
            "history_days": self.fleet.days,
            "slo_window_days": SLO_PERIOD_DAYS,
            "incidents": self.fleet.incidents,
            "seed": self.args.seed,
            "sloscope": {
                "evaluation_cycle_ms": {
                    "median": quantile(&cycle_ms, 0.5),
                    "p90": quantile(&cycle_ms, 0.9),
                    "all": cycle_ms,
                },
                "rollup_rows_per_cycle": last.map(|cycle| cycle.rows),
                "firing_rules_at_last_cycle": last.map(|cycle| cycle.firing),
                "alert_transitions": self.cycles.cycles.iter().map(|cycle| cycle.transitions).sum::<usize>(),
                "engine_cycle_ms": {
                    "median": quantile(&engine_ms, 0.5),
                    "p90": quantile(&engine_ms, 0.9),
                    "all": engine_ms,
                    "spec_files": self.engine.spec_files,
                    "first_cycle_seconds": self.engine.first_cycle_seconds,
                    "state_file_bytes": self.engine.state_file_bytes,
                    "median_with_state_save": quantile(&self.engine_ms_by_state_save().0, 0.5),
                    "median_without_state_save": quantile(&self.engine_ms_by_state_save().1, 0.5),
                },
                "memory": {
                    "rss_before_bytes": self.cycles.rss_before_bytes,
                    "rss_after_bytes": self.cycles.rss_after_bytes,
                    "rss_growth_bytes": self.rss_growth(),
                    "series_heap_bytes": self.cycles.series_heap_bytes,
                },
                "evaluation_cycle_breakdown_ms": self
                    .cycles
                    .breakdown
                    .per_cycle_ms()
                    .iter()
                    .map(|(phase, ms)| (phase.to_string(), json!(ms)))
                    .collect::<serde_json::Map<String, Value>>(),
                "other_processes_cores_during_cycles": self.cycles.other_cores,
                "history_minutes_recorded": self.cycles.minutes_recorded,
                "build_seconds": self.cycles.build_seconds,
            },
            "prometheus": prometheus,
            "prometheus_round_seconds": basis.map(|(seconds, _)| seconds),
            "prometheus_round_basis": basis.map(|(_, what)| what),
            "cycle_to_prometheus_round": ratio,
            "engine_cycle_to_prometheus_round": engine_ratio,
            "goals": {
                "cycle_under_ms": GOAL_CYCLE_MILLISECONDS,
                "cycle_met": self.cycle_median_ms() < GOAL_CYCLE_MILLISECONDS,
                "share_of_prometheus_at_most": GOAL_SHARE_OF_PROMETHEUS,
                "share_met": ratio.map(|ratio| ratio <= GOAL_SHARE_OF_PROMETHEUS),
                "engine_cycle_met": self.engine_median_ms() < GOAL_CYCLE_MILLISECONDS,
                "engine_share_met": engine_ratio.map(|ratio| ratio <= GOAL_SHARE_OF_PROMETHEUS),
            },
        })
    }

    fn print(&self) {
        let yes_no = |met: bool| if met { "yes" } else { "NO" };
        let fleet = self.fleet;
        let slo_count = fleet.slos.len();
        let cycle_ms = milliseconds(&self.cycles.cycles);
        let engine_ms = milliseconds(&self.engine.cycles);
        let (saving_ms, quiet_ms) = self.engine_ms_by_state_save();
        println!(
            "bench slo: {slo_count} SLOs ({} operations of {} services; availability and latency <= 300 ms; \
             99.9 % and 99 %), {SLO_PERIOD_DAYS}-day rolling windows, {} days of per-minute history, \
             Sloth's four burn-rate alerts (14.4x 1h/5m, 6x 6h/30m, 3x 1d/2h, 1x 3d/6h), {} incidents",
            fleet.operations.len(),
            fleet.service_count(),
            fleet.days,
            fleet.incidents
        );
        println!();
        println!("sloscope (in process, one thread)");
        let last = self.cycles.cycles.last();
        println!(
            "  evaluation cycle        median {:>8.1} ms   p90 {:>8.1} ms   ({} cycles 30 s apart; {} rollup rows read per cycle; \
             {} alert transitions; {} rules firing at the end; other processes kept {:.2} cores busy meanwhile)",
            quantile(&cycle_ms, 0.5),
            quantile(&cycle_ms, 0.9),
            cycle_ms.len(),
            last.map_or(0, |cycle| cycle.rows),
            self.cycles
                .cycles
                .iter()
                .map(|cycle| cycle.transitions)
                .sum::<usize>(),
            last.map_or(0, |cycle| cycle.firing),
            self.cycles.other_cores
        );
        println!(
            "    where the time goes   {} (ms per cycle, {} cycles with the clock read between phases)",
            self.cycles
                .breakdown
                .per_cycle_ms()
                .iter()
                .map(|(phase, ms)| format!("{phase} {ms:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.cycles.breakdown.cycles
        );
        println!(
            "  SloEngine::cycle        median {:>8.1} ms   p90 {:>8.1} ms   (the server's own cycle: also refreshes the specs of {} files, \
             and rewrites its {:.1} MB alert state file when an alert changed: {} of {} cycles, median {:.1} ms; the others {:.1} ms)",
            quantile(&engine_ms, 0.5),
            quantile(&engine_ms, 0.9),
            self.engine.spec_files,
            self.engine.state_file_bytes as f64 / 1e6,
            saving_ms.len(),
            self.engine.cycles.len(),
            quantile(&saving_ms, 0.5),
            quantile(&quiet_ms, 0.5)
        );
        println!(
            "  memory                  RSS +{:.0} MiB for the SLOs ({:.1} KiB each); event series heap {:.0} MiB",
            mebibytes(self.rss_growth()),
            self.rss_growth() as f64 / 1024.0 / slo_count as f64,
            mebibytes(self.cycles.series_heap_bytes)
        );
        let Some(prometheus) = self.prometheus else {
            println!();
            println!(
                "goal: cycle under {GOAL_CYCLE_MILLISECONDS:.0} ms: {} (Prometheus skipped: no ratio)",
                yes_no(self.cycle_median_ms() < GOAL_CYCLE_MILLISECONDS)
            );
            return;
        };
        let evaluation = &prometheus.evaluation;
        let backfill = &prometheus.backfill;
        println!();
        println!(
            "{} (Sloth-style rules: {} groups, {} rules, evaluated every {} s)",
            prometheus.version,
            evaluation.groups,
            evaluation.rules,
            prometheus::INTERVAL_SECONDS
        );
        println!(
            "  data                    raw counters: {} series x {} min ({:.1} h) at 1 min; 5m SLI series: {} series x {} min ({:.1} d) at 1 min; \
             {} samples backfilled in {:.0} s, {:.2} GB of blocks; live counters scraped {} times",
            backfill.raw_series,
            backfill.raw_minutes,
            backfill.raw_minutes as f64 / 60.0,
            backfill.sli_series,
            backfill.sli_minutes,
            backfill.sli_minutes as f64 / MINUTES_PER_DAY as f64,
            backfill.raw_samples + backfill.sli_samples,
            backfill.seconds,
            prometheus.tsdb_bytes as f64 / 1e9,
            prometheus.scrapes
        );
        println!(
            "  rule time per round     median {:>8.2} s    (sum of prometheus_rule_group_last_duration_seconds over all groups{}; snapshots: {})",
            quantile(&evaluation.round_seconds, 0.5),
            if evaluation.iterations_missed_measured > 0.0 {
                ", not meaningful here: groups overran the interval and their queries waited for the query engine's slots"
            } else {
                ""
            },
            evaluation
                .round_seconds
                .iter()
                .map(|seconds| format!("{seconds:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  CPU                     {:>8.2} s    per completed round of all groups; {:.2} s per evaluation interval \
             ({:.2} rounds in {:.1} intervals: one round every {:.0} s; scrapes included)",
            evaluation
                .cpu_seconds_per_completed_round
                .unwrap_or(f64::NAN),
            evaluation.cpu_seconds_per_interval,
            evaluation.rounds_run,
            evaluation.intervals_measured,
            evaluation.intervals_measured * prometheus::INTERVAL_SECONDS as f64
                / evaluation.rounds_run
        );
        println!(
            "  machine meanwhile       Prometheus {:.2} cores, waiting for the disk {:.2} cores, other processes {:.2} cores; \
             query engine p90: {:.3} s queued, {:.3} s evaluating",
            evaluation.usage.process_cores(),
            evaluation.usage.iowait_cores,
            evaluation.usage.other_cores,
            evaluation.queue_time_p90_seconds,
            evaluation.inner_eval_p90_seconds
        );
        println!(
            "  iterations missed       {} during the measurement, {} since start; {} rule evaluation failures",
            evaluation.iterations_missed_measured,
            evaluation.iterations_missed_total,
            evaluation.evaluation_failures
        );
        for (problem, count) in &evaluation.log_problems {
            println!("    log: {count} x {problem}");
        }
        println!(
            "  memory                  RSS {:.0} MiB at the end, {:.0} MiB at most; started in {:.0} s",
            mebibytes(evaluation.rss_bytes),
            mebibytes(evaluation.peak_rss_bytes),
            evaluation.startup_seconds
        );
        match &evaluation.day_error_ratios {
            Ok(ratios) => {
                let agreement = agreement(fleet, &self.cycles.day_error_ratios, ratios);
                println!(
                    "  same data               1-day error ratios of {} SLOs: median relative difference {:.2} %, p90 {:.2} %",
                    agreement.compared,
                    agreement.median_relative_difference * 100.0,
                    agreement.p90_relative_difference * 100.0
                );
            }
            Err(error) => println!("  same data               not checked: {error}"),
        }
        let Some((round_seconds, basis)) = self.prometheus_round_seconds() else {
            return;
        };
        let share = self.cycle_median_ms() / 1e3 / round_seconds;
        let engine_share = self.engine_median_ms() / 1e3 / round_seconds;
        println!();
        println!(
            "Prometheus per round: {round_seconds:.2} s ({basis}, the smaller of the two). \
             sloscope evaluation cycle / that: {share:.5} (1/{:.0}); SloEngine::cycle / that: {engine_share:.5} (1/{:.0})",
            1.0 / share,
            1.0 / engine_share
        );
        println!(
            "goals: evaluation cycle under {GOAL_CYCLE_MILLISECONDS:.0} ms: {}; at most {:.0} % of Prometheus: {}; \
             SloEngine::cycle under {GOAL_CYCLE_MILLISECONDS:.0} ms: {}; at most {:.0} % of Prometheus: {}",
            yes_no(self.cycle_median_ms() < GOAL_CYCLE_MILLISECONDS),
            GOAL_SHARE_OF_PROMETHEUS * 100.0,
            yes_no(share <= GOAL_SHARE_OF_PROMETHEUS),
            yes_no(self.engine_median_ms() < GOAL_CYCLE_MILLISECONDS),
            GOAL_SHARE_OF_PROMETHEUS * 100.0,
            yes_no(engine_share <= GOAL_SHARE_OF_PROMETHEUS)
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn quantiles_pick_ranks() {
        let values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&values, 0.5), 3.0);
        assert_eq!(quantile(&values, 0.9), 5.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn cycle_durations_become_milliseconds() {
        let cycle = sloscope::Cycle {
            duration: Duration::from_micros(1_500),
            rows: 0,
            transitions: 0,
            firing: 0,
        };
        assert_eq!(milliseconds(&[cycle]), vec![1.5]);
    }
}
