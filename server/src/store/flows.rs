//! Authorisation flows in progress: one row per popup, single use, bound to the browser session
//! that started it and expiring after ten minutes. The state itself is never stored, only its
//! SHA-256; the PKCE verifier is sealed.

use crate::error::Result;
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use sqlx::Row;

pub struct NewFlow<'a> {
    pub ticket: &'a str,
    pub state_hash: &'a str,
    pub org_id: i64,
    pub connection_id: i64,
    pub user_id: i64,
    pub user_key: i64,
    pub session_hash: &'a str,
    pub callback_key: &'a str,
    pub scopes: &'a [String],
    pub expires_at: i64,
    /// The endpoints the code may be exchanged at (`crate::custody`).
    pub custody: &'a str,
}

pub async fn create<'e>(db: impl Exec<'e>, f: NewFlow<'_>, now: i64) -> Result<i64> {
    Ok(sql_scalar!(
        "INSERT INTO oauth_flows (ticket, state_hash, org_id, connection_id, user_id, user_key, session_hash, \
         callback_key, scopes, created_at, expires_at, custody) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12) RETURNING id",
        f.ticket,
        f.state_hash,
        f.org_id,
        f.connection_id,
        f.user_id,
        f.user_key,
        f.session_hash,
        f.callback_key,
        super::connections::scopes_json(f.scopes),
        now,
        f.expires_at,
        f.custody
    )
    .fetch_one(db)
    .await?)
}

#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub id: i64,
    pub ticket: String,
    pub org_id: i64,
    pub connection_id: i64,
    pub user_id: i64,
    pub user_key: i64,
    pub session_hash: String,
    pub callback_key: String,
    pub scopes: Vec<String>,
    /// Sealed.
    pub pkce_verifier: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub outcome: Option<String>,
    pub outcome_message: Option<String>,
    pub custody: Option<String>,
}

const COLUMNS: &str = "id, ticket, org_id, connection_id, user_id, user_key, session_hash, callback_key, scopes, \
                       pkce_verifier, expires_at, used_at, outcome, outcome_message, custody";

fn record(r: sqlx::any::AnyRow) -> FlowRecord {
    let scopes: String = r.get("scopes");
    FlowRecord {
        id: r.get("id"),
        ticket: r.get("ticket"),
        org_id: r.get("org_id"),
        connection_id: r.get("connection_id"),
        user_id: r.get("user_id"),
        user_key: r.get("user_key"),
        session_hash: r.get("session_hash"),
        callback_key: r.get("callback_key"),
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        pkce_verifier: r.get("pkce_verifier"),
        expires_at: r.get("expires_at"),
        used_at: r.get("used_at"),
        outcome: r.get("outcome"),
        outcome_message: r.get("outcome_message"),
        custody: r.get("custody"),
    }
}

pub async fn by_state<'e>(db: impl Exec<'e>, state_hash: &str) -> Result<Option<FlowRecord>> {
    let r = sql!(&format!("SELECT {COLUMNS} FROM oauth_flows WHERE state_hash = $1"), state_hash)
        .fetch_optional(db)
        .await?;
    Ok(r.map(record))
}

pub async fn by_ticket<'e>(db: impl Exec<'e>, org_id: i64, ticket: &str) -> Result<Option<FlowRecord>> {
    let r = sql!(&format!("SELECT {COLUMNS} FROM oauth_flows WHERE org_id = $1 AND ticket = $2"), org_id, ticket)
        .fetch_optional(db)
        .await?;
    Ok(r.map(record))
}

/// Marks the flow used; false when it already was (a replayed or concurrent callback).
pub async fn claim<'e>(db: impl Exec<'e>, id: i64, now: i64) -> Result<bool> {
    let done =
        sql!("UPDATE oauth_flows SET used_at = $1 WHERE id = $2 AND used_at IS NULL", now, id).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Records how the flow ended, for the page that polls it; the verifier is no longer needed.
pub async fn finish<'e>(db: impl Exec<'e>, id: i64, outcome: &str, message: Option<&str>) -> Result<()> {
    let sql = "UPDATE oauth_flows SET outcome = $1, outcome_message = $2, pkce_verifier = NULL WHERE id = $3";
    sql!(sql, outcome, message, id).execute(db).await?;
    Ok(())
}

/// Removes flows that ended or expired more than a day ago.
pub async fn purge<'e>(db: impl Exec<'e>, now: i64) -> Result<u64> {
    let done = sql!("DELETE FROM oauth_flows WHERE expires_at < $1", now - 24 * 3600 * 1000).execute(db).await?;
    Ok(done.rows_affected())
}
