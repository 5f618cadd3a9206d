//! `liaison backup FILE` and `liaison restore FILE` for the embedded SQLite database. A backup is a
//! consistent copy taken while Liaison serves (`VACUUM INTO`: one read transaction, so every row
//! is as it was at one instant), written with mode 0600. It holds the sealed secrets, never the
//! keys that open them: a backup is useless without the key file (or `master_key`) of its
//! Liaison, and with it as secret as the keys. A restore goes into a data directory without a
//! database, checks the file is a whole Liaison database, and refuses to start without keys (a
//! server started then would make a new key file that opens nothing). PostgreSQL is backed up with
//! its own tools (`pg_dump`), not with these commands.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::{Store, SQLITE_FILE};
use std::path::Path;

fn postgres_refused(what: &str) -> Error {
    Error::Invalid(format!(
        "this Liaison uses PostgreSQL (database_url): {what} it with PostgreSQL's own tools (pg_dump, \
         pg_restore), with the key file or master_key kept beside it; `liaison backup` and `restore` are for the \
         embedded SQLite database"
    ))
}

/// Where the keys of this configuration are, for the messages.
fn keys_place(config: &Config) -> String {
    if config.master_key.is_some() {
        "the master_key setting".into()
    } else {
        format!("the key file {}", config.key_file.display())
    }
}

/// Copies the live database to `to` (which must not exist); returns its size in bytes.
pub async fn backup(config: &Config, to: &Path) -> Result<u64> {
    if config.database_url.is_some() {
        return Err(postgres_refused("back up"));
    }
    let db = config.data_dir.join(SQLITE_FILE);
    if !db.exists() {
        return Err(Error::Invalid(format!("there is no database at {}: nothing to back up", db.display())));
    }
    let to_text = to.to_str().ok_or_else(|| Error::Invalid("the backup file's name must be UTF-8".into()))?;
    // Made empty and private first (SQLite writes into an empty file): no one else can open it
    // in between, and an existing file is never overwritten.
    new_private_file(to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Invalid(format!("{} exists: back up to a new file", to.display())),
        _ => Error::Invalid(format!("cannot create {}: {e}", to.display())),
    })?;
    let store = Store::open(config).await?;
    let copied = sqlx::query("VACUUM INTO $1").bind(to_text).execute(&store.pool).await;
    store.pool.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(to);
        return Err(e.into());
    }
    Ok(std::fs::metadata(to)?.len())
}

/// Puts the database in `from` into this configuration's data directory, which has none yet, and
/// brings its schema up to date.
pub async fn restore(config: &Config, from: &Path) -> Result<()> {
    if config.database_url.is_some() {
        return Err(postgres_refused("restore"));
    }
    let target = config.data_dir.join(SQLITE_FILE);
    if target.exists() {
        return Err(Error::Invalid(format!(
            "{} already has a database: restore into a new data directory (or stop Liaison and move this one aside)",
            config.data_dir.display()
        )));
    }
    if config.master_key.is_none() && !config.key_file.exists() {
        return Err(Error::Invalid(format!(
            "there is no key file at {}: put the key file of the Liaison this backup comes from there first (a \
             backup cannot be opened without its keys)",
            config.key_file.display()
        )));
    }
    check_backup(from).await?;
    crate::store::create_private_dir(&config.data_dir)?;
    // Copied beside its place and renamed into it: a database is there whole, or not at all.
    let partial = config.data_dir.join(format!("{SQLITE_FILE}.restoring"));
    let _ = std::fs::remove_file(&partial);
    let mut out = new_private_file(&partial)?;
    std::io::copy(&mut std::fs::File::open(from)?, &mut out)?;
    out.sync_all()?;
    std::fs::rename(&partial, &target)?;
    let store = Store::open(config).await?;
    store.migrate().await?;
    // The key file exists (checked above), so loading the ring creates nothing.
    let ring = crate::keys::load_ring(config)?;
    let known = ring.key_ids();
    let unopened: i64 = crate::store::secrets::key_usage(&store.pool)
        .await?
        .into_iter()
        .filter(|(id, _)| !known.contains(&id.as_str()))
        .map(|(_, n)| n)
        .sum();
    store.pool.close().await;
    if unopened > 0 {
        return Err(Error::Invalid(format!(
            "the database is restored, but {unopened} secret(s) in it cannot be opened with {}: it is not the key \
             of the Liaison the backup comes from",
            keys_place(config)
        )));
    }
    Ok(())
}

/// The file is a whole SQLite database that Liaison wrote (it has Liaison's migrations).
async fn check_backup(from: &Path) -> Result<()> {
    let not_one = |why: String| Error::Invalid(format!("{} is not a Liaison backup: {why}", from.display()));
    if !from.is_file() {
        return Err(not_one("there is no such file".into()));
    }
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", from.display());
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.map_err(|e| not_one(e.to_string()))?;
    let integrity: String =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.map_err(|e| not_one(e.to_string()))?;
    let migrated: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| not_one("it has no Liaison schema".into()))?;
    let _ = sqlx::Connection::close(conn).await;
    if integrity != "ok" {
        return Err(not_one(format!("SQLite finds it damaged ({integrity})")));
    }
    if migrated == 0 {
        return Err(not_one("it has no Liaison schema".into()));
    }
    Ok(())
}

/// A new, empty file readable by its owner only (it will hold password hashes and sealed
/// secrets); fails if the path exists.
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
