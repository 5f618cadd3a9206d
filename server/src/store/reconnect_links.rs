//! Reconnect links (migration 0016): single-use links an admin gives one member to re-authorise
//! one connection. Only the SHA-256 of a link's token is stored; a use is one conditional update,
//! so of two concurrent uses exactly one wins.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;
use sqlx::Row;

/// A link as listed: never its token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub id: i64,
    pub connection_id: i64,
    pub user_id: i64,
    pub created_by_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a new link names.
pub struct NewLink<'a> {
    pub org_id: i64,
    pub connection_id: i64,
    pub user_id: i64,
    pub token_hash: &'a str,
    pub created_by_name: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, connection_id, user_id, created_by_name, created_at, expires_at, used_at, revoked_at";

fn from_row(r: &sqlx::any::AnyRow) -> Link {
    Link {
        id: r.get("id"),
        connection_id: r.get("connection_id"),
        user_id: r.get("user_id"),
        created_by_name: r.get("created_by_name"),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
        used_at: r.get("used_at"),
        revoked_at: r.get("revoked_at"),
    }
}

pub async fn create<'e>(db: impl Exec<'e>, l: &NewLink<'_>) -> Result<i64> {
    let sql = "INSERT INTO reconnect_links (org_id, connection_id, user_id, token_hash, created_by_name, created_at, \
               expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    let r =
        sql!(sql, l.org_id, l.connection_id, l.user_id, l.token_hash, l.created_by_name, l.created_at, l.expires_at)
            .fetch_one(db)
            .await?;
    Ok(r.get("id"))
}

/// The organisation's links, newest first.
pub async fn list<'e>(db: impl Exec<'e>, org_id: i64) -> Result<Vec<Link>> {
    let sql = format!("SELECT {COLUMNS} FROM reconnect_links WHERE org_id = $1 ORDER BY id DESC LIMIT 1000");
    let rows = sql!(&sql, org_id).fetch_all(db).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Revokes a link of the organisation not used or revoked yet; false if there is none.
pub async fn revoke<'e>(db: impl Exec<'e>, org_id: i64, id: i64, now: i64) -> Result<bool> {
    let sql = "UPDATE reconnect_links SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND used_at IS NULL \
               AND revoked_at IS NULL";
    Ok(sql!(sql, org_id, id, now).execute(db).await?.rows_affected() == 1)
}

/// The link of that token hash in that organisation, if any (whatever its state).
pub async fn by_token<'e>(db: impl Exec<'e>, org_id: i64, token_hash: &str) -> Result<Option<Link>> {
    let sql = format!("SELECT {COLUMNS} FROM reconnect_links WHERE org_id = $1 AND token_hash = $2");
    Ok(sql!(&sql, org_id, token_hash).fetch_optional(db).await?.as_ref().map(from_row))
}

/// Marks the link used if it still is usable at `now`: true for the one use that wins.
pub async fn take<'e>(db: impl Exec<'e>, id: i64, now: i64) -> Result<bool> {
    let sql = "UPDATE reconnect_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL \
               AND expires_at > $2";
    Ok(sql!(sql, id, now).execute(db).await?.rows_affected() == 1)
}
