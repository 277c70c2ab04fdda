//! Incidents: one per breach. A page alert opens one (or reopens the unresolved one of the same
//! SLO) and starts an investigation; the page resolving mitigates it; the SLO staying within
//! target for the recovery time resolves it. Everything that happens lands on its timeline,
//! and a post-mortem draft is written from the timeline and the investigation.
//!
//! Alert transitions arrive on the SLO engine's thread; they are queued to one worker thread,
//! which also checks recovery on every tick, so an investigation never holds up evaluation.
//! Incidents are kept in `<data>/incidents.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sloscope_investigate::markdown::{format_time, kind_label};
use sloscope_investigate::{CauseKind, Subject};
use sloscope_model::TimeRange;
use sloscope_slo::spec::{Scope, SloSpec};
use sloscope_slo::{Evaluation, Phase, Severity, Transition};
use sloscope_store::{SpanQuery, Store};
use tracing::{info, warn};

use crate::changes::Changes;
use crate::config::IncidentSettings;
use crate::investigation_api::slo_context;
use crate::investigations::{Investigation, Investigations};
use crate::slos::{AlertSink, SloEngine};

const SECOND_NANOS: u64 = 1_000_000_000;
const MINUTE_NANOS: u64 = 60 * SECOND_NANOS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Open,
    Investigating,
    Mitigated,
    Resolved,
}

impl IncidentState {
    pub fn parse(text: &str) -> Option<IncidentState> {
        match text {
            "open" => Some(IncidentState::Open),
            "investigating" => Some(IncidentState::Investigating),
            "mitigated" => Some(IncidentState::Mitigated),
            "resolved" => Some(IncidentState::Resolved),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Investigating => "investigating",
            IncidentState::Mitigated => "mitigated",
            IncidentState::Resolved => "resolved",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub time_unix_nano: u64,
    /// `alert`, `notification`, `investigation`, `detection`, `deployment`, `change`,
    /// `finding`, `mitigated`, `recovery`, `note`.
    pub kind: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub slo: String,
    pub service: String,
    pub operation: Option<String>,
    pub state: IncidentState,
    /// The alert's sentence at opening.
    pub summary: String,
    pub objective: f64,
    pub opened_unix_nano: u64,
    /// When the breach started (change point of the SLI), once investigated.
    pub started_unix_nano: Option<u64>,
    pub mitigated_unix_nano: Option<u64>,
    pub resolved_unix_nano: Option<u64>,
    pub budget_remaining_at_open: Option<f64>,
    pub budget_remaining_latest: Option<f64>,
    pub investigation_id: Option<String>,
    /// Owners of the services the investigation names, for corrective actions.
    pub owners: BTreeMap<String, String>,
    pub timeline: Vec<TimelineEntry>,
    /// Since when the SLO has been within target while mitigated.
    pub recovering_since_unix_nano: Option<u64>,
}

impl Incident {
    fn note(&mut self, time_unix_nano: u64, kind: &str, text: impl Into<String>) {
        self.timeline.push(TimelineEntry {
            time_unix_nano,
            kind: kind.to_owned(),
            text: text.into(),
        });
        self.timeline.sort_by_key(|entry| entry.time_unix_nano);
    }

    fn set_state(&mut self, state: IncidentState, time_unix_nano: u64) {
        self.state = state;
        match state {
            IncidentState::Mitigated => {
                self.mitigated_unix_nano.get_or_insert(time_unix_nano);
            }
            IncidentState::Resolved => {
                self.mitigated_unix_nano.get_or_insert(time_unix_nano);
                self.resolved_unix_nano = Some(time_unix_nano);
            }
            IncidentState::Open | IncidentState::Investigating => {
                self.mitigated_unix_nano = None;
                self.resolved_unix_nano = None;
            }
        }
        self.recovering_since_unix_nano = None;
    }
}

/// Every incident, newest last, kept in `<data>/incidents.json`.
pub struct Incidents {
    path: PathBuf,
    list: Mutex<Vec<Incident>>,
}

impl Incidents {
    pub fn open(data_dir: &Path) -> Incidents {
        let path = data_dir.join("incidents.json");
        let list = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                warn!(path = %path.display(), %error, "incidents file unreadable; starting empty");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        Incidents {
            path,
            list: Mutex::new(list),
        }
    }

    fn save(&self, list: &[Incident]) {
        let written = serde_json::to_vec_pretty(list)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                if let Some(parent) = self.path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let temporary = self.path.with_extension("json.tmp");
                std::fs::write(&temporary, bytes)?;
                std::fs::rename(&temporary, &self.path)
            });
        if let Err(error) = written {
            warn!(path = %self.path.display(), %error, "could not keep incidents on disk");
        }
    }

    /// Changes one incident and keeps the list when it changed; returns what `change` returned.
    fn update<T>(&self, id: &str, change: impl FnOnce(&mut Incident) -> T) -> Option<T> {
        let mut list = self.list.lock().expect("incidents lock");
        let incident = list.iter_mut().find(|incident| incident.id == id)?;
        let before = incident.clone();
        let result = change(incident);
        if *incident != before {
            self.save(&list);
        }
        Some(result)
    }

    pub fn get(&self, id: &str) -> Option<Incident> {
        let list = self.list.lock().expect("incidents lock");
        list.iter().find(|incident| incident.id == id).cloned()
    }

    /// Newest first.
    pub fn list(&self) -> Vec<Incident> {
        let list = self.list.lock().expect("incidents lock");
        list.iter().rev().cloned().collect()
    }

    /// Ids and SLOs of the incidents not resolved yet.
    fn unresolved(&self) -> Vec<(String, String)> {
        let list = self.list.lock().expect("incidents lock");
        list.iter()
            .filter(|incident| incident.state != IncidentState::Resolved)
            .map(|incident| (incident.id.clone(), incident.slo.clone()))
            .collect()
    }

    fn unresolved_of(&self, slo: &str) -> Option<String> {
        let list = self.list.lock().expect("incidents lock");
        list.iter()
            .rev()
            .find(|incident| incident.slo == slo && incident.state != IncidentState::Resolved)
            .map(|incident| incident.id.clone())
    }

    /// Adds the incident under the next number (`inc-1`, `inc-2`, ...) and returns its id.
    fn insert(&self, mut incident: Incident) -> String {
        let mut list = self.list.lock().expect("incidents lock");
        incident.id = format!("inc-{}", list.len() + 1);
        let id = incident.id.clone();
        list.push(incident);
        self.save(&list);
        id
    }

    /// A person's state change (`POST /api/v1/incidents/{id}/state`).
    pub fn transition(
        &self,
        id: &str,
        state: IncidentState,
        note: Option<&str>,
        now: u64,
    ) -> Option<Incident> {
        self.update(id, |incident| {
            incident.set_state(state, now);
            let text = match note {
                Some(note) if !note.trim().is_empty() => {
                    format!("marked {} by hand: {}", state.label(), note.trim())
                }
                _ => format!("marked {} by hand", state.label()),
            };
            incident.note(now, "note", text);
            incident.clone()
        })
    }
}

/// What the SLO engine's thread hands to the incident worker.
struct AlertMessage {
    spec: SloSpec,
    transition: Transition,
    budget_remaining: Option<f64>,
    summary: String,
    burning_fast_now: bool,
}

/// The alert sink that feeds the incident worker.
pub struct IncidentSink {
    sender: Mutex<Sender<AlertMessage>>,
}

impl AlertSink for IncidentSink {
    fn alert(&self, spec: &SloSpec, transition: &Transition, evaluation: &Evaluation) {
        if matches!(transition.to, Phase::Pending | Phase::Inactive) {
            return;
        }
        let message = AlertMessage {
            spec: spec.clone(),
            transition: transition.clone(),
            budget_remaining: evaluation.budget_remaining,
            summary: crate::alerts::summary(spec, transition, evaluation),
            burning_fast_now: burning_fast(evaluation),
        };
        let _ = self
            .sender
            .lock()
            .expect("incident sink lock")
            .send(message);
    }
}

/// Everything the worker needs.
pub struct IncidentWorker {
    pub incidents: Arc<Incidents>,
    pub investigations: Arc<Investigations>,
    pub changes: Arc<Changes>,
    pub store: Arc<dyn Store>,
    pub settings: IncidentSettings,
    /// How often recovery is checked.
    pub tick: Duration,
}

/// The sink to register with the SLO engine, and the receiving end for [`IncidentWorker::spawn`].
pub fn channel() -> (Arc<IncidentSink>, IncidentInbox) {
    let (sender, receiver) = std::sync::mpsc::channel();
    (
        Arc::new(IncidentSink {
            sender: Mutex::new(sender),
        }),
        IncidentInbox(receiver),
    )
}

pub struct IncidentInbox(Receiver<AlertMessage>);

impl IncidentWorker {
    pub fn spawn(self, inbox: IncidentInbox, slos: Arc<SloEngine>, channels: usize) {
        std::thread::Builder::new()
            .name("incidents".into())
            .spawn(move || {
                loop {
                    match inbox.0.recv_timeout(self.tick) {
                        Ok(message) => self.on_alert(message, channels),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    self.check_recovery(&slos, crate::now_unix_nano());
                }
            })
            .expect("spawn the incident worker");
    }

    fn on_alert(&self, message: AlertMessage, channels: usize) {
        let AlertMessage {
            spec,
            transition,
            budget_remaining,
            summary,
            burning_fast_now,
        } = message;
        let at = u64::try_from(transition.at).unwrap_or(0) * SECOND_NANOS;
        let page = transition.severity == Severity::Page;
        let existing = self.incidents.unresolved_of(&spec.name);
        match (transition.to, existing) {
            (Phase::Firing, None) if page => {
                self.open(&spec, at, summary, budget_remaining, channels)
            }
            (Phase::Firing, Some(id)) => {
                self.incidents.update(&id, |incident| {
                    incident.note(at, "alert", format!("{} fired: {summary}", transition.rule));
                    if page && incident.state == IncidentState::Mitigated {
                        incident.set_state(IncidentState::Investigating, at);
                    }
                    incident.budget_remaining_latest = budget_remaining;
                });
            }
            (Phase::Resolved, Some(id)) => {
                self.incidents.update(&id, |incident| {
                    incident.note(at, "alert", format!("{} resolved", transition.rule));
                    incident.budget_remaining_latest = budget_remaining;
                    if page && !burning_fast_now && incident.state != IncidentState::Mitigated {
                        incident.set_state(IncidentState::Mitigated, at);
                        incident.note(
                            at,
                            "mitigated",
                            "the page alert resolved: the budget is no longer burning fast",
                        );
                    }
                });
            }
            _ => {}
        }
    }

    fn open(
        &self,
        spec: &SloSpec,
        at: u64,
        summary: String,
        budget_remaining: Option<f64>,
        channels: usize,
    ) {
        let operation = match &spec.scope {
            Scope::Operation { operation } => Some(operation.clone()),
            _ => None,
        };
        let mut incident = Incident {
            id: String::new(),
            slo: spec.name.clone(),
            service: spec.service.clone(),
            operation: operation.clone(),
            state: IncidentState::Open,
            summary: summary.clone(),
            objective: spec.objective,
            opened_unix_nano: at,
            started_unix_nano: None,
            mitigated_unix_nano: None,
            resolved_unix_nano: None,
            budget_remaining_at_open: budget_remaining,
            budget_remaining_latest: budget_remaining,
            investigation_id: None,
            owners: BTreeMap::new(),
            timeline: Vec::new(),
            recovering_since_unix_nano: None,
        };
        incident.note(at, "alert", format!("page alert fired: {summary}"));
        if channels > 0 {
            incident.note(
                at,
                "notification",
                format!("page sent to {channels} notification channel(s)"),
            );
        }
        let id = self.incidents.insert(incident);
        info!(incident = %id, slo = %spec.name, "incident opened");
        let now = crate::now_unix_nano().max(at);
        match self.investigate(spec, operation, now, budget_remaining) {
            Ok(record) => {
                let owners = self.owners(&record);
                self.incidents.update(&id, |incident| {
                    record_findings(incident, &record, crate::now_unix_nano());
                    incident.owners = owners;
                    if incident.state == IncidentState::Open {
                        incident.state = IncidentState::Investigating;
                    }
                });
            }
            Err(error) => {
                warn!(incident = %id, %error, "investigation failed");
                self.incidents.update(&id, |incident| {
                    incident.note(
                        crate::now_unix_nano(),
                        "investigation",
                        format!("investigation failed: {error}"),
                    );
                });
            }
        }
    }

    /// Investigates the last `settings.window` against the window before it; when the breach
    /// started well inside the window, investigates again from its start, so the minutes
    /// before it do not dilute the comparison.
    fn investigate(
        &self,
        spec: &SloSpec,
        operation: Option<String>,
        now: u64,
        budget_remaining: Option<f64>,
    ) -> Result<Arc<Investigation>, sloscope_store::StoreError> {
        let length = self.settings.window.as_nanos() as u64;
        let window = TimeRange::new(now.saturating_sub(length), now);
        let baseline = TimeRange::new(window.from.saturating_sub(length), window.from);
        let slo = Some((spec.name.clone(), slo_context(spec, budget_remaining)));
        let subject = |window: TimeRange, baseline| Subject {
            service: spec.service.clone(),
            operation: operation.clone(),
            window,
            baseline,
        };
        let first = self.investigations.run(
            self.store.as_ref(),
            &self.changes,
            subject(window, baseline),
            slo.clone(),
        )?;
        match first.report.scope.started_unix_nano {
            // Even a start seconds before the page narrows the window: a page comes fast after
            // a sharp breach, and an hour of normal minutes would drown the few bad ones.
            Some(start) if start > window.from + 5 * MINUTE_NANOS && start < now => {
                // At least a minute: the start is the minute of the change point, which may
                // be the minute after the one the fault began in.
                let from = (start - start % MINUTE_NANOS).min(now.saturating_sub(MINUTE_NANOS));
                let narrowed = TimeRange::new(from, now);
                // Against the hour just before it, not the hour before the first window: traffic
                // follows the time of day.
                let baseline = TimeRange::new(from.saturating_sub(length), from);
                self.investigations.run(
                    self.store.as_ref(),
                    &self.changes,
                    subject(narrowed, baseline),
                    slo,
                )
            }
            _ => Ok(first),
        }
    }

    /// Owners of the services the top causes name: configuration first, then the
    /// `service.owner` resource attribute of the service's latest span.
    fn owners(&self, record: &Investigation) -> BTreeMap<String, String> {
        let mut owners = BTreeMap::new();
        for cause in record.report.causes.iter().take(3) {
            if owners.contains_key(&cause.service) {
                continue;
            }
            let owner = self
                .settings
                .owners
                .get(&cause.service)
                .cloned()
                .or_else(|| {
                    let window = record.report.subject.window;
                    let spans = self
                        .store
                        .spans(&SpanQuery {
                            range: TimeRange::new(
                                window.from.saturating_sub(24 * 60 * MINUTE_NANOS),
                                window.to,
                            ),
                            service: Some(cause.service.clone()),
                            operation: None,
                            min_duration: None,
                            errors_only: false,
                            trace_id: None,
                            limit: 1,
                        })
                        .ok()?;
                    spans
                        .first()?
                        .resource_attributes
                        .get("service.owner")?
                        .as_str()
                        .map(str::to_owned)
                });
            if let Some(owner) = owner {
                owners.insert(cause.service.clone(), owner);
            }
        }
        owners
    }

    /// Resolves mitigated incidents whose SLO has been within target for the recovery time.
    fn check_recovery(&self, slos: &SloEngine, now: u64) {
        let evaluations = slos.evaluations();
        for (id, slo) in self.incidents.unresolved() {
            let Some(evaluation) = evaluations.get(&slo) else {
                continue;
            };
            let within = within_target(evaluation);
            let recovery = self.settings.recovery.as_nanos() as u64;
            self.incidents.update(&id, |incident| {
                incident.budget_remaining_latest = evaluation.budget_remaining;
                if incident.state != IncidentState::Mitigated {
                    return;
                }
                if !within {
                    incident.recovering_since_unix_nano = None;
                    return;
                }
                let since = *incident.recovering_since_unix_nano.get_or_insert(now);
                if now.saturating_sub(since) >= recovery {
                    incident.set_state(IncidentState::Resolved, now);
                    incident.note(
                        now,
                        "recovery",
                        format!(
                            "recovered: {} within its objective for {} minutes",
                            incident.slo,
                            recovery / MINUTE_NANOS
                        ),
                    );
                    info!(incident = %incident.id, "incident resolved");
                }
            });
        }
    }
}

/// A burn-rate page rule is firing. An exhausted budget pages too, but stays exhausted long
/// after the fast burn that exhausted it has stopped, so it does not keep an incident open.
fn burning_fast(evaluation: &Evaluation) -> bool {
    evaluation
        .firing()
        .any(|state| state.severity == Severity::Page && state.rule.starts_with("burn_"))
}

/// The SLO meets its objective over its shortest alert window and is not burning fast.
fn within_target(evaluation: &Evaluation) -> bool {
    let shortest = evaluation
        .windows
        .iter()
        .min_by_key(|window| window.minutes);
    let calm = shortest
        .is_some_and(|window| window.total > 0 && window.burn_rate.is_some_and(|rate| rate <= 1.0));
    calm && !burning_fast(evaluation)
}

/// Adds the investigation's findings to the timeline.
fn record_findings(incident: &mut Incident, record: &Investigation, now: u64) {
    incident.investigation_id = Some(record.id.clone());
    let report = &record.report;
    incident.started_unix_nano = report.scope.started_unix_nano;
    if let Some(start) = report.scope.started_unix_nano {
        incident.note(
            start,
            "detection",
            "the breach started (change point of the SLI)",
        );
    }
    for cause in report
        .causes
        .iter()
        .filter(|cause| cause.kind == CauseKind::Deployment)
    {
        incident.note(
            report.scope.started_unix_nano.unwrap_or(now),
            "deployment",
            format!("{}: {}", cause.service, cause.summary),
        );
    }
    let mut text = format!(
        "investigation {} finished in {:.0} ms",
        record.id, record.elapsed_ms
    );
    match report.causes.first() {
        Some(top) => {
            let _ = write!(
                text,
                "; top cause: {} in {} ({:.0} % confidence): {}",
                kind_label(top.kind),
                top.service,
                top.confidence * 100.0,
                top.summary
            );
        }
        None => text.push_str("; no cause stands out"),
    }
    incident.note(now, "finding", text);
}

fn duration_text(nanos: u64) -> String {
    crate::alerts::human_minutes(nanos as f64 / MINUTE_NANOS as f64)
}

/// The post-mortem draft in Markdown.
pub fn postmortem(incident: &Incident, investigation: Option<&Investigation>) -> String {
    let mut out = String::new();
    let report = investigation.map(|record| &record.report);
    let top = report.and_then(|report| report.causes.first());
    let start = incident
        .started_unix_nano
        .unwrap_or(incident.opened_unix_nano);
    let end = incident.resolved_unix_nano.or(incident.mitigated_unix_nano);
    let _ = writeln!(
        out,
        "# Post-mortem (draft): {} breach of {}\n",
        incident.service, incident.slo
    );
    let _ = writeln!(
        out,
        "Incident `{}`, {}. This draft was written by sloscope from the alerts and the investigation; edit it before you share it.\n",
        incident.id,
        incident.state.label()
    );
    out.push_str("## Summary\n\n");
    let _ = write!(
        out,
        "On {}, {} breached its SLO `{}` (objective {:.3} %). ",
        format_time(start),
        incident.service,
        incident.slo,
        incident.objective * 100.0
    );
    match top {
        Some(cause) => {
            let _ = write!(
                out,
                "The most likely cause: {} ({} in {}). ",
                cause.summary,
                kind_label(cause.kind),
                cause.service
            );
        }
        None => out.push_str("No cause was identified. "),
    }
    match end {
        Some(end) => {
            let _ = writeln!(
                out,
                "It lasted {} until {}.\n",
                duration_text(end.saturating_sub(start)),
                format_time(end)
            );
        }
        None => out.push_str("It is not over yet.\n\n"),
    }
    out.push_str("## Impact\n\n");
    let _ = writeln!(
        out,
        "- Duration: {}",
        match end {
            Some(end) => duration_text(end.saturating_sub(start)),
            None => format!(
                "{} so far",
                duration_text(crate::now_unix_nano().saturating_sub(start))
            ),
        }
    );
    if let Some(report) = report.filter(|report| report.scope.requests > 0) {
        let _ = writeln!(
            out,
            "- Requests affected: {} of {} ({:.2} %) in the investigated window",
            report.scope.bad_requests,
            report.scope.requests,
            report.scope.bad_requests as f64 * 100.0 / report.scope.requests as f64
        );
    }
    match (
        incident.budget_remaining_at_open,
        incident.budget_remaining_latest,
    ) {
        (Some(at_open), Some(latest)) => {
            let _ = writeln!(
                out,
                "- Error budget: {:.1} % left at the page, {:.1} % now",
                at_open * 100.0,
                latest * 100.0
            );
        }
        _ => out.push_str("- Error budget: unknown\n"),
    }
    if let Some(burned) = report.and_then(|report| report.scope.budget_burned) {
        let _ = writeln!(
            out,
            "- Budget burned in the investigated window: {:.1} %",
            burned * 100.0
        );
    }
    out.push_str("\n## Timeline (UTC)\n\n| time | what | |\n|---|---|---|\n");
    for entry in &incident.timeline {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            format_time(entry.time_unix_nano),
            entry.kind,
            entry.text.replace('|', "\\|")
        );
    }
    out.push_str("\n## Root cause\n\n");
    match (top, report) {
        (Some(cause), Some(report)) => {
            let _ = writeln!(
                out,
                "{} ({} in {}, confidence {:.0} %).\n",
                cause.summary,
                kind_label(cause.kind),
                cause.service,
                cause.confidence * 100.0
            );
            for item in &cause.evidence {
                let _ = writeln!(out, "- {}", item.summary);
            }
            let others: Vec<String> = report
                .causes
                .iter()
                .skip(1)
                .take(3)
                .map(|cause| {
                    format!(
                        "{} in {} ({:.0} %)",
                        kind_label(cause.kind),
                        cause.service,
                        cause.confidence * 100.0
                    )
                })
                .collect();
            if !others.is_empty() {
                let _ = writeln!(out, "\nOther suspects: {}.", others.join("; "));
            }
            if let Some(id) = &incident.investigation_id {
                let _ = writeln!(
                    out,
                    "\nFull report: `/api/v1/investigations/{id}?format=markdown`."
                );
            }
        }
        _ => out.push_str("Not identified yet.\n"),
    }
    out.push_str(
        "\n## Corrective actions\n\n| action | because | owner | status |\n|---|---|---|---|\n",
    );
    let mut actions = 0;
    for cause in report
        .map(|report| report.causes.as_slice())
        .unwrap_or_default()
        .iter()
        .take(2)
    {
        let owner = incident
            .owners
            .get(&cause.service)
            .map(String::as_str)
            .unwrap_or("unassigned");
        for remedy in &cause.remedies {
            actions += 1;
            let _ = writeln!(
                out,
                "| {} | {} | {owner} | open |",
                remedy.action.replace('|', "\\|"),
                remedy.because.replace('|', "\\|")
            );
        }
    }
    if actions == 0 {
        out.push_str(
            "| decide the corrective actions | no remedy was suggested | unassigned | open |\n",
        );
    }
    out.push_str("\n## What went well\n\n");
    let detect = incident.opened_unix_nano.saturating_sub(start);
    if incident.started_unix_nano.is_some() {
        let _ = writeln!(
            out,
            "- The burn-rate alert paged {} after the breach started.",
            duration_text(detect)
        );
    } else {
        out.push_str("- The burn-rate alert paged.\n");
    }
    if let Some(record) = investigation {
        let _ = writeln!(
            out,
            "- The investigation ran automatically and finished in {:.1} s.",
            record.elapsed_ms / 1e3
        );
    }
    out.push_str("\n## What went badly\n\n");
    let mut bad = 0;
    if incident.started_unix_nano.is_some() && detect > 10 * MINUTE_NANOS {
        bad += 1;
        let _ = writeln!(out, "- Detection took {}.", duration_text(detect));
    }
    if let Some(latest) = incident
        .budget_remaining_latest
        .filter(|latest| *latest <= 0.0)
    {
        bad += 1;
        let _ = writeln!(
            out,
            "- The error budget is exhausted ({:.1} % left).",
            latest * 100.0
        );
    }
    for item in report
        .map(|report| report.not_checked.as_slice())
        .unwrap_or_default()
    {
        bad += 1;
        let _ = writeln!(out, "- Not checked: {item}.");
    }
    if bad == 0 {
        out.push_str("- (to be filled in)\n");
    }
    out
}
