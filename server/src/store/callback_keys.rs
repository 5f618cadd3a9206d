//! The callback keys handed to organisations' open Create New Service forms (migration 0011): a
//! key is given to one organisation, kept until a service of that organisation takes it (the row
//! is deleted as it is taken) or it expires.

use crate::error::Result;
use crate::store::{sql, Exec};

/// How many keys an organisation holds at most: giving one more forgets its oldest (a form open
/// that long must be reloaded), so no organisation can fill the database with keys.
pub const PER_ORG: i64 = 50;

/// Gives `key` to the organisation, forgetting its keys past the newest [`PER_ORG`].
pub async fn give(db: &mut sqlx::AnyConnection, key: &str, org_id: i64, expires_at: i64) -> Result<()> {
    let sql = "INSERT INTO callback_keys (callback_key, org_id, expires_at) VALUES ($1, $2, $3)";
    sql!(sql, key, org_id, expires_at).execute(&mut *db).await?;
    let sql = "DELETE FROM callback_keys WHERE org_id = $1 AND callback_key NOT IN \
               (SELECT callback_key FROM callback_keys WHERE org_id = $1 ORDER BY expires_at DESC LIMIT $2)";
    sql!(sql, org_id, PER_ORG).execute(&mut *db).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use sqlx::AnyPool;

    db_test!(an_organisation_holds_at_most_its_newest_keys_and_another_keeps_its_own, async |pool: &AnyPool| {
        for org in [1, 2] {
            sql!("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, 1)", org, format!("Org {org}"))
                .execute(pool)
                .await
                .unwrap();
        }
        let mut conn = pool.acquire().await.unwrap();
        give(&mut conn, "other", 2, 1_000).await.unwrap();
        for n in 0..PER_ORG + 5 {
            give(&mut conn, &format!("k{n}"), 1, 1_000 + n).await.unwrap();
        }
        let count =
            |org: i64| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM callback_keys WHERE org_id = $1").bind(org);
        assert_eq!(count(1).fetch_one(pool).await.unwrap(), PER_ORG);
        assert_eq!(count(2).fetch_one(pool).await.unwrap(), 1, "another organisation's key stays");
        assert!(!take(pool, "k0", 1, 0).await.unwrap(), "the oldest went");
        assert!(take(pool, &format!("k{}", PER_ORG + 4), 1, 0).await.unwrap(), "the newest is there");
    });
}
