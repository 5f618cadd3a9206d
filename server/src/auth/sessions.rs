//! The Sessions area: who a request is. The first-run setup (first organisation and admin),
//! sign-in (throttled, counted before the password is checked), sign-out, and the session a cookie
//! names. The sign-in a host console vouches for when it embeds Liaison is in `embedded.rs`.

use crate::auth::throttle::SignInThrottle;
use crate::auth::{password, session};
use crate::error::Error;
use crate::store::sessions::PersonRow;
use crate::store::{orgs, sessions, users, Clock, Store};
use app::backend::{RequestIdentity, SessionHandle, SessionStart};
use app::error::{AppError, ErrorCode, Result};
use app::model::{EmailAddress, Password, Role, SetupForm, Viewer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The people's sessions, and how they start.
pub struct Sessions {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub cookies: session::CookieSettings,
    /// Failed sign-ins per email and address.
    pub throttle: SignInThrottle,
    /// Once a user exists the setup page closes for good; remembered to save a query per page.
    setup_done: AtomicBool,
}

impl Sessions {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        cookies: session::CookieSettings,
        login_lockout_seconds: u64,
    ) -> Self {
        Sessions {
            store,
            clock,
            cookies,
            throttle: SignInThrottle::new(login_lockout_seconds),
            setup_done: AtomicBool::new(false),
        }
    }

    /// Whether any user exists (cached once true).
    pub async fn has_users(&self) -> crate::error::Result<bool> {
        if self.setup_done.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let exist = users::any_exist(&self.store.pool).await?;
        if exist {
            self.setup_done.store(true, Ordering::Relaxed);
        }
        Ok(exist)
    }

    /// Resolves a session token from a cookie.
    pub async fn session_viewer(
        &self,
        token: &str,
    ) -> crate::error::Result<(SessionHandle, Option<app::model::Viewer>)> {
        let hash = session::token_hash(token);
        let viewer = sessions::person(&self.store.pool, &hash, self.clock.now_ms()).await?.map(Viewer::from);
        Ok((SessionHandle(hash), viewer))
    }

    pub async fn start_session(&self, org_id: i64, user_id: i64) -> crate::error::Result<SessionStart> {
        let token = session::new_token();
        let hash = session::token_hash(&token);
        let now = self.clock.now_ms();
        let expires = now + (self.cookies.max_age_secs as i64) * 1000;
        sessions::create(&self.store.pool, &hash, org_id, user_id, now, expires).await?;
        let viewer = sessions::person(&self.store.pool, &hash, now)
            .await?
            .map(Viewer::from)
            .ok_or_else(|| Error::Invalid("the new session could not be read back".into()))?;
        Ok(SessionStart { viewer, set_cookie: self.cookies.set(&token) })
    }

    pub async fn setup_needed(&self) -> Result<bool> {
        Ok(!self.has_users().await?)
    }

    pub async fn create_first_admin(&self, form: SetupForm) -> Result<SessionStart> {
        let hash = password::hash(form.password.expose().to_string()).await?;
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        // Claimed first: a concurrent setup waits here and then fails, instead of racing.
        orgs::claim_setup(&mut *tx, now).await?;
        if users::any_exist(&mut *tx).await? {
            return Err(Error::SetupComplete.into());
        }
        let org_id = orgs::create(&mut *tx, form.org_name.as_str(), now).await?;
        let user = users::NewUser {
            org_id,
            email: form.email.as_str(),
            name: form.name.as_str(),
            role: Role::Admin,
            password_hash: &hash,
        };
        let user_id = users::create(&mut *tx, user, now).await?;
        tx.commit().await.map_err(Error::from)?;
        self.setup_done.store(true, Ordering::Relaxed);
        tracing::info!(org_id, user_id, "first organisation and admin created");
        Ok(self.start_session(org_id, user_id).await?)
    }

    pub async fn sign_in(&self, email: &str, password: &Password, request: &RequestIdentity) -> Result<SessionStart> {
        let ip = request.client_ip;
        let now = self.clock.now_ms();
        // Counted before the password is checked: guesses sent in parallel cannot outrun the limit.
        if let Err(wait) = self.throttle.attempt(email, ip, now) {
            tracing::warn!("sign-in refused: too many failures for this email from this address");
            return Err(AppError::new(
                ErrorCode::TooManyAttempts,
                format!(
                    "Too many failed sign-ins for this account from your address. Wait {wait} seconds, then try again."
                ),
            ));
        }
        let Ok(parsed) = EmailAddress::parse(email) else {
            self.throttle.failed(email, ip, now);
            return Err(invalid_credentials());
        };
        let checked = match users::credentials_by_email(&self.store.pool, parsed.as_str()).await {
            Ok(creds) => {
                // A person who has no password (created by a console) is checked like an unknown
                // one: the same work, the same answer.
                let stored = creds.as_ref().map(|c| c.password_hash.clone()).filter(|h| h != users::NO_PASSWORD);
                password::verify(password.expose().to_string(), stored).await.map(|ok| (creds, ok))
            }
            Err(e) => Err(e),
        };
        let (creds, ok) = match checked {
            Ok(checked) => checked,
            Err(e) => {
                // Busy, or a failure of Liaison's own: the password was not evaluated.
                self.throttle.not_evaluated(email, ip);
                return Err(e.into());
            }
        };
        match creds {
            Some(c) if ok => {
                self.throttle.succeeded(email, ip);
                // A new session at every sign-in; the one this browser came with (if any) ends.
                if let Some(SessionHandle(old)) = &request.session {
                    sessions::delete(&self.store.pool, old).await?;
                }
                tracing::info!(user_id = c.id, org_id = c.org_id, "signed in");
                Ok(self.start_session(c.org_id, c.id).await?)
            }
            _ => {
                let lock = self.throttle.failed(email, ip, self.clock.now_ms());
                tracing::info!(locked_for_ms = lock, "sign-in refused");
                Err(invalid_credentials())
            }
        }
    }

    pub async fn sign_out(&self, session: Option<&SessionHandle>) -> Result<String> {
        if let Some(SessionHandle(hash)) = session {
            sessions::delete(&self.store.pool, hash).await?;
        }
        Ok(self.cookies.clear())
    }
}

fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorCode::InvalidCredentials,
        "That email and password do not match an account. Check them and try again.",
    )
}

impl From<PersonRow> for Viewer {
    fn from(p: PersonRow) -> Viewer {
        Viewer {
            user_id: p.user_id,
            org_id: p.org_id,
            org_name: p.org_name,
            name: p.name,
            email: p.email,
            role: p.role,
            embed_origin: p.embed_origin,
        }
    }
}
