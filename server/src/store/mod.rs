//! Storage: one sqlx pool over SQLite (the embedded default, a file in the data directory, WAL) or
//! PostgreSQL (`database_url`). The same SQL runs on both (`$n` parameters, BIGINT millisecond
//! times); each table family has a module of small functions that take an executor and, where rows
//! belong to an organisation, the organisation, so no query can forget the tenant. Transactions
//! that write begin with [`Store::begin`] (clippy refuses `Pool::begin`).

pub mod api_tokens;
pub mod audit;
pub mod call_log;
pub mod callback_keys;
pub mod connections;
pub mod embed_tokens;
pub mod flows;
pub mod grants;
pub mod idle_grants;
pub mod members;
pub mod migrations;
pub mod orgs;
pub mod reconnect_links;
pub mod secrets;
pub mod services;
pub mod sessions;
pub mod stamp;
pub mod starts;
pub mod users;
pub mod webhooks;

use crate::config::Config;
use crate::error::Result;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Executor;
use std::path::{Path, PathBuf};

/// `sqlx::query(sql)` with its parameters bound in order: `sql!("… $1 … $2", a, b)`.
macro_rules! sql {
    ($q:expr $(, $arg:expr)* $(,)?) => { sqlx::query($q)$(.bind($arg))* };
}
/// `sqlx::query_scalar(sql)` with its parameters bound in order.
macro_rules! sql_scalar {
    ($q:expr $(, $arg:expr)* $(,)?) => { sqlx::query_scalar($q)$(.bind($arg))* };
}
pub(crate) use {sql, sql_scalar};

/// Whatever runs a query: the pool, a connection or a transaction (`&mut *tx`).
pub trait Exec<'e>: sqlx::Executor<'e, Database = sqlx::Any> {}
impl<'e, T: sqlx::Executor<'e, Database = sqlx::Any>> Exec<'e> for T {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    pub pool: AnyPool,
    pub kind: DbKind,
    /// The SQLite file, when the database is one.
    pub sqlite_file: Option<PathBuf>,
}

/// The SQLite file inside the data directory.
pub const SQLITE_FILE: &str = "liaison.db";

impl Store {
    /// Opens the configured database (creating the SQLite file and its directory on first run).
    pub async fn open(config: &Config) -> Result<Store> {
        let url = match &config.database_url {
            Some(url) => url.expose().to_string(),
            None => {
                create_private_dir(&config.data_dir)?;
                format!("sqlite://{}?mode=rwc", config.data_dir.join(SQLITE_FILE).display())
            }
        };
        Self::connect(&url, config.db_max_connections).await
    }

    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("sqlite:") { DbKind::Sqlite } else { DbKind::Postgres };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        conn.execute(
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
                             PRAGMA mmap_size = 268435456;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        if kind == DbKind::Sqlite {
            // Persistent in the file: readers never block the writer.
            pool.execute("PRAGMA journal_mode = WAL;").await?;
        }
        let sqlite_file = match kind {
            DbKind::Sqlite => sqlite_file(url),
            DbKind::Postgres => None,
        };
        Ok(Store { pool, kind, sqlite_file })
    }

    /// Brings the schema up to date. Idempotent.
    pub async fn migrate(&self) -> Result<()> {
        let dialect = match self.kind {
            DbKind::Sqlite => migrations::Dialect::Sqlite,
            DbKind::Postgres => migrations::Dialect::Postgres,
        };
        migrations::migrator(dialect).await?.run(&self.pool).await?;
        Ok(())
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction starts as a reader, and when another connection writes
    /// meanwhile, SQLite refuses its first write at once ("database is locked") instead of waiting
    /// out the busy timeout. Writers then queue at `BEGIN`, for up to the busy timeout.
    #[allow(clippy::disallowed_methods)]
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.kind {
            DbKind::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            DbKind::Postgres => self.pool.begin().await?,
        })
    }

    /// A trivial round trip, for the health endpoint.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The file a `sqlite://path?options` URL names (None for an in-memory database).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Time is a parameter: store functions take `now`, read from the one clock (clock.rs).
pub use crate::clock::{Clock, SystemClock};

#[cfg(test)]
pub mod testing {
    //! Fresh databases for store tests: a SQLite file always, and a PostgreSQL database too when
    //! `TEST_DATABASE_URL` names a server where the user may create databases (CI sets it).

    use super::*;

    pub struct TestDb {
        pub store: Store,
        _dir: Option<tempfile::TempDir>,
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join(SQLITE_FILE).display());
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        TestDb { store, _dir: Some(dir) }
    }

    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            // CI must test both databases: a missing PostgreSQL there is a failure, not a skip.
            assert!(std::env::var_os("CI").is_none(), "CI runs need TEST_DATABASE_URL (see .ci/run)");
            return None;
        };
        let url = fresh_postgres_database(&admin_url).await;
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        Some(TestDb { store, _dir: None })
    }

    /// Creates an empty database beside the one `admin_url` names and returns its URL.
    pub async fn fresh_postgres_database(admin_url: &str) -> String {
        use rand::Rng;
        sqlx::any::install_default_drivers();
        let name = format!("liaison_t{:016x}", rand::thread_rng().gen::<u64>());
        let admin = Store::connect(admin_url, 1).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin.pool).await.unwrap();
        admin.pool.close().await;
        let mut url = url::Url::parse(admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        url.to_string()
    }

    /// Every database the store tests run on.
    async fn all() -> Vec<TestDb> {
        let mut dbs = vec![sqlite().await];
        dbs.extend(postgres().await);
        dbs
    }

    /// A test that runs on every test database: `db_test!(name, async |pool: &AnyPool| { … })`,
    /// the closure taking the `&Store` or the `&AnyPool` (see `each`).
    macro_rules! db_test {
        ($name:ident, $test:expr) => {
            #[tokio::test]
            async fn $name() {
                $crate::store::testing::each($test).await
            }
        };
    }
    pub(crate) use db_test;

    /// Runs `test` once on each fresh database `all` gives, handing it that database's `&Store`
    /// or `&AnyPool`, whichever the closure takes.
    pub async fn each<T: ?Sized>(test: impl AsyncFn(&T))
    where
        TestDb: AsRef<T>,
    {
        for db in all().await {
            test(db.as_ref()).await;
        }
    }

    impl AsRef<Store> for TestDb {
        fn as_ref(&self) -> &Store {
            &self.store
        }
    }

    impl AsRef<AnyPool> for TestDb {
        fn as_ref(&self) -> &AnyPool {
            &self.store.pool
        }
    }

    /// Organisation `org` ("Org {org}") with one person, user `org` (`name`, `role`, the email
    /// `{name}{org}@example.com` in lower case), for seeds that need both.
    pub async fn org_with_person(pool: &AnyPool, org: i64, name: &str, role: &str) {
        sql!("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, 1)", org, format!("Org {org}"))
            .execute(pool)
            .await
            .unwrap();
        let user = "INSERT INTO users (id, org_id, email, name, role, password_hash, created_at) \
                    VALUES ($1, $1, $2, $3, $4, 'x', 1)";
        let email = format!("{}{org}@example.com", name.to_lowercase());
        sql!(user, org, email, name, role).execute(pool).await.unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::testing::db_test;
    use super::*;
    use std::time::Duration;

    db_test!(a_writing_transaction_that_read_first_is_not_refused_when_another_writes, async |store: &Store| {
        // B reads, A writes meanwhile, then B writes: a deferred transaction on SQLite is refused
        // at once ("database is locked"); one begun by `Store::begin` holds the write lock, and A
        // waits for B instead.
        let mut b = store.begin().await.unwrap();
        sqlx::query("SELECT COUNT(*) FROM organisations").fetch_one(&mut *b).await.unwrap();
        let other = store.clone();
        let mut a = tokio::spawn(async move {
            sqlx::query("INSERT INTO organisations (name, created_at) VALUES ('A', 1)").execute(&other.pool).await
        });
        // A either finishes (PostgreSQL, or a deferred B) or waits on B's lock (SQLite).
        let a_first = tokio::time::timeout(Duration::from_millis(300), &mut a).await.ok();
        sqlx::query("INSERT INTO organisations (name, created_at) VALUES ('B', 1)")
            .execute(&mut *b)
            .await
            .unwrap_or_else(|e| panic!("{:?}: B's write refused: {e}", store.kind));
        b.commit().await.unwrap();
        let a = match a_first {
            Some(done) => done,
            None => a.await,
        };
        a.unwrap().unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations").fetch_one(&store.pool).await.unwrap();
        assert_eq!(n, 2, "{:?}", store.kind);
    });
}
