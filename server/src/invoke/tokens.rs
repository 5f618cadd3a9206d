//! Creating, listing and revoking personal API tokens, and finding the caller behind one.

use crate::auth::session;
use crate::backend::ServerBackend;
use crate::error::Result;
use crate::invoke::hot::KnownCaller;
use crate::invoke::{ApiError, Caller};
use crate::store::{api_tokens, audit};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::time::format_utc;
use app::tokens::{parse_expiry_days, parse_token_name, ApiTokenView, NewApiToken, TOKEN_PREFIX};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// How many characters of a token (after its `lsn_`) are kept to tell tokens apart.
const SHOWN: usize = 6;

/// A token's last-used time is written at most this often (milliseconds).
const TOUCH_EVERY_MS: i64 = 60_000;

const DAY_MS: i64 = 86_400_000;

impl ServerBackend {
    pub async fn list_api_tokens(&self, viewer: &Viewer) -> Result<Vec<ApiTokenView>> {
        api_tokens::list(&self.store.pool, viewer.org_id, viewer.user_id).await
    }

    pub async fn new_api_token(
        &self,
        viewer: &Viewer,
        name: &str,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiToken> {
        let name = parse_token_name(name).map_err(|message| crate::error::Error::Field { field: "name", message })?;
        let days = parse_expiry_days(expires_in_days)
            .map_err(|message| crate::error::Error::Field { field: "expires_in_days", message })?;
        let token = format!("{TOKEN_PREFIX}{}", session::new_token());
        let prefix: String = token.chars().take(TOKEN_PREFIX.len() + SHOWN).collect();
        let now = self.clock.now_ms();
        let expires_at = days.map(|d| now + i64::from(d) * DAY_MS);
        let mut tx = self.store.pool.begin().await?;
        let hash = session::token_hash(&token);
        let id = api_tokens::create(&mut *tx, viewer, name.as_str(), &hash, &prefix, now, expires_at).await?;
        let detail = expires_at.map(|at| format!("expires {}", format_utc(at)));
        audit::record(
            &mut *tx,
            Some(viewer.org_id),
            &viewer.email,
            "api_token.create",
            name.as_str(),
            detail.as_deref(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(NewApiToken {
            view: ApiTokenView {
                id,
                name: name.as_str().to_string(),
                prefix,
                created_at: now,
                last_used_at: None,
                revoked_at: None,
                expires_at,
            },
            token,
        })
    }

    pub async fn revoke_api_token_of(&self, viewer: &Viewer, id: i64) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.store.pool.begin().await?;
        if !api_tokens::revoke(&mut *tx, viewer.org_id, viewer.user_id, id, now).await? {
            return Err(AppError::new(ErrorCode::NotFound, "You have no live API token with that id.").into());
        }
        audit::record(&mut *tx, Some(viewer.org_id), &viewer.email, "api_token.revoke", &id.to_string(), None, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The person behind a presented token, or None for an unknown or revoked one (from memory
    /// while the change stamp stays the same, see `invoke::hot`). An expired token is refused
    /// with a sentence that says so: its expiry is compared with the clock on every call, since
    /// time passing changes nothing in the database that would move the stamp.
    pub async fn caller(&self, token: &str) -> std::result::Result<Option<Caller>, ApiError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let fresh = self.hot.fresh().await?;
        let hash = session::token_hash(token);
        let known = match self.hot.caller(fresh, &hash) {
            Some(known) => known,
            None => {
                let Some(p) = api_tokens::viewer(&self.store.pool, &hash).await? else {
                    return Ok(None);
                };
                let label = format!("{} (token {})", p.viewer.email, p.token_name);
                let known = Arc::new(KnownCaller {
                    caller: Caller { viewer: p.viewer, token_id: p.token_id, label, fresh },
                    last_used: AtomicI64::new(p.last_used_at.unwrap_or(i64::MIN)),
                    expires_at: p.expires_at,
                });
                self.hot.keep_caller(fresh, hash, known.clone());
                known
            }
        };
        let now = self.clock.now_ms();
        if let Some(at) = known.expires_at.filter(|at| *at <= now) {
            return Err(expired(at));
        }
        let last = known.last_used.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= TOUCH_EVERY_MS
            && known.last_used.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.calls.touch_token(known.caller.token_id);
        }
        Ok(Some(Caller { fresh, ..known.caller.clone() }))
    }
}

/// The refusal of an expired token.
fn expired(at: i64) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        format!(
            "This API token expired on {}. Create a new one in Liaison under Settings → API tokens.",
            format_utc(at)
        ),
    )
}
