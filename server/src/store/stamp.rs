//! The change stamp (migration 0005): a number that grows with every committed UPDATE or DELETE
//! of the rows the API's hot path reads. What was read at one stamp may be reused while the stamp
//! stays the same (see `crate::hot`).

use crate::error::Result;
use crate::store::Exec;

/// The statement that reads it (also run outside sqlx, see `crate::hot`).
pub const READ: &str = "SELECT n FROM change_stamp WHERE id = 1";

/// The stamp now.
pub async fn read<'e>(db: impl Exec<'e>) -> Result<i64> {
    Ok(sqlx::query_scalar(READ).fetch_one(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use crate::store::{DbKind, Store};

    /// The tables the hot path reads, children first (the order they can be deleted in).
    const TABLES: &[&str] = &["grants", "connections", "api_tokens", "services", "users", "organisations"];
    /// Written on every call, or never kept in memory (a connection's metadata is read from the
    /// database each time): they must not move the stamp.
    const UNSTAMPED: &[(&str, &str)] =
        &[("connections", "last_used_at"), ("api_tokens", "last_used_at"), ("connections", "metadata")];

    async fn exec(store: &Store, sql: &str) {
        sqlx::query(sql).execute(&store.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn columns(store: &Store, table: &str) -> Vec<String> {
        let sql = match store.kind {
            DbKind::Sqlite => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
            DbKind::Postgres => format!(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        };
        let cols: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&store.pool).await.unwrap();
        assert!(cols.len() >= 3, "{table} has columns: {cols:?}");
        cols
    }

    async fn one_of_each(store: &Store) {
        for sql in [
            "INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', 1)",
            "INSERT INTO users (id, org_id, email, name, role, password_hash, created_at) \
             VALUES (1, 1, 'ada@acme.example', 'Ada', 'admin', 'h', 1)",
            "INSERT INTO api_tokens (id, org_id, user_id, name, token_hash, prefix, created_at) \
             VALUES (1, 1, 1, 'ci', 'hash', 'lsn_ab', 1)",
            "INSERT INTO services (id, org_id, name, name_key, spec, created_at, updated_at) \
             VALUES (1, 1, 'Zephyr', 'zephyr', '{}', 1, 1)",
            "INSERT INTO connections (id, org_id, link_name, name, service_id, service_name, scopes, status, \
             created_by_name, created_at, updated_at) VALUES (1, 1, 'z', 'Z', 1, 'Zephyr', '', 'connected', 'Ada', 1, 1)",
            "INSERT INTO grants (id, connection_id, user_key, authorised_by_name, authorised_at, updated_at) \
             VALUES (1, 1, 0, 'Ada', 1, 1)",
        ] {
            exec(store, sql).await;
        }
    }

    db_test!(every_column_but_last_used_moves_the_stamp_and_inserts_do_not, async |store: &Store| {
        let start = read(&store.pool).await.unwrap();
        one_of_each(store).await;
        assert_eq!(read(&store.pool).await.unwrap(), start, "{:?}: inserts leave the stamp", store.kind);
        for table in TABLES {
            for column in columns(store, table).await {
                let before = read(&store.pool).await.unwrap();
                exec(store, &format!("UPDATE {table} SET {column} = {column} WHERE id = 1")).await;
                let after = read(&store.pool).await.unwrap();
                let counted = !UNSTAMPED.contains(&(*table, column.as_str()));
                assert_eq!(after > before, counted, "{:?}: UPDATE of {table}.{column}", store.kind);
            }
        }
        for table in TABLES {
            let before = read(&store.pool).await.unwrap();
            exec(store, &format!("DELETE FROM {table} WHERE id = 1")).await;
            assert!(read(&store.pool).await.unwrap() > before, "{:?}: DELETE FROM {table}", store.kind);
        }
    });

    db_test!(a_transaction_moves_the_stamp_when_it_commits_and_not_when_it_rolls_back, async |store: &Store| {
        one_of_each(store).await;
        let start = read(&store.pool).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        sqlx::query("UPDATE connections SET status = 'revoked' WHERE id = 1").execute(&mut *tx).await.unwrap();
        sqlx::query("DELETE FROM grants WHERE id = 1").execute(&mut *tx).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(read(&store.pool).await.unwrap(), start, "{:?}: rolled back", store.kind);

        let mut tx = store.begin().await.unwrap();
        sqlx::query("UPDATE connections SET status = 'revoked' WHERE id = 1").execute(&mut *tx).await.unwrap();
        sqlx::query("DELETE FROM grants WHERE id = 1").execute(&mut *tx).await.unwrap();
        // Not visible to others before the commit.
        assert_eq!(read(&store.pool).await.unwrap(), start, "{:?}: before the commit", store.kind);
        tx.commit().await.unwrap();
        let after = read(&store.pool).await.unwrap();
        assert!(after > start, "{:?}: committed", store.kind);
        if store.kind == DbKind::Postgres {
            assert_eq!(after, start + 1, "one bump per transaction on PostgreSQL");
        }
    });
}
