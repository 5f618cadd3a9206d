//! The axum router: Leptos pages and server functions, `/healthz`, and the middleware every
//! request passes: tracing (method and path only, never a query string), the headers every answer
//! carries, the request time limit (`accept::within_time`), and for pages the same-origin rule,
//! the session lookup, and the page guard that sends people to setup or sign-in.

use crate::admin::Admin;
use crate::auth::csrf;
use crate::auth::sessions::Sessions;
use crate::backend::ServerBackend;
use crate::embed::Embed;
use crate::flows::page::PublicOrigin;
use crate::flows::Flows;
use crate::invoke::Api;
use app::backend::{Backend, RequestIdentity};
use app::error::{AppError, ErrorCode};
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use std::time::Duration;
use tower::util::MapResponseLayer;
use tower_http::trace::TraceLayer;

#[derive(Clone)]
/// Cloned for every request by each middleware and handler: only `Arc`s inside.
pub struct AppState {
    pub leptos: Arc<LeptosOptions>,
    pub backend: Arc<ServerBackend>,
    /// `scheme://host[:port]` of the public URL.
    pub public_origin: Arc<str>,
    /// No public URL was configured: the same-origin rule compares `Origin` with `Host`.
    pub trust_host: bool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        LeptosOptions::clone(&state.leptos)
    }
}

/// Each handler takes the one area it works with, never the whole state.
macro_rules! area {
    ($($ty:ty => $field:ident),* $(,)?) => {$(
        impl FromRef<AppState> for Arc<$ty> {
            fn from_ref(state: &AppState) -> Self {
                state.backend.$field.clone()
            }
        }
    )*};
}

area!(Flows => flows, Api => api, Admin => admin, Embed => embed, Sessions => sessions);

impl FromRef<AppState> for PublicOrigin {
    fn from_ref(state: &AppState) -> Self {
        PublicOrigin(state.public_origin.clone())
    }
}

/// Every route: pages, server functions, the admin API and the scripts' API, each request within
/// `request_timeout` (`accept::within_time`; the scripts' API has its own limit).
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let backend: Arc<dyn Backend> = state.backend.clone();
    let frame = app::FrameAncestors(state.backend.embed.frame_ancestors());
    let themed = app::EmbedTheme(state.backend.embed.theme_css.is_some());
    let context = move || {
        provide_context(backend.clone());
        provide_context(frame.clone());
        provide_context(themed);
    };
    let options = LeptosOptions::clone(&state.leptos);
    let routes = generate_route_list(app::App);
    let pages = Router::new()
        .route("/healthz", get(healthz))
        // Pages outside the shell (the popup's result, the embed refusal) have no icon link: the
        // browser asks for this one, which is nothing rather than a 404 in their console.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/oauth/start/{link_name}", get(crate::flows::start::start))
        .route("/oauth/callback/{key}", get(crate::flows::finish::callback))
        .route("/reconnect/{token}", get(crate::reconnect::page))
        .route("/reconnect/{token}/continue", get(crate::reconnect::proceed))
        .route("/embed/start", get(crate::embed::start))
        .route("/theme.css", get(theme_css))
        .merge(crate::admin::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), move || app::shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, app::shell))
        .layer(middleware::from_fn_with_state(state.clone(), guard_pages))
        .layer(middleware::from_fn_with_state(state.clone(), identify))
        .layer(middleware::from_fn_with_state(state.clone(), same_origin))
        .layer(middleware::from_fn(private_pages));
    // The scripts' API authenticates each call by its bearer token: no session, page guard or
    // same-origin rule in its way.
    // Within every answer's headers: a request out of time is answered with them too.
    let all = crate::accept::within_time(Router::new().merge(crate::invoke::routes()).merge(pages), request_timeout);
    every_answer(all, &state).with_state(state)
}

/// The scripts' API alone, for its own listener (`crate::api_listen`): the same routes and
/// answer headers as on the main router, without the request time limit's layer (which the API's
/// calls skip there too: they have their own limit).
pub fn api_router(state: AppState) -> Router {
    every_answer(crate::invoke::routes(), &state).with_state(state)
}

/// What every answer carries (unless it says otherwise), and the request's log span.
fn every_answer(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let frame_ancestors = HeaderValue::from_str(&state.backend.embed.frame_ancestors())
        .unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'self'"));
    // One layer for the three (each layer costs every call of the scripts' API).
    let headers = MapResponseLayer::new(move |mut res: Response| {
        let h = res.headers_mut();
        h.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert_with(|| HeaderValue::from_static("nosniff"));
        h.entry(header::REFERRER_POLICY).or_insert_with(|| HeaderValue::from_static("same-origin"));
        h.entry(header::CONTENT_SECURITY_POLICY).or_insert_with(|| frame_ancestors.clone());
        res
    });
    router
        .layer(headers)
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &Request<Body>| tracing::info_span!("http", method = %req.method(), path = %crate::accept::logged_path(req.uri().path())),
        ))
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.backend.store.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "unavailable" }))).into_response()
        }
    }
}

/// `GET /theme.css` (`app::THEME_CSS`): the embedded pages' theme (`embed_theme`); an empty
/// stylesheet when there is none (no page links it then).
async fn theme_css(State(embed): State<Arc<Embed>>) -> Response {
    let css = embed.theme_css.as_deref().unwrap_or("/* No embed_theme is configured. */\n").to_string();
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], css).into_response()
}

/// Server-rendered pages carry the person's own data: no shared cache may keep them, and the
/// browser may not show them again from its cache (Back after signing out). Answers with a
/// caching rule of their own keep it; the site's static files (`/pkg`) are not pages.
async fn private_pages(req: Request, next: Next) -> Response {
    let static_file = req.uri().path().starts_with("/pkg/");
    let mut res = next.run(req).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !static_file && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    res
}

async fn same_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The API authenticates by bearer token, never by cookie: a forged cross-site request there
    // carries no credential.
    if req.uri().path().starts_with("/api/")
        || csrf::is_same_origin(req.method(), req.headers(), &state.public_origin, state.trust_host)
    {
        return next.run(req).await;
    }
    tracing::warn!(method = %req.method(), path = %crate::accept::logged_path(req.uri().path()), "cross-origin request refused");
    crate::error::app_response(AppError::new(
        ErrorCode::CrossOriginRefused,
        "This request did not come from Liaison's own pages, so it was refused. Reload Liaison and try again.",
    ))
}

async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Static files and the health check need no identity: no session lookup for them.
    let path = req.uri().path();
    if path.starts_with("/pkg/") || path == "/healthz" || path == "/favicon.ico" || path == app::THEME_CSS {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            state
                .backend
                .sessions
                .cookies
                .read(v)
                .or_else(|| crate::auth::session::read_cookie(v, crate::embed::COOKIE))
        })
        .map(str::to_string);
    let mut identity = RequestIdentity {
        client_ip: req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()),
        ..Default::default()
    };
    if let Some(token) = token {
        match state.backend.sessions.session_viewer(&token).await {
            Ok((handle, viewer)) => {
                identity.session = Some(handle);
                identity.viewer = viewer;
            }
            Err(e) => return crate::error::app_response(e.into()),
        }
    }
    req.extensions_mut().insert(identity);
    next.run(req).await
}

/// Full page loads: setup while nobody exists, sign-in before the settings pages.
async fn guard_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let page = matches!(path, "/" | "/setup" | "/login") || path.starts_with("/settings");
    if req.method() != axum::http::Method::GET || !page {
        return next.run(req).await;
    }
    let has_users = match state.backend.sessions.has_users().await {
        Ok(b) => b,
        Err(e) => return crate::error::app_response(e.into()),
    };
    let signed_in = req.extensions().get::<RequestIdentity>().is_some_and(|i| i.viewer.is_some());
    let target = match (path, has_users, signed_in) {
        ("/setup", false, _) => None,
        (_, false, _) => Some("/setup"),
        ("/setup" | "/login", true, true) => Some(app::api::HOME),
        ("/setup", true, false) => Some("/login"),
        ("/login", true, false) => None,
        (_, true, false) => Some("/login"),
        _ => None,
    };
    match target {
        Some(to) => Redirect::to(to).into_response(),
        None => next.run(req).await,
    }
}
