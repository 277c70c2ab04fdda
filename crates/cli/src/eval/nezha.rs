//! `sloscope eval nezha`: root-cause services on a Nezha recording of fault injections, scored
//! the way Nezha (FSE 2023) reports its own: top-1/3/5 service-level accuracy.
//!
//! Every day of the recording and its fault-free period is replayed once, in time order,
//! through the OTLP/HTTP receiver of a server started in this process on a fresh store; then
//! each fault is investigated through the API (`POST /api/v1/investigations`) with the entry
//! service as the subject, the data after the injection as the window and a fault-free stretch
//! as the baseline. The labels are read for scoring only: the subject, windows and baselines
//! come from the telemetry and the injection times. The investigation itself is the server's;
//! this module only feeds it and counts.

mod cases;
mod otlp;
mod recording;
mod replay;
mod score;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Instant;

use anyhow::{Context, bail};
use prost::Message as _;
use serde_json::{Value, json};

use cases::{BaselinePolicy, Case, Settings};
use recording::Recording;
use replay::{Client, LocalServer, Sent, Signal};
use score::{Accuracy, PUBLISHED};

const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// Records per export request: a few hundred kilobytes of protobuf each, as SDK batches are.
const SPANS_PER_REQUEST: usize = 4_000;
const LOGS_PER_REQUEST: usize = 2_000;
const POINTS_PER_REQUEST: usize = 8_000;
/// Requests built ahead of the one in flight.
const REQUESTS_AHEAD: usize = 2;
/// Investigations asked at once: each is independent and the server runs them off its async
/// threads, so two keep both cores of a small machine busy.
const CONCURRENT_INVESTIGATIONS: usize = 2;
/// How far before an injection a preceding baseline may start.
const PRECEDING_LOOKBACK_MINUTES: u64 = 10;
/// Causes kept per case in the JSON report.
const CAUSES_REPORTED: usize = 5;
/// The number of faults behind the published figures (both recorded days).
const PUBLISHED_FAULTS: usize = 45;

#[derive(clap::Args)]
pub struct NezhaArgs {
    /// The recording: `rca_data/<day>/` (a `*fault_list.json` and `trace/`, `log/`, `metric/`
    /// CSV files) and optionally `construct_data/<day>/` (a fault-free period).
    #[arg(long)]
    data: PathBuf,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Investigate only the first N faults in injection order (everything is still replayed).
    #[arg(long)]
    limit: Option<usize>,
    /// The longest window investigated after an injection, in minutes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
    window_minutes: u64,
    /// Where each baseline window comes from.
    #[arg(long, value_enum, default_value_t = BaselinePolicy::Auto)]
    baseline: BaselinePolicy,
    /// Keep the store in this (new or empty) directory, to look at the data afterwards with
    /// `sloscope serve --data-dir`; a temporary directory otherwise.
    #[arg(long)]
    store_dir: Option<PathBuf>,
}

/// What the investigation of one fault answered.
struct Outcome {
    /// (service, kind, confidence) of the causes, in rank order.
    causes: Vec<(String, String, Option<f64>)>,
    seconds: f64,
}

impl Outcome {
    fn services(&self) -> impl Iterator<Item = &str> {
        self.causes.iter().map(|(service, ..)| service.as_str())
    }
}

struct Replayed {
    spans: Sent,
    logs: Sent,
    points: Sent,
    /// Rows the store reports written: spans, logs, metric points.
    stored: [u64; 3],
    seconds: f64,
}

pub fn run(args: &NezhaArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let recording = recording::read(&args.data, |step| eprintln!("eval nezha: {step}"))?;
    let read_seconds = started.elapsed().as_secs_f64();
    if recording.faults.is_empty() {
        bail!("{} labels no faults", args.data.display());
    }
    let entry_service = recording
        .entry_service
        .clone()
        .context("the recording has no root spans, so no entry service to investigate")?;
    let span_starts: Vec<u64> = recording
        .spans
        .iter()
        .map(|span| span.start_unix_nano)
        .collect();
    let settings = Settings {
        max_window: args.window_minutes * 60 * NANOS_PER_SECOND,
        lookback: PRECEDING_LOOKBACK_MINUTES * 60 * NANOS_PER_SECOND,
        policy: args.baseline,
    };
    let mut planned = cases::plan(
        &recording.faults,
        &span_starts,
        &recording.fault_free,
        &settings,
    );
    if let Some(limit) = args.limit {
        planned.truncate(limit);
    }

    let server = LocalServer::start(args.store_dir.as_deref())?;
    let client = Client::new(&server.bound);
    let replayed = replay_all(&client, &recording)?;
    eprintln!(
        "eval nezha: replayed {} spans, {} log records, {} metric points in {:.1} s",
        replayed.spans.records, replayed.logs.records, replayed.points.records, replayed.seconds
    );

    let investigating = Instant::now();
    let outcomes = investigate_all(&client, &entry_service, &planned, &recording.faults)?;
    let investigation_seconds = investigating.elapsed().as_secs_f64();
    server.stop()?;

    let ranks: Vec<Option<usize>> = planned
        .iter()
        .zip(&outcomes)
        .map(|(case, outcome)| {
            score::service_rank(outcome.services(), &recording.faults[case.fault].service)
        })
        .collect();
    let (overall, by_type) = score::tally(
        planned
            .iter()
            .zip(&ranks)
            .map(|(case, rank)| (recording.faults[case.fault].kind.as_str(), *rank)),
    );
    let report = Report {
        args,
        recording: &recording,
        entry_service: &entry_service,
        cases: &planned,
        outcomes: &outcomes,
        ranks: &ranks,
        overall,
        by_type: &by_type,
        replayed: &replayed,
        read_seconds,
        investigation_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}

/// An export request ready to send.
struct Encoded {
    signal: Signal,
    records: usize,
    body: Vec<u8>,
}

/// Sends every span, log line and metric sample of the recording, each kind in time order, then
/// rolls the store so that what it holds can be counted. Requests are built on a second thread
/// while the previous one is in flight, as an SDK's batch processor does.
fn replay_all(client: &Client, recording: &Recording) -> anyhow::Result<Replayed> {
    let started = Instant::now();
    let exporter = otlp::Exporter::new(&recording.sources);
    let kinds = otlp::infer_kinds(&recording.spans, &recording.sources);
    eprintln!(
        "eval nezha: replaying {} spans, {} log records, {} metric points",
        recording.spans.len(),
        recording.logs.len(),
        recording.samples.len()
    );
    let mut sent = [Sent::default(), Sent::default(), Sent::default()];
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (sender, receiver) = mpsc::sync_channel::<Encoded>(REQUESTS_AHEAD);
        scope.spawn(move || {
            let span_requests = recording
                .spans
                .chunks(SPANS_PER_REQUEST)
                .zip(kinds.chunks(SPANS_PER_REQUEST))
                .map(|(records, inferred)| Encoded {
                    signal: Signal::Traces,
                    records: records.len(),
                    body: exporter.traces(records, inferred).encode_to_vec(),
                });
            let log_requests = recording
                .logs
                .chunks(LOGS_PER_REQUEST)
                .map(|lines| Encoded {
                    signal: Signal::Logs,
                    records: lines.len(),
                    body: exporter.logs(lines).encode_to_vec(),
                });
            let metric_requests =
                recording
                    .samples
                    .chunks(POINTS_PER_REQUEST)
                    .map(|samples| Encoded {
                        signal: Signal::Metrics,
                        records: samples.len(),
                        body: exporter.metrics(samples, &recording.series).encode_to_vec(),
                    });
            for request in span_requests.chain(log_requests).chain(metric_requests) {
                // The sender stops when the replay failed and hung up.
                if sender.send(request).is_err() {
                    return;
                }
            }
        });
        let mut signal_started: Option<(Signal, Instant)> = None;
        for request in receiver {
            let slot = signal_slot(request.signal);
            if signal_started.is_none_or(|(signal, _)| signal != request.signal) {
                signal_started = Some((request.signal, Instant::now()));
            }
            client.export(
                request.signal,
                request.records,
                &request.body,
                &mut sent[slot],
            )?;
            if let Some((_, since)) = signal_started {
                sent[slot].seconds = since.elapsed().as_secs_f64();
            }
        }
        Ok(())
    })?;
    let [spans, logs, points] = sent;

    let (status, flushed) = client.post_json("/api/v1/admin/flush", &json!({}))?;
    if status != 200 {
        bail!("POST /api/v1/admin/flush answered {status}: {flushed}");
    }
    let mut stored = [0u64; 3];
    for (slot, value) in stored.iter_mut().zip(
        flushed["rows_written"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    ) {
        *slot = value.as_u64().unwrap_or_default();
    }
    let expected = [&spans, &logs, &points].map(|sent| sent.records - sent.rejected);
    if stored != expected {
        eprintln!(
            "eval nezha: warning: the store holds {stored:?} rows (spans, logs, points), {expected:?} were accepted"
        );
    }
    Ok(Replayed {
        spans,
        logs,
        points,
        stored,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The index of a signal's counts in `[spans, logs, points]`.
fn signal_slot(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Logs => 1,
        Signal::Metrics => 2,
    }
}

/// Investigates every case, a few at a time (each is independent and reads only the store);
/// the outcomes in case order.
fn investigate_all(
    client: &Client,
    entry_service: &str,
    planned: &[Case],
    faults: &[recording::Fault],
) -> anyhow::Result<Vec<Outcome>> {
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<anyhow::Result<Outcome>>>> =
        Mutex::new((0..planned.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..CONCURRENT_INVESTIGATIONS {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = planned.get(index) else {
                        break;
                    };
                    eprintln!(
                        "eval nezha: investigating fault {}/{} ({})",
                        index + 1,
                        planned.len(),
                        faults[case.fault].inject_time
                    );
                    let outcome = investigate(client, entry_service, case);
                    let failed = outcome.is_err();
                    outcomes.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(outcome);
                    if failed {
                        // No point in going on: the first error is the answer.
                        next.store(planned.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    let outcomes = outcomes
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut finished = Vec::with_capacity(planned.len());
    let mut skipped = 0;
    for outcome in outcomes {
        match outcome {
            Some(outcome) => finished.push(outcome?),
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        bail!("{skipped} faults were not investigated");
    }
    Ok(finished)
}

/// Asks the server to investigate one fault's window against its baseline.
fn investigate(client: &Client, entry_service: &str, case: &Case) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let seconds = |unix_nano: u64| unix_nano / NANOS_PER_SECOND;
    let request = json!({
        "service": entry_service,
        "from": seconds(case.window.from),
        "to": seconds(case.window.to),
        "baseline_from": seconds(case.baseline.from),
        "baseline_to": seconds(case.baseline.to),
    });
    let (status, mut answer) = client.post_json("/api/v1/investigations", &request)?;
    if status == 404 && answer["causes"].is_null() {
        bail!(
            "the server has no investigation endpoint (POST /api/v1/investigations answered 404: {})",
            answer["error"]
        );
    }
    if !(200..300).contains(&status) {
        bail!("POST /api/v1/investigations answered {status}: {answer}");
    }
    // The answer is the report; an asynchronous server would answer with its id only.
    if answer["causes"].is_null()
        && let Some(id) = answer["id"].as_str()
    {
        let (status, report) = client.get_json(&format!("/api/v1/investigations/{id}"))?;
        if status != 200 {
            bail!("GET /api/v1/investigations/{id} answered {status}: {report}");
        }
        answer = report;
    }
    let causes = answer["causes"]
        .as_array()
        .with_context(|| format!("an investigation without `causes`: {answer}"))?
        .iter()
        .map(|cause| {
            (
                cause["service"].as_str().unwrap_or_default().to_owned(),
                cause["kind"].as_str().unwrap_or_default().to_owned(),
                cause["confidence"].as_f64(),
            )
        })
        .collect();
    Ok(Outcome {
        causes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `2023-01-29 08:43:04` (UTC) for unix nanoseconds.
fn utc(unix_nano: u64) -> String {
    sloscope_model::format_timestamp(unix_nano)
        .replacen('T', " ", 1)
        .trim_end_matches('Z')
        .to_owned()
}

fn percent(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn accuracy_json(accuracy: &Accuracy) -> Value {
    json!({
        "cases": accuracy.cases,
        "top1": percent(accuracy.percent(accuracy.top1)),
        "top3": percent(accuracy.percent(accuracy.top3)),
        "top5": percent(accuracy.percent(accuracy.top5)),
    })
}

fn sent_json(sent: &Sent) -> Value {
    json!({
        "records": sent.records,
        "requests": sent.requests,
        "bytes": sent.bytes,
        "rejected": sent.rejected,
        "first_rejection": sent.first_rejection,
        "pushed_back": sent.retries,
        "seconds": percent(sent.seconds),
    })
}

struct Report<'a> {
    args: &'a NezhaArgs,
    recording: &'a Recording,
    entry_service: &'a str,
    cases: &'a [Case],
    outcomes: &'a [Outcome],
    ranks: &'a [Option<usize>],
    overall: Accuracy,
    by_type: &'a [(String, Accuracy)],
    replayed: &'a Replayed,
    read_seconds: f64,
    investigation_seconds: f64,
    total_seconds: f64,
}

impl Report<'_> {
    fn json(&self) -> Value {
        let counts = &self.recording.counts;
        let cases: Vec<Value> = self
            .cases
            .iter()
            .zip(self.outcomes)
            .zip(self.ranks)
            .map(|((case, outcome), rank)| {
                let fault = &self.recording.faults[case.fault];
                json!({
                    "day": fault.day,
                    "inject_time": fault.inject_time,
                    "type": fault.kind,
                    "pod": fault.pod,
                    "service": fault.service,
                    "window": { "from": case.window.from / NANOS_PER_SECOND, "to": case.window.to / NANOS_PER_SECOND, "spans": case.window_spans },
                    "baseline": {
                        "from": case.baseline.from / NANOS_PER_SECOND,
                        "to": case.baseline.to / NANOS_PER_SECOND,
                        "spans": case.baseline_spans,
                        "source": case.baseline_source.describe(),
                    },
                    "rank": rank,
                    "top": score::top_services(outcome.services(), 5),
                    "causes": outcome.causes.iter().take(CAUSES_REPORTED).map(|(service, kind, confidence)| json!({
                        "service": service, "kind": kind, "confidence": confidence,
                    })).collect::<Vec<_>>(),
                    "seconds": percent(outcome.seconds),
                })
            })
            .collect();
        let by_type: serde_json::Map<String, Value> = self
            .by_type
            .iter()
            .map(|(kind, accuracy)| (kind.clone(), accuracy_json(accuracy)))
            .collect();
        let published: Vec<Value> = PUBLISHED
            .iter()
            .map(|(method, top1, top3, top5)| {
                json!({ "method": method, "faults": PUBLISHED_FAULTS, "top1": top1, "top3": top3, "top5": top5 })
            })
            .collect();
        json!({
            "dataset": "nezha",
            "data": self.args.data.display().to_string(),
            "days": self.recording.days,
            "faults": self.recording.faults.len(),
            "entry_service": self.entry_service,
            "settings": {
                "window_minutes": self.args.window_minutes,
                "baseline": format!("{:?}", self.args.baseline).to_lowercase(),
                "limit": self.args.limit,
            },
            "read": {
                "files": counts.files,
                "seconds": percent(self.read_seconds),
                "duplicate_spans": counts.duplicate_spans,
                "duplicate_logs": counts.duplicate_logs,
                "duplicate_points": counts.duplicate_samples,
                "unusable_rows": counts.unusable_rows,
                "missing_values": counts.missing_values,
                "raw_log_cells": counts.raw_log_cells,
                "malformed_fields": counts.malformed_fields,
                "times_from_text": counts.times_from_text,
            },
            "replay": {
                "spans": sent_json(&self.replayed.spans),
                "logs": sent_json(&self.replayed.logs),
                "points": sent_json(&self.replayed.points),
                "stored": { "spans": self.replayed.stored[0], "logs": self.replayed.stored[1], "points": self.replayed.stored[2] },
                "seconds": percent(self.replayed.seconds),
            },
            "cases_scored": self.cases.len(),
            "accuracy": { "overall": accuracy_json(&self.overall), "by_type": by_type },
            "published": published,
            "cases": cases,
            "investigation_seconds": percent(self.investigation_seconds),
            "seconds": percent(self.total_seconds),
        })
    }

    fn print(&self) {
        let recording = self.recording;
        let replayed = self.replayed;
        println!(
            "Nezha recording {}: {} day(s) ({}), {} faults, entry service {}",
            self.args.data.display(),
            recording.days.len(),
            recording.days.join(", "),
            recording.faults.len(),
            self.entry_service
        );
        println!(
            "read {} files in {:.1} s ({} duplicate spans, {} duplicate log lines, {} duplicate points, {} missing values skipped)",
            recording.counts.files,
            self.read_seconds,
            recording.counts.duplicate_spans,
            recording.counts.duplicate_logs,
            recording.counts.duplicate_samples,
            recording.counts.missing_values
        );
        for (what, sent) in [
            ("spans", &replayed.spans),
            ("log records", &replayed.logs),
            ("metric points", &replayed.points),
        ] {
            println!(
                "replayed {:>9} {what:<13} in {:>4} requests, {:>6.1} MB, {:>6.1} s ({} rejected, pushed back {} times)",
                sent.records,
                sent.requests,
                sent.bytes as f64 / 1e6,
                sent.seconds,
                sent.rejected,
                sent.retries
            );
        }
        println!(
            "store holds {} spans, {} log records, {} points; replay {:.1} s in all",
            replayed.stored[0], replayed.stored[1], replayed.stored[2], replayed.seconds
        );
        let mut sources: Vec<String> = self
            .cases
            .iter()
            .map(|case| case.baseline_source.describe())
            .collect();
        sources.sort();
        sources.dedup();
        let baselines: Vec<String> = sources
            .iter()
            .map(|source| {
                let count = self
                    .cases
                    .iter()
                    .filter(|case| &case.baseline_source.describe() == source)
                    .count();
                format!("{count} {source}")
            })
            .collect();
        println!(
            "investigated {} faults in {:.1} s: windows up to {} min after the injection; baselines {}",
            self.cases.len(),
            self.investigation_seconds,
            self.args.window_minutes,
            baselines.join(", ")
        );
        println!();
        println!(
            "{:<28} {:>6} {:>7} {:>7} {:>7}",
            "service-level root cause", "faults", "top-1", "top-3", "top-5"
        );
        let row = |label: &str, accuracy: &Accuracy| {
            println!(
                "  {label:<26} {:>6} {:>6.1}% {:>6.1}% {:>6.1}%",
                accuracy.cases,
                accuracy.percent(accuracy.top1),
                accuracy.percent(accuracy.top3),
                accuracy.percent(accuracy.top5)
            );
        };
        for (kind, accuracy) in self.by_type {
            row(kind, accuracy);
        }
        row("all (sloscope)", &self.overall);
        for (method, top1, top3, top5) in PUBLISHED {
            println!(
                "  {:<26} {PUBLISHED_FAULTS:>6} {top1:>6.1}% {top3:>6.1}% {top5:>6.1}%",
                format!("{method} (published)")
            );
        }
        println!("  published: both recorded Train Ticket days; sloscope: the days above");
        println!();
        println!("per fault: injection (UTC), type, true service, its rank, our top 3");
        for ((case, outcome), rank) in self.cases.iter().zip(self.outcomes).zip(self.ranks) {
            let fault = &recording.faults[case.fault];
            let rank = rank.map_or_else(|| "-".to_owned(), |rank| rank.to_string());
            println!(
                "  {}  {:<15} {:<32} {:>2}  {}",
                utc(fault.inject_unix_nano),
                fault.kind,
                fault.service,
                rank,
                score::top_services(outcome.services(), 3).join(", ")
            );
        }
        println!("{:.1} s in all", self.total_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_civil_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_674_981_784 * NANOS_PER_SECOND), "2023-01-29 08:43:04");
        assert_eq!(utc(951_782_400 * NANOS_PER_SECOND), "2000-02-29 00:00:00");
    }
}
