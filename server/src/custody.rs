//! Where a secret may be sent. A grant's tokens (or API key, or Basic password) and a service's
//! client secret are entrusted to the endpoints the service had when they were given: the
//! authorise, token, refresh and revoke URLs, the API base URLs, the authentication type and the
//! OAuth client. This module names that set (its [`Custody`] fingerprint, recorded on every grant)
//! and decides, for the callback, the refresh, the revoke and the scripts' API alike, whether a
//! secret may go to the endpoints a service has now. A service whose endpoints moved gets none of
//! the secrets given under the old ones: the service's client secret must be entered again, and
//! the grants are dropped here, never sent anywhere.

use crate::services::Resolved;
use crate::store::connections::ConnectionRecord;
use app::service::ServiceSpec;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Why a connection needs a new authorisation after its service's endpoints changed.
pub const MOVED_REASON: &str = "The service's endpoints or OAuth client changed, so the old authorisation was set \
                                aside without being sent anywhere. Connect it again.";

/// The message on the client secret field when an edit moves endpoints without it.
pub const SECRET_AGAIN: &str = "The service's endpoints or client ID changed: enter the client secret again. \
                                Liaison sends a secret only to the endpoints it was entrusted with.";

/// The fingerprint of the endpoints a secret is entrusted to (hex SHA-256 of their canonical form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custody(String);

impl Custody {
    /// The endpoints of `spec` with the OAuth client `client_id` (if any).
    pub fn of(spec: &ServiceSpec, client_id: Option<&str>) -> Custody {
        let url = |u: Option<&app::service::ServiceUrl>| u.map(|u| u.as_str().to_string());
        let mut bases: Vec<String> = spec.api_base_urls.iter().map(|u| u.as_str().to_string()).collect();
        bases.sort();
        bases.dedup();
        // JSON of a fixed shape: unambiguous, whatever the URLs contain.
        let canonical = serde_json::json!([
            1,
            spec.auth_type,
            url(spec.authorize_url.as_ref()),
            url(spec.token_url.as_ref()),
            url(spec.refresh_url()),
            url(spec.revoke_url.as_ref()),
            bases,
            client_id,
        ]);
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        Custody(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The endpoints a connection's secrets may go to now: its service's, with its OAuth client
    /// (its own, else the service's, whose custody `Resolved` worked out once).
    pub fn of_connection<'a>(c: &ConnectionRecord, resolved: &'a Resolved) -> Cow<'a, Custody> {
        match c.client_id.as_deref() {
            Some(own) => Cow::Owned(Custody::of(&resolved.spec, Some(own))),
            None => Cow::Borrowed(&resolved.custody),
        }
    }

    /// Restores a fingerprint read from the database.
    pub fn stored(text: String) -> Custody {
        Custody(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a grant recorded under `recorded` may be used with these endpoints. Grants from
    /// before fingerprints were recorded (none) are taken as made under the endpoints of today.
    pub fn entrusts(&self, recorded: Option<&str>) -> bool {
        recorded.is_none_or(|r| r == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::service::{ServiceForm, ServiceUrl};

    fn spec() -> ServiceSpec {
        let form = ServiceForm {
            name: "Acme".into(),
            auth_type: "oauth2".into(),
            grant_type: "authorization_code".into(),
            client_id: "acme-client".into(),
            client_secret: app::model::Password::new("s3cret"),
            authorize_url: "https://id.acme.example/authorize".into(),
            token_url: "https://id.acme.example/token".into(),
            revoke_url: "https://id.acme.example/revoke".into(),
            api_base_urls: vec!["https://api.acme.example/v1/".into(), "https://eu.acme.example/".into()],
            ..ServiceForm::default()
        };
        form.parse(false, false).map(|p| p.spec).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn url(s: &str) -> ServiceUrl {
        ServiceUrl::parse(s, false).unwrap()
    }

    #[test]
    fn any_moved_endpoint_or_client_changes_the_custody() {
        let base = Custody::of(&spec(), Some("acme-client"));
        assert_eq!(base, Custody::of(&spec(), Some("acme-client")), "stable");
        let mut renamed = spec();
        renamed.name = "Acme (renamed)".into();
        renamed.scopes.push(app::service::Scope { name: "extra".into(), display: "Extra".into() });
        renamed.header_prefix = "Token".into();
        assert_eq!(Custody::of(&renamed, Some("acme-client")), base, "no endpoint moved");
        let mut reordered = spec();
        reordered.api_base_urls.reverse();
        assert_eq!(Custody::of(&reordered, Some("acme-client")), base, "the base URLs are a set");

        let moves: Vec<(&str, Box<dyn Fn(&mut ServiceSpec)>)> = vec![
            ("authorize", Box::new(|s| s.authorize_url = Some(url("https://evil.example/authorize")))),
            ("token", Box::new(|s| s.token_url = Some(url("https://evil.example/token")))),
            ("refresh", Box::new(|s| s.refresh_url = Some(url("https://evil.example/refresh")))),
            ("revoke", Box::new(|s| s.revoke_url = Some(url("https://evil.example/revoke")))),
            ("no revoke", Box::new(|s| s.revoke_url = None)),
            ("api base", Box::new(|s| s.api_base_urls.push(url("https://evil.example/")))),
            ("auth type", Box::new(|s| s.auth_type = app::service::AuthType::ApiKey)),
        ];
        for (what, change) in moves {
            let mut s = spec();
            change(&mut s);
            assert_ne!(Custody::of(&s, Some("acme-client")), base, "{what}");
        }
        assert_ne!(Custody::of(&spec(), Some("another-client")), base, "client");
        assert_ne!(Custody::of(&spec(), None), base, "no client");
    }

    #[test]
    fn a_grant_is_entrusted_only_to_the_endpoints_it_was_made_under() {
        let now = Custody::of(&spec(), Some("acme-client"));
        let mut moved = spec();
        moved.token_url = Some(url("https://evil.example/token"));
        let then = Custody::of(&moved, Some("acme-client"));
        assert!(now.entrusts(Some(now.as_str())));
        assert!(!now.entrusts(Some(then.as_str())));
        assert!(now.entrusts(None), "grants from before fingerprints");
        assert_eq!(Custody::stored(now.as_str().to_string()), now);
    }
}
