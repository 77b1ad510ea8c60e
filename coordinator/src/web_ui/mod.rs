//! The coordinator's web UI, on its status port: the cluster at a glance
//! (workers, slots, running and queued queries), the list of queries, and a
//! page per query with its stage graph drawn, each stage's progress and
//! metrics refreshed while it runs, and a cancel button.
//!
//! One static page does the drawing; it reads the JSON views in [`views`].
//! When users are configured the UI asks for the same user name and
//! password as Flight SQL (HTTP Basic, once; then a session cookie holding
//! a Flight bearer token). The cookie is `SameSite=Strict` and a cancel must
//! carry a header a form cannot set, so another site cannot cancel queries
//! through a signed-in browser.

mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::Authenticator;
use crate::engine::QueryEngine;

/// The header the UI's cancel request carries (see the module doc).
const UI_HEADER: &str = "x-hayate-ui";
/// The cookie holding a signed-in browser's token.
const TOKEN_COOKIE: &str = "hayate_ui_token";

#[derive(Clone)]
struct Ui {
    engine: Arc<QueryEngine>,
    auth: Option<Arc<Authenticator>>,
}

/// The UI's routes: `/` (the page), `/api/cluster`, `/api/queries`,
/// `/api/queries/{id}` and `POST /api/queries/{id}/cancel`.
pub fn routes(engine: Arc<QueryEngine>, auth: Option<Arc<Authenticator>>) -> Router {
    let ui = Ui { engine, auth };
    Router::new()
        .route("/", get(page))
        .route("/ui", get(page))
        .route("/api/cluster", get(cluster))
        .route("/api/queries", get(queries))
        .route("/api/queries/{id}", get(query))
        .route("/api/queries/{id}/cancel", post(cancel))
        .route_layer(middleware::from_fn_with_state(ui.clone(), signed_in))
        .with_state(ui)
}

async fn page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(include_str!("page.html")),
    )
}

async fn cluster(State(ui): State<Ui>) -> Response {
    json(&views::cluster(&ui.engine))
}

async fn queries(State(ui): State<Ui>) -> Response {
    json(&views::queries(ui.engine.registry()))
}

async fn query(State(ui): State<Ui>, Path(id): Path<String>) -> Response {
    match ui.engine.registry().get(&id) {
        Some(query) => json(&views::query(&query)),
        None => (StatusCode::NOT_FOUND, format!("no query {id}\n")).into_response(),
    }
}

async fn cancel(State(ui): State<Ui>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if !headers.contains_key(UI_HEADER) {
        return (
            StatusCode::FORBIDDEN,
            format!("a cancel must carry the {UI_HEADER} header\n"),
        )
            .into_response();
    }
    let cancelled = ui.engine.cancel(&id, "the web UI");
    json(&serde_json::json!({ "cancelled": cancelled }))
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Lets a request through on an open coordinator, with a valid session
/// cookie, or with Basic credentials (which set the cookie); otherwise asks
/// the browser to sign in.
async fn signed_in(State(ui): State<Ui>, request: Request, next: Next) -> Response {
    let Some(auth) = &ui.auth else {
        return next.run(request).await;
    };
    let headers = request.headers();
    if let Some(token) = cookie(headers, TOKEN_COOKIE)
        && auth.user_for(Some(&format!("Bearer {token}"))).is_ok()
    {
        return next.run(request).await;
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("Basic "))
        .map(str::to_string);
    if let Some(basic) = basic
        && let Ok(token) = auth.sign_in(Some(&basic))
    {
        let mut response = next.run(request).await;
        let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return response;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"Hayate\", charset=\"UTF-8\"",
        )],
        "sign in with your Hayate user name and password\n",
    )
        .into_response()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}
