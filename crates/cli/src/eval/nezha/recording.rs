//! Reading a Nezha recording into plain records.
//!
//! The layout is the one of IntelligentDDS/Nezha (FSE 2023): `rca_data/<day>/` holds the fault
//! labels (`<day>-fault_list.json`) and the telemetry around each injection,
//! `construct_data/<day>/` the telemetry of a fault-free period; each has `trace/`, `log/` and
//! `metric/` CSV files. Spans, log lines and metric samples are kept with the pod that produced
//! them, and services come from pod names by the Kubernetes naming convention. A record found in
//! two files (minute files overlap, and so do the fault-free period and the recording) is kept
//! once.
//!
//! Nothing here knows a service, pod or time of a particular recording, nor OTLP: turning the
//! records into export requests is `otlp.rs`'s, choosing windows `cases.rs`'s.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::eval::csv::Table;

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];
/// An index into [`Sources`].
pub type SourceId = usize;

/// What produced records: a pod of a service, or a service as a whole (service-level files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub service: String,
    pub pod: Option<String>,
    /// The node the pod ran on, when one of its log lines said so.
    pub node: Option<String>,
}

#[derive(Debug, Default)]
pub struct Sources {
    list: Vec<Source>,
    by_pod: HashMap<String, SourceId>,
    by_service: HashMap<String, SourceId>,
}

impl Sources {
    pub(super) fn pod(&mut self, pod: &str) -> SourceId {
        if let Some(&id) = self.by_pod.get(pod) {
            return id;
        }
        let id = self.list.len();
        self.list.push(Source {
            service: service_of_pod(pod).to_owned(),
            pod: Some(pod.to_owned()),
            node: None,
        });
        self.by_pod.insert(pod.to_owned(), id);
        id
    }

    fn service(&mut self, service: &str) -> SourceId {
        if let Some(&id) = self.by_service.get(service) {
            return id;
        }
        let id = self.list.len();
        self.list.push(Source {
            service: service.to_owned(),
            pod: None,
            node: None,
        });
        self.by_service.insert(service.to_owned(), id);
        id
    }

    pub fn get(&self, id: SourceId) -> &Source {
        &self.list[id]
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// None for a root span.
    pub parent_span_id: Option<SpanId>,
    pub source: SourceId,
    pub operation: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub time_unix_nano: u64,
    pub source: SourceId,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    /// The application's line: the `log` field of the container runtime's JSON record.
    pub body: String,
    /// `stdout` or `stderr`, when the runtime said.
    pub stream: Option<String>,
}

/// What a metric column becomes: an OpenTelemetry-style name, unit and point attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MetricSeries {
    pub name: String,
    pub unit: String,
    pub attributes: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricSample {
    pub source: SourceId,
    /// An index into [`Recording::series`].
    pub series: usize,
    pub time_unix_nano: u64,
    pub value: f64,
}

/// One label: a fault injected into a pod.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// The `rca_data` day directory the label came from.
    pub day: String,
    /// `inject_time` as written (UTC wall clock).
    pub inject_time: String,
    pub inject_unix_nano: u64,
    pub pod: String,
    pub service: String,
    pub kind: String,
}

/// The time span of a `construct_data` day's traces: telemetry without faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultFreePeriod {
    pub day: String,
    pub first_unix_nano: u64,
    pub last_unix_nano: u64,
}

/// What reading skipped or merged, so that the totals can be checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadCounts {
    pub files: usize,
    pub duplicate_spans: usize,
    pub duplicate_logs: usize,
    pub duplicate_samples: usize,
    /// Rows without a usable id or time.
    pub unusable_rows: usize,
    /// Metric cells that are empty, not a number, NaN or infinite.
    pub missing_values: usize,
    /// Log cells that are not the container runtime's JSON (kept whole as the body).
    pub raw_log_cells: usize,
    /// CSV fields with text after their closing quote or without one (kept as text).
    pub malformed_fields: usize,
    /// Log rows whose nanosecond time was unusable, timed by their written timestamp instead.
    pub times_from_text: usize,
}

#[derive(Debug, Default)]
pub struct Recording {
    /// The `rca_data` days, in order.
    pub days: Vec<String>,
    pub sources: Sources,
    /// By start time.
    pub spans: Vec<SpanRecord>,
    /// By time.
    pub logs: Vec<LogLine>,
    pub series: Vec<MetricSeries>,
    /// By time.
    pub samples: Vec<MetricSample>,
    /// By injection time.
    pub faults: Vec<Fault>,
    pub fault_free: Vec<FaultFreePeriod>,
    /// The service with the most root spans: where requests enter the system.
    pub entry_service: Option<String>,
    pub counts: ReadCounts,
}

/// Reads every day of the recording in `data`; `progress` is told what is being read.
pub fn read(data: &Path, mut progress: impl FnMut(&str)) -> anyhow::Result<Recording> {
    let faulty_root = data.join("rca_data");
    let days = subdirectories(&faulty_root).with_context(|| {
        format!(
            "cannot list {} (is --data a Nezha recording, with rca_data/ and construct_data/?)",
            faulty_root.display()
        )
    })?;
    if days.is_empty() {
        bail!("{} has no day directories", faulty_root.display());
    }
    let fault_free_root = data.join("construct_data");
    let fault_free_days = if fault_free_root.is_dir() {
        subdirectories(&fault_free_root)?
    } else {
        Vec::new()
    };
    let mut reader = Reader::default();
    let mut faults = Vec::new();
    for day in &days {
        faults.extend(read_fault_list(&faulty_root.join(day), day)?);
    }
    faults.sort_by_key(|fault| fault.inject_unix_nano);

    progress("reading traces");
    for day in &days {
        reader.read_traces(&faulty_root.join(day).join("trace"))?;
    }
    let mut fault_free = Vec::new();
    for day in &fault_free_days {
        if let Some((first, last)) = reader.read_traces(&fault_free_root.join(day).join("trace"))? {
            fault_free.push(FaultFreePeriod {
                day: day.clone(),
                first_unix_nano: first,
                last_unix_nano: last,
            });
        }
    }
    let entry_service = entry_service(&reader.spans, &reader.sources);

    progress("reading logs");
    let log_directories = days
        .iter()
        .map(|day| faulty_root.join(day).join("log"))
        .chain(
            fault_free_days
                .iter()
                .map(|day| fault_free_root.join(day).join("log")),
        );
    for directory in log_directories {
        reader.read_logs(&directory)?;
    }

    progress("reading metrics");
    let metric_directories = days
        .iter()
        .map(|day| faulty_root.join(day).join("metric"))
        .chain(
            fault_free_days
                .iter()
                .map(|day| fault_free_root.join(day).join("metric")),
        );
    for directory in metric_directories {
        reader.read_metrics(&directory, entry_service.as_deref())?;
    }

    let Reader {
        sources,
        mut spans,
        mut logs,
        series,
        mut samples,
        counts,
        ..
    } = reader;
    spans.sort_by_key(|span| span.start_unix_nano);
    logs.sort_by_key(|line| line.time_unix_nano);
    samples.sort_by_key(|sample| sample.time_unix_nano);
    Ok(Recording {
        days,
        sources,
        spans,
        logs,
        series: series.into_list(),
        samples,
        faults,
        fault_free,
        entry_service,
        counts,
    })
}

/// The names of the directories in `directory`, sorted.
fn subdirectories(directory: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The `.csv` files in `directory`, sorted by name; none when the directory does not exist.
fn csv_files(directory: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !directory.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory)
        .with_context(|| format!("cannot list {}", directory.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "csv") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a CSV file leniently: a field the recorder garbled is kept and counted.
fn read_table(path: &Path, counts: &mut ReadCounts) -> anyhow::Result<Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (table, malformed) = Table::parse_lenient(&text);
    counts.files += 1;
    counts.malformed_fields += malformed;
    Ok(table)
}

/// The index of a column the format requires.
fn required_column(table: &Table, path: &Path, name: &str) -> anyhow::Result<usize> {
    table
        .column(name)
        .with_context(|| format!("{} has no {name} column", path.display()))
}

/// The labels of one day: `*fault_list.json` in its directory, entries grouped by hour (or a
/// plain list), each with `inject_time`, `inject_pod` and `inject_type`.
fn read_fault_list(day_directory: &Path, day: &str) -> anyhow::Result<Vec<Fault>> {
    let mut lists = Vec::new();
    for entry in std::fs::read_dir(day_directory)
        .with_context(|| format!("cannot list {}", day_directory.display()))?
    {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with("fault_list.json") {
            lists.push(path);
        }
    }
    lists.sort();
    let Some(path) = lists.first() else {
        bail!("{} has no *fault_list.json", day_directory.display());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let document: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let entries: Vec<&Value> = match &document {
        Value::Object(groups) => groups
            .values()
            .flat_map(|group| group.as_array().into_iter().flatten())
            .collect(),
        Value::Array(entries) => entries.iter().collect(),
        _ => bail!("{}: expected an object or a list", path.display()),
    };
    let mut faults = Vec::new();
    for entry in entries {
        let field = |name: &str| {
            entry[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{}: an entry has no `{name}`: {entry}", path.display()))
        };
        let inject_time = field("inject_time")?;
        let pod = field("inject_pod")?;
        let inject_unix_nano = parse_wall_clock(&inject_time)
            .with_context(|| format!("{}: inject_time `{inject_time}`", path.display()))?;
        faults.push(Fault {
            day: day.to_owned(),
            inject_time,
            inject_unix_nano,
            service: service_of_pod(&pod).to_owned(),
            pod,
            kind: field("inject_type")?,
        });
    }
    Ok(faults)
}

/// `2023-01-29 08:43:04` (UTC, fractions allowed) or RFC 3339 into unix nanoseconds.
pub fn parse_wall_clock(text: &str) -> anyhow::Result<u64> {
    let trimmed = text.trim();
    let mut rfc3339 = trimmed.replacen(' ', "T", 1);
    let has_offset = rfc3339.ends_with('Z')
        || rfc3339
            .get(19..)
            .is_some_and(|rest| rest.contains('+') || rest.contains('-'));
    if !has_offset {
        rfc3339.push('Z');
    }
    Ok(sloscope_model::parse_timestamp(&rfc3339)?)
}

/// The service of a Kubernetes pod: the Deployment's name without the ReplicaSet's template hash
/// and the pod's suffix (`checkout-7d4f5b99fd-ktwc6` -> `checkout`), or the StatefulSet's name
/// without the ordinal (`redis-0` -> `redis`). Other names are services of their own.
pub fn service_of_pod(pod: &str) -> &str {
    // Kubernetes draws generated names from an alphabet without vowels and look-alikes.
    let generated = |segment: &str| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|character| "bcdfghjklmnpqrstvwxz2456789".contains(character))
    };
    let segments: Vec<&str> = pod.rsplitn(3, '-').collect();
    if let [suffix, template_hash, deployment] = segments[..]
        && suffix.len() == 5
        && generated(suffix)
        && template_hash.len() <= 10
        && generated(template_hash)
        && !deployment.is_empty()
    {
        return deployment;
    }
    if let Some((statefulset, ordinal)) = pod.rsplit_once('-')
        && !statefulset.is_empty()
        && !ordinal.is_empty()
        && ordinal.chars().all(|character| character.is_ascii_digit())
    {
        return statefulset;
    }
    pod
}

/// The service with the most root spans (the first by name on a tie).
fn entry_service(spans: &[SpanRecord], sources: &Sources) -> Option<String> {
    let mut roots: BTreeMap<&str, usize> = BTreeMap::new();
    for span in spans.iter().filter(|span| span.parent_span_id.is_none()) {
        *roots
            .entry(sources.get(span.source).service.as_str())
            .or_default() += 1;
    }
    let mut best: Option<(&str, usize)> = None;
    for (service, count) in roots {
        if best.is_none_or(|(_, most)| count > most) {
            best = Some((service, count));
        }
    }
    best.map(|(service, _)| service.to_owned())
}

/// Lower-case hex into an id, left-padded with zeros when leading zeros were dropped; None when
/// it is not hex, too long, or all zeros (an invalid id in OTLP).
pub fn parse_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim();
    if text.is_empty() || text.len() > 2 * N || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{text:0>width$}", width = 2 * N);
    let mut id = [0u8; N];
    for (index, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&padded[2 * index..2 * index + 2], 16).ok()?;
    }
    (id != [0u8; N]).then_some(id)
}

/// Unix seconds as a whole or decimal number into nanoseconds.
fn parse_unix_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return seconds.checked_mul(1_000_000_000);
    }
    let seconds: f64 = text.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1e9).round() as u64)
}

/// Metric series in order of first sight.
#[derive(Default)]
struct SeriesTable {
    index: HashMap<MetricSeries, usize>,
    list: Vec<MetricSeries>,
}

impl SeriesTable {
    fn id(&mut self, series: MetricSeries) -> usize {
        if let Some(&id) = self.index.get(&series) {
            return id;
        }
        let id = self.list.len();
        self.index.insert(series.clone(), id);
        self.list.push(series);
        id
    }

    fn into_list(self) -> Vec<MetricSeries> {
        self.list
    }
}

#[derive(Default)]
struct Reader {
    sources: Sources,
    spans: Vec<SpanRecord>,
    seen_spans: HashSet<(TraceId, SpanId)>,
    logs: Vec<LogLine>,
    seen_logs: HashSet<u64>,
    series: SeriesTable,
    samples: Vec<MetricSample>,
    seen_samples: HashSet<(SourceId, usize, u64)>,
    counts: ReadCounts,
}

impl Reader {
    /// Reads the trace files of one directory; returns the first and last span start in them.
    fn read_traces(&mut self, directory: &Path) -> anyhow::Result<Option<(u64, u64)>> {
        let mut first_and_last: Option<(u64, u64)> = None;
        for path in csv_files(directory)? {
            let table = read_table(&path, &mut self.counts)?;
            let trace_column = required_column(&table, &path, "TraceID")?;
            let span_column = required_column(&table, &path, "SpanID")?;
            let parent_column = required_column(&table, &path, "ParentID")?;
            let pod_column = required_column(&table, &path, "PodName")?;
            let operation_column = required_column(&table, &path, "OperationName")?;
            let start_column = required_column(&table, &path, "StartTimeUnixNano")?;
            let end_column = required_column(&table, &path, "EndTimeUnixNano")?;
            for row in &table.rows {
                let cell = |column: usize| row.get(column).map(String::as_str).unwrap_or_default();
                let trace_id = parse_id::<16>(cell(trace_column));
                let span_id = parse_id::<8>(cell(span_column));
                let start = cell(start_column).trim().parse::<u64>().ok();
                let end = cell(end_column).trim().parse::<u64>().ok();
                let pod = cell(pod_column).trim();
                let (Some(trace_id), Some(span_id), Some(start), Some(end)) =
                    (trace_id, span_id, start, end)
                else {
                    self.counts.unusable_rows += 1;
                    continue;
                };
                if pod.is_empty() || end < start {
                    self.counts.unusable_rows += 1;
                    continue;
                }
                first_and_last = Some(match first_and_last {
                    None => (start, start),
                    Some((first, last)) => (first.min(start), last.max(start)),
                });
                if !self.seen_spans.insert((trace_id, span_id)) {
                    self.counts.duplicate_spans += 1;
                    continue;
                }
                let source = self.sources.pod(pod);
                self.spans.push(SpanRecord {
                    trace_id,
                    span_id,
                    // `root` (or anything that is not an id) marks a root span.
                    parent_span_id: parse_id::<8>(cell(parent_column)),
                    source,
                    operation: cell(operation_column).to_owned(),
                    start_unix_nano: start,
                    end_unix_nano: end,
                });
            }
        }
        Ok(first_and_last)
    }

    fn read_logs(&mut self, directory: &Path) -> anyhow::Result<()> {
        for path in csv_files(directory)? {
            let table = read_table(&path, &mut self.counts)?;
            let time_column = required_column(&table, &path, "TimeUnixNano")?;
            let pod_column = required_column(&table, &path, "PodName")?;
            let log_column = required_column(&table, &path, "Log")?;
            let node_column = table.column("Node");
            let trace_column = table.column("TraceID");
            let span_column = table.column("SpanID");
            let text_time_column = table.column("Timestamp");
            for row in &table.rows {
                let cell = |column: usize| row.get(column).map(String::as_str).unwrap_or_default();
                let optional = |column: Option<usize>| column.map(cell).unwrap_or_default();
                let pod = cell(pod_column).trim();
                // Some recorders overflow the nanosecond column; the written time is then the
                // only one left.
                let time = match cell(time_column).trim().parse::<u64>() {
                    Ok(time) => Some(time),
                    Err(_) => {
                        let repaired = parse_wall_clock(optional(text_time_column)).ok();
                        self.counts.times_from_text += usize::from(repaired.is_some());
                        repaired
                    }
                };
                let Some(time) = time else {
                    self.counts.unusable_rows += 1;
                    continue;
                };
                if pod.is_empty() {
                    self.counts.unusable_rows += 1;
                    continue;
                }
                let raw = cell(log_column);
                let mut hasher = DefaultHasher::new();
                (
                    time,
                    pod,
                    optional(trace_column),
                    optional(span_column),
                    raw,
                )
                    .hash(&mut hasher);
                if !self.seen_logs.insert(hasher.finish()) {
                    self.counts.duplicate_logs += 1;
                    continue;
                }
                let source = self.sources.pod(pod);
                let node = optional(node_column).trim();
                if !node.is_empty() && self.sources.list[source].node.is_none() {
                    self.sources.list[source].node = Some(node.to_owned());
                }
                let (body, stream) = match application_line(raw) {
                    Some(line) => line,
                    None => {
                        self.counts.raw_log_cells += 1;
                        (raw.trim_end_matches(['\n', '\r']).to_owned(), None)
                    }
                };
                self.logs.push(LogLine {
                    time_unix_nano: time,
                    source,
                    trace_id: parse_id::<16>(optional(trace_column)),
                    span_id: parse_id::<8>(optional(span_column)),
                    body,
                    stream,
                });
            }
        }
        Ok(())
    }

    /// Reads per-pod metric files (`PodName` column) and service-level ones (`ServiceName`
    /// column, e.g. the front end's), the latter as metrics of the entry service.
    fn read_metrics(
        &mut self,
        directory: &Path,
        entry_service: Option<&str>,
    ) -> anyhow::Result<()> {
        for path in csv_files(directory)? {
            let table = read_table(&path, &mut self.counts)?;
            let time_column = required_column(&table, &path, "TimeStamp")?;
            let pod_column = table.column("PodName");
            let service_level = pod_column.is_none();
            if service_level && (table.column("ServiceName").is_none() || entry_service.is_none()) {
                continue;
            }
            let value_columns: Vec<(usize, usize)> = table
                .header
                .iter()
                .enumerate()
                .filter(|(_, name)| {
                    !matches!(
                        name.as_str(),
                        "Time" | "TimeStamp" | "PodName" | "ServiceName"
                    )
                })
                .map(|(column, name)| (column, self.series.id(series_for(name, service_level))))
                .collect();
            for row in &table.rows {
                let cell = |column: usize| row.get(column).map(String::as_str).unwrap_or_default();
                let Some(time) = parse_unix_seconds(cell(time_column)) else {
                    self.counts.unusable_rows += 1;
                    continue;
                };
                let source = match (pod_column, entry_service) {
                    (Some(column), _) if !cell(column).trim().is_empty() => {
                        self.sources.pod(cell(column).trim())
                    }
                    (None, Some(service)) => self.sources.service(service),
                    _ => {
                        self.counts.unusable_rows += 1;
                        continue;
                    }
                };
                for &(column, series) in &value_columns {
                    let value = cell(column).trim().parse::<f64>().ok();
                    let Some(value) = value.filter(|value| value.is_finite()) else {
                        self.counts.missing_values += 1;
                        continue;
                    };
                    if !self.seen_samples.insert((source, series, time)) {
                        self.counts.duplicate_samples += 1;
                        continue;
                    }
                    self.samples.push(MetricSample {
                        source,
                        series,
                        time_unix_nano: time,
                        value,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The application's line and stream from a container runtime's JSON log record
/// (`{"log":"...\n","stream":"stdout","time":"..."}`); text after the record is ignored.
fn application_line(raw: &str) -> Option<(String, Option<String>)> {
    let mut values = serde_json::Deserializer::from_str(raw).into_iter::<Value>();
    let Some(Ok(Value::Object(record))) = values.next() else {
        return None;
    };
    let line = record.get("log")?.as_str()?;
    let stream = record
        .get("stream")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((line.trim_end_matches(['\n', '\r']).to_owned(), stream))
}

/// A column of the recording's metric files with an OpenTelemetry semantic-convention
/// counterpart.
struct ResourceColumn {
    column: &'static str,
    name: &'static str,
    unit: &'static str,
    attribute: Option<(&'static str, &'static str)>,
}

const fn known_column(
    column: &'static str,
    name: &'static str,
    unit: &'static str,
    attribute: Option<(&'static str, &'static str)>,
) -> ResourceColumn {
    ResourceColumn {
        column,
        name,
        unit,
        attribute,
    }
}

const RESOURCE_COLUMNS: [ResourceColumn; 12] = [
    known_column("CpuUsage(m)", "container.cpu.usage", "m{cpu}", None),
    known_column("CpuUsageRate(%)", "container.cpu.utilization", "%", None),
    known_column("MemoryUsage(Mi)", "container.memory.usage", "MiBy", None),
    known_column(
        "MemoryUsageRate(%)",
        "container.memory.utilization",
        "%",
        None,
    ),
    known_column(
        "SyscallRead",
        "container.syscalls",
        "{syscall}",
        Some(("syscall.direction", "read")),
    ),
    known_column(
        "SyscallWrite",
        "container.syscalls",
        "{syscall}",
        Some(("syscall.direction", "write")),
    ),
    known_column(
        "NetworkReceiveBytes",
        "container.network.io",
        "By",
        Some(("network.io.direction", "receive")),
    ),
    known_column(
        "NetworkTransmitBytes",
        "container.network.io",
        "By",
        Some(("network.io.direction", "transmit")),
    ),
    known_column("PodWorkload(Ops)", "pod.workload", "{operation}/s", None),
    known_column("NodeCpuUsageRate(%)", "k8s.node.cpu.utilization", "%", None),
    known_column(
        "NodeMemoryUsageRate(%)",
        "k8s.node.memory.utilization",
        "%",
        None,
    ),
    known_column(
        "NodeNetworkReceiveBytes",
        "k8s.node.network.io",
        "By",
        Some(("network.io.direction", "receive")),
    ),
];

/// The series a metric column becomes. Columns without a semantic-convention counterpart keep
/// their own words, dotted (`PodClientLatencyP90(s)` -> `pod.client.latency.p90` in `s`), under
/// `service.` for service-level files.
fn series_for(column: &str, service_level: bool) -> MetricSeries {
    if let Some(known) = RESOURCE_COLUMNS.iter().find(|known| known.column == column) {
        return MetricSeries {
            name: known.name.to_owned(),
            unit: known.unit.to_owned(),
            attributes: known
                .attribute
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        };
    }
    let (words, unit) = match column.split_once('(') {
        Some((words, rest)) => (words, rest.trim_end_matches(')')),
        None => (column, ""),
    };
    let mut name = String::from(if service_level { "service." } else { "" });
    let mut previous: Option<char> = None;
    for character in words.trim().chars() {
        if matches!(character, ' ' | '_' | '-' | '.') {
            if previous.is_some_and(|previous| previous != '.') {
                name.push('.');
                previous = Some('.');
            }
            continue;
        }
        if character.is_uppercase()
            && previous.is_some_and(|previous| previous.is_lowercase() || previous.is_ascii_digit())
        {
            name.push('.');
        }
        name.extend(character.to_lowercase());
        previous = Some(character);
    }
    let unit = match unit {
        "Mi" => "MiBy",
        "Ki" => "KiBy",
        "Gi" => "GiBy",
        other => other,
    };
    MetricSeries {
        name,
        unit: unit.to_owned(),
        attributes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_map_to_their_workload() {
        assert_eq!(service_of_pod("checkout-7d4f5b99fd-ktwc6"), "checkout");
        assert_eq!(
            service_of_pod("ts-ui-dashboard-5477b965f-2chkr"),
            "ts-ui-dashboard"
        );
        assert_eq!(service_of_pod("redis-0"), "redis");
        // A name whose last segments are words, not generated suffixes, is kept.
        assert_eq!(
            service_of_pod("cart-service-alpha-beta"),
            "cart-service-alpha-beta"
        );
        assert_eq!(service_of_pod("frontend"), "frontend");
    }

    #[test]
    fn ids_are_padded_and_zero_ids_refused() {
        assert_eq!(
            parse_id::<8>("520b067330e3ede5"),
            Some([0x52, 0x0b, 0x06, 0x73, 0x30, 0xe3, 0xed, 0xe5])
        );
        assert_eq!(parse_id::<8>("abc"), Some([0, 0, 0, 0, 0, 0, 0x0a, 0xbc]));
        assert_eq!(parse_id::<8>("root"), None);
        assert_eq!(parse_id::<8>("0000000000000000"), None);
        assert_eq!(parse_id::<8>("520b067330e3ede5aa"), None);
    }

    #[test]
    fn wall_clock_is_utc() {
        assert_eq!(
            parse_wall_clock("2023-01-29 08:43:04").unwrap(),
            1_674_981_784_000_000_000
        );
        assert_eq!(
            parse_wall_clock("2023-01-29T08:43:04+01:00").unwrap(),
            1_674_978_184_000_000_000
        );
        assert_eq!(
            parse_wall_clock("2023-01-29T09:20:29.295").unwrap(),
            1_674_984_029_295_000_000
        );
        assert!(parse_wall_clock("").is_err());
    }

    #[test]
    fn metric_columns_get_otel_style_names() {
        let cpu = series_for("CpuUsage(m)", false);
        assert_eq!(
            (cpu.name.as_str(), cpu.unit.as_str()),
            ("container.cpu.usage", "m{cpu}")
        );
        let received = series_for("NetworkReceiveBytes", false);
        assert_eq!(received.name, "container.network.io");
        assert_eq!(
            received.attributes,
            vec![("network.io.direction".to_owned(), "receive".to_owned())]
        );
        let latency = series_for("PodClientLatencyP90(s)", false);
        assert_eq!(
            (latency.name.as_str(), latency.unit.as_str()),
            ("pod.client.latency.p90", "s")
        );
        let front = series_for("SuccessRate(%)", true);
        assert_eq!(
            (front.name.as_str(), front.unit.as_str()),
            ("service.success.rate", "%")
        );
        assert_eq!(series_for("Heap Used(Mi)", false).unit, "MiBy");
        assert_eq!(series_for("Heap Used(Mi)", false).name, "heap.used");
    }

    #[test]
    fn container_records_give_the_application_line() {
        let raw =
            r#"{"log":"16:42:22.382 INFO  x.Y#1 done\n","stream":"stdout","time":"t"}trailing"#;
        let (line, stream) = application_line(raw).unwrap();
        assert_eq!(line, "16:42:22.382 INFO  x.Y#1 done");
        assert_eq!(stream.as_deref(), Some("stdout"));
        assert_eq!(application_line("plain text"), None);
    }

    #[test]
    fn the_entry_service_has_the_most_root_spans() {
        let mut sources = Sources::default();
        let gateway = sources.pod("gateway-7d4f5b99fd-ktwc6");
        let orders = sources.pod("orders-7d4f5b99fd-ktwc7");
        let span = |source: SourceId, parent: Option<SpanId>| SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: parent,
            source,
            operation: String::new(),
            start_unix_nano: 0,
            end_unix_nano: 0,
        };
        let spans = vec![
            span(gateway, None),
            span(gateway, None),
            span(orders, None),
            span(orders, Some([3; 8])),
            span(orders, Some([3; 8])),
        ];
        assert_eq!(entry_service(&spans, &sources).as_deref(), Some("gateway"));
    }
}
