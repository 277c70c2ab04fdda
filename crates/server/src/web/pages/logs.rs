//! `/logs`: log lines, newest first, filtered by service, lowest severity, trace id, text in
//! the body and time range, through a plain GET form (so a filtered view is a link that can
//! be shared, and the service and trace pages link to theirs). Each line links to its trace.
//! The filters mean what they mean in `GET /api/v1/logs`, parsed by the same functions.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use serde::Deserialize;
use sloscope_model::{MINUTE_NANOS, SignalKind, TimeRange, parse_timestamp};
use sloscope_store::{LogQuery, LogRow, SignalFilter};

use crate::api::{ApiState, parse_severity, parse_trace_id};
use crate::error::ApiError;
use crate::web::html::{count, escape, path_segment, time};
use crate::web::{PageResult, Section, blocking, page};

/// Lines shown when the form does not ask for a number.
const DEFAULT_LIMIT: usize = 200;
/// More lines than this make a page too slow to read anyway.
const MAXIMUM_LIMIT: usize = 2_000;
/// The choices of the time range menu: the form's value and the minutes it means.
const LAST: [(&str, u64); 6] = [
    ("15m", 15),
    ("1h", 60),
    ("6h", 360),
    ("24h", 1440),
    ("3d", 4320),
    ("7d", 10_080),
];
/// The severity menu: the form's value (what `parse_severity` reads) and its label.
const SEVERITIES: [(&str, &str); 6] = [
    ("", "any severity"),
    ("debug", "debug and above"),
    ("info", "info and above"),
    ("warn", "warn and above"),
    ("error", "error and above"),
    ("fatal", "fatal"),
];

#[derive(Debug, Default, Deserialize)]
pub struct LogParams {
    service: Option<String>,
    severity: Option<String>,
    trace_id: Option<String>,
    contains: Option<String>,
    /// One of [`LAST`]; ignored when `from` is given.
    last: Option<String>,
    /// RFC 3339 or unix seconds.
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

/// A form value, or None when the field was left empty.
fn given(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// The lowest-level name of an OTLP severity number, for a line without severity text and
/// for the colour of every line.
pub fn severity_word(number: i32) -> &'static str {
    match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "unspecified",
    }
}

/// The time range the parameters ask for, ending now unless `to` says otherwise.
fn range_of(params: &LogParams, now: u64) -> Result<TimeRange, ApiError> {
    let parse = |name: &str, value: &Option<String>| {
        given(value)
            .map(|text| {
                parse_timestamp(text)
                    .map_err(|error| ApiError::BadRequest(format!("`{name}`: {error}")))
            })
            .transpose()
    };
    let to = parse("to", &params.to)?.unwrap_or(now);
    let from = match parse("from", &params.from)? {
        Some(from) => from,
        None => {
            let last = given(&params.last).unwrap_or("1h");
            let minutes = LAST
                .iter()
                .find(|(value, _)| *value == last)
                .map(|(_, minutes)| *minutes)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "`last` is `{last}`, want one of 15m, 1h, 6h, 24h, 3d, 7d"
                    ))
                })?;
            to.saturating_sub(minutes * MINUTE_NANOS)
        }
    };
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    Ok(TimeRange::new(from, to))
}

/// The query the parameters ask for; every bad value is a 400 naming the field.
fn query_of(params: &LogParams, now: u64) -> Result<LogQuery, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAXIMUM_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAXIMUM_LIMIT}"
        )));
    }
    Ok(LogQuery {
        range: range_of(params, now)?,
        service: given(&params.service).map(str::to_owned),
        min_severity: given(&params.severity).map(parse_severity).transpose()?,
        trace_id: given(&params.trace_id)
            .map(|text| parse_trace_id(&text.to_ascii_lowercase()))
            .transpose()?,
        contains: given(&params.contains).map(str::to_owned),
        limit,
    })
}

/// The filter form, filled with what was asked.
fn form(params: &LogParams, services: &[String]) -> String {
    let value = |field: &Option<String>| escape(given(field).unwrap_or(""));
    let mut html =
        String::from("<form class=\"filters\" method=\"get\" action=\"/logs\" role=\"search\">");
    let _ = write!(
        html,
        "<input name=\"service\" list=\"log-services\" placeholder=\"service\" aria-label=\"service\" value=\"{}\"><datalist id=\"log-services\">",
        value(&params.service)
    );
    for service in services {
        let _ = write!(html, "<option value=\"{}\"></option>", escape(service));
    }
    html.push_str("</datalist><select name=\"severity\" aria-label=\"lowest severity\">");
    let severity = given(&params.severity).unwrap_or("").to_ascii_lowercase();
    for (option, label) in SEVERITIES {
        let selected = if option == severity { " selected" } else { "" };
        let _ = write!(
            html,
            "<option value=\"{option}\"{selected}>{label}</option>"
        );
    }
    let _ = write!(
        html,
        "</select><input name=\"contains\" type=\"search\" placeholder=\"text in the message\" aria-label=\"text in the message\" value=\"{}\"><input name=\"trace_id\" placeholder=\"trace id\" aria-label=\"trace id\" size=\"34\" value=\"{}\"><select name=\"last\" aria-label=\"time range\">",
        value(&params.contains),
        value(&params.trace_id)
    );
    let last = given(&params.last).unwrap_or("1h");
    for (option, _) in LAST {
        let selected = if option == last { " selected" } else { "" };
        let _ = write!(
            html,
            "<option value=\"{option}\"{selected}>last {option}</option>"
        );
    }
    let _ = write!(
        html,
        "</select><input name=\"from\" placeholder=\"from (RFC 3339 or unix s)\" aria-label=\"from\" value=\"{}\"><input name=\"to\" placeholder=\"to\" aria-label=\"to\" value=\"{}\"><button type=\"submit\">Show</button> <a href=\"/logs\">clear</a></form>",
        value(&params.from),
        value(&params.to)
    );
    html
}

pub async fn list(State(state): State<ApiState>, Query(params): Query<LogParams>) -> PageResult {
    let now = crate::now_unix_nano();
    let query = query_of(&params, now)?;
    let range = query.range;
    let limit = query.limit;
    let store = state.store.clone();
    let (lines, services) = blocking(move || {
        // The services that answered requests lately fill the form's suggestions; the
        // rollups answer that without reading a log.
        let day = TimeRange::new(now.saturating_sub(1440 * MINUTE_NANOS), now);
        let server = SignalFilter {
            kind: Some(SignalKind::Server),
            ..SignalFilter::default()
        };
        let mut services: Vec<String> = store
            .signal_buckets(day, &server, None)?
            .into_iter()
            .map(|row| row.key.service)
            .collect();
        services.sort();
        services.dedup();
        Ok((store.logs(&query)?, services))
    })
    .await?;

    let mut body = String::from("<h1>Logs</h1>");
    body.push_str(&form(&params, &services));
    let _ = write!(
        body,
        "<p class=\"lead\">{} lines from {} to {}, newest first{}</p>",
        count(lines.len() as u64),
        time(range.from),
        time(range.to),
        if lines.len() >= limit {
            format!(
                " (the newest {limit}: narrow the filters or the range for older ones, or ask for more with <code>limit</code>)"
            )
        } else {
            String::new()
        }
    );
    if lines.is_empty() {
        body.push_str("<p class=\"empty\">No log line matches.</p>");
        return Ok(page("Logs", Section::Logs, &body));
    }
    body.push_str(&log_table(&lines, true));
    Ok(page("Logs", Section::Logs, &body))
}

/// Log lines as a table, newest first as given; `trace_links` adds a column linking each
/// line's trace (left out where the lines are all of one trace).
pub fn log_table(lines: &[LogRow], trace_links: bool) -> String {
    let mut out = format!(
        "<div class=\"scroll\"><table class=\"logs\" id=\"logs\"><thead><tr><th>time</th><th>service</th><th>severity</th><th>message</th>{}</tr></thead><tbody>",
        if trace_links { "<th>trace</th>" } else { "" }
    );
    for line in lines {
        let word = severity_word(line.severity_number);
        let severity = if line.severity_text.is_empty() {
            word
        } else {
            line.severity_text.as_str()
        };
        let trace = match (&line.trace_id, trace_links) {
            (Some(trace_id), true) => format!(
                "<td><a href=\"/traces/{}?at={}\"><code>{}</code></a></td>",
                path_segment(trace_id),
                line.time_unix_nano / 1_000_000_000,
                escape(trace_id.get(..12).unwrap_or(trace_id))
            ),
            (None, true) => String::from("<td></td>"),
            (_, false) => String::new(),
        };
        let _ = write!(
            out,
            "<tr class=\"severity-{word}\"><td class=\"when\">{}</td><td><a href=\"/services/{}\">{}</a></td><td class=\"severity\">{}</td><td class=\"message\"><code>{}</code></td>{trace}</tr>",
            time(line.time_unix_nano),
            path_segment(&line.service),
            escape(&line.service),
            escape(severity),
            escape(&line.body)
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000 * 1_000_000_000;

    #[test]
    fn an_empty_form_asks_for_the_last_hour() {
        let query = query_of(&LogParams::default(), NOW).unwrap();
        assert_eq!(query.range, TimeRange::new(NOW - 60 * MINUTE_NANOS, NOW));
        assert_eq!(query.limit, DEFAULT_LIMIT);
        assert!(query.service.is_none() && query.min_severity.is_none());
    }

    #[test]
    fn empty_fields_are_no_filter_and_bad_ones_are_named() {
        let params = LogParams {
            service: Some("  ".into()),
            severity: Some("warn".into()),
            trace_id: Some("".into()),
            last: Some("24h".into()),
            ..LogParams::default()
        };
        let query = query_of(&params, NOW).unwrap();
        assert!(query.service.is_none() && query.trace_id.is_none());
        assert_eq!(query.min_severity, Some(13));
        assert_eq!(query.range.from, NOW - 1440 * MINUTE_NANOS);
        for (params, field) in [
            (
                LogParams {
                    severity: Some("loud".into()),
                    ..LogParams::default()
                },
                "severity",
            ),
            (
                LogParams {
                    trace_id: Some("xyz".into()),
                    ..LogParams::default()
                },
                "trace id",
            ),
            (
                LogParams {
                    last: Some("2w".into()),
                    ..LogParams::default()
                },
                "last",
            ),
            (
                LogParams {
                    from: Some("yesterday".into()),
                    ..LogParams::default()
                },
                "from",
            ),
            (
                LogParams {
                    limit: Some(0),
                    ..LogParams::default()
                },
                "limit",
            ),
        ] {
            let error = query_of(&params, NOW).unwrap_err().to_string();
            assert!(error.contains(field), "{field}: {error}");
        }
    }

    #[test]
    fn from_and_to_override_the_menu() {
        let params = LogParams {
            from: Some("1799990000".into()),
            to: Some("1799999000".into()),
            last: Some("15m".into()),
            ..LogParams::default()
        };
        let range = query_of(&params, NOW).unwrap().range;
        assert_eq!(
            range,
            TimeRange::new(1_799_990_000_000_000_000, 1_799_999_000_000_000_000)
        );
    }

    #[test]
    fn severity_numbers_name_their_level() {
        assert_eq!(severity_word(9), "info");
        assert_eq!(severity_word(17), "error");
        assert_eq!(severity_word(0), "unspecified");
    }
}
