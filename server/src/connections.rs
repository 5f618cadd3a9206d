//! The connection lifecycle: create, connect (popup or not), edit, revoke, enable, delete, and the
//! views of the list and the details page. Authorisation rules live here: members see every
//! connection of their organisation; the creator and admins manage it; internal connections are
//! managed only through the admin API.

use crate::backend::ServerBackend;
use crate::custody::Custody;
use crate::error::{Error, Result};
use crate::oauth::token::{self, TokenEndpoint, TokenError, TokenGrant, TokenSet};
use crate::services::{ConfiguredClient, OAuthClient, Resolved};
use crate::store::connections::{self as conns, ConnectionRecord, GrantMeta, NewConnection};
use crate::store::{audit, secrets};
use crate::vault::{Secret, SecretColumn};
use app::connection::{
    parse_names, parse_scopes, ConnectOutcome, ConnectionDetails, ConnectionForm, ConnectionPage, ConnectionQuery,
    ConnectionRow, ConnectionStatus, GrantView, LinkName, Problems, ServiceRef,
};
use app::error::{AppError, ErrorCode};
use app::model::{Role, Viewer};
use app::service::{AuthType, GrantType, ServiceSpec};

/// Who acts: a signed-in person, or an integration through the admin API.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: i64,
    pub user_id: Option<i64>,
    pub label: String,
}

impl From<&Viewer> for Actor {
    fn from(v: &Viewer) -> Self {
        Actor { org_id: v.org_id, user_id: Some(v.user_id), label: v.email.clone() }
    }
}

/// Credentials typed on a form (API key, Basic, or a client for a predefined service).
#[derive(Debug, Clone, Default)]
pub struct TypedCredentials {
    pub api_key: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

pub fn not_found() -> Error {
    AppError::new(ErrorCode::NotFound, "There is no connection with that link name in your organisation.").into()
}

fn internal_refused() -> Error {
    AppError::new(
        ErrorCode::Forbidden,
        "This is an internal connection: it is managed by the integration that created it and cannot be changed here.",
    )
    .into()
}

/// The creator and admins may manage a (non-internal) connection.
pub fn can_manage(viewer: &Viewer, c: &ConnectionRecord) -> bool {
    !c.internal && (viewer.role == Role::Admin || c.created_by == Some(viewer.user_id))
}

fn require_manage(viewer: &Viewer, c: &ConnectionRecord) -> Result<()> {
    if c.internal {
        return Err(internal_refused());
    }
    if !can_manage(viewer, c) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "Only the person who created this connection and admins can change it.",
        )
        .into());
    }
    Ok(())
}

/// The user key of the grant a person uses: their own for login-user connections, else shared.
pub fn user_key(c: &ConnectionRecord, user_id: Option<i64>) -> i64 {
    if c.per_user {
        user_id.unwrap_or(0)
    } else {
        0
    }
}

/// Sentence for a token endpoint failure, without any secret.
pub fn provider_error(service: &str, e: &TokenError) -> AppError {
    use crate::outbound::OutboundError;
    match e {
        TokenError::Outbound(e @ OutboundError::HostNotAllowed { .. }) => {
            AppError::new(ErrorCode::HostNotAllowed, e.sentence(service, "token endpoint"))
        }
        TokenError::RateLimited { retry_after } => AppError::new(
            ErrorCode::ProviderError,
            match retry_after {
                Some(secs) => format!("{service} is limiting requests (HTTP 429). Try again in {secs} seconds."),
                None => format!("{service} is limiting requests (HTTP 429). Try again later."),
            },
        ),
        TokenError::Outbound(e @ OutboundError::Timeout) => {
            AppError::new(ErrorCode::UpstreamTimeout, e.sentence(service, "token endpoint"))
        }
        TokenError::Provider { error, description, .. } => {
            // GitHub's codes (sent with HTTP 200) get the same hints as their RFC 6749 peers.
            let hint = token::hint(error).map(|h| format!(" {}", h.sentence)).unwrap_or_default();
            let said = description.as_deref().map(|d| format!(": {}", truncate(d, 200))).unwrap_or_default();
            AppError::new(ErrorCode::ProviderError, format!("{service} refused the request ({error}{said}).{hint}"))
        }
        other => AppError::new(ErrorCode::ProviderError, format!("{service} could not be used: {other}.")),
    }
}

fn truncate(s: &str, n: usize) -> String {
    let t: String = s.chars().filter(|c| !c.is_control()).take(n).collect();
    if s.chars().count() > n {
        format!("{t}…")
    } else {
        t
    }
}

impl ServerBackend {
    pub(crate) async fn connection_for(&self, org_id: i64, link_name: &str) -> Result<ConnectionRecord> {
        conns::by_link(&self.store.pool, org_id, link_name).await?.ok_or_else(not_found)
    }

    /// The OAuth client of a connection: its own (predefined service without an operator client),
    /// else the service's.
    pub(crate) fn client_for(&self, c: &ConnectionRecord, resolved: &Resolved) -> Result<Option<OAuthClient>> {
        let own = c.client_id.clone().map(|client_id| ConfiguredClient::Stored {
            client_id,
            column: SecretColumn::ConnectionClientSecret,
            row: c.id,
            sealed_secret: c.client_secret.clone(),
        });
        own.as_ref().or(resolved.client.as_ref()).map(|client| self.open_client(client)).transpose()
    }

    fn row_view(&self, viewer: Option<&Viewer>, c: &ConnectionRecord) -> ConnectionRow {
        ConnectionRow {
            link_name: c.link_name.clone(),
            name: c.name.clone(),
            service: c.service.clone(),
            service_name: c.service_name.clone(),
            status: c.status,
            status_reason: c.status_reason.clone(),
            per_user: c.per_user,
            internal: c.internal,
            created_by: c.created_by_name.clone(),
            created_at: c.created_at,
            last_used_at: c.last_used_at,
            can_manage: viewer.is_some_and(|v| can_manage(v, c)),
        }
    }

    pub async fn list_connections(&self, viewer: &Viewer, q: &ConnectionQuery) -> Result<ConnectionPage> {
        let per_page = q.per_page.clamp(1, 100);
        let per_page = if q.per_page == 0 { 25 } else { per_page };
        let (rows, total) = conns::page(&self.store, viewer.org_id, q, i64::from(per_page)).await?;
        Ok(ConnectionPage {
            rows: rows.iter().map(|c| self.row_view(Some(viewer), c)).collect(),
            total,
            page: q.page,
            per_page,
        })
    }

    pub async fn connection_details(&self, viewer: &Viewer, link_name: &str) -> Result<ConnectionDetails> {
        let c = self.connection_for(viewer.org_id, link_name).await?;
        let resolved = self.resolve(viewer.org_id, &c.service).await?;
        let grant = conns::grant(&self.store.pool, c.id, user_key(&c, Some(viewer.user_id))).await?;
        Ok(ConnectionDetails {
            row: self.row_view(Some(viewer), &c),
            auth_type: resolved.spec.auth_type,
            grant_type: resolved.spec.grant_type,
            scopes: c
                .scopes
                .iter()
                .map(|s| app::service::Scope { name: s.clone(), display: resolved.spec.scope_display(s).to_string() })
                .collect(),
            grant: grant.map(|g| GrantView {
                authorised_by: g.authorised_by_name,
                authorised_at: g.authorised_at,
                expires_at: g.expires_at,
                granted_scopes: g.granted_scopes,
                has_refresh_token: g.refresh_token.is_some(),
            }),
            user_grants: if c.per_user { conns::user_grant_count(&self.store.pool, c.id).await? } else { 0 },
            has_own_client: c.client_id.is_some(),
            proxy_url: format!("{}api/v1/connections/{}/proxy/", self.public_url, c.link_name),
        })
    }

    /// Creates a connection and connects it: immediately for client credentials, API key and
    /// Basic; for authorization code, the answer names the start URL for the popup (one-time,
    /// for the browser session `session`, the hash of its token).
    pub async fn create_connection(
        &self,
        actor: &Actor,
        form: &ConnectionForm,
        internal: bool,
        session: Option<&str>,
    ) -> Result<(String, ConnectOutcome)> {
        let mut problems = Problems::default();
        let (name, link) = parse_names(&form.name, &form.link_name);
        let name = problems.check("name", name);
        let link = problems.check("link_name", link);
        let Some(service) = form.service.clone() else {
            problems.add("service", "Choose a service.");
            return Err(AppError::validation(problems.0).into());
        };
        let resolved = match self.resolve(actor.org_id, &service).await {
            Ok(r) => r,
            Err(_) => {
                problems.add("service", "Choose a service from the list.");
                return Err(AppError::validation(problems.0).into());
            }
        };
        let spec = &resolved.spec;
        let scopes = problems.check("scopes", parse_scopes(spec, &form.scopes));
        if form.per_user && !spec.needs_popup() {
            problems.add("per_user", "Only services where each person signs in (authorization code) can use the credentials of the login user.");
        }
        let own_client = self.own_client(&service, &resolved, form, &mut problems);
        let typed = typed_credentials(spec, form, &mut problems);
        let (Some(name), Some(link), Some(scopes)) = (name, link, scopes) else {
            return Err(AppError::validation(problems.0).into());
        };
        if !problems.is_empty() {
            return Err(AppError::validation(problems.0).into());
        }
        let now = self.clock.now_ms();
        let mut tx = self.store.pool.begin().await?;
        let id = conns::create(
            &mut *tx,
            NewConnection {
                org_id: actor.org_id,
                link_name: link.as_str(),
                name: name.as_str(),
                service: &service,
                service_name: &spec.name,
                scopes: &scopes,
                per_user: form.per_user,
                internal,
                client_id: own_client.as_ref().map(|c| c.client_id.as_str()),
                created_by: actor.user_id,
                created_by_name: &actor.label,
            },
            now,
        )
        .await?;
        if let Some(secret) = own_client.as_ref().and_then(|c| c.client_secret.as_ref()) {
            let sealed = self.vault.seal(SecretColumn::ConnectionClientSecret.at(id), secret.expose())?;
            secrets::set(&mut *tx, SecretColumn::ConnectionClientSecret, id, Some(&sealed)).await?;
        }
        audit::record(&mut *tx, Some(actor.org_id), &actor.label, "connection.create", link.as_str(), None, now)
            .await?;
        tx.commit().await?;
        tracing::info!(org_id = actor.org_id, link_name = %link, "connection created");
        let c = self.connection_for(actor.org_id, link.as_str()).await?;
        let outcome = self.connect_record(actor, &c, &resolved, typed, session).await?;
        Ok((link.as_str().to_string(), outcome))
    }

    /// A client typed on the form, for a predefined OAuth service without an operator client.
    fn own_client(
        &self,
        service: &ServiceRef,
        resolved: &Resolved,
        form: &ConnectionForm,
        problems: &mut Problems,
    ) -> Option<OAuthClient> {
        let needs = matches!(service, ServiceRef::Predefined(_))
            && resolved.spec.auth_type == AuthType::OAuth2
            && resolved.client.is_none();
        if !needs {
            return None;
        }
        let client_id = form.client_id.trim();
        if client_id.is_empty() {
            problems.add("client_id", "Enter the client ID of the OAuth app you registered with the provider.");
            return None;
        }
        let secret = form.client_secret.expose();
        if secret.is_empty() && resolved.spec.grant_type == Some(GrantType::ClientCredentials) {
            problems.add("client_secret", "Enter the client secret: the client credentials grant needs it.");
            return None;
        }
        Some(OAuthClient {
            client_id: client_id.to_string(),
            client_secret: Some(secret).filter(|s| !s.is_empty()).map(Secret::new),
        })
    }

    /// Connect (and Enable, and Reconnect): the popup for authorization code, at once otherwise.
    pub async fn connect(
        &self,
        viewer: &Viewer,
        link_name: &str,
        form: &ConnectionForm,
        session: Option<&str>,
    ) -> Result<ConnectOutcome> {
        let c = self.connection_for(viewer.org_id, link_name).await?;
        if !c.per_user {
            require_manage(viewer, &c)?;
        } else if c.internal {
            return Err(internal_refused());
        }
        let resolved = self.resolve(viewer.org_id, &c.service).await?;
        let mut problems = Problems::default();
        let typed = typed_credentials(&resolved.spec, form, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::validation(problems.0).into());
        }
        self.connect_record(&Actor::from(viewer), &c, &resolved, typed, session).await
    }

    async fn connect_record(
        &self,
        actor: &Actor,
        c: &ConnectionRecord,
        resolved: &Resolved,
        typed: TypedCredentials,
        session: Option<&str>,
    ) -> Result<ConnectOutcome> {
        let spec = &resolved.spec;
        match (spec.auth_type, spec.grant_type) {
            (AuthType::OAuth2, Some(GrantType::AuthorizationCode)) => {
                // A browser session gets a one-time start link; without one (the admin API) the
                // bare link starts nothing and says so.
                let start_url = match (actor.user_id, session) {
                    (Some(user_id), Some(session)) => self.issue_start(user_id, session, c).await?,
                    _ => crate::oauth::start::bare_url(&c.link_name),
                };
                Ok(ConnectOutcome::Authorize { start_url })
            }
            (AuthType::OAuth2, _) => {
                let client = self.client_for(c, resolved)?.ok_or_else(|| missing_client(&spec.name))?;
                let scope =
                    Some(spec.scope_delimiter.join(c.scopes.iter().map(String::as_str))).filter(|s| !s.is_empty());
                let ep = endpoint(spec, spec.token_url.as_ref().map(|u| u.as_str()), &client);
                match token::request_token(
                    &self.outbound,
                    &ep,
                    TokenGrant::ClientCredentials { scope: scope.as_deref() },
                )
                .await
                {
                    Ok(tokens) => {
                        self.store_tokens(actor, c, resolved, 0, tokens, &c.scopes).await?;
                        Ok(ConnectOutcome::Connected)
                    }
                    Err(e) => Err(self.connect_failed(actor, c, &spec.name, &e).await),
                }
            }
            (AuthType::ApiKey | AuthType::Basic, _) => {
                let secret = typed.api_key.or(typed.password).ok_or_else(|| {
                    let field = if spec.auth_type == AuthType::ApiKey { "api_key" } else { "password" };
                    Error::Field { field, message: "Enter the credential to connect with.".into() }
                })?;
                let now = self.clock.now_ms();
                let custody = Custody::of_connection(c, resolved);
                let mut tx = self.store.pool.begin().await?;
                let meta = GrantMeta {
                    username: typed.username.as_deref(),
                    expires_at: None,
                    granted_scopes: None,
                    authorised_by: actor.user_id,
                    authorised_by_name: &actor.label,
                    custody: custody.as_str(),
                };
                let gid = conns::upsert_grant(&mut tx, c.id, 0, meta, now).await?;
                let sealed = self.vault.seal(SecretColumn::GrantAccessToken.at(gid), secret.expose())?;
                secrets::set(&mut *tx, SecretColumn::GrantAccessToken, gid, Some(&sealed)).await?;
                conns::set_status(&mut *tx, c.id, ConnectionStatus::Connected, None, now).await?;
                audit::record(&mut *tx, Some(c.org_id), &actor.label, "connection.authorise", &c.link_name, None, now)
                    .await?;
                tx.commit().await?;
                Ok(ConnectOutcome::Connected)
            }
        }
    }

    /// Records a failed connect attempt (status Error with the reason) and returns the error.
    pub(crate) async fn connect_failed(
        &self,
        actor: &Actor,
        c: &ConnectionRecord,
        service: &str,
        e: &TokenError,
    ) -> Error {
        let app = provider_error(service, e);
        tracing::warn!(link_name = %c.link_name, error = %e, "connecting failed");
        let now = self.clock.now_ms();
        let status = if e.is_invalid_grant() { ConnectionStatus::NeedsReauth } else { ConnectionStatus::Error };
        let recorded = async {
            let mut tx = self.store.pool.begin().await?;
            if c.status != ConnectionStatus::Connected {
                conns::set_status(&mut *tx, c.id, status, Some(&app.message), now).await?;
            }
            audit::record(
                &mut *tx,
                Some(c.org_id),
                &actor.label,
                "connection.authorise_failed",
                &c.link_name,
                Some(&app.message),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(db) = recorded.await {
            return db;
        }
        app.into()
    }

    /// Stores fresh tokens for a grant, in one transaction with the Connected status.
    pub(crate) async fn store_tokens(
        &self,
        actor: &Actor,
        c: &ConnectionRecord,
        resolved: &Resolved,
        user_key: i64,
        tokens: TokenSet,
        requested: &[String],
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let granted: Option<Vec<String>> = tokens
            .scope
            .as_deref()
            .map(|s| s.split([' ', ',']).filter(|x| !x.is_empty()).map(str::to_string).collect())
            .or_else(|| Some(requested.to_vec()));
        let custody = Custody::of_connection(c, resolved);
        let mut tx = self.store.pool.begin().await?;
        let meta = GrantMeta {
            username: None,
            expires_at: tokens.expires_in.map(|s| now + s.saturating_mul(1000)),
            granted_scopes: granted.as_deref(),
            authorised_by: actor.user_id,
            authorised_by_name: &actor.label,
            custody: custody.as_str(),
        };
        let gid = conns::upsert_grant(&mut tx, c.id, user_key, meta, now).await?;
        let access = self.vault.seal(SecretColumn::GrantAccessToken.at(gid), tokens.access_token.expose())?;
        secrets::set(&mut *tx, SecretColumn::GrantAccessToken, gid, Some(&access)).await?;
        if let Some(refresh) = &tokens.refresh_token {
            let sealed = self.vault.seal(SecretColumn::GrantRefreshToken.at(gid), refresh.expose())?;
            secrets::set(&mut *tx, SecretColumn::GrantRefreshToken, gid, Some(&sealed)).await?;
        }
        conns::set_status(&mut *tx, c.id, ConnectionStatus::Connected, None, now).await?;
        audit::record(&mut *tx, Some(c.org_id), &actor.label, "connection.authorise", &c.link_name, None, now).await?;
        tx.commit().await?;
        tracing::info!(link_name = %c.link_name, user_key, "connection authorised");
        Ok(())
    }

    /// Edit: the name and the scopes. Changed scopes need a new authorisation.
    pub async fn update_connection(
        &self,
        viewer: &Viewer,
        link_name: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<()> {
        let c = self.connection_for(viewer.org_id, link_name).await?;
        require_manage(viewer, &c)?;
        let resolved = self.resolve(viewer.org_id, &c.service).await?;
        let mut problems = Problems::default();
        let name = problems.check("name", app::model::DisplayName::parse(name, "a name for the connection"));
        let scopes = problems.check("scopes", parse_scopes(&resolved.spec, scopes));
        let (Some(name), Some(scopes)) = (name, scopes) else {
            return Err(AppError::validation(problems.0).into());
        };
        let changed = {
            let mut a = scopes.clone();
            let mut b = c.scopes.clone();
            a.sort();
            b.sort();
            a != b
        };
        let now = self.clock.now_ms();
        let mut tx = self.store.pool.begin().await?;
        conns::update_details(&mut *tx, c.id, name.as_str(), &scopes, now).await?;
        if changed && matches!(c.status, ConnectionStatus::Connected | ConnectionStatus::Error) {
            conns::set_status(
                &mut *tx,
                c.id,
                ConnectionStatus::NeedsReauth,
                Some("The scopes changed: connect again to grant them."),
                now,
            )
            .await?;
        }
        let detail = if changed { Some("scopes changed") } else { None };
        audit::record(&mut *tx, Some(c.org_id), &viewer.email, "connection.edit", &c.link_name, detail, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revoke: every grant revoked at the provider (where it has a revoke URL) and erased here.
    pub async fn revoke_connection(&self, viewer: &Viewer, link_name: &str) -> Result<()> {
        let c = self.connection_for(viewer.org_id, link_name).await?;
        require_manage(viewer, &c)?;
        self.revoke_grants(&c, &viewer.email).await?;
        let now = self.clock.now_ms();
        let mut tx = self.store.pool.begin().await?;
        conns::delete_grants(&mut *tx, c.id).await?;
        conns::set_status(&mut *tx, c.id, ConnectionStatus::Revoked, None, now).await?;
        audit::record(&mut *tx, Some(c.org_id), &viewer.email, "connection.revoke", &c.link_name, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Delete: revoked at the provider where possible, then the connection and its grants gone.
    pub async fn delete_connection(&self, actor: &Actor, c: &ConnectionRecord) -> Result<()> {
        self.revoke_grants(c, &actor.label).await?;
        let now = self.clock.now_ms();
        let mut tx = self.store.pool.begin().await?;
        conns::delete(&mut *tx, c.org_id, c.id).await?;
        audit::record(&mut *tx, Some(c.org_id), &actor.label, "connection.delete", &c.link_name, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_connection_as(&self, viewer: &Viewer, link_name: &str) -> Result<()> {
        let c = self.connection_for(viewer.org_id, link_name).await?;
        require_manage(viewer, &c)?;
        self.delete_connection(&Actor::from(viewer), &c).await
    }

    /// Revokes every grant of a connection at the provider. A provider that cannot be reached or
    /// refuses does not stop the revocation here: the failure is logged and audited. A grant made
    /// under other endpoints than the service has now is sent nowhere (`crate::custody`).
    async fn revoke_grants(&self, c: &ConnectionRecord, actor: &str) -> Result<()> {
        self.revoke_grants_of(c, None, actor).await
    }

    /// Revokes one person's own grant of a login-user connection at the provider (the grant whose
    /// user key is their id), the same way as [`Self::revoke_grants`].
    pub(crate) async fn revoke_user_grant(&self, c: &ConnectionRecord, user_key: i64, actor: &str) -> Result<()> {
        self.revoke_grants_of(c, Some(user_key), actor).await
    }

    /// Revokes the grants of a connection at the provider: all of them, or only `only`'s.
    async fn revoke_grants_of(&self, c: &ConnectionRecord, only: Option<i64>, actor: &str) -> Result<()> {
        let resolved = self.resolve(c.org_id, &c.service).await?;
        let spec = &resolved.spec;
        let (Some(url), AuthType::OAuth2) = (spec.revoke_url.as_ref(), spec.auth_type) else { return Ok(()) };
        let Some(client) = self.client_for(c, &resolved)? else { return Ok(()) };
        let ep = endpoint(spec, Some(url.as_str()), &client);
        let custody = Custody::of_connection(c, &resolved);
        for g in conns::grants(&self.store.pool, c.id).await? {
            if only.is_some_and(|key| key != g.user_key) {
                continue;
            }
            if !custody.entrusts(g.custody.as_deref()) {
                tracing::warn!(link_name = %c.link_name, "a grant made under other endpoints is erased without revoking it");
                continue;
            }
            let (column, hint, sealed) = match (&g.refresh_token, &g.access_token) {
                (Some(r), _) => (SecretColumn::GrantRefreshToken, "refresh_token", r),
                (None, Some(a)) => (SecretColumn::GrantAccessToken, "access_token", a),
                (None, None) => continue,
            };
            let secret = match self.vault.open(column.at(g.id), sealed) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(link_name = %c.link_name, error = %e, "cannot open a token to revoke it");
                    continue;
                }
            };
            if let Err(e) = token::revoke(&self.outbound, &ep, &secret, hint).await {
                tracing::warn!(link_name = %c.link_name, error = %e, "revoking at the provider failed");
                let now = self.clock.now_ms();
                let detail = format!("the provider did not confirm the revocation: {e}");
                audit::record(
                    &self.store.pool,
                    Some(c.org_id),
                    actor,
                    "connection.revoke_at_provider_failed",
                    &c.link_name,
                    Some(&detail),
                    now,
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// The token endpoint of a service with a client.
pub fn endpoint<'a>(spec: &'a ServiceSpec, url: Option<&'a str>, client: &'a OAuthClient) -> TokenEndpoint<'a> {
    TokenEndpoint {
        url: url.unwrap_or_default(),
        client_id: &client.client_id,
        client_secret: client.client_secret.as_ref(),
        client_auth: spec.client_auth,
        token_request: spec.token_request,
        token_path: &spec.token_path,
        extra_params: &spec.extra_token_params,
        error_in_200: spec.error_in_200,
    }
}

fn missing_client(service: &str) -> Error {
    AppError::new(
        ErrorCode::Validation,
        format!("{service} has no OAuth client configured. Ask your administrator to add one, or enter a client ID and secret."),
    )
    .into()
}

/// API key or Basic credentials typed on a form, checked for the service's auth type.
fn typed_credentials(spec: &ServiceSpec, form: &ConnectionForm, problems: &mut Problems) -> TypedCredentials {
    match spec.auth_type {
        AuthType::ApiKey => {
            let key = form.api_key.expose().trim();
            if key.is_empty() {
                problems.add("api_key", "Enter the API key.");
            } else if key.chars().any(|c| c.is_control()) || key.len() > 4096 {
                problems.add("api_key", "The API key has characters that cannot be sent in a request.");
            }
            TypedCredentials { api_key: Some(key).filter(|k| !k.is_empty()).map(Secret::new), ..Default::default() }
        }
        AuthType::Basic => {
            let user = form.username.trim();
            if user.is_empty() {
                problems.add("username", "Enter the user name.");
            } else if user.contains(':') || user.chars().any(|c| c.is_control()) {
                problems.add("username", "A Basic user name cannot contain a colon or control characters.");
            }
            if form.password.expose().is_empty() {
                problems.add("password", "Enter the password.");
            }
            TypedCredentials {
                username: Some(user.to_string()),
                password: Some(form.password.expose()).filter(|p| !p.is_empty()).map(Secret::new),
                ..Default::default()
            }
        }
        AuthType::OAuth2 => TypedCredentials::default(),
    }
}

/// The link name a path segment names, or Not Found.
pub fn link_from_path(raw: &str) -> Result<LinkName> {
    LinkName::parse(raw).map_err(|_| not_found())
}
