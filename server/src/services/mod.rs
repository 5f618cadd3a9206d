//! The Services area: a catalogue entry or a custom service as connections use it, with the OAuth
//! client that goes with it (the operator's, the custom service's, or the connection's own); the
//! admins' create / read / update / delete of custom services (`callback.rs`: the callback key a
//! new service's form is given; `impact.rs`: what an edit would send back to re-authorisation),
//! and issuer discovery. The only place a stored client secret is opened (`client_for`).

pub mod callback;
pub mod clients;
pub mod discovery;
pub mod impact;

pub use clients::{ConfiguredClient, OAuthClient, OperatorClients, Resolved};

use crate::actor::require_admin;
use crate::catalog::Catalog;
use crate::custody::Custody;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::keys::live::Vault;
use crate::store::connections::ConnectionRecord;
use crate::store::grants::SetAside;

use crate::store::{audit, services, services::ServiceRow};
use crate::vault::SecretColumn;
use app::connection::{CustomServiceView, ServiceRef, ServiceSummary};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::service::{AuthType, ServiceForm};
use std::sync::Arc;

/// What only admins may do here.
const ADMINS_ONLY: &str = "create, change or delete custom services";

pub(crate) fn not_found() -> Error {
    AppError::new(ErrorCode::NotFound, "There is no such service in your organisation.").into()
}

/// The services of every organisation, and the clients that go with them.
pub struct Services {
    pub infra: Infra,
    /// Seals and opens the client secrets.
    pub vault: Arc<Vault>,
    /// The predefined services in force.
    pub catalog: Arc<Catalog>,
    /// The OAuth clients the operator configured for predefined services.
    pub clients: OperatorClients,
    /// Plain-http service URLs are accepted (operator setting).
    pub allow_http: bool,
}

impl Services {
    /// The spec and the service-level OAuth client of a service of this organisation.
    pub async fn resolve(&self, org_id: i64, service: &ServiceRef) -> Result<Resolved> {
        match service {
            ServiceRef::Predefined(id) => {
                let entry = self.catalog.get(id).ok_or_else(not_found)?;
                let client = self.clients.get(id).cloned().map(ConfiguredClient::Operator);
                let mut resolved = Resolved::new(entry.spec.clone(), client, callback::predefined_key(id));
                resolved.retries = entry.retries.clone();
                Ok(resolved)
            }
            ServiceRef::Custom(id) => {
                let row: ServiceRow =
                    services::get(&self.infra.store.pool, org_id, *id).await?.ok_or_else(not_found)?;
                let client = row.client_id.map(|client_id| ConfiguredClient::Stored {
                    client_id,
                    column: SecretColumn::ServiceClientSecret,
                    row: row.id,
                    sealed_secret: row.client_secret,
                });
                Ok(Resolved::new(row.spec, client, row.callback_key))
            }
        }
    }

    /// At start, before any call: grants made before Liaison recorded custody are stamped with
    /// their service's endpoints of now (they were made under them, as far as anyone can know);
    /// then the grants of predefined services the operator moved (`catalog_file`) or gave another
    /// OAuth client (`oauth_clients_file`) since they were made are set aside, sent nowhere, and
    /// their connections need a new authorisation (`crate::custody`).
    pub async fn settle_custody_at_start(&self) -> Result<u64> {
        for group in crate::store::grants::unstamped_groups(&self.infra.store.pool).await? {
            let (org_id, service_id, catalog_id, own_client) = &group;
            let service = match (service_id, catalog_id) {
                (Some(id), _) => ServiceRef::Custom(*id),
                (None, Some(id)) => ServiceRef::Predefined(id.clone()),
                (None, None) => continue,
            };
            // A service gone from the catalogue: its grants stay unstamped and are never used.
            let Ok(resolved) = self.resolve(*org_id, &service).await else { continue };
            let custody = resolved.custody_with(Some(own_client.as_str()).filter(|c| !c.is_empty()));
            let n = crate::store::grants::stamp_group(&self.infra.store.pool, &group, custody.as_str()).await?;
            tracing::info!(grants = n, "grants from before custody records stamped with their service's endpoints");
        }
        let mut gone = 0;
        for (catalog_id, own_client, recorded) in
            crate::store::grants::predefined_custodies(&self.infra.store.pool).await?
        {
            let Some(entry) = self.catalog.get(&catalog_id) else { continue };
            let operator = self.clients.get(&catalog_id).map(|c| c.client_id.as_str());
            let client = Some(own_client.as_str()).filter(|c| !c.is_empty()).or(operator);
            if Custody::of(&entry.spec, client).entrusts(Some(&recorded)) {
                continue;
            }
            let now = self.infra.clock.now_ms();
            let mut tx = self.infra.store.begin().await?;
            let reason = crate::custody::MOVED_REASON;
            let which = SetAside::Predefined { catalog_id: &catalog_id, client_id: &own_client, custody: &recorded };
            tell_set_aside(&mut tx, which, crate::webhooks::event::LIAISON, now).await?;
            let n = crate::store::grants::set_aside(&mut tx, which, reason, now).await?.grants;
            audit::By::liaison(None, now)
                .record(&mut *tx, "service.endpoints_changed", &catalog_id, Some(reason))
                .await?;
            tx.commit().await?;
            tracing::warn!(service = %catalog_id, grants = n, "the operator changed a predefined service's endpoints or client: its grants were set aside");
            gone += n;
        }
        Ok(gone)
    }

    /// The OAuth client of a connection: its own (predefined service without an operator client),
    /// else the service's, with its secret opened.
    pub fn client_for(&self, c: &ConnectionRecord, resolved: &Resolved) -> Result<Option<OAuthClient>> {
        let own = c.client_id.clone().map(|client_id| ConfiguredClient::Stored {
            client_id,
            column: SecretColumn::ConnectionClientSecret,
            row: c.id,
            sealed_secret: c.client_secret.clone(),
        });
        own.as_ref().or(resolved.client.as_ref()).map(|client| self.open_client(client)).transpose()
    }

    /// The client with its secret opened (the only place a stored client secret is opened).
    pub(crate) fn open_client(&self, client: &ConfiguredClient) -> Result<OAuthClient> {
        match client {
            ConfiguredClient::Operator(c) => Ok(c.clone()),
            ConfiguredClient::Stored { client_id, column, row, sealed_secret } => {
                let client_secret = match sealed_secret {
                    Some(sealed) => Some(self.vault.open(column.at(*row), sealed)?),
                    None => None,
                };
                Ok(OAuthClient { client_id: client_id.clone(), client_secret })
            }
        }
    }

    /// Every service a connection can be made with: the catalogue, then the organisation's own.
    pub async fn service_summaries(&self, viewer: &Viewer) -> Result<Vec<ServiceSummary>> {
        let mut out: Vec<ServiceSummary> = self
            .catalog
            .services()
            .iter()
            .map(|s| {
                let service = ServiceRef::Predefined(s.id.clone());
                ServiceSummary {
                    callback_url: self.callback_url(&callback::predefined_key(&s.id)),
                    service,
                    name: s.spec.name.clone(),
                    auth_type: s.spec.auth_type,
                    grant_type: s.spec.grant_type,
                    scopes: s.spec.scopes.clone(),
                    needs_client: s.spec.auth_type == AuthType::OAuth2 && self.clients.get(&s.id).is_none(),
                }
            })
            .collect();
        for row in services::list(&self.infra.store.pool, viewer.org_id).await? {
            let service = ServiceRef::Custom(row.id);
            out.push(ServiceSummary {
                callback_url: self.callback_url(&row.callback_key),
                service,
                name: row.spec.name.clone(),
                auth_type: row.spec.auth_type,
                grant_type: row.spec.grant_type,
                scopes: row.spec.scopes.clone(),
                needs_client: false,
            });
        }
        Ok(out)
    }

    pub async fn custom_service(&self, viewer: &Viewer, id: i64) -> Result<CustomServiceView> {
        let row = services::get(&self.infra.store.pool, viewer.org_id, id).await?.ok_or_else(not_found)?;
        let connections = services::connection_count(&self.infra.store.pool, viewer.org_id, id).await?;
        Ok(CustomServiceView {
            id,
            callback_url: self.callback_url(&row.callback_key),
            client_secret_set: row.client_secret.is_some(),
            client_id: row.client_id,
            spec: row.spec,
            connections,
        })
    }

    /// Creates a custom service (admins); returns its id.
    pub async fn create_service(&self, viewer: &Viewer, form: &ServiceForm) -> Result<i64> {
        require_admin(viewer, ADMINS_ONLY)?;
        let parsed = form.parse(self.allow_http, false).map_err(AppError::validation)?;
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        let key = self.take_key(&mut tx, viewer, &form.callback_key).await?;
        let client_id = parsed.client_id.as_deref();
        let id = services::create(&mut *tx, viewer.org_id, &parsed.spec, client_id, &key, viewer.user_id, now).await?;
        if let Some(secret) = &parsed.client_secret {
            let sealed = self.vault.seal(SecretColumn::ServiceClientSecret.at(id), secret.expose())?;
            crate::store::secrets::set(&mut *tx, SecretColumn::ServiceClientSecret, id, Some(&sealed)).await?;
        }
        audit::By::new(Some(viewer.org_id), &viewer.email, now)
            .record(&mut *tx, "service.create", &parsed.spec.name, None)
            .await?;
        tx.commit().await?;
        tracing::info!(org_id = viewer.org_id, service_id = id, "custom service created");
        Ok(id)
    }

    /// Updates a custom service (admins). An empty client secret keeps the stored one, unless the
    /// edit moves an endpoint or the client (`crate::custody`): then the secret must be entered
    /// again, and the grants made under the old endpoints are set aside in the same transaction.
    pub async fn update_service(&self, viewer: &Viewer, id: i64, form: &ServiceForm) -> Result<()> {
        require_admin(viewer, ADMINS_ONLY)?;
        let existing = services::get(&self.infra.store.pool, viewer.org_id, id).await?.ok_or_else(not_found)?;
        let parsed = form.parse(self.allow_http, existing.client_secret.is_some()).map_err(AppError::validation)?;
        let moved = impact::moves(&existing, &parsed);
        let keeps_secret = parsed.client_secret.is_none() && parsed.client_id.is_some();
        if moved && keeps_secret && existing.client_secret.is_some() {
            return Err(Error::Field { field: "client_secret", message: crate::custody::SECRET_AGAIN.into() });
        }
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        services::update(&mut *tx, viewer.org_id, id, &parsed.spec, parsed.client_id.as_deref(), now).await?;
        let slot = SecretColumn::ServiceClientSecret.at(id);
        match &parsed.client_secret {
            Some(secret) => {
                let sealed = self.vault.seal(slot, secret.expose())?;
                crate::store::secrets::set(&mut *tx, SecretColumn::ServiceClientSecret, id, Some(&sealed)).await?;
            }
            // Not OAuth any more: no client, no secret. Moved with no secret given: none was stored
            // when this edit was read, and one stored since may not go to the new endpoints.
            None if moved || parsed.client_id.is_none() => {
                crate::store::secrets::set(&mut *tx, SecretColumn::ServiceClientSecret, id, None).await?
            }
            None => {}
        }
        let detail = if moved {
            let which = SetAside::CustomService { org_id: viewer.org_id, service_id: id };
            tell_set_aside(&mut tx, which, &viewer.email, now).await?;
            let set_aside =
                crate::store::grants::set_aside(&mut tx, which, crate::custody::MOVED_REASON, now).await?.connections;
            Some(format!("endpoints changed; {set_aside} connection(s) need a new authorisation"))
        } else {
            None
        };
        audit::By::new(Some(viewer.org_id), &viewer.email, now)
            .record(&mut *tx, "service.update", &parsed.spec.name, detail.as_deref())
            .await?;
        tx.commit().await?;
        if moved {
            tracing::info!(
                org_id = viewer.org_id,
                service_id = id,
                "custom service endpoints changed: grants set aside"
            );
        }
        Ok(())
    }

    /// A custom service's form filled in from its issuer's metadata (admins).
    pub async fn discover(&self, viewer: &Viewer, issuer: &str) -> Result<ServiceForm> {
        require_admin(viewer, ADMINS_ONLY)?;
        discovery::discover(&self.infra.outbound, issuer, self.allow_http).await
    }

    /// Deletes a custom service no connection uses (admins).
    pub async fn delete_service(&self, viewer: &Viewer, id: i64) -> Result<()> {
        require_admin(viewer, ADMINS_ONLY)?;
        let existing = services::get(&self.infra.store.pool, viewer.org_id, id).await?.ok_or_else(not_found)?;
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        if services::connection_count(&mut *tx, viewer.org_id, id).await? > 0 {
            return Err(Error::InUse);
        }
        services::delete(&mut *tx, viewer.org_id, id).await?;
        audit::By::new(Some(viewer.org_id), &viewer.email, now)
            .record(&mut *tx, "service.delete", &existing.spec.name, None)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Tells of each connection an edit of endpoints moves to Needs re-authorisation, and of each
/// person's own grant it removes (a webhook event each, in the edit's transaction), before the
/// grants are set aside.
async fn tell_set_aside(tx: &mut sqlx::AnyConnection, which: SetAside<'_>, actor: &str, now: i64) -> Result<()> {
    use crate::webhooks::{event, Event, EventType};
    use app::connection::ConnectionStatus;
    let moved = Some(crate::custody::MOVED_REASON);
    let marked = crate::store::grants::to_set_aside(&mut *tx, which).await?;
    for &id in &marked {
        let Some(c) = crate::store::connections::by_id_any_org(&mut *tx, id).await? else { continue };
        let e = Event::new(EventType::ReauthorisationNeeded, &c, Some(ConnectionStatus::NeedsReauth), actor);
        event::record(&mut *tx, e.because(moved), now).await?;
    }
    for (id, user) in crate::store::grants::own_grants_to_set_aside(&mut *tx, which).await? {
        let Some(c) = crate::store::connections::by_id_any_org(&mut *tx, id).await? else { continue };
        let status = if marked.contains(&id) { ConnectionStatus::NeedsReauth } else { c.status };
        let e = Event::new(EventType::GrantRemoved, &c, Some(status), actor).of_user(user);
        event::record(&mut *tx, e.because(moved), now).await?;
    }
    Ok(())
}
