//! Personal API tokens for scripts. The table holds the SHA-256 of each token, never the token.

use crate::error::Result;
use crate::store::sessions::{person_from_row, PersonRow};
use crate::store::DbKind;
use crate::store::Exec;
use crate::store::{sql, sql_scalar};
use sqlx::Row;

/// A new token of the person `(org_id, user_id)`; `expires_at` None: it never expires.
pub async fn create<'e>(
    db: impl Exec<'e>,
    (org_id, user_id): (i64, i64),
    name: &str,
    token_hash: &str,
    prefix: &str,
    now: i64,
    expires_at: Option<i64>,
) -> Result<i64> {
    Ok(sql_scalar!(
        "INSERT INTO api_tokens (org_id, user_id, name, token_hash, prefix, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        org_id,
        user_id,
        name,
        token_hash,
        prefix,
        now,
        expires_at
    )
    .fetch_one(db)
    .await?)
}

/// A person's tokens, newest first (revoked ones included, marked).
pub async fn list<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64) -> Result<Vec<TokenRow>> {
    let sql = "SELECT id, name, prefix, created_at, last_used_at, revoked_at, expires_at FROM api_tokens \
               WHERE org_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC";
    let rows = sql!(sql, org_id, user_id).fetch_all(db).await?;
    Ok(rows.iter().map(view_from_row).collect())
}

/// Every token of an organisation, with the person it belongs to, newest first.
pub async fn list_org<'e>(db: impl Exec<'e>, org_id: i64) -> Result<Vec<(i64, TokenRow)>> {
    let sql = "SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at, expires_at FROM api_tokens \
               WHERE org_id = $1 ORDER BY created_at DESC, id DESC";
    let rows = sql!(sql, org_id).fetch_all(db).await?;
    Ok(rows.iter().map(|r| (r.get("user_id"), view_from_row(r))).collect())
}

/// A token as listed (never the token: its prefix only).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expires_at: Option<i64>,
}

fn view_from_row(r: &sqlx::any::AnyRow) -> TokenRow {
    TokenRow {
        id: r.get("id"),
        name: r.get("name"),
        prefix: r.get("prefix"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
        revoked_at: r.get("revoked_at"),
        expires_at: r.get("expires_at"),
    }
}

/// Revokes one of a person's tokens; false when there is no such live token.
pub async fn revoke<'e>(db: impl Exec<'e>, org_id: i64, user_id: i64, id: i64, now: i64) -> Result<bool> {
    let sql =
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND org_id = $3 AND user_id = $4 AND revoked_at IS NULL";
    let r = sql!(sql, now, id, org_id, user_id).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// A presented token that is known and not revoked: whose it is, and when it expires.
#[derive(Debug, Clone)]
pub struct Presented {
    pub token_id: i64,
    pub token_name: String,
    pub last_used_at: Option<i64>,
    /// None: never. The caller compares it with the clock (an expired token is still found, so
    /// the answer can say it expired).
    pub expires_at: Option<i64>,
    pub person: PersonRow,
}

/// The person behind a token that is not revoked, with the token's id, name and expiry.
pub async fn viewer<'e>(db: impl Exec<'e>, token_hash: &str) -> Result<Option<Presented>> {
    let sql =
        "SELECT t.id AS token_id, t.name AS token_name, t.last_used_at, t.expires_at, u.id AS user_id, u.org_id, \
         o.name AS org_name, u.name, u.email, u.role \
         FROM api_tokens t \
         JOIN users u ON u.id = t.user_id AND u.org_id = t.org_id \
         JOIN organisations o ON o.id = u.org_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL";
    let row = sql!(sql, token_hash).fetch_optional(db).await?;
    row.map(|r| {
        Ok(Presented {
            token_id: r.get("token_id"),
            token_name: r.get("token_name"),
            last_used_at: r.get("last_used_at"),
            expires_at: r.get("expires_at"),
            person: person_from_row(&r)?,
        })
    })
    .transpose()
}

pub async fn touch<'e>(db: impl Exec<'e>, id: i64, now: i64) -> Result<()> {
    sql!("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", now, id).execute(db).await?;
    Ok(())
}

/// One API call for the log. Never a secret, a path or a query string.
#[derive(Debug, Clone)]
pub struct Call {
    pub org_id: i64,
    pub at: i64,
    pub actor: std::sync::Arc<str>,
    pub connection_id: Option<i64>,
    pub link_name: String,
    pub method: String,
    pub host: String,
    pub status: u16,
    pub latency_ms: i64,
    pub error_code: Option<&'static str>,
    /// Requests sent to the service for this call (1, more with retries).
    pub attempts: u32,
}

/// Rows per INSERT statement when the log is written (10 parameters a row): at most this many
/// statement texts, each prepared once per connection.
const CALLS_PER_STATEMENT: usize = 32;

/// The columns of a call in the log's INSERT.
const COLUMNS: usize = 10;

/// The INSERT of `rows` calls. SQLite gets positional `?` parameters: sqlx looks each `$n` up by
/// name there, which costs more than the insert itself at a few hundred parameters.
fn insert_calls_sql(kind: DbKind, rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO api_calls (org_id, at, actor, link_name, method, host, status, latency_ms, error_code, attempts) VALUES ",
    );
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..COLUMNS {
            if col > 0 {
                sql.push_str(", ");
            }
            match kind {
                DbKind::Sqlite => sql.push('?'),
                DbKind::Postgres => sql.push_str(&format!("${}", row * COLUMNS + col + 1)),
            }
        }
        sql.push(')');
    }
    sql
}

/// Writes calls to the log, many rows per statement.
pub async fn record_calls(conn: &mut sqlx::AnyConnection, kind: DbKind, calls: &[&Call]) -> Result<()> {
    for chunk in calls.chunks(CALLS_PER_STATEMENT) {
        let sql = insert_calls_sql(kind, chunk.len());
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q
                .bind(c.org_id)
                .bind(c.at)
                .bind(&*c.actor)
                .bind(&c.link_name)
                .bind(&c.method)
                .bind(&c.host)
                .bind(i64::from(c.status))
                .bind(c.latency_ms)
                .bind(c.error_code)
                .bind(i64::from(c.attempts));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use crate::store::Store;

    #[test]
    fn the_call_log_insert_has_ten_parameters_a_row_in_each_dialect() {
        assert_eq!(
            insert_calls_sql(DbKind::Sqlite, 2).split_once("VALUES ").map(|(_, v)| v.to_string()),
            Some("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)".to_string())
        );
        let pg = insert_calls_sql(DbKind::Postgres, 2);
        assert!(
            pg.ends_with(
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10), ($11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            ),
            "{pg}"
        );
    }

    db_test!(calls_are_written_in_statements_of_many_rows_on_both_databases, async |store: &Store| {
        sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', 1)")
            .execute(&store.pool)
            .await
            .unwrap();
        let calls: Vec<Call> = (0..70)
            .map(|i| Call {
                org_id: 1,
                at: i,
                actor: format!("ada (token {i})").into(),
                connection_id: None,
                link_name: "zephyr".into(),
                method: "GET".into(),
                host: "api.example".into(),
                status: 200,
                latency_ms: i,
                error_code: (i % 2 == 0).then_some("upstream_timeout"),
                attempts: 1 + (i % 3) as u32,
            })
            .collect();
        let refs: Vec<&Call> = calls.iter().collect();
        let mut conn = store.pool.acquire().await.unwrap();
        record_calls(&mut conn, store.kind, &refs).await.unwrap();
        let rows: Vec<(i64, String, i64, Option<String>, i64)> =
            sqlx::query_as("SELECT at, actor, latency_ms, error_code, attempts FROM api_calls ORDER BY at")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert_eq!(rows.len(), 70, "{:?}", store.kind);
        assert_eq!(rows[69], (69, "ada (token 69)".to_string(), 69, None, 1));
        assert_eq!(rows[68].4, 3, "the attempts are kept");
        assert_eq!(rows[68].3.as_deref(), Some("upstream_timeout"));
    });
}
