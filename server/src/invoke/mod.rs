//! The scripts' API (`/api/v1/…`, SPEC §3): a script names a connection, Liaison attaches the
//! credential and calls the service. Authenticated by personal API tokens (`Authorization:
//! Bearer lsn_…`), never by cookies. Errors are JSON with a stable `code` and a sentence a person
//! can act on; the codes are listed in [`CODES`] and in the OpenAPI document.

pub mod json_call;
pub mod openapi;
pub mod paths;
pub mod proxy;
pub mod target;

use crate::api_tokens::ApiTokens;
use crate::calls::CallLog;
use crate::credentials::Credentials;
use crate::hot::Hot;
use crate::outbound::Outbound;
use crate::services::Services;
use crate::store::{Clock, Store};
use app::error::{AppError, ErrorCode};
use axum::extract::FromRef;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
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

/// The scripts' API: a call goes from its handler to the caller (`ApiTokens`), the connection
/// (`proxy::Api::target`, from memory while nothing changed), its credential (`Credentials`), the
/// service (`Outbound`) and the call log, in that order.
pub struct Api {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: ApiSettings,
    pub tokens: Arc<ApiTokens>,
    pub services: Arc<Services>,
    pub credentials: Arc<Credentials>,
    /// The connections the calls name, kept while the change stamp stays the same.
    pub hot: Arc<Hot>,
    /// The client for the calls to services (SSRF guard, no redirects, limits).
    pub outbound: Outbound,
    pub calls: CallLog,
    /// Liaison's public URL, ending in `/` (the OpenAPI document's server).
    pub public_url: String,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Api>: FromRef<S>,
{
    // `invoke` reads its own body, with `invoke_limit`, once the caller is known.
    Router::new()
        .route("/api/v1/connections/{link_name}/proxy", any(proxy::handle))
        .route("/api/v1/connections/{link_name}/proxy/{*path}", any(proxy::handle))
        .route("/api/v1/invoke", post(json_call::invoke))
        .route("/api/v1/openapi.json", get(openapi::handle))
}

/// Every error code the API answers with: (code, HTTP status, when).
pub const CODES: &[(&str, u16, &str)] = &[
    ("unauthenticated", 401, "no API token, or one that is unknown, revoked or expired"),
    ("invalid_request", 400, "the request itself is malformed (method, URL, header, JSON)"),
    ("connection_not_found", 404, "no connection of that link name in the token owner's organisation"),
    ("not_connected", 409, "the connection has never been authorised"),
    ("connection_revoked", 409, "the connection was revoked; enable it to use it again"),
    ("needs_reauthorization", 409, "the provider no longer accepts the grant, or the scopes changed"),
    ("connection_error", 409, "the last attempt to connect failed; see the message"),
    ("user_not_authorized", 403, "a login-user connection the caller has not authorised yet; see authorize_url"),
    ("host_not_allowed", 403, "the URL is outside the service's API base URLs, or a private address"),
    ("path_not_allowed", 400, "the path leaves the API base path once percent-decoded (`..%2F`, `%252e`, `..;`, backslashes), or carries an encoded slash the service does not need"),
    ("body_too_large", 413, "the request body, or invoke's answer, is over the configured limit"),
    ("upstream_timeout", 504, "the service did not answer within the time limit"),
    ("upstream_unreachable", 502, "the service could not be reached"),
    ("provider_unavailable", 503, "the provider's token endpoint is failing; Liaison backs off (Retry-After)"),
    ("refresh_failed", 502, "the provider refused to refresh the token for another reason; see the message"),
    ("secret_unreadable", 500, "a stored credential cannot be decrypted with the current keys"),
    ("internal", 500, "something failed inside Liaison; the details are in its log"),
];

/// An error of the scripts' API.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with one of the [`CODES`] (its status comes from there).
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        let status = CODES
            .iter()
            .find(|(c, _, _)| *c == code)
            .and_then(|(_, s, _)| StatusCode::from_u16(*s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError { status, code, message: message.into(), authorize_url: None, retry_after: None }
    }

    pub fn internal() -> ApiError {
        ApiError::new("internal", "Something went wrong inside Liaison. Try again; if it keeps failing, tell your administrator (the details are in Liaison's log).")
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let code = match e.code {
            ErrorCode::SecretUnreadable => "secret_unreadable",
            ErrorCode::HostNotAllowed => "host_not_allowed",
            ErrorCode::UpstreamTimeout => "upstream_timeout",
            ErrorCode::ProviderError => "refresh_failed",
            ErrorCode::NotFound => "connection_not_found",
            ErrorCode::Validation => "invalid_request",
            ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials => "unauthenticated",
            _ => return ApiError::internal(),
        };
        ApiError::new(code, e.message)
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
        let mut resp = (self.status, Json(&self)).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"liaison\""));
        }
        resp
    }
}
