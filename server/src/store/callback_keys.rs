//! The callback keys handed to organisations' open Create New Service forms (migration 0011): a
//! key is given to one organisation, kept until a service of that organisation takes it (the row
//! is deleted as it is taken) or it expires.

use crate::error::Result;
use crate::store::{sql, Exec};

pub async fn give<'e>(db: impl Exec<'e>, key: &str, org_id: i64, expires_at: i64) -> Result<()> {
    sql!("INSERT INTO callback_keys (callback_key, org_id, expires_at) VALUES ($1, $2, $3)", key, org_id, expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the key if it was given to this organisation and has not expired; true if it was.
/// One statement, so two forms carrying the same key cannot both take it.
pub async fn take<'e>(db: impl Exec<'e>, key: &str, org_id: i64, now: i64) -> Result<bool> {
    let sql = "DELETE FROM callback_keys WHERE callback_key = $1 AND org_id = $2 AND expires_at >= $3";
    let done = sql!(sql, key, org_id, now).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the keys that expired before `now`.
pub async fn prune<'e>(db: impl Exec<'e>, now: i64) -> Result<u64> {
    Ok(sql!("DELETE FROM callback_keys WHERE expires_at < $1", now).execute(db).await?.rows_affected())
}
