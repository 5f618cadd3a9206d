//! What an edit of a custom service would cost, worked out by the rule that decides it
//! (`crate::custody`): an edit that moves the service's endpoints, its client or where the
//! credential rides sets aside every grant of its connections, which then need a new
//! authorisation. The edit dialog asks before it saves; `update_service` applies the same rule.

use super::{not_found, require_admin, Services, ADMINS_ONLY};
use crate::custody::Custody;
use crate::error::Result;
use crate::store::services::{self, ServiceRow};
use app::connection::EditImpact;
use app::error::AppError;
use app::model::Viewer;
use app::service::{ParsedService, ServiceForm};

/// Whether saving `parsed` over `existing` moves the custody its grants were given under.
pub(super) fn moves(existing: &ServiceRow, parsed: &ParsedService) -> bool {
    Custody::of(&existing.spec, existing.client_id.as_deref()) != Custody::of(&parsed.spec, parsed.client_id.as_deref())
}

impl Services {
    /// The connections an edit would send back to Needs re-authorisation (none if it moves
    /// nothing), read-only (admins). A form with errors gets them, as `update_service` would.
    pub async fn edit_impact(&self, viewer: &Viewer, id: i64, form: &ServiceForm) -> Result<EditImpact> {
        require_admin(viewer, ADMINS_ONLY)?;
        let existing = services::get(&self.infra.store.pool, viewer.org_id, id).await?.ok_or_else(not_found)?;
        let parsed = form.parse(self.allow_http, existing.client_secret.is_some()).map_err(AppError::validation)?;
        let reauthorise = if moves(&existing, &parsed) {
            services::authorised_connections(&self.infra.store.pool, viewer.org_id, id).await?
        } else {
            Vec::new()
        };
        Ok(EditImpact { reauthorise })
    }
}
