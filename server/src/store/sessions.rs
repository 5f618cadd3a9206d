//! Browser sessions. The cookie holds a random token; the table holds its SHA-256, so a copy of
//! the database cannot be used to sign in.

use crate::error::Result;
use crate::store::sql;
use crate::store::users::role_from_db;
use crate::store::Exec;
use app::model::Role;
use sqlx::Row;

pub async fn create<'e>(
    db: impl Exec<'e>,
    token_hash: &str,
    org_id: i64,
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    let sql = "INSERT INTO sessions (token_hash, org_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
    sql!(sql, token_hash, org_id, user_id, now, expires_at).execute(db).await?;
    Ok(())
}

/// A person as a session or an API token finds them.
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub user_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// The embedding console's origin, for a session it signed in.
    pub embed_origin: Option<String>,
}

/// The user behind a live session, or `None` for an unknown or expired one.
pub async fn person<'e>(db: impl Exec<'e>, token_hash: &str, now: i64) -> Result<Option<PersonRow>> {
    let sql = "SELECT u.id AS user_id, u.org_id, o.name AS org_name, u.name, u.email, u.role, s.embed_origin \
               FROM sessions s \
               JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id \
               JOIN organisations o ON o.id = u.org_id \
               WHERE s.token_hash = $1 AND s.expires_at > $2";
    let row = sql!(sql, token_hash, now).fetch_optional(db).await?;
    row.map(|r| person_from_row(&r)).transpose()
}

/// The person in a row with user_id, org_id, org_name, name, email and role.
pub fn person_from_row(r: &sqlx::any::AnyRow) -> Result<PersonRow> {
    Ok(PersonRow {
        user_id: r.get("user_id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        name: r.get("name"),
        email: r.get("email"),
        role: role_from_db(r.get::<String, _>("role").as_str())?,
        embed_origin: r.try_get("embed_origin").ok().flatten(),
    })
}

/// A session started by an embedding host (see `embed_origin`).
pub async fn create_embedded<'e>(
    db: impl Exec<'e>,
    token_hash: &str,
    user: (i64, i64),
    origin: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    let sql = "INSERT INTO sessions (token_hash, org_id, user_id, created_at, expires_at, embed_origin) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    sql!(sql, token_hash, user.0, user.1, now, expires_at, origin).execute(db).await?;
    Ok(())
}

pub async fn delete<'e>(db: impl Exec<'e>, token_hash: &str) -> Result<()> {
    sql!("DELETE FROM sessions WHERE token_hash = $1", token_hash).execute(db).await?;
    Ok(())
}

/// Removes expired sessions; returns how many.
pub async fn purge_expired<'e>(db: impl Exec<'e>, now: i64) -> Result<u64> {
    Ok(sql!("DELETE FROM sessions WHERE expires_at <= $1", now).execute(db).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use crate::store::{orgs, users};
    use app::model::Role;
    use sqlx::AnyPool;

    db_test!(sessions_resolve_until_they_expire, async |pool: &AnyPool| {
        let org = orgs::create(pool, "Acme", 1).await.unwrap();
        let user = users::create(
            pool,
            users::NewUser {
                org_id: org,
                email: "ada@example.com",
                name: "Ada",
                role: Role::Admin,
                password_hash: "h",
            },
            1,
        )
        .await
        .unwrap();
        create(pool, "hash-1", org, user, 1_000, 2_000).await.unwrap();
        let v = person(pool, "hash-1", 1_500).await.unwrap().unwrap();
        assert_eq!((v.user_id, v.org_id, v.org_name.as_str(), v.role), (user, org, "Acme", Role::Admin));
        assert!(person(pool, "hash-1", 2_000).await.unwrap().is_none(), "expired at expires_at");
        assert!(person(pool, "other", 1_500).await.unwrap().is_none());
        assert_eq!(purge_expired(pool, 2_000).await.unwrap(), 1);
        create(pool, "hash-2", org, user, 1_000, 9_000).await.unwrap();
        delete(pool, "hash-2").await.unwrap();
        assert!(person(pool, "hash-2", 1_500).await.unwrap().is_none());
    });
}
