//! The audit log: who did what to which connection or service, and when. Never a secret: callers
//! pass names, link names and outcomes only.

use crate::error::Result;
use sqlx::{Any, Executor, Row};

pub async fn record<'e>(
    db: impl Executor<'e, Database = Any>,
    org_id: Option<i64>,
    actor: &str,
    action: &str,
    target: &str,
    detail: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (org_id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(org_id)
        .bind(now)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(db)
        .await?;
    Ok(())
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
pub async fn recent<'e>(db: impl Executor<'e, Database = Any>, org_id: i64, limit: i64) -> Result<Vec<Entry>> {
    let rows = sqlx::query(
        "SELECT at, actor, action, target, detail FROM audit_log WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
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
