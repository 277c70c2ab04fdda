//! `/login` and `/logout`: with bearer tokens configured, a browser cannot send one with every
//! page. The login form takes a token with the read scope once and keeps it in an HttpOnly,
//! SameSite=Strict cookie, which reading requests (GET, HEAD) accept in place of the header;
//! a page asked for without either goes to the form and comes back after it. Writes still need
//! the header: a cookie the browser sends by itself must not change anything.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::api::ApiState;
use crate::config::Scope;
use crate::error::ApiError;
use crate::web::html::escape;
use crate::web::{Section, page};

/// The cookie that carries the token (hex-encoded: any token is a valid cookie value).
pub const COOKIE: &str = "sloscope_token";

#[derive(Debug, Deserialize)]
pub struct LoginParams {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

/// Where to go after logging in: a path of this server, else the overview.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next
        }
        _ => "/",
    }
}

fn form_page(next: &str, problem: Option<&str>) -> Html<String> {
    let body = format!(
        "<h1>Log in</h1><p class=\"lead\">This sloscope asks for a token with the <code>read</code> scope. It is kept in a cookie of this browser until you <a href=\"/logout\">log out</a>.</p>{}<form class=\"filters\" method=\"post\" action=\"/login\"><input type=\"password\" name=\"token\" placeholder=\"token\" aria-label=\"token\" autocomplete=\"current-password\" required autofocus><input type=\"hidden\" name=\"next\" value=\"{}\"><button type=\"submit\">Log in</button></form>",
        problem
            .map(|problem| format!("<p class=\"error\">{}</p>", escape(problem)))
            .unwrap_or_default(),
        escape(next)
    );
    page("Log in", Section::Slos, &body)
}

pub async fn form(State(state): State<ApiState>, Query(params): Query<LoginParams>) -> Response {
    if !state.authenticator.enabled() {
        return Redirect::to("/").into_response();
    }
    form_page(safe_next(params.next.as_deref()), None).into_response()
}

pub async fn submit(State(state): State<ApiState>, Form(login): Form<LoginForm>) -> Response {
    let next = safe_next(login.next.as_deref());
    let token = login.token.trim();
    match state
        .authenticator
        .check_value(Some(&format!("Bearer {token}")), Scope::Read)
    {
        Ok(()) => {
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                hex::encode(token)
            );
            let mut response = Redirect::to(next).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(denied) => (
            StatusCode::UNAUTHORIZED,
            form_page(next, Some(&format!("Not logged in: {}.", denied.message))),
        )
            .into_response(),
    }
}

pub async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sloscope_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

/// The token of the login cookie, for a reading request that carries no header.
pub fn cookie_token(method: &Method, headers: &HeaderMap) -> Option<String> {
    if !(method == Method::GET || method == Method::HEAD) {
        return None;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .and_then(|value| hex::decode(value).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// What a request without a valid token gets: pages send the browser to the form, the API
/// answers 401 with the reason.
pub fn denied(path_and_query: &str, method: &Method, message: String) -> Response {
    let is_page = method == Method::GET
        && !path_and_query.starts_with("/api/")
        && !path_and_query.starts_with("/metrics");
    if is_page {
        return Redirect::to(&format!(
            "/login?next={}",
            crate::web::html::path_segment(path_and_query)
        ))
        .into_response();
    }
    ApiError::Unauthorized(message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server_are_followed_after_login() {
        assert_eq!(safe_next(Some("/slos/a?hours=6")), "/slos/a?hours=6");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn the_cookie_counts_for_reading_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {COOKIE}={}", hex::encode("s3cret;x")))
                .unwrap(),
        );
        assert_eq!(
            cookie_token(&Method::GET, &headers).as_deref(),
            Some("s3cret;x")
        );
        assert_eq!(cookie_token(&Method::POST, &headers), None);
    }
}
