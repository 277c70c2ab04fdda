//! The web UI at `/`: HTML written by the server from the same engine and store calls the JSON
//! API makes, charts ([`svg`]) and the service map ([`graph`]) drawn as SVG in Rust, one
//! stylesheet and one small script embedded in the binary. Nothing is loaded from another
//! host and there is no JavaScript build: the script only rewrites `<time>` elements and
//! chart clocks into the reader's zone and filters tables. Pages are read-only; changes go
//! through the API.

mod figures;
mod graph;
mod html;
pub mod login;
mod markdown;
mod pages;
mod range;
mod svg;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::api::ApiState;
use crate::error::ApiError;
use html::escape;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");
/// A gauge, so that browsers asking for an icon get one instead of a 404 in their console.
const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><circle cx=\"8\" cy=\"8\" r=\"7\" fill=\"#1f5fbf\"/><path d=\"M8 8L12 4\" stroke=\"#fff\" stroke-width=\"2\" stroke-linecap=\"round\"/></svg>";

/// The pages, to be mounted behind the read scope like the API.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(pages::slos::overview))
        .route("/slos", get(pages::slos::overview))
        .route("/slos/{name}", get(pages::slos::detail))
        .route("/services", get(pages::services::list))
        .route("/services/{name}", get(pages::services::detail))
        .route("/map", get(pages::map::map))
        .route("/logs", get(pages::logs::list))
        .route("/traces/{id}", get(pages::traces::waterfall))
        .route("/incidents", get(pages::incidents::list))
        .route("/incidents/{id}", get(pages::incidents::detail))
        .route(
            "/incidents/{id}/postmortem",
            get(pages::incidents::postmortem_page),
        )
        .route("/investigations", get(pages::investigations::list))
        .route("/investigations/{id}", get(pages::investigations::detail))
}

/// What needs no token: the stylesheet, script and icon (the login page uses them) and the
/// login form itself.
pub fn public_routes() -> Router<ApiState> {
    Router::new()
        .route("/ui/style.css", get(style))
        .route("/ui/script.js", get(script))
        .route("/ui/icon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", get(login::logout))
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The sections of the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Slos,
    Services,
    Map,
    Logs,
    Incidents,
    Investigations,
}

/// A whole page: the layout around `body` (already escaped HTML).
pub fn page(title: &str, section: Section, body: &str) -> Html<String> {
    let mut nav = String::new();
    for (target, href, label) in [
        (Section::Slos, "/", "SLOs"),
        (Section::Services, "/services", "Services"),
        (Section::Map, "/map", "Map"),
        (Section::Logs, "/logs", "Logs"),
        (Section::Incidents, "/incidents", "Incidents"),
        (Section::Investigations, "/investigations", "Investigations"),
    ] {
        let current = if target == section {
            " aria-current=\"page\""
        } else {
            ""
        };
        nav.push_str(&format!("<a href=\"{href}\"{current}>{label}</a>"));
    }
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{} · sloscope</title><link rel=\"icon\" href=\"/ui/icon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/ui/style.css\">\
<script src=\"/ui/script.js\" defer></script></head>\
<body><header><a class=\"brand\" href=\"/\">sloscope</a><nav>{nav}</nav></header>\
<main>{body}</main></body></html>\n",
        escape(title)
    ))
}

/// An error shown as a page, with the status code the API gives the same error.
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        PageError(error)
    }
}

impl From<sloscope_store::StoreError> for PageError {
    fn from(error: sloscope_store::StoreError) -> PageError {
        PageError(ApiError::Store(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "page failed");
        }
        let heading = if status == StatusCode::NOT_FOUND {
            "Not found"
        } else {
            status.canonical_reason().unwrap_or("Error")
        };
        let body = format!(
            "<h1>{}</h1><p class=\"error\">{}</p>",
            escape(heading),
            escape(&self.0.to_string())
        );
        (status, page(heading, Section::Slos, &body)).into_response()
    }
}

pub type PageResult = Result<Html<String>, PageError>;

/// Runs store reads off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| PageError(ApiError::Internal(error.to_string())))?
}
