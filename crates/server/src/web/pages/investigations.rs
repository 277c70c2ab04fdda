//! `/investigations` and `/investigations/{id}`: the report as a page (scope, indicators
//! before and after, ranked causes with their evidence and remedies, what was not checked).
//! The incident page embeds the same rendering.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use sloscope_investigate::Report;
pub use sloscope_investigate::markdown::kind_label;

use crate::api::ApiState;
use crate::error::ApiError;
use crate::investigations::Investigation;
use crate::web::figures::{Traces, figure_html, read_traces};
use crate::web::html::{count, escape, number, path_segment, percent, time};
use crate::web::svg::before_after;
use crate::web::{PageError, PageResult, Section, blocking, page};

pub async fn list(State(state): State<ApiState>) -> PageResult {
    let records = state.investigations.list();
    let mut body = String::from("<h1>Investigations</h1>");
    if records.is_empty() {
        body.push_str("<p class=\"empty\">No investigation has run yet. A page alert starts one; <code>POST /api/v1/investigations</code> starts one by hand.</p>");
        return Ok(page("Investigations", Section::Investigations, &body));
    }
    body.push_str("<div class=\"filters\"><input type=\"search\" placeholder=\"filter\" data-filter=\"investigations\" aria-label=\"filter investigations\"></div>");
    body.push_str("<div class=\"scroll\"><table id=\"investigations\" class=\"stack\"><thead><tr><th>id</th><th>created</th><th>service</th><th class=\"hide-small\">SLO</th><th>top cause</th><th class=\"num\">took</th></tr></thead><tbody>");
    for record in records {
        let report = &record.report;
        let top = report
            .causes
            .first()
            .map(|cause| {
                format!(
                    "{} in {} ({:.0} %)",
                    escape(kind_label(cause.kind)),
                    escape(&cause.service),
                    cause.confidence * 100.0
                )
            })
            .unwrap_or_else(|| "<span class=\"muted\">none stands out</span>".to_owned());
        let _ = write!(
            body,
            "<tr><td><a href=\"/investigations/{}\">{}</a></td><td>{}</td><td><a href=\"/services/{}\">{}</a>{}</td><td class=\"hide-small\">{}</td><td>{top}</td><td class=\"num\">{:.0} ms</td></tr>",
            path_segment(&record.id),
            escape(&record.id),
            time(record.created_unix_nano),
            path_segment(&report.subject.service),
            escape(&report.subject.service),
            report
                .subject
                .operation
                .as_deref()
                .map(|operation| format!(" <span class=\"muted\">{}</span>", escape(operation)))
                .unwrap_or_default(),
            record.slo.as_deref().map(escape).unwrap_or_default(),
            record.elapsed_ms
        );
    }
    body.push_str("</tbody></table></div>");
    Ok(page("Investigations", Section::Investigations, &body))
}

pub async fn detail(State(state): State<ApiState>, Path(id): Path<String>) -> PageResult {
    let record = state
        .investigations
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no investigation {id}")))?;
    let subject = &record.report.subject;
    let mut body = format!(
        "<h1>Investigation {} of {}</h1><p class=\"lead\">Created {}, took {:.0} ms (of which {:.0} ms reading the store). <a href=\"/api/v1/investigations/{}\">JSON</a> · <a href=\"/api/v1/investigations/{}?format=markdown\">Markdown</a></p>",
        escape(&record.id),
        escape(&subject.service),
        time(record.created_unix_nano),
        record.elapsed_ms,
        record.fetch_ms,
        path_segment(&record.id),
        path_segment(&record.id),
    );
    let traces = figure_traces(&state, &record).await?;
    body.push_str(&report_html(&record, &traces));
    Ok(page(
        &format!("Investigation {}", record.id),
        Section::Investigations,
        &body,
    ))
}

/// The report's sections, for the investigation page and the incident page; `traces` holds
/// the traces its figures point at ([`read_traces`]).
pub fn report_html(record: &Investigation, traces: &Traces) -> String {
    let report = &record.report;
    let mut out = String::new();
    scope_html(report, &mut out);
    out.push_str("<h2>Suspected causes</h2>");
    if report.causes.is_empty() {
        out.push_str("<p class=\"empty\">No cause stands out: the evidence did not single out an operation, dependency, change or resource.</p>");
    }
    for cause in &report.causes {
        let _ = write!(
            out,
            "<section class=\"cause\"><h3>{}. {} in <a href=\"/services/{}\">{}</a></h3><p><span class=\"confidence\" title=\"confidence\"><i style=\"width:{:.0}%\"></i></span> {:.0} % confidence</p><p>{}</p>",
            cause.rank,
            escape(kind_label(cause.kind)),
            path_segment(&cause.service),
            escape(&cause.service),
            (cause.confidence * 100.0).clamp(0.0, 100.0),
            cause.confidence * 100.0,
            escape(&cause.summary)
        );
        if !cause.evidence.is_empty() {
            out.push_str("<div class=\"scroll\"><table class=\"stack\"><thead><tr><th>evidence</th><th>probe</th><th>measure</th><th>baseline, then breach</th></tr></thead><tbody>");
            for evidence in &cause.evidence {
                let before = measure_value(&evidence.measure, evidence.baseline);
                let during = measure_value(&evidence.measure, evidence.breach);
                // Drawn when both values are there; the numbers alone otherwise.
                let comparison = before_after(
                    evidence.baseline,
                    evidence.breach,
                    [before.as_str(), during.as_str()],
                )
                .unwrap_or_else(|| format!("{} → {}", escape(&before), escape(&during)));
                let _ = write!(
                    out,
                    "<tr><td class=\"primary\">{}</td><td class=\"muted\">{}</td><td><code>{}</code></td><td class=\"comparison\">{comparison}</td></tr>",
                    escape(&evidence.summary),
                    escape(&evidence.probe),
                    escape(&evidence.measure)
                );
            }
            out.push_str("</tbody></table></div>");
        }
        if !cause.figures.is_empty() {
            out.push_str("<div class=\"figures\">");
            for figure in &cause.figures {
                out.push_str(&figure_html(figure, report.scope.started_unix_nano, traces));
            }
            out.push_str("</div>");
        }
        if !cause.remedies.is_empty() {
            out.push_str("<h4>Remedies</h4><ul>");
            for remedy in &cause.remedies {
                let _ = write!(
                    out,
                    "<li><strong>{}</strong> <span class=\"muted\">because {}</span></li>",
                    escape(&remedy.action),
                    escape(&remedy.because)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</section>");
    }
    if !report.not_checked.is_empty() {
        out.push_str("<h2>Not checked</h2><ul>");
        for item in &report.not_checked {
            let _ = write!(out, "<li>{}</li>", escape(item));
        }
        out.push_str("</ul>");
    }
    out
}

/// The traces the figures of an investigation point at, read off the async threads.
pub async fn figure_traces(
    state: &ApiState,
    record: &Arc<Investigation>,
) -> Result<Traces, PageError> {
    let (store, record) = (state.store.clone(), record.clone());
    blocking(move || read_traces(store.as_ref(), &record.report)).await
}

/// A measure's value with the unit its name implies.
fn measure_value(measure: &str, value: Option<f64>) -> String {
    if measure.ends_with("_ms") {
        crate::web::html::millis(value)
    } else if measure.ends_with("_rate") || measure.ends_with("share") || measure == "availability"
    {
        percent(value, 2)
    } else {
        number(value, 2)
    }
}

fn scope_html(report: &Report, out: &mut String) {
    let subject = &report.subject;
    let scope = &report.scope;
    let _ = write!(
        out,
        "<p>Subject: <a href=\"/services/{}\">{}</a>{}, window {} to {}, compared with {} to {}.</p><div class=\"cards\">",
        path_segment(&subject.service),
        escape(&subject.service),
        subject
            .operation
            .as_deref()
            .map(|operation| format!(" <code>{}</code>", escape(operation)))
            .unwrap_or_default(),
        time(subject.window.from),
        time(subject.window.to),
        time(subject.baseline.from),
        time(subject.baseline.to)
    );
    let mut card = |label: &str, value: String| {
        let _ = write!(
            out,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div></div>"
        );
    };
    card(
        "breach started",
        scope
            .started_unix_nano
            .map(time)
            .unwrap_or_else(|| "no change point".to_owned()),
    );
    card(
        "bad requests",
        format!("{} of {}", count(scope.bad_requests), count(scope.requests)),
    );
    card("budget burned in window", percent(scope.budget_burned, 1));
    card(
        "burn rate",
        scope
            .burn_rate
            .map(|rate| format!("{rate:.1}x"))
            .unwrap_or_else(|| "–".to_owned()),
    );
    out.push_str("</div>");
    if !scope.indicators.is_empty() {
        out.push_str("<div class=\"scroll\"><table><thead><tr><th>indicator</th><th class=\"num\">baseline</th><th class=\"num\">breach</th><th class=\"num\">target</th></tr></thead><tbody>");
        for indicator in &scope.indicators {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&indicator.indicator.replace('_', " ")),
                measure_value(&indicator.indicator, Some(indicator.baseline)),
                measure_value(&indicator.indicator, Some(indicator.breach)),
                measure_value(&indicator.indicator, indicator.target)
            );
        }
        out.push_str("</tbody></table></div>");
    }
}
