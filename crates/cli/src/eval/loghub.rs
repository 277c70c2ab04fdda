//! `sloscope eval loghub`: mines the Loghub-2k samples (2,000 hand-labelled lines of each of 12
//! systems, the corrected labels of Khan et al., ICSE 2022) with one miner configuration for all
//! systems and reports the grouping accuracy of the Loghub benchmark beside Drain's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;
use sloscope_investigate::{MinerConfig, TemplateMiner, grouping_accuracy};

use super::csv::parse_csv;

#[derive(clap::Args)]
pub struct LoghubArgs {
    /// The loghub-2k directory: `<System>/<System>_2k.log` and
    /// `<System>/<System>_2k.log_structured_corrected.csv` for each system.
    #[arg(long)]
    data: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// The systems of Loghub-2k with Drain's grouping accuracy as published (Zhu et al., "Tools and
/// Benchmarks for Automated Log Parsing", ICSE-SEIP 2019, with per-system regexes and
/// thresholds).
const LOGHUB_SYSTEMS: [(&str, f64); 12] = [
    ("HDFS", 0.998),
    ("Hadoop", 0.948),
    ("Spark", 0.920),
    ("Zookeeper", 0.967),
    ("BGL", 0.963),
    ("HPC", 0.887),
    ("Windows", 0.997),
    ("Android", 0.911),
    ("HealthApp", 0.780),
    ("Apache", 1.000),
    ("Proxifier", 0.527),
    ("OpenStack", 0.733),
];

/// Drain's published average over the 16 systems of the benchmark.
const DRAIN_PUBLISHED_AVERAGE: f64 = 0.865;
/// Drain with its per-system settings on these 12 systems' corrected labels (data README).
const DRAIN_MEASURED_AVERAGE: f64 = 0.879;

struct SystemResult {
    system: &'static str,
    lines: usize,
    templates: usize,
    true_templates: usize,
    accuracy: f64,
    drain_published: f64,
    mining_seconds: f64,
}

pub fn run(args: &LoghubArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut results = Vec::new();
    for (system, drain_published) in LOGHUB_SYSTEMS {
        let labelled = read_system(&args.data, system)?;
        let mining_started = Instant::now();
        let mut miner = TemplateMiner::new(MinerConfig::default())?;
        let learned: Vec<_> = labelled
            .contents
            .iter()
            .map(|content| miner.add(content))
            .collect();
        // A line counts in the template its own absorbed into, if any.
        let predicted: Vec<_> = learned.into_iter().map(|id| miner.resolve(id)).collect();
        let mining_seconds = mining_started.elapsed().as_secs_f64();
        let mut true_templates: Vec<&str> = labelled.event_ids.iter().map(String::as_str).collect();
        true_templates.sort_unstable();
        true_templates.dedup();
        results.push(SystemResult {
            system,
            lines: labelled.contents.len(),
            templates: miner.templates().count(),
            true_templates: true_templates.len(),
            accuracy: grouping_accuracy(&predicted, &labelled.event_ids),
            drain_published,
            mining_seconds,
        });
    }
    let average = results.iter().map(|result| result.accuracy).sum::<f64>() / results.len() as f64;
    let total_seconds = started.elapsed().as_secs_f64();

    if args.json {
        let systems: Vec<_> = results
            .iter()
            .map(|result| {
                json!({
                    "system": result.system,
                    "lines": result.lines,
                    "templates": result.templates,
                    "true_templates": result.true_templates,
                    "accuracy": result.accuracy,
                    "drain_published": result.drain_published,
                    "mining_seconds": result.mining_seconds,
                })
            })
            .collect();
        let report = json!({
            "dataset": "loghub-2k",
            "metric": "grouping_accuracy",
            "systems": systems,
            "average": average,
            "drain_published_average_16_systems": DRAIN_PUBLISHED_AVERAGE,
            "drain_measured_average": DRAIN_MEASURED_AVERAGE,
            "seconds": total_seconds,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }

    println!("Loghub-2k grouping accuracy (one miner configuration for every system)");
    println!(
        "{:<10} {:>6} {:>10} {:>10} {:>9} {:>7}",
        "system", "lines", "templates", "accuracy", "Drain", "ms"
    );
    for result in &results {
        println!(
            "{:<10} {:>6} {:>4} / {:<3} {:>10.3} {:>9.3} {:>7.1}",
            result.system,
            result.lines,
            result.templates,
            result.true_templates,
            result.accuracy,
            result.drain_published,
            result.mining_seconds * 1000.0,
        );
    }
    println!(
        "{:<10} {:>6} {:>10} {:>10.3} {:>9.3}   (Drain: {DRAIN_PUBLISHED_AVERAGE:.3} published over 16 systems, {DRAIN_MEASURED_AVERAGE:.3} measured on these 12 with per-system settings)",
        "average",
        results.iter().map(|result| result.lines).sum::<usize>(),
        "",
        average,
        DRAIN_MEASURED_AVERAGE,
    );
    println!(
        "templates: found / labelled; Drain: published per-system figure; {total_seconds:.2} s in all"
    );
    Ok(())
}

/// One system's labelled lines: the message part (`Content`) and the true template (`EventId`).
struct Labelled {
    contents: Vec<String>,
    event_ids: Vec<String>,
}

fn read_system(data: &Path, system: &str) -> anyhow::Result<Labelled> {
    let directory = data.join(system);
    let log_path = directory.join(format!("{system}_2k.log"));
    let csv_path = directory.join(format!("{system}_2k.log_structured_corrected.csv"));
    let raw = std::fs::read_to_string(&log_path).with_context(|| {
        format!(
            "cannot read {} (is --data the loghub-2k directory?)",
            log_path.display()
        )
    })?;
    let structured = std::fs::read_to_string(&csv_path)
        .with_context(|| format!("cannot read {}", csv_path.display()))?;
    let records = parse_csv(&structured)
        .with_context(|| format!("{} is not valid CSV", csv_path.display()))?;
    let Some((header, rows)) = records.split_first() else {
        bail!("{} is empty", csv_path.display());
    };
    let column = |name: &str| {
        header
            .iter()
            .position(|field| field == name)
            .with_context(|| format!("{} has no {name} column", csv_path.display()))
    };
    let content_column = column("Content")?;
    let event_column = column("EventId")?;
    let mut labelled = Labelled {
        contents: Vec::with_capacity(rows.len()),
        event_ids: Vec::with_capacity(rows.len()),
    };
    for (index, row) in rows.iter().enumerate() {
        let (Some(content), Some(event_id)) = (row.get(content_column), row.get(event_column))
        else {
            bail!(
                "{} row {}: {} fields, fewer than the header's {}",
                csv_path.display(),
                index + 2,
                row.len(),
                header.len()
            );
        };
        labelled.contents.push(content.clone());
        labelled.event_ids.push(event_id.clone());
    }
    // The labels are per line of the raw log: a count mismatch means mismatched files.
    let raw_lines = raw.lines().count();
    if raw_lines != labelled.contents.len() {
        bail!(
            "{} has {raw_lines} lines but {} labels {}",
            log_path.display(),
            csv_path.display(),
            labelled.contents.len()
        );
    }
    Ok(labelled)
}
