//! Error patterns, per service: requests that ended in an error status, exceptions recorded on
//! spans, and log templates that appeared or grew (mined per service with the Drain-style
//! miner, both windows through one miner so that a message lands in the same template as its
//! peers of the other window).
//!
//! Counts are compared as rates: what the baseline's share of the service's messages (or its
//! rate per request) predicts for the breach window, against what the breach window has. Error
//! severity weighs most, warnings less, other messages little: a service that starts logging a
//! new kind of information line says less than one that starts logging errors. Logs without a
//! severity number get one from a level word at their start (`ERROR`, `WARN`, `level=error`).

use std::collections::{BTreeMap, HashMap};

use crate::context::{Context, Window};
use crate::finding::{Finding, Probe, format_percent};
use crate::input::LogLine;
use crate::report::CauseKind;
use crate::stats::{saturate, two_proportion_z};
use crate::templates::{TemplateId, TemplateMiner};

/// Fewer excess messages than this in a template is noise.
const MIN_EXCESS: f64 = 3.0;
/// The weighted excess per minute that scores 0.63.
const SCORE_SCALE: f64 = 4.0;
/// A template the baseline had must grow at least this much (as a share) to count.
const MIN_GROWTH: f64 = 2.0;
/// Evidence lines kept per service.
const MAX_EVIDENCE: usize = 5;
/// The most a finding scores without an exception behind it: error logs and statuses say that
/// a service fails, an exception type also says what in its code fails. A service that only
/// fails more is better described by its degraded signals (the dependencies probe).
const WITHOUT_EXCEPTION: f64 = 0.85;
/// Error statuses weigh less than messages: they repeat what the fault rate already says.
const STATUS_WEIGHT: f64 = 0.3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    Other,
    Warning,
    Error,
}

impl Severity {
    fn weight(self) -> f64 {
        match self {
            Severity::Error => 1.0,
            Severity::Warning => 0.3,
            Severity::Other => 0.05,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Other => "info",
        }
    }
}

/// The severity of a log line: its severity number, else a level word near its start.
pub(crate) fn severity(line: &LogLine) -> Severity {
    match line.severity_number {
        17.. => Severity::Error,
        13..=16 => Severity::Warning,
        1..=12 => Severity::Other,
        _ => severity_from_text(&line.body),
    }
}

fn severity_from_text(body: &str) -> Severity {
    let head: String = body.chars().take(200).collect();
    let mut previous = "";
    for token in head.split(|character: char| !character.is_alphanumeric()) {
        if token.is_empty() {
            continue;
        }
        let keyed = matches!(
            previous.to_ascii_lowercase().as_str(),
            "level" | "lvl" | "severity" | "loglevel"
        );
        let upper = token.chars().all(|character| !character.is_lowercase());
        if upper || keyed {
            match token.to_ascii_uppercase().as_str() {
                "ERROR" | "ERR" | "FATAL" | "CRITICAL" | "CRIT" | "SEVERE" | "PANIC" | "EMERG"
                | "ALERT" => return Severity::Error,
                "WARN" | "WARNING" => return Severity::Warning,
                "INFO" | "DEBUG" | "TRACE" | "NOTICE" => return Severity::Other,
                _ => {}
            }
        }
        previous = token;
    }
    Severity::Other
}

/// One thing that appeared or grew in a service, with its weight.
#[derive(Clone, Debug)]
struct Item {
    is_exception: bool,
    weighted_per_minute: f64,
    summary: String,
    measure: &'static str,
    baseline_per_minute: f64,
    breach_per_minute: f64,
}

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let mut items: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for (service, item) in span_status_items(context) {
        items.entry(service).or_default().push(item);
    }
    for (service, item) in exception_items(context) {
        items.entry(service).or_default().push(item);
    }
    for (service, item) in log_items(context) {
        items.entry(service).or_default().push(item);
    }
    let mut findings = Vec::new();
    for (service, mut service_items) in items {
        service_items.sort_by(|a, b| {
            b.weighted_per_minute
                .total_cmp(&a.weighted_per_minute)
                .then_with(|| a.summary.cmp(&b.summary))
        });
        let total: f64 = service_items
            .iter()
            .map(|item| item.weighted_per_minute)
            .sum();
        let ceiling = if service_items.iter().any(|item| item.is_exception) {
            1.0
        } else {
            WITHOUT_EXCEPTION
        };
        let score = ceiling * saturate(total, SCORE_SCALE);
        if score < 0.05 {
            continue;
        }
        let mut finding = Finding::new(
            Probe::ErrorPatterns,
            &service,
            CauseKind::ErrorPattern,
            score,
            service_items[0].summary.clone(),
        );
        for item in service_items.into_iter().take(MAX_EVIDENCE) {
            finding = finding.with(
                item.summary,
                item.measure,
                Some(item.baseline_per_minute),
                Some(item.breach_per_minute),
            );
        }
        findings.push(finding);
    }
    findings
}

/// Entry spans per service: (requests, errors) in a window.
fn entry_errors<'a>(window: &Window<'a>) -> BTreeMap<&'a str, (u64, u64)> {
    let index = &window.spans;
    let mut counts: HashMap<&str, (u64, u64)> = HashMap::new();
    for position in 0..index.len() {
        if !index.is_entry(position) {
            continue;
        }
        let span = &index.spans[position];
        let entry = counts.entry(span.service.as_str()).or_default();
        entry.0 += 1;
        entry.1 += u64::from(span.status == sloscope_model::StatusCode::Error);
    }
    counts.into_iter().collect()
}

fn span_status_items(context: &Context<'_>) -> Vec<(String, Item)> {
    let baseline = entry_errors(&context.baseline);
    let breach = entry_errors(&context.breach);
    let mut items = Vec::new();
    for (service, (requests, errors)) in &breach {
        let (baseline_requests, baseline_errors) = baseline.get(service).copied().unwrap_or((0, 0));
        let rate_before = if baseline_requests > 0 {
            baseline_errors as f64 / baseline_requests as f64
        } else {
            0.0
        };
        let expected = rate_before * *requests as f64;
        let excess = *errors as f64 - expected;
        let z = two_proportion_z(
            baseline_errors as f64,
            baseline_requests as f64,
            *errors as f64,
            *requests as f64,
        );
        if excess < MIN_EXCESS || (baseline_requests > 0 && z < 3.0) {
            continue;
        }
        let rate_after = *errors as f64 / *requests as f64;
        items.push((
            (*service).to_owned(),
            Item {
                is_exception: false,
                weighted_per_minute: STATUS_WEIGHT * excess / context.breach.minutes,
                summary: format!(
                    "{service} answers with an error status on {} of its requests (baseline {})",
                    format_percent(rate_after),
                    format_percent(rate_before)
                ),
                measure: "error_status_rate",
                baseline_per_minute: rate_before,
                breach_per_minute: rate_after,
            },
        ));
    }
    items
}

/// Exceptions per (service, type) in a window, with a message of the first one.
fn exceptions<'a>(window: &Window<'a>) -> BTreeMap<(&'a str, &'a str), (u64, &'a str)> {
    let mut counts: BTreeMap<(&str, &str), (u64, &str)> = BTreeMap::new();
    for span in window.spans.spans {
        for exception in &span.exceptions {
            let entry = counts
                .entry((span.service.as_str(), exception.kind.as_str()))
                .or_insert((0, exception.message.as_str()));
            entry.0 += 1;
        }
    }
    counts
}

fn exception_items(context: &Context<'_>) -> Vec<(String, Item)> {
    let baseline = exceptions(&context.baseline);
    let breach = exceptions(&context.breach);
    let baseline_spans = span_counts(&context.baseline);
    let breach_spans = span_counts(&context.breach);
    let mut items = Vec::new();
    for ((service, kind), (count, message)) in &breach {
        let before = baseline
            .get(&(*service, *kind))
            .map_or(0, |(count, _)| *count);
        // Scale the baseline count by the service's traffic in each window.
        let scale = match (baseline_spans.get(service), breach_spans.get(service)) {
            (Some(before_spans), Some(after_spans)) if *before_spans > 0 => {
                *after_spans as f64 / *before_spans as f64
            }
            _ => context.breach.minutes / context.baseline.minutes,
        };
        let expected = before as f64 * scale;
        let excess = *count as f64 - expected;
        if excess < MIN_EXCESS || (before > 0 && (*count as f64) < MIN_GROWTH * expected) {
            continue;
        }
        let novelty = if before == 0 { "new" } else { "grown" };
        items.push((
            (*service).to_owned(),
            Item {
                is_exception: true,
                weighted_per_minute: excess / context.breach.minutes,
                summary: format!(
                    "{novelty} exception {kind} in {service}: {count} in the breach window, {before} in the baseline: {}",
                    shorten(message, 160)
                ),
                measure: "exceptions_per_minute",
                baseline_per_minute: before as f64 / context.baseline.minutes,
                breach_per_minute: *count as f64 / context.breach.minutes,
            },
        ));
    }
    items
}

fn span_counts<'a>(window: &Window<'a>) -> BTreeMap<&'a str, u64> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for span in window.spans.spans {
        *counts.entry(span.service.as_str()).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// Counts of one template of one service.
#[derive(Clone, Debug, Default)]
struct TemplateCounts {
    baseline: u64,
    breach: u64,
    severity: Option<Severity>,
    example: Option<usize>,
}

fn log_items(context: &Context<'_>) -> Vec<(String, Item)> {
    let baseline_logs = &context.inputs.baseline.logs;
    let breach_logs = &context.inputs.breach.logs;
    // Lines of each service, each window in time order (then by body, for determinism).
    let mut by_service: BTreeMap<&str, (Vec<&LogLine>, Vec<&LogLine>)> = BTreeMap::new();
    for line in baseline_logs {
        by_service.entry(&line.service).or_default().0.push(line);
    }
    for line in breach_logs {
        by_service.entry(&line.service).or_default().1.push(line);
    }
    let mut items = Vec::new();
    for (service, (mut baseline, mut breach)) in by_service {
        if breach.is_empty() {
            continue;
        }
        let order = |a: &&LogLine, b: &&LogLine| {
            a.time_unix_nano
                .cmp(&b.time_unix_nano)
                .then_with(|| a.body.cmp(&b.body))
        };
        baseline.sort_by(order);
        breach.sort_by(order);
        items.extend(
            service_log_items(context, &baseline, &breach)
                .into_iter()
                .map(|item| (service.to_owned(), item)),
        );
    }
    items
}

fn service_log_items(
    context: &Context<'_>,
    baseline: &[&LogLine],
    breach: &[&LogLine],
) -> Vec<Item> {
    let mut miner = TemplateMiner::default();
    let baseline_ids: Vec<TemplateId> = baseline.iter().map(|line| miner.add(&line.body)).collect();
    let breach_ids: Vec<TemplateId> = breach.iter().map(|line| miner.add(&line.body)).collect();
    let mut counts: BTreeMap<TemplateId, TemplateCounts> = BTreeMap::new();
    for (line, id) in baseline.iter().zip(baseline_ids) {
        let entry = counts.entry(miner.resolve(id)).or_default();
        entry.baseline += 1;
        entry.severity = entry.severity.max(Some(severity(line)));
    }
    for (position, (line, id)) in breach.iter().zip(breach_ids).enumerate() {
        let entry = counts.entry(miner.resolve(id)).or_default();
        entry.breach += 1;
        entry.severity = entry.severity.max(Some(severity(line)));
        entry.example.get_or_insert(position);
    }
    let service = &breach[0].service;
    let baseline_total = baseline.len() as f64;
    let breach_total = breach.len() as f64;
    let minutes = context.breach.minutes;
    let baseline_minutes = context.baseline.minutes;
    let mut items = Vec::new();
    for (id, template) in &counts {
        let Some(example) = template.example else {
            continue;
        };
        // What the baseline predicts: the template's share of the service's messages, or,
        // when the service logged nothing in the baseline, its rate per minute (zero).
        let expected = if baseline_total > 0.0 {
            template.baseline as f64 / baseline_total * breach_total
        } else {
            0.0
        };
        let excess = template.breach as f64 - expected;
        let is_new = template.baseline == 0;
        if excess < MIN_EXCESS || (!is_new && (template.breach as f64) < MIN_GROWTH * expected) {
            continue;
        }
        let severity = template.severity.unwrap_or(Severity::Other);
        let text = miner.template(*id).map_or_else(
            || breach[example].body.clone(),
            |template| template.text().to_owned(),
        );
        let novelty = if is_new { "new" } else { "grown" };
        items.push(Item {
            is_exception: false,
            weighted_per_minute: severity.weight() * excess / minutes,
            summary: format!(
                "{novelty} {} log template in {service}: {} lines in the breach window, {} in the baseline: {}",
                severity.label(),
                template.breach,
                template.baseline,
                shorten(&text, 200)
            ),
            measure: "log_lines_per_minute",
            baseline_per_minute: template.baseline as f64 / baseline_minutes,
            breach_per_minute: template.breach as f64 / minutes,
        });
    }
    items
}

/// At most `limit` characters, with an ellipsis when cut.
pub(crate) fn shorten(text: &str, limit: usize) -> String {
    let trimmed = text.trim();
    if trimmed.chars().count() <= limit {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(limit).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(body: &str, severity_number: i32) -> LogLine {
        LogLine {
            time_unix_nano: 0,
            service: String::from("svc"),
            severity_number,
            body: body.to_owned(),
            trace_id: None,
        }
    }

    #[test]
    fn severity_from_number_then_text() {
        assert_eq!(severity(&line("anything", 17)), Severity::Error);
        assert_eq!(severity(&line("anything", 13)), Severity::Warning);
        assert_eq!(severity(&line("ERROR something", 9)), Severity::Other);
        assert_eq!(
            severity(&line("16:44:10.485 ERROR t.s.Impl#372 failed", 0)),
            Severity::Error
        );
        assert_eq!(
            severity(&line("ts=1 level=warn msg=\"slow\"", 0)),
            Severity::Warning
        );
        assert_eq!(
            severity(&line("12:00 INFO no error found", 0)),
            Severity::Other
        );
        assert_eq!(severity(&line("an error happened", 0)), Severity::Other);
    }

    #[test]
    fn shorten_cuts_long_text() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
