//! Creating, listing and revoking personal API tokens, and finding the caller behind one.

use crate::auth::session;
use crate::backend::ServerBackend;
use crate::error::Result;
use crate::invoke::hot::KnownCaller;
use crate::invoke::{ApiError, Caller};
use crate::store::{api_tokens, audit};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::tokens::{parse_token_name, ApiTokenView, NewApiToken, TOKEN_PREFIX};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// How many characters of a token (after its `lsn_`) are kept to tell tokens apart.
const SHOWN: usize = 6;

/// A token's last-used time is written at most this often (milliseconds).
const TOUCH_EVERY_MS: i64 = 60_000;

impl ServerBackend {
    pub async fn list_api_tokens(&self, viewer: &Viewer) -> Result<Vec<ApiTokenView>> {
        api_tokens::list(&self.store.pool, viewer.org_id, viewer.user_id).await
    }

    pub async fn new_api_token(&self, viewer: &Viewer, name: &str) -> Result<NewApiToken> {
        let name = parse_token_name(name).map_err(|message| crate::error::Error::Field { field: "name", message })?;
        let token = format!("{TOKEN_PREFIX}{}", session::new_token());
        let prefix: String = token.chars().take(TOKEN_PREFIX.len() + SHOWN).collect();
        let now = self.clock.now_ms();
        let mut tx = self.store.pool.begin().await?;
        let id =
            api_tokens::create(&mut *tx, viewer, name.as_str(), &session::token_hash(&token), &prefix, now).await?;
        audit::record(&mut *tx, Some(viewer.org_id), &viewer.email, "api_token.create", name.as_str(), None, now)
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
    /// while the change stamp stays the same, see `invoke::hot`).
    pub async fn caller(&self, token: &str) -> std::result::Result<Option<Caller>, ApiError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let fresh = self.hot.fresh().await?;
        let hash = session::token_hash(token);
        let known = match self.hot.caller(fresh, &hash) {
            Some(known) => known,
            None => {
                let Some((token_id, token_name, last_used, viewer)) =
                    api_tokens::viewer(&self.store.pool, &hash).await?
                else {
                    return Ok(None);
                };
                let label = format!("{} (token {token_name})", viewer.email);
                let known = Arc::new(KnownCaller {
                    caller: Caller { viewer, token_id, label, fresh },
                    last_used: AtomicI64::new(last_used.unwrap_or(i64::MIN)),
                });
                self.hot.keep_caller(fresh, hash, known.clone());
                known
            }
        };
        let now = self.clock.now_ms();
        let last = known.last_used.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= TOUCH_EVERY_MS
            && known.last_used.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.calls.touch_token(known.caller.token_id);
        }
        Ok(Some(Caller { fresh, ..known.caller.clone() }))
    }
}
