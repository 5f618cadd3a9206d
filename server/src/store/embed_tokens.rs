//! Embedded sign-in tokens already used (migration 0010): the SHA-256 of each token's signed part,
//! kept until the token expires, so a token signs someone in once, on whichever instance.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;

/// Records the token as used; false if it was used before (a replay).
pub async fn use_once<'e>(db: impl Exec<'e>, token_hash: &str, expires_at: i64) -> Result<bool> {
    let sql =
        "INSERT INTO embed_tokens_used (token_hash, expires_at) VALUES ($1, $2) ON CONFLICT (token_hash) DO NOTHING";
    let done = sql!(sql, token_hash, expires_at).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the tokens that expired before `now` (they would be refused as expired anyway).
pub async fn prune<'e>(db: impl Exec<'e>, now: i64) -> Result<u64> {
    Ok(sql!("DELETE FROM embed_tokens_used WHERE expires_at < $1", now).execute(db).await?.rows_affected())
}
