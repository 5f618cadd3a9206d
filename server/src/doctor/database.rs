//! The doctor's checks that read the database, never writing to it (SQLite is opened read-only):
//! reachable within the time limit, its migrations against this binary's, and the keys (the key
//! file or `master_key`) against the secrets sealed in it.

use super::{Line, TIME_LIMIT};
use crate::config::Config;
use crate::store::migrations::{self, Dialect};
use crate::store::SQLITE_FILE;
use crate::vault::{KeyRing, Secret};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

/// The database lines, then the key lines.
pub async fn check(config: &Config) -> Vec<Line> {
    let mut lines = Vec::new();
    let pool = match reach(config).await {
        Ok(Some((pool, shown))) => {
            lines.push(Line::ok("database", format!("{shown} answers")));
            Some(pool)
        }
        Ok(None) => {
            let file = crate::backup::absolute(&config.data_dir.join(SQLITE_FILE));
            lines.push(Line::warn(
                "database",
                format!(
                    "there is no database at {} yet: `liaison serve` (or `liaison migrate`) creates it",
                    file.display()
                ),
            ));
            None
        }
        Err(line) => {
            lines.push(line);
            None
        }
    };
    let schema = match &pool {
        Some(pool) => {
            let line = migrations(config, pool).await;
            let ok = line.level != super::Level::Fail;
            lines.push(line);
            ok
        }
        None => false,
    };
    lines.extend(keys(config, pool.as_ref().filter(|_| schema)).await);
    if let Some(pool) = pool {
        pool.close().await;
    }
    lines
}

/// Connects within the time limit; `None` when the SQLite file does not exist yet.
async fn reach(config: &Config) -> Result<Option<(AnyPool, String)>, Line> {
    sqlx::any::install_default_drivers();
    let (url, shown) = match config.database_url.as_ref().map(Secret::expose) {
        Some(url) if url.starts_with("sqlite:") => {
            (url.to_string(), format!("the SQLite database {}", url.split('?').next().unwrap_or(url)))
        }
        Some(url) => (url.to_string(), without_password(url)),
        None => {
            let file = crate::backup::absolute(&config.data_dir.join(SQLITE_FILE));
            if !file.exists() {
                return Ok(None);
            }
            (format!("sqlite://{}?mode=ro", file.display()), format!("the SQLite file {}", file.display()))
        }
    };
    let connect = AnyPoolOptions::new().max_connections(1).acquire_timeout(TIME_LIMIT).connect(&url);
    let cannot = |why: String| {
        Line::fail(
            "database",
            format!("cannot reach {shown}: {why}. Check that it runs, the address, the user and its password"),
        )
    };
    match tokio::time::timeout(TIME_LIMIT, connect).await {
        Ok(Ok(pool)) => match sqlx::query("SELECT 1").execute(&pool).await {
            Ok(_) => Ok(Some((pool, shown))),
            Err(e) => Err(cannot(e.to_string())),
        },
        Ok(Err(e)) => Err(cannot(e.to_string())),
        Err(_) => Err(cannot(format!("no answer within {} s", TIME_LIMIT.as_secs()))),
    }
}

/// A PostgreSQL URL as it may be shown: scheme, user, host, port and database, no password.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.set_query(None);
            format!("PostgreSQL at {u}")
        }
        Err(_) => "the database of database_url".into(),
    }
}

/// The applied migrations against the ones this binary carries.
async fn migrations(config: &Config, pool: &AnyPool) -> Line {
    let postgres = config.database_url.as_ref().is_some_and(|u| !u.expose().starts_with("sqlite:"));
    let dialect = if postgres { Dialect::Postgres } else { Dialect::Sqlite };
    let migrator = match migrations::migrator(dialect).await {
        Ok(migrator) => migrator,
        Err(e) => return Line::fail("migrations", format!("the migrations this binary carries cannot be read: {e}")),
    };
    let known: Vec<(i64, &[u8])> = migrator.iter().map(|m| (m.version, m.checksum.as_ref())).collect();
    let applied: Result<Vec<(i64, Vec<u8>, i64)>, _> = sqlx::query_as(
        "SELECT version, checksum, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) \
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await;
    match applied {
        Ok(rows) => {
            let rows: Vec<(i64, Vec<u8>, bool)> = rows.into_iter().map(|(v, c, s)| (v, c, s != 0)).collect();
            compare_migrations(&known, &rows)
        }
        Err(_) => Line::warn(
            "migrations",
            "the database has no Liaison schema yet: `liaison serve` (or `liaison migrate`) creates it",
        ),
    }
}

/// Applied migrations (version, checksum, finished) against this binary's (version, checksum).
pub fn compare_migrations(known: &[(i64, &[u8])], applied: &[(i64, Vec<u8>, bool)]) -> Line {
    let before_upgrade = "restore the backup taken before the upgrade, or run the Liaison that made it";
    if let Some((v, _, _)) = applied.iter().find(|(_, _, done)| !done) {
        return Line::fail(
            "migrations",
            format!("migration {v} started and did not finish: the schema is half-changed. Read the log of the last start, then {before_upgrade}"),
        );
    }
    let newer: Vec<String> =
        applied.iter().filter(|(v, _, _)| !known.iter().any(|(k, _)| k == v)).map(|(v, _, _)| v.to_string()).collect();
    if !newer.is_empty() {
        return Line::fail(
            "migrations",
            format!(
                "the database has migration(s) {} that this Liaison does not know: a newer Liaison ran on it. Run that \
                 version again (Liaison cannot be downgraded in place), or {before_upgrade}",
                newer.join(", ")
            ),
        );
    }
    if let Some((v, _, _)) =
        applied.iter().find(|(v, sum, _)| known.iter().any(|(k, c)| k == v && *c != sum.as_slice()))
    {
        return Line::fail(
            "migrations",
            format!("migration {v} in the database differs from this Liaison's: this binary is not the release it claims to be; install an official release"),
        );
    }
    let pending = known.iter().filter(|(k, _)| !applied.iter().any(|(v, _, _)| v == k)).count();
    if pending > 0 {
        return Line::warn(
            "migrations",
            format!("{pending} of {} to apply: `liaison serve` applies them when it starts (or run `liaison migrate`); back up first", known.len()),
        );
    }
    Line::ok("migrations", format!("all {} applied, none unknown", known.len()))
}

/// The key file's mode and owner (when keys come from it), then whether the keys open every
/// secret in the database (when it has a schema).
async fn keys(config: &Config, pool: Option<&AnyPool>) -> Vec<Line> {
    let mut lines = Vec::new();
    let ring = if let Some(keys) = &config.master_key {
        match KeyRing::parse(keys.expose()) {
            Ok(ring) => ring,
            Err(e) => return vec![Line::fail("keys", format!("master_key: {e}. Fix the setting"))],
        }
    } else {
        let path = crate::backup::absolute(&config.key_file);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(_) if !holds_secrets(pool).await => {
                return vec![Line::warn(
                    "key file",
                    format!("there is no key file at {} yet: `liaison serve` creates it", path.display()),
                )]
            }
            Err(e) => {
                return vec![Line::fail(
                    "key file",
                    format!(
                        "cannot read {} ({e}) while the database exists: its secrets cannot be opened without it. Put \
                         back the key file saved with your backups",
                        path.display()
                    ),
                )]
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            let line = super::key_file_mode(&path, meta.mode(), meta.uid(), me);
            let failed = line.level == super::Level::Fail;
            lines.push(line);
            if failed {
                return lines;
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        match crate::vault::read_key_file(&path) {
            Ok(ring) => ring,
            Err(e) => {
                lines.push(Line::fail("keys", format!("{e}. Put back the key file saved with your backups")));
                return lines;
            }
        }
    };
    let Some(pool) = pool else {
        lines.push(Line::ok("keys", format!("{} key(s), active {}", ring.key_ids().len(), ring.active_id())));
        return lines;
    };
    lines.push(match crate::keys::live::missing_keys(pool, &ring).await {
        Ok(missing) if missing.is_empty() => Line::ok(
            "keys",
            format!(
                "{} key(s), active {}: they open every secret in the database",
                ring.key_ids().len(),
                ring.active_id()
            ),
        ),
        Ok(missing) => Line::fail(
            "keys",
            format!(
                "the keys given do not open the database's secrets ({}): put back the key file (or master_key) \
                 saved with the backup this database comes from",
                missing.join("; ")
            ),
        ),
        Err(e) => Line::fail("keys", format!("cannot read which keys the database's secrets use: {e}")),
    });
    lines
}

/// Whether the database has sealed anything yet (a secret, or the key servers seal under): until
/// then a missing key file is one `serve` will make.
async fn holds_secrets(pool: Option<&AnyPool>) -> bool {
    let Some(pool) = pool else { return false };
    let secrets = crate::store::secrets::key_usage(pool).await.map(|u| !u.is_empty()).unwrap_or(true);
    let recorded = crate::keys::live::recorded_key(pool).await.map(|k| k.is_some()).unwrap_or(true);
    secrets || recorded
}
