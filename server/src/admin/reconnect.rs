//! The admin API's reconnect-link routes (`/api/admin/v1/organisations/{org_id}/reconnect-links…`,
//! the operator's bearer token), over `crate::reconnect`: create a link for a member and a
//! connection (its URL, with the token, is in this answer only), list the links (never a token),
//! revoke one. A link of another organisation is not found.

use super::{checked, json_body, Admin};
use crate::error::app_response as error;
use axum::extract::{FromRef, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Admin>: FromRef<S>,
{
    Router::new()
        .route("/api/admin/v1/organisations/{org_id}/reconnect-links", get(list).post(create))
        .route("/api/admin/v1/organisations/{org_id}/reconnect-links/{id}", delete(revoke))
}

#[derive(Deserialize)]
struct NewLink {
    link_name: String,
    user_id: i64,
    /// How long the link is valid, in minutes (default a day).
    minutes: Option<i64>,
}

async fn list(State(admin): State<Arc<Admin>>, Path(org_id): Path<i64>, headers: HeaderMap) -> Response {
    if let Err(r) = checked(&admin, &headers, org_id).await {
        return r;
    }
    match crate::reconnect::list(&admin.connections.infra, org_id).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(e.into()),
    }
}

/// The token is checked before the body is read (`json_body`: within a bound).
async fn create(State(admin): State<Arc<Admin>>, Path(org_id): Path<i64>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let by = match checked(&admin, &parts.headers, org_id).await {
        Ok(by) => by,
        Err(r) => return r,
    };
    let what = "The body must be JSON: {\"link_name\": \"…\", \"user_id\": 1, \"minutes\": 1440}.";
    let form: NewLink = match json_body(body, what).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let infra = &admin.connections.infra;
    match crate::reconnect::create(infra, org_id, &form.link_name, form.user_id, form.minutes, &by).await {
        Ok(created) => (StatusCode::CREATED, Json(created)).into_response(),
        Err(e) => error(e.into()),
    }
}

async fn revoke(State(admin): State<Arc<Admin>>, Path((org_id, id)): Path<(i64, i64)>, headers: HeaderMap) -> Response {
    let by = match checked(&admin, &headers, org_id).await {
        Ok(by) => by,
        Err(r) => return r,
    };
    match crate::reconnect::revoke(&admin.connections.infra, org_id, id, &by).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(e.into()),
    }
}
