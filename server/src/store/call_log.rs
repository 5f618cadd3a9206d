//! Reading the API call log (written by `crate::calls`): a connection's most recent calls, newest
//! first, within one organisation, and, for a viewer who may see only their own, only the calls
//! made with their own API tokens.

use crate::error::Result;
use crate::store::{sql, Exec};
use sqlx::Row;

/// One logged call, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub at: i64,
    /// Who called: `email (token name)`.
    pub actor: String,
    pub method: String,
    pub host: String,
    /// The answer's status (0: none came).
    pub status: i64,
    pub latency_ms: i64,
    pub error_code: Option<String>,
}

/// The `limit` most recent calls of the link name `link` in the organisation, newest first; with
/// `actor_prefix`, only those whose caller starts with it.
pub async fn recent<'e>(
    db: impl Exec<'e>,
    org_id: i64,
    link: &str,
    actor_prefix: Option<&str>,
    limit: i64,
) -> Result<Vec<CallRow>> {
    let sql = "SELECT at, actor, method, host, status, latency_ms, error_code FROM api_calls \
               WHERE org_id = $1 AND link_name = $2 AND ($3 = '' OR substr(actor, 1, length($3)) = $3) \
               ORDER BY at DESC, id DESC LIMIT $4";
    let rows = sql!(sql, org_id, link, actor_prefix.unwrap_or_default(), limit).fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| CallRow {
            at: r.get("at"),
            actor: r.get("actor"),
            method: r.get("method"),
            host: r.get("host"),
            status: r.get("status"),
            latency_ms: r.get("latency_ms"),
            error_code: r.get("error_code"),
        })
        .collect())
}
