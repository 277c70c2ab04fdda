//! `/services`: every service that answered requests, with its callees (the service map as a
//! table of edges); `/services/{name}`: latency percentiles, throughput and faults over time
//! (optionally of one operation), per operation, per version, its dependencies and its
//! latest failed requests with links to their traces.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use sloscope_model::{MINUTE_NANOS, SignalKind, SignalRow, SignalStats, TimeRange};
use sloscope_store::{SignalFilter, SpanQuery, SpanRow, Store, StoreError};

use crate::api::ApiState;
use crate::error::ApiError;
use crate::web::html::{count, escape, millis, path_segment, percent, time};
use crate::web::range::{Shown, hours_of, last_hours};
use crate::web::svg::{LineChart, Marker, Series};
use crate::web::{PageResult, Section, blocking, page};

#[derive(Debug, Deserialize)]
pub struct RangeParams {
    /// Hours shown, 1 to 168; 3 by default.
    hours: Option<u64>,
    /// A zoomed range instead (what dragging across a chart asks for): unix seconds.
    from: Option<u64>,
    to: Option<u64>,
    operation: Option<String>,
}

fn fault_rate(stats: &SignalStats) -> Option<f64> {
    (stats.requests > 0).then(|| stats.faults as f64 / stats.requests as f64)
}

fn merge_by<K: Ord>(rows: &[SignalRow], key: impl Fn(&SignalRow) -> K) -> BTreeMap<K, SignalStats> {
    let mut merged: BTreeMap<K, SignalStats> = BTreeMap::new();
    for row in rows {
        merged.entry(key(row)).or_default().merge(&row.stats);
    }
    merged
}

/// The server signals and the dependency signals of `range`, each merged per key over it.
pub(crate) fn server_and_dependency_totals(
    store: &dyn Store,
    range: TimeRange,
) -> Result<(Vec<SignalRow>, Vec<SignalRow>), StoreError> {
    let of_kind = |kind| SignalFilter {
        kind: Some(kind),
        ..SignalFilter::default()
    };
    Ok((
        store.signal_buckets(range, &of_kind(SignalKind::Server), None)?,
        store.signal_buckets(range, &of_kind(SignalKind::Dependency), None)?,
    ))
}

pub async fn list(State(state): State<ApiState>, Query(params): Query<RangeParams>) -> PageResult {
    let hours = hours_of(params.hours, 1)?;
    let range = last_hours(hours);
    let store = state.store.clone();
    let (servers, edges) =
        blocking(move || Ok(server_and_dependency_totals(store.as_ref(), range)?)).await?;
    let services = merge_by(&servers, |row| row.key.service.clone());
    let calls = merge_by(&edges, |row| {
        (row.key.service.clone(), row.key.remote_service.clone())
    });
    let mut body = format!(
        "<h1>Services</h1><p class=\"lead\">Last {hours} h · <a href=\"?hours=1\">1 h</a> · <a href=\"?hours=24\">24 h</a></p>"
    );
    if services.is_empty() {
        body.push_str("<p class=\"empty\">No requests in this range. Point an OpenTelemetry SDK or Collector at the OTLP ports.</p>");
        return Ok(page("Services", Section::Services, &body));
    }
    body.push_str("<div class=\"filters\"><input type=\"search\" placeholder=\"filter\" data-filter=\"services\" aria-label=\"filter services\"></div><div class=\"scroll\"><table id=\"services\" class=\"stack\"><thead><tr><th data-sort>service</th><th data-sort class=\"num\">requests/min</th><th data-sort class=\"num\">faults</th><th data-sort class=\"num\">p50</th><th data-sort class=\"num\">p99</th><th class=\"hide-small\">calls</th></tr></thead><tbody>");
    for (service, stats) in &services {
        let callees: Vec<String> = calls
            .range((service.clone(), String::new())..)
            .take_while(|((caller, _), _)| caller == service)
            .map(|((_, callee), stats)| {
                let link = if services.contains_key(callee) {
                    format!(
                        "<a href=\"/services/{}\">{}</a>",
                        path_segment(callee),
                        escape(callee)
                    )
                } else {
                    escape(callee)
                };
                format!(
                    "{link} <span class=\"muted\">({}, {} faults)</span>",
                    count(stats.requests),
                    percent(fault_rate(stats), 2)
                )
            })
            .collect();
        let p50 = stats.latency.quantile(0.5);
        let p99 = stats.latency.quantile(0.99);
        let rate = stats.requests as f64 / (hours * 60) as f64;
        let _ = write!(
            body,
            "<tr><td class=\"primary\"><a href=\"/services/{}\">{}</a></td><td class=\"num\" data-label=\"per minute\" data-value=\"{rate}\">{rate:.1}</td><td class=\"num\" data-label=\"faults\" data-value=\"{}\">{}</td><td class=\"num\" data-label=\"p50\" data-value=\"{}\">{}</td><td class=\"num\" data-label=\"p99\" data-value=\"{}\">{}</td><td class=\"hide-small\">{}</td></tr>",
            path_segment(service),
            escape(service),
            fault_rate(stats).unwrap_or(0.0),
            percent(fault_rate(stats), 2),
            p50.unwrap_or(0.0),
            millis(p50),
            p99.unwrap_or(0.0),
            millis(p99),
            callees.join("<br>")
        );
    }
    body.push_str("</tbody></table></div>");
    Ok(page("Services", Section::Services, &body))
}

pub async fn detail(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<RangeParams>,
) -> PageResult {
    let shown = Shown::of(params.hours, params.from, params.to, 3)?;
    let range = shown.range;
    let step_minutes = (shown.minutes() as i64 / 120).max(1);
    let operation = params
        .operation
        .clone()
        .filter(|operation| !operation.is_empty());
    let store = state.store.clone();
    let service = name.clone();
    let chosen = operation.clone();
    let (steps, per_key, edges, inbound, failed, slow) = blocking(move || {
        let server = SignalFilter {
            kind: Some(SignalKind::Server),
            service: Some(service.clone()),
            ..SignalFilter::default()
        };
        let dependency = SignalFilter {
            kind: Some(SignalKind::Dependency),
            service: Some(service.clone()),
            ..SignalFilter::default()
        };
        let callers = SignalFilter {
            kind: Some(SignalKind::Dependency),
            remote_service: Some(service.clone()),
            ..SignalFilter::default()
        };
        let per_key = store.signal_buckets(range, &server, None)?;
        let inbound = store.signal_buckets(range, &callers, None)?;
        // A remote service without telemetry of its own (a database, an external API) is
        // drawn as its callers see it.
        let chart_filter = if per_key.is_empty() && !inbound.is_empty() {
            SignalFilter {
                operation: None,
                ..callers
            }
        } else {
            SignalFilter {
                operation: chosen.clone(),
                ..server
            }
        };
        let failed = store.spans(&SpanQuery {
            range,
            service: Some(service.clone()),
            operation: chosen.clone(),
            min_duration: None,
            errors_only: true,
            trace_id: None,
            limit: 20,
        })?;
        // The latest requests at or above the range's p99 of what the service answered: the
        // traces worth opening when it is slow rather than failing.
        let mut answered = SignalStats::default();
        for row in per_key.iter().filter(|row| {
            chosen
                .as_ref()
                .is_none_or(|operation| *operation == row.key.operation)
        }) {
            answered.merge(&row.stats);
        }
        let slow = match answered.latency.quantile(0.99) {
            Some(p99) if p99.is_finite() && p99 > 0.0 => store.spans(&SpanQuery {
                range,
                service: Some(service.clone()),
                operation: chosen,
                min_duration: Some(std::time::Duration::from_secs_f64(p99 / 1000.0)),
                errors_only: false,
                trace_id: None,
                limit: 10,
            })?,
            _ => Vec::new(),
        };
        Ok((
            store.signal_buckets(range, &chart_filter, Some(step_minutes))?,
            per_key,
            store.signal_buckets(range, &dependency, None)?,
            inbound,
            failed,
            slow,
        ))
    })
    .await?;
    if per_key.is_empty() && edges.is_empty() && inbound.is_empty() {
        return Err(ApiError::NotFound(format!(
            "service `{name}` answered, made or received no calls in the {}",
            shown.text()
        ))
        .into());
    }
    let remote = per_key.is_empty() && !inbound.is_empty();
    let series = crate::signals::bucket(
        &steps,
        range,
        std::time::Duration::from_secs(step_minutes as u64 * 60),
    );
    let times: Vec<u64> = series.points.keys().copied().collect();
    let stats: Vec<&SignalStats> = series.points.values().collect();
    // Deployments and other recorded changes of the service, drawn on every chart.
    let markers = || -> Vec<Marker> {
        state
            .changes
            .between(range)
            .into_iter()
            .filter(|change| change.service == name)
            .map(|change| Marker {
                time_unix_nano: change.time_unix_nano,
                label: match &change.version {
                    Some(version) => format!("{} {version}", change.kind),
                    None => change.kind.clone(),
                },
            })
            .collect()
    };
    // Requests per minute of each version, from the same buckets as the other charts.
    let mut per_version: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
    let step_nanos = step_minutes as u64 * MINUTE_NANOS;
    for row in &steps {
        let start = row.minute.max(0) as u64 * MINUTE_NANOS;
        let Ok(index) = times.binary_search(&(start - start % step_nanos)) else {
            continue;
        };
        let values = per_version
            .entry(row.key.version.as_str())
            .or_insert_with(|| vec![None; times.len()]);
        let per_minute = row.stats.requests as f64 / step_minutes as f64;
        values[index] = Some(values[index].unwrap_or(0.0) + per_minute);
    }
    let versions_chart = LineChart {
        title: "Requests per version".into(),
        unit: "/min",
        times: times.clone(),
        series: per_version
            .into_iter()
            .map(|(version, values)| Series {
                label: if version.is_empty() {
                    "unversioned".into()
                } else {
                    version.to_owned()
                },
                values,
            })
            .collect(),
        markers: markers(),
        zoomable: true,
        ..LineChart::default()
    };
    let quantile = |fraction: f64| -> Vec<Option<f64>> {
        stats
            .iter()
            .map(|stats| stats.latency.quantile(fraction))
            .collect()
    };
    let latency = LineChart {
        title: "Latency".into(),
        unit: "ms",
        times: times.clone(),
        series: vec![
            Series {
                label: "p50".into(),
                values: quantile(0.5),
            },
            Series {
                label: "p90".into(),
                values: quantile(0.9),
            },
            Series {
                label: "p99".into(),
                values: quantile(0.99),
            },
        ],
        markers: markers(),
        zoomable: true,
        ..LineChart::default()
    };
    let throughput = LineChart {
        title: "Throughput".into(),
        unit: "/min",
        times: times.clone(),
        series: vec![Series {
            label: "requests per minute".into(),
            values: stats
                .iter()
                .map(|stats| Some(stats.requests as f64 / step_minutes as f64))
                .collect(),
        }],
        markers: markers(),
        zoomable: true,
        ..LineChart::default()
    };
    let faults = LineChart {
        title: "Faults and errors".into(),
        unit: "%",
        times,
        series: vec![
            Series {
                label: "fault rate (5xx)".into(),
                values: stats.iter().map(|stats| fault_rate(stats)).collect(),
            },
            Series {
                label: "error rate (4xx)".into(),
                values: stats
                    .iter()
                    .map(|stats| {
                        (stats.requests > 0).then(|| stats.errors as f64 / stats.requests as f64)
                    })
                    .collect(),
            },
        ],
        markers: markers(),
        zoomable: true,
        ..LineChart::default()
    };
    let base = format!("/services/{}", path_segment(&name));
    let operation_query = operation
        .as_deref()
        .map(|operation| format!("&amp;operation={}", query_value(operation)))
        .unwrap_or_default();
    let mut body = format!("<h1>{}</h1>", escape(&name));
    let _ = write!(
        body,
        "<p class=\"lead\">{} · {} · <a href=\"{base}?hours=1{operation_query}\">1 h</a> · <a href=\"{base}?hours=3{operation_query}\">3 h</a> · <a href=\"{base}?hours=24{operation_query}\">24 h</a> · <span class=\"muted\">drag across a chart to zoom</span>{}</p>",
        match &operation {
            Some(operation) => format!(
                "operation <code>{}</code> (<a href=\"{base}?{}\">all operations</a>)",
                escape(operation),
                shown.query()
            ),
            None if remote => {
                "a remote service without telemetry of its own, as its callers see it".to_owned()
            }
            None => "all operations".to_owned(),
        },
        escape(&shown.text()),
        slo_links(&state, &name)
    );
    let _ = write!(
        body,
        "<p><a href=\"/logs?service={}&amp;{}\">Logs of {}</a> · <a href=\"/logs?service={}&amp;severity=warn&amp;{}\">its warnings and errors</a> · <a href=\"/map\">Service map</a></p>",
        query_value(&name),
        shown.logs_query(),
        escape(&name),
        query_value(&name),
        shown.logs_query()
    );
    let total = &series.total;
    body.push_str("<div class=\"cards\">");
    for (label, value) in [
        ("requests", count(total.requests)),
        (
            "per minute",
            format!("{:.1}", total.requests as f64 / shown.minutes()),
        ),
        ("availability", percent(total.availability(), 3)),
        ("p50", millis(total.latency.quantile(0.5))),
        ("p99", millis(total.latency.quantile(0.99))),
    ] {
        let _ = write!(
            body,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div></div>"
        );
    }
    let _ = write!(
        body,
        "</div><div class=\"charts\">{}{}{}{}</div>",
        latency.render(),
        throughput.render(),
        faults.render(),
        versions_chart.render()
    );

    if !per_key.is_empty() {
        let operations = merge_by(&per_key, |row| row.key.operation.clone());
        body.push_str("<h2>Operations</h2><div class=\"scroll\"><table id=\"operations\" class=\"stack\"><thead><tr><th data-sort>operation</th><th data-sort class=\"num\">requests</th><th data-sort class=\"num\">faults</th><th data-sort class=\"num\">p50</th><th data-sort class=\"num\">p99</th></tr></thead><tbody>");
        for (operation, stats) in &operations {
            stats_row(
                &mut body,
                &format!(
                    "<a href=\"{base}?{}&amp;operation={}\">{}</a>",
                    shown.query(),
                    query_value(operation),
                    escape(operation)
                ),
                stats,
            );
        }
        body.push_str("</tbody></table></div>");

        let versions = merge_by(&per_key, |row| row.key.version.clone());
        body.push_str("<h2>Versions</h2><div class=\"scroll\"><table class=\"stack\"><thead><tr><th>version</th><th class=\"num\">requests</th><th class=\"num\">faults</th><th class=\"num\">p50</th><th class=\"num\">p99</th></tr></thead><tbody>");
        for (version, stats) in &versions {
            let label = if version.is_empty() {
                "<span class=\"muted\">unversioned</span>".to_owned()
            } else {
                escape(version)
            };
            stats_row(&mut body, &label, stats);
        }
        body.push_str("</tbody></table></div>");
    }

    if !inbound.is_empty() {
        let callers = merge_by(&inbound, |row| {
            (row.key.service.clone(), row.key.remote_operation.clone())
        });
        body.push_str("<h2>Called by</h2><div class=\"scroll\"><table class=\"stack\"><thead><tr><th>caller and operation</th><th class=\"num\">requests</th><th class=\"num\">faults</th><th class=\"num\">p50</th><th class=\"num\">p99</th></tr></thead><tbody>");
        for ((caller, remote_operation), stats) in &callers {
            stats_row(
                &mut body,
                &format!(
                    "<a href=\"/services/{}\">{}</a> <code>{}</code>",
                    path_segment(caller),
                    escape(caller),
                    escape(remote_operation)
                ),
                stats,
            );
        }
        body.push_str("</tbody></table></div>");
    }

    if !edges.is_empty() {
        let calls = merge_by(&edges, |row| {
            (
                row.key.remote_service.clone(),
                row.key.remote_operation.clone(),
            )
        });
        body.push_str("<h2>Dependencies</h2><div class=\"scroll\"><table class=\"stack\"><thead><tr><th>calls</th><th class=\"num\">requests</th><th class=\"num\">faults</th><th class=\"num\">p50</th><th class=\"num\">p99</th></tr></thead><tbody>");
        for ((remote, remote_operation), stats) in &calls {
            stats_row(
                &mut body,
                &format!(
                    "<a href=\"/services/{}\">{}</a> <code>{}</code>",
                    path_segment(remote),
                    escape(remote),
                    escape(remote_operation)
                ),
                stats,
            );
        }
        body.push_str("</tbody></table></div>");
    }

    body.push_str("<h2>Latest failed requests</h2>");
    span_table(
        &mut body,
        &failed,
        "No span with status error in this range.",
    );
    body.push_str(
        "<h2>Latest slow requests</h2><p class=\"muted\">At or above the p99 of the range.</p>",
    );
    span_table(&mut body, &slow, "No request in this range.");
    Ok(page(&name, Section::Services, &body))
}

/// Spans with their time, operation, duration, status and a link to their trace (with the
/// time hint that makes the trace page fast).
fn span_table(body: &mut String, spans: &[SpanRow], empty: &str) {
    if spans.is_empty() {
        let _ = write!(body, "<p class=\"empty\">{}</p>", escape(empty));
        return;
    }
    body.push_str("<div class=\"scroll\"><table class=\"stack\"><thead><tr><th>time</th><th>operation</th><th class=\"num\">duration</th><th>status</th><th>trace</th></tr></thead><tbody>");
    for span in spans {
        let operation = span.operation_or_name();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td><a href=\"/traces/{}?at={}\"><code>{}</code></a></td></tr>",
            time(span.start_time_unix_nano),
            escape(operation),
            millis(Some(span.duration_nanos as f64 / 1e6)),
            escape(&span.status_message),
            path_segment(&span.trace_id),
            span.start_time_unix_nano / 1_000_000_000,
            escape(span.trace_id.get(..12).unwrap_or(&span.trace_id))
        );
    }
    body.push_str("</tbody></table></div>");
}

/// Links to the SLOs of a service, for its page's heading.
fn slo_links(state: &ApiState, service: &str) -> String {
    let links: Vec<String> = state
        .slos
        .list()
        .iter()
        .filter(|(spec, _, _)| spec.service == service)
        .map(|(spec, _, evaluation)| {
            format!(
                "<a href=\"/slos/{}\">{}</a> {}",
                path_segment(&spec.name),
                escape(&spec.name),
                crate::web::html::badge(crate::slo_api::status_of(evaluation.as_deref()))
            )
        })
        .collect();
    if links.is_empty() {
        String::new()
    } else {
        format!(" · SLOs: {}", links.join(", "))
    }
}

/// Percent-encodes a query value.
fn query_value(text: &str) -> String {
    path_segment(text)
}

fn stats_row(body: &mut String, label: &str, stats: &SignalStats) {
    let p50 = stats.latency.quantile(0.5);
    let p99 = stats.latency.quantile(0.99);
    let _ = write!(
        body,
        "<tr><td class=\"primary\">{label}</td><td class=\"num\" data-label=\"requests\" data-value=\"{}\">{}</td><td class=\"num\" data-label=\"faults\" data-value=\"{}\">{}</td><td class=\"num\" data-label=\"p50\" data-value=\"{}\">{}</td><td class=\"num\" data-label=\"p99\" data-value=\"{}\">{}</td></tr>",
        stats.requests,
        count(stats.requests),
        fault_rate(stats).unwrap_or(0.0),
        percent(fault_rate(stats), 2),
        p50.unwrap_or(0.0),
        millis(p50),
        p99.unwrap_or(0.0),
        millis(p99)
    );
}
