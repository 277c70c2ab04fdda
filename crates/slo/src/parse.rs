//! sloscope's own SLO file format: YAML, one SLO per document, several documents per file
//! separated by `---`. Parsing checks everything and reports every error of a file, each with
//! its file, line, column and field path; [`to_yaml`] writes the same format back.
//!
//! ```yaml
//! apiVersion: sloscope/v1
//! kind: SLO
//! name: customers-availability        # a-z, 0-9 and -, unique across all files
//! description: Customers answers without faults   # optional
//! service: customers
//! environment: production             # optional: every environment when absent
//! operation: GET /customers/{id}      # optional: the SLO covers one operation
//! # or: dependency: {remote_service: "postgresql:shop", remote_operation: SELECT}
//! indicator:
//!   availability: {}                  # good: no fault (5xx, status error)
//!   # or latency: {threshold_ms: 200}   good: at most 200 ms
//!   # or error_rate: {}                 good: no error and no fault (4xx, 5xx)
//!   # or ratio: {good: {metric: x, labels: {k: v}}, total: {metric: y}}   (or bad: instead of good)
//! objective: 99.9                     # percent, 0 < x < 100
//! window: 30d                         # default 30d: rolling 1-400 days (7d, 4w, 30d)
//! # or window: {calendar: month, timezone: Europe/Berlin}   (week starts on Monday; timezone default UTC)
//! budgeting: occurrences              # default; or {timeslices: {slice: 5m, target: 95}}
//! alerting:                           # optional; each key absent keeps its default
//!   page: [{burn_rate: 14.4, long: 1h, short: 5m}, {burn_rate: 6, long: 6h, short: 30m}]
//!   ticket: [{burn_rate: 1, long: 3d, short: 6h}]   # short defaults to long / 12
//!   min_events: 20                    # fewer events in a window: the rule does not fire
//!   budget_warning: 50                # percent of the budget left
//!   no_data: 15m
//!   pending: 0m                       # how long a condition holds before it fires
//! exclusions:                         # periods taken out of the budget
//!   - {from: 2026-11-01T02:00:00Z, to: 2026-11-01T04:00:00Z, reason: planned maintenance}
//!   - {cron: "0 2 * * 0", duration: 2h, reason: weekly maintenance}   # cron in UTC
//! labels: {team: customers, tier: "1"}
//! ```
//!
//! Durations are whole numbers with a unit, largest first: `30s`, `5m`, `1h`, `1h30m`, `3d`,
//! `2w`. The default alert rules are the SRE Workbook's for 30 days, with windows scaled to
//! the SLO's window ([`AlertPolicy::workbook`]); `page: []` turns paging off.
//!
//! Reading directories is the only I/O here ([`validate_dir`]); watching them is the
//! server's business.

mod emit;
pub(crate) mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::alert::{AlertPolicy, BurnRule, Severity, window_label};
use crate::cron::Cron;
use crate::spec::{
    Budgeting, CalendarUnit, Exclusion, Indicator, MetricQuery, RatioKind, Scope, SloSpec, Window,
};

pub(crate) use emit::percent as percent_text;
pub use emit::{to_yaml, to_yaml_documents};
use yaml::{Fields, Node, Pos, Report, Value, index, join};

pub const API_VERSION: &str = "sloscope/v1";
pub const KIND: &str = "SLO";

/// One problem in a spec file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub file: String,
    /// 1-based; None for problems with the whole file (unreadable).
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// The field path, e.g. `alerting.page[1].long`; empty for YAML syntax errors.
    pub field: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(formatter, ":{line}")?;
            if let Some(column) = self.column {
                write!(formatter, ":{column}")?;
            }
        }
        if !self.field.is_empty() {
            write!(formatter, ": {}", self.field)?;
        }
        write!(formatter, ": {}", self.message)
    }
}

/// Every problem found in a file, in the order of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecErrors {
    pub errors: Vec<SpecError>,
}

impl fmt::Display for SpecErrors {
    /// One line per error: `file:line:column: field: why`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, error) in self.errors.iter().enumerate() {
            if position > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Parses and validates every SLO of a YAML file. `source_name` names the file in errors.
pub fn parse_specs(source_name: &str, text: &str) -> Result<Vec<SloSpec>, SpecErrors> {
    let parsed = parse_documents(source_name, text);
    if parsed.errors.is_empty() {
        Ok(parsed.specs.into_iter().map(|(spec, _)| spec).collect())
    } else {
        Err(SpecErrors {
            errors: parsed.errors,
        })
    }
}

fn parse_documents(source_name: &str, text: &str) -> Parsed {
    let documents = match yaml::load_documents(source_name, text) {
        Ok(documents) => documents,
        Err(error) => {
            return Parsed {
                specs: Vec::new(),
                names: Vec::new(),
                errors: vec![error],
            };
        }
    };
    let mut report = Report::new(source_name);
    let mut specs = Vec::new();
    let mut names: Vec<(String, Pos)> = Vec::new();
    for document in &documents {
        let name = document
            .get("name")
            .and_then(|node| Some((node.as_str()?.to_string(), node.pos)));
        let mut duplicate = false;
        if let Some((name, pos)) = name {
            if let Some((_, first)) = names.iter().find(|(other, _)| *other == name) {
                report.error(
                    pos,
                    "name",
                    format!("SLO name `{name}` is already used at line {}", first.line),
                );
                duplicate = true;
            } else {
                names.push((name, pos));
            }
        }
        if let Some(spec) = spec_from_document(document, &mut report)
            && !duplicate
        {
            specs.push(spec);
        }
    }
    report
        .errors
        .sort_by_key(|error| (error.line, error.column));
    Parsed {
        specs,
        names,
        errors: report.errors,
    }
}

/// A file's valid SLOs, the names of all its documents, and its errors in file order.
struct Parsed {
    specs: Vec<(SloSpec, Pos)>,
    names: Vec<(String, Pos)>,
    errors: Vec<SpecError>,
}

/// Every `*.yaml` and `*.yml` file under `dir` (hidden files and folders skipped), in path
/// order, parsed; a name used in an earlier file is an error in the later one.
pub fn validate_dir(dir: &Path) -> Vec<(PathBuf, Result<Vec<SloSpec>, SpecErrors>)> {
    let mut files = Vec::new();
    if let Err(error) = collect_yaml_files(dir, &mut files) {
        let error = SpecError {
            file: dir.display().to_string(),
            line: None,
            column: None,
            field: String::new(),
            message: format!("cannot list the directory: {error}"),
        };
        return vec![(
            dir.to_path_buf(),
            Err(SpecErrors {
                errors: vec![error],
            }),
        )];
    }
    files.sort();
    let mut first_use: HashMap<String, (PathBuf, u64)> = HashMap::new();
    let mut results = Vec::new();
    for path in files {
        let source_name = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                let error = SpecError {
                    file: source_name,
                    line: None,
                    column: None,
                    field: String::new(),
                    message: format!("cannot read the file: {error}"),
                };
                results.push((
                    path,
                    Err(SpecErrors {
                        errors: vec![error],
                    }),
                ));
                continue;
            }
        };
        let Parsed {
            specs,
            names,
            mut errors,
        } = parse_documents(&source_name, &text);
        for (name, name_pos) in &names {
            match first_use.get(name) {
                Some((other_path, other_line)) => errors.push(SpecError {
                    file: source_name.clone(),
                    line: Some(name_pos.line),
                    column: Some(name_pos.column),
                    field: "name".into(),
                    message: format!(
                        "SLO name `{name}` is already used in {}:{other_line}",
                        other_path.display()
                    ),
                }),
                None => {
                    first_use.insert(name.clone(), (path.clone(), name_pos.line));
                }
            }
        }
        errors.sort_by_key(|error| (error.line, error.column));
        let result = if errors.is_empty() {
            Ok(specs.into_iter().map(|(spec, _)| spec).collect())
        } else {
            Err(SpecErrors { errors })
        };
        results.push((path, result));
    }
    results
}

fn collect_yaml_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_yaml_files(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "yaml" || extension == "yml")
        {
            files.push(path);
        }
    }
    Ok(())
}

const TOP_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "description",
    "service",
    "environment",
    "operation",
    "dependency",
    "indicator",
    "objective",
    "window",
    "budgeting",
    "alerting",
    "exclusions",
    "labels",
];

/// One document into a spec; None when it has errors (all of them reported).
pub(crate) fn spec_from_document(document: &Node, report: &mut Report) -> Option<(SloSpec, Pos)> {
    let errors_before = report.errors.len();
    if is_foreign_format(document, report) {
        return None;
    }
    let fields = Fields::open(document, "", TOP_FIELDS, report)?;

    expect_constant(&fields, "apiVersion", API_VERSION, report);
    expect_constant(&fields, "kind", KIND, report);
    let name_node = fields.required("name", report);
    let name = name_node.and_then(|node| slo_name(node, report));
    let description = fields
        .get("description")
        .and_then(|node| text(node, "description", report))
        .unwrap_or_default();
    let service = fields
        .required("service", report)
        .and_then(|node| non_empty_text(node, "service", report));
    let environment = fields
        .get("environment")
        .and_then(|node| non_empty_text(node, "environment", report));
    let scope = scope(&fields, report);
    let indicator = fields
        .required("indicator", report)
        .and_then(|node| indicator(node, "indicator", report));
    if let (Some(Indicator::MetricRatio { .. }), Some(scope_node)) = (
        &indicator,
        fields.get("operation").or(fields.get("dependency")),
    ) {
        report.error(
            scope_node.pos,
            if fields.get("operation").is_some() {
                "operation"
            } else {
                "dependency"
            },
            "a ratio indicator selects its events with its metric queries; `operation` and `dependency` apply to availability, latency and error_rate",
        );
    }
    let objective = fields
        .required("objective", report)
        .and_then(|node| objective(node, report));
    let window = match fields.get("window") {
        Some(node) => window(node, report),
        None => Some(Window::Rolling { days: 30 }),
    };
    let budgeting = match fields.get("budgeting") {
        Some(node) => budgeting(node, report),
        None => Some(Budgeting::Occurrences),
    };
    let period_minutes = window.as_ref().map(Window::period_minutes);
    let alerting = match fields.get("alerting") {
        Some(node) => alerting(node, period_minutes, objective, report),
        None => Some(AlertPolicy::workbook(
            period_minutes.unwrap_or(30 * 24 * 60),
        )),
    };
    let exclusions = match fields.get("exclusions") {
        Some(node) => exclusions(node, report),
        None => Some(Vec::new()),
    };
    let labels = match fields.get("labels") {
        Some(node) => string_map(node, "labels", report),
        None => Some(BTreeMap::new()),
    };

    if report.errors.len() > errors_before {
        return None;
    }
    let spec = SloSpec {
        name: name?,
        description,
        service: service?,
        environment,
        scope: scope?,
        indicator: indicator?,
        objective: objective?,
        window: window?,
        budgeting: budgeting?,
        alerting: alerting?,
        exclusions: exclusions?,
        labels: labels?,
    };
    Some((spec, name_node?.pos))
}

/// OpenSLO and Sloth documents get one clear error instead of a page of unknown fields.
fn is_foreign_format(document: &Node, report: &mut Report) -> bool {
    if let Some(api_version) = document.get("apiVersion")
        && let Some(value) = api_version.as_str()
        && (value.starts_with("openslo/") || value.starts_with("sloth.slok.dev/"))
    {
        report.error(
            api_version.pos,
            "apiVersion",
            format!(
                "`{value}` is not sloscope's format; convert the file with `sloscope slo import`"
            ),
        );
        return true;
    }
    if let Some(version) = document.get("version")
        && let Some(value) = version.as_str()
        && value.starts_with("prometheus/")
    {
        report.error(
            version.pos,
            "version",
            format!("`{value}` is a Sloth spec, not sloscope's format; convert the file with `sloscope slo import`"),
        );
        return true;
    }
    false
}

/// A required field that must hold exactly `expected`.
fn expect_constant(fields: &Fields, key: &str, expected: &str, report: &mut Report) {
    let Some(node) = fields.required(key, report) else {
        return;
    };
    let Some(value) = text(node, key, report) else {
        return;
    };
    if value != expected {
        report.error(
            node.pos,
            key,
            format!("must be `{expected}`, got `{value}`"),
        );
    }
}

fn text(node: &Node, field: &str, report: &mut Report) -> Option<String> {
    match node.as_str() {
        Some(value) => Some(value.to_string()),
        None => {
            report.error(
                node.pos,
                field,
                format!("must be text, got {}", node.describe()),
            );
            None
        }
    }
}

fn non_empty_text(node: &Node, field: &str, report: &mut Report) -> Option<String> {
    let value = text(node, field, report)?;
    if value.trim().is_empty() {
        report.error(node.pos, field, "must not be empty");
        return None;
    }
    Some(value)
}

/// Whether `name` can name an SLO: 1-63 characters of a-z, 0-9 and `-`, starting and ending
/// with a letter or digit (a DNS label, so it fits URLs, metric labels and file names).
pub fn is_valid_name(name: &str) -> bool {
    let allowed = |character: char| character.is_ascii_lowercase() || character.is_ascii_digit();
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|character| allowed(character) || character == '-')
        && name.starts_with(allowed)
        && name.ends_with(allowed)
}

fn slo_name(node: &Node, report: &mut Report) -> Option<String> {
    let name = text(node, "name", report)?;
    if !is_valid_name(&name) {
        report.error(
            node.pos,
            "name",
            format!("must be 1-63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit, got `{name}`"),
        );
        return None;
    }
    Some(name)
}

fn scope(fields: &Fields, report: &mut Report) -> Option<Scope> {
    match (fields.get("operation"), fields.get("dependency")) {
        (Some(operation), Some(dependency)) => {
            let first = operation.pos.min(dependency.pos);
            report.error(
                first,
                "operation",
                "an SLO covers one operation or one dependency, not both",
            );
            None
        }
        (Some(operation), None) => non_empty_text(operation, "operation", report)
            .map(|operation| Scope::Operation { operation }),
        (None, Some(dependency)) => {
            let fields = Fields::open(
                dependency,
                "dependency",
                &["remote_service", "remote_operation"],
                report,
            )?;
            let remote_service = fields
                .required("remote_service", report)
                .and_then(|node| non_empty_text(node, "dependency.remote_service", report));
            let remote_operation = match fields.get("remote_operation") {
                Some(node) => Some(non_empty_text(node, "dependency.remote_operation", report)?),
                None => None,
            };
            Some(Scope::Dependency {
                remote_service: remote_service?,
                remote_operation,
            })
        }
        (None, None) => Some(Scope::Service),
    }
}

const INDICATORS: &[&str] = &["availability", "latency", "error_rate", "ratio"];

fn indicator(node: &Node, path: &str, report: &mut Report) -> Option<Indicator> {
    // `indicator: availability` is short for `indicator: {availability: {}}`.
    if let Some(name) = node.as_str() {
        return match name {
            "availability" => Some(Indicator::Availability),
            "error_rate" => Some(Indicator::ErrorRate),
            _ => {
                report.error(
                    node.pos,
                    path,
                    format!("unknown indicator `{name}`, expected one of `availability`, `latency`, `error_rate`, `ratio`"),
                );
                None
            }
        };
    }
    let fields = Fields::open(node, path, INDICATORS, report)?;
    let keys = node.keys();
    let known: Vec<&(String, Pos)> = keys
        .iter()
        .filter(|(key, _)| INDICATORS.contains(&key.as_str()))
        .collect();
    let [(kind, _)] = known[..] else {
        if known.len() > 1 {
            report.error(
                known[1].1,
                path,
                format!(
                    "an SLO has one indicator, got {}",
                    known
                        .iter()
                        .map(|(key, _)| format!("`{key}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            );
        } else if keys.is_empty() {
            report.error(
                node.pos,
                path,
                "needs one of `availability`, `latency`, `error_rate`, `ratio`",
            );
        }
        return None;
    };
    let body = fields.get(kind)?;
    let body_path = join(path, kind);
    match kind.as_str() {
        "availability" | "error_rate" => {
            if !matches!(body.value, Value::Null) {
                Fields::open(body, &body_path, &[], report)?;
            }
            Some(if kind == "availability" {
                Indicator::Availability
            } else {
                Indicator::ErrorRate
            })
        }
        "latency" => {
            let fields = Fields::open(body, &body_path, &["threshold_ms"], report)?;
            let threshold = fields.required("threshold_ms", report)?;
            let threshold_path = fields.path("threshold_ms");
            let threshold_ms = number(threshold, &threshold_path, report)?;
            if threshold_ms <= 0.0 {
                report.error(
                    threshold.pos,
                    &threshold_path,
                    format!("must be more than 0, got {threshold_ms}"),
                );
                return None;
            }
            Some(Indicator::Latency { threshold_ms })
        }
        _ => ratio(body, &body_path, report),
    }
}

fn ratio(node: &Node, path: &str, report: &mut Report) -> Option<Indicator> {
    let fields = Fields::open(node, path, &["good", "bad", "total"], report)?;
    let total = fields
        .required("total", report)
        .and_then(|node| metric_query(node, &join(path, "total"), report));
    let numerator = match (fields.get("good"), fields.get("bad")) {
        (Some(good), None) => {
            metric_query(good, &join(path, "good"), report).map(|query| (query, RatioKind::Good))
        }
        (None, Some(bad)) => {
            metric_query(bad, &join(path, "bad"), report).map(|query| (query, RatioKind::Bad))
        }
        (Some(_), Some(bad)) => {
            report.error(
                bad.pos,
                &join(path, "bad"),
                "a ratio counts either `good` or `bad` events over `total`, not both",
            );
            None
        }
        (None, None) => {
            report.error(
                fields.pos(),
                path,
                "needs `good` or `bad` events, and `total`",
            );
            None
        }
    };
    let (numerator, numerator_is) = numerator?;
    Some(Indicator::MetricRatio {
        numerator,
        denominator: total?,
        numerator_is,
    })
}

fn metric_query(node: &Node, path: &str, report: &mut Report) -> Option<MetricQuery> {
    let fields = Fields::open(node, path, &["metric", "labels"], report)?;
    let metric_node = fields.required("metric", report)?;
    let metric_path = fields.path("metric");
    let metric = non_empty_text(metric_node, &metric_path, report)?;
    if !is_valid_metric_name(&metric) {
        report.error(
            metric_node.pos,
            &metric_path,
            format!("`{metric}` is not a metric name (letters, digits, `_`, `:`, `.`, `-`, `/`, not starting with a digit)"),
        );
        return None;
    }
    let labels = match fields.get("labels") {
        Some(labels) => string_map(labels, &fields.path("labels"), report)?,
        None => BTreeMap::new(),
    };
    Some(MetricQuery { metric, labels })
}

pub(crate) fn is_valid_metric_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|character: char| character.is_ascii_digit())
        && name.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '_' | ':' | '.' | '-' | '/')
        })
}

fn number(node: &Node, path: &str, report: &mut Report) -> Option<f64> {
    match node.as_f64() {
        Some(value) if value.is_finite() => Some(value),
        _ => {
            report.error(
                node.pos,
                path,
                format!("must be a number, got {}", node.describe()),
            );
            None
        }
    }
}

/// The fraction a percentage stands for, read from its shortest decimal text so that `99.9`
/// is 0.999 and not 99.9 / 100 = 0.9990000000000001.
pub(crate) fn fraction_of_percent(percent: f64) -> f64 {
    format!("{percent}e-2").parse().unwrap_or(percent / 100.0)
}

/// A percentage in `(0, 100)` as a fraction.
fn objective(node: &Node, report: &mut Report) -> Option<f64> {
    let percent = number(node, "objective", report)?;
    if percent <= 0.0 || percent >= 100.0 {
        report.error(
            node.pos,
            "objective",
            format!("objective must be between 0 and 100 (exclusive), got {percent}"),
        );
        return None;
    }
    Some(fraction_of_percent(percent))
}

const SECONDS_PER_UNIT: &[(char, i64)] = &[
    ('w', 7 * 24 * 3600),
    ('d', 24 * 3600),
    ('h', 3600),
    ('m', 60),
    ('s', 1),
];

/// `30s`, `5m`, `1h30m`, `3d`, `2w` in seconds: whole numbers, units from the largest down.
pub fn parse_duration_seconds(duration: &str) -> Result<i64, String> {
    let invalid = || format!("`{duration}` is not a duration such as 30s, 5m, 1h, 3d or 2w");
    let mut rest = duration;
    let mut total: i64 = 0;
    let mut smallest_unit_so_far = usize::MAX;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.len()
            - rest
                .trim_start_matches(|character: char| character.is_ascii_digit())
                .len();
        if digits == 0 {
            return Err(invalid());
        }
        let amount: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        let unit = rest[digits..].chars().next().ok_or_else(invalid)?;
        let unit_position = SECONDS_PER_UNIT
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(invalid)?;
        if unit_position <= smallest_unit_so_far && smallest_unit_so_far != usize::MAX {
            return Err(invalid());
        }
        smallest_unit_so_far = unit_position;
        total = amount
            .checked_mul(SECONDS_PER_UNIT[unit_position].1)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(invalid)?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Ok(total)
}

/// A duration in whole minutes (`0` alone is accepted for zero).
fn minutes(node: &Node, path: &str, report: &mut Report) -> Option<i64> {
    if node.value == Value::Int(0) {
        return Some(0);
    }
    let Some(duration) = node.as_str() else {
        report.error(
            node.pos,
            path,
            format!(
                "must be a duration such as 5m, 1h or 3d, got {}",
                node.describe()
            ),
        );
        return None;
    };
    match parse_duration_seconds(duration) {
        Ok(seconds) if seconds % 60 == 0 => Some(seconds / 60),
        Ok(_) => {
            report.error(
                node.pos,
                path,
                format!("must be whole minutes, got {duration}"),
            );
            None
        }
        Err(message) => {
            report.error(node.pos, path, message);
            None
        }
    }
}

fn window(node: &Node, report: &mut Report) -> Option<Window> {
    if node.as_map().is_none() {
        let minutes = minutes(node, "window", report)?;
        let days = minutes / (24 * 60);
        if minutes % (24 * 60) != 0 || !(1..=400).contains(&days) {
            report.error(
                node.pos,
                "window",
                format!(
                    "window must be 1-400 days, got {}",
                    node.scalar_text().unwrap_or_default()
                ),
            );
            return None;
        }
        return Some(Window::Rolling { days: days as u32 });
    }
    let fields = Fields::open(node, "window", &["calendar", "timezone"], report)?;
    let unit = fields
        .required("calendar", report)
        .and_then(|unit| match unit.as_str() {
            Some("month") => Some(CalendarUnit::Month),
            Some("week") => Some(CalendarUnit::Week),
            _ => {
                report.error(
                    unit.pos,
                    "window.calendar",
                    format!("must be `week` or `month`, got {}", unit.describe()),
                );
                None
            }
        });
    let timezone = match fields.get("timezone") {
        Some(zone) => timezone(zone, "window.timezone", report),
        None => Some("UTC".to_string()),
    };
    Some(Window::Calendar {
        unit: unit?,
        timezone: timezone?,
    })
}

fn timezone(node: &Node, path: &str, report: &mut Report) -> Option<String> {
    let name = text(node, path, report)?;
    if !is_known_timezone(&name) {
        report.error(
            node.pos,
            path,
            format!("unknown time zone `{name}`: use an IANA name such as Europe/Berlin, America/New_York or UTC"),
        );
        return None;
    }
    Some(name)
}

/// Whether the IANA time zone database (the system's, or the copy built in) knows the name.
pub fn is_known_timezone(name: &str) -> bool {
    // POSIX TZ strings and file paths are not zone names.
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains("..")
        && jiff::tz::TimeZone::get(name).is_ok()
}

fn budgeting(node: &Node, report: &mut Report) -> Option<Budgeting> {
    if let Some(method) = node.as_str() {
        if method == "occurrences" {
            return Some(Budgeting::Occurrences);
        }
        report.error(
            node.pos,
            "budgeting",
            format!("must be `occurrences` or `{{timeslices: {{slice: 5m, target: 95}}}}`, got `{method}`"),
        );
        return None;
    }
    let fields = Fields::open(node, "budgeting", &["timeslices"], report)?;
    let slices = fields.required("timeslices", report)?;
    let path = "budgeting.timeslices";
    let fields = Fields::open(slices, path, &["slice", "target"], report)?;
    let slice_minutes = fields.required("slice", report).and_then(|slice| {
        let path = fields.path("slice");
        let slice_minutes = minutes(slice, &path, report)?;
        if !(1..=15).contains(&slice_minutes) {
            report.error(
                slice.pos,
                &path,
                format!(
                    "a slice is 1m to 15m long, got {}",
                    slice.scalar_text().unwrap_or_default()
                ),
            );
            return None;
        }
        Some(slice_minutes as u32)
    });
    let slice_target = fields.required("target", report).and_then(|target| {
        let path = fields.path("target");
        let percent = number(target, &path, report)?;
        if percent <= 0.0 || percent > 100.0 {
            report.error(
                target.pos,
                &path,
                format!("a slice target is a percentage above 0 and at most 100, got {percent}"),
            );
            return None;
        }
        Some(fraction_of_percent(percent))
    });
    Some(Budgeting::Timeslices {
        slice_minutes: slice_minutes?,
        slice_target: slice_target?,
    })
}

const ALERTING_FIELDS: &[&str] = &[
    "page",
    "ticket",
    "min_events",
    "budget_warning",
    "no_data",
    "pending",
];

/// The workbook defaults for the period, with whatever the document sets.
fn alerting(
    node: &Node,
    period_minutes: Option<i64>,
    objective: Option<f64>,
    report: &mut Report,
) -> Option<AlertPolicy> {
    let defaults = AlertPolicy::workbook(period_minutes.unwrap_or(30 * 24 * 60));
    let fields = Fields::open(node, "alerting", ALERTING_FIELDS, report)?;
    let errors_before = report.errors.len();
    let mut rule_positions: Vec<(BurnRule, String)> = Vec::new();
    let mut burn_rules = Vec::new();
    for (key, severity) in [("page", Severity::Page), ("ticket", Severity::Ticket)] {
        let Some(list) = fields.get(key) else {
            burn_rules.extend(
                defaults
                    .burn_rules
                    .iter()
                    .filter(|rule| rule.severity == severity)
                    .cloned(),
            );
            continue;
        };
        let path = join("alerting", key);
        let Some(items) = list.as_seq() else {
            report.error(
                list.pos,
                &path,
                format!(
                    "must be a list of {{burn_rate, long, short}} rules, got {}",
                    list.describe()
                ),
            );
            continue;
        };
        for (position, item) in items.iter().enumerate() {
            let rule_path = index(&path, position);
            let Some(rule) = burn_rule(
                item,
                &rule_path,
                severity,
                period_minutes,
                objective,
                report,
            ) else {
                continue;
            };
            if let Some((_, first_path)) = rule_positions
                .iter()
                .find(|(other, _)| other.name() == rule.name())
            {
                report.error(
                    item.pos,
                    &rule_path,
                    format!(
                        "the windows {}/{} are already used by {first_path}; each rule needs its own pair of windows",
                        window_label(rule.long_minutes),
                        window_label(rule.short_minutes)
                    ),
                );
                continue;
            }
            rule_positions.push((rule.clone(), rule_path));
            burn_rules.push(rule);
        }
    }
    let min_events = match fields.get("min_events") {
        Some(node) => match node.value {
            Value::Int(count) if count >= 0 => Some(count as u64),
            _ => {
                report.error(
                    node.pos,
                    "alerting.min_events",
                    format!(
                        "must be a whole number of 0 or more, got {}",
                        node.describe()
                    ),
                );
                None
            }
        },
        None => Some(defaults.min_events),
    };
    let budget_warning = match fields.get("budget_warning") {
        Some(node) => number(node, "alerting.budget_warning", report).and_then(|percent| {
            if (0.0..=100.0).contains(&percent) {
                Some(fraction_of_percent(percent))
            } else {
                report.error(
                    node.pos,
                    "alerting.budget_warning",
                    format!("must be a percentage from 0 to 100, got {percent}"),
                );
                None
            }
        }),
        None => Some(defaults.budget_warning),
    };
    let no_data_minutes = match fields.get("no_data") {
        Some(node) => minutes(node, "alerting.no_data", report).and_then(|minutes| {
            if minutes >= 1 {
                Some(minutes)
            } else {
                report.error(node.pos, "alerting.no_data", "must be at least 1m");
                None
            }
        }),
        None => Some(defaults.no_data_minutes),
    };
    let pending_minutes = match fields.get("pending") {
        Some(node) => minutes(node, "alerting.pending", report),
        None => Some(defaults.pending_minutes),
    };
    if report.errors.len() > errors_before {
        return None;
    }
    Some(AlertPolicy {
        burn_rules,
        min_events: min_events?,
        budget_warning: budget_warning?,
        no_data_minutes: no_data_minutes?,
        pending_minutes: pending_minutes?,
    })
}

fn burn_rule(
    node: &Node,
    path: &str,
    severity: Severity,
    period_minutes: Option<i64>,
    objective: Option<f64>,
    report: &mut Report,
) -> Option<BurnRule> {
    let fields = Fields::open(node, path, &["burn_rate", "long", "short"], report)?;
    let burn_rate = fields.required("burn_rate", report).and_then(|rate| {
        let rate_path = fields.path("burn_rate");
        let burn_rate = number(rate, &rate_path, report)?;
        if burn_rate <= 0.0 {
            report.error(
                rate.pos,
                &rate_path,
                format!("must be more than 0, got {burn_rate}"),
            );
            return None;
        }
        // Every event bad burns at 1 / (1 - objective): a higher threshold never fires.
        if let Some(objective) = objective {
            let highest = 1.0 / (1.0 - objective);
            if burn_rate > highest * (1.0 + 1e-9) {
                report.error(
                    rate.pos,
                    &rate_path,
                    format!(
                        "burn rate {burn_rate} can never be reached with objective {}: when every event is bad the budget burns at {}",
                        percent_text(objective),
                        short_number(highest)
                    ),
                );
                return None;
            }
        }
        Some(burn_rate)
    });
    let long_path = fields.path("long");
    let long = fields.required("long", report).and_then(|long| {
        let long_minutes = minutes(long, &long_path, report)?;
        if long_minutes < 1 {
            report.error(long.pos, &long_path, "must be at least 1m");
            return None;
        }
        if let Some(period) = period_minutes
            && long_minutes > period
        {
            report.error(
                long.pos,
                &long_path,
                format!(
                    "long window {} is longer than the SLO window {}",
                    window_label(long_minutes),
                    window_label(period)
                ),
            );
            return None;
        }
        Some((long_minutes, long))
    });
    let short = match fields.get("short") {
        Some(short) => {
            let short_path = fields.path("short");
            minutes(short, &short_path, report).and_then(|short_minutes| {
                if short_minutes < 1 {
                    report.error(short.pos, &short_path, "must be at least 1m");
                    return None;
                }
                if let Some((long_minutes, _)) = long
                    && short_minutes >= long_minutes
                {
                    report.error(
                        short.pos,
                        &short_path,
                        format!(
                            "short window {} must be shorter than long window {}",
                            window_label(short_minutes),
                            window_label(long_minutes)
                        ),
                    );
                    return None;
                }
                Some(short_minutes)
            })
        }
        None => long.map(|(long_minutes, _)| default_short_window(long_minutes)),
    };
    let (long_minutes, long_node) = long?;
    let short_minutes = short?;
    if short_minutes >= long_minutes {
        report.error(
            long_node.pos,
            &long_path,
            format!(
                "long window {} leaves no room for a shorter window",
                window_label(long_minutes)
            ),
        );
        return None;
    }
    Some(BurnRule {
        severity,
        burn_rate: burn_rate?,
        long_minutes,
        short_minutes,
    })
}

/// A twelfth of the long window, as in the SRE Workbook, at least one minute.
pub fn default_short_window(long_minutes: i64) -> i64 {
    ((long_minutes as f64 / 12.0).round() as i64).max(1)
}

fn short_number(value: f64) -> String {
    let fixed = format!("{value:.4}");
    fixed
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

fn exclusions(node: &Node, report: &mut Report) -> Option<Vec<Exclusion>> {
    let Some(items) = node.as_seq() else {
        report.error(
            node.pos,
            "exclusions",
            format!("must be a list, got {}", node.describe()),
        );
        return None;
    };
    let errors_before = report.errors.len();
    let mut exclusions = Vec::new();
    for (position, item) in items.iter().enumerate() {
        if let Some(exclusion) = exclusion(item, &index("exclusions", position), report) {
            exclusions.push(exclusion);
        }
    }
    (report.errors.len() == errors_before).then_some(exclusions)
}

fn exclusion(node: &Node, path: &str, report: &mut Report) -> Option<Exclusion> {
    let fields = Fields::open(
        node,
        path,
        &["from", "to", "cron", "duration", "reason"],
        report,
    )?;
    let reason = fields
        .required("reason", report)
        .and_then(|reason| non_empty_text(reason, &fields.path("reason"), report));
    let once = fields.get("from").is_some() || fields.get("to").is_some();
    let recurring = fields.get("cron").is_some() || fields.get("duration").is_some();
    if once == recurring {
        report.error(
            node.pos,
            path,
            "an exclusion has either `from` and `to` (one period) or `cron` and `duration` (a recurring one)",
        );
        return None;
    }
    if once {
        let from = fields
            .required("from", report)
            .and_then(|from| timestamp(from, &fields.path("from"), report));
        let to_node = fields.required("to", report);
        let to = to_node.and_then(|to| timestamp(to, &fields.path("to"), report));
        let (from, to, to_node) = (from?, to?, to_node?);
        if to <= from {
            report.error(to_node.pos, &fields.path("to"), "must be after `from`");
            return None;
        }
        return Some(Exclusion::Once {
            from,
            to,
            reason: reason?,
        });
    }
    let cron = fields.required("cron", report).and_then(|cron| {
        let cron_path = fields.path("cron");
        let expression = text(cron, &cron_path, report)?;
        match Cron::parse(&expression) {
            Ok(_) => Some(expression),
            Err(error) => {
                report.error(cron.pos, &cron_path, format!("`{expression}`: {error}"));
                None
            }
        }
    });
    let duration_minutes = fields.required("duration", report).and_then(|duration| {
        let duration_path = fields.path("duration");
        let minutes = minutes(duration, &duration_path, report)?;
        if !(1..=i64::from(u32::MAX)).contains(&minutes) {
            report.error(duration.pos, &duration_path, "must be at least 1m");
            return None;
        }
        Some(minutes as u32)
    });
    Some(Exclusion::Recurring {
        cron: cron?,
        duration_minutes: duration_minutes?,
        reason: reason?,
    })
}

/// An RFC 3339 timestamp in unix seconds (fractions of a second dropped).
fn timestamp(node: &Node, path: &str, report: &mut Report) -> Option<i64> {
    let parsed = node
        .as_str()
        .and_then(|value| value.parse::<jiff::Timestamp>().ok());
    match parsed {
        Some(instant) => Some(instant.as_second()),
        None => {
            report.error(
                node.pos,
                path,
                format!(
                    "must be an RFC 3339 timestamp such as 2026-11-01T02:00:00Z, got {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

/// A mapping of text to text; numbers and booleans are read as their text (`tier: 1`).
fn string_map(node: &Node, path: &str, report: &mut Report) -> Option<BTreeMap<String, String>> {
    let Some(entries) = node.as_map() else {
        report.error(
            node.pos,
            path,
            format!(
                "must be a mapping of names to values, got {}",
                node.describe()
            ),
        );
        return None;
    };
    let errors_before = report.errors.len();
    let mut map = BTreeMap::new();
    for (key, value) in entries {
        let key_text = key.scalar_text().unwrap_or_default();
        let entry_path = join(path, &key_text);
        if key_text.is_empty() {
            report.error(key.pos, path, "names must not be empty");
            continue;
        }
        match &value.value {
            Value::Str(text) => {
                map.insert(key_text, text.clone());
            }
            Value::Int(number) => {
                map.insert(key_text, number.to_string());
            }
            Value::Bool(flag) => {
                map.insert(key_text, flag.to_string());
            }
            _ => report.error(
                value.pos,
                &entry_path,
                format!("must be text, got {} (quote it)", value.describe()),
            ),
        }
    }
    (report.errors.len() == errors_before).then_some(map)
}

#[cfg(test)]
mod tests;
