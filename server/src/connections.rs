//! The Connections area: the lifecycle of a connection — create, connect (popup or not), edit,
//! revoke, enable, delete — and the views of the list and the details page. Who may do what is
//! `crate::actor`'s rule; the grants are `crate::credentials`'; the popup is `crate::flows`'.

use crate::actor::{self, require_manage, Actor};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::flows::Flows;
use crate::infra::Infra;
use crate::keys::live::Vault;
use crate::services::{OAuthClient, Resolved, Services};
use crate::store::connections::{self as conns, ConnectionRecord, NewConnection};
use crate::store::grants;
use crate::store::{audit, secrets};
use crate::vault::{Secret, SecretColumn};
use crate::webhooks::{self, Event, EventType};
use app::connection::{
    parse_names, parse_scopes, ConnectOutcome, ConnectionDetails, ConnectionForm, ConnectionPage, ConnectionQuery,
    ConnectionRow, ConnectionStatus, GrantView, Problems, ServiceRef,
};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::service::{AuthType, GrantType, ServiceSpec};
use std::sync::Arc;

/// Credentials typed on a form (API key, Basic, or a client for a predefined service).
#[derive(Debug, Clone, Default)]
pub struct TypedCredentials {
    pub api_key: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// The connections of every organisation, as people and the admin API manage them.
pub struct Connections {
    pub infra: Infra,
    /// Seals the client secrets typed on the connection form.
    pub vault: Arc<Vault>,
    pub services: Arc<Services>,
    pub credentials: Arc<Credentials>,
    pub flows: Arc<Flows>,
}

impl Connections {
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
            can_manage: viewer.is_some_and(|v| actor::can_manage(v, c)),
        }
    }

    pub async fn list_connections(&self, viewer: &Viewer, q: &ConnectionQuery) -> Result<ConnectionPage> {
        let per_page = q.per_page.clamp(1, 100);
        let per_page = if q.per_page == 0 { 25 } else { per_page };
        let (rows, total) = conns::page(&self.infra.store, viewer.org_id, q, i64::from(per_page)).await?;
        Ok(ConnectionPage {
            rows: rows.iter().map(|c| self.row_view(Some(viewer), c)).collect(),
            total,
            page: q.page,
            per_page,
        })
    }

    pub async fn connection_details(&self, viewer: &Viewer, link_name: &str) -> Result<ConnectionDetails> {
        let c = actor::connection(&self.infra.store, viewer.org_id, link_name).await?;
        let resolved = self.services.resolve(viewer.org_id, &c.service).await?;
        let grant = grants::grant(&self.infra.store.pool, c.id, actor::user_key(&c, Some(viewer.user_id))).await?;
        let metadata = crate::metadata::read(&self.infra, &c).await?;
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
            user_grants: if c.per_user { grants::user_grant_count(&self.infra.store.pool, c.id).await? } else { 0 },
            has_own_client: c.client_id.is_some(),
            proxy_url: format!("{}api/v1/connections/{}/proxy/", self.infra.public_url, c.link_name),
            metadata: crate::metadata::shown(&metadata),
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
        let resolved = match self.services.resolve(actor.org_id, &service).await {
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
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
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
        audit::By::new(Some(actor.org_id), &actor.label, now)
            .record(&mut *tx, "connection.create", link.as_str(), None)
            .await?;
        if let Some(created) = conns::by_id(&mut *tx, actor.org_id, id).await? {
            let event = Event::new(EventType::Created, &created, Some(created.status), &actor.label);
            webhooks::event::record(&mut tx, event, now).await?;
        }
        tx.commit().await?;
        tracing::info!(org_id = actor.org_id, link_name = %link, "connection created");
        let c = actor::connection(&self.infra.store, actor.org_id, link.as_str()).await?;
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
        let c = actor::connection(&self.infra.store, viewer.org_id, link_name).await?;
        if !c.per_user {
            require_manage(viewer, &c)?;
        } else if c.internal {
            return Err(actor::internal_refused());
        }
        let resolved = self.services.resolve(viewer.org_id, &c.service).await?;
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
                    (Some(user_id), Some(session)) => self.flows.issue_start(user_id, session, c).await?,
                    _ => crate::flows::start::bare_url(&c.link_name),
                };
                Ok(ConnectOutcome::Authorize { start_url })
            }
            (AuthType::OAuth2, _) => {
                let client = self.services.client_for(c, resolved)?.ok_or_else(|| missing_client(&spec.name))?;
                match self.credentials.client_credentials(c, spec, &client).await {
                    Ok(tokens) => {
                        self.credentials.store_tokens(actor, c, resolved, 0, tokens, &c.scopes).await?;
                        Ok(ConnectOutcome::Connected)
                    }
                    Err(e) => Err(self.credentials.connect_failed(actor, c, &spec.name, &e).await),
                }
            }
            (AuthType::ApiKey | AuthType::Basic, _) => {
                let secret = typed.api_key.or(typed.password).ok_or_else(|| {
                    let field = if spec.auth_type == AuthType::ApiKey { "api_key" } else { "password" };
                    Error::Field { field, message: "Enter the credential to connect with.".into() }
                })?;
                self.credentials.store_typed(actor, c, resolved, typed.username.as_deref(), &secret).await?;
                Ok(ConnectOutcome::Connected)
            }
        }
    }

    /// Edit: the name and the scopes. Changed scopes need a new authorisation.
    pub async fn update_connection(
        &self,
        viewer: &Viewer,
        link_name: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<()> {
        let c = actor::connection(&self.infra.store, viewer.org_id, link_name).await?;
        require_manage(viewer, &c)?;
        let resolved = self.services.resolve(viewer.org_id, &c.service).await?;
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
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        conns::update_details(&mut *tx, c.id, name.as_str(), &scopes, now).await?;
        if changed && matches!(c.status, ConnectionStatus::Connected | ConnectionStatus::Error) {
            let reason = "The scopes changed: connect again to grant them.";
            conns::set_status(&mut *tx, c.id, ConnectionStatus::NeedsReauth, Some(reason), now).await?;
            // The event names the connection as edited.
            let edited = ConnectionRecord { name: name.as_str().to_string(), scopes: scopes.clone(), ..c.clone() };
            let needs = Some(ConnectionStatus::NeedsReauth);
            let event = Event::new(EventType::ReauthorisationNeeded, &edited, needs, &viewer.email);
            webhooks::event::record(&mut tx, event.because(Some(reason)), now).await?;
        }
        let detail = if changed { Some("scopes changed") } else { None };
        audit::By::new(Some(c.org_id), &viewer.email, now)
            .record(&mut *tx, "connection.edit", &c.link_name, detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revoke: every grant revoked at the provider (where it has a revoke URL) and erased here.
    pub async fn revoke_connection(&self, viewer: &Viewer, link_name: &str) -> Result<()> {
        let c = actor::connection(&self.infra.store, viewer.org_id, link_name).await?;
        require_manage(viewer, &c)?;
        self.end(&c, &viewer.email, Ending::Revoke).await
    }

    /// Delete: revoked at the provider where possible, then the connection and its grants gone.
    pub async fn delete_connection(&self, actor: &Actor, c: &ConnectionRecord) -> Result<()> {
        self.end(c, &actor.label, Ending::Delete).await
    }

    /// Every grant revoked at the provider (where it has a revoke URL), then the grants erased and
    /// the connection revoked or deleted, with its audit entry, in one transaction.
    async fn end(&self, c: &ConnectionRecord, actor: &str, ending: Ending) -> Result<()> {
        self.credentials.revoke_grants(c, actor).await?;
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        let (action, event) = match ending {
            Ending::Revoke => {
                grants::delete_grants(&mut *tx, c.id).await?;
                conns::set_status(&mut *tx, c.id, ConnectionStatus::Revoked, None, now).await?;
                ("connection.revoke", Event::new(EventType::Revoked, c, Some(ConnectionStatus::Revoked), actor))
            }
            Ending::Delete => {
                conns::delete(&mut *tx, c.org_id, c.id).await?;
                ("connection.delete", Event::new(EventType::Deleted, c, None, actor))
            }
        };
        audit::By::new(Some(c.org_id), actor, now).record(&mut *tx, action, &c.link_name, None).await?;
        webhooks::event::record(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_connection_as(&self, viewer: &Viewer, link_name: &str) -> Result<()> {
        let c = actor::connection(&self.infra.store, viewer.org_id, link_name).await?;
        require_manage(viewer, &c)?;
        self.delete_connection(&Actor::from(viewer), &c).await
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

/// How a connection's grants end: kept as a revoked connection, or deleted with it.
enum Ending {
    Revoke,
    Delete,
}
