//! The sealed columns, in one list: the vault writes them after the row exists (the row id is part
//! of the associated data), and key rotation walks them.

use crate::error::{Error, Result};
use sqlx::{Any, Executor, Row};

/// Every column that holds a sealed secret, as (table, column).
pub const SEALED: &[(&str, &str)] = &[
    ("services", "client_secret"),
    ("connections", "client_secret"),
    ("grants", "access_token"),
    ("grants", "refresh_token"),
    ("oauth_flows", "pkce_verifier"),
];

fn check(table: &str, column: &str) -> Result<()> {
    if SEALED.contains(&(table, column)) {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{table}.{column} is not a sealed column")))
    }
}

/// Writes (or clears) one sealed value.
pub async fn set<'e>(
    db: impl Executor<'e, Database = Any>,
    table: &str,
    column: &str,
    id: i64,
    sealed: Option<&str>,
) -> Result<()> {
    check(table, column)?;
    sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2")).bind(sealed).bind(id).execute(db).await?;
    Ok(())
}

/// Up to `limit` rows of a sealed column whose value is not under `key_id`, after row `after`.
pub async fn not_under_key<'e>(
    db: impl Executor<'e, Database = Any>,
    table: &str,
    column: &str,
    key_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    check(table, column)?;
    let rows = sqlx::query(&format!(
        "SELECT id, {column} AS v FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE $1 AND id > $2 \
         ORDER BY id LIMIT $3"
    ))
    .bind(format!("v1.{key_id}.%"))
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get("id"), r.get("v"))).collect())
}

/// Replaces a sealed value only if it is still `old` (a concurrent writer wins).
pub async fn replace<'e>(
    db: impl Executor<'e, Database = Any>,
    table: &str,
    column: &str,
    id: i64,
    old: &str,
    new: &str,
) -> Result<bool> {
    check(table, column)?;
    let done = sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3"))
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many sealed values are under each key id.
pub async fn key_usage<'e, E>(db: E) -> Result<Vec<(String, i64)>>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let mut out: Vec<(String, i64)> = Vec::new();
    for (table, column) in SEALED {
        let rows = sqlx::query(&format!(
            "SELECT SUBSTR({column}, 4, 16) AS k, COUNT(*) AS n FROM {table} WHERE {column} IS NOT NULL GROUP BY SUBSTR({column}, 4, 16)"
        ))
        .fetch_all(db)
        .await?;
        for r in rows {
            let (k, n): (String, i64) = (r.get("k"), r.get("n"));
            match out.iter_mut().find(|(id, _)| *id == k) {
                Some((_, total)) => *total += n,
                None => out.push((k, n)),
            }
        }
    }
    Ok(out)
}
