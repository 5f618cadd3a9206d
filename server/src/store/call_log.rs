//! Reading the API call log (written by `crate::calls`): a connection's most recent calls, newest
//! first, within one organisation, from a given time on, and, for a viewer who may see only their
//! own, only the calls made with their own API tokens.

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
    /// Requests sent to the service (more than 1 when the call was retried).
    pub attempts: i64,
}

/// Whose calls: everyone's, or only those of the caller whose label starts with the prefix (a
/// person's `email (token ` label, `crate::calls::caller_label`). An empty prefix matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose<'a> {
    Everyone,
    Caller(&'a str),
}

/// The `limit` most recent calls of the link name `link` in the organisation made at `since` or
/// later (Unix ms), newest first, of `whose`.
pub async fn recent<'e>(
    db: impl Exec<'e>,
    org_id: i64,
    link: &str,
    since: i64,
    whose: Whose<'_>,
    limit: i64,
) -> Result<Vec<CallRow>> {
    const COLUMNS: &str = "SELECT at, actor, method, host, status, latency_ms, error_code, attempts FROM api_calls \
                           WHERE org_id = $1 AND link_name = $2 AND at >= $3";
    let rows = match whose {
        Whose::Everyone => {
            let sql = format!("{COLUMNS} ORDER BY at DESC, id DESC LIMIT $4");
            sql!(&sql, org_id, link, since, limit).fetch_all(db).await?
        }
        Whose::Caller("") => Vec::new(),
        Whose::Caller(prefix) => {
            let sql = format!("{COLUMNS} AND substr(actor, 1, length($4)) = $4 ORDER BY at DESC, id DESC LIMIT $5");
            sql!(&sql, org_id, link, since, prefix, limit).fetch_all(db).await?
        }
    };
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
            attempts: r.get("attempts"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::orgs;
    use crate::store::testing::db_test;
    use sqlx::AnyPool;

    db_test!(calls_are_read_from_a_time_on_for_everyone_or_one_caller_never_an_empty_prefix, async |pool: &AnyPool| {
        let org = orgs::create(pool, "Acme", 1).await.unwrap();
        for (at, actor) in
            [(10, "ada@acme.example (token a)"), (20, "bob@acme.example (token b)"), (30, "ada@acme.example (token c)")]
        {
            sql!(
                "INSERT INTO api_calls (org_id, at, actor, link_name, method, host, status, latency_ms) \
                  VALUES ($1, $2, $3, 'crm', 'GET', 'h', 200, 1)",
                org,
                at,
                actor
            )
            .execute(pool)
            .await
            .unwrap();
        }
        let ats = |rows: Vec<CallRow>| rows.iter().map(|r| r.at).collect::<Vec<_>>();
        assert_eq!(ats(recent(pool, org, "crm", 0, Whose::Everyone, 10).await.unwrap()), [30, 20, 10]);
        assert_eq!(ats(recent(pool, org, "crm", 20, Whose::Everyone, 10).await.unwrap()), [30, 20]);
        let ada = Whose::Caller("ada@acme.example (token ");
        assert_eq!(ats(recent(pool, org, "crm", 0, ada, 10).await.unwrap()), [30, 10]);
        assert_eq!(ats(recent(pool, org, "crm", 11, ada, 1).await.unwrap()), [30]);
        assert!(recent(pool, org, "crm", 0, Whose::Caller(""), 10).await.unwrap().is_empty(), "not everyone's");
        assert!(recent(pool, org + 1, "crm", 0, Whose::Everyone, 10).await.unwrap().is_empty());
    });
}
