//! Grants: the credentials behind a connection (sealed as the vault left them), one per connection
//! or, for a login-user connection, one per person; the refresh lease that lets one instance at a
//! time refresh a grant; and the custody records (`crate::custody`, in `custody`): stamping the grants made
//! before Liaison kept them, and setting aside the grants of a service whose endpoints moved.

use crate::error::Result;
use crate::store::connections::scopes_json;
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use sqlx::Row;

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
    /// The fingerprint of the endpoints the grant was made under (`crate::custody`).
    pub custody: Option<String>,
}

const GRANT_COLUMNS: &str = "id, user_key, access_token, refresh_token, username, expires_at, granted_scopes, \
                             authorised_by_name, authorised_at, updated_at, version, lease_until, refresh_failures, \
                             retry_at, custody";

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
        custody: r.get("custody"),
    }
}

/// The grant for `user_key` (0: shared), if any.
pub async fn grant<'e>(db: impl Exec<'e>, connection_id: i64, user_key: i64) -> Result<Option<GrantRecord>> {
    let r = sql!(
        &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 AND user_key = $2"),
        connection_id,
        user_key
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(grant_record))
}

/// A grant by its id.
pub async fn grant_by_id<'e>(db: impl Exec<'e>, id: i64) -> Result<Option<GrantRecord>> {
    let r = sql!(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"), id).fetch_optional(db).await?;
    Ok(r.map(grant_record))
}

/// Every grant of a connection (for revoking them all).
pub async fn grants<'e>(db: impl Exec<'e>, connection_id: i64) -> Result<Vec<GrantRecord>> {
    let rows = sql!(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 ORDER BY id"), connection_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(grant_record).collect())
}

pub async fn user_grant_count<'e>(db: impl Exec<'e>, connection_id: i64) -> Result<i64> {
    Ok(sql_scalar!("SELECT COUNT(*) FROM grants WHERE connection_id = $1 AND user_key <> 0", connection_id)
        .fetch_one(db)
        .await?)
}

pub struct GrantMeta<'a> {
    pub username: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub granted_scopes: Option<&'a [String]>,
    pub authorised_by: Option<i64>,
    pub authorised_by_name: &'a str,
    /// The endpoints the grant is made under (`crate::custody::Custody`).
    pub custody: &'a str,
}

/// Creates or replaces the grant's non-secret fields (clearing its sealed ones); returns its id.
/// The caller then seals the secrets for that id, in the same transaction. One statement that
/// writes first: on SQLite a transaction that read before writing fails at once ("database is
/// locked") when another connection wrote in between, which a write-first one never does.
pub async fn upsert_grant(
    db: &mut sqlx::AnyConnection,
    connection_id: i64,
    user_key: i64,
    m: GrantMeta<'_>,
    now: i64,
) -> Result<i64> {
    let scopes = m.granted_scopes.map(scopes_json);
    Ok(sql_scalar!(
        "INSERT INTO grants (connection_id, user_key, username, expires_at, granted_scopes, authorised_by, \
         authorised_by_name, authorised_at, updated_at, custody) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
         ON CONFLICT (connection_id, user_key) DO UPDATE SET access_token = NULL, refresh_token = NULL, \
         username = excluded.username, expires_at = excluded.expires_at, granted_scopes = excluded.granted_scopes, \
         authorised_by = excluded.authorised_by, authorised_by_name = excluded.authorised_by_name, \
         authorised_at = excluded.authorised_at, updated_at = excluded.updated_at, version = grants.version + 1, \
         lease_owner = NULL, lease_until = NULL, refresh_failures = 0, retry_at = NULL, custody = excluded.custody \
         RETURNING id",
        connection_id,
        user_key,
        m.username,
        m.expires_at,
        scopes,
        m.authorised_by,
        m.authorised_by_name,
        now,
        m.custody
    )
    .fetch_one(db)
    .await?)
}

pub async fn delete_grant<'e>(db: impl Exec<'e>, id: i64) -> Result<()> {
    sql!("DELETE FROM grants WHERE id = $1", id).execute(db).await?;
    Ok(())
}

pub async fn delete_grants<'e>(db: impl Exec<'e>, connection_id: i64) -> Result<()> {
    sql!("DELETE FROM grants WHERE connection_id = $1", connection_id).execute(db).await?;
    Ok(())
}

/// Takes the refresh lease of a grant still at `version`, unless another holder's lease is still
/// running. One conditional UPDATE: on SQLite and PostgreSQL alike exactly one taker wins.
pub async fn take_lease<'e>(
    db: impl Exec<'e>,
    id: i64,
    version: i64,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    let take = "UPDATE grants SET lease_owner = $1, lease_until = $2 \
                WHERE id = $3 AND version = $4 AND (lease_until IS NULL OR lease_until < $5)";
    Ok(sql!(take, owner, until, id, version, now).execute(db).await?.rows_affected() == 1)
}

/// Gives the lease back (if still ours), recording a failed refresh when `retry_at` is set.
pub async fn release_lease<'e>(db: impl Exec<'e>, id: i64, owner: &str, retry_at: Option<i64>) -> Result<()> {
    let sql = "UPDATE grants SET lease_owner = NULL, lease_until = NULL, \
               refresh_failures = CASE WHEN $1 IS NULL THEN refresh_failures ELSE refresh_failures + 1 END, \
               retry_at = COALESCE($1, retry_at) WHERE id = $2 AND lease_owner = $3";
    sql!(sql, retry_at, id, owner).execute(db).await?;
    Ok(())
}

/// Gives the lease back (if still ours) after a refresh the provider refused for good: counted
/// as a failure of the streak (so it is told once, and its end too), with no time to retry at.
pub async fn release_refused<'e>(db: impl Exec<'e>, id: i64, owner: &str) -> Result<()> {
    let sql = "UPDATE grants SET lease_owner = NULL, lease_until = NULL, refresh_failures = refresh_failures + 1 \
               WHERE id = $1 AND lease_owner = $2";
    sql!(sql, id, owner).execute(db).await?;
    Ok(())
}

/// Stores refreshed tokens (already sealed for this row) and releases the lease, in the caller's
/// transaction; false when the lease was lost (it ran out and another instance took it).
pub async fn store_refreshed<'e>(
    db: impl Exec<'e>,
    id: i64,
    owner: &str,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    let store = "UPDATE grants SET access_token = $1, refresh_token = COALESCE($2, refresh_token), expires_at = $3, \
                 updated_at = $4, version = version + 1, lease_owner = NULL, lease_until = NULL, \
                 refresh_failures = 0, retry_at = NULL WHERE id = $5 AND lease_owner = $6";
    let r = sql!(store, access_token, refresh_token, expires_at, now, id, owner).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets every lease: at start-up of the embedded (single-instance) SQLite mode, a lease can
/// only be left over from a process that died.
pub async fn clear_leases<'e>(db: impl Exec<'e>) -> Result<u64> {
    let r = sqlx::query("UPDATE grants SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

mod custody;
pub use custody::*;

#[cfg(test)]
mod tests;
