//! The audit log: who did what to which connection or service, and when. Never a secret: callers
//! pass names, link names and outcomes only.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;
use sqlx::Row;

/// Who acts, in which organisation (none: the whole installation), and when: the part of an
/// entry a journey knows before it says what was done.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    pub org_id: Option<i64>,
    pub actor: &'a str,
    pub at: i64,
}

impl<'a> By<'a> {
    pub fn new(org_id: Option<i64>, actor: &'a str, at: i64) -> By<'a> {
        By { org_id, actor, at }
    }

    /// Liaison itself (a refresh, a start-up check), not a person.
    pub fn liaison(org_id: Option<i64>, at: i64) -> By<'static> {
        By { org_id, actor: "Liaison", at }
    }

    /// Records `action` on `target` (a link name, a service or a person's email), with a detail
    /// in words.
    pub async fn record<'e>(&self, db: impl Exec<'e>, action: &str, target: &str, detail: Option<&str>) -> Result<()> {
        let sql = "INSERT INTO audit_log (org_id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)";
        sql!(sql, self.org_id, self.at, self.actor, action, target, detail).execute(db).await?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Option<String>,
}

/// The organisation's newest entries first.
pub async fn recent<'e>(db: impl Exec<'e>, org_id: i64, limit: i64) -> Result<Vec<Entry>> {
    let sql = "SELECT at, actor, action, target, detail FROM audit_log WHERE org_id = $1 ORDER BY id DESC LIMIT $2";
    let rows = sql!(sql, org_id, limit).fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| Entry {
            at: r.get("at"),
            actor: r.get("actor"),
            action: r.get("action"),
            target: r.get("target"),
            detail: r.get("detail"),
        })
        .collect())
}
