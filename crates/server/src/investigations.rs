//! Investigations as the server runs them: fetch the telemetry of the breach and baseline
//! windows from the store, hand it to the probes (`sloscope-investigate`), and keep the
//! report under `<data>/investigations/<id>.json` so it outlives a restart.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sloscope_investigate::{
    Exception, Inputs, LogLine, MetricSample, Report, SloContext, SpanRecord, Subject, Telemetry,
};
use sloscope_model::TimeRange;
use sloscope_store::{
    LogQuery, LogRow, PointQuery, PointRow, SignalFilter, SpanFacts, Store, StoreError,
};
use tracing::warn;

use crate::changes::Changes;

/// Windows with more spans than this are read as a sample of whole traces of about this size.
pub const SPAN_SAMPLE: u64 = 150_000;
/// At most this many spans are read per window, whatever the estimate said.
pub const SPAN_LIMIT: usize = 400_000;
pub const LOG_LIMIT: usize = 200_000;
pub const POINT_LIMIT: usize = 500_000;

/// A finished investigation: what was asked, what was found, and how long it took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Investigation {
    pub id: String,
    pub created_unix_nano: u64,
    /// The SLO that started it, if any.
    pub slo: Option<String>,
    pub elapsed_ms: f64,
    /// Of which reading the two windows from the store.
    #[serde(default)]
    pub fetch_ms: f64,
    #[serde(flatten)]
    pub report: Report,
}

/// Reads the two windows of `subject` from the store.
pub fn fetch(
    store: &dyn Store,
    changes: &Changes,
    subject: Subject,
    slo: Option<SloContext>,
) -> Result<Inputs, StoreError> {
    // The two windows are read side by side: most of an investigation's time is this read.
    let (breach, baseline) = std::thread::scope(|scope| {
        let baseline = scope.spawn(|| telemetry(store, subject.baseline));
        let breach = telemetry(store, subject.window);
        (
            breach,
            baseline
                .join()
                .expect("reading the baseline window panicked"),
        )
    });
    let (breach, baseline) = (breach?, baseline?);
    let earliest = subject.baseline.from.min(subject.window.from);
    let latest = subject.baseline.to.max(subject.window.to);
    let changes = changes.between(TimeRange::new(earliest, latest));
    Ok(Inputs {
        subject,
        slo,
        breach,
        baseline,
        changes,
    })
}

fn telemetry(store: &dyn Store, range: TimeRange) -> Result<Telemetry, StoreError> {
    let signals = store.signals(range, &SignalFilter::default())?;
    // Server and client spans are counted in the signals; other kinds add about a quarter.
    let counted: u64 = signals.iter().map(|row| row.stats.requests).sum();
    let estimate = counted + counted / 4;
    let keep = if estimate > SPAN_SAMPLE {
        SPAN_SAMPLE as f64 / estimate as f64
    } else {
        1.0
    };
    let facts = store.span_facts(range, keep, SPAN_LIMIT)?;
    let spans_sampled = keep < 1.0 || facts.len() >= SPAN_LIMIT;
    let spans = SpanReader::default().read(facts);
    let logs = store
        .logs(&LogQuery {
            range,
            service: None,
            min_severity: None,
            trace_id: None,
            contains: None,
            limit: LOG_LIMIT,
        })?
        .iter()
        .map(log_line)
        .collect();
    let points = store.points(&PointQuery {
        range,
        name: None,
        service: None,
        limit: POINT_LIMIT,
    })?;
    Ok(Telemetry {
        signals,
        spans,
        spans_sampled,
        logs,
        metrics: metric_samples(&points),
    })
}

fn decode_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut id = [0u8; N];
    hex::decode_to_slice(text, &mut id).ok()?;
    Some(id)
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Resource attributes that identify where a span ran.
const RESOURCE_DIMENSIONS: &[&str] = &[
    "host.name",
    "k8s.pod.name",
    "k8s.node.name",
    "k8s.namespace.name",
    "service.instance.id",
    "cloud.region",
    "cloud.availability_zone",
    "deployment.environment.name",
];

/// Turns stored spans into the probes' records, parsing only the attributes they read:
/// resource attributes once per distinct resource, span attributes for a few keys.
#[derive(Default)]
struct SpanReader {
    resources: HashMap<String, Vec<(String, String)>>,
}

impl SpanReader {
    fn read(&mut self, facts: Vec<SpanFacts>) -> Vec<SpanRecord> {
        facts.into_iter().map(|fact| self.record(fact)).collect()
    }

    fn record(&mut self, fact: SpanFacts) -> SpanRecord {
        let mut dimensions = Vec::new();
        if !fact.version.is_empty() {
            dimensions.push(("service.version".to_owned(), fact.version.clone()));
        }
        let resource = self
            .resources
            .entry(fact.resource_attributes)
            .or_insert_with_key(|json| pick(json, RESOURCE_DIMENSIONS));
        dimensions.extend(resource.iter().cloned());
        let mut db_statement = None;
        for (key, value) in pick(&fact.attributes, SPAN_KEYS) {
            match key.as_str() {
                "db.query.text" => db_statement = Some(value),
                "db.statement" => {
                    db_statement.get_or_insert(value);
                }
                _ => dimensions.push((key, value)),
            }
        }
        let exceptions = if fact.events.len() > 2 && fact.events.contains("exception") {
            exceptions(&fact.events)
        } else {
            Vec::new()
        };
        SpanRecord {
            trace_id: fact.trace_id,
            span_id: fact.span_id,
            parent_span_id: fact.parent_span_id,
            operation: if fact.operation.is_empty() {
                fact.name
            } else {
                fact.operation
            },
            service: fact.service,
            version: fact.version,
            kind: fact.kind,
            remote_service: fact.remote_service,
            start_unix_nano: fact.start_time_unix_nano,
            duration_nanos: fact.duration_nanos,
            status: fact.status_code,
            db_statement,
            dimensions,
            exceptions,
        }
    }
}

/// The span attributes the probes read: the statement, and dimensions of low cardinality that
/// often explain bad requests. Identifiers and URLs are left out.
const SPAN_KEYS: &[&str] = &[
    "db.query.text",
    "db.statement",
    "http.request.method",
    "http.response.status_code",
    "rpc.grpc.status_code",
    "error.type",
    "db.system",
    "db.system.name",
    "db.namespace",
    "db.operation.name",
    "server.address",
    "messaging.system",
    "messaging.destination.name",
    "user_agent.name",
    "customer.tier",
    "app.customer.tier",
    "feature_flag.key",
];

/// The scalar values of `keys` in a JSON object, as text, in the object's order; other keys
/// are skipped without being built. Anything but an object gives nothing.
fn pick(json: &str, keys: &[&str]) -> Vec<(String, String)> {
    struct Picker<'k>(&'k [&'k str]);
    struct KeySeed<'k>(&'k [&'k str]);
    impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
        type Value = Option<usize>;
        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Option<usize>, D::Error> {
            deserializer.deserialize_str(self)
        }
    }
    impl Visitor<'_> for KeySeed<'_> {
        type Value = Option<usize>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an attribute key")
        }
        fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<usize>, E> {
            Ok(self.0.iter().position(|wanted| *wanted == key))
        }
    }
    impl<'de> Visitor<'de> for Picker<'_> {
        type Value = Vec<(String, String)>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an attributes object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut picked = Vec::new();
            while let Some(index) = map.next_key_seed(KeySeed(self.0))? {
                match index {
                    Some(index) => {
                        if let Some(text) = text_of(&map.next_value::<Value>()?) {
                            picked.push((self.0[index].to_owned(), text));
                        }
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(picked)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    deserializer
        .deserialize_map(Picker(keys))
        .unwrap_or_default()
}

fn exceptions(events: &str) -> Vec<Exception> {
    let Ok(Value::Array(events)) = serde_json::from_str::<Value>(events) else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|event| event.get("name").and_then(Value::as_str) == Some("exception"))
        .map(|event| {
            let field = |key: &str| {
                event
                    .get("attributes")
                    .and_then(|attributes| attributes.get(key))
                    .and_then(text_of)
                    .unwrap_or_default()
            };
            Exception {
                kind: field("exception.type"),
                message: field("exception.message"),
            }
        })
        .collect()
}

fn log_line(row: &LogRow) -> LogLine {
    LogLine {
        time_unix_nano: row.time_unix_nano,
        service: row.service.clone(),
        severity_number: row.severity_number,
        body: row.body.clone(),
        trace_id: row.trace_id.as_deref().and_then(decode_id),
    }
}

/// The series a resource probe reads: gauges and non-monotonic sums as they are, monotonic
/// counters as a rate per second between consecutive points. Histograms are left out.
fn metric_samples(points: &[PointRow]) -> Vec<MetricSample> {
    let instance_of = |point: &PointRow| -> String {
        let resource = ["k8s.pod.name", "host.name", "service.instance.id"]
            .iter()
            .find_map(|key| point.resource_attributes.get(*key).and_then(text_of))
            .unwrap_or_default();
        let attributes = point
            .attributes
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(key, value)| text_of(value).map(|value| format!("{key}={value}")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        match (resource.is_empty(), attributes.is_empty()) {
            (_, true) => resource,
            (true, false) => attributes,
            (false, false) => format!("{resource},{attributes}"),
        }
    };
    let mut samples = Vec::new();
    let mut counters: BTreeMap<(String, String, String), Vec<(u64, f64)>> = BTreeMap::new();
    for point in points {
        match point.kind.as_str() {
            "gauge" => {}
            "sum" if !(point.monotonic && point.temporality == 2) => {}
            "sum" => {
                counters
                    .entry((
                        point.name.clone(),
                        point.service.clone(),
                        instance_of(point),
                    ))
                    .or_default()
                    .push((point.time_unix_nano, point.value));
                continue;
            }
            _ => continue,
        }
        samples.push(MetricSample {
            name: point.name.clone(),
            service: point.service.clone(),
            instance: instance_of(point),
            unit: point.unit.clone(),
            time_unix_nano: point.time_unix_nano,
            value: point.value,
        });
    }
    for ((name, service, instance), mut series) in counters {
        series.sort_by_key(|(time, _)| *time);
        for pair in series.windows(2) {
            let ((earlier, before), (later, after)) = (pair[0], pair[1]);
            if later <= earlier || after < before {
                continue; // a reset: the rate across it is unknown
            }
            samples.push(MetricSample {
                name: format!("{name}.rate"),
                service: service.clone(),
                instance: instance.clone(),
                unit: String::from("1/s"),
                time_unix_nano: later,
                value: (after - before) / ((later - earlier) as f64 / 1e9),
            });
        }
    }
    samples
}

/// Every investigation run since the data directory was created.
pub struct Investigations {
    dir: PathBuf,
    records: RwLock<BTreeMap<String, Arc<Investigation>>>,
    sequence: std::sync::atomic::AtomicU64,
}

impl Investigations {
    /// Loads the reports kept under `<data>/investigations`; unreadable files are skipped with
    /// a warning.
    pub fn open(data_dir: &Path) -> Investigations {
        let dir = data_dir.join("investigations");
        let mut records = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|extension| extension != "json") {
                    continue;
                }
                match std::fs::read(&path)
                    .map_err(|error| error.to_string())
                    .and_then(|bytes| {
                        serde_json::from_slice::<Investigation>(&bytes)
                            .map_err(|error| error.to_string())
                    }) {
                    Ok(record) => {
                        records.insert(record.id.clone(), Arc::new(record));
                    }
                    Err(error) => {
                        warn!(path = %path.display(), %error, "skipping an unreadable investigation")
                    }
                }
            }
        }
        Investigations {
            dir,
            records: RwLock::new(records),
            sequence: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Runs the probes over the fetched inputs and keeps the report.
    pub fn run(
        &self,
        store: &dyn Store,
        changes: &Changes,
        subject: Subject,
        slo: Option<(String, SloContext)>,
    ) -> Result<Arc<Investigation>, StoreError> {
        let started = Instant::now();
        let (slo_name, slo_context) = slo.unzip();
        let inputs = fetch(store, changes, subject, slo_context)?;
        let fetch_ms = started.elapsed().as_secs_f64() * 1e3;
        let report = sloscope_investigate::investigate(&inputs);
        let created_unix_nano = crate::now_unix_nano();
        let sequence = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record = Arc::new(Investigation {
            id: format!("{:x}{:02x}", created_unix_nano / 1_000_000, sequence % 256),
            created_unix_nano,
            slo: slo_name,
            elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
            fetch_ms,
            report,
        });
        self.keep(&record);
        Ok(record)
    }

    fn keep(&self, record: &Arc<Investigation>) {
        let written = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let bytes =
                serde_json::to_vec_pretty(record.as_ref()).map_err(std::io::Error::other)?;
            let path = self.dir.join(format!("{}.json", record.id));
            let temporary = path.with_extension("json.tmp");
            std::fs::write(&temporary, bytes)?;
            std::fs::rename(&temporary, &path)
        });
        if let Err(error) = written {
            warn!(id = %record.id, %error, "could not keep an investigation on disk");
        }
        self.records
            .write()
            .expect("investigations lock")
            .insert(record.id.clone(), record.clone());
    }

    pub fn get(&self, id: &str) -> Option<Arc<Investigation>> {
        self.records
            .read()
            .expect("investigations lock")
            .get(id)
            .cloned()
    }

    /// The newest first.
    pub fn list(&self) -> Vec<Arc<Investigation>> {
        let mut records: Vec<_> = self
            .records
            .read()
            .expect("investigations lock")
            .values()
            .cloned()
            .collect();
        records.sort_by(|a, b| {
            b.created_unix_nano
                .cmp(&a.created_unix_nano)
                .then(b.id.cmp(&a.id))
        });
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_wanted_scalar_attributes_are_picked() {
        let json = r#"{"url.full":"https://x/?a=1","db.query.text":"SELECT \"a\" FROM t","nested":{"db.system":"no"},"http.response.status_code":503,"db.system":["array"]}"#;
        let picked = pick(json, SPAN_KEYS);
        assert_eq!(
            picked,
            vec![
                ("db.query.text".to_owned(), "SELECT \"a\" FROM t".to_owned()),
                ("http.response.status_code".to_owned(), "503".to_owned()),
            ]
        );
        assert!(pick("[1, 2]", SPAN_KEYS).is_empty());
        assert!(pick("not json", SPAN_KEYS).is_empty());
    }
}
