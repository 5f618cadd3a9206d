//! The key ring of a running server, kept in step with `liaison keys rotate` without a restart.
//!
//! The database records the key new secrets are sealed under (`vault_ring`, migration 0008): the
//! first server writes its active key, and only a rotation changes it. Every second a server reads
//! that row and re-reads the key file when the file changed, so it seals under the rotation's new
//! key within a second of the rotation starting, opens rows the rotation re-sealed, and forgets a
//! retired key. A row under a key the ring does not hold makes it re-read the key file at once.
//!
//! With `master_key` the ring cannot be re-read: a server that does not hold the recorded key
//! refuses to start, and a running one records its refusal in the row (the rotation then gives
//! the old key back and stops) and says so in its log.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::sql;
use crate::store::{Clock, Store, SystemClock};
use crate::vault::{read_key_file, KeyRing, Secret, Slot, VaultError};
use sqlx::AnyPool;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

/// How often a running server reads the recorded key and looks at the key file.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What identifies one version of the key file (it is replaced by a rename, never edited).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    ino: u64,
}

fn file_id(path: &std::path::Path) -> Option<FileId> {
    let m = std::fs::metadata(path).ok()?;
    Some(FileId {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        ino: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

enum Source {
    /// `master_key`: fixed for the life of the process.
    Master,
    /// The key file.
    File(PathBuf),
}

struct Inner {
    /// The version of the key file the ring was read from; held while the ring is replaced.
    seen: Mutex<Option<FileId>>,
    /// The ring, with the recorded active key first.
    ring: RwLock<Arc<KeyRing>>,
    /// The key the database says to seal under (None before the first server wrote it).
    recorded: RwLock<Option<String>>,
    source: Source,
    /// The recorded key this server last refused (said once, not every second).
    refused: Mutex<Option<String>>,
    /// When a refusal is recorded.
    clock: Arc<dyn Clock>,
}

/// Seals and opens every secret at rest, with the ring in force now.
pub struct Vault {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("ring", &*self.current()).finish()
    }
}

/// The recorded active key, if any.
pub async fn recorded_key(pool: &AnyPool) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT active_key FROM vault_ring WHERE id = 1").fetch_optional(pool).await?)
}

/// What `ring` lacks to open this database: the keys its secrets, and the key servers seal under,
/// name (empty when it holds them all). For `restore` and `doctor`.
pub async fn missing_keys(pool: &AnyPool, ring: &KeyRing) -> Result<Vec<String>> {
    let known = ring.key_ids();
    let mut missing: Vec<String> = crate::store::secrets::key_usage(pool)
        .await?
        .into_iter()
        .filter(|(id, _)| !known.contains(&id.as_str()))
        .map(|(id, n)| format!("{n} secret(s) under key {id}"))
        .collect();
    if let Some(active) = recorded_key(pool).await? {
        if !known.contains(&active.as_str()) {
            missing.push(format!("servers seal under key {active}"));
        }
    }
    Ok(missing)
}

impl Vault {
    /// A vault over a fixed ring that follows nothing (tests, tools).
    pub fn fixed(ring: KeyRing) -> Vault {
        Vault {
            inner: Arc::new(Inner {
                seen: Mutex::new(None),
                ring: RwLock::new(Arc::new(ring)),
                recorded: RwLock::new(None),
                source: Source::Master,
                refused: Mutex::new(None),
                clock: Arc::new(SystemClock),
            }),
        }
    }

    /// The server's vault: the ring from `master_key` or the key file, the active key as the
    /// database records it (written now if no server did before), and a task that follows both.
    pub async fn start(config: &Config, store: &Store) -> Result<Vault> {
        let source = match &config.master_key {
            Some(_) => Source::Master,
            None => Source::File(config.key_file.clone()),
        };
        let seen = match &source {
            Source::File(path) => file_id(path),
            Source::Master => None,
        };
        let ring = super::load_ring(config)?;
        let sql = "INSERT INTO vault_ring (id, active_key, version) VALUES (1, $1, 1) ON CONFLICT (id) DO NOTHING";
        sql!(sql, ring.active_id()).execute(&store.pool).await?;
        let recorded = recorded_key(&store.pool).await?;
        if let Some(active) = recorded.as_deref().filter(|k| !ring.contains(k)) {
            return Err(Error::Config(format!(
                "secrets are sealed under key {active} (the last `liaison keys rotate` chose it), which is not in \
                 this server's {}: add that key, then start the server again",
                if config.master_key.is_some() { "master_key" } else { "key file" }
            )));
        }
        let ring = match &recorded {
            Some(active) => ring.prefer(active),
            None => ring,
        };
        let inner = Arc::new(Inner {
            seen: Mutex::new(seen),
            ring: RwLock::new(Arc::new(ring)),
            recorded: RwLock::new(recorded),
            source,
            refused: Mutex::new(None),
            clock: crate::clock::from_config(config),
        });
        tokio::spawn(follow(Arc::downgrade(&inner), store.pool.clone()));
        Ok(Vault { inner })
    }

    fn current(&self) -> Arc<KeyRing> {
        self.inner.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Seals under the active key (the one the last rotation chose).
    pub fn seal(&self, slot: Slot, plaintext: &str) -> std::result::Result<String, VaultError> {
        self.current().seal(slot, plaintext)
    }

    /// Opens a value under any key of the ring; a key the ring lacks makes it re-read the key file
    /// first (a rotation may have just added it).
    pub fn open(&self, slot: Slot, sealed: &str) -> std::result::Result<Secret, VaultError> {
        match self.current().open(slot, sealed) {
            Err(VaultError::UnknownKey(id)) => {
                if self.inner.reread(true) {
                    return self.current().open(slot, sealed);
                }
                let (table, column) = slot.column.table_column();
                tracing::error!(key_id = %id, table, column, row = slot.row,
                    "a secret is sealed under a key this server does not hold: add it to master_key or the key file");
                Err(VaultError::UnknownKey(id))
            }
            other => other,
        }
    }

    pub fn active_id(&self) -> String {
        self.current().active_id().to_string()
    }

    pub fn key_ids(&self) -> Vec<String> {
        self.current().key_ids().into_iter().map(str::to_string).collect()
    }

    /// Reads the recorded key and the key file now (the task does it every second).
    pub async fn check(&self, pool: &AnyPool) {
        self.inner.check(pool).await;
    }
}

/// Every `CHECK_EVERY`, until the vault is dropped.
async fn follow(inner: Weak<Inner>, pool: AnyPool) {
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.check(&pool).await;
    }
}

impl Inner {
    async fn check(&self, pool: &AnyPool) {
        let recorded = match recorded_key(pool).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the recorded active key");
                return;
            }
        };
        let changed = {
            let mut slot = self.recorded.write().unwrap_or_else(|p| p.into_inner());
            let changed = *slot != recorded;
            *slot = recorded.clone();
            changed
        };
        // Re-reads the file when it changed (or the recorded key did), and puts the recorded key first.
        self.reread(changed);
        let Some(active) = recorded else { return };
        let holds = self.ring.read().unwrap_or_else(|p| p.into_inner()).contains(&active);
        {
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            if holds {
                *refused = None;
                return;
            }
            if refused.as_deref() == Some(active.as_str()) {
                return;
            }
        }
        tracing::error!(key_id = %active, "a key rotation chose a key this server does not hold: it keeps sealing under its \
            own key and tells the rotation, which stops; add the key to master_key (or the key file) and restart");
        let now = self.clock.now_ms();
        let sql = "UPDATE vault_ring SET refused_key = $1, refused_at = $2 WHERE id = 1 AND active_key = $1";
        let told = sql!(sql, &active, now).execute(pool).await;
        match told {
            Ok(_) => *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(active),
            Err(e) => tracing::warn!(error = %e, "could not record the refusal"),
        }
    }

    /// Re-reads the key file if it changed (or always, with `force`), and puts the recorded key
    /// first. Whether the ring may now hold more keys.
    fn reread(&self, force: bool) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut ring = (**self.ring.read().unwrap_or_else(|p| p.into_inner())).clone();
        let mut reread = false;
        if let Source::File(path) = &self.source {
            let now = file_id(path);
            if force || now != *seen {
                match read_key_file(path) {
                    Ok(fresh) => {
                        ring = fresh;
                        *seen = now;
                        reread = true;
                    }
                    Err(e) => tracing::error!(error = %e, "could not re-read the key file; the keys in memory stay"),
                }
            }
        }
        if let Some(active) = self.recorded.read().unwrap_or_else(|p| p.into_inner()).as_deref() {
            ring = ring.prefer(active);
        }
        let old = self.ring.read().unwrap_or_else(|p| p.into_inner()).key_ids().join(",");
        if ring.key_ids().join(",") != old {
            tracing::info!(key_id = ring.active_id(), keys = ring.key_ids().len(), "vault keys changed");
        }
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        reread
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;
    use crate::vault::write_key_file;
    use zeroize::Zeroizing;

    const SLOT: Slot = crate::vault::SecretColumn::GrantAccessToken.at(1);

    fn config(env: &[(&str, &str)]) -> Config {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::load_from(None, &env).unwrap()
    }

    async fn record(pool: &AnyPool, key: &str) {
        sql!("UPDATE vault_ring SET active_key = $1, version = version + 1 WHERE id = 1", key)
            .execute(pool)
            .await
            .unwrap();
    }

    db_test!(a_running_vault_follows_the_rotation_without_a_restart, async |store: &Store| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let old = KeyRing::generate();
        write_key_file(&path, &old).unwrap();
        let old_id = old.active_id().to_string();
        let vault = Vault::start(&config(&[("LIAISON_KEY_FILE", path.to_str().unwrap())]), store).await.unwrap();
        assert_eq!(
            recorded_key(&store.pool).await.unwrap().as_deref(),
            Some(old_id.as_str()),
            "the first server records its key"
        );
        assert!(vault.seal(SLOT, "a").unwrap().starts_with(&format!("v1.{old_id}.")));

        // The rotation writes the new key first in the file: opened at once, not sealed under yet.
        let both = old.clone().with_new_active_key(Zeroizing::new([5u8; 32]));
        let new_id = both.active_id().to_string();
        write_key_file(&path, &both).unwrap();
        let resealed = both.seal(SLOT, "b").unwrap();
        assert_eq!(vault.open(SLOT, &resealed).unwrap().expose(), "b", "a row re-sealed under the new key opens");
        vault.check(&store.pool).await;
        assert!(
            vault.seal(SLOT, "c").unwrap().starts_with(&format!("v1.{old_id}.")),
            "the recorded key until it changes"
        );
        // Then it records the new key: sealed under it from the next check on.
        record(&store.pool, &new_id).await;
        vault.check(&store.pool).await;
        assert!(vault.seal(SLOT, "d").unwrap().starts_with(&format!("v1.{new_id}.")));
        // The old key retired from the file: forgotten.
        write_key_file(&path, &both.clone().retain(&[])).unwrap();
        vault.check(&store.pool).await;
        assert_eq!(vault.key_ids(), vec![new_id.clone()]);

        // master_key without the recorded key: the server does not start, a running one says so.
        let b64 = |r: &KeyRing| r.to_file_text().lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join(",");
        let e = Vault::start(&config(&[("LIAISON_MASTER_KEY", &b64(&old))]), store).await.unwrap_err();
        assert!(e.to_string().contains(&format!("sealed under key {new_id}")), "{e}");
        let fixed = Vault::start(&config(&[("LIAISON_MASTER_KEY", &b64(&both))]), store).await.unwrap();
        let third = KeyRing::generate();
        record(&store.pool, third.active_id()).await;
        fixed.check(&store.pool).await;
        let refused: Option<String> =
            sqlx::query_scalar("SELECT refused_key FROM vault_ring WHERE id = 1").fetch_one(&store.pool).await.unwrap();
        assert_eq!(refused.as_deref(), Some(third.active_id()), "{:?}", store.kind);
        assert!(fixed.seal(SLOT, "e").unwrap().starts_with(&format!("v1.{new_id}.")), "it keeps a key it holds");
    });
}
