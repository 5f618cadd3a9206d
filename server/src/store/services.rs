//! Custom services: an organisation's own service definitions. The non-secret fields are one JSON
//! document (`spec`); the client secret is sealed by the vault.

use crate::error::{is_unique_violation, Error, Result};
use app::service::ServiceSpec;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub id: i64,
    pub org_id: i64,
    pub spec: ServiceSpec,
    pub client_id: Option<String>,
    /// The last segment of its redirect URL, `/oauth/callback/{key}` (`crate::services::callback`).
    pub callback_key: String,
    /// Sealed.
    pub client_secret: Option<String>,
}

/// The message a taken callback key gets, on the form's field of that name.
pub const KEY_TAKEN: &str = "This redirect URL already belongs to another service. Reload the form for a new one.";

fn name_taken(e: sqlx::Error) -> Error {
    let on_key = matches!(&e, sqlx::Error::Database(d) if d.message().contains("callback_key")
        || d.constraint().is_some_and(|c| c.contains("callback_key")));
    if is_unique_violation(&e) && on_key {
        Error::Field { field: "callback_key", message: KEY_TAKEN.into() }
    } else if is_unique_violation(&e) {
        Error::Field { field: "name", message: "Your organisation already has a service with this name.".into() }
    } else {
        e.into()
    }
}

fn spec_json(spec: &ServiceSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| Error::Invalid(format!("cannot encode a service: {e}")))
}

pub async fn create<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: i64,
    spec: &ServiceSpec,
    client_id: Option<&str>,
    callback_key: &str,
    created_by: i64,
    now: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO services (org_id, name, name_key, spec, client_id, callback_key, created_by, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(org_id)
    .bind(&spec.name)
    .bind(spec.name.to_lowercase())
    .bind(spec_json(spec)?)
    .bind(client_id)
    .bind(callback_key)
    .bind(created_by)
    .bind(now)
    .fetch_one(db)
    .await
    .map_err(name_taken)
}

pub async fn update<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: i64,
    id: i64,
    spec: &ServiceSpec,
    client_id: Option<&str>,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE services SET name = $1, name_key = $2, spec = $3, client_id = $4, updated_at = $5 \
         WHERE org_id = $6 AND id = $7",
    )
    .bind(&spec.name)
    .bind(spec.name.to_lowercase())
    .bind(spec_json(spec)?)
    .bind(client_id)
    .bind(now)
    .bind(org_id)
    .bind(id)
    .execute(db)
    .await
    .map_err(name_taken)?;
    Ok(done.rows_affected() == 1)
}

fn row(r: sqlx::any::AnyRow) -> Result<ServiceRow> {
    let spec: String = r.get("spec");
    let id: i64 = r.get("id");
    // Every row has its key (migration 0011 gave the older ones theirs); one written by hand
    // without it has the key the migration would have given it.
    let callback_key: Option<String> = r.get("callback_key");
    Ok(ServiceRow {
        id,
        org_id: r.get("org_id"),
        spec: serde_json::from_str(&spec)
            .map_err(|e| Error::Invalid(format!("a stored service is unreadable: {e}")))?,
        client_id: r.get("client_id"),
        callback_key: callback_key.unwrap_or_else(|| format!("c-{id}")),
        client_secret: r.get("client_secret"),
    })
}

pub async fn get<'e>(db: impl Executor<'e, Database = Any>, org_id: i64, id: i64) -> Result<Option<ServiceRow>> {
    let r = sqlx::query(
        "SELECT id, org_id, spec, client_id, callback_key, client_secret FROM services WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(db)
    .await?;
    r.map(row).transpose()
}

pub async fn list<'e>(db: impl Executor<'e, Database = Any>, org_id: i64) -> Result<Vec<ServiceRow>> {
    let rows = sqlx::query(
        "SELECT id, org_id, spec, client_id, callback_key, client_secret FROM services WHERE org_id = $1 ORDER BY name_key",
    )
    .bind(org_id)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(row).collect()
}

/// Deletes a service no connection uses; `Err(InUse)` otherwise.
pub async fn delete<'e>(db: impl Executor<'e, Database = Any>, org_id: i64, id: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM services WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(db)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => Error::InUse,
            _ => e.into(),
        })?;
    Ok(done.rows_affected() == 1)
}

pub async fn connection_count<'e>(db: impl Executor<'e, Database = Any>, org_id: i64, id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM connections WHERE org_id = $1 AND service_id = $2")
        .bind(org_id)
        .bind(id)
        .fetch_one(db)
        .await?)
}

/// Whether any service, of any organisation, has this callback key.
pub async fn key_taken<'e>(db: impl Executor<'e, Database = Any>, key: &str) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM services WHERE callback_key = $1").bind(key).fetch_one(db).await?;
    Ok(n > 0)
}

/// The names of the service's connections that hold or held an authorisation (what an edit that
/// moves its endpoints sends back to Needs re-authorisation: `grants::set_aside_for_service`).
pub async fn authorised_connections<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: i64,
    id: i64,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM connections WHERE org_id = $1 AND service_id = $2 \
         AND status IN ('connected', 'error', 'needs_reauth') ORDER BY name",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(db)
    .await?)
}
