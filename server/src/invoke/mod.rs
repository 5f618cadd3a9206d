//! The scripts' API (`/api/v1/…`): a script names a connection, Liaison attaches the
//! credential and calls the service. Authenticated by personal API tokens (`Authorization:
//! Bearer lsn_…`), never by cookies. Errors are JSON with a stable `code` and a sentence a person
//! can act on (`crate::error::ApiError`); the codes are `ErrorCode::API`, listed in the OpenAPI
//! document.

pub mod json_call;
pub mod metadata;
pub mod openapi;
pub mod paths;
pub mod proxy;
pub mod retry;
mod send;
pub mod target;

use crate::api_tokens::ApiTokens;
use crate::calls::CallLog;
use crate::credentials::Credentials;
use crate::hot::Memo;
use crate::infra::Infra;
use crate::services::Services;
use axum::extract::FromRef;
use axum::routing::{any, get, post};
use axum::Router;
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
/// (`target::Api::target`, from memory while nothing changed), its credential (`Credentials`), the
/// service (`Outbound`) and the call log, in that order.
pub struct Api {
    pub infra: Infra,
    pub settings: ApiSettings,
    pub tokens: Arc<ApiTokens>,
    pub services: Arc<Services>,
    pub credentials: Arc<Credentials>,
    /// The connections the calls name, kept while the change stamp stays the same.
    pub targets: Memo<target::Targets>,
    pub calls: CallLog,
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
        .route("/api/v1/connections/{link_name}/metadata", get(metadata::handle).put(metadata::handle))
        .route("/api/v1/invoke", post(json_call::invoke))
        .route("/api/v1/openapi.json", get(openapi::handle))
        .layer(axum::middleware::from_fn(crate::metrics::timed))
}

#[cfg(test)]
mod tests {
    use app::error::ErrorCode;

    /// docs/scripts-api.md has a row, with its status, for every code the API answers, and none
    /// more: the page cannot go stale when a code is added or changed.
    #[test]
    fn the_scripts_api_page_lists_every_code() {
        let doc = include_str!("../../../docs/scripts-api.md");
        for code in ErrorCode::API {
            let row = format!("| `{}` | {} |", code.as_str(), code.http_status());
            assert!(doc.contains(&row), "docs/scripts-api.md lacks the row starting {row}");
        }
        let rows = doc.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(rows, ErrorCode::API.len(), "docs/scripts-api.md lists a code the API does not answer");
        assert!(doc.contains("/api/v1/openapi.json"));
    }
}
