//! Who acts, and what they may do with a connection: a signed-in person or an integration (the
//! admin API); members see every connection of their organisation, its creator and admins manage
//! it, internal connections are managed only through the admin API; the grant a person uses.

use crate::error::{Error, Result};
use crate::store::connections::ConnectionRecord;
use app::connection::LinkName;
use app::error::{AppError, ErrorCode};
use app::model::{Role, Viewer};

/// Who acts: a signed-in person, or an integration through the admin API.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: i64,
    pub user_id: Option<i64>,
    pub label: String,
}

impl From<&Viewer> for Actor {
    fn from(v: &Viewer) -> Self {
        Actor { org_id: v.org_id, user_id: Some(v.user_id), label: v.email.clone() }
    }
}

/// Only admins may `what` ("create, change or delete custom services").
pub fn require_admin(viewer: &Viewer, what: &str) -> Result<()> {
    if viewer.role == Role::Admin {
        return Ok(());
    }
    Err(AppError::new(ErrorCode::Forbidden, format!("Only admins can {what}.")).into())
}

pub fn not_found() -> Error {
    AppError::new(ErrorCode::NotFound, "There is no connection with that link name in your organisation.").into()
}

pub fn internal_refused() -> Error {
    AppError::new(
        ErrorCode::Forbidden,
        "This is an internal connection: it is managed by the integration that created it and cannot be changed here.",
    )
    .into()
}

/// The creator and admins may manage a (non-internal) connection.
pub fn can_manage(viewer: &Viewer, c: &ConnectionRecord) -> bool {
    !c.internal && (viewer.role == Role::Admin || c.created_by == Some(viewer.user_id))
}

pub fn require_manage(viewer: &Viewer, c: &ConnectionRecord) -> Result<()> {
    if c.internal {
        return Err(internal_refused());
    }
    if !can_manage(viewer, c) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "Only the person who created this connection and admins can change it.",
        )
        .into());
    }
    Ok(())
}

/// The user key of the grant a person uses: their own for login-user connections, else shared.
pub fn user_key(c: &ConnectionRecord, user_id: Option<i64>) -> i64 {
    if c.per_user {
        user_id.unwrap_or(0)
    } else {
        0
    }
}

/// The link name a path segment names, or Not Found.
pub fn link_from_path(raw: &str) -> Result<LinkName> {
    LinkName::parse(raw).map_err(|_| not_found())
}

/// The connection of this organisation with this link name, or Not Found.
pub async fn connection(store: &crate::store::Store, org_id: i64, link_name: &str) -> Result<ConnectionRecord> {
    crate::store::connections::by_link(&store.pool, org_id, link_name).await?.ok_or_else(not_found)
}
