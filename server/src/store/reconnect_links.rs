//! Reconnect links (migration 0016): single-use links an admin gives one member to re-authorise
//! one connection. Only the SHA-256 of a link's token is stored; a use is one conditional update,
//! so of two concurrent uses exactly one wins.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;
use sqlx::Row;

/// A link as listed, with its connection's link name and its person's email: never its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: i64,
    pub connection_id: i64,
    pub link_name: String,
    pub user_id: i64,
    pub email: String,
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

/// Links, their connection and their person (both deleted with their links: inner joins).
const SELECT: &str = "SELECT l.id, l.connection_id, c.link_name, l.user_id, u.email, l.created_by_name, l.created_at, \
                      l.expires_at, l.used_at, l.revoked_at FROM reconnect_links l \
                      JOIN connections c ON c.id = l.connection_id AND c.org_id = l.org_id \
                      JOIN users u ON u.id = l.user_id AND u.org_id = l.org_id";

fn from_row(r: &sqlx::any::AnyRow) -> Link {
    Link {
        id: r.get("id"),
        connection_id: r.get("connection_id"),
        link_name: r.get("link_name"),
        user_id: r.get("user_id"),
        email: r.get("email"),
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

/// The organisation's links (of one connection, when given), newest first; at most 1,000.
pub async fn list<'e>(db: impl Exec<'e>, org_id: i64, connection_id: Option<i64>) -> Result<Vec<Link>> {
    let sql =
        format!("{SELECT} WHERE l.org_id = $1 AND ($2 = 0 OR l.connection_id = $2) ORDER BY l.id DESC LIMIT 1000");
    let rows = sql!(&sql, org_id, connection_id.unwrap_or(0)).fetch_all(db).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// One link of the organisation.
pub async fn by_id<'e>(db: impl Exec<'e>, org_id: i64, id: i64) -> Result<Option<Link>> {
    let sql = format!("{SELECT} WHERE l.org_id = $1 AND l.id = $2");
    Ok(sql!(&sql, org_id, id).fetch_optional(db).await?.as_ref().map(from_row))
}

/// Revokes a link of the organisation still usable at `now` (not used, revoked or expired);
/// false if there is none.
pub async fn revoke<'e>(db: impl Exec<'e>, org_id: i64, id: i64, now: i64) -> Result<bool> {
    let sql = "UPDATE reconnect_links SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND used_at IS NULL \
               AND revoked_at IS NULL AND expires_at > $3";
    Ok(sql!(sql, org_id, id, now).execute(db).await?.rows_affected() == 1)
}

/// The link of that token hash in that organisation, if any (whatever its state).
pub async fn by_token<'e>(db: impl Exec<'e>, org_id: i64, token_hash: &str) -> Result<Option<Link>> {
    let sql = format!("{SELECT} WHERE l.org_id = $1 AND l.token_hash = $2");
    Ok(sql!(&sql, org_id, token_hash).fetch_optional(db).await?.as_ref().map(from_row))
}

/// Marks the link used if it still is usable at `now`: true for the one use that wins.
pub async fn take<'e>(db: impl Exec<'e>, id: i64, now: i64) -> Result<bool> {
    let sql = "UPDATE reconnect_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL \
               AND expires_at > $2";
    Ok(sql!(sql, id, now).execute(db).await?.rows_affected() == 1)
}

/// Removes the links that expired before `before` (used, revoked or not: none can be used any
/// more, and the audit log keeps what happened).
pub async fn purge<'e>(db: impl Exec<'e>, before: i64) -> Result<u64> {
    Ok(sql!("DELETE FROM reconnect_links WHERE expires_at < $1", before).execute(db).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{db_test, org_with_person};
    use sqlx::AnyPool;

    /// Two organisations, each with a person and two connections; a link for each connection.
    async fn seed(pool: &AnyPool) -> Vec<i64> {
        let connection = "INSERT INTO connections (id, org_id, link_name, name, catalog_id, service_name, scopes, \
                          per_user, status, created_by_name, created_at, updated_at) \
                          VALUES ($1, $2, $3, $3, 'gh', 'S', '[]', 0, 'not_connected', 'Ada', 1, 1)";
        let mut ids = Vec::new();
        for org in [1i64, 2] {
            org_with_person(pool, org, "Bob", "member").await;
            for c in [org * 10, org * 10 + 1] {
                sql!(connection, c, org, format!("c{c}")).execute(pool).await.unwrap();
                let hash = format!("hash-{c}");
                let link = NewLink {
                    org_id: org,
                    connection_id: c,
                    user_id: org,
                    token_hash: &hash,
                    created_by_name: "Ada",
                    created_at: 1,
                    expires_at: 1_000 * c,
                };
                ids.push(create(pool, &link).await.unwrap());
            }
        }
        ids
    }

    db_test!(links_are_listed_per_organisation_and_connection_and_used_once, async |pool: &AnyPool| {
        let ids = seed(pool).await;
        let all = list(pool, 1, None).await.unwrap();
        assert_eq!(all.iter().map(|l| l.id).collect::<Vec<_>>(), [ids[1], ids[0]], "newest first, org 1 only");
        assert_eq!((all[0].link_name.as_str(), all[0].email.as_str()), ("c11", "bob1@example.com"));
        let one = list(pool, 1, Some(10)).await.unwrap();
        assert_eq!(one.iter().map(|l| l.id).collect::<Vec<_>>(), [ids[0]]);
        assert!(list(pool, 1, Some(20)).await.unwrap().is_empty(), "another organisation's connection");
        assert!(by_id(pool, 1, ids[2]).await.unwrap().is_none());
        assert!(by_token(pool, 1, "hash-20").await.unwrap().is_none());
        assert_eq!(by_token(pool, 2, "hash-20").await.unwrap().map(|l| l.id), Some(ids[2]));
        assert!(!revoke(pool, 1, ids[2], 5).await.unwrap(), "another organisation's link");
        assert!(take(pool, ids[0], 5).await.unwrap());
        assert!(!take(pool, ids[0], 6).await.unwrap(), "once");
        assert!(!revoke(pool, 1, ids[0], 7).await.unwrap(), "used: not revoked");
        assert!(!take(pool, ids[1], 11_000).await.unwrap(), "expired");
        assert!(!revoke(pool, 1, ids[1], 11_000).await.unwrap(), "expired: not revoked");
        assert!(revoke(pool, 1, ids[1], 10_999).await.unwrap());
        assert!(!take(pool, ids[1], 10_999).await.unwrap(), "revoked");
    });

    db_test!(purge_removes_only_what_expired_before_the_cut, async |pool: &AnyPool| {
        let ids = seed(pool).await;
        // Expiries: 10 000, 11 000, 20 000, 21 000.
        assert_eq!(purge(pool, 11_000).await.unwrap(), 1);
        assert!(by_id(pool, 1, ids[0]).await.unwrap().is_none());
        assert!(by_id(pool, 1, ids[1]).await.unwrap().is_some(), "expires at the cut: kept");
        assert_eq!(purge(pool, 30_000).await.unwrap(), 3);
    });
}
