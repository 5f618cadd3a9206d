//! The ApiTokens area: creating, listing and revoking personal API tokens, and finding the caller
//! behind the bearer token of a script's call.

use crate::auth::session;
use crate::calls::CallLog;
use crate::error::ApiError;
use crate::error::Result;
use crate::hot::{insert, Fresh, Hot, Memo};
use crate::store::{api_tokens, audit, Clock, Store};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::time::format_utc;
use app::tokens::{parse_expiry_days, parse_token_name, ApiTokenView, NewApiToken, TOKEN_PREFIX};
use axum::http::{header, HeaderMap};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// How many characters of a token (after its `lsn_`) are kept to tell tokens apart.
const SHOWN: usize = 6;

/// A token's last-used time is written at most this often (milliseconds).
const TOUCH_EVERY_MS: i64 = 60_000;

const DAY_MS: i64 = 86_400_000;

/// Who calls: the person an API token belongs to (shared with the memo: a call copies no
/// string of it).
#[derive(Debug, Clone)]
pub struct Caller {
    pub viewer: Arc<Viewer>,
    pub token_id: i64,
    /// For the call log: the person's email and the token's name.
    pub label: Arc<str>,
    /// The change stamp this call read (what is remembered at it or later is good for the call).
    pub fresh: Fresh,
}

/// A caller as remembered: the person behind a token hash, when the token's last use was
/// written (so it is written at most once a minute), and when the token expires (time moves
/// without a change to the database: it is compared with the clock on every call).
struct KnownCaller {
    caller: Caller,
    last_used: AtomicI64,
    expires_at: Option<i64>,
}

/// The personal API tokens of every person.
pub struct ApiTokens {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// The change stamp, read once per call, here.
    pub hot: Arc<Hot>,
    /// Where a token's last use is written.
    pub calls: CallLog,
    /// The callers behind token hashes, kept while the change stamp stays the same.
    callers: Memo<HashMap<String, Arc<KnownCaller>>>,
}

impl ApiTokens {
    pub fn new(store: Store, clock: Arc<dyn Clock>, hot: Arc<Hot>, calls: CallLog) -> ApiTokens {
        ApiTokens { store, clock, hot, calls, callers: Memo::default() }
    }

    /// The caller behind `Authorization: Bearer <token>`.
    pub async fn authenticate(&self, headers: &HeaderMap) -> std::result::Result<Caller, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "Send an API token as `Authorization: Bearer <token>`. Create one in Liaison under Settings → API tokens.",
            ));
        };
        match self.caller(token).await? {
            Some(caller) => Ok(caller),
            None => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "This API token is unknown or was revoked. Create a new one in Liaison under Settings → API tokens.",
            )),
        }
    }

    pub async fn list_api_tokens(&self, viewer: &Viewer) -> Result<Vec<ApiTokenView>> {
        Ok(api_tokens::list(&self.store.pool, viewer.org_id, viewer.user_id)
            .await?
            .into_iter()
            .map(ApiTokenView::from)
            .collect())
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
        let mut tx = self.store.begin().await?;
        let hash = session::token_hash(&token);
        let id = api_tokens::create(
            &mut *tx,
            (viewer.org_id, viewer.user_id),
            name.as_str(),
            &hash,
            &prefix,
            now,
            expires_at,
        )
        .await?;
        let detail = expires_at.map(|at| format!("expires {}", format_utc(at)));
        audit::By::new(Some(viewer.org_id), &viewer.email, now)
            .record(&mut *tx, "api_token.create", name.as_str(), detail.as_deref())
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
        let mut tx = self.store.begin().await?;
        if !api_tokens::revoke(&mut *tx, viewer.org_id, viewer.user_id, id, now).await? {
            return Err(AppError::new(ErrorCode::NotFound, "You have no live API token with that id.").into());
        }
        audit::By::new(Some(viewer.org_id), &viewer.email, now)
            .record(&mut *tx, "api_token.revoke", &id.to_string(), None)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The person behind a presented token, or None for an unknown or revoked one (from memory
    /// while the change stamp stays the same, see `crate::hot`). An expired token is refused
    /// with a sentence that says so: its expiry is compared with the clock on every call, since
    /// time passing changes nothing in the database that would move the stamp.
    async fn caller(&self, token: &str) -> std::result::Result<Option<Caller>, ApiError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let fresh = self.hot.fresh().await?;
        let hash = session::token_hash(token);
        let known = match self.callers.get(fresh, |m| m.get(&hash).cloned()) {
            Some(known) => known,
            None => {
                let Some(p) = api_tokens::viewer(&self.store.pool, &hash).await? else {
                    return Ok(None);
                };
                let label = crate::calls::caller_label(&p.person.email, &p.token_name).into();
                let known = Arc::new(KnownCaller {
                    caller: Caller { viewer: Arc::new(Viewer::from(p.person)), token_id: p.token_id, label, fresh },
                    last_used: AtomicI64::new(p.last_used_at.unwrap_or(i64::MIN)),
                    expires_at: p.expires_at,
                });
                self.callers.keep(fresh, |m| insert(m, hash, known.clone()));
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

impl From<api_tokens::TokenRow> for ApiTokenView {
    fn from(t: api_tokens::TokenRow) -> ApiTokenView {
        ApiTokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            expires_at: t.expires_at,
        }
    }
}
