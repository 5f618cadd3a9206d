//! The admin API's webhook handlers (`/api/admin/v1/organisations/{org_id}/webhooks…`, the
//! operator's bearer token), over `crate::webhooks`: list and register endpoints (the secret is in
//! the answer to the registration only), rotate a secret, delete an endpoint, read its delivery
//! log, send it a test event. Every route names the organisation; an endpoint of another is not
//! found.

use super::{answer, done, json_body, Admin, OrgAdmin};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    description: String,
}

pub(super) async fn list(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin) -> Response {
    answer(StatusCode::OK, admin.webhooks.list(by.org_id).await)
}

pub(super) async fn create(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin, req: Request) -> Response {
    let form: NewEndpoint = match json_body(req.into_body(), "The body must be JSON: {\"url\": \"https://…\"}.").await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    answer(StatusCode::CREATED, admin.webhooks.create(by.org_id, &by.label, &form.url, &form.description).await)
}

pub(super) async fn rotate(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, id)): Path<(i64, i64)>,
) -> Response {
    answer(StatusCode::OK, admin.webhooks.rotate(by.org_id, &by.label, id).await)
}

pub(super) async fn remove(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, id)): Path<(i64, i64)>,
) -> Response {
    done(admin.webhooks.delete(by.org_id, &by.label, id).await)
}

pub(super) async fn deliveries(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, id)): Path<(i64, i64)>,
) -> Response {
    answer(StatusCode::OK, admin.webhooks.deliveries(by.org_id, Some(id)).await)
}

pub(super) async fn test(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, id)): Path<(i64, i64)>,
) -> Response {
    let sent = admin.webhooks.send_test(by.org_id, &by.label, id).await;
    answer(StatusCode::ACCEPTED, sent.map(|event_id| serde_json::json!({ "event_id": event_id })))
}
