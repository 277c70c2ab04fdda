//! Specs back to sloscope's YAML format, written by hand so that the output reads like the
//! examples (flow style for short rules, block style elsewhere) and every string that YAML
//! could read as something else is quoted.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::alert::{AlertPolicy, BurnRule, Severity, window_label};
use crate::spec::{
    Budgeting, CalendarUnit, Exclusion, Indicator, MetricQuery, RatioKind, Scope, SloSpec, Window,
};

use super::{API_VERSION, KIND};

/// One SLO as a YAML document of sloscope's format; [`super::parse_specs`] reads it back to
/// an equal spec. The alerting block is left out when it is the default for the window.
pub fn to_yaml(spec: &SloSpec) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_spec(&mut out, spec);
    out
}

/// Several SLOs as one YAML stream, documents separated by `---`.
pub fn to_yaml_documents(specs: &[SloSpec]) -> String {
    specs.iter().map(to_yaml).collect::<Vec<_>>().join("---\n")
}

fn write_spec(out: &mut String, spec: &SloSpec) -> std::fmt::Result {
    writeln!(out, "apiVersion: {API_VERSION}")?;
    writeln!(out, "kind: {KIND}")?;
    writeln!(out, "name: {}", scalar(&spec.name, Context::Block))?;
    if !spec.description.is_empty() {
        writeln!(
            out,
            "description: {}",
            scalar(&spec.description, Context::Block)
        )?;
    }
    writeln!(out, "service: {}", scalar(&spec.service, Context::Block))?;
    if let Some(environment) = &spec.environment {
        writeln!(out, "environment: {}", scalar(environment, Context::Block))?;
    }
    match &spec.scope {
        Scope::Service => {}
        Scope::Operation { operation } => {
            writeln!(out, "operation: {}", scalar(operation, Context::Block))?;
        }
        Scope::Dependency {
            remote_service,
            remote_operation,
        } => {
            writeln!(out, "dependency:")?;
            writeln!(
                out,
                "  remote_service: {}",
                scalar(remote_service, Context::Block)
            )?;
            if let Some(remote_operation) = remote_operation {
                writeln!(
                    out,
                    "  remote_operation: {}",
                    scalar(remote_operation, Context::Block)
                )?;
            }
        }
    }
    writeln!(out, "indicator:")?;
    match &spec.indicator {
        Indicator::Availability => writeln!(out, "  availability: {{}}")?,
        Indicator::ErrorRate => writeln!(out, "  error_rate: {{}}")?,
        Indicator::Latency { threshold_ms } => {
            writeln!(out, "  latency: {{threshold_ms: {threshold_ms}}}")?;
        }
        Indicator::MetricRatio {
            numerator,
            denominator,
            numerator_is,
        } => {
            writeln!(out, "  ratio:")?;
            let numerator_key = match numerator_is {
                RatioKind::Good => "good",
                RatioKind::Bad => "bad",
            };
            write_query(out, numerator_key, numerator)?;
            write_query(out, "total", denominator)?;
        }
    }
    writeln!(out, "objective: {}", percent(spec.objective))?;
    match &spec.window {
        Window::Rolling { days } => writeln!(out, "window: {days}d")?,
        Window::Calendar { unit, timezone } => {
            let unit = match unit {
                CalendarUnit::Week => "week",
                CalendarUnit::Month => "month",
            };
            writeln!(
                out,
                "window: {{calendar: {unit}, timezone: {}}}",
                scalar(timezone, Context::Flow)
            )?;
        }
    }
    match &spec.budgeting {
        Budgeting::Occurrences => writeln!(out, "budgeting: occurrences")?,
        Budgeting::Timeslices {
            slice_minutes,
            slice_target,
        } => writeln!(
            out,
            "budgeting: {{timeslices: {{slice: {}, target: {}}}}}",
            window_label(i64::from(*slice_minutes)),
            percent(*slice_target)
        )?,
    }
    if spec.alerting != AlertPolicy::workbook(spec.window.period_minutes()) {
        write_alerting(out, &spec.alerting)?;
    }
    if !spec.exclusions.is_empty() {
        writeln!(out, "exclusions:")?;
        for exclusion in &spec.exclusions {
            match exclusion {
                Exclusion::Once { from, to, reason } => writeln!(
                    out,
                    "  - {{from: {}, to: {}, reason: {}}}",
                    timestamp(*from),
                    timestamp(*to),
                    scalar(reason, Context::Flow)
                )?,
                Exclusion::Recurring {
                    cron,
                    duration_minutes,
                    reason,
                } => writeln!(
                    out,
                    "  - {{cron: {}, duration: {}, reason: {}}}",
                    double_quoted(cron),
                    window_label(i64::from(*duration_minutes)),
                    scalar(reason, Context::Flow)
                )?,
            }
        }
    }
    if !spec.labels.is_empty() {
        writeln!(out, "labels:")?;
        write_map(out, "  ", &spec.labels)?;
    }
    Ok(())
}

fn write_query(out: &mut String, key: &str, query: &MetricQuery) -> std::fmt::Result {
    writeln!(out, "    {key}:")?;
    writeln!(
        out,
        "      metric: {}",
        scalar(&query.metric, Context::Block)
    )?;
    if !query.labels.is_empty() {
        writeln!(out, "      labels:")?;
        write_map(out, "        ", &query.labels)?;
    }
    Ok(())
}

fn write_map(out: &mut String, indent: &str, map: &BTreeMap<String, String>) -> std::fmt::Result {
    for (key, value) in map {
        writeln!(
            out,
            "{indent}{}: {}",
            scalar(key, Context::Block),
            scalar(value, Context::Block)
        )?;
    }
    Ok(())
}

fn write_alerting(out: &mut String, policy: &AlertPolicy) -> std::fmt::Result {
    writeln!(out, "alerting:")?;
    for (key, severity) in [("page", Severity::Page), ("ticket", Severity::Ticket)] {
        let rules: Vec<&BurnRule> = policy
            .burn_rules
            .iter()
            .filter(|rule| rule.severity == severity)
            .collect();
        if rules.is_empty() {
            writeln!(out, "  {key}: []")?;
            continue;
        }
        writeln!(out, "  {key}:")?;
        for rule in rules {
            writeln!(
                out,
                "    - {{burn_rate: {}, long: {}, short: {}}}",
                rule.burn_rate,
                window_label(rule.long_minutes),
                window_label(rule.short_minutes)
            )?;
        }
    }
    writeln!(out, "  min_events: {}", policy.min_events)?;
    writeln!(out, "  budget_warning: {}", percent(policy.budget_warning))?;
    writeln!(out, "  no_data: {}", window_label(policy.no_data_minutes))?;
    // `window_label(0)` is `0d`, true but odd for a pending time.
    let pending = if policy.pending_minutes == 0 {
        "0m".to_string()
    } else {
        window_label(policy.pending_minutes)
    };
    writeln!(out, "  pending: {pending}")?;
    Ok(())
}

/// A fraction as a percentage that reads back to the same fraction: 0.999 is `99.9`, not
/// `99.90000000000001`. The decimal point of the fraction's shortest text moves two places,
/// so no arithmetic rounds. Exact for fractions of up to 15 significant digits (percentages
/// have fewer distinct f64 values than fractions, so not for every f64).
pub(crate) fn percent(fraction: f64) -> String {
    let text = fraction.to_string();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, decimals) = digits.split_once('.').unwrap_or((digits, ""));
    let mut decimals = decimals.to_string();
    while decimals.len() < 2 {
        decimals.push('0');
    }
    let (moved, rest) = decimals.split_at(2);
    let whole = format!("{whole}{moved}");
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let rest = rest.trim_end_matches('0');
    let sign = if negative { "-" } else { "" };
    if rest.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{rest}")
    }
}

fn timestamp(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|instant| instant.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Block,
    /// Inside `{...}`, where `,`, `[`, `]`, `{` and `}` end a plain scalar.
    Flow,
}

/// The string plain when YAML reads it back as the same string, else double-quoted.
fn scalar(text: &str, context: Context) -> String {
    if is_plain_safe(text, context) {
        text.to_string()
    } else {
        double_quoted(text)
    }
}

/// A YAML double-quoted scalar: quotes, backslashes and every character YAML does not allow
/// raw in a document (controls, DEL, C1 controls, line and paragraph separators, the byte
/// order mark) are escaped.
fn double_quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            control
                if control.is_control()
                    || matches!(control, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                let _ = write!(quoted, "\\u{:04x}", u32::from(control));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

fn is_plain_safe(text: &str, context: Context) -> bool {
    const RESERVED: &[&str] = &[
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n",
    ];
    let Some(first) = text.chars().next() else {
        return false;
    };
    // A leading digit, sign or dot could read as a number; indicators start other nodes.
    let first_ok = first.is_ascii_alphabetic() || first == '_' || first == '/';
    let rest_ok = text.chars().all(|character| {
        character.is_ascii_alphanumeric()
            || matches!(
                character,
                ' ' | '_' | '-' | '.' | '/' | '(' | ')' | '+' | '=' | '@'
            )
            || (context == Context::Block && matches!(character, '{' | '}' | '[' | ']' | ','))
    });
    first_ok
        && rest_ok
        && !text.ends_with(' ')
        && !RESERVED.iter().any(|word| word.eq_ignore_ascii_case(text))
        && !text.starts_with(".inf")
        && !text.starts_with(".nan")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_the_shortest_that_read_back() {
        assert_eq!(percent(0.999), "99.9");
        assert_eq!(percent(0.5), "50");
        assert_eq!(percent(0.99995), "99.995");
        assert_eq!(percent(1.0), "100");
        assert_eq!(percent(0.0001), "0.01");
        assert_eq!(percent(0.02029465385342784), "2.029465385342784");
        // Fractions of up to 15 significant digits; a percentage has fewer distinct f64
        // values than a fraction, so not every f64 fraction has one that reads back.
        for fraction in [0.999, 0.9995, 0.99999, 0.123456789012345, 1e-7] {
            assert_eq!(
                super::super::fraction_of_percent(percent(fraction).parse().unwrap()),
                fraction
            );
        }
    }

    #[test]
    fn strings_that_could_read_as_something_else_are_quoted() {
        assert_eq!(scalar("customers", Context::Block), "customers");
        assert_eq!(
            scalar("GET /customers/{id}", Context::Block),
            "GET /customers/{id}"
        );
        assert_eq!(
            scalar("GET /customers/{id}", Context::Flow),
            "\"GET /customers/{id}\""
        );
        assert_eq!(scalar("1", Context::Block), "\"1\"");
        assert_eq!(scalar("no", Context::Block), "\"no\"");
        assert_eq!(scalar("NULL", Context::Block), "\"NULL\"");
        assert_eq!(
            scalar("postgresql:shop", Context::Block),
            "\"postgresql:shop\""
        );
        assert_eq!(scalar("a # b", Context::Block), "\"a # b\"");
        assert_eq!(scalar("", Context::Block), "\"\"");
        assert_eq!(
            scalar("line\nbreak \"q\"", Context::Block),
            "\"line\\nbreak \\\"q\\\"\""
        );
    }
}
