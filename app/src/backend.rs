//! The seam between the UI and the server (ssr only): every operation a page may ask of the server,
//! in one trait. `server/` implements it; server functions call it and do nothing else.

use crate::connection::{
    ConnectOutcome, ConnectionDetails, ConnectionForm, ConnectionPage, ConnectionQuery, CustomServiceView, EditImpact,
    FlowStatus, NewServiceKey, ServiceSummary,
};
use crate::error::Result;
use crate::members::MemberView;
use crate::model::{Password, SetupForm, Viewer};
use crate::reconnect::{NewReconnectLink, ReconnectLinkView};
use crate::service::ServiceForm;
use crate::tokens::{ApiTokenView, NewApiToken};
use crate::webhooks::{DeliveryView, EndpointView, NewEndpointSecret};
use async_trait::async_trait;

/// What the server learnt about the request before the server function ran: the signed-in user
/// (if any) and an opaque handle on their session. Put in the request's extensions by the server.
#[derive(Debug, Clone, Default)]
pub struct RequestIdentity {
    pub viewer: Option<Viewer>,
    pub session: Option<SessionHandle>,
    /// The address the request came from (the TCP peer), for sign-in throttling.
    pub client_ip: Option<std::net::IpAddr>,
}

/// Names a session without carrying its token (the server keeps only a hash of the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHandle(pub String);

/// A new session: who it belongs to, and the `Set-Cookie` value that hands it to the browser.
#[derive(Debug, Clone)]
pub struct SessionStart {
    pub viewer: Viewer,
    pub set_cookie: String,
}

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// True while no user exists: the first-run setup page is open.
    async fn setup_needed(&self) -> Result<bool>;
    /// Creates the first organisation and its admin, and signs the admin in.
    async fn create_first_admin(&self, form: SetupForm) -> Result<SessionStart>;
    /// Checks an email and password (throttled per email and address) and starts a new session,
    /// ending the one the request came with, if any.
    async fn sign_in(&self, email: &str, password: &Password, request: &RequestIdentity) -> Result<SessionStart>;
    /// Ends the session (if any); returns the `Set-Cookie` value that clears the cookie.
    async fn sign_out(&self, session: Option<&SessionHandle>) -> Result<String>;

    /// Every service a connection can use: the catalogue and the organisation's custom services.
    async fn services(&self, viewer: &Viewer) -> Result<Vec<ServiceSummary>>;
    /// A custom service, for its edit form.
    async fn custom_service(&self, viewer: &Viewer, id: i64) -> Result<CustomServiceView>;
    /// A callback key for a Create New Service form, with its redirect URL (admins).
    async fn new_service_key(&self, viewer: &Viewer) -> Result<NewServiceKey>;
    /// Creates a custom service (admins); returns its id.
    async fn create_service(&self, viewer: &Viewer, form: ServiceForm) -> Result<i64>;
    /// Changes a custom service (admins); an empty client secret keeps the stored one.
    async fn update_service(&self, viewer: &Viewer, id: i64, form: ServiceForm) -> Result<()>;
    /// The connections an edit would send back to Needs re-authorisation (admins; read-only).
    async fn service_edit_impact(&self, viewer: &Viewer, id: i64, form: ServiceForm) -> Result<EditImpact>;
    /// Deletes a custom service no connection uses (admins).
    async fn delete_service(&self, viewer: &Viewer, id: i64) -> Result<()>;
    /// Pre-fills a service form from an issuer's RFC 8414 metadata.
    async fn discover_service(&self, viewer: &Viewer, issuer: String) -> Result<ServiceForm>;
    /// A page of the Connections list.
    async fn connections(&self, viewer: &Viewer, query: ConnectionQuery) -> Result<ConnectionPage>;
    /// A connection's recent calls through the scripts' API, as far as the viewer may see them.
    async fn connection_calls(&self, viewer: &Viewer, link_name: String) -> Result<Vec<crate::calls::CallView>>;
    /// One connection's details.
    async fn connection(&self, viewer: &Viewer, link_name: String) -> Result<ConnectionDetails>;
    /// Creates a connection and connects it (or says where the popup starts: a one-time link for
    /// this browser session); returns its link name.
    async fn create_connection(
        &self,
        viewer: &Viewer,
        form: ConnectionForm,
        session: Option<&SessionHandle>,
    ) -> Result<(String, ConnectOutcome)>;
    /// Connect, Enable or Reconnect. For API key and Basic, the form carries the credential; for
    /// authorization code, the answer is a one-time start link for this browser session.
    async fn connect(
        &self,
        viewer: &Viewer,
        link_name: String,
        form: ConnectionForm,
        session: Option<&SessionHandle>,
    ) -> Result<ConnectOutcome>;
    /// Edit: the name and the scopes only.
    async fn update_connection(
        &self,
        viewer: &Viewer,
        link_name: String,
        name: String,
        scopes: Vec<String>,
    ) -> Result<()>;
    /// Revoke: at the provider where possible, tokens erased, status Revoked.
    async fn revoke_connection(&self, viewer: &Viewer, link_name: String) -> Result<()>;
    /// Delete: revoked at the provider where possible, then gone with every grant.
    async fn delete_connection(&self, viewer: &Viewer, link_name: String) -> Result<()>;
    /// How an authorisation this browser session started has ended.
    async fn flow_status(&self, viewer: &Viewer, session: &SessionHandle, ticket: String) -> Result<FlowStatus>;

    /// The signed-in person's API tokens.
    async fn api_tokens(&self, viewer: &Viewer) -> Result<Vec<ApiTokenView>>;
    /// Creates an API token, expiring after `expires_in_days` (None: never); its value is in the
    /// answer and nowhere else, ever.
    async fn create_api_token(
        &self,
        viewer: &Viewer,
        name: String,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiToken>;
    /// Revokes one of the signed-in person's API tokens.
    async fn revoke_api_token(&self, viewer: &Viewer, id: i64) -> Result<()>;

    /// The organisation's people, their open sessions and API tokens (admins).
    async fn members(&self, viewer: &Viewer) -> Result<Vec<MemberView>>;
    /// Revokes one API token of a person of the organisation (admins).
    async fn revoke_member_token(&self, viewer: &Viewer, user_id: i64, token_id: i64) -> Result<()>;
    /// Ends every sign-in session of a person of the organisation (admins).
    async fn end_member_sessions(&self, viewer: &Viewer, user_id: i64) -> Result<()>;
    /// Removes a person from the organisation (admins; not oneself): their login-user grants
    /// revoked at the provider and erased, their API tokens and sessions dead at once.
    async fn remove_member(&self, viewer: &Viewer, user_id: i64) -> Result<()>;

    /// The organisation's webhook endpoints (admins).
    async fn webhook_endpoints(&self, viewer: &Viewer) -> Result<Vec<EndpointView>>;
    /// Registers a webhook endpoint (admins); its signing secret is in the answer and nowhere
    /// else, ever.
    async fn create_webhook_endpoint(
        &self,
        viewer: &Viewer,
        url: String,
        description: String,
    ) -> Result<NewEndpointSecret>;
    /// A new signing secret for an endpoint (admins), shown once; the previous one signs too for
    /// a day.
    async fn rotate_webhook_secret(&self, viewer: &Viewer, id: i64) -> Result<NewEndpointSecret>;
    /// Removes a webhook endpoint (admins).
    async fn delete_webhook_endpoint(&self, viewer: &Viewer, id: i64) -> Result<()>;
    /// The latest delivery attempts of the organisation's endpoints, newest first (admins).
    async fn webhook_deliveries(&self, viewer: &Viewer) -> Result<Vec<DeliveryView>>;
    /// Sends a test event to an endpoint (admins): its event id.
    async fn send_test_webhook(&self, viewer: &Viewer, id: i64) -> Result<String>;

    /// The reconnect links of one connection, newest first, never their tokens (admins).
    async fn reconnect_links(&self, viewer: &Viewer, link_name: String) -> Result<Vec<ReconnectLinkView>>;
    /// Makes a single-use link that lets the person `user_id` authorise the connection again,
    /// valid `minutes` (admins); its URL is in the answer and nowhere else, ever.
    async fn create_reconnect_link(
        &self,
        viewer: &Viewer,
        link_name: String,
        user_id: i64,
        minutes: i64,
    ) -> Result<NewReconnectLink>;
    /// Revokes a reconnect link not used yet (admins).
    async fn revoke_reconnect_link(&self, viewer: &Viewer, id: i64) -> Result<()>;
}
