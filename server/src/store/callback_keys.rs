//! The callback keys handed to organisations' open Create New Service forms (migration 0011): a
//! key is given to one organisation, kept until a service of that organisation takes it (the row
//! is deleted as it is taken) or it expires.

use crate::error::Result;
use sqlx::{Any, Executor};

pub async fn give<'e>(db: impl Executor<'e, Database = Any>, key: &str, org_id: i64, expires_at: i64) -> Result<()> {
    sqlx::query("INSERT INTO callback_keys (callback_key, org_id, expires_at) VALUES ($1, $2, $3)")
        .bind(key)
        .bind(org_id)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the key if it was given to this organisation and has not expired; true if it was.
/// One statement, so two forms carrying the same key cannot both take it.
pub async fn take<'e>(db: impl Executor<'e, Database = Any>, key: &str, org_id: i64, now: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM callback_keys WHERE callback_key = $1 AND org_id = $2 AND expires_at >= $3")
        .bind(key)
        .bind(org_id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the keys that expired before `now`.
pub async fn prune<'e>(db: impl Executor<'e, Database = Any>, now: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM callback_keys WHERE expires_at < $1").bind(now).execute(db).await?.rows_affected())
}
