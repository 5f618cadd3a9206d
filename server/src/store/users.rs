//! Users: members of exactly one organisation, with an argon2id password hash.

use crate::error::{is_unique_violation, Error, Result};
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use app::model::Role;
use sqlx::Row;

/// What sign-in needs to know about a user.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: i64,
    pub org_id: i64,
    pub password_hash: String,
}

/// The `password_hash` of a person who has no password: one an embedding console created
/// (`crate::auth::embedded`). It is no PHC string, so no password matches it; sign-in checks such a
/// person like an unknown one.
pub const NO_PASSWORD: &str = "!none: signs in through an embedding console";

pub struct NewUser<'a> {
    pub org_id: i64,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

pub async fn create<'e>(db: impl Exec<'e>, user: NewUser<'_>, now: i64) -> Result<i64> {
    sql_scalar!(
        "INSERT INTO users (org_id, email, name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        user.org_id,
        user.email,
        user.name,
        user.role.as_str(),
        user.password_hash,
        now
    )
    .fetch_one(db)
    .await
    .map_err(|e| if is_unique_violation(&e) { Error::EmailTaken } else { e.into() })
}

pub async fn any_exist<'e>(db: impl Exec<'e>) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) AS u").fetch_one(db).await?;
    Ok(n > 0)
}

/// Sign-in is the one lookup that is not scoped to an organisation: the email is the key.
pub async fn credentials_by_email<'e>(db: impl Exec<'e>, email: &str) -> Result<Option<Credentials>> {
    let row = sql!("SELECT id, org_id, password_hash FROM users WHERE email = $1", email).fetch_optional(db).await?;
    Ok(row.map(|r| Credentials { id: r.get("id"), org_id: r.get("org_id"), password_hash: r.get("password_hash") }))
}

/// How a user is shown in lists and the audit log: their email address ("a former user" if gone).
pub async fn name_of<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64) -> Result<String> {
    let email: Option<String> = sql_scalar!("SELECT email FROM users WHERE org_id = $1 AND id = $2", org_id, user_id)
        .fetch_optional(db)
        .await?;
    Ok(email.unwrap_or_else(|| "a former user".into()))
}

/// When the person was added (Unix ms), or None if they are not (or no longer) in the organisation.
pub async fn created_at<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64) -> Result<Option<i64>> {
    Ok(sql_scalar!("SELECT created_at FROM users WHERE org_id = $1 AND id = $2", org_id, user_id)
        .fetch_optional(db)
        .await?)
}

pub fn role_from_db(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| Error::Invalid(format!("unknown role {s:?} in the database")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use crate::store::{orgs, Store};
    use sqlx::AnyPool;

    db_test!(emails_are_unique_across_organisations, async |pool: &AnyPool| {
        assert!(!any_exist(pool).await.unwrap());
        let a = orgs::create(pool, "A", 1).await.unwrap();
        let b = orgs::create(pool, "B", 1).await.unwrap();
        let new =
            |org_id| NewUser { org_id, email: "ada@example.com", name: "Ada", role: Role::Admin, password_hash: "h" };
        let id = create(pool, new(a), 1).await.unwrap();
        assert!(any_exist(pool).await.unwrap());
        assert!(matches!(create(pool, new(b), 1).await, Err(Error::EmailTaken)));
        let c = credentials_by_email(pool, "ada@example.com").await.unwrap().unwrap();
        assert_eq!((c.id, c.org_id, c.password_hash.as_str()), (id, a, "h"));
        assert!(credentials_by_email(pool, "bob@example.com").await.unwrap().is_none());
    });

    db_test!(a_user_needs_an_existing_organisation_and_a_known_role, async |store: &Store| {
        let pool = &store.pool;
        let orphan = NewUser { org_id: 999, email: "x@example.com", name: "X", role: Role::Member, password_hash: "h" };
        assert!(create(pool, orphan, 1).await.is_err(), "foreign key enforced on {:?}", store.kind);
        let org = orgs::create(pool, "A", 1).await.unwrap();
        let bad_role = sql!("INSERT INTO users (org_id, email, name, role, password_hash, created_at) VALUES ($1, 'y@example.com', 'Y', 'owner', 'h', 1)", org)
        .execute(pool)
        .await;
        assert!(bad_role.is_err(), "role check enforced on {:?}", store.kind);
    });
}
