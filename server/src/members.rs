//! Admins and the organisation's people: the list (open sessions, API tokens), revoking one of a
//! person's tokens, ending their sessions, and removing them. Admins only (403 `forbidden` for
//! members); a person of another organisation is not found (404), never told apart from one that
//! does not exist.
//!
//! Removing a person deletes their user row (not a "disabled" mark): every lookup of a session,
//! an API token or an authorisation in progress joins the users table, so nothing of theirs can
//! authenticate afterwards, and their email is free to be invited again. Their access dies first
//! (API tokens revoked, sessions ended, one transaction: the change stamp moves, so every instance
//! refuses the tokens from the next call on); then their own grants on login-user connections are
//! revoked at the provider where it has a revoke URL, and erased in the same transaction that
//! deletes the row, which also marks their email as removed from the organisation: a console
//! may not bring them back (`embed_provision_users`) until an admin adds them again. Connections
//! and services they created stay (created_by becomes NULL); shared grants they authorised stay
//! too: they belong to the organisation. Every step is audited.

use crate::actor::require_admin;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::store::{api_tokens, audit, connections as conns, members};
use crate::webhooks::{self, Event, EventType};
use app::error::{AppError, ErrorCode};
use app::members::MemberView;
use app::model::Viewer;
use std::collections::HashMap;
use std::sync::Arc;

/// What only admins may do here.
const ADMINS_ONLY: &str = "see and manage the organisation's members";

fn no_such_person() -> Error {
    AppError::new(ErrorCode::NotFound, "There is no such person in your organisation.").into()
}

/// Why a removed person's grants end, as their webhook events say.
const REMOVED: &str = "The person was removed from the organisation.";

/// The people of each organisation as its admins manage them.
pub struct Members {
    pub infra: Infra,
    /// A removed person's own grants are revoked at the provider.
    pub credentials: Arc<Credentials>,
}

impl Members {
    /// The person `user_id` of the viewer's organisation (admins only), and who acts on them, now,
    /// for the audit log.
    async fn person_for<'v>(&self, viewer: &'v Viewer, user_id: i64) -> Result<(members::Person, audit::By<'v>)> {
        require_admin(viewer, ADMINS_ONLY)?;
        let now = self.infra.clock.now_ms();
        let person =
            members::person(&self.infra.store.pool, viewer.org_id, user_id, now).await?.ok_or_else(no_such_person)?;
        Ok((person, audit::By::new(Some(viewer.org_id), &viewer.email, now)))
    }

    pub async fn list_members(&self, viewer: &Viewer) -> Result<Vec<MemberView>> {
        require_admin(viewer, ADMINS_ONLY)?;
        let now = self.infra.clock.now_ms();
        let people = members::list(&self.infra.store.pool, viewer.org_id, now).await?;
        let mut tokens: HashMap<i64, Vec<_>> = HashMap::new();
        for (user_id, t) in api_tokens::list_org(&self.infra.store.pool, viewer.org_id).await? {
            tokens.entry(user_id).or_default().push(app::tokens::ApiTokenView::from(t));
        }
        Ok(people
            .into_iter()
            .map(|p| MemberView {
                user_id: p.id,
                tokens: tokens.remove(&p.id).unwrap_or_default(),
                is_you: p.id == viewer.user_id,
                name: p.name,
                email: p.email,
                role: p.role,
                active_sessions: p.active_sessions,
            })
            .collect())
    }

    pub async fn revoke_member_token(&self, viewer: &Viewer, user_id: i64, token_id: i64) -> Result<()> {
        let (person, by) = self.person_for(viewer, user_id).await?;
        let mut tx = self.infra.store.begin().await?;
        if !api_tokens::revoke(&mut *tx, viewer.org_id, person.id, token_id, by.at).await? {
            return Err(AppError::new(ErrorCode::NotFound, "This person has no live API token with that id.").into());
        }
        let detail = format!("token {token_id}, by an admin");
        by.record(&mut *tx, "api_token.revoke", &person.email, Some(&detail)).await?;
        tx.commit().await?;
        tracing::info!(user_id = person.id, token_id, "an admin revoked an API token");
        Ok(())
    }

    pub async fn end_member_sessions(&self, viewer: &Viewer, user_id: i64) -> Result<()> {
        let (person, by) = self.person_for(viewer, user_id).await?;
        let mut tx = self.infra.store.begin().await?;
        let ended = members::end_sessions(&mut *tx, viewer.org_id, person.id).await?;
        by.record(&mut *tx, "member.end_sessions", &person.email, Some(&format!("{ended} session(s)"))).await?;
        tx.commit().await?;
        tracing::info!(user_id = person.id, ended, "an admin ended a person's sessions");
        Ok(())
    }

    pub async fn remove_member(&self, viewer: &Viewer, user_id: i64) -> Result<()> {
        let (person, by) = self.person_for(viewer, user_id).await?;
        if person.id == viewer.user_id {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "You cannot remove yourself. Another admin can remove you.",
            )
            .into());
        }
        let org = viewer.org_id;
        // First their access: nothing of theirs works from the next request on, whatever follows.
        let mut tx = self.infra.store.begin().await?;
        let tokens = members::revoke_tokens(&mut *tx, org, person.id, by.at).await?;
        let sessions = members::end_sessions(&mut *tx, org, person.id).await?;
        let detail = format!("{tokens} API token(s) revoked, {sessions} session(s) ended");
        by.record(&mut *tx, "member.remove_access", &person.email, Some(&detail)).await?;
        tx.commit().await?;
        // Their own grants, revoked at the provider (a failure there is logged and audited, and
        // does not keep the grant: it is erased below all the same).
        for id in members::connections_with_own_grant(&self.infra.store.pool, org, person.id).await? {
            if let Some(c) = conns::by_id(&self.infra.store.pool, org, id).await? {
                // Best effort: a service that cannot be resolved or opened now must not leave the
                // removal half done (their access is already cut; the grant is erased below).
                if let Err(e) = self.credentials.revoke_user_grant(&c, person.id, &viewer.email).await {
                    tracing::warn!(link_name = %c.link_name, error = %e, "a removed person's grant could not be revoked at the provider");
                }
            }
        }
        let by = audit::By { at: self.infra.clock.now_ms(), ..by };
        let mut tx = self.infra.store.begin().await?;
        for id in members::connections_with_own_grant(&mut *tx, org, person.id).await? {
            if let Some(c) = conns::by_id(&mut *tx, org, id).await? {
                let event = Event::new(EventType::GrantRemoved, &c, Some(c.status), &viewer.email).of_user(person.id);
                webhooks::event::record(&mut tx, event.because(Some(REMOVED)), by.at).await?;
            }
        }
        let grants = members::erase_own_grants(&mut *tx, org, person.id).await?;
        if !members::delete(&mut *tx, org, person.id).await? {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "This person is the organisation's last admin: make someone else an admin first.",
            )
            .into());
        }
        // A console allowed to bring people Liaison does not know must not bring them back.
        members::mark_removed(&mut *tx, org, &person.email, by.at).await?;
        let detail = format!("{grants} login-user grant(s) erased");
        by.record(&mut *tx, "member.remove", &person.email, Some(&detail)).await?;
        tx.commit().await?;
        tracing::info!(user_id = person.id, grants, tokens, sessions, "an admin removed a person");
        Ok(())
    }
}
