//! The admin API's webhook routes (`/api/admin/v1/organisations/{org_id}/webhooks…`, the
//! operator's bearer token), over `crate::webhooks`: list and register endpoints (the secret is in
//! the answer to the registration only), rotate a secret, delete an endpoint, read its delivery
//! log, send it a test event. Every route names the organisation; an endpoint of another is not
//! found.

use super::{answer, done, json_body, Admin, OrgAdmin};
use axum::extract::{FromRef, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
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

async fn list(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin) -> Response {
    answer(StatusCode::OK, admin.webhooks.list(by.org_id).await)
}

async fn create(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin, req: Request) -> Response {
    let form: NewEndpoint = match json_body(req.into_body(), "The body must be JSON: {\"url\": \"https://…\"}.").await
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    answer(StatusCode::CREATED, admin.webhooks.create(by.org_id, &by.label, &form.url, &form.description).await)
}

async fn rotate(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin, Path((_, id)): Path<(i64, i64)>) -> Response {
    answer(StatusCode::OK, admin.webhooks.rotate(by.org_id, &by.label, id).await)
}

async fn remove(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin, Path((_, id)): Path<(i64, i64)>) -> Response {
    done(admin.webhooks.delete(by.org_id, &by.label, id).await)
}

async fn deliveries(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, id)): Path<(i64, i64)>,
) -> Response {
    answer(StatusCode::OK, admin.webhooks.deliveries(by.org_id, Some(id)).await)
}

async fn test(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin, Path((_, id)): Path<(i64, i64)>) -> Response {
    let sent = admin.webhooks.send_test(by.org_id, &by.label, id).await;
    answer(StatusCode::ACCEPTED, sent.map(|event_id| serde_json::json!({ "event_id": event_id })))
}
