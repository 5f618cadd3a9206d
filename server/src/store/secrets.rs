//! Reads and writes of the sealed columns (listed as [`SecretColumn`], beside the vault): the vault
//! writes them after the row exists (the row id is part of the associated data), and key rotation
//! walks them. Only those columns can be named here.

use crate::error::Result;
use crate::store::sql;
use crate::store::Exec;
use crate::vault::SecretColumn;
use sqlx::Row;

/// Writes (or clears) one sealed value.
pub async fn set<'e>(db: impl Exec<'e>, sealed_column: SecretColumn, id: i64, sealed: Option<&str>) -> Result<()> {
    let (table, column) = sealed_column.table_column();
    sql!(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2"), sealed, id).execute(db).await?;
    Ok(())
}

/// Up to `limit` rows of a sealed column whose value is not under `key_id`, after row `after`.
pub async fn not_under_key<'e>(
    db: impl Exec<'e>,
    sealed_column: SecretColumn,
    key_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    let (table, column) = sealed_column.table_column();
    let rows = sql!(
        &format!(
            "SELECT id, {column} AS v FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE $1 AND id > $2 \
         ORDER BY id LIMIT $3"
        ),
        format!("v1.{key_id}.%"),
        after,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get("id"), r.get("v"))).collect())
}

/// Replaces a sealed value only if it is still `old` (a concurrent writer wins).
pub async fn replace<'e>(
    db: impl Exec<'e>,
    sealed_column: SecretColumn,
    id: i64,
    old: &str,
    new: &str,
) -> Result<bool> {
    let (table, column) = sealed_column.table_column();
    let done = sql!(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3"), new, id, old)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many sealed values are under each key id.
pub async fn key_usage<'e, E>(db: E) -> Result<Vec<(String, i64)>>
where
    E: Exec<'e> + Copy,
{
    let mut out: Vec<(String, i64)> = Vec::new();
    for (table, column) in SecretColumn::ALL.map(SecretColumn::table_column) {
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
