//! The vault's keys at start-up, and `liaison keys rotate`: a new active key, every secret
//! re-sealed under it row by row (each row replaced only if unchanged, so live traffic and a
//! second run are safe), then the old keys retired. Interrupted, it resumes where it stopped:
//! the new key is already first in the ring and only rows under other keys are touched.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::{secrets, Store};
use crate::vault::{load_or_create_key_file, write_key_file, KeyRing, Slot};
use rand::RngCore;
use zeroize::Zeroizing;

/// The key ring from `master_key`, or from the key file (created on first run).
pub fn load_ring(config: &Config) -> Result<KeyRing> {
    if let Some(keys) = &config.master_key {
        return KeyRing::parse(keys).map_err(|e| Error::Invalid(format!("master_key: {e}")));
    }
    if let Some(dir) = config.key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::store::create_private_dir(dir)?;
    }
    Ok(load_or_create_key_file(&config.key_file)?)
}

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub active: String,
    pub resealed: u64,
    pub retired: Vec<String>,
    /// Rows that could not be opened (their key is missing): the old keys are kept.
    pub unreadable: u64,
}

/// Rotates: a new key in the key file (or the first key of `master_key`, which the operator has
/// put in front), every secret re-sealed, old keys retired from the key file.
pub async fn rotate(config: &Config, store: &Store, now: i64) -> Result<Rotation> {
    let mut ring = load_ring(config)?;
    let from_file = config.master_key.is_none();
    if from_file {
        let target: Option<String> =
            sqlx::query_scalar("SELECT target_key FROM vault_state WHERE id = 1").fetch_optional(&store.pool).await?;
        let resuming = target.as_deref() == Some(ring.active_id()) && ring.key_ids().len() > 1;
        if !resuming {
            let mut material = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(&mut *material);
            ring = ring.with_new_active_key(material);
            write_key_file(&config.key_file, &ring)?;
            sqlx::query("DELETE FROM vault_state").execute(&store.pool).await?;
            sqlx::query("INSERT INTO vault_state (id, target_key, started_at) VALUES (1, $1, $2)")
                .bind(ring.active_id())
                .bind(now)
                .execute(&store.pool)
                .await?;
            tracing::info!(key_id = ring.active_id(), "new active key written to the key file");
        }
    }
    let mut out = Rotation { active: ring.active_id().to_string(), ..Default::default() };
    for (table, column) in secrets::SEALED {
        let mut after = 0;
        loop {
            let batch = secrets::not_under_key(&store.pool, table, column, ring.active_id(), after, 200).await?;
            let Some((last, _)) = batch.last() else { break };
            after = *last;
            for (id, sealed) in batch {
                let slot = Slot { table, column, row: id };
                match ring.open(slot, &sealed) {
                    Ok(secret) => {
                        let fresh = ring.seal(slot, secret.expose())?;
                        if secrets::replace(&store.pool, table, column, id, &sealed, &fresh).await? {
                            out.resealed += 1;
                        }
                    }
                    Err(e) => {
                        tracing::error!(table, column, row = id, error = %e, "cannot re-seal a secret");
                        out.unreadable += 1;
                    }
                }
            }
        }
    }
    if out.unreadable > 0 {
        return Ok(out);
    }
    let in_use: Vec<String> = secrets::key_usage(&store.pool).await?.into_iter().map(|(k, _)| k).collect();
    out.retired = ring
        .key_ids()
        .iter()
        .filter(|k| **k != ring.active_id() && !in_use.contains(&k.to_string()))
        .map(|k| k.to_string())
        .collect();
    if from_file {
        let keep: Vec<String> = in_use.into_iter().collect();
        let ring = ring.retain(&keep);
        write_key_file(&config.key_file, &ring)?;
        sqlx::query("DELETE FROM vault_state").execute(&store.pool).await?;
    }
    Ok(out)
}
