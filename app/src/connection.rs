//! Connections as the pages see them: link names, statuses, the forms that create and edit them,
//! and the views the server returns. No view carries a secret: secrets are "set / not set".

use crate::error::{quoted, FieldError};
use crate::model::{DisplayName, Password};
use crate::service::{AuthType, GrantType, Scope, ServiceForm, ServiceSpec};
use serde::{Deserialize, Serialize};

/// Longest link name accepted.
pub const MAX_LINK_NAME: usize = 64;

/// The name scripts use for a connection: lowercase letters, digits and `_`, starting with a
/// letter, at most 64 characters. Unique in the organisation and never changed once created.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinkName(String);

impl LinkName {
    pub fn parse(raw: &str) -> Result<LinkName, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a link name: scripts use it to call this connection.".into());
        }
        if s.chars().count() > MAX_LINK_NAME {
            return Err(format!("A link name has at most {MAX_LINK_NAME} characters."));
        }
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err("Use lowercase letters, digits and _ only.".into());
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err("Start the link name with a letter.".into());
        }
        Ok(LinkName(s.to_string()))
    }

    /// A link name made from a display name: "Google Drive (sales)" → `google_drive_sales`.
    pub fn derive(name: &str) -> String {
        let mut out = String::new();
        for c in name.trim().chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        let out = out.trim_end_matches('_');
        let mut out: String = out.chars().take(MAX_LINK_NAME).collect();
        if out.starts_with(|c: char| c.is_ascii_digit()) {
            out = format!("c_{out}").chars().take(MAX_LINK_NAME).collect();
        }
        out.trim_end_matches('_').to_string()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LinkName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! status {
    ($($variant:ident = $text:literal, $label:literal;)+) => {
        /// A connection's status, always shown as a badge.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ConnectionStatus {
            $(#[serde(rename = $text)] $variant),+
        }

        impl ConnectionStatus {
            pub const ALL: &'static [ConnectionStatus] = &[$(ConnectionStatus::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $(ConnectionStatus::$variant => $text),+ }
            }
            /// The words on the badge.
            pub fn label(self) -> &'static str {
                match self { $(ConnectionStatus::$variant => $label),+ }
            }
            pub fn parse(s: &str) -> Option<ConnectionStatus> {
                match s { $($text => Some(ConnectionStatus::$variant),)+ _ => None }
            }
        }
    };
}

status! {
    NotConnected = "not_connected", "Not connected";
    Connected = "connected", "Connected";
    Revoked = "revoked", "Revoked";
    NeedsReauth = "needs_reauth", "Needs re-authorisation";
    Error = "error", "Error";
}

/// Which service a connection uses: a catalogue entry (by id) or a custom service (by id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum ServiceRef {
    Predefined(String),
    Custom(i64),
}

/// A service as the Pick Your Service screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub service: ServiceRef,
    pub name: String,
    pub auth_type: AuthType,
    pub grant_type: Option<GrantType>,
    pub scopes: Vec<Scope>,
    /// The connection form must ask for a client ID and secret (a predefined service without an
    /// operator-configured client).
    pub needs_client: bool,
    /// The redirect URI to register with the provider.
    pub callback_url: String,
}

/// A custom service as its edit form shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomServiceView {
    pub id: i64,
    pub spec: ServiceSpec,
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    pub callback_url: String,
    pub connections: i64,
}

impl CustomServiceView {
    pub fn form(&self) -> ServiceForm {
        ServiceForm::from_spec(&self.spec, self.client_id.as_deref())
    }
}

/// The callback key the server gave a Create New Service form, and the redirect URL it makes: the
/// form shows the URL before anything is typed, and carries the key back to create the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewServiceKey {
    pub key: String,
    pub callback_url: String,
}

/// What saving an edit of a custom service would cost: the connections whose authorisation it
/// ends (an edit that moves the service's endpoints or client; none otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditImpact {
    pub reauthorise: Vec<String>,
}

/// The New Connection form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionForm {
    pub name: String,
    pub link_name: String,
    pub service: Option<ServiceRef>,
    pub scopes: Vec<String>,
    pub per_user: bool,
    /// Predefined services without a configured client.
    pub client_id: String,
    pub client_secret: Password,
    /// API key services.
    pub api_key: Password,
    /// Basic services.
    pub username: String,
    pub password: Password,
}

/// The name and the link name of a new connection, parsed together.
pub fn parse_names(name: &str, link_name: &str) -> (Result<DisplayName, String>, Result<LinkName, String>) {
    let display = DisplayName::parse(name, "a name for the connection");
    let link =
        if link_name.trim().is_empty() { LinkName::parse(&LinkName::derive(name)) } else { LinkName::parse(link_name) };
    (display, link)
}

/// Checks requested scopes against the service's list (where it has one) and sorts out repeats.
pub fn parse_scopes(spec: &ServiceSpec, requested: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in requested.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) || s.len() > 200 {
            return Err(format!("{} is not a scope name.", quoted(s)));
        }
        if !spec.scopes.is_empty() && !spec.scopes.iter().any(|x| x.name == s) {
            return Err(format!("{} does not offer the scope {s}.", spec.name));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// Collects field messages.
#[derive(Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }
    pub fn check<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| self.add(field, m)).ok()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One row of the Connections list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRow {
    pub link_name: String,
    pub name: String,
    pub service: ServiceRef,
    pub service_name: String,
    pub status: ConnectionStatus,
    /// Why the status is Error or Needs re-authorisation, in words.
    pub status_reason: Option<String>,
    pub per_user: bool,
    pub internal: bool,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The viewer may edit, revoke and delete it (creator or admin; never internal rows).
    pub can_manage: bool,
}

/// What the list is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionQuery {
    pub internal: bool,
    pub search: String,
    pub status: Option<ConnectionStatus>,
    /// 0-based page.
    pub page: u32,
    pub per_page: u32,
}

/// A page of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionPage {
    pub rows: Vec<ConnectionRow>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// The credentials behind a connection, as far as a person may see them: who, when, which scopes,
/// the expiry; never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub authorised_by: String,
    pub authorised_at: i64,
    pub expires_at: Option<i64>,
    pub granted_scopes: Option<Vec<String>>,
    pub has_refresh_token: bool,
}

/// The connection details page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionDetails {
    pub row: ConnectionRow,
    pub auth_type: AuthType,
    pub grant_type: Option<GrantType>,
    /// The requested scopes with their display names.
    pub scopes: Vec<Scope>,
    /// The shared grant, or for login-user connections the viewer's own.
    pub grant: Option<GrantView>,
    /// Login-user connections: how many users have granted access.
    pub user_grants: i64,
    /// The connection form asked for a client (predefined service without a configured one).
    pub has_own_client: bool,
    /// Where scripts call the service through this connection (ends in `/`).
    pub proxy_url: String,
    /// The connection's metadata as indented JSON text; empty when none is set (`{}`).
    pub metadata: String,
}

/// What happens after Connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum ConnectOutcome {
    /// No browser step was needed: the connection is connected.
    Connected,
    /// Open this URL (Liaison's own start URL) in the authorisation popup.
    Authorize { start_url: String },
}

/// The result of an authorisation flow, for the page that opened the popup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FlowStatus {
    Pending,
    Connected { link_name: String },
    Failed { link_name: String, code: String, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_name_rules_and_messages() {
        assert_eq!(LinkName::parse(" crm_2 ").unwrap().as_str(), "crm_2");
        let cases = [
            ("", "Enter a link name: scripts use it to call this connection."),
            ("Google", "Use lowercase letters, digits and _ only."),
            ("google-drive", "Use lowercase letters, digits and _ only."),
            ("2drive", "Start the link name with a letter."),
            ("_x", "Start the link name with a letter."),
        ];
        for (raw, message) in cases {
            assert_eq!(LinkName::parse(raw).unwrap_err(), message, "{raw}");
        }
        assert_eq!(LinkName::parse(&"a".repeat(65)).unwrap_err(), "A link name has at most 64 characters.");
    }

    #[test]
    fn link_names_derive_from_display_names() {
        assert_eq!(LinkName::derive("Google Drive (Sales)"), "google_drive_sales");
        assert_eq!(LinkName::derive("  Zoho  CRM!! "), "zoho_crm");
        assert_eq!(LinkName::derive("365 Mail"), "c_365_mail");
        assert_eq!(LinkName::derive("Ünïcode"), "n_code");
        assert!(LinkName::parse(&LinkName::derive(&"Long name ".repeat(20))).is_ok());
        let (_, link) = parse_names("Sales CRM", "");
        assert_eq!(link.unwrap().as_str(), "sales_crm");
    }

    #[test]
    fn statuses_round_trip_and_have_labels() {
        for s in ConnectionStatus::ALL {
            assert_eq!(ConnectionStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(ConnectionStatus::NeedsReauth.label(), "Needs re-authorisation");
    }
}
