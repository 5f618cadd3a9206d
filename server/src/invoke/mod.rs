//! The scripts' API (`/api/v1/…`, SPEC §3): a script names a connection, Liaison attaches the
//! credential and calls the service. Authenticated by personal API tokens (`Authorization:
//! Bearer lsn_…`), never by cookies. Errors are JSON with a stable `code` and a sentence a person
//! can act on; the codes are [`ErrorCode::API`], listed in the OpenAPI document.

pub mod calls;
pub mod hot;
pub mod json_call;
pub mod openapi;
pub mod paths;
pub mod proxy;
pub mod refresh;
pub mod target;
pub mod tokens;

use crate::routes::AppState;
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::time::Duration;

/// The API's limits (operator settings).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The whole call to the service, from connecting to the last byte of its answer.
    pub timeout: Duration,
    /// The largest request body a script may send, and the largest answer `invoke` returns.
    pub max_body_bytes: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(60), max_body_bytes: 10 * 1024 * 1024 }
    }
}

/// The largest `invoke` request: room for JSON's escaping of a body of the largest size.
pub fn invoke_limit(settings: &ApiSettings) -> usize {
    settings.max_body_bytes.saturating_mul(2).saturating_add(64 * 1024)
}

pub fn routes(_settings: &ApiSettings) -> Router<AppState> {
    // `invoke` reads its own body, with `invoke_limit`, once the caller is known.
    Router::new()
        .route("/api/v1/connections/{link_name}/proxy", any(proxy::handle))
        .route("/api/v1/connections/{link_name}/proxy/{*path}", any(proxy::handle))
        .route("/api/v1/invoke", post(json_call::invoke))
        .route("/api/v1/openapi.json", get(openapi::handle))
}

/// An error of the scripts' API: one of the [`ErrorCode::API`] codes, with its HTTP status.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), authorize_url: None, retry_after: None }
    }

    pub fn internal() -> ApiError {
        ApiError::new(ErrorCode::Internal, "Something went wrong inside Liaison. Try again; if it keeps failing, tell your administrator (the details are in Liaison's log).")
    }

    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        crate::error::status(self.code)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e.code.for_api() {
            Some(code) => ApiError::new(code, e.message),
            None => ApiError::internal(),
        }
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(e: crate::error::Error) -> Self {
        AppError::from(e).into()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        crate::error::Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = (status, Json(&self)).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"liaison\""));
        }
        resp
    }
}

/// Who calls: the person an API token belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub viewer: Viewer,
    pub token_id: i64,
    /// For the call log: the person's email and the token's name.
    pub label: String,
    /// The change stamp this call read (what is remembered at it or later is good for the call).
    pub fresh: hot::Fresh,
}

/// The caller behind `Authorization: Bearer <token>`.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "Send an API token as `Authorization: Bearer <token>`. Create one in Liaison under Settings → API tokens.",
        ));
    };
    match state.backend.caller(token).await? {
        Some(caller) => Ok(caller),
        None => Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "This API token is unknown or was revoked. Create a new one in Liaison under Settings → API tokens.",
        )),
    }
}
