//! The admin API's reconnect-link handlers (`/api/admin/v1/organisations/{org_id}/reconnect-links…`,
//! the operator's bearer token), over `crate::reconnect`: create a link for a member and a
//! connection (its URL, with the token, is in this answer only), list the links (never a token),
//! revoke one. A link of another organisation is not found.

use super::{answer, done, json_body, Admin, OrgAdmin};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
struct NewLink {
    link_name: String,
    user_id: i64,
    /// How long the link is valid, in minutes (default a day).
    minutes: Option<i64>,
}

pub(super) async fn list(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin) -> Response {
    answer(StatusCode::OK, crate::reconnect::list(&admin.connections.infra, by.org_id, None).await)
}

/// The token is checked before the body is read (`json_body`: within a bound).
pub(super) async fn create(State(admin): State<Arc<Admin>>, OrgAdmin(by): OrgAdmin, req: Request) -> Response {
    let what = "The body must be JSON: {\"link_name\": \"…\", \"user_id\": 1, \"minutes\": 1440}.";
    let form: NewLink = match json_body(req.into_body(), what).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let infra = &admin.connections.infra;
    let made = crate::reconnect::create(infra, by.org_id, &form.link_name, form.user_id, form.minutes, &by.label).await;
    answer(StatusCode::CREATED, made)
}

pub(super) async fn revoke(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, id)): Path<(i64, i64)>,
) -> Response {
    done(crate::reconnect::revoke(&admin.connections.infra, by.org_id, id, &by.label).await)
}
