//! The one-time start of an authorisation popup. The Connect call (and create-and-connect) issues
//! a random nonce for this browser session, this person and this connection, valid a few minutes,
//! and answers `/oauth/start/<link>?n=<nonce>`; `/oauth/start` consumes it before it starts a flow.
//! A bare start link, one sent to someone else, one opened a second time or too late starts
//! nothing: the popup says to start again from the Connections page.

use super::Flows;
use crate::error::Result;
use crate::store::connections::ConnectionRecord;
use crate::store::starts::{self, Start};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;

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
        let nonce = crate::auth::session::new_token();
        let now = self.infra.clock.now_ms();
        starts::prune(&self.infra.store.pool, now).await?;
        let start = Start {
            session_hash: session_hash.to_string(),
            user_id,
            connection_id: c.id,
            expires_at: now + START_TTL_MS,
        };
        starts::issue(&self.infra.store.pool, &crate::auth::session::token_hash(&nonce), &start).await?;
        Ok(format!("{}?n={nonce}", bare_url(&c.link_name)))
    }

    /// Consumes the nonce of a start link: it must have been issued to this session, this person
    /// and this connection, and not have expired. Presented once, it is gone, whatever the outcome.
    pub async fn take_start(
        &self,
        viewer: &Viewer,
        session_hash: &str,
        connection_id: i64,
        nonce: Option<&str>,
    ) -> Result<()> {
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
        Ok(())
    }
}
