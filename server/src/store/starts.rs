//! One-time starts of an authorisation popup (migration 0010): the Connect call issues a nonce
//! bound to the browser session, the person and the connection; `/oauth/start` consumes it. Only
//! the SHA-256 of the nonce is stored, and a nonce is deleted the first time it is presented,
//! whoever presents it.

use crate::error::Result;
use sqlx::{Any, Executor, Row};

/// What a nonce was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub session_hash: String,
    pub user_id: i64,
    pub connection_id: i64,
    pub expires_at: i64,
}

pub async fn issue<'e>(db: impl Executor<'e, Database = Any>, nonce_hash: &str, s: &Start) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_starts (nonce_hash, session_hash, user_id, connection_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(nonce_hash)
    .bind(&s.session_hash)
    .bind(s.user_id)
    .bind(s.connection_id)
    .bind(s.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes the nonce and says what it was issued for; `None` if it is unknown or already used.
/// One statement, so two concurrent presentations cannot both get it.
pub async fn take<'e>(db: impl Executor<'e, Database = Any>, nonce_hash: &str) -> Result<Option<Start>> {
    let r = sqlx::query(
        "DELETE FROM oauth_starts WHERE nonce_hash = $1 RETURNING session_hash, user_id, connection_id, expires_at",
    )
    .bind(nonce_hash)
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| Start {
        session_hash: r.get("session_hash"),
        user_id: r.get("user_id"),
        connection_id: r.get("connection_id"),
        expires_at: r.get("expires_at"),
    }))
}

/// Removes the nonces that expired before `now`.
pub async fn prune<'e>(db: impl Executor<'e, Database = Any>, now: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM oauth_starts WHERE expires_at < $1").bind(now).execute(db).await?.rows_affected())
}
