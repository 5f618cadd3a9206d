//! `GET` and `PUT /api/v1/connections/{link_name}/metadata`: a connection's metadata
//! ([`crate::metadata`]) for scripts. Any API token of the organisation may read it (every such
//! token may call the connection); only the token of a person who may manage the connection (an
//! admin, or its creator) may replace it. An integration's internal connection is set through the
//! admin API only.

use crate::actor::{can_manage, link_from_path};
use crate::error::ApiError;
use crate::invoke::Api;
use crate::metadata;
use app::error::ErrorCode;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// `GET` reads, `PUT` replaces (the body is the whole new object).
pub async fn handle(State(api): State<Arc<Api>>, Path(link): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        let caller = api.tokens.authenticate(&parts.headers).await?;
        let not_found = || {
            ApiError::new(
                ErrorCode::ConnectionNotFound,
                format!("There is no connection \"{link}\" in your organisation. Check the link name on the Connections page."),
            )
        };
        let name = link_from_path(&link).map_err(|_| not_found())?;
        let c = crate::store::connections::by_link(&api.infra.store.pool, caller.viewer.org_id, name.as_str())
            .await?
            .ok_or_else(not_found)?;
        if parts.method == Method::GET {
            return Ok(metadata::read(&api.infra, &c).await?);
        }
        if !can_manage(&caller.viewer, &c) {
            let who = if c.internal {
                "This connection belongs to an integration: its metadata is set with the admin API."
            } else {
                "Only admins and the person who created this connection can set its metadata."
            };
            return Err(ApiError::new(ErrorCode::Forbidden, who));
        }
        let raw = read_limited(body).await?;
        Ok(metadata::write(&api.infra, &c, &raw, &caller.label).await?)
    }
    .await;
    let mut resp = match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => return e.into_response(),
    };
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The body, refused as too large past the metadata's own limit (before it is all read).
async fn read_limited(body: Body) -> Result<bytes::Bytes, ApiError> {
    // One byte more than allowed is read, so the check names the real size class.
    axum::body::to_bytes(body, metadata::MAX_BYTES + 1).await.map_err(|_| {
        ApiError::new(ErrorCode::InvalidRequest, format!("The metadata may be at most {} bytes.", metadata::MAX_BYTES))
    })
}
