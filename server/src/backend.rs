//! `impl app::backend::Backend`: the server surface the UI may call. Each method checks who is
//! asking, then delegates to the store and the auth modules.

use crate::auth::{password, session};
use crate::catalog::Catalog;
use crate::connections::Actor;
use crate::error::Error;
use crate::keys::live::Vault;
use crate::outbound::Outbound;
use crate::services::OperatorClients;
use crate::store::{orgs, sessions, users, Clock, Store};
use app::backend::{Backend, RequestIdentity, SessionHandle, SessionStart};
use app::connection::{
    ConnectOutcome, ConnectionDetails, ConnectionForm, ConnectionPage, ConnectionQuery, CustomServiceView, FlowStatus,
    ServiceSummary,
};
use app::error::{AppError, ErrorCode, Result};
use app::model::Viewer;
use app::model::{EmailAddress, Password, Role, SetupForm};
use app::service::ServiceForm;
use app::tokens::{ApiTokenView, NewApiToken};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct ServerBackend {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub cookies: session::CookieSettings,
    /// The predefined services in force.
    pub catalog: Arc<Catalog>,
    /// The OAuth clients the operator configured for predefined services.
    pub clients: OperatorClients,
    /// Seals and opens every secret at rest.
    pub vault: Arc<Vault>,
    /// The client for calls to providers (SSRF guard, no redirects, limits).
    pub outbound: Outbound,
    /// Liaison's public URL, ending in `/` (callback URLs are built from it).
    pub public_url: String,
    /// Plain-http service URLs are accepted (operator setting).
    pub allow_http: bool,
    /// SHA-256 of the admin API token, when the admin API is on.
    pub admin_token_hash: Option<String>,
    /// The scripts' API limits.
    pub api: crate::invoke::ApiSettings,
    /// Who may embed Liaison, and the key of their sign-in tokens.
    pub embed: crate::embed::Embed,
    /// One refresh at a time per grant, within this process.
    pub refresh_locks: crate::invoke::refresh::RefreshLocks,
    /// The API call log's writer.
    pub calls: crate::invoke::calls::CallLog,
    /// What the API's calls read, kept while the change stamp stays the same.
    pub hot: Arc<crate::invoke::hot::Hot>,
    /// Failed sign-ins per email and address.
    pub sign_in_throttle: crate::auth::throttle::SignInThrottle,
    /// Once a user exists the setup page closes for good; remembered to save a query per page.
    setup_done: AtomicBool,
}

/// What a `ServerBackend` is made of, besides the store.
pub struct Parts {
    pub clock: Arc<dyn Clock>,
    pub cookies: session::CookieSettings,
    pub catalog: Arc<Catalog>,
    pub clients: OperatorClients,
    pub vault: Arc<Vault>,
    pub outbound: Outbound,
    pub public_url: String,
    pub allow_http: bool,
    pub admin_token: Option<String>,
    /// The first lock-out after repeated failed sign-ins, in seconds.
    pub login_lockout_seconds: u64,
    pub api: crate::invoke::ApiSettings,
    pub embed: crate::embed::Embed,
}

impl ServerBackend {
    /// Needs a Tokio runtime (the API call log's writer is spawned).
    pub fn new(store: Store, p: Parts) -> Self {
        let calls = crate::invoke::calls::CallLog::start(store.clone(), p.clock.clone());
        let hot = crate::invoke::hot::Hot::new(&store);
        let public_url = if p.public_url.ends_with('/') { p.public_url } else { format!("{}/", p.public_url) };
        Self {
            store,
            clock: p.clock,
            cookies: p.cookies,
            catalog: p.catalog,
            clients: p.clients,
            vault: p.vault,
            outbound: p.outbound,
            public_url,
            allow_http: p.allow_http,
            admin_token_hash: p.admin_token.as_deref().map(session::token_hash),
            api: p.api,
            embed: p.embed,
            refresh_locks: Default::default(),
            calls,
            hot,
            sign_in_throttle: crate::auth::throttle::SignInThrottle::new(p.login_lockout_seconds),
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
        let viewer = sessions::viewer(&self.store.pool, &hash, self.clock.now_ms()).await?;
        Ok((SessionHandle(hash), viewer))
    }

    async fn start_session(&self, org_id: i64, user_id: i64) -> crate::error::Result<SessionStart> {
        let token = session::new_token();
        let hash = session::token_hash(&token);
        let now = self.clock.now_ms();
        let expires = now + (self.cookies.max_age_secs as i64) * 1000;
        sessions::create(&self.store.pool, &hash, org_id, user_id, now, expires).await?;
        let viewer = sessions::viewer(&self.store.pool, &hash, now)
            .await?
            .ok_or_else(|| Error::Invalid("the new session could not be read back".into()))?;
        Ok(SessionStart { viewer, set_cookie: self.cookies.set(&token) })
    }
}

fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorCode::InvalidCredentials,
        "That email and password do not match an account. Check them and try again.",
    )
}

#[async_trait]
impl Backend for ServerBackend {
    async fn setup_needed(&self) -> Result<bool> {
        Ok(!self.has_users().await?)
    }

    async fn create_first_admin(&self, form: SetupForm) -> Result<SessionStart> {
        let hash = password::hash(form.password.expose().to_string()).await?;
        let now = self.clock.now_ms();
        let mut tx = self.store.pool.begin().await.map_err(Error::from)?;
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

    async fn sign_in(&self, email: &str, password: &Password, request: &RequestIdentity) -> Result<SessionStart> {
        let ip = request.client_ip;
        let now = self.clock.now_ms();
        // Counted before the password is checked: guesses sent in parallel cannot outrun the limit.
        if let Err(wait) = self.sign_in_throttle.attempt(email, ip, now) {
            tracing::warn!("sign-in refused: too many failures for this email from this address");
            return Err(AppError::new(
                ErrorCode::TooManyAttempts,
                format!(
                    "Too many failed sign-ins for this account from your address. Wait {wait} seconds, then try again."
                ),
            ));
        }
        let Ok(parsed) = EmailAddress::parse(email) else {
            self.sign_in_throttle.failed(email, ip, now);
            return Err(invalid_credentials());
        };
        let checked = match users::credentials_by_email(&self.store.pool, parsed.as_str()).await {
            Ok(creds) => {
                let stored = creds.as_ref().map(|c| c.password_hash.clone());
                password::verify(password.expose().to_string(), stored).await.map(|ok| (creds, ok))
            }
            Err(e) => Err(e),
        };
        let (creds, ok) = match checked {
            Ok(checked) => checked,
            Err(e) => {
                // Busy, or a failure of Liaison's own: the password was not evaluated.
                self.sign_in_throttle.not_evaluated(email, ip);
                return Err(e.into());
            }
        };
        match creds {
            Some(c) if ok => {
                self.sign_in_throttle.succeeded(email, ip);
                // A new session at every sign-in; the one this browser came with (if any) ends.
                if let Some(SessionHandle(old)) = &request.session {
                    sessions::delete(&self.store.pool, old).await?;
                }
                tracing::info!(user_id = c.id, org_id = c.org_id, "signed in");
                Ok(self.start_session(c.org_id, c.id).await?)
            }
            _ => {
                let lock = self.sign_in_throttle.failed(email, ip, self.clock.now_ms());
                tracing::info!(locked_for_ms = lock, "sign-in refused");
                Err(invalid_credentials())
            }
        }
    }

    async fn sign_out(&self, session: Option<&SessionHandle>) -> Result<String> {
        if let Some(SessionHandle(hash)) = session {
            sessions::delete(&self.store.pool, hash).await?;
        }
        Ok(self.cookies.clear())
    }

    async fn services(&self, viewer: &Viewer) -> Result<Vec<ServiceSummary>> {
        Ok(self.service_summaries(viewer).await?)
    }

    async fn custom_service(&self, viewer: &Viewer, id: i64) -> Result<CustomServiceView> {
        Ok(ServerBackend::custom_service(self, viewer, id).await?)
    }

    async fn create_service(&self, viewer: &Viewer, form: ServiceForm) -> Result<i64> {
        Ok(ServerBackend::create_service(self, viewer, &form).await?)
    }

    async fn update_service(&self, viewer: &Viewer, id: i64, form: ServiceForm) -> Result<()> {
        Ok(ServerBackend::update_service(self, viewer, id, &form).await?)
    }

    async fn delete_service(&self, viewer: &Viewer, id: i64) -> Result<()> {
        Ok(ServerBackend::delete_service(self, viewer, id).await?)
    }

    async fn discover_service(&self, viewer: &Viewer, issuer: String) -> Result<ServiceForm> {
        crate::services::require_admin(viewer)?;
        Ok(crate::oauth::discovery::discover(&self.outbound, &issuer, self.allow_http).await?)
    }

    async fn connections(&self, viewer: &Viewer, query: ConnectionQuery) -> Result<ConnectionPage> {
        Ok(self.list_connections(viewer, &query).await?)
    }

    async fn connection(&self, viewer: &Viewer, link_name: String) -> Result<ConnectionDetails> {
        Ok(self.connection_details(viewer, &link_name).await?)
    }

    async fn create_connection(
        &self,
        viewer: &Viewer,
        form: ConnectionForm,
        session: Option<&SessionHandle>,
    ) -> Result<(String, ConnectOutcome)> {
        let session = session.map(|s| s.0.as_str());
        Ok(ServerBackend::create_connection(self, &Actor::from(viewer), &form, false, session).await?)
    }

    async fn connect(
        &self,
        viewer: &Viewer,
        link_name: String,
        form: ConnectionForm,
        session: Option<&SessionHandle>,
    ) -> Result<ConnectOutcome> {
        Ok(ServerBackend::connect(self, viewer, &link_name, &form, session.map(|s| s.0.as_str())).await?)
    }

    async fn update_connection(
        &self,
        viewer: &Viewer,
        link_name: String,
        name: String,
        scopes: Vec<String>,
    ) -> Result<()> {
        Ok(ServerBackend::update_connection(self, viewer, &link_name, &name, &scopes).await?)
    }

    async fn revoke_connection(&self, viewer: &Viewer, link_name: String) -> Result<()> {
        Ok(ServerBackend::revoke_connection(self, viewer, &link_name).await?)
    }

    async fn delete_connection(&self, viewer: &Viewer, link_name: String) -> Result<()> {
        Ok(self.delete_connection_as(viewer, &link_name).await?)
    }

    async fn flow_status(&self, viewer: &Viewer, session: &SessionHandle, ticket: String) -> Result<FlowStatus> {
        Ok(ServerBackend::flow_status(self, viewer, &session.0, &ticket).await?)
    }

    async fn api_tokens(&self, viewer: &Viewer) -> Result<Vec<ApiTokenView>> {
        Ok(self.list_api_tokens(viewer).await?)
    }

    async fn create_api_token(
        &self,
        viewer: &Viewer,
        name: String,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiToken> {
        Ok(self.new_api_token(viewer, &name, expires_in_days).await?)
    }

    async fn revoke_api_token(&self, viewer: &Viewer, id: i64) -> Result<()> {
        Ok(self.revoke_api_token_of(viewer, id).await?)
    }

    async fn members(&self, viewer: &Viewer) -> Result<Vec<app::members::MemberView>> {
        Ok(self.list_members(viewer).await?)
    }

    async fn revoke_member_token(&self, viewer: &Viewer, user_id: i64, token_id: i64) -> Result<()> {
        Ok(ServerBackend::revoke_member_token(self, viewer, user_id, token_id).await?)
    }

    async fn end_member_sessions(&self, viewer: &Viewer, user_id: i64) -> Result<()> {
        Ok(ServerBackend::end_member_sessions(self, viewer, user_id).await?)
    }

    async fn remove_member(&self, viewer: &Viewer, user_id: i64) -> Result<()> {
        Ok(ServerBackend::remove_member(self, viewer, user_id).await?)
    }
}
