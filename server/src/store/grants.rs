//! Grants: the credentials behind a connection (sealed as the vault left them), one per connection
//! or, for a login-user connection, one per person; the refresh lease that lets one instance at a
//! time refresh a grant; and the custody records (`crate::custody`): stamping the grants made
//! before Liaison kept them, and setting aside the grants of a service whose endpoints moved.

use crate::error::Result;
use crate::store::connections::scopes_json;
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use sqlx::Row;

/// The credentials behind a connection (sealed values as stored).
#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub id: i64,
    pub user_key: i64,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub username: Option<String>,
    pub expires_at: Option<i64>,
    pub granted_scopes: Option<Vec<String>>,
    pub authorised_by_name: String,
    pub authorised_at: i64,
    /// When the current tokens were stored (local time of receipt).
    pub updated_at: i64,
    /// Grows with every new token set.
    pub version: i64,
    pub lease_until: Option<i64>,
    pub refresh_failures: i64,
    pub retry_at: Option<i64>,
    /// The fingerprint of the endpoints the grant was made under (`crate::custody`).
    pub custody: Option<String>,
}

const GRANT_COLUMNS: &str = "id, user_key, access_token, refresh_token, username, expires_at, granted_scopes, \
                             authorised_by_name, authorised_at, updated_at, version, lease_until, refresh_failures, \
                             retry_at, custody";

fn grant_record(r: sqlx::any::AnyRow) -> GrantRecord {
    let scopes: Option<String> = r.get("granted_scopes");
    GrantRecord {
        id: r.get("id"),
        user_key: r.get("user_key"),
        access_token: r.get("access_token"),
        refresh_token: r.get("refresh_token"),
        username: r.get("username"),
        expires_at: r.get("expires_at"),
        granted_scopes: scopes.and_then(|s| serde_json::from_str(&s).ok()),
        authorised_by_name: r.get("authorised_by_name"),
        authorised_at: r.get("authorised_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
        lease_until: r.get("lease_until"),
        refresh_failures: r.get("refresh_failures"),
        retry_at: r.get("retry_at"),
        custody: r.get("custody"),
    }
}

/// The grant for `user_key` (0: shared), if any.
pub async fn grant<'e>(db: impl Exec<'e>, connection_id: i64, user_key: i64) -> Result<Option<GrantRecord>> {
    let r = sql!(
        &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 AND user_key = $2"),
        connection_id,
        user_key
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(grant_record))
}

/// A grant by its id.
pub async fn grant_by_id<'e>(db: impl Exec<'e>, id: i64) -> Result<Option<GrantRecord>> {
    let r = sql!(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"), id).fetch_optional(db).await?;
    Ok(r.map(grant_record))
}

/// Every grant of a connection (for revoking them all).
pub async fn grants<'e>(db: impl Exec<'e>, connection_id: i64) -> Result<Vec<GrantRecord>> {
    let rows = sql!(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 ORDER BY id"), connection_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(grant_record).collect())
}

pub async fn user_grant_count<'e>(db: impl Exec<'e>, connection_id: i64) -> Result<i64> {
    Ok(sql_scalar!("SELECT COUNT(*) FROM grants WHERE connection_id = $1 AND user_key <> 0", connection_id)
        .fetch_one(db)
        .await?)
}

pub struct GrantMeta<'a> {
    pub username: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub granted_scopes: Option<&'a [String]>,
    pub authorised_by: Option<i64>,
    pub authorised_by_name: &'a str,
    /// The endpoints the grant is made under (`crate::custody::Custody`).
    pub custody: &'a str,
}

/// Creates or replaces the grant's non-secret fields (clearing its sealed ones); returns its id.
/// The caller then seals the secrets for that id, in the same transaction. One statement that
/// writes first: on SQLite a transaction that read before writing fails at once ("database is
/// locked") when another connection wrote in between, which a write-first one never does.
pub async fn upsert_grant(
    db: &mut sqlx::AnyConnection,
    connection_id: i64,
    user_key: i64,
    m: GrantMeta<'_>,
    now: i64,
) -> Result<i64> {
    let scopes = m.granted_scopes.map(scopes_json);
    Ok(sql_scalar!(
        "INSERT INTO grants (connection_id, user_key, username, expires_at, granted_scopes, authorised_by, \
         authorised_by_name, authorised_at, updated_at, custody) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
         ON CONFLICT (connection_id, user_key) DO UPDATE SET access_token = NULL, refresh_token = NULL, \
         username = excluded.username, expires_at = excluded.expires_at, granted_scopes = excluded.granted_scopes, \
         authorised_by = excluded.authorised_by, authorised_by_name = excluded.authorised_by_name, \
         authorised_at = excluded.authorised_at, updated_at = excluded.updated_at, version = grants.version + 1, \
         lease_owner = NULL, lease_until = NULL, refresh_failures = 0, retry_at = NULL, custody = excluded.custody \
         RETURNING id",
        connection_id,
        user_key,
        m.username,
        m.expires_at,
        scopes,
        m.authorised_by,
        m.authorised_by_name,
        now,
        m.custody
    )
    .fetch_one(db)
    .await?)
}

pub async fn delete_grant<'e>(db: impl Exec<'e>, id: i64) -> Result<()> {
    sql!("DELETE FROM grants WHERE id = $1", id).execute(db).await?;
    Ok(())
}

pub async fn delete_grants<'e>(db: impl Exec<'e>, connection_id: i64) -> Result<()> {
    sql!("DELETE FROM grants WHERE connection_id = $1", connection_id).execute(db).await?;
    Ok(())
}

/// Takes the refresh lease of a grant still at `version`, unless another holder's lease is still
/// running. One conditional UPDATE: on SQLite and PostgreSQL alike exactly one taker wins.
pub async fn take_lease<'e>(
    db: impl Exec<'e>,
    id: i64,
    version: i64,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    let take = "UPDATE grants SET lease_owner = $1, lease_until = $2 \
                WHERE id = $3 AND version = $4 AND (lease_until IS NULL OR lease_until < $5)";
    Ok(sql!(take, owner, until, id, version, now).execute(db).await?.rows_affected() == 1)
}

/// Gives the lease back (if still ours), recording a failed refresh when `retry_at` is set.
pub async fn release_lease<'e>(db: impl Exec<'e>, id: i64, owner: &str, retry_at: Option<i64>) -> Result<()> {
    let sql = "UPDATE grants SET lease_owner = NULL, lease_until = NULL, \
               refresh_failures = CASE WHEN $1 IS NULL THEN refresh_failures ELSE refresh_failures + 1 END, \
               retry_at = COALESCE($1, retry_at) WHERE id = $2 AND lease_owner = $3";
    sql!(sql, retry_at, id, owner).execute(db).await?;
    Ok(())
}

/// Gives the lease back (if still ours) after a refresh the provider refused for good: counted
/// as a failure of the streak (so it is told once, and its end too), with no time to retry at.
pub async fn release_refused<'e>(db: impl Exec<'e>, id: i64, owner: &str) -> Result<()> {
    let sql = "UPDATE grants SET lease_owner = NULL, lease_until = NULL, refresh_failures = refresh_failures + 1 \
               WHERE id = $1 AND lease_owner = $2";
    sql!(sql, id, owner).execute(db).await?;
    Ok(())
}

/// Stores refreshed tokens (already sealed for this row) and releases the lease, in the caller's
/// transaction; false when the lease was lost (it ran out and another instance took it).
pub async fn store_refreshed<'e>(
    db: impl Exec<'e>,
    id: i64,
    owner: &str,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    let store = "UPDATE grants SET access_token = $1, refresh_token = COALESCE($2, refresh_token), expires_at = $3, \
                 updated_at = $4, version = version + 1, lease_owner = NULL, lease_until = NULL, \
                 refresh_failures = 0, retry_at = NULL WHERE id = $5 AND lease_owner = $6";
    let r = sql!(store, access_token, refresh_token, expires_at, now, id, owner).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets every lease: at start-up of the embedded (single-instance) SQLite mode, a lease can
/// only be left over from a process that died.
pub async fn clear_leases<'e>(db: impl Exec<'e>) -> Result<u64> {
    let r = sqlx::query("UPDATE grants SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// The endpoint fingerprints the grants of predefined-service connections were made under, by
/// catalogue id and connection-level client ID (empty: the operator's client): a small set.
pub async fn predefined_custodies<'e>(db: impl Exec<'e>) -> Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT c.catalog_id, COALESCE(c.client_id, '') AS client_id, g.custody FROM grants g \
         JOIN connections c ON c.id = g.connection_id WHERE c.catalog_id IS NOT NULL AND g.custody IS NOT NULL",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get("catalog_id"), r.get("client_id"), r.get("custody"))).collect())
}

/// The grants an edit of a service's endpoints sets aside: their secrets go nowhere again.
#[derive(Debug, Clone, Copy)]
pub enum SetAside<'a> {
    /// Every grant of a custom service's connections; each of its connections that was authorised
    /// says why it needs a new authorisation.
    CustomService { org_id: i64, service_id: i64 },
    /// The grants a predefined service's connections (by catalogue id and connection-level
    /// client ID, empty for the operator's) made under `custody`; the shared connections that had
    /// one say why.
    Predefined { catalog_id: &'a str, client_id: &'a str, custody: &'a str },
}

/// How many connections now need a new authorisation, and how many grants went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetAsideCount {
    pub connections: u64,
    pub grants: u64,
}

/// The ids of the connections [`set_aside`] will move to Needs re-authorisation (those it finds
/// Connected or in error), to tell of each (`crate::webhooks`). Run it first, in its transaction.
pub async fn to_set_aside(db: &mut sqlx::AnyConnection, which: SetAside<'_>) -> Result<Vec<i64>> {
    let connections = match which {
        SetAside::CustomService { .. } => "org_id = $1 AND service_id = $2",
        SetAside::Predefined { .. } => {
            "per_user = 0 AND id IN (SELECT connection_id FROM grants WHERE custody = $3 AND connection_id IN \
             (SELECT id FROM connections WHERE catalog_id = $1 AND COALESCE(client_id, '') = $2))"
        }
    };
    let sql =
        format!("SELECT id FROM connections WHERE status IN ('connected', 'error') AND {connections} ORDER BY id");
    Ok(selection(sqlx::query(&sql), which).fetch_all(&mut *db).await?.iter().map(|r| r.get("id")).collect())
}

/// The people's own grants (connection id, user id) [`set_aside`] will delete, to tell of each
/// (`crate::webhooks`). Run it first, in its transaction.
pub async fn own_grants_to_set_aside(db: &mut sqlx::AnyConnection, which: SetAside<'_>) -> Result<Vec<(i64, i64)>> {
    let sql = format!(
        "SELECT connection_id, user_key FROM grants WHERE user_key <> 0 AND {} ORDER BY connection_id, user_key",
        grants_of(which)
    );
    let rows = selection(sqlx::query(&sql), which).fetch_all(&mut *db).await?;
    Ok(rows.iter().map(|r| (r.get("connection_id"), r.get("user_key"))).collect())
}

/// Which grants a set-aside takes (its selection's parameters are $1…).
fn grants_of(which: SetAside<'_>) -> &'static str {
    match which {
        SetAside::CustomService { .. } => {
            "connection_id IN (SELECT id FROM connections WHERE org_id = $1 AND service_id = $2)"
        }
        SetAside::Predefined { .. } => {
            "custody = $3 AND connection_id IN \
             (SELECT id FROM connections WHERE catalog_id = $1 AND COALESCE(client_id, '') = $2)"
        }
    }
}

/// Sets aside the grants `which` names, with the connections that say why and the authorisations
/// still in progress for them, which end as failed.
pub async fn set_aside(
    db: &mut sqlx::AnyConnection,
    which: SetAside<'_>,
    reason: &str,
    now: i64,
) -> Result<SetAsideCount> {
    // The selection's parameters come first ($1…), then the reason and the time.
    let (grants, connections, flows, reason_at) = match which {
        SetAside::CustomService { .. } => {
            let of_service = "SELECT id FROM connections WHERE org_id = $1 AND service_id = $2";
            (grants_of(which), "org_id = $1 AND service_id = $2".into(), of_service.into(), 3)
        }
        SetAside::Predefined { .. } => {
            let of_grants = format!("SELECT connection_id FROM grants WHERE {}", grants_of(which));
            (grants_of(which), format!("per_user = 0 AND id IN ({of_grants})"), of_grants, 4)
        }
    };
    let (r, t) = (format!("${reason_at}"), format!("${}", reason_at + 1));
    let mark = format!(
        "UPDATE connections SET status = 'needs_reauth', status_reason = {r}, updated_at = {t} \
         WHERE status IN ('connected', 'error', 'needs_reauth') AND {connections}"
    );
    let end_flows = format!(
        "UPDATE oauth_flows SET used_at = {t}, outcome = 'flow_invalid', outcome_message = {r}, \
         pkce_verifier = NULL WHERE used_at IS NULL AND connection_id IN ({flows})"
    );
    let delete = format!("DELETE FROM grants WHERE {grants}");
    // In this order: the first two find their rows through the grants the last deletes.
    let connections = selection(sqlx::query(&mark), which).bind(reason).bind(now).execute(&mut *db).await?;
    selection(sqlx::query(&end_flows), which).bind(reason).bind(now).execute(&mut *db).await?;
    let grants = selection(sqlx::query(&delete), which).execute(&mut *db).await?;
    Ok(SetAsideCount { connections: connections.rows_affected(), grants: grants.rows_affected() })
}

/// Binds the parameters of a [`SetAside`] selection.
fn selection<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    which: SetAside<'q>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match which {
        SetAside::CustomService { org_id, service_id } => q.bind(org_id).bind(service_id),
        SetAside::Predefined { catalog_id, client_id, custody } => q.bind(catalog_id).bind(client_id).bind(custody),
    }
}

/// The groups of grants that carry no custody record yet (made before Liaison kept them): by
/// organisation, custom service id or catalogue id, and connection-level client ID (empty: none).
pub async fn unstamped_groups<'e>(db: impl Exec<'e>) -> Result<Vec<(i64, Option<i64>, Option<String>, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT c.org_id, c.service_id, c.catalog_id, COALESCE(c.client_id, '') AS client_id FROM grants g \
         JOIN connections c ON c.id = g.connection_id WHERE g.custody IS NULL",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get("org_id"), r.get("service_id"), r.get("catalog_id"), r.get("client_id")))
        .collect())
}

/// Records `custody` on the unstamped grants of one group of [`unstamped_groups`].
pub async fn stamp_group<'e>(
    db: impl Exec<'e>,
    group: &(i64, Option<i64>, Option<String>, String),
    custody: &str,
) -> Result<u64> {
    let (org_id, service_id, catalog_id, client_id) = group;
    let sql = "UPDATE grants SET custody = $1 WHERE custody IS NULL AND connection_id IN (SELECT id FROM connections \
               WHERE org_id = $2 AND COALESCE(service_id, 0) = $3 AND COALESCE(catalog_id, '') = $4 \
               AND COALESCE(client_id, '') = $5)";
    let done = sql!(sql, custody, org_id, service_id.unwrap_or(0), catalog_id.as_deref().unwrap_or(""), client_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use sqlx::AnyPool;

    /// Two organisations, each with a custom service and connections to the catalogue service
    /// `gh`; connections in every state, shared and login-user, each with a grant (under custody
    /// `old` or `new`) and a flow in progress.
    async fn seed(pool: &sqlx::AnyPool) {
        for org in [1i64, 2] {
            sql!("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, 1)", org, format!("Org {org}"))
                .execute(pool)
                .await
                .unwrap();
            let user = "INSERT INTO users (id, org_id, email, name, role, password_hash, created_at) \
                        VALUES ($1, $1, $2, 'Ada', 'admin', 'x', 1)";
            sql!(user, org, format!("ada{org}@example.com")).execute(pool).await.unwrap();
            let service = "INSERT INTO services (id, org_id, name, name_key, spec, callback_key, created_at, \
                           updated_at) VALUES ($1, $2, 'S', 's', '{}', $3, 1, 1)";
            sql!(service, org * 7, org, format!("c-{org}")).execute(pool).await.unwrap();
        }
        let connection = "INSERT INTO connections (id, org_id, link_name, name, service_id, catalog_id, \
                          service_name, scopes, per_user, status, created_by_name, created_at, updated_at) \
                          VALUES ($1, $2, $3, $3, $4, $5, 'S', '[]', $6, $7, 'Ada', 1, 1)";
        let grant = "INSERT INTO grants (connection_id, user_key, access_token, authorised_by_name, authorised_at, \
                     updated_at, custody) VALUES ($1, 0, 'sealed', 'Ada', 1, 1, $2)";
        let flow = "INSERT INTO oauth_flows (ticket, state_hash, org_id, connection_id, user_id, user_key, \
                    session_hash, callback_key, scopes, pkce_verifier, created_at, expires_at) \
                    VALUES ($1, $1, $2, $3, $2, 0, 's', 'k', '[]', 'sealed', 1, 99)";
        for id in 1..=80 {
            let (org, custom, per_user, custody) = attributes(id);
            let status = STATUSES[((id - 1) / 4 % 5) as usize];
            let (service_id, catalog_id) = if custom { (Some(org * 7), None) } else { (None, Some("gh")) };
            sql!(connection, id, org, format!("c{id}"), service_id, catalog_id, i64::from(per_user), status)
                .execute(pool)
                .await
                .unwrap();
            sql!(grant, id, custody).execute(pool).await.unwrap();
            sql!(flow, format!("t{id}"), org, id).execute(pool).await.unwrap();
        }
    }

    const STATUSES: [&str; 5] = ["connected", "error", "needs_reauth", "not_connected", "revoked"];

    /// The seed's connection `id` (1 to 80): organisation, custom service or not, login-user or
    /// not, the custody of its grant.
    fn attributes(id: i64) -> (i64, bool, bool, &'static str) {
        let i = id - 1;
        (1 + i / 40, (i % 40) < 20, (i / 2) % 2 == 1, if i % 2 == 0 { "old" } else { "new" })
    }

    /// Per connection: status, reason, grants left, flow outcome, flow message, flow used at,
    /// verifier kept.
    type State = (String, Option<String>, i64, Option<String>, Option<String>, Option<i64>, bool);

    async fn state(pool: &sqlx::AnyPool) -> Vec<State> {
        let rows = sqlx::query(
            "SELECT c.status, c.status_reason, (SELECT COUNT(*) FROM grants g WHERE g.connection_id = c.id) AS n, \
             f.outcome, f.outcome_message, f.used_at, f.pkce_verifier \
             FROM connections c JOIN oauth_flows f ON f.connection_id = c.id ORDER BY c.id",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let row = |r: sqlx::any::AnyRow| {
            let verifier: Option<String> = r.get("pkce_verifier");
            let state: State = (
                r.get("status"),
                r.get("status_reason"),
                r.get("n"),
                r.get("outcome"),
                r.get("outcome_message"),
                r.get("used_at"),
                verifier.is_some(),
            );
            state
        };
        rows.into_iter().map(row).collect()
    }

    /// `before` after a set-aside of the connections `selected` picks, of which those `marked`
    /// allows say why when they were authorised.
    fn expected(before: &[State], selected: impl Fn(i64) -> bool, marked: impl Fn(i64) -> bool) -> Vec<State> {
        let after = |(i, s): (usize, &State)| {
            let id = i as i64 + 1;
            if !selected(id) {
                return s.clone();
            }
            let authorised = ["connected", "error", "needs_reauth"].contains(&s.0.as_str());
            let (status, reason) = if authorised && marked(id) {
                ("needs_reauth".into(), Some("moved".into()))
            } else {
                (s.0.clone(), s.1.clone())
            };
            (status, reason, 0, Some("flow_invalid".into()), Some("moved".into()), Some(50), false)
        };
        before.iter().enumerate().map(after).collect()
    }

    /// The two kinds of set-aside: what each selects (organisation, custom service, login-user,
    /// custody), which of those say why, and the counts it answers.
    #[allow(clippy::type_complexity)]
    const CASES: [(SetAside<'static>, fn(i64) -> bool, fn(i64) -> bool, SetAsideCount); 2] = [
        // A custom service of organisation 1: every grant of its connections; the authorised
        // ones (connected, error, needs_reauth), shared and login-user: 12 of 20.
        (
            SetAside::CustomService { org_id: 1, service_id: 7 },
            |id| matches!(attributes(id), (1, true, _, _)),
            |_| true,
            SetAsideCount { connections: 12, grants: 20 },
        ),
        // The catalogue service with the operator's client, in every organisation: only the
        // grants under that custody; only shared connections say why (a login-user connection
        // holds other people's grants).
        (
            SetAside::Predefined { catalog_id: "gh", client_id: "", custody: "old" },
            |id| matches!(attributes(id), (_, false, _, "old")),
            |id| !attributes(id).2,
            SetAsideCount { connections: 6, grants: 20 },
        ),
    ];

    db_test!(a_set_aside_names_the_peoples_own_grants_it_takes, async |pool: &AnyPool| {
        for (which, selected, _, counts) in CASES {
            sqlx::query("DELETE FROM organisations").execute(pool).await.unwrap();
            seed(pool).await;
            // Each login-user connection also holds its organisation's admin's own grant.
            let own = "INSERT INTO grants (connection_id, user_key, access_token, authorised_by_name, authorised_at, \
                       updated_at, custody) VALUES ($1, $2, 'sealed', 'Ada', 1, 1, $3)";
            let mut expected = Vec::new();
            for id in 1..=80 {
                let (org, _, per_user, custody) = attributes(id);
                if per_user {
                    sql!(own, id, org, custody).execute(pool).await.unwrap();
                    if selected(id) {
                        expected.push((id, org));
                    }
                }
            }
            let mut conn = pool.acquire().await.unwrap();
            assert_eq!(own_grants_to_set_aside(&mut conn, which).await.unwrap(), expected, "{which:?}");
            assert_eq!(expected.len(), 10);
            let grants = counts.grants + 10;
            assert_eq!(set_aside(&mut conn, which, "moved", 50).await.unwrap().grants, grants, "{which:?}");
        }
    });

    db_test!(a_set_aside_takes_the_grants_it_selects_and_touches_nothing_else, async |pool: &AnyPool| {
        for (which, selected, marked, counts) in CASES {
            sqlx::query("DELETE FROM organisations").execute(pool).await.unwrap();
            seed(pool).await;
            let before = state(pool).await;
            let mut conn = pool.acquire().await.unwrap();
            // Those told of: the selected and marked ones that were Connected or in error.
            let told: Vec<i64> = (1..=80)
                .filter(|&id| {
                    selected(id) && marked(id) && ["connected", "error"].contains(&before[id as usize - 1].0.as_str())
                })
                .collect();
            assert_eq!(to_set_aside(&mut conn, which).await.unwrap(), told, "{which:?}");
            assert!(!told.is_empty());
            assert_eq!(set_aside(&mut conn, which, "moved", 50).await.unwrap(), counts, "{which:?}");
            assert_eq!(state(pool).await, expected(&before, selected, marked), "{which:?}");
        }
    });
}
