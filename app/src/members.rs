//! The organisation's people as an admin sees them (Settings › Developer Space › Members): who
//! they are, how many sign-in sessions they have open, and their API tokens (never the values).

use crate::model::Role;
use crate::tokens::ApiTokenView;
use serde::{Deserialize, Serialize};

/// One person of the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Sign-in sessions that have not expired (browsers, embedded consoles).
    pub active_sessions: i64,
    /// Their API tokens, newest first, revoked and expired ones included.
    pub tokens: Vec<ApiTokenView>,
    /// The admin looking at the list: they cannot remove themselves.
    pub is_you: bool,
}
