//! `/api/v1/investigations`, `/api/v1/changes` and `/api/v1/incidents`: start an investigation
//! on demand and read its report as JSON or Markdown, record the changes investigations look
//! for, and follow incidents to their post-mortem.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sloscope_investigate::{ChangeEvent, SloContext, Subject};
use sloscope_model::{TimeRange, parse_timestamp};
use sloscope_slo::spec::{Indicator, SloSpec};

use crate::api::ApiState;
use crate::error::ApiError;
use crate::incidents::{self, Incident, IncidentState};
use crate::investigations::Investigation;

/// The longest window an investigation may cover; longer ones are refused rather than left to
/// read the whole store.
const MAX_WINDOW_NANOS: u64 = 7 * 24 * 3_600_000_000_000;

/// A time as JSON gives it: RFC 3339 text, or unix seconds as a number or text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TimeValue {
    Text(String),
    Seconds(f64),
}

fn parse_time(name: &str, value: &TimeValue) -> Result<u64, ApiError> {
    let text = match value {
        TimeValue::Text(text) => text.clone(),
        TimeValue::Seconds(seconds) => seconds.to_string(),
    };
    parse_timestamp(&text).map_err(|error| ApiError::BadRequest(format!("`{name}`: {error}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvestigationRequest {
    service: String,
    operation: Option<String>,
    slo: Option<String>,
    from: TimeValue,
    to: TimeValue,
    baseline_from: Option<TimeValue>,
    baseline_to: Option<TimeValue>,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::BadRequest(format!("body: {error}")))
}

/// What the probes need to know of the SLO that breached.
pub fn slo_context(spec: &SloSpec, budget_remaining: Option<f64>) -> SloContext {
    let (indicator, threshold_ms) = match &spec.indicator {
        Indicator::Availability => ("availability", None),
        Indicator::Latency { threshold_ms } => ("latency", Some(*threshold_ms)),
        Indicator::ErrorRate => ("error_rate", None),
        Indicator::MetricRatio { .. } => ("metric_ratio", None),
    };
    SloContext {
        name: spec.name.clone(),
        indicator: indicator.to_owned(),
        objective: spec.objective,
        threshold_ms,
        budget_remaining,
    }
}

/// The range between two named times, which must be in order and at most 7 days apart.
fn checked_range(
    what: &str,
    (from_name, from): (&str, &TimeValue),
    (to_name, to): (&str, &TimeValue),
) -> Result<TimeRange, ApiError> {
    let range = TimeRange {
        from: parse_time(from_name, from)?,
        to: parse_time(to_name, to)?,
    };
    if range.from >= range.to {
        return Err(ApiError::BadRequest(format!(
            "`{from_name}` must be before `{to_name}`"
        )));
    }
    if range.to - range.from > MAX_WINDOW_NANOS {
        return Err(ApiError::BadRequest(format!(
            "the {what} is longer than 7 days; name a shorter one"
        )));
    }
    Ok(range)
}

fn subject_of(request: &InvestigationRequest) -> Result<Subject, ApiError> {
    if request.service.trim().is_empty() {
        return Err(ApiError::BadRequest("`service` is empty".into()));
    }
    let window = checked_range("window", ("from", &request.from), ("to", &request.to))?;
    let baseline = match (&request.baseline_from, &request.baseline_to) {
        (None, None) => TimeRange {
            from: window.from.saturating_sub(window.to - window.from),
            to: window.from,
        },
        (Some(from), Some(to)) => {
            checked_range("baseline", ("baseline_from", from), ("baseline_to", to))?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give both `baseline_from` and `baseline_to`, or neither (the window before `from`)"
                    .into(),
            ));
        }
    };
    Ok(Subject {
        service: request.service.trim().to_owned(),
        operation: request
            .operation
            .as_deref()
            .map(str::trim)
            .filter(|operation| !operation.is_empty())
            .map(str::to_owned),
        window,
        baseline,
    })
}

/// `POST /api/v1/investigations`: runs the probes now and answers with the report.
pub async fn create(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let request: InvestigationRequest = parse_json(&body)?;
    let subject = subject_of(&request)?;
    let slo = match &request.slo {
        None => None,
        Some(name) => {
            let (spec, _, evaluation, _) = state
                .slos
                .get(name)
                .ok_or_else(|| ApiError::NotFound(format!("no SLO named `{name}`")))?;
            let remaining = evaluation.and_then(|evaluation| evaluation.budget_remaining);
            Some((spec.name.clone(), slo_context(&spec, remaining)))
        }
    };
    let record = tokio::task::spawn_blocking(move || {
        state
            .investigations
            .run(state.store.as_ref(), &state.changes, subject, slo)
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))??;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/investigations/{}", record.id),
        )],
        Json(record.as_ref()),
    )
        .into_response())
}

/// A line of the list: enough to pick one.
fn summary(record: &Investigation) -> Value {
    let top = record.report.causes.first();
    json!({
        "id": record.id,
        "created_unix_nano": record.created_unix_nano,
        "slo": record.slo,
        "service": record.report.subject.service,
        "operation": record.report.subject.operation,
        "window": record.report.subject.window,
        "top_cause": top.map(|cause| json!({
            "service": cause.service,
            "kind": cause.kind,
            "summary": cause.summary,
            "confidence": cause.confidence,
        })),
    })
}

pub async fn list(State(state): State<ApiState>) -> Json<Value> {
    let records = state.investigations.list();
    Json(
        json!({ "investigations": records.iter().map(|record| summary(record)).collect::<Vec<_>>() }),
    )
}

#[derive(Debug, Deserialize)]
pub struct FormatParams {
    format: Option<String>,
}

/// Whether `?format=` asks for Markdown (or JSON, the default).
pub fn wants_markdown(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("") | Some("json") => Ok(false),
        Some("markdown") | Some("md") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "`format` is `{other}`, want json or markdown"
        ))),
    }
}

pub fn markdown_response(text: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text,
    )
        .into_response()
}

pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(params): Query<FormatParams>,
) -> Result<Response, ApiError> {
    let markdown = wants_markdown(params.format.as_deref())?;
    let record: Arc<Investigation> = state
        .investigations
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no investigation `{id}`")))?;
    if markdown {
        return Ok(markdown_response(record.report.to_markdown()));
    }
    Ok(Json(record.as_ref()).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRequest {
    service: String,
    kind: Option<String>,
    description: Option<String>,
    version: Option<String>,
    /// When the change happened; now when left out.
    time: Option<TimeValue>,
}

/// `POST /api/v1/changes`: records a deployment or another change.
pub async fn record_change(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ChangeRequest = parse_json(&body)?;
    if request.service.trim().is_empty() {
        return Err(ApiError::BadRequest("`service` is empty".into()));
    }
    let time_unix_nano = match &request.time {
        Some(time) => parse_time("time", time)?,
        None => crate::now_unix_nano(),
    };
    let kind = request
        .kind
        .filter(|kind| !kind.trim().is_empty())
        .unwrap_or_else(|| "deployment".into());
    let description = request
        .description
        .unwrap_or_else(|| match &request.version {
            Some(version) => format!("{} {kind} of version {version}", request.service.trim()),
            None => format!("{} {kind}", request.service.trim()),
        });
    let event = ChangeEvent {
        time_unix_nano,
        service: request.service.trim().to_owned(),
        kind,
        description,
        version: request.version.filter(|version| !version.is_empty()),
    };
    let changes = state.changes.clone();
    let stored = event.clone();
    tokio::task::spawn_blocking(move || changes.record(stored))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(|error| ApiError::Internal(format!("could not record the change: {error}")))?;
    Ok((StatusCode::CREATED, Json(event)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ChangesParams {
    service: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/changes`: recorded changes, oldest first (all of them unless a range is given).
pub async fn changes(
    State(state): State<ApiState>,
    Query(params): Query<ChangesParams>,
) -> Result<Json<Value>, ApiError> {
    let bound = |name: &str, value: &Option<String>, default: u64| -> Result<u64, ApiError> {
        match value.as_deref().filter(|text| !text.is_empty()) {
            None => Ok(default),
            Some(text) => parse_timestamp(text)
                .map_err(|error| ApiError::BadRequest(format!("`{name}`: {error}"))),
        }
    };
    let range = TimeRange {
        from: bound("from", &params.from, 0)?,
        to: bound("to", &params.to, u64::MAX)?,
    };
    let events: Vec<ChangeEvent> = state
        .changes
        .between(range)
        .into_iter()
        .filter(|event| {
            params
                .service
                .as_deref()
                .filter(|service| !service.is_empty())
                .is_none_or(|service| event.service == service)
        })
        .collect();
    Ok(Json(json!({ "changes": events })))
}

#[derive(Debug, Deserialize)]
pub struct IncidentsParams {
    state: Option<String>,
}

fn parse_state(text: &str) -> Result<IncidentState, ApiError> {
    IncidentState::parse(text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`state` is `{text}`, want open, investigating, mitigated or resolved"
        ))
    })
}

/// `GET /api/v1/incidents`: newest first, optionally of one state.
pub async fn incidents(
    State(state): State<ApiState>,
    Query(params): Query<IncidentsParams>,
) -> Result<Json<Value>, ApiError> {
    let wanted = params
        .state
        .as_deref()
        .filter(|text| !text.is_empty())
        .map(parse_state)
        .transpose()?;
    let list: Vec<Incident> = state
        .incidents
        .list()
        .into_iter()
        .filter(|incident| wanted.is_none_or(|wanted| incident.state == wanted))
        .collect();
    Ok(Json(json!({ "incidents": list })))
}

fn incident_of(state: &ApiState, id: &str) -> Result<Incident, ApiError> {
    state
        .incidents
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no incident `{id}`")))
}

/// `GET /api/v1/incidents/{id}`: the incident with its investigation's report.
pub async fn incident(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let incident = incident_of(&state, &id)?;
    let investigation = incident
        .investigation_id
        .as_deref()
        .and_then(|id| state.investigations.get(id));
    let mut value =
        serde_json::to_value(&incident).map_err(|error| ApiError::Internal(error.to_string()))?;
    value["investigation"] = serde_json::to_value(investigation.as_deref())
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(Json(value))
}

/// `GET /api/v1/incidents/{id}/postmortem`: the post-mortem draft in Markdown.
pub async fn postmortem(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let incident = incident_of(&state, &id)?;
    let investigation = incident
        .investigation_id
        .as_deref()
        .and_then(|id| state.investigations.get(id));
    Ok(markdown_response(incidents::postmortem(
        &incident,
        investigation.as_deref(),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRequest {
    state: String,
    note: Option<String>,
}

/// `POST /api/v1/incidents/{id}/state`: a person mitigates, resolves or reopens an incident.
pub async fn set_incident_state(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Incident>, ApiError> {
    let request: StateRequest = parse_json(&body)?;
    let wanted = parse_state(&request.state)?;
    state
        .incidents
        .transition(&id, wanted, request.note.as_deref(), crate::now_unix_nano())
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no incident `{id}`")))
}
