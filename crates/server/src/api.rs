//! The query API under `/api/v1` (JSON), health endpoints and the server's own `/metrics`.
//! Handlers parse and validate parameters, ask the store, and shape the answer; the maths
//! of merging minutes into steps lives in [`crate::signals`].

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use sloscope_model::{SignalKind, TimeRange, parse_timestamp};
use sloscope_store::{LogQuery, PointQuery, SignalFilter, SpanQuery, Store};

use crate::alerts::NotifierSink;
use crate::auth::Authenticator;
use crate::changes::Changes;
use crate::config::Scope;
use crate::error::ApiError;
use crate::incidents::Incidents;
use crate::investigation_api;
use crate::investigations::Investigations;
use crate::pipeline::Ingestor;
use crate::signals::{self, Percentiles};
use crate::slo_api;
use crate::slos::SloEngine;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub ingestor: Arc<Ingestor>,
    pub authenticator: Arc<Authenticator>,
    pub slos: Arc<SloEngine>,
    pub notifications: Arc<NotifierSink>,
    pub investigations: Arc<Investigations>,
    pub changes: Arc<Changes>,
    pub incidents: Arc<Incidents>,
}

impl axum::extract::FromRef<ApiState> for Arc<SloEngine> {
    fn from_ref(state: &ApiState) -> Arc<SloEngine> {
        state.slos.clone()
    }
}

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/api/v1/services", get(services))
        .route("/api/v1/services/{service}/signals", get(service_signals))
        .route("/api/v1/dependencies", get(dependencies))
        .route("/api/v1/traces/{trace_id}", get(trace))
        .route("/api/v1/spans", get(spans))
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/metrics/{name}", get(metric))
        .route("/api/v1/slos", get(slo_api::list))
        .route("/api/v1/notifications", get(notification_channels))
        .route("/api/v1/slos/{name}", get(slo_api::get))
        .route("/api/v1/slos/{name}/backtest", get(slo_api::backtest))
        .route(
            "/api/v1/investigations",
            get(investigation_api::list).post(investigation_api::create),
        )
        .route("/api/v1/investigations/{id}", get(investigation_api::get))
        .route("/api/v1/changes", get(investigation_api::changes))
        .route("/api/v1/incidents", get(investigation_api::incidents))
        .route("/api/v1/incidents/{id}", get(investigation_api::incident))
        .route(
            "/api/v1/incidents/{id}/postmortem",
            get(investigation_api::postmortem),
        )
        .route("/metrics", get(prometheus_metrics))
        .merge(crate::web::routes())
        .route_layer(middleware::from_fn_with_state(
            (state.authenticator.clone(), Scope::Read),
            require_scope,
        ));
    let ingest = Router::new()
        .route(
            "/api/v1/changes",
            axum::routing::post(investigation_api::record_change),
        )
        .route_layer(middleware::from_fn_with_state(
            (state.authenticator.clone(), Scope::Ingest),
            require_scope,
        ));
    let admin = Router::new()
        .route("/api/v1/admin/flush", axum::routing::post(flush))
        .route(
            "/api/v1/incidents/{id}/state",
            axum::routing::post(investigation_api::set_incident_state),
        )
        .route(
            "/api/v1/slos/{name}",
            axum::routing::put(slo_api::put).delete(slo_api::delete),
        )
        .route_layer(middleware::from_fn_with_state(
            (state.authenticator.clone(), Scope::Admin),
            require_scope,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(crate::web::public_routes())
        .merge(api)
        .merge(ingest)
        .merge(admin)
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

async fn require_scope(
    State((authenticator, scope)): State<(Arc<Authenticator>, Scope)>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    // A browser logged in at /login sends the token as a cookie, with reading requests only.
    let checked = match crate::web::login::cookie_token(request.method(), headers) {
        Some(token) if !headers.contains_key(header::AUTHORIZATION) => {
            authenticator.check_value(Some(&format!("Bearer {token}")), scope)
        }
        _ => authenticator.check(headers, scope),
    };
    match checked {
        Ok(()) => next.run(request).await,
        Err(denied) if denied.unauthenticated => {
            let target = request
                .uri()
                .path_and_query()
                .map_or("/", |target| target.as_str());
            crate::web::login::denied(target, request.method(), denied.message)
        }
        Err(denied) => ApiError::Forbidden(denied.message).into_response(),
    }
}

/// Rolls everything acknowledged into segments now (before a backup, or to measure sizes).
async fn flush(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    blocking(move || Ok(store.flush()?)).await?;
    let stats = state.store.stats();
    Ok(Json(
        json!({ "segments": stats.segment_count, "segment_bytes": stats.segment_bytes, "rows_written": stats.rows_written }),
    ))
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

use crate::now_unix_nano;

const HOUR_NANOS: u64 = 3_600_000_000_000;

/// `from`/`to` as users write them (RFC 3339 or unix seconds); the last hour by default.
#[derive(Debug, Default, Deserialize)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

impl RangeParams {
    fn resolve(&self) -> Result<TimeRange, ApiError> {
        let parse = |name: &str, value: &Option<String>| -> Result<Option<u64>, ApiError> {
            value
                .as_deref()
                .filter(|text| !text.is_empty())
                .map(|text| {
                    parse_timestamp(text)
                        .map_err(|error| ApiError::BadRequest(format!("`{name}`: {error}")))
                })
                .transpose()
        };
        let to = parse("to", &self.to)?.unwrap_or_else(now_unix_nano);
        let from = parse("from", &self.from)?.unwrap_or(to.saturating_sub(HOUR_NANOS));
        if from >= to {
            return Err(ApiError::BadRequest("`from` must be before `to`".into()));
        }
        Ok(TimeRange::new(from, to))
    }
}

fn parse_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(100),
        Some(0) => Err(ApiError::BadRequest("`limit` must be at least 1".into())),
        Some(value) if value > 10_000 => {
            Err(ApiError::BadRequest("`limit` must be at most 10000".into()))
        }
        Some(value) => Ok(value),
    }
}

pub(crate) fn parse_trace_id(text: &str) -> Result<[u8; 16], ApiError> {
    let bytes = hex::decode(text)
        .map_err(|_| ApiError::BadRequest(format!("trace id `{text}` is not hex")))?;
    bytes
        .try_into()
        .map_err(|_| ApiError::BadRequest(format!("trace id `{text}` must be 32 hex digits")))
}

/// Runs a store query off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
}

#[derive(Debug, Deserialize)]
struct ServicesParams {
    #[serde(flatten)]
    range: RangeParams,
}

async fn services(
    State(state): State<ApiState>,
    Query(params): Query<ServicesParams>,
) -> Result<Json<Value>, ApiError> {
    let range = params.range.resolve()?;
    let store = state.store.clone();
    let summaries = blocking(move || {
        let filter = SignalFilter {
            kind: Some(SignalKind::Server),
            ..SignalFilter::default()
        };
        Ok(signals::summarize_services(
            &store.signal_buckets(range, &filter, None)?,
        ))
    })
    .await?;
    Ok(Json(Value::Array(summaries)))
}

#[derive(Debug, Deserialize)]
struct SignalParams {
    #[serde(flatten)]
    range: RangeParams,
    operation: Option<String>,
    step: Option<String>,
    percentiles: Option<String>,
    kind: Option<String>,
    remote_service: Option<String>,
    environment: Option<String>,
}

async fn service_signals(
    State(state): State<ApiState>,
    Path(service): Path<String>,
    Query(params): Query<SignalParams>,
) -> Result<Json<Value>, ApiError> {
    let range = params.range.resolve()?;
    let percentiles = Percentiles::parse(params.percentiles.as_deref())?;
    let step = signals::parse_step(params.step.as_deref(), range)?;
    let kind = match params.kind.as_deref() {
        None | Some("server") => SignalKind::Server,
        Some("dependency") => SignalKind::Dependency,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`kind` is `{other}`, want server or dependency"
            )));
        }
    };
    let filter = SignalFilter {
        kind: Some(kind),
        environment: params.environment.clone(),
        service: Some(service.clone()),
        operation: params
            .operation
            .clone()
            .filter(|operation| !operation.is_empty()),
        remote_service: params
            .remote_service
            .clone()
            .filter(|remote| !remote.is_empty()),
    };
    let store = state.store.clone();
    let step_minutes = (step.as_secs() / 60) as i64;
    let rows =
        blocking(move || Ok(store.signal_buckets(range, &filter, Some(step_minutes))?)).await?;
    let series = signals::bucket(&rows, range, step);
    Ok(Json(json!({
        "service": service,
        "operation": params.operation,
        "kind": kind,
        "remote_service": params.remote_service,
        "from": signals::rfc3339(range.from),
        "to": signals::rfc3339(range.to),
        "step_seconds": step.as_secs(),
        "points": series.points.iter().map(|(start, stats)| signals::point_json(*start, stats, &percentiles)).collect::<Vec<_>>(),
        "total": signals::stats_json(&series.total, &percentiles),
    })))
}

async fn dependencies(
    State(state): State<ApiState>,
    Query(params): Query<ServicesParams>,
) -> Result<Json<Value>, ApiError> {
    let range = params.range.resolve()?;
    let store = state.store.clone();
    let edges = blocking(move || {
        let filter = SignalFilter {
            kind: Some(SignalKind::Dependency),
            ..SignalFilter::default()
        };
        Ok(signals::summarize_edges(
            &store.signal_buckets(range, &filter, None)?,
        ))
    })
    .await?;
    Ok(Json(Value::Array(edges)))
}

async fn trace(
    State(state): State<ApiState>,
    Path(trace_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_trace_id(&trace_id)?;
    let store = state.store.clone();
    let spans = blocking(move || {
        let query = SpanQuery::trace(id, TimeRange::new(0, u64::MAX), 10_000);
        Ok(store.spans(&query)?)
    })
    .await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound(format!("no spans of trace {trace_id}")));
    }
    Ok(Json(
        json!({ "trace_id": trace_id.to_lowercase(), "spans": spans }),
    ))
}

#[derive(Debug, Deserialize)]
struct SpansParams {
    #[serde(flatten)]
    range: RangeParams,
    service: Option<String>,
    operation: Option<String>,
    min_duration_ms: Option<f64>,
    status: Option<String>,
    trace_id: Option<String>,
    limit: Option<usize>,
}

async fn spans(
    State(state): State<ApiState>,
    Query(params): Query<SpansParams>,
) -> Result<Json<Value>, ApiError> {
    let errors_only = match params.status.as_deref() {
        None | Some("") | Some("any") => false,
        Some("error") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`status` is `{other}`, want error or any"
            )));
        }
    };
    let min_duration = match params.min_duration_ms {
        Some(millis) if !(0.0..1e12).contains(&millis) => {
            return Err(ApiError::BadRequest(
                "`min_duration_ms` must be a non-negative number".into(),
            ));
        }
        Some(millis) => Some(Duration::from_secs_f64(millis / 1000.0)),
        None => None,
    };
    let query = SpanQuery {
        range: params.range.resolve()?,
        service: params.service.filter(|service| !service.is_empty()),
        operation: params.operation.filter(|operation| !operation.is_empty()),
        min_duration,
        errors_only,
        trace_id: params.trace_id.as_deref().map(parse_trace_id).transpose()?,
        limit: parse_limit(params.limit)?,
    };
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.spans(&query)?)).await?;
    Ok(Json(json!({ "spans": rows })))
}

#[derive(Debug, Deserialize)]
struct LogsParams {
    #[serde(flatten)]
    range: RangeParams,
    service: Option<String>,
    severity: Option<String>,
    trace_id: Option<String>,
    contains: Option<String>,
    limit: Option<usize>,
}

/// OTLP severity numbers: the lowest number of each named level.
pub(crate) fn parse_severity(text: &str) -> Result<i32, ApiError> {
    let number = match text.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" | "warning" => 13,
        "error" => 17,
        "fatal" => 21,
        other => other
            .parse::<i32>()
            .ok()
            .filter(|number| (1..=24).contains(number))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`severity` is `{text}`, want trace, debug, info, warn, error, fatal or 1-24"
                ))
            })?,
    };
    Ok(number)
}

async fn logs(
    State(state): State<ApiState>,
    Query(params): Query<LogsParams>,
) -> Result<Json<Value>, ApiError> {
    let query = LogQuery {
        range: params.range.resolve()?,
        service: params.service.filter(|service| !service.is_empty()),
        min_severity: params
            .severity
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(parse_severity)
            .transpose()?,
        trace_id: params
            .trace_id
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(parse_trace_id)
            .transpose()?,
        contains: params.contains.filter(|needle| !needle.is_empty()),
        limit: parse_limit(params.limit)?,
    };
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.logs(&query)?)).await?;
    Ok(Json(json!({ "logs": rows })))
}

#[derive(Debug, Deserialize)]
struct MetricParams {
    #[serde(flatten)]
    range: RangeParams,
    service: Option<String>,
    step: Option<String>,
}

async fn metric(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<MetricParams>,
) -> Result<Json<Value>, ApiError> {
    let range = params.range.resolve()?;
    let step = signals::parse_step(params.step.as_deref(), range)?;
    let query = PointQuery {
        range,
        name: Some(name.clone()),
        service: params.service.filter(|service| !service.is_empty()),
        limit: 1_000_000,
    };
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.points(&query)?)).await?;
    Ok(Json(
        json!({ "name": name, "step_seconds": step.as_secs(), "series": signals::metric_series(&rows, range, step) }),
    ))
}

/// The notification channels, with their delivery counts; destinations show only the host.
async fn notification_channels(State(state): State<ApiState>) -> Json<Value> {
    let notifier = state.notifications.notifier();
    Json(json!({ "channels": notifier.channel_summaries(), "stats": notifier.stats() }))
}

/// The server's own metrics in the Prometheus text format.
async fn prometheus_metrics(State(state): State<ApiState>) -> Response {
    let stats = state.store.stats();
    let counters = &state.ingestor.counters;
    let mut text = String::new();
    let signals = ["traces", "metrics", "logs"];
    let mut family = |name: &str, help: &str, kind: &str, values: &[(String, u64)]| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in values {
            text.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let per_signal = |values: &[std::sync::atomic::AtomicU64; 3]| -> Vec<(String, u64)> {
        signals
            .iter()
            .zip(values)
            .map(|(signal, value)| {
                (
                    format!("{{signal=\"{signal}\"}}"),
                    value.load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .collect()
    };
    family(
        "sloscope_ingest_requests_total",
        "Export requests received.",
        "counter",
        &per_signal(&counters.requests),
    );
    family(
        "sloscope_ingest_items_accepted_total",
        "Spans, data points and log records accepted.",
        "counter",
        &per_signal(&counters.accepted_items),
    );
    family(
        "sloscope_ingest_items_rejected_total",
        "Items rejected as unusable (reported as partial success).",
        "counter",
        &per_signal(&counters.rejected_items),
    );
    family(
        "sloscope_ingest_requests_invalid_total",
        "Requests refused as malformed.",
        "counter",
        &per_signal(&counters.invalid_requests),
    );
    family(
        "sloscope_ingest_requests_throttled_total",
        "Requests pushed back because the queue was full.",
        "counter",
        &per_signal(&counters.throttled_requests),
    );
    family(
        "sloscope_ingest_queued_writes",
        "Exports waiting for the store writer.",
        "gauge",
        &[(String::new(), stats.queued_writes)],
    );
    family(
        "sloscope_ingest_in_flight_bytes",
        "Budgeted bytes of exports between arrival and acknowledgement.",
        "gauge",
        &[(String::new(), state.ingestor.in_flight_bytes())],
    );
    family(
        "sloscope_wal_bytes",
        "Bytes in the write-ahead log.",
        "gauge",
        &[(String::new(), stats.wal_bytes)],
    );
    family(
        "sloscope_segments",
        "Parquet segment files.",
        "gauge",
        &[(String::new(), stats.segment_count)],
    );
    family(
        "sloscope_segment_bytes",
        "Bytes in Parquet segments.",
        "gauge",
        &[(String::new(), stats.segment_bytes)],
    );
    family(
        "sloscope_head_rows",
        "Rows in memory not yet rolled into segments.",
        "gauge",
        &[(String::new(), stats.head_rows)],
    );
    family(
        "sloscope_rollup_series",
        "Per-minute signal series held in rollups.",
        "gauge",
        &[(String::new(), stats.rollup_series)],
    );
    family(
        "sloscope_operations_folded_total",
        "Spans whose operation folded into `other` by the cardinality guard.",
        "counter",
        &[(String::new(), stats.folded_operations)],
    );
    let tables = ["spans", "logs", "metrics"];
    let rows: Vec<(String, u64)> = tables
        .iter()
        .zip(stats.rows_written)
        .map(|(table, value)| (format!("{{table=\"{table}\"}}"), value))
        .collect();
    family(
        "sloscope_rows_written_total",
        "Rows written to the store.",
        "counter",
        &rows,
    );
    let channels = state.notifications.notifier().stats();
    let per_channel = |value: fn(&sloscope_notify::ChannelStats) -> u64| -> Vec<(String, u64)> {
        channels
            .iter()
            .map(|stats| (format!("{{channel=\"{}\"}}", stats.channel), value(stats)))
            .collect()
    };
    family(
        "sloscope_notifications_sent_total",
        "Notifications delivered.",
        "counter",
        &per_channel(|stats| stats.sent),
    );
    family(
        "sloscope_notifications_failed_total",
        "Notifications given up on after retries.",
        "counter",
        &per_channel(|stats| stats.failed),
    );
    family(
        "sloscope_notifications_retried_total",
        "Delivery attempts retried.",
        "counter",
        &per_channel(|stats| stats.retried),
    );
    family(
        "sloscope_notifications_deduplicated_total",
        "Notifications not sent again.",
        "counter",
        &per_channel(|stats| stats.deduplicated),
    );
    family(
        "sloscope_notifications_dropped_total",
        "Notifications dropped because a channel queue was full.",
        "counter",
        &per_channel(|stats| stats.dropped),
    );
    slo_api::prometheus(&state.slos, &mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[cfg(test)]
mod tests {
    /// Every path the routers serve is described in the OpenAPI document, with its methods.
    #[test]
    fn every_route_is_in_the_openapi_document() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json parses");
        let paths = document["paths"].as_object().expect("paths");
        let source = include_str!("api.rs");
        let mut routes = 0;
        for chunk in source.split(".route(").skip(1) {
            let Some(path) = chunk
                .trim_start()
                .strip_prefix('"')
                .and_then(|rest| rest.split('"').next())
            else {
                continue;
            };
            if !path.starts_with('/') {
                continue;
            }
            routes += 1;
            let methods = paths
                .get(path)
                .unwrap_or_else(|| panic!("{path} is served but not in openapi.json"));
            // The route's method router: up to the next route, layer or statement.
            let handler = chunk
                .split(".route_layer")
                .next()
                .and_then(|text| text.split(";\n").next())
                .unwrap_or_default();
            for method in ["get", "post", "put", "delete"] {
                if handler.contains(&format!("{method}(")) {
                    assert!(
                        methods.get(method).is_some(),
                        "{method} {path} is served but not in openapi.json"
                    );
                }
            }
        }
        assert!(routes >= 20, "only {routes} routes found in api.rs");
    }
}
