//! Connections: an organisation's named uses of a service (their grants are `super::grants`).
//! Every query names the organisation.

use crate::error::{is_unique_violation, Error, Result};
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use crate::store::{DbKind, Store};
use app::connection::{ConnectionQuery, ConnectionStatus, ServiceRef};
use sqlx::Row;

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

pub async fn create<'e>(db: impl Exec<'e>, c: NewConnection<'_>, now: i64) -> Result<i64> {
    let (service_id, catalog_id) = match c.service {
        ServiceRef::Custom(id) => (Some(*id), None),
        ServiceRef::Predefined(id) => (None, Some(id.as_str())),
    };
    sql_scalar!(
        "INSERT INTO connections (org_id, link_name, name, service_id, catalog_id, service_name, scopes, per_user, \
         internal, status, client_id, created_by, created_by_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'not_connected', $10, $11, $12, $13, $13) RETURNING id",
        c.org_id,
        c.link_name,
        c.name,
        service_id,
        catalog_id,
        c.service_name,
        scopes_json(c.scopes),
        i64::from(c.per_user),
        i64::from(c.internal),
        c.client_id,
        c.created_by,
        c.created_by_name,
        now
    )
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

pub async fn by_link<'e>(db: impl Exec<'e>, org_id: i64, link_name: &str) -> Result<Option<ConnectionRecord>> {
    let r = sql!(&format!("SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND link_name = $2"), org_id, link_name)
        .fetch_optional(db)
        .await?;
    r.map(record).transpose()
}

pub async fn by_id<'e>(db: impl Exec<'e>, org_id: i64, id: i64) -> Result<Option<ConnectionRecord>> {
    let r = sql!(&format!("SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND id = $2"), org_id, id)
        .fetch_optional(db)
        .await?;
    r.map(record).transpose()
}

/// A connection found by id alone, for what spans organisations (an operator's change to a
/// predefined service at start); everything a person asks for goes through [`by_id`].
pub async fn by_id_any_org<'e>(db: impl Exec<'e>, id: i64) -> Result<Option<ConnectionRecord>> {
    let r = sql!(&format!("SELECT {COLUMNS} FROM connections WHERE id = $1"), id).fetch_optional(db).await?;
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
        let mut rows = sql!(&sql, org_id, i64::from(q.internal));
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
    db: impl Exec<'e>,
    id: i64,
    status: ConnectionStatus,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    let sql = "UPDATE connections SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4";
    sql!(sql, status.as_str(), reason, now, id).execute(db).await?;
    Ok(())
}

pub async fn update_details<'e>(db: impl Exec<'e>, id: i64, name: &str, scopes: &[String], now: i64) -> Result<()> {
    let sql = "UPDATE connections SET name = $1, scopes = $2, updated_at = $3 WHERE id = $4";
    sql!(sql, name, scopes_json(scopes), now, id).execute(db).await?;
    Ok(())
}

pub async fn delete<'e>(db: impl Exec<'e>, org_id: i64, id: i64) -> Result<()> {
    sql!("DELETE FROM connections WHERE org_id = $1 AND id = $2", org_id, id).execute(db).await?;
    Ok(())
}

/// Marks a connection used (for the list's "last used" column).
pub async fn touch<'e>(db: impl Exec<'e>, id: i64, now: i64) -> Result<()> {
    sql!("UPDATE connections SET last_used_at = $1 WHERE id = $2", now, id).execute(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
