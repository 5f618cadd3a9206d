//! The end of an authorisation: the provider's answer on `/oauth/callback/{service key}`, checked
//! against the flow it names (state, browser session, expiry, the service's own callback path);
//! the code handed to `Credentials`, which exchanges it and stores the tokens only if the
//! service's endpoints are still those the flow started under; and how the flow ended, for the
//! page that polls it.

use super::page::{error_page, page};
use super::request::FlowRequest;
use super::{check_ticket, clean, code_name, flow_error, Flows};
use crate::actor::Actor;
use crate::credentials::Authorised;
use crate::error::{Error, Result};
use crate::store::{connections as conns, flows};
use app::connection::FlowStatus;
use app::error::ErrorCode;
use app::model::Viewer;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;

/// The query of the callback, as the provider sent it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub async fn callback(req: FlowRequest, Path(key): Path<String>, Query(q): Query<CallbackQuery>) -> Response {
    let session = req.identity.session.as_ref().map(|s| s.0.as_str());
    match req.flows.finish_flow(&key, &q, session).await {
        Ok(status @ FlowStatus::Connected { .. }) => page(StatusCode::OK, &req.origin, &status),
        Ok(status) => page(StatusCode::BAD_REQUEST, &req.origin, &status),
        Err(e) => error_page(&req.origin, "", e),
    }
}

impl Flows {
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
        let flow = flows::by_state(&self.infra.store.pool, &crate::auth::session::token_hash(state))
            .await?
            .ok_or_else(|| {
                flow_error("This authorisation is unknown or already finished. Start again from the Connections page.")
            })?;
        if session_hash != Some(flow.session_hash.as_str()) {
            return Err(flow_error(
                "This authorisation was started in another browser session. Start again from this browser.",
            )
            .into());
        }
        let now = self.infra.clock.now_ms();
        if !flows::claim(&self.infra.store.pool, flow.id, now).await? {
            return Err(
                flow_error("This authorisation was already used. Start again from the Connections page.").into()
            );
        }
        let c = conns::by_id(&self.infra.store.pool, flow.org_id, flow.connection_id)
            .await?
            .ok_or_else(|| flow_error("The connection was deleted while it was being authorised."))?;
        let (link, flow_id) = (&c.link_name, flow.id);
        let fail = |code: ErrorCode, message: String| async move {
            flows::finish(&self.infra.store.pool, flow_id, code_name(code), Some(&message)).await?;
            crate::metrics::flow(crate::metrics::Flow::Failed);
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
        let user = crate::store::users::name_of(&self.infra.store.pool, flow.org_id, flow.user_id).await?;
        let actor = Actor { org_id: flow.org_id, user_id: Some(flow.user_id), label: user };
        match self.credentials.authorise_with_code(&actor, &c, &resolved, &flow, code, &redirect_uri).await? {
            Authorised::Connected => {
                flows::finish(&self.infra.store.pool, flow.id, "connected", None).await?;
                crate::metrics::flow(crate::metrics::Flow::Finished);
                Ok(FlowStatus::Connected { link_name: c.link_name.clone() })
            }
            Authorised::Refused(refusal) => fail(refusal.code, refusal.message).await,
            Authorised::Moved => fail(ErrorCode::FlowInvalid, crate::custody::MOVED_REASON.into()).await,
        }
    }

    /// How the flow with this ticket ended, for the page that started it (same session only).
    pub async fn flow_status(&self, viewer: &Viewer, session_hash: &str, ticket: &str) -> Result<FlowStatus> {
        check_ticket(ticket)?;
        // No flow of this session with this ticket: its popup has not reached /oauth/start yet
        // (or never will: the page stops waiting when the popup closes). Another session's or
        // organisation's ticket reads the same, so nothing of its flow shows.
        let Some(flow) = flows::by_ticket(&self.infra.store.pool, viewer.org_id, ticket)
            .await?
            .filter(|f| f.session_hash == session_hash)
        else {
            return Ok(FlowStatus::Pending);
        };
        let link = conns::by_id(&self.infra.store.pool, viewer.org_id, flow.connection_id)
            .await?
            .map(|c| c.link_name)
            .unwrap_or_default();
        let now = self.infra.clock.now_ms();
        // A claimed flow finishes within the outbound time limit; one that has not by then was cut
        // off (its server died in the middle of the code exchange), and nothing of it was saved.
        let limit = i64::try_from(self.infra.outbound.config().timeout.as_millis()).unwrap_or(i64::MAX);
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
