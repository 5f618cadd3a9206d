//! `ServerBackend`: the areas composed, and `impl app::backend::Backend` (the server surface the
//! UI may call) as one line per method, each handing the call to its area. `ServerBackend::new`
//! builds and wires the areas from what they stand on (`crate::infra::Infra`), the vault and the
//! Services area, which `lib.rs` builds; routes take each area through axum's `FromRef`.

use crate::actor::Actor;
use crate::admin::Admin;
use crate::api_tokens::ApiTokens;
use crate::auth::session::{self, CookieSettings};
use crate::auth::sessions::Sessions;
use crate::calls::CallLog;
use crate::connections::Connections;
use crate::credentials::Credentials;
use crate::embed::Embed;
use crate::flows::Flows;
use crate::hot::Hot;
use crate::infra::Infra;
use crate::invoke::{Api, ApiSettings};
use crate::keys::live::Vault;
use crate::members::Members;
use crate::services::Services;
use crate::store::Store;
use crate::vault::Secret;
use crate::webhooks::Webhooks;
use app::backend::{Backend, RequestIdentity, SessionHandle, SessionStart};
use app::calls::CallView;
use app::connection::{
    ConnectOutcome, ConnectionDetails, ConnectionForm, ConnectionPage, ConnectionQuery, CustomServiceView, EditImpact,
    FlowStatus, NewServiceKey, ServiceSummary,
};
use app::error::Result;
use app::model::{Password, SetupForm, Viewer};
use app::reconnect::{NewReconnectLink, ReconnectLinkView};
use app::service::ServiceForm;
use app::tokens::{ApiTokenView, NewApiToken};
use app::webhooks::{DeliveryView, EndpointView, NewEndpointSecret};
use async_trait::async_trait;
use std::sync::Arc;

/// Every area of the server, built once at start.
pub struct ServerBackend {
    pub store: Store,
    pub sessions: Arc<Sessions>,
    pub services: Arc<Services>,
    pub credentials: Arc<Credentials>,
    pub flows: Arc<Flows>,
    pub connections: Arc<Connections>,
    pub api_tokens: Arc<ApiTokens>,
    pub members: Arc<Members>,
    pub api: Arc<Api>,
    pub admin: Arc<Admin>,
    pub webhooks: Arc<Webhooks>,
    /// Who may embed Liaison, and the key of their sign-in tokens.
    pub embed: Arc<Embed>,
}

/// What a `ServerBackend` is made of: what the areas stand on, the vault (given only to the areas
/// that seal or open secrets), the Services area, and the rest.
pub struct Parts {
    pub infra: Infra,
    pub vault: Arc<Vault>,
    pub services: Services,
    pub cookies: CookieSettings,
    pub admin_token: Option<Secret>,
    /// The first lock-out after repeated failed sign-ins, in seconds.
    pub login_lockout_seconds: u64,
    pub api: ApiSettings,
    pub embed: Embed,
}

impl ServerBackend {
    /// Needs a Tokio runtime (the API call log's writer is spawned).
    pub fn new(p: Parts) -> Self {
        let (infra, vault) = (p.infra, p.vault);
        let (store, clock) = (infra.store.clone(), infra.clock.clone());
        let calls = CallLog::start(store.clone(), clock.clone());
        let hot = Hot::new(&store);
        let sessions = Arc::new(Sessions::new(store.clone(), clock.clone(), p.cookies, p.login_lockout_seconds));
        let services = Arc::new(p.services);
        let credentials = Arc::new(Credentials {
            infra: infra.clone(),
            vault: vault.clone(),
            services: services.clone(),
            refresh_locks: Default::default(),
            known_grants: Default::default(),
        });
        let flows = Arc::new(Flows {
            infra: infra.clone(),
            vault: vault.clone(),
            services: services.clone(),
            credentials: credentials.clone(),
        });
        let connections = Arc::new(Connections {
            infra: infra.clone(),
            vault: vault.clone(),
            services: services.clone(),
            credentials: credentials.clone(),
            flows: flows.clone(),
        });
        let webhooks = Arc::new(Webhooks::new(infra.clone(), vault.clone(), services.allow_http));
        let api_tokens = Arc::new(ApiTokens::new(store.clone(), clock.clone(), hot, calls.clone()));
        let members = Arc::new(Members { infra: infra.clone(), credentials: credentials.clone() });
        let api = Arc::new(Api {
            infra,
            settings: p.api,
            tokens: api_tokens.clone(),
            services: services.clone(),
            credentials: credentials.clone(),
            targets: Default::default(),
            calls,
        });
        let admin = Arc::new(Admin {
            token_hash: p.admin_token.as_ref().map(|t| session::token_hash(t.expose())),
            store: store.clone(),
            connections: connections.clone(),
            webhooks: webhooks.clone(),
        });
        Self {
            store,
            sessions,
            services,
            credentials,
            flows,
            connections,
            api_tokens,
            members,
            api,
            admin,
            webhooks,
            embed: Arc::new(p.embed),
        }
    }
}

#[async_trait]
impl Backend for ServerBackend {
    async fn setup_needed(&self) -> Result<bool> {
        self.sessions.setup_needed().await
    }

    async fn create_first_admin(&self, form: SetupForm) -> Result<SessionStart> {
        self.sessions.create_first_admin(form).await
    }

    async fn sign_in(&self, email: &str, password: &Password, request: &RequestIdentity) -> Result<SessionStart> {
        self.sessions.sign_in(email, password, request).await
    }

    async fn sign_out(&self, session: Option<&SessionHandle>) -> Result<String> {
        self.sessions.sign_out(session).await
    }

    async fn services(&self, viewer: &Viewer) -> Result<Vec<ServiceSummary>> {
        Ok(self.services.service_summaries(viewer).await?)
    }

    async fn custom_service(&self, viewer: &Viewer, id: i64) -> Result<CustomServiceView> {
        Ok(self.services.custom_service(viewer, id).await?)
    }

    async fn new_service_key(&self, viewer: &Viewer) -> Result<NewServiceKey> {
        Ok(self.services.new_service_key(viewer).await?)
    }

    async fn create_service(&self, viewer: &Viewer, form: ServiceForm) -> Result<i64> {
        Ok(self.services.create_service(viewer, &form).await?)
    }

    async fn update_service(&self, viewer: &Viewer, id: i64, form: ServiceForm) -> Result<()> {
        Ok(self.services.update_service(viewer, id, &form).await?)
    }

    async fn service_edit_impact(&self, viewer: &Viewer, id: i64, form: ServiceForm) -> Result<EditImpact> {
        Ok(self.services.edit_impact(viewer, id, &form).await?)
    }

    async fn delete_service(&self, viewer: &Viewer, id: i64) -> Result<()> {
        Ok(self.services.delete_service(viewer, id).await?)
    }

    async fn discover_service(&self, viewer: &Viewer, issuer: String) -> Result<ServiceForm> {
        Ok(self.services.discover(viewer, &issuer).await?)
    }

    async fn connections(&self, viewer: &Viewer, query: ConnectionQuery) -> Result<ConnectionPage> {
        Ok(self.connections.list_connections(viewer, &query).await?)
    }

    async fn connection_calls(&self, viewer: &Viewer, link_name: String) -> Result<Vec<CallView>> {
        Ok(crate::calls::recent(&self.store, viewer, &link_name).await?)
    }

    async fn connection(&self, viewer: &Viewer, link_name: String) -> Result<ConnectionDetails> {
        Ok(self.connections.connection_details(viewer, &link_name).await?)
    }

    async fn create_connection(
        &self,
        viewer: &Viewer,
        form: ConnectionForm,
        session: Option<&SessionHandle>,
    ) -> Result<(String, ConnectOutcome)> {
        let session = session.map(|s| s.0.as_str());
        Ok(self.connections.create_connection(&Actor::from(viewer), &form, false, session).await?)
    }

    async fn connect(
        &self,
        viewer: &Viewer,
        link_name: String,
        form: ConnectionForm,
        session: Option<&SessionHandle>,
    ) -> Result<ConnectOutcome> {
        Ok(self.connections.connect(viewer, &link_name, &form, session.map(|s| s.0.as_str())).await?)
    }

    async fn update_connection(
        &self,
        viewer: &Viewer,
        link_name: String,
        name: String,
        scopes: Vec<String>,
    ) -> Result<()> {
        Ok(self.connections.update_connection(viewer, &link_name, &name, &scopes).await?)
    }

    async fn revoke_connection(&self, viewer: &Viewer, link_name: String) -> Result<()> {
        Ok(self.connections.revoke_connection(viewer, &link_name).await?)
    }

    async fn delete_connection(&self, viewer: &Viewer, link_name: String) -> Result<()> {
        Ok(self.connections.delete_connection_as(viewer, &link_name).await?)
    }

    async fn flow_status(&self, viewer: &Viewer, session: &SessionHandle, ticket: String) -> Result<FlowStatus> {
        Ok(self.flows.flow_status(viewer, &session.0, &ticket).await?)
    }

    async fn api_tokens(&self, viewer: &Viewer) -> Result<Vec<ApiTokenView>> {
        Ok(self.api_tokens.list_api_tokens(viewer).await?)
    }

    async fn create_api_token(
        &self,
        viewer: &Viewer,
        name: String,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiToken> {
        Ok(self.api_tokens.new_api_token(viewer, &name, expires_in_days).await?)
    }

    async fn revoke_api_token(&self, viewer: &Viewer, id: i64) -> Result<()> {
        Ok(self.api_tokens.revoke_api_token_of(viewer, id).await?)
    }

    async fn members(&self, viewer: &Viewer) -> Result<Vec<app::members::MemberView>> {
        Ok(self.members.list_members(viewer).await?)
    }

    async fn revoke_member_token(&self, viewer: &Viewer, user_id: i64, token_id: i64) -> Result<()> {
        Ok(self.members.revoke_member_token(viewer, user_id, token_id).await?)
    }

    async fn end_member_sessions(&self, viewer: &Viewer, user_id: i64) -> Result<()> {
        Ok(self.members.end_member_sessions(viewer, user_id).await?)
    }

    async fn remove_member(&self, viewer: &Viewer, user_id: i64) -> Result<()> {
        Ok(self.members.remove_member(viewer, user_id).await?)
    }

    async fn webhook_endpoints(&self, viewer: &Viewer) -> Result<Vec<EndpointView>> {
        Ok(self.webhooks.list_as(viewer).await?)
    }

    async fn create_webhook_endpoint(
        &self,
        viewer: &Viewer,
        url: String,
        description: String,
    ) -> Result<NewEndpointSecret> {
        Ok(self.webhooks.create_as(viewer, &url, &description).await?)
    }

    async fn rotate_webhook_secret(&self, viewer: &Viewer, id: i64) -> Result<NewEndpointSecret> {
        Ok(self.webhooks.rotate_as(viewer, id).await?)
    }

    async fn delete_webhook_endpoint(&self, viewer: &Viewer, id: i64) -> Result<()> {
        Ok(self.webhooks.delete_as(viewer, id).await?)
    }

    async fn webhook_deliveries(&self, viewer: &Viewer) -> Result<Vec<DeliveryView>> {
        Ok(self.webhooks.deliveries_as(viewer).await?)
    }

    async fn send_test_webhook(&self, viewer: &Viewer, id: i64) -> Result<String> {
        Ok(self.webhooks.send_test_as(viewer, id).await?)
    }

    async fn reconnect_links(&self, viewer: &Viewer, link_name: String) -> Result<Vec<ReconnectLinkView>> {
        Ok(crate::reconnect::list_as(&self.flows.infra, viewer, &link_name).await?)
    }

    async fn create_reconnect_link(
        &self,
        viewer: &Viewer,
        link_name: String,
        user_id: i64,
        minutes: i64,
    ) -> Result<NewReconnectLink> {
        Ok(crate::reconnect::create_as(&self.flows.infra, viewer, &link_name, user_id, minutes).await?)
    }

    async fn revoke_reconnect_link(&self, viewer: &Viewer, id: i64) -> Result<()> {
        Ok(crate::reconnect::revoke_as(&self.flows.infra, viewer, id).await?)
    }
}
