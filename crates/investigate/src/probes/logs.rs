//! Log lines per service, mined into templates with the Drain-style miner (both windows through
//! one miner, so that a line lands in the same template as its peers of the other window), and
//! the templates that appeared or grew.
//!
//! What the baseline predicts for a template is judged per operation of the requests that
//! logged it: its lines per request of each operation in the baseline, times the breach's
//! requests of that operation. A service that serves more of one endpoint logs more of that
//! endpoint's lines, which is no news; lines of an operation the baseline never served are not
//! judged. Lines tied to no request of the service fall back to the template's share of such
//! lines. Logs without a severity number get one from a level word at their start (`ERROR`,
//! `WARN`, `level=error`).

use std::collections::{BTreeMap, HashMap};

use sloscope_model::TraceId;

use crate::context::{Context, Window};
use crate::input::LogLine;
use crate::templates::{MinerConfig, TemplateId, TemplateMiner};

/// Fewer excess lines than this in a template is noise.
const MIN_EXCESS: f64 = 3.0;
/// A template the baseline had must grow at least this much to count.
const MIN_GROWTH: f64 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    Other,
    Warning,
    Error,
}

impl Severity {
    /// How much an excess line of this severity says about a fault, for a template the
    /// baseline never had or one that grew (a grown template is more often a change of the mix
    /// of requests or of their data).
    pub fn weight(self, is_new: bool) -> f64 {
        match (self, is_new) {
            (Severity::Error, true) => 1.0,
            (Severity::Error, false) => 0.7,
            (Severity::Warning, true) => 0.3,
            (Severity::Warning, false) => 0.15,
            (Severity::Other, true) => 0.05,
            (Severity::Other, false) => 0.02,
        }
    }

    pub fn label(self) -> &'static str {
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

/// The miner's configuration for comparing windows: a position where lines differ by a word is
/// a wildcard at once (as in Drain). Keeping a template per word (`cache hit`, `cache miss`)
/// parses better, but makes a request for another product or city look like a new message.
fn miner_config() -> MinerConfig {
    MinerConfig {
        max_word_values: 1,
        ..MinerConfig::default()
    }
}

/// A log template at one code location: two lines that print alike from different places in
/// the code (`Impl#451` and `Impl#457`) are different steps of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Pattern(pub u32);

/// Where a line says it was logged: a `Name#123` token (logback's `%class#%line`, log4j's
/// `%C#%L`) or a `file.ext:123` token (Python, Go, Node), among the first tokens of the line.
/// The template miner masks it as a value (it has digits); for comparing windows it is the most
/// telling part of the line.
pub(crate) fn code_location(body: &str) -> Option<&str> {
    for token in body.split_whitespace().take(12) {
        let token = token.trim_matches(|character: char| {
            matches!(
                character,
                '[' | ']' | '(' | ')' | ',' | ';' | '"' | '\'' | ':'
            )
        });
        let Some(split) = token.rfind(['#', ':']) else {
            continue;
        };
        let (name, line) = (&token[..split], &token[split + 1..]);
        let is_line =
            !line.is_empty() && line.len() <= 6 && line.bytes().all(|byte| byte.is_ascii_digit());
        let is_name = name.chars().any(char::is_alphabetic)
            && name
                .chars()
                .all(|character| character.is_alphanumeric() || "._$-/".contains(character));
        // After `:` only a file name counts: `host:8080` is an address.
        let is_file = token.as_bytes()[split] == b'#'
            || name.rsplit_once('.').is_some_and(|(_, extension)| {
                (1..=5).contains(&extension.len())
                    && extension
                        .chars()
                        .all(|character| character.is_ascii_alphabetic())
            });
        if is_line && is_name && is_file {
            return Some(token);
        }
    }
    None
}

/// One service's log lines of both windows, each with its pattern (template and code location).
pub(crate) struct ServiceLogs<'a> {
    pub miner: TemplateMiner,
    /// Each pattern's template and location.
    patterns: Vec<(TemplateId, Option<&'a str>)>,
    /// The highest severity of each pattern's lines.
    severities: Vec<Severity>,
    /// Each pattern's step in the service's flow: the first pattern of its code location (a
    /// logging statement is one step however its lines vary with data), else itself.
    steps: Vec<Pattern>,
    pub baseline: Vec<(&'a LogLine, Pattern)>,
    pub breach: Vec<(&'a LogLine, Pattern)>,
}

impl ServiceLogs<'_> {
    /// The flow step a pattern's lines are.
    pub fn step(&self, pattern: Pattern) -> Pattern {
        self.steps
            .get(pattern.0 as usize)
            .copied()
            .unwrap_or(pattern)
    }

    pub fn severity(&self, pattern: Pattern) -> Severity {
        self.severities
            .get(pattern.0 as usize)
            .copied()
            .unwrap_or(Severity::Other)
    }

    /// The pattern as a reader sees it: the template, and where it is logged from.
    pub fn text(&self, pattern: Pattern) -> Option<String> {
        let (template, location) = self.patterns.get(pattern.0 as usize)?;
        let text = self.miner.template(*template)?.text();
        Some(match location {
            Some(location) => format!("{text} (at {location})"),
            None => text.to_owned(),
        })
    }
}

/// Mines the lines of every service that logged in the breach window, by interned service:
/// the baseline's lines first, each window in time order (then by body, for determinism).
pub(crate) fn mine<'a>(context: &Context<'a>) -> BTreeMap<u32, ServiceLogs<'a>> {
    let mut by_service: BTreeMap<u32, (Vec<&LogLine>, Vec<&LogLine>)> = BTreeMap::new();
    let windows = [
        (
            &context.inputs.baseline.logs,
            &context.baseline.log_services,
        ),
        (&context.inputs.breach.logs, &context.breach.log_services),
    ];
    for (is_breach, (lines, services)) in windows.into_iter().enumerate() {
        for (line, service) in lines.iter().zip(services) {
            let entry = by_service.entry(*service).or_default();
            if is_breach == 1 {
                entry.1.push(line);
            } else {
                entry.0.push(line);
            }
        }
    }
    let order = |a: &&LogLine, b: &&LogLine| {
        a.time_unix_nano
            .cmp(&b.time_unix_nano)
            .then_with(|| a.body.cmp(&b.body))
    };
    let mut mined = BTreeMap::new();
    for (service, (mut baseline, mut breach)) in by_service {
        if breach.is_empty() {
            continue;
        }
        baseline.sort_by(order);
        breach.sort_by(order);
        let mut miner = TemplateMiner::new(miner_config()).expect("a valid configuration");
        let baseline: Vec<(&LogLine, TemplateId)> = baseline
            .into_iter()
            .map(|line| (line, miner.add(&line.body)))
            .collect();
        let breach: Vec<(&LogLine, TemplateId)> = breach
            .into_iter()
            .map(|line| (line, miner.add(&line.body)))
            .collect();
        // Templates absorbed while mining count as the template that absorbed them.
        let mut pattern_of: HashMap<(TemplateId, Option<&'a str>), Pattern> = HashMap::new();
        let mut patterns: Vec<(TemplateId, Option<&'a str>)> = Vec::new();
        let mut severities: Vec<Severity> = Vec::new();
        let mut steps: Vec<Pattern> = Vec::new();
        let mut step_of_location: HashMap<&'a str, Pattern> = HashMap::new();
        let mut resolve = |lines: Vec<(&'a LogLine, TemplateId)>| {
            lines
                .into_iter()
                .map(|(line, id)| {
                    let location = code_location(&line.body);
                    let key = (miner.resolve(id), location);
                    let pattern = *pattern_of.entry(key).or_insert_with(|| {
                        let pattern = Pattern(patterns.len() as u32);
                        patterns.push(key);
                        severities.push(Severity::Other);
                        let step = match location {
                            Some(location) => *step_of_location.entry(location).or_insert(pattern),
                            None => pattern,
                        };
                        steps.push(step);
                        pattern
                    });
                    let line_severity = severity(line);
                    for slot in [pattern, steps[pattern.0 as usize]] {
                        let entry = &mut severities[slot.0 as usize];
                        *entry = (*entry).max(line_severity);
                    }
                    (line, pattern)
                })
                .collect::<Vec<_>>()
        };
        let baseline = resolve(baseline);
        let breach = resolve(breach);
        mined.insert(
            service,
            ServiceLogs {
                miner,
                patterns,
                severities,
                steps,
                baseline,
                breach,
            },
        );
    }
    mined
}

/// Where each trace entered each service: the operation of the service's first entry span in
/// the trace, and how many requests each (service, operation) had. All interned.
pub(crate) struct Entries {
    operation_of: HashMap<(u32, TraceId), (u64, u32)>,
    requests: HashMap<(u32, u32), u64>,
}

impl Entries {
    pub fn of(window: &Window<'_>) -> Entries {
        let index = &window.spans;
        let mut operation_of: HashMap<(u32, TraceId), (u64, u32)> = HashMap::new();
        let mut requests: HashMap<(u32, u32), u64> = HashMap::new();
        for position in 0..index.len() {
            if !index.is_entry(position) {
                continue;
            }
            let span = &index.spans[position];
            let service = index.service[position];
            let operation = index.operation[position];
            *requests.entry((service, operation)).or_default() += 1;
            let candidate = (span.start_unix_nano, operation);
            operation_of
                .entry((service, span.trace_id))
                .and_modify(|earliest| {
                    if candidate < *earliest {
                        *earliest = candidate;
                    }
                })
                .or_insert(candidate);
        }
        Entries {
            operation_of,
            requests,
        }
    }

    fn operation(&self, service: u32, line: &LogLine) -> Option<u32> {
        let trace = line.trace_id?;
        self.operation_of
            .get(&(service, trace))
            .map(|(_, operation)| *operation)
    }

    fn requests(&self, service: u32, operation: u32) -> u64 {
        self.requests
            .get(&(service, operation))
            .copied()
            .unwrap_or(0)
    }
}

/// A template that appeared or grew in one service.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TemplateChange {
    pub is_new: bool,
    pub severity: Severity,
    pub text: String,
    pub baseline_lines: u64,
    pub breach_lines: u64,
    /// Lines the baseline predicts for the breach's requests, and lines beyond that.
    pub expected: f64,
    pub excess: f64,
    /// Another service the line names (`connection refused to payments:8080`, `no instances
    /// available for payments`): the line is about a call to it.
    pub names_service: Option<String>,
    /// The traces of the template's lines in the breach window (of error and warning
    /// templates only: the others are not traced back).
    pub traces: Vec<TraceId>,
}

/// The first of `services` other than `service` that `text` names as a whole word.
fn named_service(text: &str, service: &str, services: &[&str]) -> Option<String> {
    let is_name_byte = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_');
    for other in services {
        if *other == service || other.len() < 3 {
            continue;
        }
        let mut start = 0;
        while let Some(found) = text[start..].find(other) {
            let at = start + found;
            let end = at + other.len();
            let before = at.checked_sub(1).map(|index| text.as_bytes()[index]);
            let after = text.as_bytes().get(end).copied();
            if !before.is_some_and(is_name_byte) && !after.is_some_and(is_name_byte) {
                return Some((*other).to_owned());
            }
            start = end;
        }
    }
    None
}

/// Lines of one template per operation of the request they were logged in.
#[derive(Clone, Debug, Default)]
struct TemplateLines {
    baseline: BTreeMap<Option<u32>, u64>,
    breach: BTreeMap<Option<u32>, u64>,
    severity: Option<Severity>,
    example: Option<usize>,
}

/// The templates of one service that appeared or grew beyond what its requests predict;
/// `services` are the names of all services, to tell which other service a line names.
pub(crate) fn changes(
    service: u32,
    name: &str,
    logs: &ServiceLogs<'_>,
    entries: [&Entries; 2],
    services: &[&str],
) -> Vec<TemplateChange> {
    let [baseline_entries, breach_entries] = entries;
    let mut templates: BTreeMap<Pattern, TemplateLines> = BTreeMap::new();
    let steps_seen: std::collections::HashSet<Pattern> = logs
        .baseline
        .iter()
        .map(|(_, pattern)| logs.step(*pattern))
        .collect();
    let mut untied = (0u64, 0u64);
    for (line, id) in &logs.baseline {
        let operation = baseline_entries.operation(service, line);
        let entry = templates.entry(*id).or_default();
        *entry.baseline.entry(operation).or_default() += 1;
        entry.severity = entry.severity.max(Some(severity(line)));
        untied.0 += u64::from(operation.is_none());
    }
    for (position, (line, id)) in logs.breach.iter().enumerate() {
        let operation = breach_entries.operation(service, line);
        let entry = templates.entry(*id).or_default();
        *entry.breach.entry(operation).or_default() += 1;
        entry.severity = entry.severity.max(Some(severity(line)));
        entry.example.get_or_insert(position);
        untied.1 += u64::from(operation.is_none());
    }
    let mut changes = Vec::new();
    for (id, template) in &templates {
        let Some(example) = template.example else {
            continue;
        };
        let mut observed = 0.0;
        let mut expected = 0.0;
        for (operation, count) in &template.breach {
            let baseline_count = template.baseline.get(operation).copied().unwrap_or(0) as f64;
            match operation {
                Some(operation) => {
                    let before = baseline_entries.requests(service, *operation);
                    if before == 0 {
                        continue; // an operation the baseline never served: nothing to expect
                    }
                    let after = breach_entries.requests(service, *operation);
                    observed += *count as f64;
                    expected += baseline_count / before as f64 * after as f64;
                }
                None => {
                    observed += *count as f64;
                    if untied.0 > 0 {
                        expected += baseline_count / untied.0 as f64 * untied.1 as f64;
                    }
                }
            }
        }
        let baseline_lines: u64 = template.baseline.values().sum();
        let breach_lines: u64 = template.breach.values().sum();
        let excess = observed - expected;
        let is_new = baseline_lines == 0;
        if excess < MIN_EXCESS || (!is_new && observed < MIN_GROWTH * expected) {
            continue;
        }
        let severity = template.severity.unwrap_or(Severity::Other);
        // A new text from a logging statement the baseline saw is the same step with other
        // data; only an error from it is news.
        let step = logs.step(*id);
        if is_new && severity != Severity::Error && step != *id && steps_seen.contains(&step) {
            continue;
        }
        let text = logs
            .text(*id)
            .unwrap_or_else(|| logs.breach[example].0.body.clone());
        let example_body = &logs.breach[example].0.body;
        let traces = if severity == Severity::Other {
            Vec::new()
        } else {
            logs.breach
                .iter()
                .filter(|(_, pattern)| pattern == id)
                .filter_map(|(line, _)| line.trace_id)
                .collect()
        };
        changes.push(TemplateChange {
            traces,
            names_service: named_service(example_body, name, services),
            is_new,
            severity,
            text,
            baseline_lines,
            breach_lines,
            expected,
            excess,
        });
    }
    changes
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
    fn a_line_naming_another_service_is_about_it() {
        let services = ["orders", "payments", "ts-seat-service"];
        assert_eq!(
            named_service(
                "No instances available for ts-seat-service]",
                "orders",
                &services
            ),
            Some(String::from("ts-seat-service"))
        );
        assert_eq!(
            named_service("connection refused to payments:8080", "orders", &services),
            Some(String::from("payments"))
        );
        assert_eq!(named_service("orders placed", "orders", &services), None);
        assert_eq!(named_service("prepayments done", "orders", &services), None);
    }

    #[test]
    fn code_locations_are_found_and_addresses_are_not() {
        assert_eq!(
            code_location("16:44:10.485 INFO  t.s.TravelServiceImpl#372 TraceID: b23e"),
            Some("t.s.TravelServiceImpl#372")
        );
        assert_eq!(
            code_location("2024-01-01 12:00:00 ERROR [app/handlers.py:88] boom"),
            Some("app/handlers.py:88")
        );
        assert_eq!(
            code_location("connect to ts-route-service:11178 refused"),
            None
        );
        assert_eq!(code_location("at 12:30:45 nothing"), None);
        assert_eq!(code_location("issue #42 closed"), None);
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
}

#[cfg(test)]
mod window_tests {
    use super::*;
    use crate::input::Inputs;
    use crate::testing::{inputs, request_start, span, telemetry};
    use sloscope_model::SpanKind;

    /// `back` serves `list` (one line per request) and `get` (two lines); `list_share` of the
    /// requests are lists; every `error_every`-th `get` also logs an error.
    fn window(
        first_minute: u64,
        list_share: f64,
        error_every: Option<u32>,
    ) -> crate::input::Telemetry {
        let mut spans = Vec::new();
        let mut logs = Vec::new();
        for request in 0..200u32 {
            let start = request_start(first_minute, request, 20);
            let trace = first_minute as u32 * 1000 + request;
            let is_list = f64::from(request % 100) < list_share * 100.0;
            let operation = if is_list { "list" } else { "get" };
            spans.push(span(
                trace,
                trace,
                None,
                "back",
                operation,
                SpanKind::Server,
                start,
                3.0,
            ));
            let mut log = |offset: u64, severity_number: i32, body: String| {
                logs.push(LogLine {
                    time_unix_nano: start + offset,
                    service: String::from("back"),
                    severity_number,
                    body,
                    trace_id: Some(crate::testing::trace_id(trace)),
                });
            };
            if is_list {
                log(
                    1,
                    9,
                    format!("listed {} items for user {}", request % 9, request),
                );
            } else {
                log(1, 9, format!("fetching item {request}"));
                log(2, 9, format!("got item {request} in {} ms", request % 5));
                if error_every.is_some_and(|every| request % every == 0) {
                    log(
                        3,
                        17,
                        format!("price lookup failed for item {request}: timeout"),
                    );
                }
            }
        }
        telemetry(spans, logs, Vec::new())
    }

    fn template_changes(inputs: &Inputs) -> Vec<TemplateChange> {
        let context = Context::build(inputs);
        let mined = mine(&context);
        let service = context.names.id("back").expect("back");
        let entries = [
            &Entries::of(&context.baseline),
            &Entries::of(&context.breach),
        ];
        changes(service, "back", &mined[&service], entries, &["back"])
    }

    #[test]
    fn more_requests_of_one_operation_log_more_of_its_lines_and_that_is_no_news() {
        let inputs = inputs("back", window(0, 0.8, None), window(10, 0.2, None));
        assert_eq!(template_changes(&inputs), Vec::new());
    }

    #[test]
    fn a_new_error_line_is_news() {
        let inputs = inputs("back", window(0, 0.5, None), window(10, 0.5, Some(3)));
        let changes = template_changes(&inputs);
        assert_eq!(changes.len(), 1, "{changes:#?}");
        let change = &changes[0];
        assert!(change.is_new);
        assert_eq!(change.severity, Severity::Error);
        assert!(change.text.contains("price lookup failed"), "{change:#?}");
        assert_eq!(change.expected, 0.0);
    }
}
