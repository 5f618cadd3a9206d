//! Grants kept alive: a refresh token a provider lets lapse when unused (the service's
//! `refresh_idle_days`: Google's six months, Microsoft's 90 days, a custom service's own) is
//! refreshed by a background task before then, though no call needs it, so a connection nobody
//! used for months still works; a refused refresh marks it Needs re-authorisation and tells the
//! webhooks now, before a script fails. The refresh is the calls' own (`super::refresh`): one
//! per grant across instances under the grant's lease, its outcome recorded as theirs.

use super::Credentials;
use crate::error::Result;
use crate::services::Resolved;
use crate::store::connections::{self as conns, ConnectionRecord};
use crate::store::idle_grants::{self, IdleGrant};
use std::sync::Arc;
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// A grant is refreshed this long before its refresh token would lapse (at most half its idle
/// lifetime), leaving time to try again while the provider is failing.
pub const MARGIN_MS: i64 = 14 * DAY_MS;
/// The task looks for idle grants this often, by the server's clock.
pub const SWEEP_EVERY_MS: i64 = 10 * 60 * 1000;
/// How often the task reads the clock (a moved test clock is noticed this soon).
const LOOK: Duration = Duration::from_secs(1);
/// The least idle time after which any grant may be due (a one-day lifetime, less half).
const SOONEST_MS: i64 = DAY_MS / 2;

/// How long after its last use a refresh token with `idle_days` of idle lifetime is refreshed.
pub fn due_after_ms(idle_days: u32) -> i64 {
    let lifetime = i64::from(idle_days) * DAY_MS;
    lifetime - MARGIN_MS.min(lifetime / 2)
}

/// Whether a grant last refreshed (or authorised) at `updated_at` must be refreshed now to keep
/// its refresh token from lapsing, and is not backing off from a failing provider.
pub fn keep_alive_due(g: &IdleGrant, idle_days: u32, now: i64) -> bool {
    now - g.updated_at >= due_after_ms(idle_days) && g.retry_at.is_none_or(|t| t <= now)
}

impl Credentials {
    /// Starts the task that keeps idle grants alive: a sweep at start, then every
    /// [`SWEEP_EVERY_MS`].
    pub fn spawn_keep_alive(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut last: Option<i64> = None;
            loop {
                let now = me.infra.clock.now_ms();
                if last.is_none_or(|t| now - t >= SWEEP_EVERY_MS || now < t) {
                    last = Some(now);
                    if let Err(e) = me.keep_alive().await {
                        tracing::warn!(error = %e, "could not look for idle grants to keep alive");
                    }
                }
                tokio::time::sleep(LOOK).await;
            }
        });
    }

    /// Refreshes every grant whose refresh token would lapse from disuse: how many are now
    /// fresh (by this instance or, under the lease, another).
    pub async fn keep_alive(&self) -> Result<usize> {
        let now = self.infra.clock.now_ms();
        let idle = idle_grants::idle_since(&self.infra.store.pool, now - SOONEST_MS).await?;
        let (mut due, mut kept) = (0, 0);
        let mut current: Option<(ConnectionRecord, Resolved)> = None;
        for g in idle {
            if current.as_ref().is_none_or(|(c, _)| c.id != g.connection_id) {
                current = self.service_of(g.connection_id).await?;
            }
            let Some((c, resolved)) = current.as_ref() else { continue };
            let Some(days) = resolved.spec.refresh_idle_days else { continue };
            if !keep_alive_due(&g, days, now) {
                continue;
            }
            due += 1;
            // As if a call had just been refused with this version: refreshed once, whoever does.
            match self.credential(c, resolved, g.user_key, None, Some(g.version)).await {
                Ok(_) => kept += 1,
                Err(e) => {
                    tracing::warn!(link_name = %c.link_name, code = ?e.code, message = %e.message, "an idle grant could not be kept alive")
                }
            }
        }
        if due > 0 {
            tracing::info!(due, kept, "idle grants refreshed before their refresh tokens lapse");
        }
        Ok(kept)
    }

    /// A connection and its service, or None (logged) when the service cannot be resolved.
    async fn service_of(&self, connection_id: i64) -> Result<Option<(ConnectionRecord, Resolved)>> {
        let Some(c) = conns::by_id_any_org(&self.infra.store.pool, connection_id).await? else { return Ok(None) };
        match self.services.resolve(c.org_id, &c.service).await {
            Ok(resolved) => Ok(Some((c, resolved))),
            Err(e) => {
                tracing::warn!(link_name = %c.link_name, error = %e, "an idle grant's service could not be read");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(updated_at: i64, retry_at: Option<i64>) -> IdleGrant {
        IdleGrant { id: 1, connection_id: 1, user_key: 0, version: 1, updated_at, retry_at }
    }

    #[test]
    fn a_grant_is_due_its_idle_lifetime_less_the_margin_after_its_last_refresh() {
        // Google: 180 days, refreshed after 166; Microsoft: 90 days, after 76.
        assert_eq!(due_after_ms(180), 166 * DAY_MS);
        assert_eq!(due_after_ms(90), 76 * DAY_MS);
        let start = 1_000_000;
        let g = idle(start, None);
        assert!(!keep_alive_due(&g, 90, start + 76 * DAY_MS - 1));
        assert!(keep_alive_due(&g, 90, start + 76 * DAY_MS));
        assert!(keep_alive_due(&g, 90, start + 200 * DAY_MS), "long past: still refreshed (it may yet work)");
    }

    #[test]
    fn a_short_lifetime_keeps_half_of_it() {
        assert_eq!(due_after_ms(1), DAY_MS / 2);
        assert_eq!(due_after_ms(28), 14 * DAY_MS);
        assert_eq!(due_after_ms(20), 10 * DAY_MS);
        assert!(due_after_ms(1) >= SOONEST_MS, "no grant is due before the task looks at it");
        let g = idle(0, None);
        assert!(!keep_alive_due(&g, 1, DAY_MS / 2 - 1));
        assert!(keep_alive_due(&g, 1, DAY_MS / 2));
    }

    #[test]
    fn a_grant_backing_off_waits_for_its_retry_time() {
        let now = 100 * DAY_MS;
        assert!(!keep_alive_due(&idle(0, Some(now + 1)), 90, now));
        assert!(keep_alive_due(&idle(0, Some(now)), 90, now));
        assert!(keep_alive_due(&idle(0, Some(now - 1)), 90, now));
    }
}
