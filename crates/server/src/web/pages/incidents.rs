//! `/incidents` and `/incidents/{id}`: the incident as a story, in the order a responder asks:
//! what broke and how badly, what happened when, what the investigation blames and why, what
//! to do, and the post-mortem draft (downloadable as Markdown from the API).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use sloscope_model::{MINUTE_NANOS, TimeRange};

use crate::api::ApiState;
use crate::error::ApiError;
use crate::incidents::{Incident, IncidentState, postmortem};
use crate::investigations::Investigation;
use crate::web::html::{badge, escape, path_segment, percent, time};
use crate::web::pages::investigations::{figure_traces, kind_label, report_html};
use crate::web::svg::{LineChart, Marker, Series, Threshold};
use crate::web::{PageError, PageResult, Section, blocking, markdown, page};

fn state_word(state: IncidentState) -> &'static str {
    match state {
        IncidentState::Open => "open",
        IncidentState::Investigating => "investigating",
        IncidentState::Mitigated => "mitigated",
        IncidentState::Resolved => "resolved",
    }
}

fn duration(incident: &Incident) -> String {
    let start = incident
        .started_unix_nano
        .unwrap_or(incident.opened_unix_nano);
    let end = incident
        .resolved_unix_nano
        .or(incident.mitigated_unix_nano)
        .unwrap_or_else(crate::now_unix_nano);
    crate::alerts::human_minutes(end.saturating_sub(start) as f64 / 60e9)
}

pub async fn list(State(state): State<ApiState>) -> PageResult {
    let incidents = state.incidents.list();
    let mut body = String::from("<h1>Incidents</h1>");
    if incidents.is_empty() {
        body.push_str("<p class=\"empty\">No incidents. A page alert of an SLO opens one.</p>");
        return Ok(page("Incidents", Section::Incidents, &body));
    }
    body.push_str("<div class=\"filters\"><input type=\"search\" placeholder=\"filter\" data-filter=\"incidents\" aria-label=\"filter incidents\"><select data-status-filter=\"incidents\" aria-label=\"state\"><option value=\"\">any state</option><option>open</option><option>investigating</option><option>mitigated</option><option>resolved</option></select></div>");
    body.push_str("<div class=\"scroll\"><table id=\"incidents\" class=\"stack\"><thead><tr><th>id</th><th>state</th><th>service</th><th>SLO</th><th>opened</th><th class=\"num\">lasted</th><th>summary</th></tr></thead><tbody>");
    for incident in &incidents {
        let word = state_word(incident.state);
        let _ = write!(
            body,
            "<tr data-status=\"{word}\"><td><a class=\"name\" href=\"/incidents/{}\">{}</a></td><td>{}</td><td><a href=\"/services/{}\">{}</a></td><td><a href=\"/slos/{}\">{}</a></td><td data-label=\"opened\">{}</td><td class=\"num\" data-label=\"lasted\">{}</td><td class=\"primary\">{}</td></tr>",
            path_segment(&incident.id),
            escape(&incident.id),
            badge(word),
            path_segment(&incident.service),
            escape(&incident.service),
            path_segment(&incident.slo),
            escape(&incident.slo),
            time(incident.opened_unix_nano),
            duration(incident),
            escape(&incident.summary)
        );
    }
    body.push_str("</tbody></table></div>");
    Ok(page("Incidents", Section::Incidents, &body))
}

/// The incident `id` and the investigation it points at, when that is still kept.
fn incident_and_investigation(
    state: &ApiState,
    id: &str,
) -> Result<(Incident, Option<Arc<Investigation>>), ApiError> {
    let incident = state
        .incidents
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
    let investigation = incident
        .investigation_id
        .as_deref()
        .and_then(|id| state.investigations.get(id));
    Ok((incident, investigation))
}

pub async fn detail(State(state): State<ApiState>, Path(id): Path<String>) -> PageResult {
    let (incident, investigation) = incident_and_investigation(&state, &id)?;
    let mut body = format!(
        "<h1>{} {}: {} breach of <a href=\"/slos/{}\">{}</a></h1><p class=\"lead\">{}</p>",
        escape(&incident.id),
        badge(state_word(incident.state)),
        escape(&incident.service),
        path_segment(&incident.slo),
        escape(&incident.slo),
        escape(&incident.summary)
    );
    body.push_str("<div class=\"cards\">");
    let mut card = |label: &str, value: String| {
        let _ = write!(
            body,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div></div>"
        );
    };
    card(
        "breach started",
        incident
            .started_unix_nano
            .map(time)
            .unwrap_or_else(|| "unknown".to_owned()),
    );
    card("paged", time(incident.opened_unix_nano));
    card(
        if incident.resolved_unix_nano.is_some() || incident.mitigated_unix_nano.is_some() {
            "lasted"
        } else {
            "going on for"
        },
        duration(&incident),
    );
    card("objective", format!("{:.3} %", incident.objective * 100.0));
    card(
        "budget left at page",
        percent(incident.budget_remaining_at_open, 1),
    );
    card(
        "budget left now",
        percent(incident.budget_remaining_latest, 1),
    );
    if let Some(top) = investigation
        .as_ref()
        .and_then(|record| record.report.causes.first())
    {
        card(
            "top cause",
            format!(
                "{} in {}",
                escape(kind_label(top.kind)),
                escape(&top.service)
            ),
        );
    }
    body.push_str("</div>");

    body.push_str("<h2>Timeline</h2>");
    let _ = write!(
        body,
        "<div class=\"charts\">{}</div>",
        breach_chart(&state, &incident).await?.render()
    );
    body.push_str("<ol class=\"timeline\">");
    for entry in &incident.timeline {
        let _ = write!(
            body,
            "<li class=\"{}\">{}<span class=\"kind\">{}</span>{}</li>",
            escape(&entry.kind),
            time(entry.time_unix_nano),
            escape(&entry.kind),
            escape(&entry.text)
        );
    }
    body.push_str("</ol>");

    match &investigation {
        Some(record) => {
            let _ = write!(
                body,
                "<h2>Investigation <a href=\"/investigations/{}\">{}</a></h2>",
                path_segment(&record.id),
                escape(&record.id)
            );
            let traces = figure_traces(&state, record).await?;
            body.push_str(&report_html(record, &traces));
        }
        None => body.push_str(
            "<h2>Investigation</h2><p class=\"empty\">Not investigated (yet); see the timeline.</p>",
        ),
    }

    if !incident.owners.is_empty() {
        body.push_str("<h2>Owners</h2><ul>");
        for (service, owner) in &incident.owners {
            let _ = write!(body, "<li>{}: {}</li>", escape(service), escape(owner));
        }
        body.push_str("</ul>");
    }

    let draft = postmortem(&incident, investigation.as_deref());
    let _ = write!(
        body,
        "<h2 id=\"postmortem\">Post-mortem draft</h2><p><a href=\"/incidents/{}/postmortem\">Read it as a page</a> · <a href=\"/api/v1/incidents/{}/postmortem\" download=\"postmortem-{}.md\">Download as Markdown</a></p><pre class=\"postmortem\">{}</pre>",
        path_segment(&incident.id),
        path_segment(&incident.id),
        escape(&incident.id),
        escape(&draft)
    );
    Ok(page(
        &format!("{} {}", incident.id, incident.slo),
        Section::Incidents,
        &body,
    ))
}

/// Minutes of the SLO shown before the breach started and after the incident ended.
const CHART_LEAD_MINUTES: u64 = 30;
const CHART_TRAIL_MINUTES: u64 = 10;
/// Steps of the breach chart at most.
const CHART_STEPS: u64 = 240;

/// The SLO's indicator around the incident (the share of good events per step against the
/// objective), with the breach's start, the page and the recovery marked.
async fn breach_chart(state: &ApiState, incident: &Incident) -> Result<LineChart, PageError> {
    let start = incident
        .started_unix_nano
        .unwrap_or(incident.opened_unix_nano)
        .min(incident.opened_unix_nano);
    let end = incident
        .resolved_unix_nano
        .map_or_else(crate::now_unix_nano, |resolved| {
            resolved + CHART_TRAIL_MINUTES * MINUTE_NANOS
        })
        .min(crate::now_unix_nano());
    let from = (start / MINUTE_NANOS).saturating_sub(CHART_LEAD_MINUTES) * MINUTE_NANOS;
    let to = (end / MINUTE_NANOS + 1) * MINUTE_NANOS;
    let reader = state.clone();
    let slo = incident.slo.clone();
    let minutes = blocking(move || {
        reader
            .slos
            .minutes(&slo, TimeRange::new(from, to))
            .map_err(|error| ApiError::from(error).into())
    })
    .await?;
    let step = ((to - from) / MINUTE_NANOS).div_ceil(CHART_STEPS).max(1) * MINUTE_NANOS;
    let steps = (to - from).div_ceil(step);
    let mut events = vec![(0u64, 0u64); steps as usize];
    for (minute, counts) in &minutes {
        let time = (*minute).max(0) as u64 * MINUTE_NANOS;
        if let Some(slot) = time
            .checked_sub(from)
            .and_then(|offset| events.get_mut((offset / step) as usize))
        {
            slot.0 += counts.good;
            slot.1 += counts.total;
        }
    }
    let mut markers = Vec::new();
    let moments = [
        (incident.started_unix_nano, "breach started"),
        (Some(incident.opened_unix_nano), "paged"),
        (incident.mitigated_unix_nano, "mitigated"),
        (incident.resolved_unix_nano, "resolved"),
    ];
    for (moment, label) in moments {
        if let Some(time) = moment {
            markers.push(Marker {
                time_unix_nano: time,
                label: label.to_owned(),
            });
        }
    }
    Ok(LineChart {
        title: format!("{}: good events per {}", incident.slo, step_text(step)),
        unit: "%",
        times: (0..steps).map(|index| from + index * step).collect(),
        series: vec![Series {
            label: String::from("good events"),
            values: events
                .iter()
                .map(|(good, total)| (*total > 0).then(|| *good as f64 / *total as f64))
                .collect(),
        }],
        thresholds: vec![Threshold {
            value: incident.objective,
            label: format!("objective {:.3} %", incident.objective * 100.0),
        }],
        // As tight as the data: a 99.9 % objective is a hair under 100 %.
        y_min: 1.0,
        markers,
        ..LineChart::default()
    })
}

fn step_text(step_nanos: u64) -> String {
    match step_nanos / MINUTE_NANOS {
        1 => String::from("minute"),
        minutes => format!("{minutes} minutes"),
    }
}

/// `/incidents/{id}/postmortem`: the draft as a document, with its Markdown download.
pub async fn postmortem_page(State(state): State<ApiState>, Path(id): Path<String>) -> PageResult {
    let (incident, investigation) = incident_and_investigation(&state, &id)?;
    let draft = postmortem(&incident, investigation.as_deref());
    let body = format!(
        "<h1>Post-mortem draft of <a href=\"/incidents/{}\">{}</a></h1><p class=\"lead\"><a href=\"/api/v1/incidents/{}/postmortem\" download=\"postmortem-{}.md\">Download as Markdown</a> to edit it; this page shows the draft as it is now.</p><article class=\"document\">{}</article>",
        path_segment(&incident.id),
        escape(&incident.id),
        path_segment(&incident.id),
        escape(&incident.id),
        markdown::to_html(&draft)
    );
    Ok(page(
        &format!("Post-mortem {}", incident.id),
        Section::Incidents,
        &body,
    ))
}
