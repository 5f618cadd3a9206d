//! What an admin sees and does to the organisation's people: the list with open sessions, one
//! person by id (within the organisation), ending their sessions, and removing them with their
//! login-user grants, leaving a mark of the removal by email (`removed_members`, until an admin
//! adds them again). Every query names the organisation, so none can reach another's people.

use crate::error::Result;
use crate::store::users::role_from_db;
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use app::model::Role;
use sqlx::Row;

/// A person of the organisation, with how many of their sessions are still open.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub active_sessions: i64,
}

/// The organisation's people, by name then email.
pub async fn list<'e>(db: impl Exec<'e>, org_id: i64, now: i64) -> Result<Vec<Person>> {
    let sql = "SELECT u.id, u.name, u.email, u.role, \
               (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.org_id = u.org_id AND s.expires_at > $2) \
               AS active_sessions \
               FROM users u WHERE u.org_id = $1 ORDER BY u.name, u.email";
    let rows = sql!(sql, org_id, now).fetch_all(db).await?;
    rows.iter().map(person_from_row).collect()
}

/// One person of the organisation, or None (another organisation's person is None too).
pub async fn person<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64, now: i64) -> Result<Option<Person>> {
    let sql = "SELECT u.id, u.name, u.email, u.role, \
               (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.org_id = u.org_id AND s.expires_at > $3) \
               AS active_sessions \
               FROM users u WHERE u.org_id = $1 AND u.id = $2";
    let row = sql!(sql, org_id, user_id, now).fetch_optional(db).await?;
    row.as_ref().map(person_from_row).transpose()
}

fn person_from_row(r: &sqlx::any::AnyRow) -> Result<Person> {
    Ok(Person {
        id: r.get("id"),
        name: r.get("name"),
        email: r.get("email"),
        role: role_from_db(r.get::<String, _>("role").as_str())?,
        active_sessions: r.get("active_sessions"),
    })
}

/// Ends every session of a person (browsers and embedded consoles); returns how many.
pub async fn end_sessions<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64) -> Result<u64> {
    Ok(sql!("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2", org_id, user_id)
        .execute(db)
        .await?
        .rows_affected())
}

/// Revokes every live API token of a person; returns how many.
pub async fn revoke_tokens<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64, now: i64) -> Result<u64> {
    let sql = "UPDATE api_tokens SET revoked_at = $1 WHERE org_id = $2 AND user_id = $3 AND revoked_at IS NULL";
    Ok(sql!(sql, now, org_id, user_id).execute(db).await?.rows_affected())
}

/// The login-user connections of the organisation where the person has a grant of their own
/// (`user_key` is their id there), by id.
pub async fn connections_with_own_grant<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64) -> Result<Vec<i64>> {
    Ok(sql_scalar!(
        "SELECT c.id FROM connections c JOIN grants g ON g.connection_id = c.id \
         WHERE c.org_id = $1 AND c.per_user = 1 AND g.user_key = $2 ORDER BY c.id",
        org_id,
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// Erases the person's own grants on the organisation's connections; returns how many.
pub async fn erase_own_grants<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64) -> Result<u64> {
    let sql = "DELETE FROM grants WHERE user_key = $1 \
               AND connection_id IN (SELECT id FROM connections WHERE org_id = $2 AND per_user = 1)";
    Ok(sql!(sql, user_id, org_id).execute(db).await?.rows_affected())
}

/// Deletes the person's row, unless they are the organisation's last admin. Their sessions, API
/// tokens and authorisations in progress go with it (ON DELETE CASCADE); connections and services
/// they created stay (created_by becomes NULL). Returns false when nothing was deleted.
pub async fn delete<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64) -> Result<bool> {
    let sql = "DELETE FROM users WHERE org_id = $1 AND id = $2 \
               AND (role <> 'admin' OR (SELECT COUNT(*) FROM users a WHERE a.org_id = $1 AND a.role = 'admin') > 1)";
    let r = sql!(sql, org_id, user_id).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Marks the email as removed from the organisation by an admin (again: the later time).
pub async fn mark_removed<'e>(db: impl Exec<'e>, org_id: i64, email: &str, now: i64) -> Result<()> {
    let sql = "INSERT INTO removed_members (org_id, email, removed_at) VALUES ($1, $2, $3) \
               ON CONFLICT (org_id, email) DO UPDATE SET removed_at = excluded.removed_at";
    sql!(sql, org_id, email, now).execute(db).await?;
    Ok(())
}

/// Whether an admin removed the email from the organisation (and nobody added it back since).
pub async fn was_removed<'e>(db: impl Exec<'e>, org_id: i64, email: &str) -> Result<bool> {
    let found: Option<i64> =
        sql_scalar!("SELECT removed_at FROM removed_members WHERE org_id = $1 AND email = $2", org_id, email)
            .fetch_optional(db)
            .await?;
    Ok(found.is_some())
}

/// Lifts the removal mark of the email in the organisation (an admin adds the person again);
/// returns whether there was one.
pub async fn clear_removed<'e>(db: impl Exec<'e>, org_id: i64, email: &str) -> Result<bool> {
    let done = sql!("DELETE FROM removed_members WHERE org_id = $1 AND email = $2", org_id, email).execute(db).await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use crate::store::{orgs, sessions, users, Store};

    async fn user(pool: &sqlx::AnyPool, org: i64, email: &str, role: Role) -> i64 {
        let new = users::NewUser { org_id: org, email, name: email, role, password_hash: "h" };
        users::create(pool, new, 1).await.unwrap()
    }

    db_test!(people_are_listed_and_removed_within_their_organisation_only, async |store: &Store| {
        let pool = &store.pool;
        let acme = orgs::create(pool, "Acme", 1).await.unwrap();
        let other = orgs::create(pool, "Other", 1).await.unwrap();
        let ada = user(pool, acme, "ada@acme.example", Role::Admin).await;
        let bob = user(pool, acme, "bob@acme.example", Role::Member).await;
        let eve = user(pool, other, "eve@other.example", Role::Admin).await;
        sessions::create(pool, "s-bob-1", acme, bob, 1, 5_000).await.unwrap();
        sessions::create(pool, "s-bob-2", acme, bob, 1, 500).await.unwrap();
        let listed = list(pool, acme, 1_000).await.unwrap();
        let seen: Vec<_> = listed.iter().map(|p| (p.email.as_str(), p.active_sessions)).collect();
        assert_eq!(seen, [("ada@acme.example", 0), ("bob@acme.example", 1)], "{:?}", store.kind);
        assert!(person(pool, acme, eve, 1_000).await.unwrap().is_none(), "another organisation's person");
        assert!(!delete(pool, acme, eve).await.unwrap());
        assert!(!delete(pool, acme, ada).await.unwrap(), "the last admin stays");
        assert_eq!(end_sessions(pool, other, bob).await.unwrap(), 0);
        assert_eq!(end_sessions(pool, acme, bob).await.unwrap(), 2);
        assert!(delete(pool, acme, bob).await.unwrap());
        assert!(person(pool, acme, bob, 1_000).await.unwrap().is_none());
        let second = user(pool, acme, "cy@acme.example", Role::Admin).await;
        assert!(delete(pool, acme, ada).await.unwrap(), "another admin is left");
        assert!(!delete(pool, acme, second).await.unwrap());
    });
}
