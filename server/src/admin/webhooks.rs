//! The admin API's webhook routes (`/api/admin/v1/organisations/{org_id}/webhooks…`, the
//! operator's bearer token), over `crate::webhooks`: list and register endpoints (the secret is in
//! the answer to the registration only), rotate a secret, delete an endpoint, read its delivery
//! log, send it a test event. Every route names the organisation; an endpoint of another is not
//! found.

use super::{checked, json_body, Admin};
use crate::error::app_response as error;
use axum::extract::{FromRef, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Admin>: FromRef<S>,
{
    Router::new()
        .route("/api/admin/v1/organisations/{org_id}/webhooks", get(list).post(create))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}", delete(remove))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}/rotate", post(rotate))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}/deliveries", get(deliveries))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}/test", post(test))
}

#[derive(Deserialize)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    description: String,
}

async fn list(State(admin): State<Arc<Admin>>, Path(org_id): Path<i64>, headers: HeaderMap) -> Response {
    if let Err(r) = checked(&admin, &headers, org_id).await {
        return r;
    }
    match admin.webhooks.list(org_id).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(e.into()),
    }
}

async fn create(State(admin): State<Arc<Admin>>, Path(org_id): Path<i64>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let by = match checked(&admin, &parts.headers, org_id).await {
        Ok(by) => by,
        Err(r) => return r,
    };
    let form: NewEndpoint = match json_body(body, "The body must be JSON: {\"url\": \"https://…\"}.").await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match admin.webhooks.create(org_id, &by, &form.url, &form.description).await {
        Ok(created) => (StatusCode::CREATED, Json(created)).into_response(),
        Err(e) => error(e.into()),
    }
}

async fn rotate(State(admin): State<Arc<Admin>>, Path((org_id, id)): Path<(i64, i64)>, headers: HeaderMap) -> Response {
    let by = match checked(&admin, &headers, org_id).await {
        Ok(by) => by,
        Err(r) => return r,
    };
    match admin.webhooks.rotate(org_id, &by, id).await {
        Ok(rotated) => Json(rotated).into_response(),
        Err(e) => error(e.into()),
    }
}

async fn remove(State(admin): State<Arc<Admin>>, Path((org_id, id)): Path<(i64, i64)>, headers: HeaderMap) -> Response {
    let by = match checked(&admin, &headers, org_id).await {
        Ok(by) => by,
        Err(r) => return r,
    };
    match admin.webhooks.delete(org_id, &by, id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(e.into()),
    }
}

async fn deliveries(
    State(admin): State<Arc<Admin>>,
    Path((org_id, id)): Path<(i64, i64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = checked(&admin, &headers, org_id).await {
        return r;
    }
    match admin.webhooks.deliveries(org_id, Some(id)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(e.into()),
    }
}

async fn test(State(admin): State<Arc<Admin>>, Path((org_id, id)): Path<(i64, i64)>, headers: HeaderMap) -> Response {
    let by = match checked(&admin, &headers, org_id).await {
        Ok(by) => by,
        Err(r) => return r,
    };
    match admin.webhooks.send_test(org_id, &by, id).await {
        Ok(event_id) => (StatusCode::ACCEPTED, Json(serde_json::json!({ "event_id": event_id }))).into_response(),
        Err(e) => error(e.into()),
    }
}
