//! Delivery: a background task in each instance looks for outbox rows that are due (at once when
//! woken, else every [`POLL`]), oldest first, takes each one's lease with a conditional UPDATE (so of several
//! instances one delivers it; a lease left by a process that died runs out), POSTs the signed
//! body through the guarded outbound client, logs the attempt (status, latency) and, unless the
//! receiver answered 2xx, backs off exponentially ([`backoff_ms`]) until a day after the event,
//! when it gives up. Each endpoint gets its events one at a time, in order (a retry comes when its
//! back-off is over, after what happened since). At least once: a receiver dedupes by event id.

use super::{sign, Webhooks};
use crate::error::Result;
use crate::store::webhooks::{self as store, Attempt, Next, OutboxRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often each instance looks for due events.
pub const POLL: Duration = Duration::from_secs(1);
/// At most this many deliveries at once per instance.
const BATCH: i64 = 16;
/// Events are tried for this long after they happen.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 3600 * 1000;
/// The receiver's answer is read up to this size (and ignored).
const MAX_ANSWER: usize = 64 * 1024;
/// Ended events (and their log) are kept this long.
const KEEP_MS: i64 = 30 * 24 * 3600 * 1000;

/// The wait after the `attempts`-th failed attempt: 10 s, 20 s, 40 s… up to an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(20);
    10_000i64.saturating_mul(1i64 << exp).min(MAX_BACKOFF_MS)
}

/// What to do after a failed attempt: try again after the back-off, or give up a day after
/// the event.
pub fn after_failure(created_at: i64, attempts: i64, now: i64) -> Next {
    let at = now + backoff_ms(attempts);
    if at > created_at + GIVE_UP_AFTER_MS {
        Next::GiveUp
    } else {
        Next::RetryAt(at)
    }
}

impl Webhooks {
    /// How long a delivery's lease lasts: longer than any call may take.
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.infra.outbound.config().timeout.as_millis()).unwrap_or(i64::MAX / 4) + 10_000
    }

    /// Starts the delivery task.
    pub fn spawn_delivery(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut last_purge = 0;
            loop {
                match me.deliver_due().await {
                    // A full batch: there may be more at once.
                    Ok(n) if n >= BATCH as usize => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "webhook delivery could not read the outbox"),
                }
                let now = me.infra.clock.now_ms();
                if now - last_purge > 3600 * 1000 {
                    last_purge = now;
                    match store::purge(&me.infra.store.pool, now - KEEP_MS).await {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "old webhook events removed"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "could not remove old webhook events"),
                    }
                }
                let _ = tokio::time::timeout(POLL, me.wake.notified()).await;
            }
        });
    }

    /// Delivers what is due and nobody holds: how many this instance took.
    pub async fn deliver_due(&self) -> Result<usize> {
        let now = self.infra.clock.now_ms();
        let pool = &self.infra.store.pool;
        let owner = crate::auth::session::new_token();
        // By endpoint, oldest first: each endpoint gets its events in order, the endpoints side
        // by side.
        let mut taken: Vec<(i64, Vec<i64>)> = Vec::new();
        let mut n = 0;
        for (id, endpoint) in store::due(pool, now, BATCH).await? {
            if store::claim(pool, id, &owner, now, now + self.lease_ms()).await? {
                n += 1;
                match taken.iter_mut().find(|(e, _)| *e == endpoint) {
                    Some((_, ids)) => ids.push(id),
                    None => taken.push((endpoint, vec![id])),
                }
            }
        }
        let owner = &owner;
        let endpoints = taken.into_iter().map(|(_, ids)| async move {
            for id in ids {
                if let Err(e) = self.deliver_one(id, owner).await {
                    tracing::warn!(error = %e, "a webhook delivery could not be recorded");
                }
            }
        });
        futures_util::future::join_all(endpoints).await;
        Ok(n)
    }

    /// One attempt at one outbox row whose lease `owner` holds.
    async fn deliver_one(&self, id: i64, owner: &str) -> Result<()> {
        let pool = &self.infra.store.pool;
        let Some(row) = store::outbox_row(pool, id).await? else { return Ok(()) };
        let Some(endpoint) = store::endpoint_for_delivery(pool, row.endpoint_id).await? else { return Ok(()) };
        let now = self.infra.clock.now_ms();
        let secrets = self.signing_secrets(&endpoint, now)?;
        let started = Instant::now();
        let answer = self.post(&endpoint.url, &row, &secrets, now).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status, error) = match &answer {
            Ok(status) => (Some(i64::from(*status)), None),
            Err(e) => (None, Some(e.clone())),
        };
        let delivered = answer.is_ok_and(|s| (200..300).contains(&s));
        let now = self.infra.clock.now_ms();
        let next = if delivered { Next::Delivered } else { after_failure(row.created_at, row.attempts + 1, now) };
        if !delivered {
            tracing::warn!(
                endpoint_id = endpoint.id,
                event_id = %row.event_id,
                status,
                error = error.as_deref().unwrap_or_default(),
                "webhook delivery failed"
            );
        }
        let mut tx = pool.begin().await?;
        let attempt = Attempt {
            org_id: row.org_id,
            endpoint_id: row.endpoint_id,
            outbox_id: row.id,
            event_id: &row.event_id,
            event_type: &row.event_type,
            attempt: row.attempts + 1,
            status_code: status,
            latency_ms,
            error: error.as_deref(),
        };
        store::log_attempt(&mut *tx, attempt, now).await?;
        if !store::finish(&mut *tx, row.id, owner, next, now).await? {
            tracing::warn!(event_id = %row.event_id, "a webhook delivery outlived its lease");
        }
        tx.commit().await?;
        Ok(())
    }

    /// POSTs the signed event: the receiver's status, or why it could not be reached (naming at
    /// most the host).
    async fn post(
        &self,
        url: &str,
        row: &OutboxRecord,
        secrets: &[crate::vault::Secret],
        now: i64,
    ) -> std::result::Result<u16, String> {
        let t = now.div_euclid(1000);
        let body = row.payload.as_bytes();
        let keys: Vec<&str> = secrets.iter().map(|s| s.expose()).collect();
        let req = self
            .infra
            .outbound
            .client()
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(sign::HEADER, sign::header_value(&keys, t, body))
            .header("Liaison-Event-Id", row.event_id.as_str())
            .header("Liaison-Event-Type", row.event_type.as_str())
            .body(row.payload.clone())
            .build()
            .map_err(|_| "the request could not be built from the endpoint's URL".to_string())?;
        match self.infra.outbound.execute_limited(req, MAX_ANSWER).await {
            Ok(r) => Ok(r.status),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_from_ten_seconds_to_an_hour_and_gives_up_after_a_day() {
        let waits: Vec<i64> = (1..=10).map(backoff_ms).collect();
        assert_eq!(waits[..4], [10_000, 20_000, 40_000, 80_000]);
        assert_eq!(waits[9], MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(1_000), MAX_BACKOFF_MS);
        assert!(matches!(after_failure(0, 1, 0), Next::RetryAt(10_000)));
        assert!(matches!(after_failure(0, 30, GIVE_UP_AFTER_MS - MAX_BACKOFF_MS), Next::RetryAt(_)));
        assert!(matches!(after_failure(0, 30, GIVE_UP_AFTER_MS - MAX_BACKOFF_MS + 1), Next::GiveUp));
        // Tried about thirty times in a day.
        let (mut now, mut n) = (0, 0);
        while let Next::RetryAt(at) = after_failure(0, n + 1, now) {
            now = at;
            n += 1;
        }
        assert!((25..=35).contains(&n), "{n} retries");
    }
}
