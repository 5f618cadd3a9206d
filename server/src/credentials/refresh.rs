//! The credential of a call, refreshed when due: ahead of expiry (a skew before `expires_at`,
//! which is counted from the local time the tokens were received) and once after a 401.
//!
//! Exactly one refresh per grant at a time. Within an instance, callers of one grant queue on an
//! in-process lock; across instances, the refresher holds a lease on the grant row, taken with a
//! conditional UPDATE (no lock is held across the HTTP call). Whoever gets the lease re-reads the
//! grant and refreshes only if it is still due; the new tokens (a rotated refresh token too) are
//! stored in the transaction that releases the lease, so no one ever uses a spent refresh token.
//! `invalid_grant` is believed only after a re-read shows no sibling has refreshed meanwhile;
//! 5xx, 429 and timeouts back off and leave the connection Connected.

use super::attach::Credential;
use super::token::{self, TokenError, TokenGrant, TokenSet};
use super::{endpoint, provider_error, Credentials};
use crate::custody::MOVED_REASON;
use crate::error::ApiError;
use crate::error::Error;
use crate::hot::{insert, Fresh};
use crate::outbound::OutboundError;
use crate::services::Resolved;
use crate::store::audit;
use crate::store::connections::{self as conns, ConnectionRecord};
use crate::store::grants::{self, GrantRecord};
use crate::vault::SecretColumn;
use crate::webhooks::{self, Event, EventType};
use app::connection::ConnectionStatus;
use app::error::ErrorCode;
use app::service::{AuthType, GrantType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Tokens are refreshed this long before they expire (at most half their lifetime).
const SKEW_MS: i64 = 60_000;
/// A caller waiting for another instance's refresh looks again this often.
const POLL_MS: u64 = 25;

/// The in-process half of "one refresh at a time": an async lock per grant.
#[derive(Default)]
pub struct RefreshLocks(Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>);

impl RefreshLocks {
    fn get(&self, grant_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Locks nobody holds or waits for are dropped as the map is used.
        if map.len() > 1024 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(grant_id).or_default().clone()
    }
}

/// Whether a grant's access token should be refreshed now.
pub fn due(g: &GrantRecord, now: i64) -> bool {
    match g.expires_at {
        None => false,
        Some(expires) => {
            let lifetime = (expires - g.updated_at).max(0);
            expires - SKEW_MS.min(lifetime / 2) <= now
        }
    }
}

/// How long to leave a failing token endpoint alone after `failures` failures in a row.
pub fn backoff_ms(failures: i64) -> i64 {
    let exp = u32::try_from(failures.clamp(0, 8)).unwrap_or(8);
    (1_000i64 << exp).min(300_000)
}

fn can_refresh(g: &GrantRecord, resolved: &Resolved) -> bool {
    resolved.spec.auth_type == AuthType::OAuth2
        && (g.refresh_token.is_some() || resolved.spec.grant_type == Some(GrantType::ClientCredentials))
}

impl Credentials {
    /// How long a refresh lease lasts: longer than any token endpoint call may take.
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.infra.outbound.config().timeout.as_millis()).unwrap_or(i64::MAX / 4) + 5_000
    }

    /// Where a person authorises a login-user connection for themselves.
    pub fn authorize_page(&self, link_name: &str) -> String {
        format!("{}{}?connection={link_name}", self.infra.public_url, app::api::HOME.trim_start_matches('/'))
    }

    fn no_grant(&self, c: &ConnectionRecord, user_key: i64) -> ApiError {
        if c.per_user && user_key != 0 {
            let mut e = ApiError::new(
                ErrorCode::UserNotAuthorized,
                format!(
                    "The connection \"{}\" uses each person's own account, and you have not authorised it yet. Open {} and connect it, then call again.",
                    c.link_name,
                    self.authorize_page(&c.link_name)
                ),
            );
            e.authorize_url = Some(self.authorize_page(&c.link_name));
            e
        } else {
            ApiError::new(
                ErrorCode::NotConnected,
                format!("The connection \"{}\" has not been authorised yet. Connect it in Liaison first.", c.link_name),
            )
        }
    }

    fn open_grant(&self, g: &GrantRecord, resolved: &Resolved) -> Result<Credential, ApiError> {
        let sealed = g.access_token.as_ref().ok_or_else(ApiError::internal)?;
        let secret = self.vault.open(SecretColumn::GrantAccessToken.at(g.id), sealed).map_err(Error::from)?;
        Ok(Credential {
            secret,
            username: g.username.clone(),
            version: g.version,
            refreshable: can_refresh(g, resolved),
        })
    }

    /// The credential for a call on `c` as `user_key`; `stale` names a version the service just
    /// refused (401), to be replaced unless someone already has. With `fresh`, the grant may come
    /// from memory (see `crate::hot`) when it needs no refresh.
    pub async fn credential(
        &self,
        c: &ConnectionRecord,
        resolved: &Resolved,
        user_key: i64,
        fresh: Option<Fresh>,
        stale: Option<i64>,
    ) -> Result<Credential, ApiError> {
        if let (Some(fresh), None) = (fresh, stale) {
            let known = match self.known_grants.get(fresh, |m| m.get(&(c.id, user_key)).cloned()) {
                Some(g) => Some(g),
                None => grants::grant(&self.infra.store.pool, c.id, user_key).await?.map(|g| {
                    let g = Arc::new(g);
                    self.known_grants.keep(fresh, |m| insert(m, (c.id, user_key), g.clone()));
                    g
                }),
            };
            let g = known.ok_or_else(|| self.no_grant(c, user_key))?;
            self.entrusted(c, resolved, &g).await?;
            let now = self.infra.clock.now_ms();
            if !(due(&g, now) && can_refresh(&g, resolved)) {
                return self.open_grant(&g, resolved);
            }
        }
        let pool = &self.infra.store.pool;
        let wanted = |g: &GrantRecord, now: i64| match stale {
            Some(v) => g.version == v,
            None => due(g, now),
        };
        let give_up = self.infra.clock.now_ms() + self.lease_ms() + 5_000;
        loop {
            let now = self.infra.clock.now_ms();
            let g = grants::grant(pool, c.id, user_key).await?.ok_or_else(|| self.no_grant(c, user_key))?;
            self.entrusted(c, resolved, &g).await?;
            if !wanted(&g, now) || !can_refresh(&g, resolved) {
                return self.open_grant(&g, resolved);
            }
            if g.retry_at.is_some_and(|t| t > now) {
                return self.backed_off(&g, resolved, now);
            }
            let lock = self.refresh_locks.get(g.id);
            let held = lock.lock().await;
            let now = self.infra.clock.now_ms();
            let g = grants::grant_by_id(pool, g.id).await?.ok_or_else(|| self.no_grant(c, user_key))?;
            self.entrusted(c, resolved, &g).await?;
            if !wanted(&g, now) {
                return self.open_grant(&g, resolved);
            }
            let owner = crate::auth::session::new_token();
            if grants::take_lease(pool, g.id, g.version, &owner, now, now + self.lease_ms()).await? {
                let result = self.refresh_holding_lease(c, resolved, &g, &owner).await;
                drop(held);
                return result;
            }
            // Another instance is refreshing (or just did): wait for its new version.
            drop(held);
            if now > give_up {
                let mut e = ApiError::new(
                    ErrorCode::ProviderUnavailable,
                    "Another Liaison instance has been refreshing this connection's token for too long. Try again in a moment.",
                );
                e.retry_after = Some(5);
                return Err(e);
            }
            tokio::time::sleep(Duration::from_millis(POLL_MS + rand::random::<u64>() % POLL_MS)).await;
        }
    }

    /// Refuses a grant made under other endpoints than the service has now (`crate::custody`): it
    /// is dropped here, sent nowhere, and its connection (or its person) must authorise again.
    async fn entrusted(&self, c: &ConnectionRecord, resolved: &Resolved, g: &GrantRecord) -> Result<(), ApiError> {
        if resolved.custody_of(c).entrusts(g.custody.as_deref()) {
            return Ok(());
        }
        let now = self.infra.clock.now_ms();
        let personal = c.per_user && g.user_key != 0;
        let mut tx = self.infra.store.begin().await?;
        grants::delete_grant(&mut *tx, g.id).await?;
        let event = if personal {
            Event::by_liaison(EventType::GrantRemoved, c, c.status, g.user_key)
        } else {
            conns::set_status(&mut *tx, c.id, ConnectionStatus::NeedsReauth, Some(MOVED_REASON), now).await?;
            Event::by_liaison(EventType::ReauthorisationNeeded, c, ConnectionStatus::NeedsReauth, g.user_key)
        };
        webhooks::event::record(&mut tx, event.because(Some(MOVED_REASON)), now).await?;
        audit::By::liaison(Some(c.org_id), now)
            .record(&mut *tx, "connection.set_aside", &c.link_name, Some(MOVED_REASON))
            .await?;
        tx.commit().await?;
        tracing::warn!(link_name = %c.link_name, "a grant made under other endpoints was set aside, not sent");
        if personal {
            return Err(self.no_grant(c, g.user_key));
        }
        Err(ApiError::new(
            ErrorCode::NeedsReauthorization,
            format!("The connection \"{}\" needs to be authorised again: {MOVED_REASON}", c.link_name),
        ))
    }

    /// The provider failed recently: use the token while it lasts, else say when to come back.
    fn backed_off(&self, g: &GrantRecord, resolved: &Resolved, now: i64) -> Result<Credential, ApiError> {
        if g.expires_at.is_some_and(|e| e > now) {
            return self.open_grant(g, resolved);
        }
        let wait = g.retry_at.map(|t| (t - now).max(0) / 1000 + 1).unwrap_or(1);
        let mut e = ApiError::new(
            ErrorCode::ProviderUnavailable,
            format!(
                "{}'s token endpoint is failing, so the expired token cannot be refreshed yet. Liaison will try again; call again in {wait} s.",
                resolved.spec.name
            ),
        );
        e.retry_after = Some(u64::try_from(wait).unwrap_or(1));
        Err(e)
    }

    async fn refresh_holding_lease(
        &self,
        c: &ConnectionRecord,
        resolved: &Resolved,
        g: &GrantRecord,
        owner: &str,
    ) -> Result<Credential, ApiError> {
        let pool = &self.infra.store.pool;
        let outcome = self.call_token_endpoint(c, resolved, g).await;
        crate::metrics::refresh(super::refresh_outcome(&outcome));
        let now = self.infra.clock.now_ms();
        match outcome {
            Ok(tokens) => self.store_refresh(c, resolved, g, owner, tokens).await,
            Err(Refusal::Token(e)) if e.is_invalid_grant() => {
                // A sibling may have refreshed (its lease ran out on us): believe it only if not.
                if let Some(fresh) = grants::grant_by_id(pool, g.id).await? {
                    if fresh.version != g.version {
                        grants::release_lease(pool, g.id, owner, None).await?;
                        self.entrusted(c, resolved, &fresh).await?;
                        return self.open_grant(&fresh, resolved);
                    }
                }
                let reason = "The provider no longer accepts this connection's authorisation. Connect it again.";
                let mut tx = self.infra.store.begin().await?;
                let event = if c.per_user && g.user_key != 0 {
                    grants::delete_grant(&mut *tx, g.id).await?;
                    Event::by_liaison(EventType::GrantRemoved, c, c.status, g.user_key)
                } else {
                    grants::release_lease(&mut *tx, g.id, owner, None).await?;
                    conns::set_status(&mut *tx, c.id, ConnectionStatus::NeedsReauth, Some(reason), now).await?;
                    Event::by_liaison(EventType::ReauthorisationNeeded, c, ConnectionStatus::NeedsReauth, g.user_key)
                };
                webhooks::event::record(&mut tx, event.because(Some(reason)), now).await?;
                audit::By::liaison(Some(c.org_id), now)
                    .record(&mut *tx, "connection.refresh_refused", &c.link_name, Some("invalid_grant"))
                    .await?;
                tx.commit().await?;
                tracing::warn!(link_name = %c.link_name, "refresh refused with invalid_grant: needs re-authorisation");
                if c.per_user && g.user_key != 0 {
                    return Err(self.no_grant(c, g.user_key));
                }
                Err(ApiError::new(
                    ErrorCode::NeedsReauthorization,
                    format!("{} no longer accepts the authorisation of \"{}\". Someone who manages it must connect it again in Liaison.", resolved.spec.name, c.link_name),
                ))
            }
            Err(Refusal::Token(e)) if e.is_retryable() => {
                let retry = now + backoff_ms(g.refresh_failures);
                let mut tx = self.infra.store.begin().await?;
                grants::release_lease(&mut *tx, g.id, owner, Some(retry)).await?;
                if g.refresh_failures == 0 {
                    // The first failure of a streak is told; the recovery ends it (`store_refresh`).
                    let message = provider_error(&resolved.spec.name, &e).message;
                    let event = Event::by_liaison(EventType::RefreshFailed, c, c.status, g.user_key);
                    webhooks::event::record(&mut tx, event.because(Some(&message)), now).await?;
                }
                tx.commit().await?;
                tracing::warn!(link_name = %c.link_name, error = %e, "refresh failed; backing off");
                self.backed_off(&GrantRecord { retry_at: Some(retry), ..g.clone() }, resolved, now)
            }
            Err(Refusal::Token(e)) => {
                let message = provider_error(&resolved.spec.name, &e).message;
                let mut tx = self.infra.store.begin().await?;
                grants::release_refused(&mut *tx, g.id, owner).await?;
                let status = if c.per_user && g.user_key != 0 {
                    c.status
                } else {
                    conns::set_status(&mut *tx, c.id, ConnectionStatus::Error, Some(&message), now).await?;
                    ConnectionStatus::Error
                };
                if g.refresh_failures == 0 {
                    // As for a failure to retry: the first of a streak is told, and its end.
                    let event = Event::by_liaison(EventType::RefreshFailed, c, status, g.user_key);
                    webhooks::event::record(&mut tx, event.because(Some(&message)), now).await?;
                }
                audit::By::liaison(Some(c.org_id), now)
                    .record(&mut *tx, "connection.refresh_failed", &c.link_name, Some(&message))
                    .await?;
                tx.commit().await?;
                tracing::warn!(link_name = %c.link_name, error = %e, "refresh failed");
                // The SSRF guard has its own code, whichever call met it.
                let code = match e {
                    TokenError::Outbound(OutboundError::HostNotAllowed { .. }) => ErrorCode::ApiHostNotAllowed,
                    _ => ErrorCode::RefreshFailed,
                };
                Err(ApiError::new(code, message))
            }
            Err(Refusal::Other(e)) => {
                grants::release_lease(pool, g.id, owner, None).await?;
                Err(e)
            }
        }
    }

    async fn call_token_endpoint(
        &self,
        c: &ConnectionRecord,
        resolved: &Resolved,
        g: &GrantRecord,
    ) -> Result<TokenSet, Refusal> {
        let spec = &resolved.spec;
        let client = self.services.client_for(c, resolved).map_err(|e| Refusal::Other(e.into()))?.ok_or_else(|| {
            Refusal::Other(ApiError::new(
                ErrorCode::RefreshFailed,
                format!("{} has no OAuth client configured any more; ask your administrator.", spec.name),
            ))
        })?;
        if spec.grant_type == Some(GrantType::ClientCredentials) {
            return self.client_credentials(c, spec, &client).await.map_err(Refusal::Token);
        }
        let sealed = g.refresh_token.as_ref().ok_or_else(|| Refusal::Other(ApiError::internal()))?;
        let refresh = self
            .vault
            .open(SecretColumn::GrantRefreshToken.at(g.id), sealed)
            .map_err(|e| Refusal::Other(Error::from(e).into()))?;
        let ep = endpoint(spec, spec.refresh_url().map(|u| u.as_str()), &client);
        token::request_token(
            &self.infra.outbound,
            &ep,
            TokenGrant::RefreshToken { refresh_token: &refresh, scope: None },
        )
        .await
        .map_err(Refusal::Token)
    }

    async fn store_refresh(
        &self,
        c: &ConnectionRecord,
        resolved: &Resolved,
        g: &GrantRecord,
        owner: &str,
        tokens: TokenSet,
    ) -> Result<Credential, ApiError> {
        let now = self.infra.clock.now_ms();
        let access = self
            .vault
            .seal(SecretColumn::GrantAccessToken.at(g.id), tokens.access_token.expose())
            .map_err(Error::from)?;
        let refresh = match &tokens.refresh_token {
            Some(r) => {
                Some(self.vault.seal(SecretColumn::GrantRefreshToken.at(g.id), r.expose()).map_err(Error::from)?)
            }
            None => None,
        };
        let expires_at = tokens.expires_in.map(|s| now.saturating_add(s.saturating_mul(1000)));
        let mut tx = self.infra.store.begin().await?;
        let kept = grants::store_refreshed(&mut *tx, g.id, owner, &access, refresh.as_deref(), expires_at, now).await?;
        if kept {
            audit::By::liaison(Some(c.org_id), now).record(&mut *tx, "connection.refresh", &c.link_name, None).await?;
            if g.refresh_failures > 0 {
                let event = Event::by_liaison(EventType::RefreshRecovered, c, c.status, g.user_key);
                webhooks::event::record(&mut tx, event, now).await?;
            }
            tx.commit().await?;
        } else {
            // Our lease ran out and another instance took over: its tokens win.
            tx.rollback().await?;
            tracing::warn!(link_name = %c.link_name, "a refresh finished after its lease ran out; its tokens were not stored");
        }
        Ok(Credential {
            secret: tokens.access_token,
            username: g.username.clone(),
            version: g.version + 1,
            refreshable: can_refresh(g, resolved),
        })
    }
}

pub(super) enum Refusal {
    Token(TokenError),
    Other(ApiError),
}

#[cfg(test)]
mod tests;
