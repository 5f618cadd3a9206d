//! The schema migrations this binary carries (`server/migrations/`, embedded by `build.rs`) and
//! sqlx's migrator over them, for `Store::migrate` and `liaison doctor`.
//!
//! sqlx's `migrate!` macro would embed the same files, but it needs sqlx's compile-time macros,
//! which compile its database drivers, TLS and the SQLite C library a second time for the
//! compiler: minutes of a first build on two cores. The migrations here are exactly what sqlx
//! reads from the directories (same versions, descriptions and checksums: the test below), so a
//! database migrated by either is the same to the other.

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

mod files {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// Which database's migrations.
#[derive(Debug, Clone, Copy)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The migrator for one database's migrations.
pub async fn migrator(dialect: Dialect) -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded(dialect)).await
}

#[derive(Debug)]
struct Embedded(Dialect);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        let files = match self.0 {
            Dialect::Sqlite => files::SQLITE,
            Dialect::Postgres => files::POSTGRES,
        };
        Box::pin(async move {
            let mut migrations = files.iter().map(|(name, sql)| parse(name, sql)).collect::<Result<Vec<_>, _>>()?;
            // In the order of their versions, as sqlx orders a directory.
            migrations.sort_by_key(|m| m.version);
            Ok(migrations)
        })
    }
}

/// `<version>_<description>.sql`, read as sqlx reads a migrations directory.
fn parse(name: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let (version, rest) = name.split_once('_').ok_or_else(|| format!("migration {name:?}: no version prefix"))?;
    let version: i64 = version.parse().map_err(|_| format!("migration {name:?}: the version is not a number"))?;
    let migration_type = MigrationType::from_filename(rest);
    let description = rest.trim_end_matches(migration_type.suffix()).replace('_', " ");
    let no_tx = sql.starts_with("-- no-transaction");
    Ok(Migration::new(version, Cow::Owned(description), migration_type, Cow::Borrowed(sql), no_tx))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file, and each the same as sqlx's own reading of the directory (which its
    /// `migrate!` macro uses): a database migrated by an earlier build keeps its checksums.
    #[tokio::test]
    async fn the_embedded_migrations_are_sqlx_s_reading_of_the_directories() {
        for (dialect, dir) in [(Dialect::Sqlite, "sqlite"), (Dialect::Postgres, "postgres")] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let theirs = Migrator::new(path).await.unwrap();
            let ours = migrator(dialect).await.unwrap();
            let shape = |m: &Migration| {
                (m.version, m.description.to_string(), m.checksum.to_vec(), m.no_tx, m.migration_type.suffix())
            };
            let ours: Vec<_> = ours.iter().map(shape).collect();
            let theirs: Vec<_> = theirs.iter().map(shape).collect();
            assert!(ours.len() >= 13, "{dir}: {} migrations", ours.len());
            assert_eq!(ours, theirs, "{dir}");
        }
    }

    #[test]
    fn a_file_without_a_version_is_refused() {
        assert!(parse("foundation.sql", "").is_err());
        assert!(parse("x1_foundation.sql", "").is_err());
        assert_eq!(parse("0002_two_words.sql", "SELECT 1").unwrap().description, "two words");
    }
}
