//! The SLO stage of the pipeline: keeps the SLO specs (files in a watched directory, and API
//! objects stored under the data directory), evaluates every SLO every 30 seconds from the
//! store's signal rollups, keeps alert states across restarts, and hands alert transitions to
//! the notifier. The maths is `sloscope-slo`'s; this module only moves data.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sloscope_model::{MINUTE_NANOS, SignalRow, TimeRange};
use sloscope_slo::backtest::{self, Backtest};
use sloscope_slo::instance::{REVISABLE_MINUTES, SloInstance};
use sloscope_slo::spec::{Indicator, MetricQuery, RatioKind, SloSpec};
use sloscope_slo::{Evaluation, Events, Phase, RuleState, Severity, Transition, indicator};
use sloscope_store::{PointQuery, PointRow, SignalFilter, Store, StoreError};
use tracing::{info, warn};

/// Where a spec came from: a file of the watched directory, or the API.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Source {
    File { path: PathBuf },
    Api,
}

/// One alert event of an SLO's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub rule: String,
    pub severity: Severity,
    pub from: Phase,
    pub to: Phase,
    pub at: i64,
}

impl From<&Transition> for AlertEvent {
    fn from(transition: &Transition) -> AlertEvent {
        AlertEvent {
            rule: transition.rule.clone(),
            severity: transition.severity,
            from: transition.from,
            to: transition.to,
            at: transition.at,
        }
    }
}

const HISTORY_LIMIT: usize = 500;

struct Managed {
    instance: SloInstance,
    source: Source,
    last: Option<Arc<Evaluation>>,
    history: Vec<AlertEvent>,
}

/// What survives a restart: alert states and history per SLO.
#[derive(Default, Serialize, Deserialize)]
struct SavedState {
    slos: BTreeMap<String, SavedSlo>,
}

#[derive(Default, Serialize, Deserialize)]
struct SavedSlo {
    states: Vec<RuleState>,
    history: Vec<AlertEvent>,
}

/// Receives alert transitions with the evaluation they came from.
pub trait AlertSink: Send + Sync {
    fn alert(&self, spec: &SloSpec, transition: &Transition, evaluation: &Evaluation);
}

/// Logs every alert transition; the notifier is a sink too.
pub struct LogSink;

impl AlertSink for LogSink {
    fn alert(&self, spec: &SloSpec, transition: &Transition, evaluation: &Evaluation) {
        info!(
            slo = %spec.name,
            service = %spec.service,
            rule = %transition.rule,
            severity = ?transition.severity,
            from = ?transition.from,
            to = ?transition.to,
            budget_remaining = ?evaluation.budget_remaining,
            "slo alert"
        );
    }
}

pub struct SloEngine {
    store: Arc<dyn Store>,
    data_dir: PathBuf,
    watch_dir: Option<PathBuf>,
    managed: Mutex<BTreeMap<String, Managed>>,
    /// The last evaluation of each SLO, for readers that must not wait for a cycle.
    published: RwLock<BTreeMap<String, Arc<Evaluation>>>,
    sink: Option<Arc<dyn AlertSink>>,
    /// Errors of the watched directory's files at the last scan, by file.
    file_errors: RwLock<BTreeMap<PathBuf, String>>,
    /// Each spec file's modification time and what it parsed to then.
    parsed_files: Mutex<HashMap<PathBuf, ParsedFile>>,
    /// The spec files and their modification times at the last refresh: when nothing changed,
    /// a cycle skips reconciling every SLO with its spec.
    last_fingerprint: Mutex<Option<Fingerprint>>,
}

/// Spec files with their modification times.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>)>;

/// An SLO's spec, where it came from, its last evaluation and its alert history.
pub type SloDetails = (SloSpec, Source, Option<Arc<Evaluation>>, Vec<AlertEvent>);

type ParsedFile = (SystemTime, Result<Vec<SloSpec>, String>);

#[derive(Debug, thiserror::Error)]
pub enum SloError {
    #[error("{0}")]
    Invalid(String),
    #[error("slo `{0}` not found")]
    NotFound(String),
    #[error("slo `{name}` is defined in {path}; edit that file instead")]
    FileManaged { name: String, path: PathBuf },
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// Events per minute of one SLO over `range`: from the rollups, or for metric ratios from the
/// stored metric points.
fn history(
    store: &dyn Store,
    spec: &SloSpec,
    range: TimeRange,
) -> Result<BTreeMap<i64, Events>, StoreError> {
    if let Indicator::MetricRatio {
        numerator,
        denominator,
        numerator_is,
    } = &spec.indicator
    {
        return metric_events(store, spec, numerator, denominator, *numerator_is, range);
    }
    let filter = SignalFilter {
        service: Some(spec.service.clone()),
        ..SignalFilter::default()
    };
    let rows = store.signals(range, &filter)?;
    Ok(indicator::minute_events(
        spec,
        rows.iter().map(|row| (row.minute, &row.key, &row.stats)),
    ))
}

/// How far before a range cumulative counters are read, to know where they stood.
const COUNTER_LEAD_NANOS: u64 = 10 * MINUTE_NANOS;

/// Good and total events per minute from two metric queries over the SLO's service.
fn metric_events(
    store: &dyn Store,
    spec: &SloSpec,
    numerator: &MetricQuery,
    denominator: &MetricQuery,
    numerator_is: RatioKind,
    range: TimeRange,
) -> Result<BTreeMap<i64, Events>, StoreError> {
    let read = |query: &MetricQuery| -> Result<BTreeMap<i64, f64>, StoreError> {
        let points = store.points(&PointQuery {
            range: TimeRange::new(range.from.saturating_sub(COUNTER_LEAD_NANOS), range.to),
            name: Some(query.metric.clone()),
            service: Some(spec.service.clone()),
            limit: 5_000_000,
        })?;
        let first_minute = (range.from / MINUTE_NANOS) as i64;
        Ok(metric_minutes(query, &points)
            .into_iter()
            .filter(|(minute, _)| *minute >= first_minute)
            .collect())
    };
    let numerators = read(numerator)?;
    let denominators = read(denominator)?;
    let mut events = BTreeMap::new();
    for (minute, total) in denominators {
        let total = total.round().max(0.0) as u64;
        let counted = numerators
            .get(&minute)
            .copied()
            .unwrap_or(0.0)
            .round()
            .max(0.0) as u64;
        let good = match numerator_is {
            RatioKind::Good => counted.min(total),
            RatioKind::Bad => total.saturating_sub(counted),
        };
        events.insert(minute, Events::new(good, total));
    }
    Ok(events)
}

/// Per minute, the amount a metric query counted: the values of delta sums and gauges, the
/// increase of cumulative sums (a drop is a counter reset, as Prometheus reads it).
pub fn metric_minutes(query: &MetricQuery, points: &[PointRow]) -> BTreeMap<i64, f64> {
    let matches = |point: &PointRow| {
        query
            .labels
            .iter()
            .all(|(key, wanted)| match point.attributes.get(key) {
                Some(serde_json::Value::String(text)) => text == wanted,
                Some(other) => serde_json::from_str::<serde_json::Value>(wanted)
                    .is_ok_and(|parsed| parsed == *other),
                None => false,
            })
    };
    let mut series: BTreeMap<String, Vec<&PointRow>> = BTreeMap::new();
    for point in points
        .iter()
        .filter(|point| matches(point) && point.value.is_finite())
    {
        series
            .entry(point.attributes.to_string())
            .or_default()
            .push(point);
    }
    let mut minutes: BTreeMap<i64, f64> = BTreeMap::new();
    for mut points in series.into_values() {
        points.sort_by_key(|point| point.time_unix_nano);
        let mut previous: Option<f64> = None;
        for point in points {
            let minute = (point.time_unix_nano / MINUTE_NANOS) as i64;
            let amount = if point.temporality == 2 {
                let increase = match previous {
                    Some(before) if point.value >= before => point.value - before,
                    Some(_) => point.value,
                    None => 0.0,
                };
                previous = Some(point.value);
                increase
            } else {
                point.value
            };
            *minutes.entry(minute).or_default() += amount;
        }
    }
    minutes
}

impl SloEngine {
    pub fn new(
        store: Arc<dyn Store>,
        data_dir: &Path,
        watch_dir: Option<PathBuf>,
        sink: Option<Arc<dyn AlertSink>>,
    ) -> SloEngine {
        SloEngine {
            store,
            data_dir: data_dir.to_owned(),
            watch_dir,
            managed: Mutex::new(BTreeMap::new()),
            published: RwLock::new(BTreeMap::new()),
            sink,
            file_errors: RwLock::new(BTreeMap::new()),
            parsed_files: Mutex::new(HashMap::new()),
            last_fingerprint: Mutex::new(None),
        }
    }

    fn api_dir(&self) -> PathBuf {
        self.data_dir.join("slos")
    }

    fn state_path(&self) -> PathBuf {
        self.data_dir.join("slo-state.json")
    }

    /// Reads every spec source; returns the specs by name with where they came from.
    /// The specs of one file, parsed again only when its modification time changed.
    fn parse_file(&self, path: &Path) -> Result<Vec<SloSpec>, String> {
        let modified = std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .map_err(|error| error.to_string())?;
        let mut cache = self.parsed_files.lock().expect("parsed files lock");
        if let Some((seen, parsed)) = cache.get(path)
            && *seen == modified
        {
            return parsed.clone();
        }
        let parsed = std::fs::read_to_string(path)
            .map_err(|error| error.to_string())
            .and_then(|text| {
                sloscope_slo::parse::parse_specs(&path.display().to_string(), &text)
                    .map_err(|errors| errors.to_string())
            });
        cache.insert(path.to_owned(), (modified, parsed.clone()));
        parsed
    }

    /// The YAML files of every spec directory with their modification times.
    fn fingerprint(&self) -> Fingerprint {
        let mut files = Vec::new();
        for directory in [Some(self.api_dir()), self.watch_dir.clone()]
            .into_iter()
            .flatten()
        {
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            for path in entries.filter_map(|entry| entry.ok().map(|entry| entry.path())) {
                if path
                    .extension()
                    .is_some_and(|extension| extension == "yaml" || extension == "yml")
                {
                    let modified = std::fs::metadata(&path)
                        .and_then(|meta| meta.modified())
                        .ok();
                    files.push((path, modified));
                }
            }
        }
        files.sort();
        files
    }

    fn scan_specs(&self) -> BTreeMap<String, (SloSpec, Source)> {
        let mut specs = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for (directory, is_api) in [
            (Some(self.api_dir()), true),
            (self.watch_dir.clone(), false),
        ] {
            let Some(directory) = directory else { continue };
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .collect();
            paths.sort();
            for path in paths {
                let is_yaml = path
                    .extension()
                    .is_some_and(|extension| extension == "yaml" || extension == "yml");
                if !is_yaml {
                    continue;
                }
                let parsed = self.parse_file(&path);
                match parsed {
                    Ok(parsed) => {
                        for spec in parsed {
                            let source = if is_api {
                                Source::Api
                            } else {
                                Source::File { path: path.clone() }
                            };
                            // Files of the watched directory win over API objects of the same name.
                            specs.insert(spec.name.clone(), (spec, source));
                        }
                    }
                    Err(problem) => {
                        errors.insert(path.clone(), problem);
                    }
                }
            }
        }
        let mut previous = self.file_errors.write().expect("file errors lock");
        for (path, message) in &errors {
            if previous.get(path) != Some(message) {
                warn!(path = %path.display(), %message, "slo file is invalid; keeping its previous version");
            }
        }
        *previous = errors;
        specs
    }

    /// Brings the managed set in line with the spec sources; new or changed SLOs are
    /// backfilled from stored history (history before an SLO existed counts).
    fn refresh(&self, now: i64) -> Result<(), SloError> {
        let fingerprint = self.fingerprint();
        if self
            .last_fingerprint
            .lock()
            .expect("fingerprint lock")
            .as_ref()
            == Some(&fingerprint)
        {
            return Ok(());
        }
        let specs = self.scan_specs();
        let failed_files: Vec<PathBuf> = self
            .file_errors
            .read()
            .expect("file errors lock")
            .keys()
            .cloned()
            .collect();
        // Read only when an SLO is (re)loaded, not on every cycle.
        let mut saved: Option<SavedState> = None;
        let mut managed = self.managed.lock().expect("managed lock");
        // An SLO whose file is momentarily invalid keeps running with its last good spec.
        managed.retain(|name, entry| {
            specs.contains_key(name)
                || matches!(&entry.source, Source::File { path } if failed_files.contains(path))
        });
        for (name, (spec, source)) in specs {
            let unchanged = managed
                .get(&name)
                .is_some_and(|entry| *entry.instance.spec() == spec);
            if unchanged {
                if let Some(entry) = managed.get_mut(&name) {
                    entry.source = source;
                }
                continue;
            }
            let mut instance = SloInstance::new(spec.clone());
            let period = spec.window.period_minutes() + spec.alerting.longest_window();
            let from = now.saturating_sub(period * 60).max(0) as u64 * 1_000_000_000;
            let range = TimeRange::new(from, now as u64 * 1_000_000_000 + MINUTE_NANOS);
            instance.observe(
                &history(self.store.as_ref(), &spec, range)?,
                now.div_euclid(60),
            );
            let (states, history_events) = match managed.get(&name) {
                Some(previous) => (
                    previous.instance.evaluator().states().to_vec(),
                    previous.history.clone(),
                ),
                None => saved
                    .get_or_insert_with(|| self.load_state())
                    .slos
                    .get(&name)
                    .map(|slo| (slo.states.clone(), slo.history.clone()))
                    .unwrap_or_default(),
            };
            instance.evaluator_mut().restore(&states);
            info!(slo = %name, "slo loaded");
            managed.insert(
                name,
                Managed {
                    instance,
                    source,
                    last: None,
                    history: history_events,
                },
            );
        }
        *self.last_fingerprint.lock().expect("fingerprint lock") = Some(fingerprint);
        Ok(())
    }

    fn load_state(&self) -> SavedState {
        std::fs::read(self.state_path())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save_state(&self, managed: &BTreeMap<String, Managed>) {
        let state = SavedState {
            slos: managed
                .iter()
                .map(|(name, entry)| {
                    (
                        name.clone(),
                        SavedSlo {
                            states: entry.instance.evaluator().states().to_vec(),
                            history: entry.history.clone(),
                        },
                    )
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&state).unwrap_or_default();
        let temporary = self.state_path().with_extension("tmp");
        let written = std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, self.state_path()));
        if let Err(error) = written {
            warn!(%error, "cannot save slo alert state");
        }
    }

    /// One evaluation cycle: new events of the last minutes for every SLO, then every rule.
    pub fn cycle(&self, now: i64) -> Result<usize, SloError> {
        self.refresh(now)?;
        let now_minute = now.div_euclid(60);
        let recent = TimeRange::new(
            ((now_minute - REVISABLE_MINUTES).max(0) as u64) * MINUTE_NANOS,
            (now_minute as u64 + 1) * MINUTE_NANOS,
        );
        let rows = self.store.signals(recent, &SignalFilter::default())?;
        let mut by_service: HashMap<&str, Vec<&SignalRow>> = HashMap::new();
        for row in &rows {
            by_service
                .entry(row.key.service.as_str())
                .or_default()
                .push(row);
        }
        let mut managed = self.managed.lock().expect("managed lock");
        let mut changed = false;
        let mut published = BTreeMap::new();
        for (name, entry) in managed.iter_mut() {
            let spec = entry.instance.spec().clone();
            let minutes = if matches!(spec.indicator, Indicator::MetricRatio { .. }) {
                history(self.store.as_ref(), &spec, recent)?
            } else {
                let service_rows = by_service
                    .get(spec.service.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                indicator::minute_events(
                    &spec,
                    service_rows
                        .iter()
                        .map(|row| (row.minute, &row.key, &row.stats)),
                )
            };
            entry.instance.observe(&minutes, now_minute);
            let evaluation = entry.instance.evaluate(now);
            for transition in &evaluation.transitions {
                changed = true;
                entry.history.push(AlertEvent::from(transition));
                if let Some(sink) = &self.sink {
                    sink.alert(&spec, transition, &evaluation);
                }
            }
            if entry.history.len() > HISTORY_LIMIT {
                let excess = entry.history.len() - HISTORY_LIMIT;
                entry.history.drain(..excess);
            }
            let evaluation = Arc::new(evaluation);
            published.insert(name.clone(), evaluation.clone());
            entry.last = Some(evaluation);
        }
        if changed {
            self.save_state(&managed);
        }
        let count = managed.len();
        drop(managed);
        *self.published.write().expect("published lock") = published;
        Ok(count)
    }

    /// Runs cycles every `interval` until the process ends.
    pub fn spawn(self: Arc<Self>, interval: Duration) {
        std::thread::Builder::new()
            .name("slo-engine".into())
            .spawn(move || {
                loop {
                    if let Err(error) = self.cycle(now_seconds()) {
                        warn!(%error, "slo evaluation cycle failed");
                    }
                    std::thread::sleep(interval);
                }
            })
            .expect("spawn the slo engine thread");
    }

    pub fn evaluations(&self) -> BTreeMap<String, Arc<Evaluation>> {
        self.published.read().expect("published lock").clone()
    }

    pub fn list(&self) -> Vec<(SloSpec, Source, Option<Arc<Evaluation>>)> {
        let managed = self.managed.lock().expect("managed lock");
        managed
            .values()
            .map(|entry| {
                (
                    entry.instance.spec().clone(),
                    entry.source.clone(),
                    entry.last.clone(),
                )
            })
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<SloDetails> {
        let managed = self.managed.lock().expect("managed lock");
        managed.get(name).map(|entry| {
            (
                entry.instance.spec().clone(),
                entry.source.clone(),
                entry.last.clone(),
                entry.history.clone(),
            )
        })
    }

    pub fn file_errors(&self) -> BTreeMap<PathBuf, String> {
        self.file_errors.read().expect("file errors lock").clone()
    }

    /// Stores an API object (YAML text of one SLO named `name`) and evaluates it at once.
    pub fn put(&self, name: &str, text: &str) -> Result<SloSpec, SloError> {
        let specs = sloscope_slo::parse::parse_specs(&format!("slo {name}"), text)
            .map_err(|errors| SloError::Invalid(errors.to_string()))?;
        let [spec] = <[SloSpec; 1]>::try_from(specs)
            .map_err(|specs| SloError::Invalid(format!("expected one slo, got {}", specs.len())))?;
        if spec.name != name {
            return Err(SloError::Invalid(format!(
                "the spec is named `{}` but the path says `{name}`",
                spec.name
            )));
        }
        if let Some((_, Source::File { path }, _, _)) = self.get(name) {
            return Err(SloError::FileManaged {
                name: name.into(),
                path,
            });
        }
        std::fs::create_dir_all(self.api_dir())?;
        let path = self.api_dir().join(format!("{name}.yaml"));
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, sloscope_slo::parse::to_yaml(&spec))?;
        std::fs::rename(&temporary, &path)?;
        self.cycle(now_seconds())?;
        Ok(spec)
    }

    pub fn delete(&self, name: &str) -> Result<(), SloError> {
        match self.get(name) {
            None => Err(SloError::NotFound(name.into())),
            Some((_, Source::File { path }, _, _)) => Err(SloError::FileManaged {
                name: name.into(),
                path,
            }),
            Some((_, Source::Api, _, _)) => {
                std::fs::remove_file(self.api_dir().join(format!("{name}.yaml")))?;
                self.managed.lock().expect("managed lock").remove(name);
                self.published.write().expect("published lock").remove(name);
                Ok(())
            }
        }
    }

    /// The SLO's good and total events per minute over `range`, for charts.
    pub fn minutes(&self, name: &str, range: TimeRange) -> Result<BTreeMap<i64, Events>, SloError> {
        let (spec, _, _, _) = self
            .get(name)
            .ok_or_else(|| SloError::NotFound(name.into()))?;
        Ok(history(self.store.as_ref(), &spec, range)?)
    }

    /// Replays stored history through the SLO's policy over `[from, to)` (unix seconds).
    pub fn backtest(&self, name: &str, from: i64, to: i64) -> Result<Backtest, SloError> {
        let (spec, _, _, _) = self
            .get(name)
            .ok_or_else(|| SloError::NotFound(name.into()))?;
        let lead = spec.window.period_minutes() + spec.alerting.longest_window();
        let range = TimeRange::new(
            (from - lead * 60).max(0) as u64 * 1_000_000_000,
            to.max(0) as u64 * 1_000_000_000,
        );
        let minutes = history(self.store.as_ref(), &spec, range)?;
        Ok(backtest::backtest(&spec, &minutes, from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: f64, minute: u64, temporality: u8, route: &str) -> PointRow {
        PointRow {
            name: "http.server.requests".into(),
            service: "checkout".into(),
            kind: "sum".into(),
            unit: "1".into(),
            temporality,
            monotonic: true,
            time_unix_nano: minute * MINUTE_NANOS + 5,
            value,
            count: None,
            sum: None,
            attributes: serde_json::json!({ "route": route }),
            resource_attributes: serde_json::json!({}),
            distribution: None,
        }
    }

    #[test]
    fn cumulative_counters_count_their_increase_and_survive_resets() {
        let query = MetricQuery {
            metric: "http.server.requests".into(),
            labels: [("route".to_owned(), "/cart".to_owned())].into(),
        };
        let points = vec![
            point(100.0, 10, 2, "/cart"),
            point(160.0, 11, 2, "/cart"),
            point(20.0, 12, 2, "/cart"),
            point(999.0, 11, 2, "/other"),
        ];
        let minutes = metric_minutes(&query, &points);
        assert_eq!(minutes.get(&10), Some(&0.0));
        assert_eq!(minutes.get(&11), Some(&60.0));
        assert_eq!(minutes.get(&12), Some(&20.0));
        let deltas = metric_minutes(
            &query,
            &[point(7.0, 10, 1, "/cart"), point(3.0, 10, 1, "/cart")],
        );
        assert_eq!(deltas.get(&10), Some(&10.0));
    }
}
