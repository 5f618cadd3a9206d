//! The grants that may be left idle long enough for their refresh token to lapse: those with a
//! refresh token, of a connection that is Connected, not refreshed (nor authorised) since a
//! time, for `crate::credentials::keep_alive` to weigh against their service's idle lifetime.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;
use sqlx::Row;

/// A grant left idle: enough to decide whether it is due and to force one refresh of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleGrant {
    pub id: i64,
    pub connection_id: i64,
    pub user_key: i64,
    pub version: i64,
    /// When the refresh token was last used (a refresh) or given (an authorisation).
    pub updated_at: i64,
    pub retry_at: Option<i64>,
}

/// The grants with a refresh token, of a Connected connection, untouched since `before`, by
/// connection.
pub async fn idle_since<'e>(db: impl Exec<'e>, before: i64) -> Result<Vec<IdleGrant>> {
    let rows = sql!(
        "SELECT g.id, g.connection_id, g.user_key, g.version, g.updated_at, g.retry_at FROM grants g \
         JOIN connections c ON c.id = g.connection_id \
         WHERE g.refresh_token IS NOT NULL AND g.updated_at < $1 AND c.status = 'connected' \
         ORDER BY g.connection_id, g.id",
        before
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| IdleGrant {
            id: r.get("id"),
            connection_id: r.get("connection_id"),
            user_key: r.get("user_key"),
            version: r.get("version"),
            updated_at: r.get("updated_at"),
            retry_at: r.get("retry_at"),
        })
        .collect())
}
