//! The Flows area: the authorisation-code dance. `/oauth/start/{link}` makes a flow record (single
//! use, bound to the browser session, ten minutes) and redirects to the provider with `state`, PKCE S256 and the
//! scopes joined by the service's delimiter. `/oauth/callback/{service key}` checks the state, the
//! session, the expiry and that the answer came back on the service's own callback path (the
//! mix-up defence), then exchanges the code and stores the tokens sealed. Every ending is
//! recorded on the flow, so the page that opened the popup can poll it.

pub mod http;
pub mod start;

use crate::actor::{self, user_key, Actor};
use crate::credentials::{Credentials, Exchange};
use crate::error::{Error, Result};
use crate::keys::live::Vault;
use crate::services::Services;
use crate::store::{connections as conns, flows, secrets, Clock, Store};
use crate::vault::SecretColumn;
use app::connection::FlowStatus;
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::service::{ScopeDelimiter, ServiceSpec};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// How long a started authorisation stays valid.
pub const FLOW_TTL_MS: i64 = 10 * 60 * 1000;

/// The query of the callback, as the provider sent it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

fn flow_error(message: &str) -> AppError {
    AppError::new(ErrorCode::FlowInvalid, message)
}

/// A ticket the page chose to poll the flow by: 16 to 64 URL-safe characters.
pub fn check_ticket(t: &str) -> Result<()> {
    if (16..=64).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(())
    } else {
        Err(flow_error("The authorisation ticket is not valid: start again from the Connections page.").into())
    }
}

/// The PKCE S256 challenge of a verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Percent-encodes a query value; spaces as `%20`, or as `+` where the service joins scopes so.
fn encode(value: &str, plus_for_space: bool) -> String {
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    if plus_for_space {
        form
    } else {
        form.replace('+', "%20")
    }
}

/// The provider's authorise URL for this flow.
pub fn authorize_url(
    spec: &ServiceSpec,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    state: &str,
    challenge: Option<&str>,
) -> Result<String> {
    let base = spec.authorize_url.as_ref().ok_or_else(|| Error::Invalid("the service has no authorise URL".into()))?;
    let mut params: Vec<(&str, String)> = vec![
        ("response_type", "code".into()),
        ("client_id", encode(client_id, false)),
        ("redirect_uri", encode(redirect_uri, false)),
    ];
    if !scopes.is_empty() {
        let plus = spec.scope_delimiter == ScopeDelimiter::Plus;
        let joined = if plus { scopes.join(" ") } else { spec.scope_delimiter.join(scopes.iter().map(String::as_str)) };
        params.push(("scope", encode(&joined, plus)));
    }
    params.push(("state", encode(state, false)));
    if let Some(c) = challenge {
        params.push(("code_challenge", c.to_string()));
        params.push(("code_challenge_method", "S256".into()));
    }
    for (k, v) in &spec.extra_authorize_params {
        params.push((k.as_str(), encode(v, false)));
    }
    let query: Vec<String> = params.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let sep = if base.as_str().contains('?') { '&' } else { '?' };
    Ok(format!("{}{sep}{}", base.as_str(), query.join("&")))
}

/// The authorisations in progress, from the start link to the provider's answer.
pub struct Flows {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Seals the PKCE verifiers.
    pub vault: Arc<Vault>,
    pub services: Arc<Services>,
    pub credentials: Arc<Credentials>,
    /// The outbound time limit: a code exchange not finished by then was cut off.
    pub outbound_timeout: Duration,
}

impl Flows {
    /// Starts an authorisation for `viewer` in the browser session `session_hash` with the start
    /// link's one-time `nonce` (see `flows::start`); returns the provider URL to redirect to.
    pub async fn start_flow(
        &self,
        viewer: &Viewer,
        session_hash: &str,
        link_name: &str,
        ticket: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        let c = actor::connection(&self.store, viewer.org_id, link_name).await?;
        if c.internal || (!c.per_user && !actor::can_manage(viewer, &c)) {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                "Only the person who created this connection and admins can authorise it.",
            )
            .into());
        }
        self.take_start(viewer, session_hash, c.id, nonce).await?;
        let resolved = self.services.resolve(viewer.org_id, &c.service).await?;
        if !resolved.spec.needs_popup() {
            return Err(flow_error("This connection does not use a browser authorisation.").into());
        }
        let client = self.credentials.client_for(&c, &resolved)?.ok_or_else(|| {
            AppError::new(ErrorCode::Validation, format!("{} has no OAuth client configured.", resolved.spec.name))
        })?;
        let ticket = match ticket {
            Some(t) => {
                check_ticket(t)?;
                t.to_string()
            }
            None => crate::auth::session::new_token(),
        };
        let state = crate::auth::session::new_token();
        let verifier = crate::auth::session::new_token();
        let now = self.clock.now_ms();
        let callback_key = self.services.callback_key(viewer.org_id, &c.service).await?;
        let redirect_uri = self.services.callback_url(&callback_key);
        let custody = resolved.custody_of(&c);
        let mut tx = self.store.pool.begin().await?;
        let id = flows::create(
            &mut *tx,
            flows::NewFlow {
                ticket: &ticket,
                state_hash: &crate::auth::session::token_hash(&state),
                org_id: viewer.org_id,
                connection_id: c.id,
                user_id: viewer.user_id,
                user_key: user_key(&c, Some(viewer.user_id)),
                session_hash,
                callback_key: &callback_key,
                scopes: &c.scopes,
                expires_at: now + FLOW_TTL_MS,
                custody: custody.as_str(),
            },
            now,
        )
        .await
        .map_err(|e| match e {
            Error::Db(ref d) if crate::error::is_unique_violation(d) => {
                Error::from(flow_error("This authorisation ticket was used before: start again."))
            }
            e => e,
        })?;
        let challenge = if resolved.spec.pkce {
            let sealed = self.vault.seal(SecretColumn::FlowPkceVerifier.at(id), &verifier)?;
            secrets::set(&mut *tx, SecretColumn::FlowPkceVerifier, id, Some(&sealed)).await?;
            Some(pkce_challenge(&verifier))
        } else {
            None
        };
        tx.commit().await?;
        tracing::info!(link_name = %c.link_name, "authorisation started");
        authorize_url(&resolved.spec, &client.client_id, &redirect_uri, &c.scopes, &state, challenge.as_deref())
    }

    /// Handles the provider's answer on `/oauth/callback/{callback_key}`. Nothing is stored
    /// unless the code exchange succeeds; every ending is recorded on the flow.
    pub async fn finish_flow(
        &self,
        callback_key: &str,
        q: &CallbackQuery,
        session_hash: Option<&str>,
    ) -> Result<FlowStatus> {
        let state = q.state.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
            flow_error("The provider's answer has no state, so it cannot be matched to an authorisation. Start again.")
        })?;
        let flow =
            flows::by_state(&self.store.pool, &crate::auth::session::token_hash(state)).await?.ok_or_else(|| {
                flow_error("This authorisation is unknown or already finished. Start again from the Connections page.")
            })?;
        if session_hash != Some(flow.session_hash.as_str()) {
            return Err(flow_error(
                "This authorisation was started in another browser session. Start again from this browser.",
            )
            .into());
        }
        let now = self.clock.now_ms();
        if !flows::claim(&self.store.pool, flow.id, now).await? {
            return Err(
                flow_error("This authorisation was already used. Start again from the Connections page.").into()
            );
        }
        let c = conns::by_id(&self.store.pool, flow.org_id, flow.connection_id)
            .await?
            .ok_or_else(|| flow_error("The connection was deleted while it was being authorised."))?;
        let (link, flow_id) = (&c.link_name, flow.id);
        let fail = |code: ErrorCode, message: String| async move {
            flows::finish(&self.store.pool, flow_id, code_name(code), Some(&message)).await?;
            Ok::<_, Error>(FlowStatus::Failed { link_name: link.clone(), code: code_name(code).into(), message })
        };
        if now > flow.expires_at {
            return fail(
                ErrorCode::FlowInvalid,
                "The authorisation took longer than 10 minutes and expired. Connect again.".into(),
            )
            .await;
        }
        if callback_key != flow.callback_key {
            tracing::warn!(link_name = %c.link_name, "authorisation answer arrived on another service's callback");
            return fail(
                ErrorCode::FlowInvalid,
                "The provider's answer arrived for a different service than the one being authorised, so it was refused."
                    .into(),
            )
            .await;
        }
        if let Some(error) = q.error.as_deref() {
            let message = match error {
                "access_denied" => {
                    "Access was not granted: the request was declined on the provider's page.".to_string()
                }
                other => {
                    let said = q.error_description.as_deref().map(|d| format!(": {}", clean(d))).unwrap_or_default();
                    format!("The provider refused the authorisation ({}{said}).", clean(other))
                }
            };
            let code = if error == "access_denied" { ErrorCode::AccessDenied } else { ErrorCode::ProviderError };
            return fail(code, message).await;
        }
        let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
            return fail(ErrorCode::FlowInvalid, "The provider's answer has no authorisation code.".into()).await;
        };
        let resolved = self.services.resolve(c.org_id, &c.service).await?;
        // The key checked above is the flow's, recorded at its start: the service's own.
        let redirect_uri = self.services.callback_url(&flow.callback_key);
        let user = crate::store::users::name_of(&self.store.pool, flow.org_id, flow.user_id).await?;
        let actor = Actor { org_id: flow.org_id, user_id: Some(flow.user_id), label: user };
        let exchanged = self.credentials.exchange_code(&c, &resolved, &flow, code, &redirect_uri).await?;
        match exchanged {
            Exchange::Moved => fail(ErrorCode::FlowInvalid, crate::custody::MOVED_REASON.into()).await,
            Exchange::Tokens(tokens) => {
                self.credentials.store_tokens(&actor, &c, &resolved, flow.user_key, tokens, &flow.scopes).await?;
                flows::finish(&self.store.pool, flow.id, "connected", None).await?;
                Ok(FlowStatus::Connected { link_name: c.link_name.clone() })
            }
            Exchange::Refused(e) => {
                let err: AppError = match self.credentials.connect_failed(&actor, &c, &resolved.spec.name, &e).await {
                    Error::App(a) => a,
                    other => return Err(other),
                };
                fail(err.code, err.message).await
            }
        }
    }

    /// How the flow with this ticket ended, for the page that started it (same session only).
    pub async fn flow_status(&self, viewer: &Viewer, session_hash: &str, ticket: &str) -> Result<FlowStatus> {
        check_ticket(ticket)?;
        let flow = flows::by_ticket(&self.store.pool, viewer.org_id, ticket)
            .await?
            .filter(|f| f.session_hash == session_hash)
            .ok_or_else(|| Error::from(AppError::new(ErrorCode::NotFound, "There is no such authorisation.")))?;
        let link = conns::by_id(&self.store.pool, viewer.org_id, flow.connection_id)
            .await?
            .map(|c| c.link_name)
            .unwrap_or_default();
        let now = self.clock.now_ms();
        // A claimed flow finishes within the outbound time limit; one that has not by then was cut
        // off (its server died in the middle of the code exchange), and nothing of it was saved.
        let limit = i64::try_from(self.outbound_timeout.as_millis()).unwrap_or(i64::MAX);
        let interrupted = flow.used_at.is_some_and(|used| now > used.saturating_add(limit).saturating_add(5_000));
        Ok(match flow.outcome.as_deref() {
            None if interrupted => FlowStatus::Failed {
                link_name: link,
                code: code_name(ErrorCode::FlowInvalid).into(),
                message: "The authorisation was interrupted before it finished, and nothing was saved. Connect again."
                    .into(),
            },
            None if now > flow.expires_at => FlowStatus::Failed {
                link_name: link,
                code: code_name(ErrorCode::FlowInvalid).into(),
                message: "The authorisation took longer than 10 minutes and expired. Connect again.".into(),
            },
            None => FlowStatus::Pending,
            Some("connected") => FlowStatus::Connected { link_name: link },
            Some(code) => FlowStatus::Failed {
                link_name: link,
                code: code.into(),
                message: flow.outcome_message.unwrap_or_default(),
            },
        })
    }
}

/// A provider's words, made safe to show: no control characters, at most 200 characters.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The stable snake_case name of a code.
pub fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::AccessDenied
        | ErrorCode::ProviderError
        | ErrorCode::HostNotAllowed
        | ErrorCode::UpstreamTimeout
        | ErrorCode::SecretUnreadable
        | ErrorCode::NotFound
        | ErrorCode::Forbidden => code.as_str(),
        _ => ErrorCode::FlowInvalid.as_str(),
    }
}

#[cfg(test)]
mod tests;
