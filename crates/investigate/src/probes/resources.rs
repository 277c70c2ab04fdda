//! Resources: CPU, memory, connection pools, disk, file descriptors and threads of each
//! service, from whatever metrics the services export. Metric names are classified by their
//! words (`process.cpu.utilization`, `CpuUsageRate(%)`, `hikaricp_connections_active`, ...),
//! not by a list of known names, so any exporter's metrics are read.
//!
//! Two patterns:
//! - saturation: the level after the breach started against the baseline's level and spread,
//!   and against a limit when the series has one (a percentage, or a utilisation in 0..1); the
//!   rise must also be large next to the level the same metric has elsewhere, so that a pod
//!   going from 1 % to 3 % CPU is not news;
//! - leak: steady growth over the breach window, a robust (Theil–Sen) slope with most steps
//!   rising, where the baseline was flat. A process killed when its memory runs out starts over
//!   from low, so the series is cut where it falls and the climbs are judged together; climbing
//!   to the limit and falling back is itself the mark of a leak.
//!
//! A limit comes from the series itself (a percentage, a utilisation) or from a limit series
//! the same instance reports beside it (`container.memory.limit`, `jvm.memory.max`,
//! `db.client.connection.max`).
//!
//! Node- and machine-level series are skipped: every service on the node shares them, so they
//! cannot tell which one is at fault.

use std::collections::BTreeMap;

use crate::context::Context;
use crate::finding::{Finding, Probe, format_bytes, round};
use crate::probes::{TREND_POINTS, trend_start, words};
use crate::report::{CauseKind, Figure, TrendSeries};
use crate::stats::{
    mean, median, ramp, saturate, standard_deviation, theil_sen_slope_within, thin,
};

/// Instances drawn in a resource's trend.
const MAX_TREND_LINES: usize = 6;

/// Kinds of resource a metric name can be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Resource {
    Cpu,
    Memory,
    Pool,
    Disk,
    FileDescriptors,
    Threads,
}

impl Resource {
    fn label(self) -> &'static str {
        match self {
            Resource::Cpu => "CPU",
            Resource::Memory => "memory",
            Resource::Pool => "connection pool",
            Resource::Disk => "disk",
            Resource::FileDescriptors => "file descriptors",
            Resource::Threads => "threads",
        }
    }

    fn saturation_kind(self) -> CauseKind {
        match self {
            Resource::Cpu => CauseKind::CpuSaturation,
            _ => CauseKind::ResourceExhaustion,
        }
    }

    fn growth_kind(self) -> Option<CauseKind> {
        match self {
            Resource::Cpu => None,
            Resource::Memory => Some(CauseKind::MemoryLeak),
            _ => Some(CauseKind::ResourceExhaustion),
        }
    }
}

/// What a metric name is about; None for metrics that are not resources (latency, requests,
/// network bytes) or that describe a whole node.
pub(crate) fn classify(name: &str) -> Option<Resource> {
    let words = words(name);
    let has = |candidates: &[&str]| words.iter().any(|word| candidates.contains(&word.as_str()));
    if has(&["node", "machine", "cluster"]) {
        return None;
    }
    if has(&[
        "latency", "duration", "requests", "request", "network", "net", "bytes",
    ]) && !has(&["memory", "mem", "heap", "disk"])
    {
        return None;
    }
    if has(&["cpu", "cpus", "processor"]) {
        return Some(Resource::Cpu);
    }
    if has(&["memory", "mem", "heap", "rss", "resident"]) {
        return Some(Resource::Memory);
    }
    if has(&[
        "pool",
        "connection",
        "connections",
        "conn",
        "conns",
        "hikaricp",
    ]) {
        return Some(Resource::Pool);
    }
    if has(&["fd", "fds", "descriptor", "descriptors"]) || (has(&["open"]) && has(&["files"])) {
        return Some(Resource::FileDescriptors);
    }
    if has(&["disk", "filesystem", "fs", "volume", "inodes"]) {
        return Some(Resource::Disk);
    }
    if has(&["thread", "threads", "goroutine", "goroutines"]) {
        return Some(Resource::Threads);
    }
    None
}

/// Whether a metric is the limit of a resource rather than its use: `container.memory.limit`,
/// `jvm.memory.max`, `db.client.connection.max`.
fn is_limit(name: &str) -> bool {
    words(name).iter().any(|word| {
        matches!(
            word.as_str(),
            "limit" | "limits" | "max" | "maximum" | "capacity" | "quota"
        )
    })
}

/// A level as a person reads it: bytes in binary units, anything else to four digits.
fn format_level(value: f64, unit: &str) -> String {
    if unit == "By" {
        format_bytes(value)
    } else {
        round(value).to_string()
    }
}

/// The limit of a series when its name or unit says it is a share: 100 for a percentage, 1 for
/// a utilisation or ratio whose values never pass 1.
fn limit_of(name: &str, unit: &str, values: &[f64]) -> Option<f64> {
    let words = words(name);
    let has = |candidates: &[&str]| words.iter().any(|word| candidates.contains(&word.as_str()));
    if unit == "%" || name.contains('%') || has(&["percent", "pct", "percentage"]) {
        return Some(100.0);
    }
    if (unit == "1" || has(&["utilization", "utilisation", "ratio", "usage"]))
        && values.iter().all(|value| (0.0..=1.0).contains(value))
        && has(&["utilization", "utilisation", "ratio"])
    {
        return Some(1.0);
    }
    None
}

/// Samples of one series (service, instance, metric) in each window.
#[derive(Default)]
struct Series<'a> {
    unit: &'a str,
    baseline: Vec<(u64, f64)>,
    breach: Vec<(u64, f64)>,
}

/// A scored observation of one series.
struct Observation {
    service: String,
    kind: CauseKind,
    score: f64,
    summary: String,
    measure: String,
    baseline: Option<f64>,
    breach: Option<f64>,
}

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let mut series: BTreeMap<(&str, &str, &str), (Resource, Series<'_>)> = BTreeMap::new();
    // Limits reported beside a use, per service, instance and resource: the largest value seen.
    let mut limits: BTreeMap<(&str, &str, Resource), f64> = BTreeMap::new();
    // What each metric name is: the resource, and whether it is that resource's limit.
    let mut names: BTreeMap<&str, Option<(Resource, bool)>> = BTreeMap::new();
    let inputs = context.inputs;
    let samples = inputs
        .baseline
        .metrics
        .iter()
        .map(|sample| (sample, false))
        .chain(inputs.breach.metrics.iter().map(|sample| (sample, true)));
    for (sample, in_breach) in samples {
        if !sample.value.is_finite() {
            continue;
        }
        let key = (
            sample.service.as_str(),
            sample.name.as_str(),
            sample.instance.as_str(),
        );
        let entry = match series.get_mut(&key) {
            Some(entry) => entry,
            None => {
                let name = sample.name.as_str();
                let what = *names
                    .entry(name)
                    .or_insert_with(|| classify(name).map(|resource| (resource, is_limit(name))));
                let Some((resource, is_limit)) = what else {
                    continue;
                };
                if is_limit {
                    let limit = limits.entry((key.0, key.2, resource)).or_insert(0.0);
                    *limit = limit.max(sample.value);
                    continue;
                }
                series.entry(key).or_insert((resource, Series::default()))
            }
        };
        entry.1.unit = &sample.unit;
        let point = (sample.time_unix_nano, sample.value);
        if in_breach {
            entry.1.breach.push(point);
        } else {
            entry.1.baseline.push(point);
        }
    }
    // The level each metric has across services and instances: a rise must be large next to it.
    let mut levels: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for ((_, name, _), (_, samples)) in &series {
        let values: Vec<f64> = samples.baseline.iter().map(|(_, value)| *value).collect();
        if let Some(level) = mean(&values) {
            levels.entry(name).or_default().push(level.abs());
        }
    }
    let typical: BTreeMap<&str, f64> = levels
        .into_iter()
        .filter_map(|(name, values)| median(&values).map(|level| (name, level)))
        .collect();

    // Where an instance reports a resource both as a share of a limit and as a raw level, the
    // share says more: the raw level is left out.
    let mut with_limit: std::collections::BTreeSet<(&str, &str, Resource)> =
        std::collections::BTreeSet::new();
    for ((service, name, instance), (resource, samples)) in &series {
        let values: Vec<f64> = samples
            .baseline
            .iter()
            .chain(&samples.breach)
            .map(|(_, value)| *value)
            .collect();
        if limit_of(name, samples.unit, &values).is_some() {
            with_limit.insert((service, instance, *resource));
        }
    }

    // Each with the (service, metric) it measured and that metric's limit.
    let mut observations: Vec<(Observation, (&str, &str), Option<f64>)> = Vec::new();
    // The unit and every instance's samples of each (service, metric), for the figure of a
    // finding.
    let mut trends: BTreeMap<(&str, &str), (&str, Vec<TrendSeries>)> = BTreeMap::new();
    let trend_from = trend_start(context);
    for ((service, name, instance), (resource, mut samples)) in series {
        let all_values: Vec<f64> = samples
            .baseline
            .iter()
            .chain(&samples.breach)
            .map(|(_, value)| *value)
            .collect();
        let own_limit = limit_of(name, samples.unit, &all_values);
        if own_limit.is_none() && with_limit.contains(&(service, instance, resource)) {
            continue;
        }
        let limit = own_limit.or_else(|| {
            limits
                .get(&(service, instance, resource))
                .copied()
                .filter(|limit| *limit > 0.0)
        });
        samples
            .baseline
            .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        samples
            .breach
            .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let typical_level = typical.get(name).copied().unwrap_or(0.0);
        let where_ = if instance.is_empty() {
            service.to_owned()
        } else {
            format!("{service} ({instance})")
        };
        let series = Measured {
            service,
            name,
            where_: &where_,
            resource,
            samples: &samples,
            limit,
        };
        let level = saturation(context, &series, typical_level);
        let climb = growth(context, &series).filter(|observation| observation.score >= 0.05);
        if let Some(mut level) = level {
            // A memory that fills because it leaks is the leak: one cause, not two.
            if let Some(climb) = &climb {
                level.kind = climb.kind;
            }
            observations.push((level, (service, name), limit));
        }
        observations.extend(climb.map(|climb| (climb, (service, name), limit)));
        let (unit, lines) = trends.entry((service, name)).or_default();
        *unit = samples.unit;
        lines.push(TrendSeries {
            label: if instance.is_empty() {
                service.to_owned()
            } else {
                instance.to_owned()
            },
            points: thin(
                samples
                    .baseline
                    .iter()
                    .chain(&samples.breach)
                    .filter(|(time, _)| *time >= trend_from)
                    .copied()
                    .collect(),
                TREND_POINTS,
            ),
        });
    }

    // One finding per (service, kind): the strongest series leads, the next ones are evidence.
    observations.sort_by(|(a, _, _), (b, _, _)| {
        (a.service.as_str(), a.kind)
            .cmp(&(b.service.as_str(), b.kind))
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| a.summary.cmp(&b.summary))
    });
    let mut findings: Vec<Finding> = Vec::new();
    for (observation, metric, limit) in observations {
        if observation.score < 0.05 {
            continue;
        }
        let same = findings.last_mut().filter(|finding| {
            finding.service == observation.service && finding.kind == observation.kind
        });
        let finding = match same {
            Some(finding) => finding,
            None => {
                let figure = trends.remove(&metric).map(|(unit, mut lines)| {
                    lines.truncate(MAX_TREND_LINES);
                    Figure::Trend {
                        title: format!("{} of {}", metric.1, metric.0),
                        unit: match unit {
                            "By" => "bytes",
                            unit => unit,
                        }
                        .to_owned(),
                        series: lines,
                        limit,
                    }
                });
                findings.push(
                    Finding::new(
                        Probe::Resources,
                        &observation.service,
                        observation.kind,
                        observation.score,
                        observation.summary.clone(),
                    )
                    .with_figure(figure),
                );
                findings.last_mut().expect("just pushed")
            }
        };
        if finding.evidence.len() < 4 {
            finding.add(
                observation.summary,
                &observation.measure,
                observation.baseline,
                observation.breach,
            );
        }
    }
    findings
}

/// The samples after the breach started, or all of the breach window's when none are.
fn after_start<'a>(context: &Context<'_>, samples: &'a [(u64, f64)]) -> &'a [(u64, f64)] {
    let first = samples.partition_point(|(time, _)| *time < context.started_unix_nano);
    if first < samples.len() {
        &samples[first..]
    } else {
        samples
    }
}

/// One series with what is known about it.
struct Measured<'a> {
    service: &'a str,
    name: &'a str,
    /// The service and instance, as the summary names them.
    where_: &'a str,
    resource: Resource,
    samples: &'a Series<'a>,
    limit: Option<f64>,
}

fn saturation(
    context: &Context<'_>,
    series: &Measured<'_>,
    typical_level: f64,
) -> Option<Observation> {
    let Measured {
        service,
        name,
        where_,
        resource,
        samples,
        limit,
    } = *series;
    let before: Vec<f64> = samples.baseline.iter().map(|(_, value)| *value).collect();
    let after: Vec<f64> = after_start(context, &samples.breach)
        .iter()
        .map(|(_, value)| *value)
        .collect();
    let level_before = mean(&before)?;
    let level_after = mean(&after)?;
    let rise = level_after - level_before;
    if rise <= 0.0 {
        return None;
    }
    let spread = standard_deviation(&before)
        .max(0.05 * level_before.abs())
        .max(1e-9);
    let z = rise / spread;
    let ratio = level_after / level_before.abs().max(1e-9);
    let utilisation = limit.map(|limit| level_after / limit);
    let next_to_typical = rise / (rise + typical_level.max(1e-9));
    // Near its limit a resource explains slowness; at a tenth of it, hardly.
    let headroom = match utilisation {
        Some(utilisation) => ramp(utilisation, 0.1, 0.7),
        None => 0.6,
    };
    let score = saturate(ratio.ln(), 0.7) * next_to_typical * ramp(z, 2.0, 5.0) * headroom;
    let utilisation_text = utilisation.map_or(String::new(), |utilisation| {
        format!(", {:.0} % of its limit", utilisation * 100.0)
    });
    Some(Observation {
        service: service.to_owned(),
        kind: resource.saturation_kind(),
        score,
        summary: format!(
            "{} of {where_} rose {ratio:.1}x: {name} {} -> {}{utilisation_text}",
            resource.label(),
            format_level(level_before, samples.unit),
            format_level(level_after, samples.unit),
        ),
        measure: name.to_owned(),
        baseline: Some(level_before),
        breach: Some(level_after),
    })
}

/// The series cut where it falls by more than a third from one sample to the next: a process
/// killed when its memory ran out, or a pool that was reset, climbs again from low.
fn climbs(points: &[(u64, f64)]) -> Vec<&[(u64, f64)]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for position in 1..points.len() {
        if points[position].1 < points[position - 1].1 * (2.0 / 3.0) {
            pieces.push(&points[start..position]);
            start = position;
        }
    }
    if start < points.len() {
        pieces.push(&points[start..]);
    }
    pieces
}

/// The climbs of a series measured together.
struct Climbs {
    /// Theil–Sen slope per minute, within climbs.
    slope: f64,
    /// The share of steps within climbs that do not go down.
    rising: f64,
    /// Samples in climbs of two or more.
    covered: usize,
    /// Falls between climbs.
    restarts: usize,
}

fn climb_slope(points: &[(u64, f64)]) -> Option<Climbs> {
    let origin = points.first()?.0;
    let all = climbs(points);
    let restarts = all.len().saturating_sub(1);
    let pieces: Vec<Vec<(f64, f64)>> = all
        .into_iter()
        .filter(|piece| piece.len() >= 2)
        .map(|piece| {
            piece
                .iter()
                .map(|(time, value)| ((time - origin) as f64 / 60e9, *value))
                .collect()
        })
        .collect();
    let covered: usize = pieces.iter().map(Vec::len).sum();
    let steps = covered
        .checked_sub(pieces.len())
        .filter(|steps| *steps > 0)?;
    let rising = pieces
        .iter()
        .flat_map(|piece| piece.windows(2))
        .filter(|pair| pair[1].1 >= pair[0].1)
        .count();
    let borrowed: Vec<&[(f64, f64)]> = pieces.iter().map(Vec::as_slice).collect();
    let slope = theil_sen_slope_within(&borrowed)?;
    Some(Climbs {
        slope,
        rising: rising as f64 / steps as f64,
        covered,
        restarts,
    })
}

fn growth(context: &Context<'_>, series: &Measured<'_>) -> Option<Observation> {
    let Measured {
        service,
        name,
        where_,
        resource,
        samples,
        limit,
    } = *series;
    let kind = resource.growth_kind()?;
    // Four samples make three steps: a minute of a 15 s scrape, enough when all three climb.
    const MIN_POINTS: usize = 4;
    // From the last sample before the breach started: a leak that began minutes before the
    // page is a climb there, and flat for most of a long window.
    let from = samples
        .breach
        .partition_point(|(time, _)| *time < context.started_unix_nano)
        .saturating_sub(1);
    let breach = &samples.breach[from..];
    let Climbs {
        slope,
        rising,
        covered,
        restarts,
    } = climb_slope(breach)?;
    if covered < MIN_POINTS || slope <= 0.0 {
        return None;
    }
    let first = breach[0].1.abs().max(1e-9);
    let span_minutes = (breach[breach.len() - 1].0 - breach[0].0) as f64 / 60e9;
    let relative_growth = slope * span_minutes / first;
    // The baseline must have been flatter: a service that always grows this way is not leaking
    // because of the breach.
    let baseline_growth = match climb_slope(&samples.baseline) {
        Some(baseline) if baseline.covered >= MIN_POINTS => baseline.slope.max(0.0) / slope,
        _ => 0.0,
    };
    let peak = breach
        .iter()
        .map(|(_, value)| *value)
        .fold(f64::MIN, f64::max);
    let peak_share = limit.map(|limit| peak / limit);
    // Climbing to the limit and starting over is how a leak ends: the process is killed.
    let refilled = if restarts == 0 {
        0.0
    } else {
        peak_share.map_or(0.5, |share| ramp(share, 0.6, 0.9))
    };
    // A few per cent is how a heap or a pool breathes; a leak doubles it.
    let steady = ramp(relative_growth, 0.05, 0.5) * ramp(rising, 0.6, 0.9);
    let score = (steady + (1.0 - steady) * 0.5 * refilled) * (1.0 - baseline_growth.min(1.0));
    let peak_text = match peak_share {
        Some(share) => format!(
            ", up to {} ({:.0} % of its limit)",
            format_level(peak, samples.unit),
            share * 100.0
        ),
        None => String::new(),
    };
    let restart_text = match restarts {
        0 => String::new(),
        1 => String::from(", and fell back once (restarted)"),
        _ => format!(", and fell back {restarts} times (restarted)"),
    };
    Some(Observation {
        service: service.to_owned(),
        kind,
        score,
        summary: format!(
            "{} of {where_} grows steadily: {name} +{:.0} % over {span_minutes:.0} min ({:.0} % of steps rising){peak_text}{restart_text}",
            resource.label(),
            relative_growth * 100.0,
            rising * 100.0
        ),
        measure: format!("{name} slope per minute"),
        baseline: None,
        breach: Some(slope),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_classify_by_words() {
        assert_eq!(classify("CpuUsageRate(%)"), Some(Resource::Cpu));
        assert_eq!(classify("process.cpu.utilization"), Some(Resource::Cpu));
        assert_eq!(classify("MemoryUsage(Mi)"), Some(Resource::Memory));
        assert_eq!(classify("jvm.memory.used"), Some(Resource::Memory));
        assert_eq!(
            classify("hikaricp_connections_active"),
            Some(Resource::Pool)
        );
        assert_eq!(
            classify("db.client.connections.usage"),
            Some(Resource::Pool)
        );
        assert_eq!(
            classify("process.open_fds"),
            Some(Resource::FileDescriptors)
        );
        assert_eq!(classify("system.filesystem.usage"), Some(Resource::Disk));
        assert_eq!(classify("jvm.threads.count"), Some(Resource::Threads));
        assert_eq!(classify("NodeCpuUsageRate(%)"), None);
        assert_eq!(classify("PodServerLatencyP99(s)"), None);
        assert_eq!(classify("NetworkReceiveBytes"), None);
    }

    #[test]
    fn limits_from_units_and_names() {
        assert_eq!(limit_of("CpuUsageRate(%)", "", &[3.0]), Some(100.0));
        assert_eq!(
            limit_of("process.cpu.utilization", "1", &[0.3, 0.9]),
            Some(1.0)
        );
        assert_eq!(limit_of("process.cpu.utilization", "1", &[1.7]), None);
        assert_eq!(limit_of("jvm.memory.used", "By", &[1e9]), None);
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;
    use crate::input::{MetricSample, Telemetry};
    use crate::testing::inputs;
    use sloscope_model::MINUTE_NANOS;

    fn sample(name: &str, service: &str, unit: &str, minute: u64, value: f64) -> MetricSample {
        MetricSample {
            name: name.to_owned(),
            service: service.to_owned(),
            instance: format!("{service}-0"),
            unit: unit.to_owned(),
            time_unix_nano: minute * MINUTE_NANOS + 1,
            value,
        }
    }

    /// CPU (a percentage) and memory (bytes) of `busy` and `idle` per minute.
    fn window(first_minute: u64, busy_cpu: f64, busy_memory_growth: f64) -> Telemetry {
        let mut metrics = Vec::new();
        for minute in first_minute..first_minute + 10 {
            let jitter = (minute % 3) as f64;
            let elapsed = (minute - first_minute) as f64;
            for (service, cpu, growth) in
                [("busy", busy_cpu, busy_memory_growth), ("idle", 5.0, 0.0)]
            {
                metrics.push(sample(
                    "CpuUsageRate(%)",
                    service,
                    "%",
                    minute,
                    cpu + jitter,
                ));
                metrics.push(sample(
                    "process.memory.usage",
                    service,
                    "By",
                    minute,
                    4e8 + growth * elapsed + 1e6 * jitter,
                ));
            }
        }
        Telemetry {
            metrics,
            ..Telemetry::default()
        }
    }

    #[test]
    fn a_saturated_cpu_and_a_leak_are_found_where_they_are() {
        let inputs = inputs("busy", window(0, 10.0, 0.0), window(10, 92.0, 3e7));
        let context = Context::build(&inputs);
        let findings = run(&context);
        // The memory level rose too, but without a limit that says little.
        let kinds: Vec<(&str, CauseKind)> = findings
            .iter()
            .filter(|finding| finding.score > 0.2)
            .map(|finding| (finding.service.as_str(), finding.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("busy", CauseKind::CpuSaturation),
                ("busy", CauseKind::MemoryLeak)
            ],
            "{findings:#?}"
        );
        assert!(
            findings
                .iter()
                .filter(|finding| finding.kind != CauseKind::ResourceExhaustion)
                .all(|finding| finding.score > 0.6),
            "{findings:#?}"
        );
    }

    #[test]
    fn a_leak_that_restarts_when_full_is_one_leak_near_its_limit() {
        const MEBIBYTE: f64 = 1024.0 * 1024.0;
        const QUARTER_MINUTE: u64 = MINUTE_NANOS / 4;
        // Every 15 s: memory and its limit. The baseline holds at 400 MiB; in the breach the
        // heap climbs 48 MiB a sample until the 1 GiB limit kills the process, which restarts.
        let window = |first: u64, leaking: bool| {
            let mut metrics = Vec::new();
            for step in first..first + 40 {
                let jitter = (step % 3) as f64 * MEBIBYTE;
                let memory = if leaking {
                    400.0 * MEBIBYTE + 48.0 * MEBIBYTE * ((step - first) % 13) as f64
                } else {
                    400.0 * MEBIBYTE
                };
                for (name, value) in [
                    ("process.memory.usage", memory + jitter),
                    ("container.memory.limit", 1024.0 * MEBIBYTE),
                ] {
                    metrics.push(MetricSample {
                        name: name.to_owned(),
                        service: String::from("busy"),
                        instance: String::from("busy-0"),
                        unit: String::from("By"),
                        time_unix_nano: step * QUARTER_MINUTE + 1,
                        value,
                    });
                }
            }
            Telemetry {
                metrics,
                ..Telemetry::default()
            }
        };
        let inputs = inputs("busy", window(0, false), window(40, true));
        let context = Context::build(&inputs);
        let findings = run(&context);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let leak = &findings[0];
        assert_eq!(leak.kind, CauseKind::MemoryLeak, "{leak:#?}");
        assert!(leak.score > 0.6, "{leak:#?}");
        assert!(
            leak.evidence.iter().any(|evidence| evidence
                .summary
                .contains("% of its limit), and fell back 3 times")),
            "{leak:#?}"
        );
        assert!(leak.summary.contains("busy (busy-0)"), "{leak:#?}");
    }

    #[test]
    fn a_leak_in_the_last_minutes_of_a_long_window_is_found_from_the_start() {
        const MEBIBYTE: f64 = 1024.0 * 1024.0;
        // An hour of samples a minute at 400 MiB; the last six minutes climb 60 MiB a minute.
        let window = |first: u64, climbing_from: Option<u64>| {
            let metrics = (first..first + 60)
                .map(|minute| {
                    let climbed = climbing_from
                        .filter(|start| minute >= *start)
                        .map_or(0.0, |start| (minute - start + 1) as f64 * 60.0 * MEBIBYTE);
                    sample(
                        "process.memory.usage",
                        "busy",
                        "By",
                        minute,
                        400.0 * MEBIBYTE + climbed + (minute % 2) as f64 * MEBIBYTE,
                    )
                })
                .collect();
            Telemetry {
                metrics,
                ..Telemetry::default()
            }
        };
        let inputs = inputs("busy", window(0, None), window(60, Some(114)));
        let mut context = Context::build(&inputs);
        context.started_unix_nano = 114 * MINUTE_NANOS;
        let findings = run(&context);
        let leak = findings
            .iter()
            .find(|finding| finding.kind == CauseKind::MemoryLeak)
            .unwrap_or_else(|| panic!("no leak: {findings:#?}"));
        assert!(leak.score > 0.6, "{leak:#?}");
    }

    #[test]
    fn steady_resources_are_no_finding() {
        let inputs = inputs("busy", window(0, 10.0, 0.0), window(10, 11.0, 0.0));
        let context = Context::build(&inputs);
        assert!(run(&context).is_empty(), "{:#?}", run(&context));
    }
}
