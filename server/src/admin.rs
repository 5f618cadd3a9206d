//! The admin API (`/api/admin/v1/…`, every route listed in `routes`): built-in integrations
//! create and remove *internal* connections, read and set the metadata of any connection of an
//! organisation (`crate::metadata`), manage an organisation's webhook endpoints (`webhooks`) and
//! its reconnect links (`reconnect`), with the operator's admin token. Bearer-token only: cookies
//! are never accepted here, so the same-origin rule of the browser routes does not apply. Off
//! unless `admin_token` is configured.

mod reconnect;
mod webhooks;

use crate::actor::{link_from_path, Actor};
use crate::connections::Connections;
use crate::error::app_response as error;
use crate::store::connections as conns;
use crate::store::Store;
use app::connection::{ConnectionForm, ConnectionQuery};
use app::error::{AppError, ErrorCode};
use axum::extract::{FromRef, FromRequestParts, Path, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
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
        .route("/api/admin/v1/organisations/{org_id}/connections/{link_name}/metadata", get(get_meta).put(put_meta))
        .route("/api/admin/v1/organisations/{org_id}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}", delete(webhooks::remove))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}/rotate", post(webhooks::rotate))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/api/admin/v1/organisations/{org_id}/webhooks/{id}/test", post(webhooks::test))
        .route("/api/admin/v1/organisations/{org_id}/reconnect-links", get(reconnect::list).post(reconnect::create))
        .route("/api/admin/v1/organisations/{org_id}/reconnect-links/{id}", delete(reconnect::revoke))
}

/// Checks the operator's bearer token (the answer does not tell a wrong token from a disabled
/// API).
#[allow(clippy::result_large_err)]
fn operator(admin: &Admin, headers: &HeaderMap) -> Result<(), Response> {
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

/// The operator (their bearer token checked) acting on the organisation `{org_id}` of the path,
/// which exists: who acts, as the audit log names them. An extractor of the request's head, so
/// every handler checks both before it reads a body.
pub struct OrgAdmin(pub Actor);

impl<S> FromRequestParts<S> for OrgAdmin
where
    S: Send + Sync,
    Arc<Admin>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let admin = Arc::<Admin>::from_ref(state);
        operator(&admin, &parts.headers)?;
        let no_org = || error(AppError::new(ErrorCode::NotFound, "There is no organisation with that id."));
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| no_org())?;
        let org_id = params.iter().find(|(k, _)| *k == "org_id").and_then(|(_, v)| v.parse::<i64>().ok());
        let org_id = org_id.ok_or_else(no_org)?;
        match crate::store::orgs::exists(&admin.store.pool, org_id).await {
            Ok(true) => Ok(OrgAdmin(Actor { org_id, user_id: None, label: "admin API".into() })),
            Ok(false) => Err(no_org()),
            Err(e) => Err(error(e.into())),
        }
    }
}

/// The answer to a call: `status` with the value as JSON, or the error.
fn answer<T: serde::Serialize>(status: StatusCode, r: crate::error::Result<T>) -> Response {
    match r {
        Ok(v) => (status, Json(v)).into_response(),
        Err(e) => error(e.into()),
    }
}

/// The answer to a call that returns nothing: 204, or the error.
fn done(r: crate::error::Result<()>) -> Response {
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(e.into()),
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn create(State(admin): State<Arc<Admin>>, OrgAdmin(actor): OrgAdmin, req: Request) -> Response {
    let form: ConnectionForm = match json_body(req.into_body(), "The body must be a JSON connection form.").await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let created = admin.connections.create_connection(&actor, &form, true, None).await;
    answer(
        StatusCode::CREATED,
        created.map(|(link_name, next)| serde_json::json!({ "link_name": link_name, "next": next })),
    )
}

async fn list(State(admin): State<Arc<Admin>>, OrgAdmin(actor): OrgAdmin) -> Response {
    let q = ConnectionQuery { internal: true, ..Default::default() };
    let rows = conns::page(&admin.store, actor.org_id, &q, 1000).await.map(|(rows, _)| {
        rows.iter()
            .map(|c| serde_json::json!({ "link_name": c.link_name, "name": c.name, "status": c.status, "service": c.service }))
            .collect::<Vec<_>>()
    });
    answer(StatusCode::OK, rows)
}

/// The connection of that link name in the organisation, any kind.
async fn named(admin: &Admin, org_id: i64, link: &str) -> crate::error::Result<conns::ConnectionRecord> {
    let l = link_from_path(link)?;
    match conns::by_link(&admin.store.pool, org_id, l.as_str()).await? {
        Some(c) => Ok(c),
        None => Err(AppError::new(ErrorCode::NotFound, "There is no connection with that link name.").into()),
    }
}

/// Metadata is no place for a secret, but it is not for caches either.
fn no_store(r: Response) -> Response {
    let mut r = r;
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

async fn get_meta(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, link)): Path<(i64, String)>,
) -> Response {
    let read = async { crate::metadata::read(&admin.connections.infra, &named(&admin, by.org_id, &link).await?).await };
    no_store(answer(StatusCode::OK, read.await))
}

async fn put_meta(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(by): OrgAdmin,
    Path((_, link)): Path<(i64, String)>,
    req: Request,
) -> Response {
    let max = crate::metadata::MAX_BYTES;
    let body = match read_body(req.into_body(), max, format!("The metadata may be at most {max} bytes.")).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let write = async {
        crate::metadata::write(&admin.connections.infra, &named(&admin, by.org_id, &link).await?, &body, "admin API")
            .await
    };
    no_store(answer(StatusCode::OK, write.await))
}

async fn remove(
    State(admin): State<Arc<Admin>>,
    OrgAdmin(actor): OrgAdmin,
    Path((_, link)): Path<(i64, String)>,
) -> Response {
    let removed = async {
        match named(&admin, actor.org_id, &link).await {
            Ok(c) if c.internal => admin.connections.delete_connection(&actor, &c).await,
            Ok(_) | Err(crate::error::Error::App(AppError { code: ErrorCode::NotFound, .. })) => {
                Err(AppError::new(ErrorCode::NotFound, "There is no internal connection with that link name.").into())
            }
            Err(e) => Err(e),
        }
    };
    done(removed.await)
}
