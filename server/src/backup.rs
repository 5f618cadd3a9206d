//! `liaison backup FILE` and `liaison restore FILE` for the embedded SQLite database. A backup is a
//! consistent copy taken while Liaison serves (`VACUUM INTO`: one read transaction, so every row
//! is as it was at one instant), written privately (mode 0600) under a temporary name and linked
//! to FILE only once whole and on disk. It holds the sealed secrets, never the keys that open
//! them: a backup is useless without the key file (or `master_key`) its Liaison had when it was
//! taken, and with them as secret as the keys. A restore builds the database beside its place
//! (copied, checked whole, migrated, its secrets checked against the keys given) and links it
//! into a data directory that has no database only when all of that succeeded: a refusal leaves
//! nothing behind. PostgreSQL is backed up with its own tools (`pg_dump`), not with these commands.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::sql;
use crate::store::{Store, SQLITE_FILE};
use std::path::{Path, PathBuf};

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
        format!("the key file {}", absolute(&config.key_file).display())
    }
}

/// A path as an operator can find it again, whatever directory the command ran in.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `path` with `suffix` added to its file name (SQLite's `-wal`, our `.partial`).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The database file and the files SQLite keeps beside it.
fn with_sidecars(db: &Path) -> [PathBuf; 4] {
    [db.to_path_buf(), beside(db, "-wal"), beside(db, "-shm"), beside(db, "-journal")]
}

fn remove_all(db: &Path) {
    for f in with_sidecars(db) {
        let _ = std::fs::remove_file(f);
    }
}

/// Copies the live database to `to` (which must not exist); returns its size in bytes.
pub async fn backup(config: &Config, to: &Path) -> Result<u64> {
    if config.database_url.is_some() {
        return Err(postgres_refused("back up"));
    }
    let db = config.data_dir.join(SQLITE_FILE);
    if !db.exists() {
        return Err(Error::Invalid(format!("there is no database at {}: nothing to back up", absolute(&db).display())));
    }
    if to.exists() {
        return Err(Error::Invalid(format!("{} exists: back up to a new file", to.display())));
    }
    let partial = beside(to, ".partial");
    let partial_text =
        partial.to_str().ok_or_else(|| Error::Invalid("the backup file's name must be UTF-8".into()))?.to_string();
    // Made empty and private first (SQLite writes into an empty file): no one else can open it.
    let file =
        new_private_file(&partial).map_err(|e| Error::Invalid(format!("cannot create {}: {e}", partial.display())))?;
    let copied = async {
        let store = Store::open(config).await?;
        let done = sql!("VACUUM INTO $1", &partial_text).execute(&store.pool).await;
        store.pool.close().await;
        done?;
        // VACUUM INTO does not sync: the copy is on disk before it takes the final name.
        file.sync_all()?;
        link_new(&partial, to)?;
        Ok::<_, Error>(std::fs::metadata(to)?.len())
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    copied
}

/// Puts the database in `from` into this configuration's data directory, which has none yet, and
/// brings its schema up to date.
pub async fn restore(config: &Config, from: &Path) -> Result<()> {
    if config.database_url.is_some() {
        return Err(postgres_refused("restore"));
    }
    let target = config.data_dir.join(SQLITE_FILE);
    if let Some(there) = with_sidecars(&target).into_iter().find(|f| f.exists()) {
        return Err(Error::Invalid(format!(
            "{} is there: restore into a data directory without a database (stop Liaison, then move {}, and its -wal, \
             -shm and -journal files if any, aside)",
            absolute(&there).display(),
            SQLITE_FILE
        )));
    }
    if config.master_key.is_none() && !config.key_file.exists() {
        return Err(Error::Invalid(format!(
            "there is no key file at {}: put there the key file the Liaison this backup comes from had when the \
             backup was taken (a backup cannot be opened without its keys)",
            absolute(&config.key_file).display()
        )));
    }
    if !from.is_file() {
        return Err(Error::Invalid(format!("{} is not a Liaison backup: there is no such file", from.display())));
    }
    crate::store::create_private_dir(&config.data_dir)?;
    // Built beside its place; linked into it only when whole, checked and migrated.
    let partial = beside(&target, ".restoring");
    remove_all(&partial);
    let built = async {
        let mut out = new_private_file(&partial)?;
        std::io::copy(&mut std::fs::File::open(from)?, &mut out)?;
        out.sync_all()?;
        drop(out);
        check_copy(config, &partial, from).await?;
        link_new(&partial, &target)
    }
    .await;
    remove_all(&partial);
    built
}

/// The copy is a whole Liaison database, its schema is brought up to date, and the keys given open
/// its secrets (and the key it says servers seal under).
async fn check_copy(config: &Config, copy: &Path, from: &Path) -> Result<()> {
    let not_one = |why: String| Error::Invalid(format!("{} is not a Liaison backup: {why}", from.display()));
    let url = format!("sqlite://{}?mode=rw", copy.display());
    let store = Store::connect(&url, 1).await.map_err(|e| not_one(e.to_string()))?;
    let checked = async {
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&store.pool)
            .await
            .map_err(|e| not_one(e.to_string()))?;
        if integrity != "ok" {
            return Err(not_one(format!("SQLite finds it damaged ({integrity})")));
        }
        let migrated: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&store.pool)
            .await
            .map_err(|_| not_one("it has no Liaison schema".into()))?;
        if migrated == 0 {
            return Err(not_one("it has no Liaison schema".into()));
        }
        store.migrate().await.map_err(|e| {
            Error::Invalid(format!(
                "{} cannot be brought to this Liaison's schema (from a newer Liaison?): {e}",
                from.display()
            ))
        })?;
        // The key file exists (checked before), so loading the ring creates nothing.
        let ring = crate::keys::load_ring(config)?;
        let missing = crate::keys::live::missing_keys(&store.pool, &ring).await?;
        if !missing.is_empty() {
            return Err(Error::Invalid(format!(
                "nothing was restored: {} is not the keys of the Liaison this backup comes from ({})",
                keys_place(config),
                missing.join("; ")
            )));
        }
        // Everything in the file itself, not in a -wal beside a name about to go.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&store.pool).await?;
        Ok(())
    }
    .await;
    store.pool.close().await;
    checked
}

/// Gives `from` the name `to` unless something already has it (a rename would replace it).
fn link_new(from: &Path, to: &Path) -> Result<()> {
    std::fs::hard_link(from, to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            Error::Invalid(format!("{} appeared meanwhile: nothing was replaced", absolute(to).display()))
        }
        _ => e.into(),
    })
}

/// A new, empty file readable by its owner only (it will hold password hashes and sealed
/// secrets); fails if the path exists, a link included.
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
