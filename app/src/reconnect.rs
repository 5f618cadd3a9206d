//! Reconnect links as admins see them (a connection's details page and the admin API): who a link
//! is for, until when, and whether it was used or revoked. Never the link's token, which is shown
//! once, in [`NewReconnectLink`], when the link is made. And the one rule of where sign-in may
//! lead a person on to ([`after_sign_in`]: a reconnect link they opened signed out, nothing else).

use serde::{Deserialize, Serialize};

/// The shortest, default and longest validity of a link, in minutes.
pub const MIN_MINUTES: i64 = 10;
pub const DEFAULT_MINUTES: i64 = 24 * 60;
pub const MAX_MINUTES: i64 = 7 * 24 * 60;

/// A link, without its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconnectLinkView {
    pub id: i64,
    /// The connection's link name.
    pub link_name: String,
    pub user_id: i64,
    /// The email of the person it is for.
    pub person: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Where it stood when it was read.
    pub state: LinkState,
}

/// Where a link stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Usable,
    Used,
    Revoked,
    Expired,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Usable => "Not used yet",
            LinkState::Used => "Used",
            LinkState::Revoked => "Revoked",
            LinkState::Expired => "Expired",
        }
    }

    /// The state of a link used at `used_at`, revoked at `revoked_at`, expiring at `expires_at`,
    /// at `now_ms` (used or revoked first: those are final).
    pub fn of(used_at: Option<i64>, revoked_at: Option<i64>, expires_at: i64, now_ms: i64) -> LinkState {
        match (used_at, revoked_at) {
            (Some(_), _) => LinkState::Used,
            (None, Some(_)) => LinkState::Revoked,
            (None, None) if expires_at <= now_ms => LinkState::Expired,
            (None, None) => LinkState::Usable,
        }
    }
}

/// A new link: the only time its URL (which carries the token) is shown. Its `Debug` does not
/// print the URL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReconnectLink {
    #[serde(flatten)]
    pub link: ReconnectLinkView,
    pub url: String,
}

impl std::fmt::Debug for NewReconnectLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewReconnectLink").field("link", &self.link).field("url", &"<redacted>").finish()
    }
}

/// Whether `token` has the shape of a reconnect link's token as Liaison makes them (1 to 128
/// characters of the URL-safe base64 alphabet).
pub fn is_token(token: &str) -> bool {
    (1..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The one place sign-in may send a person on to, besides the Connections page: a reconnect link
/// they opened signed out (`/reconnect/<token>`, see [`is_token`]). Anything else (another site,
/// another path, an encoded slash) is `None`.
pub fn after_sign_in(next: &str) -> Option<&str> {
    next.strip_prefix("/reconnect/").is_some_and(is_token).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_used_or_revoked_link_stays_so_and_an_unused_one_expires() {
        assert_eq!(LinkState::of(None, None, 100, 99), LinkState::Usable);
        assert_eq!(LinkState::of(None, None, 100, 100), LinkState::Expired);
        assert_eq!(LinkState::of(Some(50), None, 100, 200), LinkState::Used);
        assert_eq!(LinkState::of(None, Some(50), 100, 200), LinkState::Revoked);
        assert_eq!(serde_json::to_string(&LinkState::Usable).unwrap(), "\"usable\"");
    }

    #[test]
    fn sign_in_leads_on_only_to_a_reconnect_link() {
        let token = "Ab0_-".repeat(8);
        let path = format!("/reconnect/{token}");
        assert_eq!(after_sign_in(&path), Some(path.as_str()));
        for bad in [
            "",
            "/reconnect/",
            "https://evil.example/reconnect/abc",
            "//evil.example/reconnect/abc",
            "/reconnect/abc/../../settings",
            "/reconnect/abc%2F..",
            "/reconnect/abc?x=1",
            "/reconnect/abc#x",
            "/reconnect/a.b",
            "/settings/developer-space/connections",
            "/\\evil.example",
            "/reconnect/\u{0430}bc",
        ] {
            assert_eq!(after_sign_in(bad), None, "{bad}");
        }
        assert_eq!(after_sign_in(&format!("/reconnect/{}", "a".repeat(129))), None);
    }

    #[test]
    fn the_debug_of_a_new_link_hides_its_url() {
        let link = ReconnectLinkView {
            id: 1,
            link_name: "crm".into(),
            user_id: 2,
            person: "bob@acme.example".into(),
            created_by: "ada@acme.example".into(),
            created_at: 0,
            expires_at: 1,
            used_at: None,
            revoked_at: None,
            state: LinkState::Usable,
        };
        let n = NewReconnectLink { link, url: "https://l.example/reconnect/SECRET".into() };
        assert!(!format!("{n:?}").contains("SECRET"));
    }
}
