//! The vault's keys at start-up, and `liaison keys rotate`: a new active key, recorded in the
//! database so running servers seal under it within a second (`live`), every secret re-sealed
//! under it row by row (each row replaced only if unchanged, so live traffic and a second run are
//! safe), passes repeated until no row is under another key, then the old keys retired.
//! Interrupted, it resumes where it stopped: the new key is already first in the ring and only
//! rows under other keys are touched. If a running server does not hold the new key (a
//! `master_key` without it), the rotation gives the old key back and stops, changing nothing else.

pub mod live;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::sql;
use crate::store::{secrets, Store};
use crate::vault::{load_or_create_key_file, write_key_file, KeyRing, SecretColumn};
use rand::RngCore;
use std::time::Duration;
use zeroize::Zeroizing;

/// Re-sealing passes before the rotation gives up on rows that keep coming back under an old key.
const PASSES: usize = 5;

/// The key ring from `master_key`, or from the key file (created on first run).
pub fn load_ring(config: &Config) -> Result<KeyRing> {
    if let Some(keys) = &config.master_key {
        return KeyRing::parse(keys.expose()).map_err(|e| Error::Invalid(format!("master_key: {e}")));
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
            sql!("INSERT INTO vault_state (id, target_key, started_at) VALUES (1, $1, $2)", ring.active_id(), now)
                .execute(&store.pool)
                .await?;
            tracing::info!(key_id = ring.active_id(), "new active key written to the key file");
        }
    }
    record_active_key(store, ring.active_id()).await?;
    let mut out = Rotation { active: ring.active_id().to_string(), ..Default::default() };
    for _ in 0..PASSES {
        reseal_pass(store, &ring, &mut out).await?;
        if out.unreadable > 0 {
            return Ok(out);
        }
        let in_use = secrets::key_usage(&store.pool).await?;
        if in_use.iter().all(|(k, _)| k == ring.active_id()) {
            break;
        }
    }
    let in_use: Vec<String> = secrets::key_usage(&store.pool).await?.into_iter().map(|(k, _)| k).collect();
    if let Some(old) = in_use.iter().find(|k| *k != ring.active_id()) {
        return Err(Error::Invalid(format!(
            "secrets keep being sealed under key {old} after {PASSES} passes, so no key was retired: a server \
             is not following the rotation; run this again"
        )));
    }
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

/// Records `target` as the key to seal under. When it changes, waits until every running server
/// has read it (they read it every `live::CHECK_EVERY`), and stops (giving the old key back) if
/// one of them does not hold it.
async fn record_active_key(store: &Store, target: &str) -> Result<()> {
    let previous = live::recorded_key(&store.pool).await?;
    if previous.as_deref() == Some(target) {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    let sql = "INSERT INTO vault_ring (id, active_key, version) VALUES (1, $1, 1) ON CONFLICT (id) DO UPDATE \
               SET active_key = $1, version = vault_ring.version + 1, refused_key = NULL, refused_at = NULL";
    sql!(sql, target).execute(&mut *tx).await?;
    tx.commit().await?;
    let Some(previous) = previous else { return Ok(()) };
    tracing::info!(key_id = target, "new active key recorded; waiting for running servers to follow");
    tokio::time::sleep(live::CHECK_EVERY * 2 + Duration::from_millis(500)).await;
    let refused: Option<String> =
        sqlx::query_scalar("SELECT refused_key FROM vault_ring WHERE id = 1").fetch_one(&store.pool).await?;
    if refused.as_deref() == Some(target) {
        let sql = "UPDATE vault_ring SET active_key = $1, version = version + 1 WHERE id = 1 AND active_key = $2";
        sql!(sql, &previous, target).execute(&store.pool).await?;
        return Err(Error::Invalid(format!(
            "a running server does not hold key {target} (its log says so), so nothing was re-sealed and key \
             {previous} stays active: give every server the new key (master_key, or the key file), restart them, \
             then run this again"
        )));
    }
    Ok(())
}

/// One pass over every sealed column: each row not under the active key is re-sealed under it.
async fn reseal_pass(store: &Store, ring: &KeyRing, out: &mut Rotation) -> Result<()> {
    for column in SecretColumn::ALL {
        let (table, name) = column.table_column();
        let mut after = 0;
        loop {
            let batch = secrets::not_under_key(&store.pool, column, ring.active_id(), after, 200).await?;
            let Some((last, _)) = batch.last() else { break };
            after = *last;
            for (id, sealed) in batch {
                let slot = column.at(id);
                match ring.open(slot, &sealed) {
                    Ok(secret) => {
                        let fresh = ring.seal(slot, secret.expose())?;
                        if secrets::replace(&store.pool, column, id, &sealed, &fresh).await? {
                            out.resealed += 1;
                        }
                    }
                    Err(e) => {
                        tracing::error!(table, column = name, row = id, error = %e, "cannot re-seal a secret");
                        out.unreadable += 1;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::db_test;

    fn master(rings: &[&KeyRing]) -> Config {
        let keys: Vec<String> = rings
            .iter()
            .flat_map(|r| {
                r.to_file_text().lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect::<Vec<_>>()
            })
            .collect();
        let env = vec![("LIAISON_MASTER_KEY".to_string(), keys.join(","))];
        Config::load_from(None, &env).unwrap()
    }

    db_test!(a_rotation_to_a_key_a_running_server_lacks_stops_and_gives_the_old_key_back, async |store: &Store| {
        let (old, new) = (KeyRing::generate(), KeyRing::generate());
        // A server running with the old key only; a secret sealed by it.
        let running = live::Vault::start(&master(&[&old]), store).await.unwrap();
        let slot = SecretColumn::ServiceClientSecret.at(1);
        for sql in [
            "INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', 1)",
            "INSERT INTO services (id, org_id, name, name_key, spec, created_at, updated_at) \
             VALUES (1, 1, 'Zephyr', 'zephyr', '{}', 1, 1)",
        ] {
            sqlx::query(sql).execute(&store.pool).await.unwrap();
        }
        secrets::set(&store.pool, SecretColumn::ServiceClientSecret, 1, Some(&running.seal(slot, "s").unwrap()))
            .await
            .unwrap();

        // The operator's CLI has the new key first: the running server refuses, the rotation stops.
        let both = master(&[&new, &old]);
        let e = rotate(&both, store, 1).await.unwrap_err().to_string();
        assert!(e.contains("a running server does not hold key"), "{:?}: {e}", store.kind);
        assert_eq!(live::recorded_key(&store.pool).await.unwrap().as_deref(), Some(old.active_id()));
        let usage = secrets::key_usage(&store.pool).await.unwrap();
        assert_eq!(usage, vec![(old.active_id().to_string(), 1)], "nothing re-sealed");
        drop(running);

        // Every server given the new key: the rotation goes through and the old key is free.
        let _running = live::Vault::start(&both, store).await.unwrap();
        let r = rotate(&both, store, 2).await.unwrap();
        assert_eq!((r.resealed, r.retired.clone()), (1, vec![old.active_id().to_string()]), "{r:?}");
        assert_eq!(live::recorded_key(&store.pool).await.unwrap().as_deref(), Some(new.active_id()));
    });
}
