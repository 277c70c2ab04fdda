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
//!   rising, where the baseline was flat.
//!
//! Node- and machine-level series are skipped: every service on the node shares them, so they
//! cannot tell which one is at fault.

use std::collections::BTreeMap;

use crate::context::Context;
use crate::finding::{Finding, Probe, round};
use crate::probes::words;
use crate::report::CauseKind;
use crate::stats::{
    mean, median, monotonic_fraction, ramp, saturate, standard_deviation, theil_sen_slope,
};

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
                let Some(resource) = classify(&sample.name) else {
                    continue;
                };
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

    let mut observations = Vec::new();
    for ((service, name, instance), (resource, mut samples)) in series {
        let all_values: Vec<f64> = samples
            .baseline
            .iter()
            .chain(&samples.breach)
            .map(|(_, value)| *value)
            .collect();
        if limit_of(name, samples.unit, &all_values).is_none()
            && with_limit.contains(&(service, instance, resource))
        {
            continue;
        }
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
        if let Some(observation) = saturation(
            context,
            service,
            name,
            &where_,
            resource,
            &samples,
            typical_level,
        ) {
            observations.push(observation);
        }
        if let Some(observation) = growth(service, name, &where_, resource, &samples) {
            observations.push(observation);
        }
    }

    // One finding per (service, kind): the strongest series leads, the next ones are evidence.
    observations.sort_by(|a, b| {
        (a.service.as_str(), a.kind)
            .cmp(&(b.service.as_str(), b.kind))
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| a.summary.cmp(&b.summary))
    });
    let mut findings: Vec<Finding> = Vec::new();
    for observation in observations {
        if observation.score < 0.05 {
            continue;
        }
        let same = findings.last_mut().filter(|finding| {
            finding.service == observation.service && finding.kind == observation.kind
        });
        let finding = match same {
            Some(finding) => finding,
            None => {
                findings.push(Finding::new(
                    Probe::Resources,
                    &observation.service,
                    observation.kind,
                    observation.score,
                    observation.summary.clone(),
                ));
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

fn saturation(
    context: &Context<'_>,
    service: &str,
    name: &str,
    where_: &str,
    resource: Resource,
    samples: &Series<'_>,
    typical_level: f64,
) -> Option<Observation> {
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
    let all: Vec<f64> = before.iter().chain(&after).copied().collect();
    let limit = limit_of(name, samples.unit, &all);
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
            round(level_before),
            round(level_after),
        ),
        measure: name.to_owned(),
        baseline: Some(level_before),
        breach: Some(level_after),
    })
}

fn growth(
    service: &str,
    name: &str,
    where_: &str,
    resource: Resource,
    samples: &Series<'_>,
) -> Option<Observation> {
    let kind = resource.growth_kind()?;
    const MIN_POINTS: usize = 5;
    if samples.breach.len() < MIN_POINTS {
        return None;
    }
    let slope_of = |points: &[(u64, f64)]| {
        let origin = points.first().map_or(0, |(time, _)| *time);
        let minutes: Vec<(f64, f64)> = points
            .iter()
            .map(|(time, value)| ((time - origin) as f64 / 60e9, *value))
            .collect();
        theil_sen_slope(&minutes)
    };
    let slope = slope_of(&samples.breach)?;
    let values: Vec<f64> = samples.breach.iter().map(|(_, value)| *value).collect();
    let rising = monotonic_fraction(&values)?;
    let first = values[0].abs().max(1e-9);
    let span_minutes =
        (samples.breach[samples.breach.len() - 1].0 - samples.breach[0].0) as f64 / 60e9;
    let relative_growth = slope * span_minutes / first;
    if relative_growth <= 0.0 {
        return None;
    }
    // The baseline must have been flatter: a service that always grows this way is not leaking
    // because of the breach.
    let baseline_growth = if samples.baseline.len() >= MIN_POINTS {
        let baseline_slope = slope_of(&samples.baseline).unwrap_or(0.0);
        baseline_slope.max(0.0) / slope
    } else {
        0.0
    };
    let score =
        saturate(relative_growth, 0.1) * ramp(rising, 0.6, 0.9) * (1.0 - baseline_growth.min(1.0));
    Some(Observation {
        service: service.to_owned(),
        kind,
        score,
        summary: format!(
            "{} of {where_} grows steadily: {name} +{:.1} % over {span_minutes:.0} min ({:.0} % of steps rising)",
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
    fn steady_resources_are_no_finding() {
        let inputs = inputs("busy", window(0, 10.0, 0.0), window(10, 11.0, 0.0));
        let context = Context::build(&inputs);
        assert!(run(&context).is_empty(), "{:#?}", run(&context));
    }
}
