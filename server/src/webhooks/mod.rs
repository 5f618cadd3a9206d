//! The Webhooks area: the endpoints an organisation's admins register (each with its own signing
//! secret, made here, shown once, sealed in the vault; the previous one keeps signing for a day
//! after a rotation), the events of a connection's lifecycle written to an outbox in the
//! transaction of the change (`event`), their signature (`sign`), and their delivery by a
//! background task (`deliver`): at least once, backing off for up to a day, through the guarded
//! outbound client, one instance per event. The admin API's routes are `crate::admin`'s; the
//! page's server functions come through `crate::backend`.

pub mod deliver;
pub mod event;
pub mod sign;

use crate::actor::require_admin;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::keys::live::Vault;
use crate::store::secrets;
use crate::store::webhooks::{self as store, DeliveryRecord, EndpointRecord};
use crate::vault::{Secret, SecretColumn};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::webhooks::{DeliveryView, EndpointView, NewEndpointSecret};
use std::sync::Arc;

pub use event::{Event, EventType};

/// After a rotation, the previous secret signs too for this long.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;
/// The most endpoints an organisation may have: each change writes a row for each, in its
/// transaction, and each is tried for a day.
pub const MAX_ENDPOINTS: i64 = 20;
/// An endpoint URL's longest length.
const MAX_URL: usize = 2048;
/// What a member who is not an admin is told.
const ADMINS_ONLY: &str = "manage webhooks";
/// How many attempts a delivery log shows.
pub const LOG_ROWS: i64 = 100;

/// The webhooks of every organisation.
pub struct Webhooks {
    pub infra: Infra,
    /// Seals and opens the signing secrets.
    pub vault: Arc<Vault>,
    /// Plain-http endpoints are allowed (`allow_http_urls`, tests and on-premises receivers).
    pub allow_http: bool,
    /// Wakes the delivery task (a test event is sent at once).
    pub wake: tokio::sync::Notify,
    /// A place for each endpoint worked at once by this instance (`deliver`).
    running: Arc<tokio::sync::Semaphore>,
}

fn delivery_view(d: DeliveryRecord) -> DeliveryView {
    DeliveryView {
        id: d.id,
        endpoint_id: d.endpoint_id,
        event_id: d.event_id,
        event_type: d.event_type,
        attempt: d.attempt,
        at: d.at,
        status: d.status_code,
        latency_ms: d.latency_ms,
        delivered: d.status_code.is_some_and(|s| (200..300).contains(&s)),
        error: d.error,
    }
}

fn no_endpoint() -> Error {
    AppError::new(ErrorCode::NotFound, "There is no webhook endpoint with that id in this organisation.").into()
}

impl Webhooks {
    pub fn new(infra: Infra, vault: Arc<Vault>, allow_http: bool) -> Self {
        let running = Arc::new(tokio::sync::Semaphore::new(deliver::ENDPOINTS_AT_ONCE));
        Webhooks { infra, vault, allow_http, wake: tokio::sync::Notify::new(), running }
    }

    fn view(&self, e: &EndpointRecord) -> EndpointView {
        let now = self.infra.clock.now_ms();
        EndpointView {
            id: e.id,
            url: e.url.clone(),
            description: e.description.clone(),
            created_by: e.created_by_name.clone(),
            created_at: e.created_at,
            rotated_at: e.rotated_at,
            previous_secret_until: e.previous_until.filter(|t| *t > now && e.previous_secret.is_some()),
        }
    }

    /// Checks an endpoint URL: absolute https (or http where allowed), no credentials in it, and
    /// a host the outbound guard lets Liaison call.
    async fn check_url(&self, text: &str) -> Result<url::Url> {
        let bad = |message: &str| Error::Field { field: "url", message: message.into() };
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_URL {
            return Err(bad("Enter the https URL of the receiver (at most 2048 characters)."));
        }
        let url =
            url::Url::parse(text).map_err(|_| bad("Enter an absolute URL, such as https://example.com/hooks."))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(bad("The URL must start with https://.")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("Put no user name or password in the URL: Liaison signs each request instead."));
        }
        if url.fragment().is_some() {
            return Err(bad("The URL cannot have a fragment (#…)."));
        }
        if let Err(e) = self.infra.outbound.check_destination(&url).await {
            return Err(Error::Field { field: "url", message: e.sentence("The receiver", "URL") });
        }
        Ok(url)
    }

    pub async fn list(&self, org_id: i64) -> Result<Vec<EndpointView>> {
        Ok(store::endpoints(&self.infra.store.pool, org_id).await?.iter().map(|e| self.view(e)).collect())
    }

    /// Registers an endpoint with a new secret, returned this once.
    pub async fn create(&self, org_id: i64, actor: &str, url: &str, description: &str) -> Result<NewEndpointSecret> {
        let url = self.check_url(url).await?;
        let description: String = description.trim().chars().filter(|c| !c.is_control()).take(200).collect();
        let secret = sign::new_secret();
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        if store::count(&mut *tx, org_id).await? >= MAX_ENDPOINTS {
            let message = format!(
                "An organisation can have at most {MAX_ENDPOINTS} webhook endpoints. Remove one first, or send several \
                 kinds of event to one receiver."
            );
            return Err(AppError::new(ErrorCode::Conflict, message).into());
        }
        let id = match store::create(&mut *tx, org_id, url.as_str(), &description, actor, now).await {
            Err(Error::Db(e)) if crate::error::is_unique_violation(&e) => {
                let message = "This URL is already registered for this organisation.".into();
                return Err(Error::Field { field: "url", message });
            }
            other => other?,
        };
        let sealed = self.vault.seal(SecretColumn::WebhookSecret.at(id), &secret)?;
        secrets::set(&mut *tx, SecretColumn::WebhookSecret, id, Some(&sealed)).await?;
        crate::store::audit::By::new(Some(org_id), actor, now)
            .record(&mut *tx, "webhook.create", url.host_str().unwrap_or_default(), None)
            .await?;
        tx.commit().await?;
        tracing::info!(org_id, endpoint_id = id, "webhook endpoint registered");
        let e = store::endpoint_by_id(&self.infra.store.pool, org_id, id).await?.ok_or_else(no_endpoint)?;
        Ok(NewEndpointSecret { endpoint: self.view(&e), secret })
    }

    /// A new secret for an endpoint, returned this once; the one it replaces keeps signing for
    /// [`ROTATION_OVERLAP_MS`] (a rotation before then drops the older one).
    pub async fn rotate(&self, org_id: i64, actor: &str, id: i64) -> Result<NewEndpointSecret> {
        let e = store::endpoint_by_id(&self.infra.store.pool, org_id, id).await?.ok_or_else(no_endpoint)?;
        let current =
            e.secret.as_deref().map(|s| self.vault.open(SecretColumn::WebhookSecret.at(id), s)).transpose()?;
        let secret = sign::new_secret();
        let now = self.infra.clock.now_ms();
        let sealed = self.vault.seal(SecretColumn::WebhookSecret.at(id), &secret)?;
        let previous = current
            .as_ref()
            .map(|c| self.vault.seal(SecretColumn::WebhookPreviousSecret.at(id), c.expose()))
            .transpose()?;
        let until = previous.as_ref().map(|_| now + ROTATION_OVERLAP_MS);
        let mut tx = self.infra.store.begin().await?;
        let rotation = store::Rotation {
            org_id,
            id,
            current: e.secret.as_deref(),
            secret: &sealed,
            previous: previous.as_deref(),
            previous_until: until,
        };
        if !store::set_secrets(&mut *tx, rotation, now).await? {
            let message = "The secret was rotated meanwhile. Reload the page; rotate again only if you need to.";
            return Err(AppError::new(ErrorCode::Conflict, message).into());
        }
        crate::store::audit::By::new(Some(org_id), actor, now)
            .record(&mut *tx, "webhook.rotate_secret", &id.to_string(), None)
            .await?;
        tx.commit().await?;
        let e = store::endpoint_by_id(&self.infra.store.pool, org_id, id).await?.ok_or_else(no_endpoint)?;
        Ok(NewEndpointSecret { endpoint: self.view(&e), secret })
    }

    /// Removes an endpoint, with what it had still to receive and its log.
    pub async fn delete(&self, org_id: i64, actor: &str, id: i64) -> Result<()> {
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        if !store::delete(&mut *tx, org_id, id).await? {
            return Err(no_endpoint());
        }
        crate::store::audit::By::new(Some(org_id), actor, now)
            .record(&mut *tx, "webhook.delete", &id.to_string(), None)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest attempts, newest first: of one endpoint, or of all the organisation's.
    pub async fn deliveries(&self, org_id: i64, endpoint_id: Option<i64>) -> Result<Vec<DeliveryView>> {
        if let Some(id) = endpoint_id {
            store::endpoint_by_id(&self.infra.store.pool, org_id, id).await?.ok_or_else(no_endpoint)?;
        }
        let rows = store::deliveries(&self.infra.store.pool, org_id, endpoint_id, LOG_ROWS).await?;
        Ok(rows.into_iter().map(delivery_view).collect())
    }

    /// Queues a `webhook.test` event for one endpoint and wakes the delivery: its event id. One
    /// at a time: while one is still to be delivered, another is refused.
    pub async fn send_test(&self, org_id: i64, actor: &str, id: i64) -> Result<String> {
        store::endpoint_by_id(&self.infra.store.pool, org_id, id).await?.ok_or_else(no_endpoint)?;
        let now = self.infra.clock.now_ms();
        let mut conn = self.infra.store.pool.acquire().await?;
        let event_id = match event::record_test(&mut conn, org_id, id, actor, now).await {
            Err(Error::Db(e)) if crate::error::is_unique_violation(&e) => {
                let message = "A test event for this endpoint is still being delivered: see the delivery log, and \
                               send another once it is delivered or given up.";
                return Err(AppError::new(ErrorCode::Conflict, message).into());
            }
            other => other?,
        };
        self.wake.notify_one();
        Ok(event_id)
    }

    /// What an admin of the organisation does on the Webhooks page: the same, as them.
    pub async fn list_as(&self, viewer: &Viewer) -> Result<Vec<EndpointView>> {
        require_admin(viewer, ADMINS_ONLY)?;
        self.list(viewer.org_id).await
    }

    pub async fn create_as(&self, viewer: &Viewer, url: &str, description: &str) -> Result<NewEndpointSecret> {
        require_admin(viewer, ADMINS_ONLY)?;
        self.create(viewer.org_id, &viewer.email, url, description).await
    }

    pub async fn rotate_as(&self, viewer: &Viewer, id: i64) -> Result<NewEndpointSecret> {
        require_admin(viewer, ADMINS_ONLY)?;
        self.rotate(viewer.org_id, &viewer.email, id).await
    }

    pub async fn delete_as(&self, viewer: &Viewer, id: i64) -> Result<()> {
        require_admin(viewer, ADMINS_ONLY)?;
        self.delete(viewer.org_id, &viewer.email, id).await
    }

    pub async fn deliveries_as(&self, viewer: &Viewer) -> Result<Vec<DeliveryView>> {
        require_admin(viewer, ADMINS_ONLY)?;
        self.deliveries(viewer.org_id, None).await
    }

    pub async fn send_test_as(&self, viewer: &Viewer, id: i64) -> Result<String> {
        require_admin(viewer, ADMINS_ONLY)?;
        self.send_test(viewer.org_id, &viewer.email, id).await
    }

    /// The secrets that sign now for an endpoint: its own, and the previous one during a
    /// rotation.
    fn signing_secrets(&self, e: &EndpointRecord, now: i64) -> Result<Vec<Secret>> {
        let mut out = Vec::with_capacity(2);
        if let Some(s) = &e.secret {
            out.push(self.vault.open(SecretColumn::WebhookSecret.at(e.id), s)?);
        }
        if let (Some(s), Some(until)) = (&e.previous_secret, e.previous_until) {
            if until > now {
                out.push(self.vault.open(SecretColumn::WebhookPreviousSecret.at(e.id), s)?);
            }
        }
        Ok(out)
    }
}
