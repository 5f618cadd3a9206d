//! Embedded sign-in tokens already used (migration 0010): the SHA-256 of each token's signed part,
//! kept until a token lifetime after it expires, so a token signs someone in once, on whichever
//! instance, even one whose clock is somewhat behind.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;

/// How long a used token is remembered past its expiry (ms): a token's longest lifetime
/// (`embed::MAX_TOKEN_LIFETIME`, five minutes; a compile-time assertion there keeps the two
/// equal, as the store imports nothing of the areas). Another instance whose clock is behind
/// this one's still takes the token after it expired here; it must still find it used.
pub const KEEP_PAST_EXPIRY_MS: i64 = 5 * 60 * 1000;

/// Records the token as used; false if it was used before (a replay).
pub async fn use_once<'e>(db: impl Exec<'e>, token_hash: &str, expires_at: i64) -> Result<bool> {
    let sql =
        "INSERT INTO embed_tokens_used (token_hash, expires_at) VALUES ($1, $2) ON CONFLICT (token_hash) DO NOTHING";
    let done = sql!(sql, token_hash, expires_at).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the tokens that expired more than [`KEEP_PAST_EXPIRY_MS`] before `now` (every instance
/// whose clock is no further behind refuses them as expired anyway).
pub async fn prune<'e>(db: impl Exec<'e>, now: i64) -> Result<u64> {
    let before = now.saturating_sub(KEEP_PAST_EXPIRY_MS);
    Ok(sql!("DELETE FROM embed_tokens_used WHERE expires_at < $1", before).execute(db).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use sqlx::AnyPool;

    db_test!(a_used_token_is_kept_a_token_lifetime_past_its_expiry, async |pool: &AnyPool| {
        assert!(use_once(pool, "t", 10_000).await.unwrap());
        // Expired here, but an instance whose clock is behind may still take it: kept.
        assert_eq!(prune(pool, 10_001).await.unwrap(), 0);
        assert_eq!(prune(pool, 10_000 + KEEP_PAST_EXPIRY_MS).await.unwrap(), 0);
        assert!(!use_once(pool, "t", 10_000).await.unwrap(), "still a replay");
        assert_eq!(prune(pool, 10_001 + KEEP_PAST_EXPIRY_MS).await.unwrap(), 1);
        assert!(use_once(pool, "t", 10_000).await.unwrap(), "forgotten at last");
    });
}
