//! The Credentials area: the grants (sealed in the vault) and where they may go. With the OAuth
//! client `Services` opens for a connection, it calls the token and revoke endpoints, refreshes (`refresh`), revokes
//! (`revoke`), puts a credential in a call (`attach`), and words a provider's failure for people,
//! for the OAuth callback and the proxy alike. A grant goes only to the endpoints it was entrusted
//! to (`crate::custody`), and an authorisation code and its PKCE verifier only to those its flow
//! was started under: checked here before a code exchange, a refresh, a revoke and every API call.
//! An edit of a custom service (`crate::services`) sets aside the grants its new endpoints are not
//! entrusted with.

pub mod attach;
pub mod authorise;
pub mod keep_alive;
pub mod refresh;
pub mod revoke;
pub mod token;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::hot::Memo;
use crate::infra::Infra;
use crate::keys::live::Vault;
use crate::services::{OAuthClient, Resolved, Services};
use crate::store::connections::{self as conns, ConnectionRecord};
use crate::store::flows::FlowRecord;
use crate::store::grants::GrantRecord;
use crate::store::grants::{self, GrantMeta};
use crate::store::{audit, secrets};
use crate::vault::{Secret, SecretColumn};
use crate::webhooks::{self, Event, EventType};
use app::connection::ConnectionStatus;
use app::error::{AppError, ErrorCode};
use app::service::ServiceSpec;
use refresh::RefreshLocks;
use std::collections::HashMap;
use std::sync::Arc;
use token::{TokenEndpoint, TokenError, TokenGrant, TokenSet};

/// The grants of every connection, and the endpoints they may be sent to.
pub struct Credentials {
    pub infra: Infra,
    /// Seals and opens every grant.
    pub vault: Arc<Vault>,
    pub services: Arc<Services>,
    /// One refresh at a time per grant, within this process.
    pub refresh_locks: RefreshLocks,
    /// The grants the API's calls read, by connection and user key, kept while the change stamp
    /// stays the same.
    pub known_grants: Memo<HashMap<(i64, i64), Arc<GrantRecord>>>,
}

impl Credentials {
    /// Tokens for the client itself (the client credentials grant), with the connection's scopes.
    pub async fn client_credentials(
        &self,
        c: &ConnectionRecord,
        spec: &ServiceSpec,
        client: &OAuthClient,
    ) -> std::result::Result<TokenSet, TokenError> {
        let scope = token::adapter::scope(spec.scope_delimiter, c.scopes.iter().map(String::as_str));
        let ep = endpoint(spec, spec.token_url.as_ref().map(|u| u.as_str()), client);
        let grant = TokenGrant::ClientCredentials { scope: scope.as_ref().map(|s| s.as_str()) };
        token::request_token(&self.infra.outbound, &ep, grant).await
    }

    /// Authorises `c` with the code of `flow`, for `actor`: only if the service's endpoints are
    /// still those the flow was started under (the code and the PKCE verifier were given for
    /// those, and go nowhere else), the code exchanged at the token endpoint and the tokens stored
    /// as the flow's grant; a refusal recorded on the connection in words.
    pub async fn authorise_with_code(
        &self,
        actor: &Actor,
        c: &ConnectionRecord,
        resolved: &Resolved,
        flow: &FlowRecord,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Authorised> {
        if !resolved.custody_of(c).entrusts(flow.custody.as_deref()) {
            return Ok(Authorised::Moved);
        }
        match self.exchange_code(c, resolved, flow, code, redirect_uri).await? {
            Ok(tokens) => {
                self.store_tokens(actor, c, resolved, flow.user_key, tokens, &flow.scopes).await?;
                Ok(Authorised::Connected)
            }
            Err(e) => match self.connect_failed(actor, c, &resolved.spec.name, &e).await {
                Error::App(refusal) => Ok(Authorised::Refused(refusal)),
                other => Err(other),
            },
        }
    }

    /// Exchanges the authorisation code of `flow` at the service's token endpoint, with the flow's
    /// PKCE verifier.
    async fn exchange_code(
        &self,
        c: &ConnectionRecord,
        resolved: &Resolved,
        flow: &FlowRecord,
        code: &str,
        redirect_uri: &str,
    ) -> Result<std::result::Result<TokenSet, TokenError>> {
        let client = self.services.client_for(c, resolved)?.ok_or_else(|| Error::Invalid("no OAuth client".into()))?;
        let verifier = match &flow.pkce_verifier {
            Some(sealed) => Some(self.vault.open(SecretColumn::FlowPkceVerifier.at(flow.id), sealed)?),
            None => None,
        };
        let spec = &resolved.spec;
        let ep = endpoint(spec, spec.token_url.as_ref().map(|u| u.as_str()), &client);
        let grant =
            TokenGrant::AuthorizationCode { code, redirect_uri, pkce_verifier: verifier.as_ref().map(|v| v.expose()) };
        Ok(token::request_token(&self.infra.outbound, &ep, grant).await)
    }

    /// Stores an API key or Basic credential as the connection's grant; it is Connected.
    pub async fn store_typed(
        &self,
        actor: &Actor,
        c: &ConnectionRecord,
        resolved: &Resolved,
        username: Option<&str>,
        secret: &Secret,
    ) -> Result<()> {
        let custody = resolved.custody_of(c);
        let meta = GrantMeta {
            username,
            expires_at: None,
            granted_scopes: None,
            authorised_by: actor.user_id,
            authorised_by_name: &actor.label,
            custody: custody.as_str(),
        };
        self.store_grant(actor, c, 0, meta, secret, None).await
    }

    /// Stores fresh tokens for a grant, in one transaction with the Connected status.
    pub async fn store_tokens(
        &self,
        actor: &Actor,
        c: &ConnectionRecord,
        resolved: &Resolved,
        user_key: i64,
        tokens: TokenSet,
        requested: &[String],
    ) -> Result<()> {
        let now = self.infra.clock.now_ms();
        let granted: Option<Vec<String>> =
            tokens.scope.as_deref().map(token::adapter::granted_scopes).or_else(|| Some(requested.to_vec()));
        let custody = resolved.custody_of(c);
        let meta = GrantMeta {
            username: None,
            expires_at: tokens.expires_in.map(|s| now.saturating_add(s.saturating_mul(1000))),
            granted_scopes: granted.as_deref(),
            authorised_by: actor.user_id,
            authorised_by_name: &actor.label,
            custody: custody.as_str(),
        };
        self.store_grant(actor, c, user_key, meta, &tokens.access_token, tokens.refresh_token.as_ref()).await?;
        tracing::info!(link_name = %c.link_name, user_key, "connection authorised");
        Ok(())
    }

    /// One grant written with its sealed secrets, the Connected status and the audit record.
    async fn store_grant(
        &self,
        actor: &Actor,
        c: &ConnectionRecord,
        user_key: i64,
        meta: GrantMeta<'_>,
        access: &Secret,
        refresh: Option<&Secret>,
    ) -> Result<()> {
        let now = self.infra.clock.now_ms();
        let mut tx = self.infra.store.begin().await?;
        let gid = grants::upsert_grant(&mut tx, c.id, user_key, meta, now).await?;
        let sealed = self.vault.seal(SecretColumn::GrantAccessToken.at(gid), access.expose())?;
        secrets::set(&mut *tx, SecretColumn::GrantAccessToken, gid, Some(&sealed)).await?;
        if let Some(refresh) = refresh {
            let sealed = self.vault.seal(SecretColumn::GrantRefreshToken.at(gid), refresh.expose())?;
            secrets::set(&mut *tx, SecretColumn::GrantRefreshToken, gid, Some(&sealed)).await?;
        }
        conns::set_status(&mut *tx, c.id, ConnectionStatus::Connected, None, now).await?;
        audit::By::new(Some(c.org_id), &actor.label, now)
            .record(&mut *tx, "connection.authorise", &c.link_name, None)
            .await?;
        let connected = Some(ConnectionStatus::Connected);
        let event = if c.per_user && user_key != 0 {
            Event::new(EventType::GrantAdded, c, connected, &actor.label).of_user(user_key)
        } else if c.status == ConnectionStatus::Revoked {
            Event::new(EventType::Enabled, c, connected, &actor.label)
        } else {
            Event::new(EventType::Authorised, c, connected, &actor.label)
        };
        webhooks::event::record(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed connect attempt (status Error with the reason) and returns the error.
    pub async fn connect_failed(&self, actor: &Actor, c: &ConnectionRecord, service: &str, e: &TokenError) -> Error {
        let app = provider_error(service, e);
        tracing::warn!(link_name = %c.link_name, error = %e, "connecting failed");
        let now = self.infra.clock.now_ms();
        let status = if e.is_invalid_grant() { ConnectionStatus::NeedsReauth } else { ConnectionStatus::Error };
        let recorded = async {
            let mut tx = self.infra.store.begin().await?;
            if c.status != ConnectionStatus::Connected {
                conns::set_status(&mut *tx, c.id, status, Some(&app.message), now).await?;
                if status == ConnectionStatus::NeedsReauth && c.status != status {
                    let event = Event::new(EventType::ReauthorisationNeeded, c, Some(status), &actor.label);
                    webhooks::event::record(&mut tx, event.because(Some(&app.message)), now).await?;
                }
            }
            audit::By::new(Some(c.org_id), &actor.label, now)
                .record(&mut *tx, "connection.authorise_failed", &c.link_name, Some(&app.message))
                .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(db) = recorded.await {
            return db;
        }
        app.into()
    }
}

/// What became of an authorisation code.
pub enum Authorised {
    /// The tokens are stored: the connection (or the person's grant) is Connected.
    Connected,
    /// The token endpoint refused or failed; recorded on the connection, in these words.
    Refused(AppError),
    /// The service's endpoints moved since the flow started: nothing was sent.
    Moved,
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

/// How a call to a token endpoint to refresh ended, as the metrics count it.
fn refresh_outcome<T>(outcome: &Result<T, refresh::Refusal>) -> crate::metrics::Refresh {
    use crate::metrics::Refresh;
    match outcome {
        Ok(_) => Refresh::Ok,
        Err(refresh::Refusal::Token(e)) if e.is_invalid_grant() => Refresh::NeedsReauthorization,
        Err(refresh::Refusal::Token(e)) if e.is_retryable() => Refresh::RetryLater,
        Err(refresh::Refusal::Token(_)) => Refresh::Failed,
        Err(refresh::Refusal::Other(_)) => Refresh::Error,
    }
}
