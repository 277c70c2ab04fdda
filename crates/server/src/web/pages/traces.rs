//! `/traces/{id}`: the trace as a waterfall (spans in call order, indented by depth, a bar per
//! span on the trace's time axis; failed spans in red), each span's attributes, resource and
//! events a click away, and the log lines of the trace.
//!
//! Links to a trace carry `?at=<unix seconds>` (when the span or log line that links was
//! seen): the store then reads the segments of the hour around it instead of all time, which
//! on a day of data is the difference between milliseconds and a second. Without the hint, or
//! when the hour holds none of the trace, all time is read.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use sloscope_model::{MINUTE_NANOS, StatusCode, TimeRange};
use sloscope_store::{LogQuery, SpanQuery, SpanRow};

use crate::api::ApiState;
use crate::error::ApiError;
use crate::web::html::{escape, millis, path_segment, time};
use crate::web::pages::logs::log_table;
use crate::web::{PageResult, Section, blocking, page};

/// Spans in depth-first call order with their depth; spans whose parent is missing start
/// their own subtree, so every span appears once.
pub fn call_order(spans: &[SpanRow]) -> Vec<(usize, usize)> {
    let ids: HashSet<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (index, span) in spans.iter().enumerate() {
        match span.parent_span_id.as_deref() {
            Some(parent) if ids.contains(parent) && parent != span.span_id => {
                children.entry(parent).or_default().push(index)
            }
            _ => roots.push(index),
        }
    }
    let by_start = |list: &mut Vec<usize>| {
        list.sort_by_key(|index| (spans[*index].start_time_unix_nano, *index));
    };
    by_start(&mut roots);
    for list in children.values_mut() {
        by_start(list);
    }
    let mut order = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|index| (*index, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut visited[index], true) {
            continue; // a cycle of parent ids
        }
        order.push((index, depth));
        if let Some(list) = children.get(spans[index].span_id.as_str()) {
            stack.extend(list.iter().rev().map(|child| (*child, depth + 1)));
        }
    }
    order
}

/// How far from the hint a trace's spans are looked for first.
const HINT_REACH_NANOS: u64 = 30 * 60 * 1_000_000_000;

#[derive(Debug, Deserialize)]
pub struct TraceParams {
    /// About when the trace happened, unix seconds: a hint that narrows the read.
    at: Option<u64>,
}

/// Where to look for a trace first: the hour around the hint, if there is one.
pub fn hinted_range(at_seconds: Option<u64>) -> Option<TimeRange> {
    let at = at_seconds?.checked_mul(1_000_000_000)?;
    Some(TimeRange::new(
        at.saturating_sub(HINT_REACH_NANOS),
        at.saturating_add(HINT_REACH_NANOS),
    ))
}

pub async fn waterfall(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(params): Query<TraceParams>,
) -> PageResult {
    let mut trace_id = [0u8; 16];
    hex::decode_to_slice(&id, &mut trace_id)
        .map_err(|_| ApiError::BadRequest(format!("trace id `{id}` must be 32 hex digits")))?;
    let store = state.store.clone();
    let (spans, logs) = blocking(move || {
        let query = |range: TimeRange| SpanQuery::trace(trace_id, range, 10_000);
        let mut spans = match hinted_range(params.at) {
            Some(range) => store.spans(&query(range))?,
            None => Vec::new(),
        };
        if spans.is_empty() {
            spans = store.spans(&query(TimeRange::new(0, u64::MAX)))?;
        }
        let logs = match (
            spans.iter().map(|span| span.start_time_unix_nano).min(),
            spans
                .iter()
                .map(|span| span.start_time_unix_nano + span.duration_nanos)
                .max(),
        ) {
            (Some(from), Some(to)) => store.logs(&LogQuery {
                range: TimeRange::new(from.saturating_sub(MINUTE_NANOS), to + MINUTE_NANOS),
                service: None,
                min_severity: None,
                trace_id: Some(trace_id),
                contains: None,
                limit: 1_000,
            })?,
            _ => Vec::new(),
        };
        Ok((spans, logs))
    })
    .await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound(format!("no spans of trace {id}")).into());
    }
    let start = spans
        .iter()
        .map(|span| span.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|span| span.start_time_unix_nano + span.duration_nanos)
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let length = (end - start) as f64;
    let services: HashSet<&str> = spans.iter().map(|span| span.service.as_str()).collect();
    let failed = spans
        .iter()
        .filter(|span| span.status_code == StatusCode::Error)
        .count();
    let mut body = format!(
        "<h1>Trace <code>{}</code></h1><p class=\"lead\">{} · {} spans · {} services · {} failed · {} · <a href=\"/api/v1/traces/{}\">JSON</a></p>",
        escape(&id.to_lowercase()),
        time(start),
        spans.len(),
        services.len(),
        failed,
        millis(Some(length / 1e6)),
        path_segment(&id)
    );
    body.push_str(&waterfall_table(&spans, &call_order(&spans), None, true));
    let _ = write!(
        body,
        "<h2>Logs of this trace</h2><p><a href=\"/logs?trace_id={}&amp;from={}&amp;to={}\">In the log view</a></p>",
        path_segment(&id.to_lowercase()),
        (start / 1_000_000_000).saturating_sub(60),
        end / 1_000_000_000 + 61
    );
    if logs.is_empty() {
        body.push_str("<p class=\"empty\">No log line carries this trace id.</p>");
    } else {
        body.push_str(&log_table(&logs, false));
    }
    Ok(page(&format!("Trace {id}"), Section::Services, &body))
}

/// The waterfall of `spans`, the rows given as (index, depth) in call order: a bar per span on
/// the time axis of the rows shown. `pointed` (a span id) is marked as the span a figure points
/// at; `details` adds each span's attributes and events a click away.
pub fn waterfall_table(
    spans: &[SpanRow],
    rows: &[(usize, usize)],
    pointed: Option<&str>,
    details: bool,
) -> String {
    let start = rows
        .iter()
        .map(|(index, _)| spans[*index].start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = rows
        .iter()
        .map(|(index, _)| spans[*index].start_time_unix_nano + spans[*index].duration_nanos)
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let length = (end - start) as f64;
    let mut out = String::from(
        "<div class=\"scroll\"><table class=\"waterfall\"><thead><tr><th>span</th><th class=\"num\">duration</th><th class=\"bar\">timeline</th></tr></thead><tbody>",
    );
    for (index, depth) in rows {
        let span = &spans[*index];
        let detail_id = format!("span-{index}");
        let offset = (span.start_time_unix_nano - start) as f64 / length * 100.0;
        let width = span.duration_nanos as f64 / length * 100.0;
        let error = span.status_code == StatusCode::Error;
        let is_pointed = pointed == Some(span.span_id.as_str());
        let operation = span.operation_or_name();
        let _ = write!(
            out,
            "<tr{}><td class=\"name\" style=\"padding-left:{:.1}rem\">{}<a href=\"/services/{}\">{}</a> {}{}</td><td class=\"num\">{}</td><td class=\"bar\"><div class=\"track\"><div class=\"span{}\" style=\"left:{offset:.2}%;width:{width:.2}%\" title=\"{} {} at +{}\"></div></div></td></tr>",
            if is_pointed { " class=\"pointed\"" } else { "" },
            0.6 + (*depth).min(20) as f64 * 0.9,
            if details {
                format!(
                    "<button type=\"button\" class=\"expand\" aria-expanded=\"false\" aria-controls=\"{detail_id}\" title=\"attributes and events\">▸</button> "
                )
            } else {
                String::new()
            },
            path_segment(&span.service),
            escape(&span.service),
            escape(operation),
            if error {
                format!(
                    " <span class=\"badge firing\">error</span> <span class=\"muted\">{}</span>",
                    escape(&span.status_message)
                )
            } else {
                String::new()
            },
            millis(Some(span.duration_nanos as f64 / 1e6)),
            if error { " error" } else { "" },
            escape(&span.service),
            escape(operation),
            millis(Some((span.start_time_unix_nano - start) as f64 / 1e6)),
        );
        if details {
            let _ = write!(
                out,
                "<tr class=\"span-detail\" id=\"{detail_id}\" hidden><td colspan=\"3\">{}</td></tr>",
                span_detail(span, start)
            );
        }
    }
    out.push_str("</tbody></table></div>");
    out
}

/// An attribute value as text: strings without their quotes, anything else as JSON.
fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A `key = value` list of an attribute object, or nothing when it is empty.
fn attribute_list(title: &str, attributes: &serde_json::Value) -> String {
    let Some(entries) = attributes.as_object().filter(|entries| !entries.is_empty()) else {
        return String::new();
    };
    let mut html = if title.is_empty() {
        String::new()
    } else {
        format!("<h4>{}</h4>", escape(title))
    };
    html.push_str("<dl class=\"attributes\">");
    for (key, value) in entries {
        let _ = write!(
            html,
            "<dt>{}</dt><dd>{}</dd>",
            escape(key),
            escape(&value_text(value))
        );
    }
    html.push_str("</dl>");
    html
}

/// What a span carries beyond its bar: ids, kind, status, attributes, events, resource.
fn span_detail(span: &SpanRow, trace_start: u64) -> String {
    let mut html = format!(
        "<p class=\"muted\">span <code>{}</code> · {} · version {} · status {}{}</p>",
        escape(&span.span_id),
        escape(&format!("{:?}", span.kind).to_lowercase()),
        escape(if span.version.is_empty() {
            "–"
        } else {
            &span.version
        }),
        escape(&format!("{:?}", span.status_code).to_lowercase()),
        if span.status_message.is_empty() {
            String::new()
        } else {
            format!(": {}", escape(&span.status_message))
        }
    );
    html.push_str(&attribute_list("Attributes", &span.attributes));
    if let Some(events) = span.events.as_array().filter(|events| !events.is_empty()) {
        html.push_str("<h4>Events</h4><ul class=\"events\">");
        for event in events {
            let offset = event["time_unix_nano"]
                .as_u64()
                .map(|time| millis(Some(time.saturating_sub(trace_start) as f64 / 1e6)))
                .unwrap_or_default();
            let _ = write!(
                html,
                "<li>+{offset} <strong>{}</strong>{}</li>",
                escape(event["name"].as_str().unwrap_or("event")),
                attribute_list("", &event["attributes"])
            );
        }
        html.push_str("</ul>");
    }
    html.push_str(&attribute_list("Resource", &span.resource_attributes));
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_narrows_the_read_to_the_hour_around_it() {
        assert_eq!(hinted_range(None), None);
        let at = 1_800_000_000;
        let range = hinted_range(Some(at)).unwrap();
        assert_eq!(
            range,
            TimeRange::new(
                at * 1_000_000_000 - HINT_REACH_NANOS,
                at * 1_000_000_000 + HINT_REACH_NANOS
            )
        );
        // Near zero and far beyond any clock: a range or no hint, never an overflow.
        assert_eq!(hinted_range(Some(0)).unwrap().from, 0);
        assert_eq!(hinted_range(Some(u64::MAX)), None);
    }
}
