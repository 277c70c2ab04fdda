//! Converts other tools' SLO specs into sloscope's: OpenSLO v1 (`apiVersion: openslo/v1`,
//! kinds `SLO`, `SLI`, `AlertPolicy`, `AlertCondition`) and Sloth (`version: prometheus/v1`,
//! or the `PrometheusServiceLevel` custom resource). Documents of several kinds may be mixed in
//! one file; references (`indicatorRef`, `alertPolicyRef`, `conditionRef`) resolve within it.
//!
//! An indicator maps when sloscope can count its events itself:
//! - a metric source of `type: sloscope` with `spec: {service, operation?, remote_service?,
//!   remote_operation?, environment?, indicator: availability | latency | error_rate,
//!   threshold_ms?}` becomes a signal indicator;
//! - a query of the form `sum(rate(metric{label="value", ...}[window]))` (or `increase`) with
//!   only `=` matchers becomes a metric ratio over the same metric as sent to sloscope.
//!
//! Everything else (other PromQL, Sloth plugins, raw ratios, ratio time slices, quarter
//! windows, notification targets...) is listed in [`ImportReport::unmapped`] with the reason;
//! nothing is dropped silently. Each converted SLO is checked by writing it in sloscope's format
//! and parsing it back, so an imported spec is always a valid one.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::alert::{AlertPolicy, BurnRule, Severity, window_label};
use crate::parse::yaml::{self, Node, Report};
use crate::parse::{
    self, default_short_window, fraction_of_percent, is_known_timezone, is_valid_metric_name,
    parse_duration_seconds, parse_specs, to_yaml,
};
use crate::spec::{
    Budgeting, CalendarUnit, Indicator, MetricQuery, RatioKind, Scope, SloSpec, Window,
};

/// What an import produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// Valid sloscope specs.
    pub specs: Vec<SloSpec>,
    /// What could not be carried over, each saying which object and why.
    pub unmapped: Vec<String>,
    /// What was carried over with a change worth knowing: a name made valid, a default filled
    /// in, an object that sloscope does not need.
    pub notes: Vec<String>,
}

/// Converts every OpenSLO v1 and Sloth document of a YAML file. `source_name` names the file
/// in messages.
pub fn import(source_name: &str, text: &str) -> ImportReport {
    let mut importer = Importer {
        source_name: source_name.to_string(),
        report: ImportReport::default(),
        used_names: HashMap::new(),
    };
    let documents = match yaml::load_documents(source_name, text) {
        Ok(documents) => documents,
        Err(error) => {
            importer.report.unmapped.push(error.to_string());
            return importer.report;
        }
    };
    let mut objects = OpenSloObjects::default();
    for document in &documents {
        importer.classify(document, &mut objects);
    }
    for document in objects.slos.clone() {
        importer.openslo_slo(document, &mut objects);
    }
    for (kind, names) in [
        ("SLI", objects.slis.keys().collect::<Vec<_>>()),
        ("AlertPolicy", objects.policies.keys().collect()),
        ("AlertCondition", objects.conditions.keys().collect()),
    ] {
        let mut unused: Vec<&&String> = names
            .iter()
            .filter(|name| !objects.used.contains(&(kind, (**name).clone())))
            .collect();
        unused.sort();
        for name in unused {
            importer.report.notes.push(format!(
                "{kind} {name}: no SLO in the file uses it; nothing to import"
            ));
        }
    }
    importer.report
}

/// OpenSLO objects by kind and name, for references.
#[derive(Default)]
struct OpenSloObjects<'a> {
    slos: Vec<&'a Node>,
    slis: HashMap<String, &'a Node>,
    policies: HashMap<String, &'a Node>,
    conditions: HashMap<String, &'a Node>,
    used: HashSet<(&'static str, String)>,
}

/// A spec on its way out, with the name of what it came from for messages.
struct Candidate {
    spec: SloSpec,
    subject: String,
}

struct Importer {
    source_name: String,
    report: ImportReport,
    /// Names of the specs produced so far, with their subject.
    used_names: HashMap<String, String>,
}

const OPENSLO_V1: &str = "openslo/v1";

impl Importer {
    fn unmapped(&mut self, subject: &str, reason: impl AsRef<str>) {
        self.report
            .unmapped
            .push(format!("{subject}: {}", reason.as_ref()));
    }

    fn note(&mut self, subject: &str, note: impl AsRef<str>) {
        self.report
            .notes
            .push(format!("{subject}: {}", note.as_ref()));
    }

    /// Reports every key of `node` that the importer does not read.
    fn unknown_fields(&mut self, subject: &str, node: Option<&Node>, path: &str, known: &[&str]) {
        let Some(node) = node else { return };
        for (key, _) in node.keys() {
            if !known.contains(&key.as_str()) {
                self.unmapped(
                    subject,
                    format!(
                        "field `{}` is not known to the importer; ignored",
                        yaml::join(path, &key)
                    ),
                );
            }
        }
    }

    fn classify<'a>(&mut self, document: &'a Node, objects: &mut OpenSloObjects<'a>) {
        let where_ = format!("document at line {}", document.pos.line);
        if document.as_map().is_none() {
            self.unmapped(
                &where_,
                format!("a spec document is a mapping, got {}", document.describe()),
            );
            return;
        }
        let api_version = document.get("apiVersion").and_then(Node::as_str);
        let kind = document.get("kind").and_then(Node::as_str).unwrap_or("");
        if let Some(version) = document.get("version").and_then(Node::as_str) {
            if version == "prometheus/v1" {
                self.sloth(document, "", &where_);
            } else {
                self.unmapped(
                    &where_,
                    format!("Sloth spec version `{version}` is not supported; only prometheus/v1"),
                );
            }
            return;
        }
        match api_version {
            Some(OPENSLO_V1) => {
                let name = metadata_name(document);
                let Some(name) = name else {
                    self.unmapped(
                        &where_,
                        format!("OpenSLO {kind} has no metadata.name; it cannot be referenced or named"),
                    );
                    return;
                };
                let table = match kind {
                    "SLO" => {
                        objects.slos.push(document);
                        return;
                    }
                    "SLI" => &mut objects.slis,
                    "AlertPolicy" => &mut objects.policies,
                    "AlertCondition" => &mut objects.conditions,
                    "Service" => {
                        self.note(
                            &format!("Service {name}"),
                            "ignored: sloscope knows services from the telemetry they send (`service.name`)",
                        );
                        return;
                    }
                    "DataSource" => {
                        self.note(
                            &format!("DataSource {name}"),
                            "ignored: queries that map read the metrics sent to sloscope",
                        );
                        return;
                    }
                    "AlertNotificationTarget" => {
                        self.unmapped(
                            &format!("AlertNotificationTarget {name}"),
                            "notification targets are configured in sloscope's notifier (webhook, Slack, PagerDuty, Alertmanager), not in SLO specs",
                        );
                        return;
                    }
                    other => {
                        self.unmapped(
                            &where_,
                            format!("OpenSLO kind `{other}` is not supported; SLO, SLI, AlertPolicy and AlertCondition are"),
                        );
                        return;
                    }
                };
                if table.insert(name.clone(), document).is_some() {
                    self.unmapped(
                        &format!("{kind} {name}"),
                        "defined twice in the file; the last definition is used",
                    );
                }
            }
            Some(other) if other.starts_with("openslo/") => self.unmapped(
                &where_,
                format!("apiVersion `{other}` is not supported; only openslo/v1"),
            ),
            Some("sloth.slok.dev/v1") if kind == "PrometheusServiceLevel" => {
                self.unknown_fields(&where_, Some(document), "", &["apiVersion", "kind", "metadata", "spec"]);
                match document.get("spec") {
                    Some(spec) => self.sloth(spec, "spec", &where_),
                    None => self.unmapped(&where_, "PrometheusServiceLevel has no spec"),
                }
            }
            Some(parse::API_VERSION) => {
                let mut report = Report::new(&self.source_name);
                if let Some((spec, _)) = parse::spec_from_document(document, &mut report) {
                    let subject = format!("SLO {}", spec.name);
                    self.finish(Candidate { spec, subject });
                }
                self.report
                    .unmapped
                    .extend(report.errors.iter().map(ToString::to_string));
            }
            _ => self.unmapped(
                &where_,
                "neither OpenSLO v1 (`apiVersion: openslo/v1`) nor Sloth (`version: prometheus/v1`)",
            ),
        }
    }

    /// Validates a converted spec by writing and reading it back, and keeps names unique.
    fn finish(&mut self, mut candidate: Candidate) {
        let subject = candidate.subject.clone();
        let spec = &mut candidate.spec;
        // A threshold above 1 / (1 - objective) can never be reached.
        let highest = 1.0 / (1.0 - spec.objective);
        let (reachable, unreachable): (Vec<BurnRule>, Vec<BurnRule>) = spec
            .alerting
            .burn_rules
            .drain(..)
            .partition(|rule| rule.burn_rate <= highest * (1.0 + 1e-9));
        spec.alerting.burn_rules = reachable;
        for rule in unreachable {
            let severity = match rule.severity {
                Severity::Page => "page",
                Severity::Ticket => "ticket",
                Severity::Warning => "warning",
            };
            self.unmapped(
                &subject,
                format!(
                    "the {severity} rule at {}x over {}/{} can never fire with objective {}: when every event is bad the budget burns at {}x; dropped",
                    rule.burn_rate,
                    window_label(rule.long_minutes),
                    window_label(rule.short_minutes),
                    parse::percent_text(spec.objective),
                    (highest * 10_000.0).round() / 10_000.0
                ),
            );
        }
        if let Some(other) = self.used_names.get(&spec.name) {
            let reason = format!(
                "SLO name `{}` is already used by {other}; rename one of them",
                spec.name
            );
            self.unmapped(&subject, reason);
            return;
        }
        match parse_specs(&self.source_name, &to_yaml(spec)) {
            Ok(mut specs) if specs.len() == 1 => {
                let spec = specs.remove(0);
                self.used_names.insert(spec.name.clone(), subject);
                self.report.specs.push(spec);
            }
            Ok(_) => self.unmapped(&subject, "the converted SLO did not read back as one spec"),
            Err(errors) => {
                let reasons: Vec<String> = errors
                    .errors
                    .iter()
                    .map(|error| format!("{}: {}", error.field, error.message))
                    .collect();
                self.unmapped(
                    &subject,
                    format!("the converted SLO is not valid: {}", reasons.join("; ")),
                );
            }
        }
    }

    // ---- OpenSLO ----

    fn openslo_slo<'a>(&mut self, document: &'a Node, objects: &mut OpenSloObjects<'a>) {
        let Some(raw_name) = metadata_name(document) else {
            return;
        };
        let subject = format!("SLO {raw_name}");
        self.unknown_fields(
            &subject,
            Some(document),
            "",
            &["apiVersion", "kind", "metadata", "spec"],
        );
        let metadata = document.get("metadata");
        self.unknown_fields(
            &subject,
            metadata,
            "metadata",
            &["name", "displayName", "labels", "annotations"],
        );
        let Some(spec) = document.get("spec") else {
            self.unmapped(&subject, "spec is missing");
            return;
        };
        self.unknown_fields(
            &subject,
            Some(spec),
            "spec",
            &[
                "description",
                "service",
                "indicator",
                "indicatorRef",
                "timeWindow",
                "budgetingMethod",
                "objectives",
                "alertPolicies",
            ],
        );
        let name = self.sloscope_name(&subject, &raw_name);
        let labels = self.labels(
            &subject,
            metadata.and_then(|metadata| metadata.get("labels")),
        );
        if metadata
            .and_then(|metadata| metadata.get("annotations"))
            .is_some()
        {
            self.note(&subject, "metadata.annotations are not carried over");
        }
        let description = spec
            .get("description")
            .or_else(|| metadata.and_then(|metadata| metadata.get("displayName")))
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let service = spec.get("service").and_then(Node::as_str).map(String::from);
        // Without a window the SLO cannot be imported, but the rest is still checked so that
        // every reason is reported at once.
        let notes_before = self.report.notes.len();
        let specs_before = self.report.specs.len();
        let window = self.openslo_window(&subject, spec.get("timeWindow"));
        let importable = window.is_some();
        let window = window.unwrap_or(Window::Rolling { days: 30 });
        let method = match spec.get("budgetingMethod").and_then(Node::as_str) {
            Some(method) => method.to_string(),
            None => {
                self.note(&subject, "no budgetingMethod: Occurrences assumed");
                "Occurrences".to_string()
            }
        };
        let slo_indicator = self.resolve_indicator(&subject, spec, objects);
        let policy = self.openslo_policy(
            &subject,
            spec.get("alertPolicies"),
            objects,
            window.period_minutes(),
        );
        let Some(objectives) = spec.get("objectives").and_then(Node::as_seq) else {
            self.unmapped(
                &subject,
                "spec.objectives is missing; an SLO needs a target",
            );
            return;
        };
        if objectives.is_empty() {
            self.unmapped(&subject, "spec.objectives is empty; an SLO needs a target");
            return;
        }
        let mut suffixes_used = HashSet::new();
        for (position, objective) in objectives.iter().enumerate() {
            let objective_path = yaml::index("spec.objectives", position);
            self.unknown_fields(
                &subject,
                Some(objective),
                &objective_path,
                &[
                    "displayName",
                    "op",
                    "value",
                    "target",
                    "targetPercent",
                    "timeSliceTarget",
                    "timeSliceWindow",
                    "indicator",
                    "indicatorRef",
                    "compositeWeight",
                ],
            );
            if objective.get("compositeWeight").is_some() {
                self.note(&subject, format!("{objective_path}.compositeWeight is ignored: sloscope has no composite SLOs"));
            }
            // One SLO per objective; several get a suffix from their display name or position.
            let spec_name = if objectives.len() == 1 {
                name.clone()
            } else {
                let display = objective
                    .get("displayName")
                    .and_then(Node::as_str)
                    .map(slug)
                    .filter(|suffix| !suffix.is_empty() && !suffixes_used.contains(suffix));
                let suffix = display.unwrap_or_else(|| (position + 1).to_string());
                suffixes_used.insert(suffix.clone());
                trim_name(&format!("{name}-{suffix}"))
            };
            let objective_subject = format!("SLO {spec_name}");
            let Some(target) =
                self.objective_target(&objective_subject, objective, &objective_path)
            else {
                continue;
            };
            let Some(budgeting) =
                self.openslo_budgeting(&objective_subject, &method, objective, &objective_path)
            else {
                continue;
            };
            let indicator_source = if objective.get("indicator").is_some()
                || objective.get("indicatorRef").is_some()
            {
                self.resolve_indicator(&objective_subject, objective, objects)
            } else {
                slo_indicator.clone()
            };
            let Some(sli) = indicator_source else {
                let declared = |node: &Node| {
                    node.get("indicator").is_some() || node.get("indicatorRef").is_some()
                };
                if !declared(spec) && !declared(objective) {
                    self.unmapped(
                        &objective_subject,
                        "no indicator: spec.indicator or spec.indicatorRef is needed",
                    );
                }
                continue;
            };
            let mapped = match self.map_sli(&sli, objective, &objective_path) {
                Ok(mapped) => mapped,
                Err(reasons) => {
                    for reason in reasons {
                        self.unmapped(&objective_subject, reason);
                    }
                    continue;
                }
            };
            for note in &mapped.notes {
                self.note(&objective_subject, note);
            }
            let Some(service) = mapped.service.clone().or_else(|| service.clone()) else {
                self.unmapped(&objective_subject, "spec.service is missing");
                continue;
            };
            if let (Some(from_source), Some(declared)) = (&mapped.service, &service_of(spec))
                && from_source != declared
            {
                self.note(
                    &objective_subject,
                    format!("the sloscope metric source names service `{from_source}`, spec.service `{declared}`; the source wins"),
                );
            }
            if !importable {
                continue;
            }
            self.finish(Candidate {
                spec: SloSpec {
                    name: spec_name,
                    description: description.clone(),
                    service,
                    environment: mapped.environment,
                    scope: mapped.scope,
                    indicator: mapped.indicator,
                    objective: target,
                    window: window.clone(),
                    budgeting,
                    alerting: policy.clone(),
                    exclusions: Vec::new(),
                    labels: labels.clone(),
                },
                subject: objective_subject,
            });
        }
        // Notes about an SLO that was not imported at all would only mislead.
        if self.report.specs.len() == specs_before {
            self.report.notes.truncate(notes_before);
        }
    }

    /// A valid sloscope name for `raw`, with a note when it had to change.
    fn sloscope_name(&mut self, subject: &str, raw: &str) -> String {
        let name = trim_name(&slug(raw));
        let name = if name.is_empty() {
            "slo".to_string()
        } else {
            name
        };
        if name != raw {
            self.note(
                subject,
                format!("renamed `{name}`: names are a-z, 0-9 and `-`"),
            );
        }
        name
    }

    fn labels(&mut self, subject: &str, node: Option<&Node>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        let Some(node) = node else {
            return labels;
        };
        let Some(entries) = node.as_map() else {
            self.unmapped(
                subject,
                format!("labels must be a mapping, got {}", node.describe()),
            );
            return labels;
        };
        for (key, value) in entries {
            let key = key.scalar_text().unwrap_or_default();
            if let Some(text) = value.scalar_text() {
                labels.insert(key, text);
            } else if let Some(items) = value.as_seq() {
                // OpenSLO allows several values per label; sloscope labels hold one.
                let texts: Vec<String> = items.iter().filter_map(Node::scalar_text).collect();
                self.note(
                    subject,
                    format!("label `{key}` has several values; joined with `,`"),
                );
                labels.insert(key, texts.join(","));
            } else {
                self.unmapped(
                    subject,
                    format!("label `{key}` is {}, not text; ignored", value.describe()),
                );
            }
        }
        labels
    }

    fn openslo_window(&mut self, subject: &str, node: Option<&Node>) -> Option<Window> {
        let Some(node) = node else {
            self.note(subject, "no timeWindow: a rolling 30d window assumed");
            return Some(Window::Rolling { days: 30 });
        };
        let item = match node.as_seq() {
            Some([item]) => item,
            Some(items) => {
                self.unmapped(
                    subject,
                    format!(
                        "timeWindow has {} entries; OpenSLO v1 allows exactly one",
                        items.len()
                    ),
                );
                return None;
            }
            None => node,
        };
        self.unknown_fields(
            subject,
            Some(item),
            "spec.timeWindow[0]",
            &["duration", "isRolling", "calendar"],
        );
        let Some(duration) = item.get("duration").and_then(Node::scalar_text) else {
            self.unmapped(subject, "timeWindow.duration is missing");
            return None;
        };
        let calendar = item.get("calendar");
        let rolling = item
            .get("isRolling")
            .and_then(Node::as_bool)
            .unwrap_or(calendar.is_none());
        let length = match openslo_duration(&duration) {
            Ok(length) => length,
            Err(reason) => {
                self.unmapped(subject, format!("timeWindow.duration: {reason}"));
                return None;
            }
        };
        if rolling {
            let days = match length {
                OpenSloDuration::Seconds(seconds) if seconds % 86_400 == 0 => seconds / 86_400,
                OpenSloDuration::Months(months) => {
                    self.note(
                        subject,
                        format!(
                            "rolling window {duration} read as {}d (30 days a month)",
                            months * 30
                        ),
                    );
                    months * 30
                }
                _ => {
                    self.unmapped(
                        subject,
                        format!("rolling window {duration} is not a whole number of days (1-400)"),
                    );
                    return None;
                }
            };
            if !(1..=400).contains(&days) {
                self.unmapped(
                    subject,
                    format!("rolling window {duration} is not 1-400 days"),
                );
                return None;
            }
            return Some(Window::Rolling { days: days as u32 });
        }
        let unit = match length {
            OpenSloDuration::Seconds(seconds) if seconds == 7 * 86_400 => CalendarUnit::Week,
            OpenSloDuration::Months(1) => CalendarUnit::Month,
            _ => {
                self.unmapped(
                    subject,
                    format!("calendar window {duration} cannot be mapped: sloscope has calendar weeks (1w) and months (1M)"),
                );
                return None;
            }
        };
        self.unknown_fields(
            subject,
            calendar,
            "spec.timeWindow[0].calendar",
            &["startTime", "timeZone"],
        );
        let timezone = match calendar
            .and_then(|calendar| calendar.get("timeZone"))
            .and_then(Node::as_str)
        {
            Some(zone) if is_known_timezone(zone) => zone.to_string(),
            Some(zone) => {
                self.unmapped(
                    subject,
                    format!("unknown time zone `{zone}` in timeWindow.calendar.timeZone"),
                );
                return None;
            }
            None => {
                self.note(subject, "calendar window without timeZone: UTC assumed");
                "UTC".to_string()
            }
        };
        if let Some(start) = calendar
            .and_then(|calendar| calendar.get("startTime"))
            .and_then(Node::scalar_text)
        {
            let aligned = start
                .replacen(' ', "T", 1)
                .parse::<jiff::civil::DateTime>()
                .is_ok_and(|start| {
                    let midnight = start.time() == jiff::civil::Time::midnight();
                    match unit {
                        CalendarUnit::Week => {
                            midnight && start.weekday() == jiff::civil::Weekday::Monday
                        }
                        CalendarUnit::Month => midnight && start.day() == 1,
                    }
                });
            if !aligned {
                self.unmapped(
                    subject,
                    format!("calendar startTime `{start}` is not used: sloscope's calendar weeks start on Monday and months on the 1st, at 00:00 in the time zone"),
                );
            }
        }
        Some(Window::Calendar { unit, timezone })
    }

    fn objective_target(&mut self, subject: &str, objective: &Node, path: &str) -> Option<f64> {
        let target = objective.get("target").and_then(Node::as_f64);
        let percent = objective.get("targetPercent").and_then(Node::as_f64);
        let fraction = match (target, percent) {
            (Some(_), Some(_)) => {
                self.unmapped(
                    subject,
                    format!("{path} has both target and targetPercent; OpenSLO allows one"),
                );
                return None;
            }
            (Some(target), None) => target,
            (None, Some(percent)) => fraction_of_percent(percent),
            (None, None) => {
                self.unmapped(
                    subject,
                    format!("{path} has neither target nor targetPercent"),
                );
                return None;
            }
        };
        if !(fraction > 0.0 && fraction < 1.0) {
            self.unmapped(
                subject,
                format!("{path}: a target must be between 0 and 1 (targetPercent between 0 and 100), exclusive"),
            );
            return None;
        }
        Some(fraction)
    }

    fn openslo_budgeting(
        &mut self,
        subject: &str,
        method: &str,
        objective: &Node,
        path: &str,
    ) -> Option<Budgeting> {
        match method {
            "Occurrences" => Some(Budgeting::Occurrences),
            "Timeslices" => {
                let target = objective.get("timeSliceTarget").and_then(Node::as_f64);
                let window = objective.get("timeSliceWindow");
                let (Some(target), Some(window)) = (target, window) else {
                    self.unmapped(
                        subject,
                        format!("{path}: budgetingMethod Timeslices needs timeSliceTarget and timeSliceWindow"),
                    );
                    return None;
                };
                if !(target > 0.0 && target <= 1.0) {
                    self.unmapped(
                        subject,
                        format!(
                            "{path}.timeSliceTarget must be above 0 and at most 1, got {target}"
                        ),
                    );
                    return None;
                }
                let minutes = match window.as_str().map(parse_duration_seconds) {
                    Some(Ok(seconds)) if seconds % 60 == 0 && (60..=15 * 60).contains(&seconds) => {
                        seconds / 60
                    }
                    _ => {
                        self.unmapped(
                            subject,
                            format!(
                                "{path}.timeSliceWindow {} cannot be mapped: sloscope slices are 1m to 15m, written as a duration",
                                window.scalar_text().unwrap_or_else(|| window.describe().into_owned())
                            ),
                        );
                        return None;
                    }
                };
                Some(Budgeting::Timeslices {
                    slice_minutes: minutes as u32,
                    slice_target: target,
                })
            }
            "RatioTimeslices" => {
                self.unmapped(
                    subject,
                    "budgetingMethod RatioTimeslices (the average of per-slice ratios) is not supported; read as Occurrences (the ratio of sums), which weighs busy slices more",
                );
                Some(Budgeting::Occurrences)
            }
            other => {
                self.unmapped(
                    subject,
                    format!("budgetingMethod `{other}` is not Occurrences, Timeslices or RatioTimeslices"),
                );
                None
            }
        }
    }

    /// The SLI of an SLO or objective: inline (`indicator`) or by name (`indicatorRef`).
    fn resolve_indicator<'a>(
        &mut self,
        subject: &str,
        holder: &'a Node,
        objects: &mut OpenSloObjects<'a>,
    ) -> Option<SliSource<'a>> {
        if let Some(inline) = holder.get("indicator") {
            let name = metadata_name(inline);
            let label = match &name {
                Some(name) => format!("SLI {name}"),
                None => "inline SLI".to_string(),
            };
            // `indicator: {metadata, spec: {...}}`; a bare `{ratioMetric: ...}` is accepted too.
            let body = inline.get("spec").unwrap_or(inline);
            return Some(SliSource { label, body });
        }
        let name = holder.get("indicatorRef").and_then(Node::as_str)?;
        let Some(document) = objects.slis.get(name).copied() else {
            self.unmapped(
                subject,
                format!("indicatorRef `{name}` names no SLI in this file"),
            );
            return None;
        };
        objects.used.insert(("SLI", name.to_string()));
        let Some(body) = document.get("spec") else {
            self.unmapped(subject, format!("SLI {name} has no spec"));
            return None;
        };
        Some(SliSource {
            label: format!("SLI {name}"),
            body,
        })
    }

    fn map_sli(
        &mut self,
        sli: &SliSource,
        objective: &Node,
        objective_path: &str,
    ) -> Result<Mapped, Vec<String>> {
        let label = &sli.label;
        let mut reasons = Vec::new();
        for (key, _) in sli.body.keys() {
            if !["description", "thresholdMetric", "ratioMetric"].contains(&key.as_str()) {
                reasons.push(format!(
                    "{label} field `{key}` is not known to the importer; ignored"
                ));
            }
        }
        let result = match (sli.body.get("ratioMetric"), sli.body.get("thresholdMetric")) {
            (Some(ratio), None) => map_ratio_metric(label, ratio, objective, objective_path),
            (None, Some(threshold)) => {
                map_threshold_metric(label, threshold, objective, objective_path)
            }
            (Some(_), Some(_)) => Err(vec![format!(
                "{label} has both ratioMetric and thresholdMetric; OpenSLO allows one"
            )]),
            (None, None) => Err(vec![format!(
                "{label} has neither ratioMetric nor thresholdMetric"
            )]),
        };
        match result {
            Ok(mapped) if reasons.is_empty() => Ok(mapped),
            Ok(mapped) => {
                // Unknown SLI fields are reported, but do not stop the SLO.
                self.report.unmapped.extend(reasons);
                Ok(mapped)
            }
            Err(mut errors) => {
                errors.extend(reasons);
                Err(errors)
            }
        }
    }

    fn openslo_policy<'a>(
        &mut self,
        subject: &str,
        list: Option<&'a Node>,
        objects: &mut OpenSloObjects<'a>,
        period_minutes: i64,
    ) -> AlertPolicy {
        let mut policy = AlertPolicy::workbook(period_minutes);
        let Some(list) = list else {
            self.note(
                subject,
                format!(
                    "no alertPolicies: the SRE Workbook rules for a {} window apply",
                    window_label(period_minutes)
                ),
            );
            return policy;
        };
        let Some(items) = list.as_seq() else {
            self.unmapped(
                subject,
                format!("alertPolicies must be a list, got {}", list.describe()),
            );
            return policy;
        };
        let mut rules: Vec<(BurnRule, String)> = Vec::new();
        let mut pendings: Vec<i64> = Vec::new();
        for item in items {
            let Some((policy_name, policy_document)) = self.resolve_object(
                subject,
                item,
                "alertPolicyRef",
                "AlertPolicy",
                &objects.policies,
            ) else {
                continue;
            };
            objects.used.insert(("AlertPolicy", policy_name.clone()));
            let policy_subject = format!("{subject}: AlertPolicy {policy_name}");
            let Some(spec) = policy_document.get("spec") else {
                self.report
                    .unmapped
                    .push(format!("{policy_subject}: spec is missing"));
                continue;
            };
            self.unknown_fields(
                &policy_subject,
                Some(spec),
                "spec",
                &[
                    "description",
                    "alertWhenNoData",
                    "alertWhenResolved",
                    "alertWhenBreaching",
                    "conditions",
                    "notificationTargets",
                ],
            );
            for (field, reason) in [
                (
                    "alertWhenNoData",
                    "cannot be turned off: sloscope raises a no-data ticket after 15m without events",
                ),
                (
                    "alertWhenResolved",
                    "cannot be turned off: sloscope's notifier always says when an alert resolves",
                ),
                (
                    "alertWhenBreaching",
                    "cannot be turned off: burn-rate rules fire while the budget burns too fast",
                ),
            ] {
                if spec.get(field).and_then(Node::as_bool) == Some(false) {
                    self.report
                        .unmapped
                        .push(format!("{policy_subject}: {field}: false {reason}"));
                }
            }
            if let Some(targets) = spec.get("notificationTargets") {
                let count = targets.as_seq().map_or(1, <[Node]>::len);
                self.report.unmapped.push(format!(
                    "{policy_subject}: {count} notification target(s) not carried over: configure notifications in sloscope's notifier"
                ));
            }
            let conditions = spec
                .get("conditions")
                .and_then(Node::as_seq)
                .unwrap_or_default();
            if conditions.is_empty() {
                self.report
                    .unmapped
                    .push(format!("{policy_subject}: no conditions"));
            }
            for condition_item in conditions {
                let Some((condition_name, condition_document)) = self.resolve_object(
                    &policy_subject,
                    condition_item,
                    "conditionRef",
                    "AlertCondition",
                    &objects.conditions,
                ) else {
                    continue;
                };
                objects
                    .used
                    .insert(("AlertCondition", condition_name.clone()));
                let condition_subject =
                    format!("{policy_subject}: AlertCondition {condition_name}");
                match burn_rule_of_condition(condition_document, period_minutes) {
                    Ok((rule, pending)) => {
                        if let Some((_, first)) =
                            rules.iter().find(|(other, _)| other.name() == rule.name())
                        {
                            self.report.unmapped.push(format!(
                                "{condition_subject}: its windows {}/{} are already used by {first}; dropped",
                                window_label(rule.long_minutes),
                                window_label(rule.short_minutes)
                            ));
                            continue;
                        }
                        pendings.push(pending);
                        rules.push((rule, format!("AlertCondition {condition_name}")));
                    }
                    Err(reason) => self
                        .report
                        .unmapped
                        .push(format!("{condition_subject}: {reason}")),
                }
            }
        }
        if rules.is_empty() {
            self.note(
                subject,
                "no alert condition could be mapped: the SRE Workbook rules apply",
            );
            return policy;
        }
        self.note(
            subject,
            "each OpenSLO burn-rate condition becomes a multi-window rule: its lookbackWindow must burn, and so must a short window of 1/12 of it (5m for 1h), so that alerts stop soon after the burn does",
        );
        let pending = pendings.iter().copied().max().unwrap_or(0);
        if pendings.iter().any(|other| *other != pending) {
            self.note(
                subject,
                format!("alertAfter differs between conditions; sloscope waits the same time for every rule of an SLO: {}", window_label(pending)),
            );
        }
        policy.burn_rules = rules.into_iter().map(|(rule, _)| rule).collect();
        policy.pending_minutes = pending;
        policy
    }

    /// An object given inline (`{kind, metadata, spec}`) or by reference (`{refKey: name}`).
    fn resolve_object<'a>(
        &mut self,
        subject: &str,
        item: &'a Node,
        ref_key: &str,
        kind: &str,
        table: &HashMap<String, &'a Node>,
    ) -> Option<(String, &'a Node)> {
        if let Some(name) = item.get(ref_key).and_then(Node::as_str) {
            return match table.get(name) {
                Some(document) => Some((name.to_string(), *document)),
                None => {
                    self.unmapped(
                        subject,
                        format!("{ref_key} `{name}` names no {kind} in this file"),
                    );
                    None
                }
            };
        }
        if item.get("spec").is_some() {
            let name =
                metadata_name(item).unwrap_or_else(|| format!("(inline, line {})", item.pos.line));
            return Some((name, item));
        }
        self.unmapped(
            subject,
            format!(
                "an entry at line {} is neither an inline {kind} nor a {ref_key}",
                item.pos.line
            ),
        );
        None
    }

    // ---- Sloth ----

    /// A Sloth `prometheus/v1` spec, or the `spec` of its custom resource (`path` "spec").
    fn sloth(&mut self, root: &Node, path: &str, where_: &str) {
        let known: &[&str] = if path.is_empty() {
            &["version", "service", "labels", "slos"]
        } else {
            &["service", "labels", "slos"]
        };
        self.unknown_fields(where_, Some(root), path, known);
        let Some(service) = root.get("service").and_then(Node::as_str) else {
            self.unmapped(where_, "Sloth spec without `service`");
            return;
        };
        let common_labels = self.labels(&format!("Sloth service {service}"), root.get("labels"));
        let Some(slos) = root.get("slos").and_then(Node::as_seq) else {
            self.unmapped(where_, "Sloth spec without `slos`");
            return;
        };
        for slo in slos {
            self.sloth_slo(service, &common_labels, slo);
        }
    }

    fn sloth_slo(&mut self, service: &str, common_labels: &BTreeMap<String, String>, slo: &Node) {
        let Some(raw_name) = slo.get("name").and_then(Node::as_str) else {
            self.unmapped(
                &format!("Sloth SLO at line {}", slo.pos.line),
                "has no name",
            );
            return;
        };
        let original = format!("{service}-{raw_name}");
        let name = trim_name(&slug(&original));
        let subject = format!("SLO {name}");
        if name != original {
            self.note(
                &subject,
                format!("named from Sloth service `{service}` and SLO `{raw_name}`"),
            );
        }
        self.unknown_fields(
            &subject,
            Some(slo),
            "",
            &[
                "name",
                "objective",
                "description",
                "labels",
                "sli",
                "alerting",
            ],
        );
        let mut labels = common_labels.clone();
        labels.extend(self.labels(&subject, slo.get("labels")));
        let Some(objective_percent) = slo.get("objective").and_then(Node::as_f64) else {
            self.unmapped(&subject, "objective is missing");
            return;
        };
        if !(objective_percent > 0.0 && objective_percent < 100.0) {
            self.unmapped(
                &subject,
                format!("objective {objective_percent} is not between 0 and 100"),
            );
            return;
        }
        let indicator = match slo.get("sli") {
            Some(sli) => sloth_indicator(sli),
            None => Err(vec!["sli is missing".to_string()]),
        };
        let indicator = match indicator {
            Ok(indicator) => indicator,
            Err(reasons) => {
                for reason in reasons {
                    self.unmapped(&subject, reason);
                }
                return;
            }
        };
        if let Indicator::MetricRatio { numerator, .. } = &indicator {
            self.note(&subject, metrics_note(&numerator.metric));
        }
        let mut burn_rules = sloth_default_rules();
        if let Some(alerting) = slo.get("alerting") {
            self.unknown_fields(
                &subject,
                Some(alerting),
                "alerting",
                &[
                    "name",
                    "labels",
                    "annotations",
                    "page_alert",
                    "ticket_alert",
                ],
            );
            let mut carried_elsewhere = Vec::new();
            for field in ["name", "labels", "annotations"] {
                if alerting.get(field).is_some() {
                    carried_elsewhere.push(format!("alerting.{field}"));
                }
            }
            for (key, severity) in [
                ("page_alert", Severity::Page),
                ("ticket_alert", Severity::Ticket),
            ] {
                let Some(alert) = alerting.get(key) else {
                    continue;
                };
                self.unknown_fields(
                    &subject,
                    Some(alert),
                    &format!("alerting.{key}"),
                    &["disable", "labels", "annotations"],
                );
                if alert.get("disable").and_then(Node::as_bool) == Some(true) {
                    burn_rules.retain(|rule| rule.severity != severity);
                }
                for field in ["labels", "annotations"] {
                    if alert.get(field).is_some() {
                        carried_elsewhere.push(format!("alerting.{key}.{field}"));
                    }
                }
            }
            if !carried_elsewhere.is_empty() {
                self.unmapped(
                    &subject,
                    format!("{} not carried over: sloscope names its alerts after the SLO and rule, and routes them in its notifier", carried_elsewhere.join(", ")),
                );
            }
        }
        let alerting = AlertPolicy {
            burn_rules,
            ..AlertPolicy::workbook(30 * 24 * 60)
        };
        self.finish(Candidate {
            spec: SloSpec {
                name,
                description: slo
                    .get("description")
                    .and_then(Node::as_str)
                    .unwrap_or_default()
                    .to_string(),
                service: service.to_string(),
                environment: None,
                scope: Scope::Service,
                indicator,
                objective: fraction_of_percent(objective_percent),
                // Sloth's SLO period is 30 days unless its generator is told otherwise.
                window: Window::Rolling { days: 30 },
                budgeting: Budgeting::Occurrences,
                alerting,
                exclusions: Vec::new(),
                labels,
            },
            subject,
        });
    }
}

/// Sloth's default alerts for a 30-day period: page at 14.4x over 1h/5m and 6x over 6h/30m,
/// ticket at 3x over 1d/2h and 1x over 3d/6h.
pub fn sloth_default_rules() -> Vec<BurnRule> {
    let rule = |severity, burn_rate, long_minutes, short_minutes| BurnRule {
        severity,
        burn_rate,
        long_minutes,
        short_minutes,
    };
    vec![
        rule(Severity::Page, 14.4, 60, 5),
        rule(Severity::Page, 6.0, 6 * 60, 30),
        rule(Severity::Ticket, 3.0, 24 * 60, 2 * 60),
        rule(Severity::Ticket, 1.0, 3 * 24 * 60, 6 * 60),
    ]
}

fn sloth_indicator(sli: &Node) -> Result<Indicator, Vec<String>> {
    let mut reasons = Vec::new();
    for (key, _) in sli.keys() {
        if !["events", "raw", "plugin"].contains(&key.as_str()) {
            reasons.push(format!("field `sli.{key}` is not known to the importer"));
        }
    }
    if let Some(plugin) = sli.get("plugin") {
        let id = plugin.get("id").and_then(Node::as_str).unwrap_or("?");
        reasons.push(format!(
            "SLI plugin `{id}` builds its PromQL inside Sloth; only sum(rate(metric{{label=\"value\"}}[window])) queries over metrics sent to sloscope can be mapped"
        ));
        return Err(reasons);
    }
    if let Some(raw) = sli.get("raw") {
        let query = raw
            .get("error_ratio_query")
            .and_then(Node::as_str)
            .unwrap_or("");
        reasons.push(format!(
            "SLI raw error_ratio_query `{}` is a precomputed ratio; sloscope sums bad and total events, so it needs both queries",
            one_line(query)
        ));
        return Err(reasons);
    }
    let Some(events) = sli.get("events") else {
        reasons.push("sli has none of events, raw, plugin".to_string());
        return Err(reasons);
    };
    let error_query = events.get("error_query").and_then(Node::as_str);
    let total_query = events.get("total_query").and_then(Node::as_str);
    let (Some(error_query), Some(total_query)) = (error_query, total_query) else {
        reasons.push("sli.events needs error_query and total_query".to_string());
        return Err(reasons);
    };
    let bad = map_query("SLI events error_query", error_query);
    let total = map_query("SLI events total_query", total_query);
    match (bad, total) {
        (Ok(numerator), Ok(denominator)) if reasons.is_empty() => Ok(Indicator::MetricRatio {
            numerator,
            denominator,
            numerator_is: RatioKind::Bad,
        }),
        (bad, total) => {
            reasons.extend(bad.err());
            reasons.extend(total.err());
            Err(reasons)
        }
    }
}

/// What an SLI maps to.
struct Mapped {
    indicator: Indicator,
    /// From a sloscope metric source; the SLO's `service` otherwise.
    service: Option<String>,
    environment: Option<String>,
    scope: Scope,
    notes: Vec<String>,
}

#[derive(Clone)]
struct SliSource<'a> {
    label: String,
    body: &'a Node,
}

fn map_ratio_metric(
    label: &str,
    ratio: &Node,
    objective: &Node,
    objective_path: &str,
) -> Result<Mapped, Vec<String>> {
    let mut reasons = Vec::new();
    for (key, _) in ratio.keys() {
        if !["counter", "good", "bad", "total", "raw", "rawType"].contains(&key.as_str()) {
            reasons.push(format!(
                "{label} ratioMetric field `{key}` is not known to the importer"
            ));
        }
    }
    if ratio.get("raw").is_some() {
        reasons.push(format!(
            "{label} ratioMetric raw is a precomputed ratio; sloscope sums good (or bad) and total events, so it needs both"
        ));
        return Err(reasons);
    }
    let (numerator_key, numerator_is) = match (ratio.get("good"), ratio.get("bad")) {
        (Some(_), None) => ("good", RatioKind::Good),
        (None, Some(_)) => ("bad", RatioKind::Bad),
        (Some(_), Some(_)) => {
            reasons.push(format!(
                "{label} ratioMetric has both good and bad; OpenSLO allows one"
            ));
            return Err(reasons);
        }
        (None, None) => {
            reasons.push(format!("{label} ratioMetric has neither good nor bad"));
            return Err(reasons);
        }
    };
    let numerator_node = ratio.get(numerator_key).unwrap_or(ratio);
    let Some(total_node) = ratio.get("total") else {
        reasons.push(format!("{label} ratioMetric has no total"));
        return Err(reasons);
    };
    // A sloscope source describes the whole indicator; the other parts must agree.
    let parts = [(numerator_key, numerator_node), ("total", total_node)];
    let sloscope_specs: Vec<&Node> = parts
        .iter()
        .filter_map(|(_, part)| sloscope_source_spec(part))
        .collect();
    if let Some(first) = sloscope_specs.first() {
        if sloscope_specs.len() != parts.len() {
            reasons.push(format!(
                "{label} ratioMetric mixes a `type: sloscope` source with other sources"
            ));
            return Err(reasons);
        }
        if sloscope_specs.iter().any(|spec| !spec.same_value(first)) {
            reasons.push(format!("{label} ratioMetric has `type: sloscope` sources that differ; one source describes the whole indicator"));
            return Err(reasons);
        }
        return signal_indicator(label, first, objective, objective_path)
            .map_err(|reason| vec![reason]);
    }
    if ratio.get("counter").and_then(Node::as_bool) == Some(false) {
        reasons.push(format!(
            "{label} ratioMetric has counter: false (gauges); sloscope sums counter increases"
        ));
        return Err(reasons);
    }
    let numerator = metric_source_query(
        &format!("{label} ratioMetric {numerator_key}"),
        numerator_node,
    );
    let denominator = metric_source_query(&format!("{label} ratioMetric total"), total_node);
    match (numerator, denominator) {
        (Ok(numerator), Ok(denominator)) if reasons.is_empty() => {
            let notes = vec![metrics_note(&numerator.metric)];
            Ok(Mapped {
                indicator: Indicator::MetricRatio {
                    numerator,
                    denominator,
                    numerator_is,
                },
                service: None,
                environment: None,
                scope: Scope::Service,
                notes,
            })
        }
        (numerator, denominator) => {
            reasons.extend(numerator.err());
            reasons.extend(denominator.err());
            Err(reasons)
        }
    }
}

fn map_threshold_metric(
    label: &str,
    threshold: &Node,
    objective: &Node,
    objective_path: &str,
) -> Result<Mapped, Vec<String>> {
    match sloscope_source_spec(threshold) {
        Some(spec) => {
            signal_indicator(label, spec, objective, objective_path).map_err(|reason| vec![reason])
        }
        None => {
            let query = metric_source_spec(threshold)
                .and_then(|spec| spec.get("query"))
                .and_then(Node::as_str)
                .map(|query| format!(" `{}`", one_line(query)))
                .unwrap_or_default();
            Err(vec![format!(
                "{label} thresholdMetric{query} compares a metric's value with `op` and `value` per time slice; sloscope counts good and bad events, so only a `type: sloscope` source maps"
            )])
        }
    }
}

fn metric_source_spec(part: &Node) -> Option<&Node> {
    part.get("metricSource")?.get("spec")
}

/// The `spec` of a `metricSource` of `type: sloscope`.
fn sloscope_source_spec(part: &Node) -> Option<&Node> {
    let source = part.get("metricSource")?;
    let source_type = source.get("type").and_then(Node::as_str)?;
    source_type
        .eq_ignore_ascii_case("sloscope")
        .then(|| source.get("spec"))
        .flatten()
}

const SLOSCOPE_SOURCE_FIELDS: &[&str] = &[
    "service",
    "environment",
    "operation",
    "remote_service",
    "remote_operation",
    "indicator",
    "threshold_ms",
];

/// A `type: sloscope` source: which of sloscope's own signals the SLI counts.
fn signal_indicator(
    label: &str,
    spec: &Node,
    objective: &Node,
    objective_path: &str,
) -> Result<Mapped, String> {
    for (key, _) in spec.keys() {
        if !SLOSCOPE_SOURCE_FIELDS.contains(&key.as_str()) {
            return Err(format!(
                "{label} sloscope source field `{key}` is unknown; expected {}",
                SLOSCOPE_SOURCE_FIELDS.join(", ")
            ));
        }
    }
    let text = |key: &str| spec.get(key).and_then(Node::scalar_text);
    let service =
        text("service").ok_or_else(|| format!("{label} sloscope source needs `service`"))?;
    let scope = match (
        text("operation"),
        text("remote_service"),
        text("remote_operation"),
    ) {
        (None, None, None) => Scope::Service,
        (Some(operation), None, None) => Scope::Operation { operation },
        (None, Some(remote_service), remote_operation) => Scope::Dependency {
            remote_service,
            remote_operation,
        },
        (Some(_), Some(_), _) => {
            return Err(format!(
                "{label} sloscope source names an operation and a dependency; an SLO covers one"
            ));
        }
        (_, None, Some(_)) => {
            return Err(format!(
                "{label} sloscope source has remote_operation without remote_service"
            ));
        }
    };
    let mut notes = Vec::new();
    let op = objective.get("op").and_then(Node::as_str);
    let value = objective.get("value").and_then(Node::as_f64);
    let indicator = match text("indicator").as_deref() {
        Some("availability") => Indicator::Availability,
        Some("error_rate") => Indicator::ErrorRate,
        Some("latency") => {
            let threshold_ms = match (spec.get("threshold_ms").and_then(Node::as_f64), op, value) {
                (Some(threshold_ms), _, _) => threshold_ms,
                (None, Some("lte" | "lt"), Some(value)) => {
                    notes.push(format!("latency threshold from {objective_path} `op: {}` `value: {value}`, read as milliseconds", op.unwrap_or_default()));
                    value
                }
                (None, Some(other), Some(_)) => {
                    return Err(format!(
                        "{label} latency with {objective_path} `op: {other}`: good requests are the fast ones, so only lte/lt map"
                    ));
                }
                _ => {
                    return Err(format!(
                        "{label} latency needs `threshold_ms` in the source, or `op: lte` and `value` in the objective"
                    ));
                }
            };
            if threshold_ms <= 0.0 || !threshold_ms.is_finite() {
                return Err(format!(
                    "{label} latency threshold {threshold_ms} must be more than 0 ms"
                ));
            }
            Indicator::Latency { threshold_ms }
        }
        Some(other) => {
            return Err(format!(
                "{label} sloscope source indicator `{other}` is not availability, latency or error_rate"
            ));
        }
        None => {
            return Err(format!(
                "{label} sloscope source needs `indicator` (availability, latency or error_rate)"
            ));
        }
    };
    Ok(Mapped {
        indicator,
        service: Some(service),
        environment: text("environment"),
        scope,
        notes,
    })
}

/// A `{metricSource: {type, spec: {query}}}` part as a metric query.
fn metric_source_query(what: &str, part: &Node) -> Result<MetricQuery, String> {
    let Some(source) = part.get("metricSource") else {
        return Err(format!("{what} has no metricSource"));
    };
    let source_type = source.get("type").and_then(Node::as_str);
    let query = source
        .get("spec")
        .and_then(|spec| spec.get("query").or_else(|| spec.get("promql")))
        .and_then(Node::as_str);
    match (source_type, query) {
        (Some(kind), _) if !kind.eq_ignore_ascii_case("prometheus") => Err(format!(
            "{what} comes from a `{kind}` source; only Prometheus queries of the form sum(rate(metric{{label=\"value\"}}[window])) and `type: sloscope` sources can be mapped"
        )),
        (_, Some(query)) => map_query(&format!("{what} query"), query),
        (_, None) => Err(format!("{what} has no spec.query")),
    }
}

/// `sum(rate(metric{label="value"}[window]))` as a metric query, or why not.
fn map_query(what: &str, query: &str) -> Result<MetricQuery, String> {
    promql_metric_query(query).map_err(|why| {
        format!(
            "{what} `{}` is PromQL that cannot be mapped: {why}; only sum(rate(metric{{label=\"value\"}}[window])) over metrics sent to sloscope maps",
            one_line(query)
        )
    })
}

fn metrics_note(metric: &str) -> String {
    format!(
        "reads `{metric}` from the metrics sent to sloscope (OTLP or Prometheus remote write), not from a Prometheus server"
    )
}

/// Parses `sum(rate(<metric>{<label>="<value>", ...}[<range>]))`; `increase` works too, as
/// does a `__name__` matcher instead of the metric name. The range does not matter: sloscope
/// sums counter increases per minute.
pub fn promql_metric_query(query: &str) -> Result<MetricQuery, String> {
    let mut cursor = Cursor {
        text: query,
        position: 0,
    };
    let aggregation = cursor.identifier();
    if aggregation != "sum" {
        return Err(if aggregation.is_empty() {
            "it does not start with sum(".to_string()
        } else {
            format!("`{aggregation}` is not `sum`")
        });
    }
    let grouping = cursor.identifier();
    if !grouping.is_empty() {
        return Err(format!(
            "`sum {grouping} (...)` groups series; sloscope sums them all"
        ));
    }
    cursor.expect('(')?;
    let function = cursor.identifier();
    if function != "rate" && function != "increase" {
        return Err(if function.is_empty() {
            "sum(...) does not hold rate(...) or increase(...)".to_string()
        } else {
            format!("`{function}(...)` is neither rate nor increase")
        });
    }
    cursor.expect('(')?;
    let mut metric = cursor.identifier().to_string();
    let mut labels = BTreeMap::new();
    cursor.skip_whitespace();
    if cursor.peek() == Some('{') {
        cursor.position += 1;
        loop {
            cursor.skip_whitespace();
            if cursor.peek() == Some('}') {
                cursor.position += 1;
                break;
            }
            let matcher_start = cursor.position;
            let label = cursor.identifier().to_string();
            if label.is_empty() {
                return Err(format!(
                    "a label name was expected at `{}`",
                    cursor.rest_preview()
                ));
            }
            cursor.skip_whitespace();
            let operator = ["=~", "!=", "!~", "="]
                .into_iter()
                .find(|operator| cursor.rest().starts_with(operator))
                .ok_or_else(|| format!("a matcher operator was expected after `{label}`"))?;
            cursor.position += operator.len();
            cursor.skip_whitespace();
            let value = cursor.string_literal()?;
            if operator != "=" {
                let matcher = query[matcher_start..cursor.position].trim();
                return Err(format!(
                    "label matcher `{matcher}` uses `{operator}`, not `=`"
                ));
            }
            if label == "__name__" {
                metric = value;
            } else if labels.insert(label.clone(), value).is_some() {
                return Err(format!("label `{label}` is matched twice"));
            }
            cursor.skip_whitespace();
            match cursor.peek() {
                Some(',') => cursor.position += 1,
                Some('}') => {}
                _ => {
                    return Err(format!(
                        "`,` or `}}` was expected at `{}`",
                        cursor.rest_preview()
                    ));
                }
            }
        }
    }
    if metric.is_empty() {
        return Err("no metric name".to_string());
    }
    if !is_valid_metric_name(&metric) {
        return Err(format!("`{metric}` is not a metric name"));
    }
    cursor.expect('[')?;
    let Some(range_length) = cursor.rest().find(']') else {
        return Err("the range `[...]` is not closed".to_string());
    };
    cursor.position += range_length + 1;
    cursor.expect(')')?;
    cursor.expect(')')?;
    cursor.skip_whitespace();
    if !cursor.rest().is_empty() {
        return Err(format!(
            "`{}` follows sum(rate(...))",
            cursor.rest_preview()
        ));
    }
    Ok(MetricQuery { metric, labels })
}

struct Cursor<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.position..]
    }

    fn rest_preview(&self) -> String {
        one_line(self.rest()).chars().take(40).collect()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.position += rest.len() - rest.trim_start().len();
    }

    /// A name of letters, digits, `_` and `:` (possibly empty), after whitespace.
    fn identifier(&mut self) -> &'a str {
        self.skip_whitespace();
        let rest = self.rest();
        let length = rest
            .char_indices()
            .find(|(offset, character)| {
                !(character.is_ascii_alphabetic()
                    || *character == '_'
                    || *character == ':'
                    || (*offset > 0 && character.is_ascii_digit()))
            })
            .map_or(rest.len(), |(offset, _)| offset);
        self.position += length;
        &rest[..length]
    }

    fn expect(&mut self, wanted: char) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() == Some(wanted) {
            self.position += wanted.len_utf8();
            Ok(())
        } else if self.rest().is_empty() {
            Err(format!("`{wanted}` was expected at the end"))
        } else {
            Err(format!(
                "`{wanted}` was expected at `{}`",
                self.rest_preview()
            ))
        }
    }

    /// A PromQL string: "...", '...' (with backslash escapes) or `...` (raw).
    fn string_literal(&mut self) -> Result<String, String> {
        let Some(quote) = self
            .peek()
            .filter(|quote| matches!(quote, '"' | '\'' | '`'))
        else {
            return Err(format!(
                "a quoted label value was expected at `{}`",
                self.rest_preview()
            ));
        };
        let mut value = String::new();
        let mut characters = self.rest().char_indices().skip(1);
        while let Some((offset, character)) = characters.next() {
            if character == quote {
                self.position += offset + 1;
                return Ok(value);
            }
            if character == '\\' && quote != '`' {
                let (_, escaped) = characters.next().ok_or("an escape ends the query")?;
                value.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            } else {
                value.push(character);
            }
        }
        Err("a label value is not closed".to_string())
    }
}

/// The burn-rate rule of an OpenSLO AlertCondition, and its `alertAfter` in minutes.
fn burn_rule_of_condition(document: &Node, period_minutes: i64) -> Result<(BurnRule, i64), String> {
    let spec = document.get("spec").ok_or("spec is missing")?;
    let mut unknown: Vec<String> = spec
        .keys()
        .into_iter()
        .filter(|(key, _)| !["description", "severity", "condition"].contains(&key.as_str()))
        .map(|(key, _)| format!("`spec.{key}`"))
        .collect();
    let condition = spec.get("condition").ok_or("spec.condition is missing")?;
    unknown.extend(
        condition
            .keys()
            .into_iter()
            .filter(|(key, _)| {
                !["kind", "op", "threshold", "lookbackWindow", "alertAfter"].contains(&key.as_str())
            })
            .map(|(key, _)| format!("`spec.condition.{key}`")),
    );
    if !unknown.is_empty() {
        return Err(format!("{} not known to the importer", unknown.join(", ")));
    }
    let kind = condition.get("kind").and_then(Node::as_str).unwrap_or("");
    if !kind.eq_ignore_ascii_case("burnrate") {
        return Err(format!(
            "condition kind `{kind}` is not burnrate; sloscope alerts on burn rates"
        ));
    }
    match condition.get("op").and_then(Node::as_str) {
        Some("gte" | "gt") | None => {}
        Some(op) => {
            return Err(format!(
                "`op: {op}` would fire while the burn rate is below the threshold; sloscope rules fire at or above it (use `op: gte`)"
            ));
        }
    }
    let burn_rate = condition
        .get("threshold")
        .and_then(Node::as_f64)
        .filter(|threshold| *threshold > 0.0 && threshold.is_finite())
        .ok_or("threshold must be a number above 0")?;
    let minutes_of = |key: &str| -> Result<Option<i64>, String> {
        let Some(node) = condition.get(key) else {
            return Ok(None);
        };
        let text = node.scalar_text().unwrap_or_default();
        match parse_duration_seconds(&text) {
            Ok(seconds) if seconds % 60 == 0 => Ok(Some(seconds / 60)),
            _ => Err(format!("{key} `{text}` is not a duration in whole minutes")),
        }
    };
    let long_minutes = minutes_of("lookbackWindow")?.ok_or("lookbackWindow is missing")?;
    if long_minutes < 2 {
        return Err("lookbackWindow must be at least 2m, to leave room for a short window".into());
    }
    if long_minutes > period_minutes {
        return Err(format!(
            "lookbackWindow {} is longer than the SLO window {}",
            window_label(long_minutes),
            window_label(period_minutes)
        ));
    }
    let pending = minutes_of("alertAfter")?.unwrap_or(0);
    let severity = match spec
        .get("severity")
        .and_then(Node::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("page" | "critical" | "high" | "urgent") => Severity::Page,
        Some("ticket" | "warning" | "medium" | "low" | "info") => Severity::Ticket,
        Some(other) => {
            return Err(format!(
                "severity `{other}` is neither a page (page, critical, high) nor a ticket (ticket, warning, medium, low)"
            ));
        }
        None => return Err("severity is missing".into()),
    };
    Ok((
        BurnRule {
            severity,
            burn_rate,
            long_minutes,
            short_minutes: default_short_window(long_minutes),
        },
        pending,
    ))
}

enum OpenSloDuration {
    Seconds(i64),
    Months(i64),
}

/// OpenSLO's duration shorthand: `m`, `h`, `d`, `w`, and the calendar `M`, `Q` and `Y`.
fn openslo_duration(text: &str) -> Result<OpenSloDuration, String> {
    let digits = text.trim_end_matches(['M', 'Q', 'Y']);
    if digits.len() + 1 == text.len() {
        let count: i64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration"))?;
        return match text.chars().last() {
            Some('M') => Ok(OpenSloDuration::Months(count)),
            Some('Q') => Ok(OpenSloDuration::Months(count * 3)),
            _ => Ok(OpenSloDuration::Months(count * 12)),
        };
    }
    parse_duration_seconds(text).map(OpenSloDuration::Seconds)
}

fn metadata_name(document: &Node) -> Option<String> {
    document.get("metadata")?.get("name")?.scalar_text()
}

fn service_of(spec: &Node) -> Option<String> {
    spec.get("service").and_then(Node::scalar_text)
}

/// Lowercase a-z, 0-9 and single `-`.
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for character in text.chars() {
        let lower = character.to_ascii_lowercase();
        if lower.is_ascii_lowercase() || lower.is_ascii_digit() {
            slug.push(lower);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

/// At most 63 characters, not ending with `-`.
fn trim_name(name: &str) -> String {
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
