//! Organisations (tenants) and the one-time first-run setup.

use crate::error::{is_unique_violation, Error, Result};
use crate::store::Exec;
use crate::store::{sql, sql_scalar};

/// Marks the first-run setup as done. Fails with `SetupComplete` if it already was, so two
/// concurrent setups cannot both create an organisation (run it first in the setup transaction).
pub async fn claim_setup<'e>(db: impl Exec<'e>, now: i64) -> Result<()> {
    sql!("INSERT INTO instance_setup (id, completed_at) VALUES (1, $1)", now).execute(db).await.map_err(|e| {
        if is_unique_violation(&e) {
            Error::SetupComplete
        } else {
            e.into()
        }
    })?;
    Ok(())
}

pub async fn is_setup_done<'e>(db: impl Exec<'e>) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM instance_setup").fetch_one(db).await?;
    Ok(n > 0)
}

pub async fn create<'e>(db: impl Exec<'e>, name: &str, now: i64) -> Result<i64> {
    let id = sql_scalar!("INSERT INTO organisations (name, created_at) VALUES ($1, $2) RETURNING id", name, now)
        .fetch_one(db)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::Invalid(format!("An organisation named {name:?} already exists."))
            } else {
                e.into()
            }
        })?;
    Ok(id)
}

pub async fn exists<'e>(db: impl Exec<'e>, id: i64) -> Result<bool> {
    let n: i64 = sql_scalar!("SELECT COUNT(*) FROM organisations WHERE id = $1", id).fetch_one(db).await?;
    Ok(n > 0)
}

pub async fn id_by_name<'e>(db: impl Exec<'e>, name: &str) -> Result<Option<i64>> {
    Ok(sql_scalar!("SELECT id FROM organisations WHERE name = $1", name).fetch_optional(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use sqlx::AnyPool;

    db_test!(setup_can_be_claimed_once, async |pool: &AnyPool| {
        assert!(!is_setup_done(pool).await.unwrap());
        claim_setup(pool, 1).await.unwrap();
        assert!(matches!(claim_setup(pool, 2).await, Err(Error::SetupComplete)));
        assert!(is_setup_done(pool).await.unwrap());
    });

    db_test!(organisation_names_are_unique, async |pool: &AnyPool| {
        let id = create(pool, "Acme", 1).await.unwrap();
        assert_eq!(id_by_name(pool, "Acme").await.unwrap(), Some(id));
        assert_eq!(id_by_name(pool, "Other").await.unwrap(), None);
        match create(pool, "Acme", 2).await {
            Err(Error::Invalid(m)) => assert_eq!(m, "An organisation named \"Acme\" already exists."),
            other => panic!("{other:?}"),
        }
    });
}
