//! Shaping signal rollups for answers: merging minutes into steps, summarising services and
//! dependency edges. Always ratios of sums: a step's availability is its faults over its
//! requests, never an average of per-minute availabilities.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sloscope_model::{MINUTE_NANOS, SignalRow, SignalStats, TimeRange};
use sloscope_store::PointRow;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;

pub fn rfc3339(unix_nano: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_nano))
        .ok()
        .and_then(|instant| instant.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Percentiles asked for, as fractions with their labels (`50` -> `p50`).
pub struct Percentiles(Vec<(String, f64)>);

impl Percentiles {
    pub fn parse(text: Option<&str>) -> Result<Percentiles, ApiError> {
        let text = text
            .filter(|text| !text.trim().is_empty())
            .unwrap_or("50,90,99");
        let mut wanted = Vec::new();
        for part in text.split(',').map(str::trim) {
            let value: f64 = part
                .parse()
                .ok()
                .filter(|value: &f64| *value > 0.0 && *value < 100.0)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "percentile `{part}` is not a number between 0 and 100"
                    ))
                })?;
            wanted.push((format!("p{part}"), value / 100.0));
        }
        Ok(Percentiles(wanted))
    }
}

/// A step in seconds (or with a unit: `30s`, `5m`, `1h`); by default about 60 points.
pub fn parse_step(text: Option<&str>, range: TimeRange) -> Result<Duration, ApiError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        let minutes = (range.duration_nanos() / MINUTE_NANOS / 60).max(1);
        // Past an hour, whole hours: steps then come from the hourly rollups.
        let minutes = if minutes > 60 {
            minutes.div_ceil(60) * 60
        } else {
            minutes
        };
        return Ok(Duration::from_secs(minutes * 60));
    };
    let (number, unit) = match text
        .char_indices()
        .find(|(_, character)| character.is_ascii_alphabetic())
    {
        Some((index, _)) => text.split_at(index),
        None => (text, "s"),
    };
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(ApiError::BadRequest(format!(
                "`step` unit `{unit}` is not one of s, m, h, d"
            )));
        }
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .map(|value| value * multiplier)
        .filter(|seconds| *seconds >= 60 && seconds % 60 == 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`step` `{text}` must be a whole number of minutes (signals are kept per minute)"
            ))
        })?;
    if range.duration_nanos() / (seconds * 1_000_000_000) > 10_000 {
        return Err(ApiError::BadRequest(
            "`step` is too small for the range: more than 10000 points".into(),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

pub struct Bucketed {
    /// Step start (unix ns) to the merged stats of the step.
    pub points: BTreeMap<u64, SignalStats>,
    pub total: SignalStats,
}

/// Merges per-minute rows into steps aligned to the range start.
/// Merges rows already bucketed by the store (each row's minute is its step's first minute,
/// steps aligned to multiples of the step since the epoch) across keys, with an empty point
/// for every step of the range without data.
pub fn bucket(rows: &[SignalRow], range: TimeRange, step: Duration) -> Bucketed {
    let step_nanos = step.as_nanos() as u64;
    let mut points: BTreeMap<u64, SignalStats> = BTreeMap::new();
    let mut start = range.from - range.from % step_nanos;
    while start < range.to {
        points.insert(start, SignalStats::default());
        start += step_nanos;
    }
    let mut total = SignalStats::default();
    for row in rows {
        let step_start = row.minute.max(0) as u64 * MINUTE_NANOS;
        points.entry(step_start).or_default().merge(&row.stats);
        total.merge(&row.stats);
    }
    Bucketed { points, total }
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

pub fn stats_json(stats: &SignalStats, percentiles: &Percentiles) -> Value {
    let mut latency = Map::new();
    for (label, fraction) in &percentiles.0 {
        latency.insert(
            label.clone(),
            json!(
                stats
                    .latency
                    .quantile(*fraction)
                    .map(|value| round(value, 3))
            ),
        );
    }
    json!({
        "requests": stats.requests,
        "faults": stats.faults,
        "errors": stats.errors,
        "availability": stats.availability(),
        "latency_ms": latency,
    })
}

pub fn point_json(start: u64, stats: &SignalStats, percentiles: &Percentiles) -> Value {
    let mut value = stats_json(stats, percentiles);
    value["timestamp"] = json!(start / 1_000_000_000);
    value["time"] = json!(rfc3339(start));
    value
}

/// One entry per (service, environment) of server signals.
pub fn summarize_services(rows: &[SignalRow]) -> Vec<Value> {
    struct Summary {
        stats: SignalStats,
        operations: std::collections::BTreeSet<String>,
        versions: std::collections::BTreeSet<String>,
    }
    let mut services: BTreeMap<(String, String), Summary> = BTreeMap::new();
    for row in rows {
        let summary = services
            .entry((row.key.service.clone(), row.key.environment.clone()))
            .or_insert_with(|| Summary {
                stats: SignalStats::default(),
                operations: Default::default(),
                versions: Default::default(),
            });
        summary.stats.merge(&row.stats);
        summary.operations.insert(row.key.operation.clone());
        if !row.key.version.is_empty() {
            summary.versions.insert(row.key.version.clone());
        }
    }
    services
        .into_iter()
        .map(|((name, environment), summary)| {
            json!({
                "name": name,
                "environment": environment,
                "operations": summary.operations.len(),
                "requests": summary.stats.requests,
                "faults": summary.stats.faults,
                "errors": summary.stats.errors,
                "availability": summary.stats.availability(),
                "p50_ms": summary.stats.latency.quantile(0.5).map(|value| round(value, 3)),
                "p99_ms": summary.stats.latency.quantile(0.99).map(|value| round(value, 3)),
                "versions": summary.versions,
            })
        })
        .collect()
}

/// One entry per (service, remote service, remote operation) of dependency signals.
pub fn summarize_edges(rows: &[SignalRow]) -> Vec<Value> {
    let mut edges: BTreeMap<(String, String, String), SignalStats> = BTreeMap::new();
    for row in rows {
        edges
            .entry((
                row.key.service.clone(),
                row.key.remote_service.clone(),
                row.key.remote_operation.clone(),
            ))
            .or_default()
            .merge(&row.stats);
    }
    edges
        .into_iter()
        .map(|((service, remote_service, remote_operation), stats)| {
            json!({
                "service": service,
                "remote_service": remote_service,
                "remote_operation": remote_operation,
                "requests": stats.requests,
                "faults": stats.faults,
                "errors": stats.errors,
                "p99_ms": stats.latency.quantile(0.99).map(|value| round(value, 3)),
            })
        })
        .collect()
}

/// Metric points grouped into series (service, attributes) and steps: per step the mean,
/// minimum, maximum and last value of the points in it.
/// The points of one series: its kind and unit, and its values per step start.
struct MetricSteps {
    kind: String,
    unit: String,
    steps: BTreeMap<u64, Vec<f64>>,
}

pub fn metric_series(rows: &[PointRow], range: TimeRange, step: Duration) -> Vec<Value> {
    let step_nanos = step.as_nanos() as u64;
    let mut series: BTreeMap<(String, String), MetricSteps> = BTreeMap::new();
    for row in rows {
        let labels = row.attributes.to_string();
        let entry = series
            .entry((row.service.clone(), labels))
            .or_insert_with(|| MetricSteps {
                kind: row.kind.clone(),
                unit: row.unit.clone(),
                steps: BTreeMap::new(),
            });
        let step_start =
            range.from + (row.time_unix_nano.saturating_sub(range.from)) / step_nanos * step_nanos;
        entry.steps.entry(step_start).or_default().push(row.value);
    }
    series
        .into_iter()
        .map(|((service, labels), MetricSteps { kind, unit, steps })| {
            let points: Vec<Value> = steps
                .into_iter()
                .map(|(start, values)| {
                    let finite: Vec<f64> = values
                        .iter()
                        .copied()
                        .filter(|value| value.is_finite())
                        .collect();
                    let mean = (!finite.is_empty())
                        .then(|| finite.iter().sum::<f64>() / finite.len() as f64);
                    json!({
                        "timestamp": start / 1_000_000_000,
                        "time": rfc3339(start),
                        "value": mean,
                        "count": values.len(),
                        "min": finite.iter().copied().reduce(f64::min),
                        "max": finite.iter().copied().reduce(f64::max),
                        "last": values.last().copied().filter(|value| value.is_finite()),
                    })
                })
                .collect();
            json!({
                "service": service,
                "kind": kind,
                "unit": unit,
                "attributes": serde_json::from_str::<Value>(&labels).unwrap_or(Value::Null),
                "points": points,
            })
        })
        .collect()
}
