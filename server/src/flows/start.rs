//! The start of an authorisation, in the order it happens. First the popup's one-time start link:
//! the Connect call (and create-and-connect) issues a random nonce for this browser session, this
//! person and this connection, valid a few minutes, and answers `/oauth/start/<link>?n=<nonce>`;
//! `/oauth/start` consumes it before it starts a flow.
//! A bare start link, one sent to someone else, one opened a second time or too late starts
//! nothing: the popup says to start again from the Connections page. Then the flow itself: its
//! record, and the redirect to the provider's authorise URL.

use super::page::{error_page, failed, page};
use super::request::FlowRequest;
use super::{check_ticket, flow_error, Flows, FLOW_TTL_MS};
use crate::actor::{self, user_key};
pub use crate::credentials::authorise::{authorize_url, pkce_challenge};
use crate::error::{Error, Result};
use crate::store::connections::ConnectionRecord;
use crate::store::starts::{self, Start};
use crate::store::{flows, secrets};
use crate::vault::SecretColumn;
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

/// How long a start link stays usable (the popup opens at once; a blocked one is a click away).
pub const START_TTL_MS: i64 = 5 * 60 * 1000;

/// What a start link that is not this session's own, fresh and unused shows.
pub const NOT_STARTED: &str = "This authorisation link cannot be used: it works once, for a few minutes, only in the \
                               browser that asked for it. Start again from Liaison's Connections page.";

/// The start URL of a connection without a nonce (no browser session to bind one to).
pub fn bare_url(link_name: &str) -> String {
    format!("/oauth/start/{link_name}")
}

impl Flows {
    /// Issues a nonce for `user_id` in the browser session `session_hash` and returns the start
    /// URL that carries it. Expired nonces are pruned on the way.
    pub async fn issue_start(&self, user_id: i64, session_hash: &str, c: &ConnectionRecord) -> Result<String> {
        let mut conn = self.infra.store.pool.acquire().await?;
        self.issue_start_in(&mut conn, user_id, session_hash, c, false).await
    }

    /// [`Flows::issue_start`] on `db` (a reconnect link issues its start link in the transaction
    /// that uses the link: both or neither), with `by_link` for a reconnect link (its person may
    /// then authorise a connection they could not manage otherwise).
    pub async fn issue_start_in(
        &self,
        db: &mut sqlx::AnyConnection,
        user_id: i64,
        session_hash: &str,
        c: &ConnectionRecord,
        by_link: bool,
    ) -> Result<String> {
        let nonce = crate::auth::session::new_token();
        let now = self.infra.clock.now_ms();
        starts::prune(&mut *db, now).await?;
        let start = Start {
            session_hash: session_hash.to_string(),
            user_id,
            connection_id: c.id,
            expires_at: now + START_TTL_MS,
            by_link,
        };
        starts::issue(&mut *db, &crate::auth::session::token_hash(&nonce), &start).await?;
        Ok(format!("{}?n={nonce}", bare_url(&c.link_name)))
    }

    /// Consumes the nonce of a start link: it must have been issued to this session, this person
    /// and this connection, and not have expired. Presented once, it is gone, whatever the outcome.
    /// True if a reconnect link issued it.
    pub async fn take_start(
        &self,
        viewer: &Viewer,
        session_hash: &str,
        connection_id: i64,
        nonce: Option<&str>,
    ) -> Result<bool> {
        let refused = || AppError::new(ErrorCode::FlowInvalid, NOT_STARTED).into();
        let Some(nonce) = nonce.filter(|n| !n.is_empty() && n.len() <= 128) else { return Err(refused()) };
        let Some(start) = starts::take(&self.infra.store.pool, &crate::auth::session::token_hash(nonce)).await? else {
            tracing::warn!("authorisation start refused: unknown or used start link");
            return Err(refused());
        };
        let mine = start.session_hash == session_hash
            && start.user_id == viewer.user_id
            && start.connection_id == connection_id;
        if !mine || start.expires_at <= self.infra.clock.now_ms() {
            tracing::warn!(
                mine,
                "authorisation start refused: start link of another session, person or connection, or expired"
            );
            return Err(refused());
        }
        Ok(start.by_link)
    }

    /// Starts an authorisation for `viewer` in the browser session `session_hash` with the start
    /// link's one-time `nonce` (see [`Flows::issue_start`]); returns the provider URL to redirect to.
    pub async fn start_flow(
        &self,
        viewer: &Viewer,
        session_hash: &str,
        link_name: &str,
        ticket: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        let c = actor::connection(&self.infra.store, viewer.org_id, link_name).await?;
        let forbidden = || {
            Error::from(AppError::new(
                ErrorCode::Forbidden,
                "Only the person who created this connection and admins can authorise it.",
            ))
        };
        let may = c.per_user || actor::can_manage(viewer, &c);
        if c.internal || (!may && nonce.is_none()) {
            return Err(forbidden());
        }
        // Someone who may not manage the connection may still authorise it with a start link a
        // reconnect link issued them.
        if !self.take_start(viewer, session_hash, c.id, nonce).await? && !may {
            return Err(forbidden());
        }
        let resolved = self.services.resolve(viewer.org_id, &c.service).await?;
        if !resolved.spec.needs_popup() {
            return Err(flow_error("This connection does not use a browser authorisation.").into());
        }
        let client = self.services.client_for(&c, &resolved)?.ok_or_else(|| {
            AppError::new(ErrorCode::Validation, format!("{} has no OAuth client configured.", resolved.spec.name))
        })?;
        let ticket = match ticket {
            Some(t) => {
                check_ticket(t)?;
                t.to_string()
            }
            None => crate::auth::session::new_token(),
        };
        let state = crate::credentials::authorise::new_state();
        let verifier = resolved.spec.pkce.then(crate::credentials::authorise::new_verifier);
        let now = self.infra.clock.now_ms();
        let redirect_uri = self.services.callback_url(&resolved.callback_key);
        let custody = resolved.custody_of(&c);
        let mut tx = self.infra.store.begin().await?;
        let id = flows::create(
            &mut *tx,
            flows::NewFlow {
                ticket: &ticket,
                state_hash: &crate::auth::session::token_hash(state.secret()),
                org_id: viewer.org_id,
                connection_id: c.id,
                user_id: viewer.user_id,
                user_key: user_key(&c, Some(viewer.user_id)),
                session_hash,
                callback_key: &resolved.callback_key,
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
        if let Some(verifier) = &verifier {
            let sealed = self.vault.seal(SecretColumn::FlowPkceVerifier.at(id), verifier.secret())?;
            secrets::set(&mut *tx, SecretColumn::FlowPkceVerifier, id, Some(&sealed)).await?;
        }
        tx.commit().await?;
        crate::metrics::flow(crate::metrics::Flow::Started);
        tracing::info!(link_name = %c.link_name, "authorisation started");
        authorize_url(&resolved.spec, &client.client_id, &redirect_uri, &c.scopes, &state, verifier.as_ref())
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct StartQuery {
    pub ticket: Option<String>,
    /// The start link's one-time nonce, issued by the Connect call to this browser session.
    pub n: Option<String>,
}

/// A page load of the start URL: signed in, from Liaison's own pages (or typed in the address
/// bar), never from another site, with the one-time nonce the Connect call gave this session.
pub async fn start(
    req: FlowRequest,
    Path(link_name): Path<String>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let site = crate::auth::csrf::fetch_site(&headers).unwrap_or("none");
    if !matches!(site, "same-origin" | "none") {
        return page(
            StatusCode::FORBIDDEN,
            &req.origin,
            &failed(
                &link_name,
                ErrorCode::FlowInvalid.as_str(),
                "An authorisation can only be started from Liaison's own pages.",
            ),
        );
    }
    let (Some(viewer), Some(session)) = (req.identity.viewer, req.identity.session) else {
        return Redirect::to("/login").into_response();
    };
    match req.flows.start_flow(&viewer, &session.0, &link_name, q.ticket.as_deref(), q.n.as_deref()).await {
        Ok(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url), (header::CACHE_CONTROL, "no-store".into())])
            .into_response(),
        Err(e) => error_page(&req.origin, &link_name, e),
    }
}
