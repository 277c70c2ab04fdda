//! SLO endpoints of the query API (`/api/v1/slos...`) and the SLO series of `/metrics`, named
//! like Sloth's recording rules (`slo:sli_error:ratio_rate5m`, `slo:error_budget:ratio`, ...)
//! with Sloth's labels (`sloth_id`, `sloth_service`, `sloth_slo`, `sloth_window`), so that
//! Grafana dashboards and Alertmanager rules built for Sloth work unchanged.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sloscope_model::parse_timestamp;
use sloscope_slo::spec::SloSpec;
use sloscope_slo::{Evaluation, Phase};

use crate::error::ApiError;
use crate::slos::{SloEngine, SloError, Source};

impl From<SloError> for ApiError {
    fn from(error: SloError) -> ApiError {
        match error {
            SloError::Invalid(message) => ApiError::BadRequest(message),
            SloError::NotFound(_) => ApiError::NotFound(error.to_string()),
            SloError::FileManaged { .. } => ApiError::Conflict(error.to_string()),
            SloError::Store(store) => ApiError::Store(store),
            SloError::Io(io) => ApiError::Internal(io.to_string()),
        }
    }
}

/// The short status a person scans for: exhausted, burning, warning, no data or ok.
pub fn status_of(evaluation: Option<&Evaluation>) -> &'static str {
    let Some(evaluation) = evaluation else {
        return "no_data";
    };
    let firing = |prefix: &str| {
        evaluation
            .firing()
            .any(|state| state.rule.starts_with(prefix))
    };
    if firing("budget_exhausted") {
        "exhausted"
    } else if firing("burn") {
        "burning"
    } else if firing("budget_warning") {
        "warning"
    } else if evaluation.period_total == 0 || firing("no_data") {
        "no_data"
    } else {
        "ok"
    }
}

fn summary_json(spec: &SloSpec, source: &Source, evaluation: Option<&Evaluation>) -> Value {
    json!({
        "name": spec.name,
        "service": spec.service,
        "description": spec.description,
        "objective": spec.objective,
        "window": spec.window,
        "indicator": spec.indicator,
        "scope": spec.scope,
        "labels": spec.labels,
        "source": source,
        "status": status_of(evaluation),
        "attainment": evaluation.and_then(|evaluation| evaluation.attainment),
        "budget_remaining": evaluation.and_then(|evaluation| evaluation.budget_remaining),
        "burn_rates": evaluation.map(|evaluation| evaluation.windows.iter().map(|window| (window.window.clone(), json!(window.burn_rate))).collect::<serde_json::Map<_, _>>()),
        "exhaustion_forecast_minutes": evaluation.and_then(|evaluation| evaluation.exhaustion_forecast_minutes),
        "firing": evaluation.map(|evaluation| evaluation.firing().map(|state| state.rule.clone()).collect::<Vec<_>>()).unwrap_or_default(),
        "evaluated_at": evaluation.map(|evaluation| evaluation.at),
    })
}

pub async fn list(State(engine): State<Arc<SloEngine>>) -> Json<Value> {
    let entries = engine.list();
    let errors = engine.file_errors();
    Json(json!({
        "slos": entries.iter().map(|(spec, source, evaluation)| summary_json(spec, source, evaluation.as_deref())).collect::<Vec<_>>(),
        "file_errors": errors.iter().map(|(path, message)| json!({ "path": path, "error": message })).collect::<Vec<_>>(),
    }))
}

pub async fn get(
    State(engine): State<Arc<SloEngine>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (spec, source, evaluation, history) = engine
        .get(&name)
        .ok_or_else(|| ApiError::from(SloError::NotFound(name.clone())))?;
    let mut answer = summary_json(&spec, &source, evaluation.as_deref());
    answer["spec"] = json!(spec);
    answer["yaml"] = json!(sloscope_slo::parse::to_yaml(&spec));
    answer["evaluation"] = json!(evaluation.as_deref());
    answer["alert_history"] = json!(history);
    Ok(Json(answer))
}

/// Accepts the YAML form of one SLO, or a JSON object of the same fields: JSON is YAML, so one
/// parser and one set of error messages serve both.
pub async fn put(
    State(engine): State<Arc<SloEngine>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::BadRequest("body is not UTF-8".into()))?;
    let existed = engine.get(&name).is_some();
    let engine_for_put = engine.clone();
    let spec = tokio::task::spawn_blocking(move || engine_for_put.put(&name, &text))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))??;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let (spec, source, evaluation, _) = engine
        .get(&spec.name)
        .ok_or_else(|| ApiError::Internal("slo vanished after put".into()))?;
    Ok((
        status,
        Json(summary_json(&spec, &source, evaluation.as_deref())),
    )
        .into_response())
}

pub async fn delete(
    State(engine): State<Arc<SloEngine>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    tokio::task::spawn_blocking(move || engine.delete(&name))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))??;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct BacktestParams {
    from: String,
    to: Option<String>,
}

pub async fn backtest(
    State(engine): State<Arc<SloEngine>>,
    Path(name): Path<String>,
    Query(params): Query<BacktestParams>,
) -> Result<Json<Value>, ApiError> {
    let parse = |name: &str, text: &str| {
        parse_timestamp(text)
            .map(|nanos| (nanos / 1_000_000_000) as i64)
            .map_err(|error| ApiError::BadRequest(format!("`{name}`: {error}")))
    };
    let from = parse("from", &params.from)?;
    let to = match params.to.as_deref() {
        Some(text) => parse("to", text)?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0),
    };
    if to <= from {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    if to - from > 400 * 24 * 3600 {
        return Err(ApiError::BadRequest(
            "a backtest covers at most 400 days".into(),
        ));
    }
    let report = tokio::task::spawn_blocking(move || engine.backtest(&name, from, to))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))??;
    Ok(Json(json!(report)))
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family of the exposition: its samples as (labels, value).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: String, value: f64) {
        self.samples.push((labels, value));
    }

    fn write(&self, text: &mut String) {
        let _ = writeln!(
            text,
            "# HELP {} {}\n# TYPE {} gauge",
            self.name, self.help, self.name
        );
        for (labels, value) in &self.samples {
            let _ = writeln!(text, "{}{{{labels}}} {value}", self.name);
        }
    }
}

/// SLO series in the Prometheus text format, appended to the server's own metrics.
pub fn prometheus(engine: &SloEngine, text: &mut String) {
    let mut objective = Family::new("slo:objective:ratio", "The SLO's objective.");
    let mut error_budget =
        Family::new("slo:error_budget:ratio", "The error budget: 1 - objective.");
    let mut budget_remaining = Family::new(
        "slo:period_error_budget_remaining:ratio",
        "Share of the period's error budget left (negative when overspent).",
    );
    let mut period_error = Family::new(
        "slo:sli_error:ratio_rate_period",
        "Error ratio over the SLO period.",
    );
    let mut attainment = Family::new(
        "slo:attainment:ratio",
        "Good events over all events in the SLO period.",
    );
    let mut window_error = Family::new(
        "slo:sli_error:ratio",
        "Error ratio over each alert window (label sloth_window).",
    );
    let mut current_burn = Family::new(
        "slo:current_burn_rate:ratio",
        "Burn rate over the last hour.",
    );
    let mut window_burn = Family::new(
        "slo:burn_rate:ratio",
        "Burn rate over each alert window (label sloth_window).",
    );
    let mut forecast = Family::new(
        "slo:exhaustion_forecast:seconds",
        "Seconds until the budget is gone at the current burn rate.",
    );
    let mut alert_state = Family::new(
        "sloscope_slo_alert_state",
        "Alert rule state: 0 inactive, 1 pending, 2 firing, 3 resolved.",
    );
    for (spec, _, evaluation) in engine.list() {
        let base = format!(
            "sloth_id=\"{}\",sloth_service=\"{}\",sloth_slo=\"{}\"",
            escape(&format!("{}-{}", spec.service, spec.name)),
            escape(&spec.service),
            escape(&spec.name)
        );
        objective.add(base.clone(), spec.objective);
        error_budget.add(base.clone(), 1.0 - spec.objective);
        let Some(evaluation) = evaluation else {
            continue;
        };
        if let Some(remaining) = evaluation.budget_remaining {
            budget_remaining.add(base.clone(), remaining);
        }
        if let Some(ratio) = evaluation.attainment {
            period_error.add(base.clone(), 1.0 - ratio);
            attainment.add(base.clone(), ratio);
        }
        for window in &evaluation.windows {
            let labels = format!("{base},sloth_window=\"{}\"", window.window);
            if window.total > 0 {
                window_error.add(
                    labels.clone(),
                    (window.total - window.good) as f64 / window.total as f64,
                );
            }
            if let Some(rate) = window.burn_rate {
                window_burn.add(labels, rate);
            }
        }
        if let Some(rate) = evaluation.current_burn_rate {
            current_burn.add(base.clone(), rate);
        }
        if let Some(minutes) = evaluation.exhaustion_forecast_minutes {
            forecast.add(base.clone(), minutes * 60.0);
        }
        for state in &evaluation.states {
            let value = match state.phase {
                Phase::Inactive => 0.0,
                Phase::Pending => 1.0,
                Phase::Firing => 2.0,
                Phase::Resolved => 3.0,
            };
            let severity = serde_json::to_value(state.severity)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            alert_state.add(
                format!(
                    "{base},rule=\"{}\",severity=\"{severity}\"",
                    escape(&state.rule)
                ),
                value,
            );
        }
    }
    for family in [
        objective,
        error_budget,
        budget_remaining,
        period_error,
        attainment,
        window_error,
        current_burn,
        window_burn,
        forecast,
        alert_state,
    ] {
        family.write(text);
    }
}
