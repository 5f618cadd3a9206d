//! The admin API (`/api/admin/v1/…`): built-in integrations create and remove *internal*
//! connections, read and set the metadata of any connection of an organisation
//! (`crate::metadata`), manage an organisation's webhook endpoints (`webhooks`) and its
//! reconnect links (`reconnect`), with the operator's admin token. Bearer-token only: cookies are never accepted
//! here, so the same-origin rule of the browser routes does not apply. Off unless `admin_token`
//! is configured.

mod reconnect;
mod webhooks;

use crate::actor::{link_from_path, Actor};
use crate::connections::Connections;
use crate::error::app_response as error;
use crate::store::connections as conns;
use crate::store::Store;
use app::connection::{ConnectionForm, ConnectionQuery};
use app::error::{AppError, ErrorCode};
use axum::extract::{FromRef, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use std::sync::Arc;

/// What the admin API uses: the operator's token (its SHA-256), and the connections.
pub struct Admin {
    pub token_hash: Option<String>,
    pub store: Store,
    pub connections: Arc<Connections>,
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Admin>: FromRef<S>,
{
    Router::new()
        .route("/api/admin/v1/organisations/{org_id}/connections", get(list).post(create))
        .route("/api/admin/v1/organisations/{org_id}/connections/{link_name}", delete(remove))
        .merge(webhooks::routes())
        .merge(reconnect::routes())
        .route("/api/admin/v1/organisations/{org_id}/connections/{link_name}/metadata", get(get_meta).put(put_meta))
}

/// Checks the bearer token; the answer does not tell a wrong token from a disabled API.
#[allow(clippy::result_large_err)]
fn authorise(admin: &Admin, headers: &HeaderMap) -> Result<(), Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| crate::auth::session::token_hash(t.trim()));
    match (&admin.token_hash, presented) {
        (Some(expected), Some(given)) if constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(()),
        _ => Err(error(AppError::new(
            ErrorCode::Unauthenticated,
            "The admin API needs `Authorization: Bearer <admin_token>` with the token from Liaison's configuration.",
        ))),
    }
}

/// The most a connection form or a webhook endpoint sent to the admin API may weigh.
const BODY_BYTES: usize = 256 * 1024;

/// A request's body, read once its token is checked: at most `limit` bytes (one more is read, so
/// a body just past the limit is told apart), else a validation answer saying `too_large`.
#[allow(clippy::result_large_err)]
async fn read_body(body: axum::body::Body, limit: usize, too_large: String) -> Result<bytes::Bytes, Response> {
    match axum::body::to_bytes(body, limit + 1).await {
        Ok(b) if b.len() <= limit => Ok(b),
        _ => Err(error(AppError::new(ErrorCode::Validation, too_large))),
    }
}

/// A JSON body of at most [`BODY_BYTES`], read once the token is checked; `what` says what it
/// must be.
#[allow(clippy::result_large_err)]
async fn json_body<T: serde::de::DeserializeOwned>(body: axum::body::Body, what: &str) -> Result<T, Response> {
    let raw = read_body(body, BODY_BYTES, format!("The body may be at most {BODY_BYTES} bytes.")).await?;
    serde_json::from_slice(&raw).map_err(|_| error(AppError::new(ErrorCode::Validation, what.to_string())))
}

/// The token checked, then the organisation: who acts, as the audit log names them.
#[allow(clippy::result_large_err)]
async fn checked(admin: &Admin, headers: &HeaderMap, org_id: i64) -> Result<String, Response> {
    authorise(admin, headers)?;
    Ok(actor(admin, org_id).await?.label)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[allow(clippy::result_large_err)]
async fn actor(admin: &Admin, org_id: i64) -> Result<Actor, Response> {
    match crate::store::orgs::exists(&admin.store.pool, org_id).await {
        Ok(true) => Ok(Actor { org_id, user_id: None, label: "admin API".into() }),
        Ok(false) => Err(error(AppError::new(ErrorCode::NotFound, "There is no organisation with that id."))),
        Err(e) => Err(error(e.into())),
    }
}

async fn create(State(admin): State<Arc<Admin>>, Path(org_id): Path<i64>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(r) = authorise(&admin, &parts.headers) {
        return r;
    }
    let form: ConnectionForm = match json_body(body, "The body must be a JSON connection form.").await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let actor = match actor(&admin, org_id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match admin.connections.create_connection(&actor, &form, true, None).await {
        Ok((link_name, next)) => {
            (StatusCode::CREATED, Json(serde_json::json!({ "link_name": link_name, "next": next }))).into_response()
        }
        Err(e) => error(e.into()),
    }
}

async fn list(State(admin): State<Arc<Admin>>, Path(org_id): Path<i64>, headers: HeaderMap) -> Response {
    if let Err(r) = authorise(&admin, &headers) {
        return r;
    }
    if let Err(r) = actor(&admin, org_id).await {
        return r;
    }
    let q = ConnectionQuery { internal: true, ..Default::default() };
    match conns::page(&admin.store, org_id, &q, 1000).await {
        Ok((rows, _)) => Json(
            rows.iter()
                .map(|c| serde_json::json!({ "link_name": c.link_name, "name": c.name, "status": c.status, "service": c.service }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => error(e.into()),
    }
}

/// The connection of that link name in the organisation, any kind.
#[allow(clippy::result_large_err)]
async fn named(admin: &Admin, org_id: i64, link: &str) -> Result<conns::ConnectionRecord, Response> {
    let found = match link_from_path(link) {
        Ok(l) => conns::by_link(&admin.store.pool, org_id, l.as_str()).await,
        Err(e) => return Err(error(e.into())),
    };
    match found {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(error(AppError::new(ErrorCode::NotFound, "There is no connection with that link name."))),
        Err(e) => Err(error(e.into())),
    }
}

async fn get_meta(
    State(admin): State<Arc<Admin>>,
    Path((org_id, link)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Response {
    let c = match authorise(&admin, &headers) {
        Ok(()) => named(&admin, org_id, &link).await,
        Err(r) => return r,
    };
    match c {
        Ok(c) => match crate::metadata::read(&admin.connections.infra, &c).await {
            Ok(v) => ([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
            Err(e) => error(e.into()),
        },
        Err(r) => r,
    }
}

async fn put_meta(
    State(admin): State<Arc<Admin>>,
    Path((org_id, link)): Path<(i64, String)>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(r) = authorise(&admin, &parts.headers) {
        return r;
    }
    let max = crate::metadata::MAX_BYTES;
    let body = match read_body(body, max, format!("The metadata may be at most {max} bytes.")).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match named(&admin, org_id, &link).await {
        Ok(c) => match crate::metadata::write(&admin.connections.infra, &c, &body, "admin API").await {
            Ok(v) => ([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
            Err(e) => error(e.into()),
        },
        Err(r) => r,
    }
}

async fn remove(
    State(admin): State<Arc<Admin>>,
    Path((org_id, link)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorise(&admin, &headers) {
        return r;
    }
    let actor = match actor(&admin, org_id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let found = match link_from_path(&link) {
        Ok(l) => conns::by_link(&admin.store.pool, org_id, l.as_str()).await,
        Err(e) => return error(e.into()),
    };
    match found {
        Ok(Some(c)) if c.internal => match admin.connections.delete_connection(&actor, &c).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => error(e.into()),
        },
        Ok(_) => error(AppError::new(ErrorCode::NotFound, "There is no internal connection with that link name.")),
        Err(e) => error(e.into()),
    }
}
