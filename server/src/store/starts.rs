//! One-time starts of an authorisation popup (migration 0010): the Connect call issues a nonce
//! bound to the browser session, the person and the connection; `/oauth/start` consumes it. Only
//! the SHA-256 of the nonce is stored, and a nonce is deleted the first time it is presented,
//! whoever presents it.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;
use sqlx::Row;

/// What a nonce was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub session_hash: String,
    pub user_id: i64,
    pub connection_id: i64,
    pub expires_at: i64,
    /// Issued by a reconnect link: its person may authorise the connection even if they could
    /// not manage it otherwise.
    pub by_link: bool,
}

pub async fn issue<'e>(db: impl Exec<'e>, nonce_hash: &str, s: &Start) -> Result<()> {
    let sql = "INSERT INTO oauth_starts (nonce_hash, session_hash, user_id, connection_id, expires_at, by_link) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    sql!(sql, nonce_hash, &s.session_hash, s.user_id, s.connection_id, s.expires_at, i64::from(s.by_link))
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the nonce and says what it was issued for; `None` if it is unknown or already used.
/// One statement, so two concurrent presentations cannot both get it.
pub async fn take<'e>(db: impl Exec<'e>, nonce_hash: &str) -> Result<Option<Start>> {
    let sql =
        "DELETE FROM oauth_starts WHERE nonce_hash = $1 RETURNING session_hash, user_id, connection_id, expires_at, by_link";
    let r = sql!(sql, nonce_hash).fetch_optional(db).await?;
    Ok(r.map(|r| Start {
        session_hash: r.get("session_hash"),
        user_id: r.get("user_id"),
        connection_id: r.get("connection_id"),
        expires_at: r.get("expires_at"),
        by_link: r.get::<i64, _>("by_link") != 0,
    }))
}

/// Removes the nonces that expired before `now`.
pub async fn prune<'e>(db: impl Exec<'e>, now: i64) -> Result<u64> {
    Ok(sql!("DELETE FROM oauth_starts WHERE expires_at < $1", now).execute(db).await?.rows_affected())
}
