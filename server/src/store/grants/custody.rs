//! The custody records of grants (`crate::custody`): which endpoint fingerprints grants were made
//! under, setting aside the grants of a service whose endpoints moved (and telling whom it
//! concerns), and stamping the grants made before Liaison kept them.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;
use sqlx::Row;

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
