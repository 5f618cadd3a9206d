//! The server functions. Each one is a few lines: who is asking → the Backend → the result.
//! Every path is fixed (`/rpc/<name>`), so tests and other clients can name them.

use crate::connection::{
    ConnectOutcome, ConnectionDetails, ConnectionForm, ConnectionPage, ConnectionQuery, CustomServiceView, EditImpact,
    FlowStatus, NewServiceKey, ServiceSummary,
};
use crate::error::AppError;
use crate::members::MemberView;
use crate::model::{Password, Viewer};
use crate::reconnect::{NewReconnectLink, ReconnectLinkView};
use crate::service::ServiceForm;
use crate::tokens::{ApiTokenView, NewApiToken};
use crate::webhooks::{DeliveryView, EndpointView, NewEndpointSecret};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::backend::{Backend, RequestIdentity};
    use crate::error::AppError;
    use leptos::prelude::*;
    use std::sync::Arc;

    pub fn backend() -> Result<Arc<dyn Backend>, AppError> {
        use_context::<Arc<dyn Backend>>().ok_or_else(AppError::internal)
    }

    /// The signed-in user, or the Unauthenticated error.
    pub fn viewer() -> Result<crate::model::Viewer, AppError> {
        identity().viewer.ok_or_else(AppError::unauthenticated)
    }

    /// Runs `f` with the backend and the signed-in user, and sets the HTTP status of an error.
    pub async fn with_viewer<T, F, Fut>(f: F) -> Result<T, AppError>
    where
        F: FnOnce(Arc<dyn Backend>, crate::model::Viewer) -> Fut,
        Fut: std::future::Future<Output = Result<T, AppError>>,
    {
        let run = async { f(backend()?, viewer()?).await };
        finish(run.await)
    }

    pub fn identity() -> RequestIdentity {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestIdentity>().cloned())
            .unwrap_or_default()
    }

    /// Gives the response the HTTP status that matches the error's code.
    pub fn finish<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(e) = &result {
            if let (Some(opts), Ok(status)) =
                (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(e.code.http_status()))
            {
                opts.set_status(status);
            }
        }
        result
    }

    pub fn set_cookie(value: &str) -> Result<(), AppError> {
        let opts = use_context::<leptos_axum::ResponseOptions>().ok_or_else(AppError::internal)?;
        let value = http::HeaderValue::from_str(value).map_err(|_| AppError::internal())?;
        opts.append_header(http::header::SET_COOKIE, value);
        Ok(())
    }
}

/// How a resource's first value travels from the server to the browser inside the page: JSON,
/// as with [`Resource::new`], but decoded the way server function answers are decoded
/// (`serde_json::from_slice`), so the wasm holds one JSON decoder per type instead of two.
pub struct PageJson;

impl<T: serde::Serialize> leptos::server::codee::Encoder<T> for PageJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(val)
    }
}

impl<T: serde::de::DeserializeOwned> leptos::server::codee::Decoder<T> for PageJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A resource (see [`Resource::new`]) whose value crosses into the page as [`PageJson`].
#[track_caller]
pub fn resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, PageJson>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// The signed-in user of the request being served (the server side of
/// [`crate::pages::chrome::PageViewer`]).
#[cfg(feature = "ssr")]
pub fn request_viewer() -> Option<Viewer> {
    ssr::identity().viewer
}

/// Where a signed-in user lands.
pub const HOME: &str = "/settings/developer-space/connections";

/// The signed-in user, or `None`.
#[server(prefix = "/rpc", endpoint = "me")]
pub async fn me() -> Result<Option<Viewer>, AppError> {
    Ok(ssr::identity().viewer)
}

/// Whether the first-run setup is still open.
#[server(prefix = "/rpc", endpoint = "setup_needed")]
pub async fn setup_needed() -> Result<bool, AppError> {
    ssr::finish(ssr::backend()?.setup_needed().await)
}

/// First-run setup: creates the organisation and its first admin, then signs them in.
#[server(prefix = "/rpc", endpoint = "setup")]
pub async fn create_first_admin(
    org_name: String,
    name: String,
    email: String,
    password: Password,
    password_confirm: Password,
) -> Result<(), AppError> {
    ssr::finish(
        async {
            let form = crate::model::SetupForm::parse(&org_name, &name, &email, password, &password_confirm)
                .map_err(AppError::validation)?;
            let started = ssr::backend()?.create_first_admin(form).await?;
            ssr::set_cookie(&started.set_cookie)?;
            leptos_axum::redirect(HOME);
            Ok(())
        }
        .await,
    )
}

/// Signs in with email and password, then goes on to `next` when it is a reconnect link the
/// person opened signed out (anything else: the Connections page).
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: Password, next: Option<String>) -> Result<(), AppError> {
    ssr::finish(
        async {
            let started = ssr::backend()?.sign_in(&email, &password, &ssr::identity()).await?;
            ssr::set_cookie(&started.set_cookie)?;
            leptos_axum::redirect(next.as_deref().and_then(crate::reconnect::after_sign_in).unwrap_or(HOME));
            Ok(())
        }
        .await,
    )
}

/// Signs out of this browser.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    ssr::finish(
        async {
            let clear = ssr::backend()?.sign_out(ssr::identity().session.as_ref()).await?;
            ssr::set_cookie(&clear)?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// Every service a connection can use (Pick Your Service).
#[server(prefix = "/rpc", endpoint = "services", input = Json)]
pub async fn services() -> Result<Vec<ServiceSummary>, AppError> {
    ssr::with_viewer(|b, v| async move { b.services(&v).await }).await
}

/// A custom service, for its edit form.
#[server(prefix = "/rpc", endpoint = "custom_service", input = Json)]
pub async fn custom_service(id: i64) -> Result<CustomServiceView, AppError> {
    ssr::with_viewer(|b, v| async move { b.custom_service(&v, id).await }).await
}

/// The redirect URL of the service a Create New Service form will make, and the key that goes
/// with it (admins).
#[server(prefix = "/rpc", endpoint = "reserve_callback", input = Json)]
pub async fn reserve_callback() -> Result<NewServiceKey, AppError> {
    ssr::with_viewer(|b, v| async move { b.new_service_key(&v).await }).await
}

/// Creates a custom service (admins); returns its id.
#[server(prefix = "/rpc", endpoint = "create_service", input = Json)]
pub async fn create_service(form: ServiceForm) -> Result<i64, AppError> {
    ssr::with_viewer(|b, v| async move { b.create_service(&v, form).await }).await
}

/// Changes a custom service (admins).
#[server(prefix = "/rpc", endpoint = "update_service", input = Json)]
pub async fn update_service(id: i64, form: ServiceForm) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.update_service(&v, id, form).await }).await
}

/// The connections an edit of a custom service would send back to Needs re-authorisation, before
/// it is saved (admins; nothing is changed).
#[server(prefix = "/rpc", endpoint = "service_edit_impact", input = Json)]
pub async fn service_edit_impact(id: i64, form: ServiceForm) -> Result<EditImpact, AppError> {
    ssr::with_viewer(|b, v| async move { b.service_edit_impact(&v, id, form).await }).await
}

/// Deletes a custom service no connection uses (admins).
#[server(prefix = "/rpc", endpoint = "delete_service", input = Json)]
pub async fn delete_service(id: i64) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.delete_service(&v, id).await }).await
}

/// A service form pre-filled from an issuer's OAuth metadata (RFC 8414).
#[server(prefix = "/rpc", endpoint = "discover_service", input = Json)]
pub async fn discover_service(issuer: String) -> Result<ServiceForm, AppError> {
    ssr::with_viewer(|b, v| async move { b.discover_service(&v, issuer).await }).await
}

/// A page of the Connections list.
#[server(prefix = "/rpc", endpoint = "connections", input = Json)]
pub async fn connections(query: ConnectionQuery) -> Result<ConnectionPage, AppError> {
    ssr::with_viewer(|b, v| async move { b.connections(&v, query).await }).await
}

/// One connection's details.
#[server(prefix = "/rpc", endpoint = "connection", input = Json)]
pub async fn connection(link_name: String) -> Result<ConnectionDetails, AppError> {
    ssr::with_viewer(|b, v| async move { b.connection(&v, link_name).await }).await
}

/// A connection's recent calls, newest first (all of them for its managers, one's own otherwise).
#[server(prefix = "/rpc", endpoint = "connection_calls", input = Json)]
pub async fn connection_calls(link_name: String) -> Result<Vec<crate::calls::CallView>, AppError> {
    ssr::with_viewer(|b, v| async move { b.connection_calls(&v, link_name).await }).await
}

/// Creates a connection and connects it, or says where the authorisation popup starts.
#[server(prefix = "/rpc", endpoint = "create_connection", input = Json)]
pub async fn create_connection(form: ConnectionForm) -> Result<(String, ConnectOutcome), AppError> {
    let session = ssr::identity().session;
    ssr::with_viewer(|b, v| async move { b.create_connection(&v, form, session.as_ref()).await }).await
}

/// Connect, Enable or Reconnect.
#[server(prefix = "/rpc", endpoint = "connect", input = Json)]
pub async fn connect(link_name: String, form: ConnectionForm) -> Result<ConnectOutcome, AppError> {
    let session = ssr::identity().session;
    ssr::with_viewer(|b, v| async move { b.connect(&v, link_name, form, session.as_ref()).await }).await
}

/// Edit a connection's name and scopes.
#[server(prefix = "/rpc", endpoint = "update_connection", input = Json)]
pub async fn update_connection(link_name: String, name: String, scopes: Vec<String>) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.update_connection(&v, link_name, name, scopes).await }).await
}

/// Revoke a connection.
#[server(prefix = "/rpc", endpoint = "revoke_connection", input = Json)]
pub async fn revoke_connection(link_name: String) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.revoke_connection(&v, link_name).await }).await
}

/// Delete a connection.
#[server(prefix = "/rpc", endpoint = "delete_connection", input = Json)]
pub async fn delete_connection(link_name: String) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.delete_connection(&v, link_name).await }).await
}

/// How the authorisation with this ticket (started in this browser session) has ended: `pending`
/// while it runs, and for a ticket with no flow of this session (its popup has not reached
/// `/oauth/start`, or it is another session's ticket, of which nothing shows).
#[server(prefix = "/rpc", endpoint = "authorisation_status", input = Json)]
pub async fn authorisation_status(ticket: String) -> Result<FlowStatus, AppError> {
    let session = ssr::identity().session;
    ssr::with_viewer(|b, v| async move {
        let session = session.ok_or_else(AppError::unauthenticated)?;
        b.flow_status(&v, &session, ticket).await
    })
    .await
}

/// The signed-in person's API tokens (never their values).
#[server(prefix = "/rpc", endpoint = "api_tokens", input = Json)]
pub async fn api_tokens() -> Result<Vec<ApiTokenView>, AppError> {
    ssr::with_viewer(|b, v| async move { b.api_tokens(&v).await }).await
}

/// Creates an API token for scripts, expiring after `expires_in_days` (none: never); the answer is
/// the only place its value ever appears.
#[server(prefix = "/rpc", endpoint = "create_api_token", input = Json)]
pub async fn create_api_token(name: String, expires_in_days: Option<u32>) -> Result<NewApiToken, AppError> {
    ssr::with_viewer(|b, v| async move { b.create_api_token(&v, name, expires_in_days).await }).await
}

/// Revokes one of the signed-in person's API tokens.
#[server(prefix = "/rpc", endpoint = "revoke_api_token", input = Json)]
pub async fn revoke_api_token(id: i64) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.revoke_api_token(&v, id).await }).await
}

/// The organisation's people, with their open sessions and API tokens (admins).
#[server(prefix = "/rpc", endpoint = "members", input = Json)]
pub async fn members() -> Result<Vec<MemberView>, AppError> {
    ssr::with_viewer(|b, v| async move { b.members(&v).await }).await
}

/// Revokes one API token of a person of the organisation (admins).
#[server(prefix = "/rpc", endpoint = "revoke_member_token", input = Json)]
pub async fn revoke_member_token(user_id: i64, token_id: i64) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.revoke_member_token(&v, user_id, token_id).await }).await
}

/// Ends every sign-in session of a person of the organisation (admins).
#[server(prefix = "/rpc", endpoint = "end_member_sessions", input = Json)]
pub async fn end_member_sessions(user_id: i64) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.end_member_sessions(&v, user_id).await }).await
}

/// Removes a person from the organisation (admins).
#[server(prefix = "/rpc", endpoint = "remove_member", input = Json)]
pub async fn remove_member(user_id: i64) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.remove_member(&v, user_id).await }).await
}

/// The organisation's webhook endpoints (admins).
#[server(prefix = "/rpc", endpoint = "webhook_endpoints", input = Json)]
pub async fn webhook_endpoints() -> Result<Vec<EndpointView>, AppError> {
    ssr::with_viewer(|b, v| async move { b.webhook_endpoints(&v).await }).await
}

/// Registers a webhook endpoint (admins): its signing secret, shown once.
#[server(prefix = "/rpc", endpoint = "create_webhook_endpoint", input = Json)]
pub async fn create_webhook_endpoint(url: String, description: String) -> Result<NewEndpointSecret, AppError> {
    ssr::with_viewer(|b, v| async move { b.create_webhook_endpoint(&v, url, description).await }).await
}

/// A new signing secret for an endpoint (admins), shown once.
#[server(prefix = "/rpc", endpoint = "rotate_webhook_secret", input = Json)]
pub async fn rotate_webhook_secret(id: i64) -> Result<NewEndpointSecret, AppError> {
    ssr::with_viewer(|b, v| async move { b.rotate_webhook_secret(&v, id).await }).await
}

/// Removes a webhook endpoint (admins).
#[server(prefix = "/rpc", endpoint = "delete_webhook_endpoint", input = Json)]
pub async fn delete_webhook_endpoint(id: i64) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.delete_webhook_endpoint(&v, id).await }).await
}

/// The latest delivery attempts, newest first (admins).
#[server(prefix = "/rpc", endpoint = "webhook_deliveries", input = Json)]
pub async fn webhook_deliveries() -> Result<Vec<DeliveryView>, AppError> {
    ssr::with_viewer(|b, v| async move { b.webhook_deliveries(&v).await }).await
}

/// Sends a test event to an endpoint (admins): its event id.
#[server(prefix = "/rpc", endpoint = "send_test_webhook", input = Json)]
pub async fn send_test_webhook(id: i64) -> Result<String, AppError> {
    ssr::with_viewer(|b, v| async move { b.send_test_webhook(&v, id).await }).await
}

/// The reconnect links of one connection (admins).
#[server(prefix = "/rpc", endpoint = "reconnect_links", input = Json)]
pub async fn reconnect_links(link_name: String) -> Result<Vec<ReconnectLinkView>, AppError> {
    ssr::with_viewer(|b, v| async move { b.reconnect_links(&v, link_name).await }).await
}

/// Makes a reconnect link for a person and a connection (admins): its URL, shown once.
#[server(prefix = "/rpc", endpoint = "create_reconnect_link", input = Json)]
pub async fn create_reconnect_link(
    link_name: String,
    user_id: i64,
    minutes: i64,
) -> Result<NewReconnectLink, AppError> {
    ssr::with_viewer(|b, v| async move { b.create_reconnect_link(&v, link_name, user_id, minutes).await }).await
}

/// Revokes a reconnect link not used yet (admins).
#[server(prefix = "/rpc", endpoint = "revoke_reconnect_link", input = Json)]
pub async fn revoke_reconnect_link(id: i64) -> Result<(), AppError> {
    ssr::with_viewer(|b, v| async move { b.revoke_reconnect_link(&v, id).await }).await
}
