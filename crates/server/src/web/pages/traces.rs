//! `/traces/{id}`: the trace as a waterfall (spans in call order, indented by depth, a bar per
//! span on the trace's time axis; failed spans in red) and the log lines of the trace.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use axum::extract::{Path, State};
use sloscope_model::{StatusCode, TimeRange};
use sloscope_store::{LogQuery, SpanQuery, SpanRow};

use crate::api::ApiState;
use crate::error::ApiError;
use crate::web::html::{escape, millis, path_segment, time};
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

pub async fn waterfall(State(state): State<ApiState>, Path(id): Path<String>) -> PageResult {
    let mut trace_id = [0u8; 16];
    hex::decode_to_slice(&id, &mut trace_id)
        .map_err(|_| ApiError::BadRequest(format!("trace id `{id}` must be 32 hex digits")))?;
    let store = state.store.clone();
    let (spans, logs) = blocking(move || {
        let spans = store.spans(&SpanQuery {
            range: TimeRange::new(0, u64::MAX),
            service: None,
            operation: None,
            min_duration: None,
            errors_only: false,
            trace_id: Some(trace_id),
            limit: 10_000,
        })?;
        let logs = match (
            spans.iter().map(|span| span.start_time_unix_nano).min(),
            spans
                .iter()
                .map(|span| span.start_time_unix_nano + span.duration_nanos)
                .max(),
        ) {
            (Some(from), Some(to)) => store.logs(&LogQuery {
                range: TimeRange::new(from.saturating_sub(60_000_000_000), to + 60_000_000_000),
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
    body.push_str("<div class=\"scroll\"><table class=\"waterfall\"><thead><tr><th>span</th><th class=\"num\">duration</th><th class=\"bar\">timeline</th></tr></thead><tbody>");
    for (index, depth) in call_order(&spans) {
        let span = &spans[index];
        let offset = (span.start_time_unix_nano - start) as f64 / length * 100.0;
        let width = span.duration_nanos as f64 / length * 100.0;
        let error = span.status_code == StatusCode::Error;
        let operation = if span.operation.is_empty() {
            &span.name
        } else {
            &span.operation
        };
        let _ = write!(
            body,
            "<tr><td class=\"name\" style=\"padding-left:{:.1}rem\"><a href=\"/services/{}\">{}</a> {}{}</td><td class=\"num\">{}</td><td class=\"bar\"><div class=\"track\"><div class=\"span{}\" style=\"left:{offset:.2}%;width:{width:.2}%\" title=\"{} {} at +{}\"></div></div></td></tr>",
            0.6 + depth.min(20) as f64 * 0.9,
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
    }
    let _ = write!(
        body,
        "</tbody></table></div><h2>Logs of this trace</h2><p><a href=\"/logs?trace_id={}&amp;from={}&amp;to={}\">In the log view</a></p>",
        path_segment(&id.to_lowercase()),
        (start / 1_000_000_000).saturating_sub(60),
        end / 1_000_000_000 + 61
    );
    if logs.is_empty() {
        body.push_str("<p class=\"empty\">No log line carries this trace id.</p>");
    } else {
        body.push_str("<div class=\"scroll\"><table><thead><tr><th>time</th><th>service</th><th>severity</th><th>message</th></tr></thead><tbody>");
        for line in &logs {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                time(line.time_unix_nano),
                escape(&line.service),
                escape(&line.severity_text),
                escape(&line.body)
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(page(&format!("Trace {id}"), Section::Services, &body))
}
