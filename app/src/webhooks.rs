//! Webhooks as the page and the admin API show them: an organisation's endpoints (never their
//! signing secret, which is shown once, when it is made), and the log of delivery attempts.

use serde::{Deserialize, Serialize};

/// An endpoint, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
    /// Until when the secret before the last rotation still signs too.
    pub previous_secret_until: Option<i64>,
}

/// A new (or rotated) endpoint's signing secret: the only time it is shown (its `Debug` does not
/// print it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEndpointSecret {
    pub endpoint: EndpointView,
    pub secret: String,
}

impl std::fmt::Debug for NewEndpointSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEndpointSecret").field("endpoint", &self.endpoint).field("secret", &"<redacted>").finish()
    }
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub attempt: i64,
    pub at: i64,
    /// The receiver's HTTP status; none when it could not be reached.
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub delivered: bool,
    /// Why it could not be reached (naming at most the host).
    pub error: Option<String>,
}
