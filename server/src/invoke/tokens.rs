//! Creating, listing and revoking personal API tokens, and finding the caller behind one.

use crate::auth::session;
use crate::backend::ServerBackend;
use crate::error::Result;
use crate::invoke::Caller;
use crate::store::{api_tokens, audit};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::tokens::{parse_token_name, ApiTokenView, NewApiToken, TOKEN_PREFIX};

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

    /// The person behind a presented token, or None for an unknown or revoked one.
    pub async fn caller(&self, token: &str) -> Result<Option<Caller>> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let Some((token_id, token_name, last_used, viewer)) =
            api_tokens::viewer(&self.store.pool, &session::token_hash(token)).await?
        else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        if last_used.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
            self.calls.touch_token(token_id);
        }
        let label = format!("{} (token {token_name})", viewer.email);
        Ok(Some(Caller { viewer, token_id, label }))
    }
}
