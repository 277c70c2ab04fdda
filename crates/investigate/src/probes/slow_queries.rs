//! Slow queries: database calls grouped by normalised statement (literals become `?`, `IN`
//! lists and `VALUES` rows collapse to one, whitespace and case of keywords do not matter), and
//! the statements whose time grew, per call and per request of the subject. The finding names
//! the service that issues the statement: its code or its schema is what a fix changes.

use std::collections::{BTreeMap, HashMap};

use crate::context::{Context, Window};
use crate::finding::{Finding, Probe, format_ms, shorten};
use crate::probes::{subject_mean_ms, subject_requests};
use crate::report::{CauseKind, Figure};
use crate::stats::{median, ramp, saturate};

/// Fewer calls than this in the breach window and a statement is not judged.
const MIN_CALLS: usize = 3;

/// A statement with its literals replaced by `?`, lists collapsed and whitespace normalised.
pub(crate) fn normalise(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut characters = statement.chars().peekable();
    let mut previous_word = false;
    while let Some(character) = characters.next() {
        match character {
            '\'' | '"' => {
                // A quoted literal ('' escapes a quote); double quotes are identifiers in SQL,
                // but parameters differ by value in them too rarely to matter: keep them.
                if character == '"' {
                    out.push('"');
                    for inner in characters.by_ref() {
                        out.push(inner);
                        if inner == '"' {
                            break;
                        }
                    }
                    previous_word = true;
                    continue;
                }
                loop {
                    match characters.next() {
                        Some('\'') if characters.peek() == Some(&'\'') => {
                            characters.next();
                        }
                        Some('\'') | None => break,
                        Some(_) => {}
                    }
                }
                out.push('?');
                previous_word = true;
            }
            '0'..='9' if !previous_word => {
                while characters
                    .peek()
                    .is_some_and(|next| next.is_ascii_alphanumeric() || *next == '.')
                {
                    characters.next();
                }
                out.push('?');
                previous_word = true;
            }
            '$' | ':' if characters.peek().is_some_and(char::is_ascii_digit) => {
                while characters.peek().is_some_and(char::is_ascii_digit) {
                    characters.next();
                }
                out.push('?');
                previous_word = true;
            }
            character if character.is_whitespace() => {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
                previous_word = false;
            }
            character => {
                previous_word = character.is_alphanumeric() || character == '_';
                out.push(character);
            }
        }
    }
    let mut text = out.trim().to_owned();
    // Collapse lists of placeholders: (?, ?, ?) -> (?), and VALUES (?), (?) -> VALUES (?).
    for (from, to) in [
        ("?, ?", "?"),
        ("?,?", "?"),
        ("(?), (?)", "(?)"),
        ("(?),(?)", "(?)"),
    ] {
        while text.contains(from) {
            text = text.replace(from, to);
        }
    }
    text
}

#[derive(Default)]
struct Calls {
    durations_ms: Vec<f64>,
    remote: String,
}

fn statements<'a>(window: &Window<'a>) -> BTreeMap<(&'a str, String), Calls> {
    // Most calls repeat a few raw statements: normalise each distinct one once.
    let mut normalised: HashMap<&str, String> = HashMap::new();
    let mut groups: HashMap<(&str, &str), Calls> = HashMap::new();
    for span in window.spans.spans {
        let Some(statement) = &span.db_statement else {
            continue;
        };
        normalised
            .entry(statement.as_str())
            .or_insert_with(|| normalise(statement));
        let calls = groups
            .entry((span.service.as_str(), statement.as_str()))
            .or_default();
        calls.durations_ms.push(span.duration_nanos as f64 / 1e6);
        if calls.remote.is_empty() {
            calls.remote = span.remote_service.clone();
        }
    }
    // Raw statements that normalise alike merge, in a deterministic order.
    let mut merged: BTreeMap<(&str, String), Calls> = BTreeMap::new();
    let mut raw: Vec<((&str, &str), Calls)> = groups.into_iter().collect();
    raw.sort_by(|a, b| a.0.cmp(&b.0));
    for ((service, statement), calls) in raw {
        let key = (service, normalised[statement].clone());
        let entry = merged.entry(key).or_default();
        entry.durations_ms.extend(calls.durations_ms);
        if entry.remote.is_empty() {
            entry.remote = calls.remote;
        }
    }
    merged
}

pub(crate) fn run(context: &Context<'_>) -> Vec<Finding> {
    let baseline = statements(&context.baseline);
    let breach = statements(&context.breach);
    let requests_before = subject_requests(context, &context.baseline).max(1.0);
    let requests_after = subject_requests(context, &context.breach).max(1.0);
    let subject_before = subject_mean_ms(context, &context.baseline).unwrap_or(0.0);
    let subject_after = subject_mean_ms(context, &context.breach).unwrap_or(0.0);
    let reference = (subject_after - subject_before)
        .max(0.25 * subject_before)
        .max(1.0);

    let mut by_service: BTreeMap<&str, Vec<(f64, &str, Finding)>> = BTreeMap::new();
    for ((service, statement), after) in &breach {
        if after.durations_ms.len() < MIN_CALLS {
            continue;
        }
        let before = baseline.get(&(*service, statement.clone()));
        let median_after = median(&after.durations_ms).unwrap_or(0.0);
        let total_after: f64 = after.durations_ms.iter().sum();
        let (median_before, total_before) = match before {
            Some(before) => (
                median(&before.durations_ms),
                before.durations_ms.iter().sum::<f64>(),
            ),
            None => (None, 0.0),
        };
        let per_request = total_after / requests_after - total_before / requests_before;
        if per_request <= 0.0 {
            continue;
        }
        let growth = match median_before {
            Some(before) => median_after / before.max(1e-3),
            // A statement the baseline never ran: judged by the time it takes alone.
            None => 2.0,
        };
        if growth < 1.5 || median_after - median_before.unwrap_or(0.0) < 1.0 {
            continue;
        }
        let score = saturate(growth.ln(), 0.7)
            * saturate(per_request / reference, 0.3)
            * ramp(after.durations_ms.len() as f64, MIN_CALLS as f64, 20.0);
        if score < 0.05 {
            continue;
        }
        let database = if after.remote.is_empty() {
            String::from("the database")
        } else {
            after.remote.clone()
        };
        let novelty = if before.is_none() {
            "new statement"
        } else {
            "statement"
        };
        let finding = Finding::new(
            Probe::SlowQueries,
            service,
            CauseKind::SlowQuery,
            score,
            format!(
                "{novelty} of {service} on {database} takes {} per call (baseline {}), {} more per request: {}",
                format_ms(median_after),
                median_before.map_or_else(|| String::from("none"), format_ms),
                format_ms(per_request),
                shorten(statement, 160)
            ),
        )
        .with(
            format!("median duration of `{}`", shorten(statement, 160)),
            "statement_ms",
            median_before,
            Some(median_after),
        )
        .with(
            format!("time in this statement per request of {}", context.subject()),
            "statement_ms_per_request",
            Some(total_before / requests_before),
            Some(total_after / requests_after),
        );
        by_service
            .entry(service)
            .or_default()
            .push((score, statement, finding));
    }
    // The worst statement per service leads; the next ones join as evidence.
    let mut findings = Vec::new();
    for (service, mut statements) in by_service {
        statements.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.2.summary.cmp(&b.2.summary))
        });
        let mut iterator = statements.into_iter();
        let Some((_, statement, lead)) = iterator.next() else {
            continue;
        };
        let mut lead = lead.with_figure(slow_call(&context.breach, service, statement));
        for (_, _, other) in iterator.take(2) {
            lead.evidence.extend(other.evidence);
        }
        findings.push(lead);
    }
    findings
}

/// A slow call of `service` running `statement` (normalised), on its trace.
fn slow_call(window: &Window<'_>, service: &str, statement: &str) -> Option<Figure> {
    let mut matches: HashMap<&str, bool> = HashMap::new();
    window.exemplar(
        format!("a slow call of `{}` by {service}", shorten(statement, 80)),
        |_, span| {
            let raw = span.db_statement.as_deref()?;
            let same = *matches
                .entry(raw)
                .or_insert_with(|| normalise(raw) == statement);
            (same && span.service == service).then_some(span.duration_nanos)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_normalise() {
        assert_eq!(
            normalise("SELECT * FROM orders WHERE id = 42 AND name = 'O''Brien'"),
            "SELECT * FROM orders WHERE id = ? AND name = ?"
        );
        assert_eq!(
            normalise("select a from t where id in (1, 2, 3,4)\n   limit 10"),
            "select a from t where id in (?) limit ?"
        );
        assert_eq!(
            normalise("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')"),
            "INSERT INTO t (a, b) VALUES (?)"
        );
        assert_eq!(normalise("SELECT $1, :2 FROM t2"), "SELECT ? FROM t2");
    }
}
