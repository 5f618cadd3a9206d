//! Connections: an organisation's named uses of a service, and their grants (the credentials).
//! Every query names the organisation.

use crate::error::{is_unique_violation, Error, Result};
use crate::store::{DbKind, Store};
use app::connection::{ConnectionQuery, ConnectionStatus, ServiceRef};
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    pub id: i64,
    pub org_id: i64,
    pub link_name: String,
    pub name: String,
    pub service: ServiceRef,
    pub service_name: String,
    pub scopes: Vec<String>,
    pub per_user: bool,
    pub internal: bool,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    pub client_id: Option<String>,
    /// Sealed.
    pub client_secret: Option<String>,
    pub created_by: Option<i64>,
    pub created_by_name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct NewConnection<'a> {
    pub org_id: i64,
    pub link_name: &'a str,
    pub name: &'a str,
    pub service: &'a ServiceRef,
    pub service_name: &'a str,
    pub scopes: &'a [String],
    pub per_user: bool,
    pub internal: bool,
    pub client_id: Option<&'a str>,
    pub created_by: Option<i64>,
    pub created_by_name: &'a str,
}

const COLUMNS: &str = "id, org_id, link_name, name, service_id, catalog_id, service_name, scopes, per_user, internal, \
                       status, status_reason, client_id, client_secret, created_by, created_by_name, created_at, last_used_at";

pub fn scopes_json(scopes: &[String]) -> String {
    serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into())
}

pub async fn create<'e>(db: impl Executor<'e, Database = Any>, c: NewConnection<'_>, now: i64) -> Result<i64> {
    let (service_id, catalog_id) = match c.service {
        ServiceRef::Custom(id) => (Some(*id), None),
        ServiceRef::Predefined(id) => (None, Some(id.as_str())),
    };
    sqlx::query_scalar(
        "INSERT INTO connections (org_id, link_name, name, service_id, catalog_id, service_name, scopes, per_user, \
         internal, status, client_id, created_by, created_by_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'not_connected', $10, $11, $12, $13, $13) RETURNING id",
    )
    .bind(c.org_id)
    .bind(c.link_name)
    .bind(c.name)
    .bind(service_id)
    .bind(catalog_id)
    .bind(c.service_name)
    .bind(scopes_json(c.scopes))
    .bind(i64::from(c.per_user))
    .bind(i64::from(c.internal))
    .bind(c.client_id)
    .bind(c.created_by)
    .bind(c.created_by_name)
    .bind(now)
    .fetch_one(db)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::Field {
                field: "link_name",
                message: "Another connection already uses this link name. Link names are unique in your organisation."
                    .into(),
            }
        } else {
            e.into()
        }
    })
}

fn record(r: sqlx::any::AnyRow) -> Result<ConnectionRecord> {
    let service = match (r.get::<Option<i64>, _>("service_id"), r.get::<Option<String>, _>("catalog_id")) {
        (Some(id), _) => ServiceRef::Custom(id),
        (None, Some(id)) => ServiceRef::Predefined(id),
        (None, None) => return Err(Error::Invalid("a connection without a service".into())),
    };
    let status: String = r.get("status");
    let scopes: String = r.get("scopes");
    Ok(ConnectionRecord {
        id: r.get("id"),
        org_id: r.get("org_id"),
        link_name: r.get("link_name"),
        name: r.get("name"),
        service,
        service_name: r.get("service_name"),
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        per_user: r.get::<i64, _>("per_user") == 1,
        internal: r.get::<i64, _>("internal") == 1,
        status: ConnectionStatus::parse(&status)
            .ok_or_else(|| Error::Invalid(format!("unknown connection status {status:?}")))?,
        status_reason: r.get("status_reason"),
        client_id: r.get("client_id"),
        client_secret: r.get("client_secret"),
        created_by: r.get("created_by"),
        created_by_name: r.get("created_by_name"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
    })
}

pub async fn by_link<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: i64,
    link_name: &str,
) -> Result<Option<ConnectionRecord>> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND link_name = $2"))
        .bind(org_id)
        .bind(link_name)
        .fetch_optional(db)
        .await?;
    r.map(record).transpose()
}

pub async fn by_id<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: i64,
    id: i64,
) -> Result<Option<ConnectionRecord>> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
    r.map(record).transpose()
}

/// A search at least this long (in characters) uses SQLite's trigram index (FTS5); a shorter one
/// has no trigram to look up and scans.
const TRIGRAM: usize = 3;
/// Above this many matches, the page of an indexed search walks the list's index newest first,
/// testing each row against the matches; at or below it, the matches are sorted.
const MANY_MATCHES: i64 = 1_000;

/// `term` as one FTS5 phrase: matched as a substring by the trigram tokenizer, case folded.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// `term` as a LIKE pattern with `\` as the escape.
fn like_pattern(term: &str) -> String {
    format!("%{}%", term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// One page of the list, newest first, and the total that matches. Each filter is in the SQL
/// only when it is used, so the planner can use the indexes for the ones that are: the list's
/// index (organisation, internal, created_at) always; a search through SQLite's trigram index
/// (migration 0006, FTS5) or PostgreSQL's pg_trgm indexes where the extension is installed.
pub async fn page(
    store: &Store,
    org_id: i64,
    q: &ConnectionQuery,
    per_page: i64,
) -> Result<(Vec<ConnectionRecord>, i64)> {
    let search = q.search.trim().to_lowercase();
    let mut binds: Vec<String> = Vec::new();
    let param = |binds: &mut Vec<String>, value: String| {
        binds.push(value);
        format!("${}", binds.len() + 2)
    };
    let mut filter = String::from("c.org_id = $1 AND c.internal = $2");
    if let Some(status) = q.status {
        filter.push_str(&format!(" AND c.status = {}", param(&mut binds, status.as_str().to_string())));
    }
    let indexed = !search.is_empty() && store.kind == DbKind::Sqlite && search.chars().count() >= TRIGRAM;
    let mut matches = String::new();
    if indexed {
        matches = param(&mut binds, fts_phrase(&search));
    } else if !search.is_empty() {
        let p = param(&mut binds, like_pattern(&search));
        filter.push_str(&format!(
            " AND (LOWER(c.name) LIKE {p} ESCAPE '\\' OR c.link_name LIKE {p} ESCAPE '\\' \
             OR LOWER(c.service_name) LIKE {p} ESCAPE '\\')"
        ));
    }
    // The matches drive the count when there is an index to find them: one lookup each, in a
    // narrow index of the columns the filters read.
    let from_matches = |scope: &str| {
        format!(
            "connections_search CROSS JOIN connections c {scope} ON c.id = connections_search.rowid \
             WHERE connections_search MATCH {matches} AND {filter}"
        )
    };
    let count_sql = if indexed {
        format!("SELECT COUNT(*) FROM {}", from_matches("INDEXED BY connections_scope"))
    } else {
        format!("SELECT COUNT(*) FROM connections c WHERE {filter}")
    };
    let (limit, offset) = (binds.len() + 3, binds.len() + 4);
    let order = "ORDER BY created_at DESC, id DESC";
    let page_sql = |few: bool| {
        if indexed && few {
            format!(
                "SELECT {COLUMNS} FROM connections WHERE id IN (SELECT c.id FROM {} \
                 ORDER BY c.created_at DESC, c.id DESC LIMIT ${limit} OFFSET ${offset}) {order}",
                from_matches("")
            )
        } else if indexed {
            // Named, or SQLite's planner drives the page from the matches and sorts them all.
            format!(
                "SELECT {COLUMNS} FROM connections c INDEXED BY connections_list WHERE {filter} AND c.id IN \
                 (SELECT rowid FROM connections_search WHERE connections_search MATCH {matches}) {order} \
                 LIMIT ${limit} OFFSET ${offset}"
            )
        } else {
            format!("SELECT {COLUMNS} FROM connections c WHERE {filter} {order} LIMIT ${limit} OFFSET ${offset}")
        }
    };
    let binds = &binds;
    let count = |sql: String| async move {
        let mut count = sqlx::query_scalar::<_, i64>(&sql).bind(org_id).bind(i64::from(q.internal));
        for b in binds {
            count = count.bind(b);
        }
        count.fetch_one(&store.pool).await
    };
    let rows = |sql: String| async move {
        let mut rows = sqlx::query(&sql).bind(org_id).bind(i64::from(q.internal));
        for b in binds {
            rows = rows.bind(b);
        }
        rows.bind(per_page).bind(i64::from(q.page) * per_page).fetch_all(&store.pool).await
    };
    let (total, rows) = if indexed {
        // Counted first up to one past the threshold: that stops early when there are many
        // matches, and is the exact total when there are not. A few matches are then sorted for
        // the page; with many, the page walks the list's index newest first, testing each row,
        // while the full count runs beside it.
        let bounded = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT {})",
            from_matches("INDEXED BY connections_scope"),
            MANY_MATCHES + 1
        );
        let few = count(bounded).await?;
        if few <= MANY_MATCHES {
            (few, rows(page_sql(true)).await?)
        } else {
            tokio::try_join!(count(count_sql), rows(page_sql(false)))?
        }
    } else {
        // Side by side, on two connections of the pool.
        tokio::try_join!(count(count_sql), rows(page_sql(false)))?
    };
    Ok((rows.into_iter().map(record).collect::<Result<_>>()?, total))
}

pub async fn set_status<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    status: ConnectionStatus,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE connections SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4")
        .bind(status.as_str())
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn update_details<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    name: &str,
    scopes: &[String],
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE connections SET name = $1, scopes = $2, updated_at = $3 WHERE id = $4")
        .bind(name)
        .bind(scopes_json(scopes))
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete<'e>(db: impl Executor<'e, Database = Any>, org_id: i64, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM connections WHERE org_id = $1 AND id = $2").bind(org_id).bind(id).execute(db).await?;
    Ok(())
}

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
pub async fn grant<'e>(
    db: impl Executor<'e, Database = Any>,
    connection_id: i64,
    user_key: i64,
) -> Result<Option<GrantRecord>> {
    let r = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 AND user_key = $2"))
        .bind(connection_id)
        .bind(user_key)
        .fetch_optional(db)
        .await?;
    Ok(r.map(grant_record))
}

/// A grant by its id.
pub async fn grant_by_id<'e>(db: impl Executor<'e, Database = Any>, id: i64) -> Result<Option<GrantRecord>> {
    let r =
        sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1")).bind(id).fetch_optional(db).await?;
    Ok(r.map(grant_record))
}

/// Every grant of a connection (for revoking them all).
pub async fn grants<'e>(db: impl Executor<'e, Database = Any>, connection_id: i64) -> Result<Vec<GrantRecord>> {
    let rows = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE connection_id = $1 ORDER BY id"))
        .bind(connection_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(grant_record).collect())
}

pub async fn user_grant_count<'e>(db: impl Executor<'e, Database = Any>, connection_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE connection_id = $1 AND user_key <> 0")
        .bind(connection_id)
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
    Ok(sqlx::query_scalar(
        "INSERT INTO grants (connection_id, user_key, username, expires_at, granted_scopes, authorised_by, \
         authorised_by_name, authorised_at, updated_at, custody) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
         ON CONFLICT (connection_id, user_key) DO UPDATE SET access_token = NULL, refresh_token = NULL, \
         username = excluded.username, expires_at = excluded.expires_at, granted_scopes = excluded.granted_scopes, \
         authorised_by = excluded.authorised_by, authorised_by_name = excluded.authorised_by_name, \
         authorised_at = excluded.authorised_at, updated_at = excluded.updated_at, version = grants.version + 1, \
         lease_owner = NULL, lease_until = NULL, refresh_failures = 0, retry_at = NULL, custody = excluded.custody \
         RETURNING id",
    )
    .bind(connection_id)
    .bind(user_key)
    .bind(m.username)
    .bind(m.expires_at)
    .bind(scopes)
    .bind(m.authorised_by)
    .bind(m.authorised_by_name)
    .bind(now)
    .bind(m.custody)
    .fetch_one(db)
    .await?)
}

pub async fn delete_grant<'e>(db: impl Executor<'e, Database = Any>, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM grants WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

pub async fn delete_grants<'e>(db: impl Executor<'e, Database = Any>, connection_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM grants WHERE connection_id = $1").bind(connection_id).execute(db).await?;
    Ok(())
}

/// Takes the refresh lease of a grant still at `version`, unless another holder's lease is still
/// running. One conditional UPDATE: on SQLite and PostgreSQL alike exactly one taker wins.
pub async fn take_lease<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    version: i64,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE grants SET lease_owner = $1, lease_until = $2 \
         WHERE id = $3 AND version = $4 AND (lease_until IS NULL OR lease_until < $5)",
    )
    .bind(owner)
    .bind(until)
    .bind(id)
    .bind(version)
    .bind(now)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives the lease back (if still ours), recording a failed refresh when `retry_at` is set.
pub async fn release_lease<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    owner: &str,
    retry_at: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "UPDATE grants SET lease_owner = NULL, lease_until = NULL, \
         refresh_failures = CASE WHEN $1 IS NULL THEN refresh_failures ELSE refresh_failures + 1 END, \
         retry_at = COALESCE($1, retry_at) WHERE id = $2 AND lease_owner = $3",
    )
    .bind(retry_at)
    .bind(id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(())
}

/// Stores refreshed tokens (already sealed for this row) and releases the lease, in the caller's
/// transaction; false when the lease was lost (it ran out and another instance took it).
pub async fn store_refreshed<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    owner: &str,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE grants SET access_token = $1, refresh_token = COALESCE($2, refresh_token), expires_at = $3, \
         updated_at = $4, version = version + 1, lease_owner = NULL, lease_until = NULL, refresh_failures = 0, \
         retry_at = NULL WHERE id = $5 AND lease_owner = $6",
    )
    .bind(access_token)
    .bind(refresh_token)
    .bind(expires_at)
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets every lease: at start-up of the embedded (single-instance) SQLite mode, a lease can
/// only be left over from a process that died.
pub async fn clear_leases<'e>(db: impl Executor<'e, Database = Any>) -> Result<u64> {
    let r = sqlx::query("UPDATE grants SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// Marks a connection used (for the list's "last used" column).
pub async fn touch<'e>(db: impl Executor<'e, Database = Any>, id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE connections SET last_used_at = $1 WHERE id = $2").bind(now).bind(id).execute(db).await?;
    Ok(())
}

/// A custom service's endpoints moved: every grant of its connections is deleted (their secrets
/// go nowhere), the connections that had one say why they need a new authorisation, and the
/// authorisations still in progress for them end as failed. Returns how many connections changed.
pub async fn set_aside_for_service(
    db: &mut sqlx::AnyConnection,
    org_id: i64,
    service_id: i64,
    reason: &str,
    now: i64,
) -> Result<u64> {
    let of_service = "SELECT id FROM connections WHERE org_id = $1 AND service_id = $2";
    sqlx::query(&format!("DELETE FROM grants WHERE connection_id IN ({of_service})"))
        .bind(org_id)
        .bind(service_id)
        .execute(&mut *db)
        .await?;
    sqlx::query(&format!(
        "UPDATE oauth_flows SET used_at = $3, outcome = 'flow_invalid', outcome_message = $4, pkce_verifier = NULL \
         WHERE used_at IS NULL AND connection_id IN ({of_service})"
    ))
    .bind(org_id)
    .bind(service_id)
    .bind(now)
    .bind(reason)
    .execute(&mut *db)
    .await?;
    let changed = sqlx::query(
        "UPDATE connections SET status = 'needs_reauth', status_reason = $3, updated_at = $4 \
         WHERE org_id = $1 AND service_id = $2 AND status IN ('connected', 'error', 'needs_reauth')",
    )
    .bind(org_id)
    .bind(service_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(changed.rows_affected())
}

/// The endpoint fingerprints the grants of predefined-service connections were made under, by
/// catalogue id and connection-level client ID (empty: the operator's client): a small set.
pub async fn predefined_custodies<'e>(db: impl Executor<'e, Database = Any>) -> Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT c.catalog_id, COALESCE(c.client_id, '') AS client_id, g.custody FROM grants g \
         JOIN connections c ON c.id = g.connection_id WHERE c.catalog_id IS NOT NULL AND g.custody IS NOT NULL",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get("catalog_id"), r.get("client_id"), r.get("custody"))).collect())
}

/// Sets aside the grants a predefined service's connections made under `custody` (see
/// [`set_aside_for_service`]); returns how many grants went.
pub async fn set_aside_predefined(
    db: &mut sqlx::AnyConnection,
    catalog_id: &str,
    client_id: &str,
    custody: &str,
    reason: &str,
    now: i64,
) -> Result<u64> {
    let affected = "SELECT g.connection_id FROM grants g JOIN connections c ON c.id = g.connection_id \
                    WHERE c.catalog_id = $1 AND COALESCE(c.client_id, '') = $2 AND g.custody = $3";
    sqlx::query(&format!(
        "UPDATE connections SET status = 'needs_reauth', status_reason = $4, updated_at = $5 \
         WHERE per_user = 0 AND status IN ('connected', 'error', 'needs_reauth') AND id IN ({affected})"
    ))
    .bind(catalog_id)
    .bind(client_id)
    .bind(custody)
    .bind(reason)
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query(&format!(
        "UPDATE oauth_flows SET used_at = $4, outcome = 'flow_invalid', outcome_message = $5, pkce_verifier = NULL \
         WHERE used_at IS NULL AND connection_id IN ({affected})"
    ))
    .bind(catalog_id)
    .bind(client_id)
    .bind(custody)
    .bind(now)
    .bind(reason)
    .execute(&mut *db)
    .await?;
    let gone = sqlx::query(
        "DELETE FROM grants WHERE custody = $3 AND connection_id IN \
         (SELECT id FROM connections c WHERE c.catalog_id = $1 AND COALESCE(c.client_id, '') = $2)",
    )
    .bind(catalog_id)
    .bind(client_id)
    .bind(custody)
    .execute(&mut *db)
    .await?;
    Ok(gone.rows_affected())
}

/// The groups of grants that carry no custody record yet (made before Liaison kept them): by
/// organisation, custom service id or catalogue id, and connection-level client ID (empty: none).
pub async fn unstamped_groups<'e>(
    db: impl Executor<'e, Database = Any>,
) -> Result<Vec<(i64, Option<i64>, Option<String>, String)>> {
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
    db: impl Executor<'e, Database = Any>,
    group: &(i64, Option<i64>, Option<String>, String),
    custody: &str,
) -> Result<u64> {
    let (org_id, service_id, catalog_id, client_id) = group;
    let done = sqlx::query(
        "UPDATE grants SET custody = $1 WHERE custody IS NULL AND connection_id IN (SELECT id FROM connections \
         WHERE org_id = $2 AND COALESCE(service_id, 0) = $3 AND COALESCE(catalog_id, '') = $4 \
         AND COALESCE(client_id, '') = $5)",
    )
    .bind(custody)
    .bind(org_id)
    .bind(service_id.unwrap_or(0))
    .bind(catalog_id.as_deref().unwrap_or(""))
    .bind(client_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    struct Row {
        id: i64,
        name: String,
        link: String,
        service: String,
        internal: bool,
        status: ConnectionStatus,
        created_at: i64,
    }

    const SERVICES: [&str; 4] = ["GitHub", "Slack", "Zoho 100%_off", "Quote \"x\" \\ back"];
    const STATUSES: [ConnectionStatus; 3] =
        [ConnectionStatus::Connected, ConnectionStatus::Revoked, ConnectionStatus::NeedsReauth];

    /// 1,300 connections of organisation 1 (and a few of organisation 2 that must never show).
    async fn seed(store: &Store) -> Vec<Row> {
        for sql in [
            "INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', 1)",
            "INSERT INTO organisations (id, name, created_at) VALUES (2, 'Other', 1)",
        ] {
            sqlx::query(sql).execute(&store.pool).await.unwrap();
        }
        let mut rows = Vec::new();
        let mut tx = store.pool.begin().await.unwrap();
        for i in 0..1_300i64 {
            let org = if i % 97 == 0 { 2 } else { 1 };
            let row = Row {
                id: i + 1,
                name: if i % 3 == 0 { format!("GitHub Sync {i}") } else { format!("Nightly {i}") },
                link: format!("conn_{i}"),
                service: SERVICES[(i % 4) as usize].to_string(),
                internal: i % 10 == 0,
                status: STATUSES[(i % 3) as usize],
                // Some share a time: the id breaks the tie.
                created_at: 1_000 + i / 2,
            };
            sqlx::query(
                "INSERT INTO connections (id, org_id, link_name, name, catalog_id, service_name, scopes, internal, \
                 status, created_by_name, created_at, updated_at) VALUES ($1, $2, $3, $4, 'x', $5, '[]', $6, $7, 'Ada', $8, $8)",
            )
            .bind(row.id)
            .bind(org)
            .bind(&row.link)
            .bind(&row.name)
            .bind(&row.service)
            .bind(i64::from(row.internal))
            .bind(row.status.as_str())
            .bind(row.created_at)
            .execute(&mut *tx)
            .await
            .unwrap();
            if org == 1 {
                rows.push(row);
            }
        }
        tx.commit().await.unwrap();
        rows
    }

    /// What the list must answer, computed here.
    fn expected(rows: &[Row], q: &ConnectionQuery, per_page: usize) -> (Vec<i64>, i64) {
        let term = q.search.trim().to_lowercase();
        let mut hits: Vec<&Row> = rows
            .iter()
            .filter(|r| r.internal == q.internal && q.status.is_none_or(|s| s == r.status))
            .filter(|r| {
                term.is_empty()
                    || r.name.to_lowercase().contains(&term)
                    || r.link.contains(&term)
                    || r.service.to_lowercase().contains(&term)
            })
            .collect();
        hits.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        let ids = hits.iter().skip(q.page as usize * per_page).take(per_page).map(|r| r.id).collect();
        (ids, hits.len() as i64)
    }

    #[tokio::test]
    async fn search_filters_and_pages_answer_as_a_plain_scan_would_on_both_databases() {
        for db in testing::all().await {
            let store = &db.store;
            let rows = seed(store).await;
            let searches = [
                "",
                "git",
                "github",
                "  GITHUB sync ",
                "gi",
                "n",
                "100%",
                "%_",
                "_o",
                "\"x\"",
                "\\",
                "zzz",
                "conn_12",
                "conn",
                "sync 3",
            ];
            let mut indexed_many = false;
            for search in searches {
                for status in [None, Some(ConnectionStatus::Revoked)] {
                    for internal in [false, true] {
                        for page_no in [0, 1, 9] {
                            let q = ConnectionQuery {
                                internal,
                                search: search.to_string(),
                                status,
                                page: page_no,
                                per_page: 50,
                            };
                            let (want, want_total) = expected(&rows, &q, 50);
                            let (got, total) = page(store, 1, &q, 50).await.unwrap();
                            let got: Vec<i64> = got.iter().map(|c| c.id).collect();
                            assert_eq!(
                                (got, total),
                                (want, want_total),
                                "{:?}: {search:?} {status:?} internal={internal} page={page_no}",
                                store.kind
                            );
                            // More matches in the organisation than the threshold: more in the index too.
                            indexed_many |= search.chars().count() >= TRIGRAM && total > MANY_MATCHES;
                        }
                    }
                }
            }
            assert!(indexed_many, "a search with more than {MANY_MATCHES} matches was tried");
        }
    }

    #[tokio::test]
    async fn the_search_index_follows_renames_and_deletes() {
        for db in testing::all().await {
            let store = &db.store;
            seed(store).await;
            let q = |search: &str| ConnectionQuery {
                internal: false,
                search: search.into(),
                status: None,
                page: 0,
                per_page: 50,
            };
            assert_eq!(page(store, 1, &q("zebra"), 50).await.unwrap().1, 0);
            let nightly_1 = page(store, 1, &q("nightly 1"), 50).await.unwrap().1;
            sqlx::query("UPDATE connections SET name = 'Zebra Crossing' WHERE id = 2")
                .execute(&store.pool)
                .await
                .unwrap();
            let (found, total) = page(store, 1, &q("zebra"), 50).await.unwrap();
            assert_eq!((found.first().map(|c| c.id), total), (Some(2), 1), "{:?}", store.kind);
            assert_eq!(page(store, 1, &q("nightly 1"), 50).await.unwrap().1, nightly_1 - 1, "the old name is gone");
            sqlx::query("DELETE FROM connections WHERE id = 2").execute(&store.pool).await.unwrap();
            assert_eq!(page(store, 1, &q("zebra"), 50).await.unwrap().1, 0, "{:?}", store.kind);
        }
    }
}
