//! Connections: an organisation's named uses of a service, and their grants (the credentials).
//! Every query names the organisation.

use crate::error::{is_unique_violation, Error, Result};
use app::connection::{ConnectionQuery, ConnectionStatus, ServiceRef};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    pub id: i64,
    pub org_id: i64,
    pub link_name: String,
    pub name: String,
    pub service: ServiceRef,
    pub service_name: String,
    pub scopes: Vec<String>,
    pub per_user: bool,
    pub internal: bool,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    pub client_id: Option<String>,
    /// Sealed.
    pub client_secret: Option<String>,
    pub created_by: Option<i64>,
    pub created_by_name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct NewConnection<'a> {
    pub org_id: i64,
    pub link_name: &'a str,
    pub name: &'a str,
    pub service: &'a ServiceRef,
    pub service_name: &'a str,
    pub scopes: &'a [String],
    pub per_user: bool,
    pub internal: bool,
    pub client_id: Option<&'a str>,
    pub created_by: Option<i64>,
    pub created_by_name: &'a str,
}

const COLUMNS: &str = "id, org_id, link_name, name, service_id, catalog_id, service_name, scopes, per_user, internal, \
                       status, status_reason, client_id, client_secret, created_by, created_by_name, created_at, last_used_at";

pub fn scopes_json(scopes: &[String]) -> String {
    serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into())
}

pub async fn create<'e>(db: impl Executor<'e, Database = Any>, c: NewConnection<'_>, now: i64) -> Result<i64> {
    let (service_id, catalog_id) = match c.service {
        ServiceRef::Custom(id) => (Some(*id), None),
        ServiceRef::Predefined(id) => (None, Some(id.as_str())),
    };
    sqlx::query_scalar(
        "INSERT INTO connections (org_id, link_name, name, service_id, catalog_id, service_name, scopes, per_user, \
         internal, status, client_id, created_by, created_by_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'not_connected', $10, $11, $12, $13, $13) RETURNING id",
    )
    .bind(c.org_id)
    .bind(c.link_name)
    .bind(c.name)
    .bind(service_id)
    .bind(catalog_id)
    .bind(c.service_name)
    .bind(scopes_json(c.scopes))
    .bind(i64::from(c.per_user))
    .bind(i64::from(c.internal))
    .bind(c.client_id)
    .bind(c.created_by)
    .bind(c.created_by_name)
    .bind(now)
    .fetch_one(db)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::Field {
                field: "link_name",
                message: "Another connection already uses this link name. Link names are unique in your organisation."
                    .into(),
            }
        } else {
            e.into()
        }
    })
}

fn record(r: sqlx::any::AnyRow) -> Result<ConnectionRecord> {
    let service = match (r.get::<Option<i64>, _>("service_id"), r.get::<Option<String>, _>("catalog_id")) {
        (Some(id), _) => ServiceRef::Custom(id),
        (None, Some(id)) => ServiceRef::Predefined(id),
        (None, None) => return Err(Error::Invalid("a connection without a service".into())),
    };
    let status: String = r.get("status");
    let scopes: String = r.get("scopes");
    Ok(ConnectionRecord {
        id: r.get("id"),
        org_id: r.get("org_id"),
        link_name: r.get("link_name"),
        name: r.get("name"),
        service,
        service_name: r.get("service_name"),
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        per_user: r.get::<i64, _>("per_user") == 1,
        internal: r.get::<i64, _>("internal") == 1,
        status: ConnectionStatus::parse(&status)
            .ok_or_else(|| Error::Invalid(format!("unknown connection status {status:?}")))?,
        status_reason: r.get("status_reason"),
        client_id: r.get("client_id"),
        client_secret: r.get("client_secret"),
        created_by: r.get("created_by"),
        created_by_name: r.get("created_by_name"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
    })
}

pub async fn by_link<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: i64,
    link_name: &str,
) -> Result<Option<ConnectionRecord>> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND link_name = $2"))
        .bind(org_id)
        .bind(link_name)
        .fetch_optional(db)
        .await?;
    r.map(record).transpose()
}

pub async fn by_id<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: i64,
    id: i64,
) -> Result<Option<ConnectionRecord>> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
    r.map(record).transpose()
}

/// One page of the list, newest first, and the total that matches.
pub async fn page<'e, E>(db: E, org_id: i64, q: &ConnectionQuery, per_page: i64) -> Result<(Vec<ConnectionRecord>, i64)>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let search = q.search.trim().to_lowercase();
    let pattern = format!("%{}%", search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let filter = "org_id = $1 AND internal = $2 AND ($3 = '' OR LOWER(name) LIKE $4 ESCAPE '\\' \
                  OR link_name LIKE $4 ESCAPE '\\' OR LOWER(service_name) LIKE $4 ESCAPE '\\') AND ($5 = '' OR status = $5)";
    let status = q.status.map(|s| s.as_str()).unwrap_or("");
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM connections WHERE {filter}"))
        .bind(org_id)
        .bind(i64::from(q.internal))
        .bind(&search)
        .bind(&pattern)
        .bind(status)
        .fetch_one(db)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM connections WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"
    ))
    .bind(org_id)
    .bind(i64::from(q.internal))
    .bind(&search)
    .bind(&pattern)
    .bind(status)
    .bind(per_page)
    .bind(i64::from(q.page) * per_page)
    .fetch_all(db)
    .await?;
    Ok((rows.into_iter().map(record).collect::<Result<_>>()?, total))
}

pub async fn set_status<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    status: ConnectionStatus,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE connections SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4")
        .bind(status.as_str())
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn update_details<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    name: &str,
    scopes: &[String],
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE connections SET name = $1, scopes = $2, updated_at = $3 WHERE id = $4")
        .bind(name)
        .bind(scopes_json(scopes))
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete<'e>(db: impl Executor<'e, Database = Any>, org_id: i64, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM connections WHERE org_id = $1 AND id = $2").bind(org_id).bind(id).execute(db).await?;
    Ok(())
}

/// The credentials behind a connection (sealed values as stored).
#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub id: i64,
    pub user_key: i64,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub username: Option<String>,
    pub expires_at: Option<i64>,
    pub granted_scopes: Option<Vec<String>>,
    pub authorised_by_name: String,
    pub authorised_at: i64,
    /// When the current tokens were stored (local time of receipt).
    pub updated_at: i64,
    /// Grows with every new token set.
    pub version: i64,
    pub lease_until: Option<i64>,
    pub refresh_failures: i64,
    pub retry_at: Option<i64>,
}

const GRANT_COLUMNS: &str = "id, user_key, access_token, refresh_token, username, expires_at, granted_scopes, \
                             authorised_by_name, authorised_at, updated_at, version, lease_until, refresh_failures, \
                             retry_at";

fn grant_record(r: sqlx::any::AnyRow) -> GrantRecord {
    let scopes: Option<String> = r.get("granted_scopes");
    GrantRecord {
        id: r.get("id"),
        user_key: r.get("user_key"),
        access_token: r.get("access_token"),
        refresh_token: r.get("refresh_token"),
        username: r.get("username"),
        expires_at: r.get("expires_at"),
        granted_scopes: scopes.and_then(|s| serde_json::from_str(&s).ok()),
        authorised_by_name: r.get("authorised_by_name"),
        authorised_at: r.get("authorised_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
        lease_until: r.get("lease_until"),
        refresh_failures: r.get("refresh_failures"),
        retry_at: r.get("retry_at"),
    }
}

/// The grant for `user_key` (0: shared), if any.
pub async fn grant<'e>(
    db: impl Executor<'e, Database = Any>,
    connection_id: i64,
    user_key: i64,
) -> Result<Option<GrantRecord>> {
    let r = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 AND user_key = $2"))
        .bind(connection_id)
        .bind(user_key)
        .fetch_optional(db)
        .await?;
    Ok(r.map(grant_record))
}

/// A grant by its id.
pub async fn grant_by_id<'e>(db: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<GrantRecord>> {
    let r =
        sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1")).bind(id).fetch_optional(db).await?;
    Ok(r.map(grant_record))
}

/// Every grant of a connection (for revoking them all).
pub async fn grants<'e>(db: impl Executor<'e, Database = Any>, connection_id: i64) -> Result<Vec<GrantRecord>> {
    let rows = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 ORDER BY id"))
        .bind(connection_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(grant_record).collect())
}

pub async fn user_grant_count<'e>(db: impl Executor<'e, Database = Any>, connection_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE connection_id = $1 AND user_key <> 0")
        .bind(connection_id)
        .fetch_one(db)
        .await?)
}

pub struct GrantMeta<'a> {
    pub username: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub granted_scopes: Option<&'a [String]>,
    pub authorised_by: Option<i64>,
    pub authorised_by_name: &'a str,
}

/// Creates or replaces the grant's non-secret fields (clearing its sealed ones); returns its id.
/// The caller then seals the secrets for that id, in the same transaction.
pub async fn upsert_grant(
    db: &mut sqlx::AnyConnection,
    connection_id: i64,
    user_key: i64,
    m: GrantMeta<'_>,
    now: i64,
) -> Result<i64> {
    let scopes = m.granted_scopes.map(scopes_json);
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM grants WHERE connection_id = $1 AND user_key = $2")
        .bind(connection_id)
        .bind(user_key)
        .fetch_optional(&mut *db)
        .await?;
    if let Some(id) = existing {
        sqlx::query(
            "UPDATE grants SET access_token = NULL, refresh_token = NULL, username = $1, expires_at = $2, \
             granted_scopes = $3, authorised_by = $4, authorised_by_name = $5, authorised_at = $6, updated_at = $6, \
             version = version + 1, lease_owner = NULL, lease_until = NULL, refresh_failures = 0, retry_at = NULL \
             WHERE id = $7",
        )
        .bind(m.username)
        .bind(m.expires_at)
        .bind(scopes)
        .bind(m.authorised_by)
        .bind(m.authorised_by_name)
        .bind(now)
        .bind(id)
        .execute(&mut *db)
        .await?;
        return Ok(id);
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO grants (connection_id, user_key, username, expires_at, granted_scopes, authorised_by, \
         authorised_by_name, authorised_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(connection_id)
    .bind(user_key)
    .bind(m.username)
    .bind(m.expires_at)
    .bind(scopes)
    .bind(m.authorised_by)
    .bind(m.authorised_by_name)
    .bind(now)
    .fetch_one(db)
    .await?)
}

pub async fn delete_grant<'e>(db: impl Executor<'e, Database = Any>, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM grants WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

pub async fn delete_grants<'e>(db: impl Executor<'e, Database = Any>, connection_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM grants WHERE connection_id = $1").bind(connection_id).execute(db).await?;
    Ok(())
}

/// Takes the refresh lease of a grant still at `version`, unless another holder's lease is still
/// running. One conditional UPDATE: on SQLite and PostgreSQL alike exactly one taker wins.
pub async fn take_lease<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    version: i64,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE grants SET lease_owner = $1, lease_until = $2 \
         WHERE id = $3 AND version = $4 AND (lease_until IS NULL OR lease_until < $5)",
    )
    .bind(owner)
    .bind(until)
    .bind(id)
    .bind(version)
    .bind(now)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives the lease back (if still ours), recording a failed refresh when `retry_at` is set.
pub async fn release_lease<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    owner: &str,
    retry_at: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "UPDATE grants SET lease_owner = NULL, lease_until = NULL, \
         refresh_failures = CASE WHEN $1 IS NULL THEN refresh_failures ELSE refresh_failures + 1 END, \
         retry_at = COALESCE($1, retry_at) WHERE id = $2 AND lease_owner = $3",
    )
    .bind(retry_at)
    .bind(id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(())
}

/// Stores refreshed tokens (already sealed for this row) and releases the lease, in the caller's
/// transaction; false when the lease was lost (it ran out and another instance took it).
pub async fn store_refreshed<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    owner: &str,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE grants SET access_token = $1, refresh_token = COALESCE($2, refresh_token), expires_at = $3, \
         updated_at = $4, version = version + 1, lease_owner = NULL, lease_until = NULL, refresh_failures = 0, \
         retry_at = NULL WHERE id = $5 AND lease_owner = $6",
    )
    .bind(access_token)
    .bind(refresh_token)
    .bind(expires_at)
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets every lease: at start-up of the embedded (single-instance) SQLite mode, a lease can
/// only be left over from a process that died.
pub async fn clear_leases<'e>(db: impl Executor<'e, Database = Any>) -> Result<u64> {
    let r = sqlx::query("UPDATE grants SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// Marks a connection used (for the list's "last used" column).
pub async fn touch<'e>(db: impl Executor<'e, Database = Any>, id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE connections SET last_used_at = $1 WHERE id = $2").bind(now).bind(id).execute(db).await?;
    Ok(())
}
