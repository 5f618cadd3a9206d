//! Delivery: a background task in each instance looks for endpoints with outbox rows due (at once
//! when woken, else every [`POLL`]) that no instance works, takes each one's lease with a
//! conditional UPDATE (so of several instances one works it; a lease left by a process that died
//! runs out) and works it in a task of its own, so a slow receiver holds up only its own events.
//! That task sends the endpoint's due events one at a time, oldest first, renewing the
//! endpoint's lease and taking the event's own just before its POST: it POSTs the signed body
//! through the guarded outbound client, logs the attempt (status, latency) and, unless the
//! receiver answered 2xx, backs off exponentially ([`backoff_ms`]) until a day after the event,
//! when it gives up (a retry comes when its back-off is over, after what happened since). At least
//! once: a receiver dedupes by event id.

use super::{sign, Webhooks};
use crate::error::Result;
use crate::store::webhooks::{self as store, Attempt, Next, OutboxRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often each instance looks for due events.
pub const POLL: Duration = Duration::from_secs(1);
/// At most this many endpoints worked at once per instance.
pub const ENDPOINTS_AT_ONCE: usize = 64;
/// Events are tried for this long after they happen.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 3600 * 1000;
/// The receiver's answer is read up to this size, ignored, and the rest dropped unread.
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

    /// Starts the delivery task: each round it starts a task for every endpoint with events due
    /// that no instance works, and never waits for them; once an hour it forgets old events.
    pub fn spawn_delivery(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut last_purge = 0;
            loop {
                if let Err(e) = me.start_due().await {
                    tracing::warn!(error = %e, "webhook delivery could not read the outbox");
                }
                let now = me.infra.clock.now_ms();
                if now - last_purge > 3600 * 1000 {
                    last_purge = now;
                    match store::purge(&me.infra.store.pool, now - KEEP_MS).await {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "old webhook events removed"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "could not remove old webhook events"),
                    }
                    if let Err(e) = store::clear_previous_secrets(&me.infra.store.pool, now).await {
                        tracing::warn!(error = %e, "could not forget retired webhook secrets");
                    }
                }
                let _ = tokio::time::timeout(POLL, me.wake.notified()).await;
            }
        });
    }

    /// Takes the lease of each endpoint with events due that no instance works (up to
    /// [`ENDPOINTS_AT_ONCE`] at a time in this instance) and delivers its events in a task of its
    /// own: how many it started.
    pub async fn start_due(self: &Arc<Self>) -> Result<usize> {
        let free = self.running.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let now = self.infra.clock.now_ms();
        let pool = &self.infra.store.pool;
        let mut started = 0;
        for endpoint in store::due_endpoints(pool, now, i64::try_from(free).unwrap_or(1)).await? {
            let Ok(place) = self.running.clone().try_acquire_owned() else { break };
            let owner = crate::auth::session::new_token();
            if !store::hold_endpoint(pool, endpoint, &owner, now, now + self.lease_ms()).await? {
                continue;
            }
            let me = self.clone();
            tokio::spawn(async move {
                let _place = place;
                if let Err(e) = me.work_endpoint(endpoint, &owner).await {
                    tracing::warn!(error = %e, endpoint_id = endpoint, "a webhook delivery could not be recorded");
                }
                if let Err(e) = store::release_endpoint(&me.infra.store.pool, endpoint, &owner).await {
                    tracing::warn!(error = %e, endpoint_id = endpoint, "a webhook endpoint's lease runs out instead");
                }
            });
            started += 1;
        }
        Ok(started)
    }

    /// Delivers an endpoint's due events one at a time, oldest first, while `owner` holds the
    /// endpoint's lease (renewed before each): each one's own lease is taken just before its POST.
    async fn work_endpoint(&self, endpoint: i64, owner: &str) -> Result<()> {
        let pool = &self.infra.store.pool;
        loop {
            let now = self.infra.clock.now_ms();
            let until = now + self.lease_ms();
            if !store::hold_endpoint(pool, endpoint, owner, now, until).await? {
                tracing::warn!(endpoint_id = endpoint, "a webhook endpoint's lease was lost");
                return Ok(());
            }
            let Some(id) = store::next_due(pool, endpoint, now).await? else { return Ok(()) };
            if !store::claim(pool, id, owner, now, until).await? {
                return Ok(());
            }
            self.deliver_one(id, owner).await?;
        }
    }

    /// One attempt at one outbox row whose lease `owner` holds.
    async fn deliver_one(&self, id: i64, owner: &str) -> Result<()> {
        let pool = &self.infra.store.pool;
        let Some(row) = store::outbox_row(pool, id).await? else { return Ok(()) };
        // No endpoint: it was deleted, and its outbox rows with it.
        let Some(endpoint) = store::endpoint_for_delivery(pool, row.endpoint_id).await? else { return Ok(()) };
        let now = self.infra.clock.now_ms();
        let started = Instant::now();
        // What cannot be sent is an attempt too: logged, backed off, given up after a day.
        let answer = match self.signing_secrets(&endpoint, now) {
            Err(e) => {
                tracing::error!(endpoint_id = endpoint.id, error = %e, "a webhook signing secret cannot be opened");
                Err("the endpoint's signing secret cannot be opened with Liaison's keys; rotate it".to_string())
            }
            Ok(_) if endpoint.url.starts_with("http:") && !self.allow_http => {
                Err("plain http is no longer allowed (allow_http_urls is off): register an https URL".to_string())
            }
            Ok(secrets) => self.post(&endpoint.url, &row, &secrets, now).await,
        };
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
        let mut tx = self.infra.store.begin().await?;
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
        let mut answer = self.infra.outbound.send(req).await.map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        // Read a little of the answer (ignored), and drop the rest: its size changes nothing.
        let mut read = 0;
        while read < MAX_ANSWER {
            match answer.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(status)
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
