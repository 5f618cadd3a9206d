//! Where a secret may be sent. A grant's tokens (or API key, or Basic password) and a service's
//! client secret are entrusted to the endpoints the service had when they were given: the
//! authorise, token, refresh and revoke URLs, the API base URLs, the authentication type, the
//! OAuth client, and where the credential is placed in a request ([`ENTRUSTING_FIELDS`]). This
//! module names that set (its [`Custody`] fingerprint, recorded on every grant and authorisation
//! in progress) and decides, for the callback, the refresh, the revoke and the scripts' API alike,
//! whether a secret may go to the endpoints a service has now. A service whose endpoints moved gets none of
//! the secrets given under the old ones: the service's client secret must be entered again, and
//! the grants are dropped here, never sent anywhere.

use app::service::ServiceSpec;
use sha2::{Digest, Sha256};

/// Why a connection needs a new authorisation after its service's endpoints changed.
pub const MOVED_REASON: &str = "The service's endpoints or OAuth client changed, so the old authorisation was set \
                                aside without being sent anywhere. Connect it again.";

/// The message on the client secret field when an edit moves endpoints without it.
pub const SECRET_AGAIN: &str = "The service's endpoints or client ID changed: enter the client secret again. \
                                Liaison sends a secret only to the endpoints it was entrusted with.";

/// The fields of a service that decide where a secret goes and how it is placed in a request
/// (the URLs, the authentication type and grant, how the client authenticates, where the
/// credential is put in API calls, how token answers are read, the extra token parameters, and
/// whether paths may carry encoded slashes under the API base URLs).
pub const ENTRUSTING_FIELDS: &[&str] = &[
    "auth_type",
    "grant_type",
    "authorize_url",
    "token_url",
    "refresh_url",
    "revoke_url",
    "api_base_urls",
    "client_auth",
    "token_request",
    "param_type",
    "header_name",
    "header_prefix",
    "query_param",
    "token_path",
    "error_in_200",
    "extra_token_params",
    "allow_encoded_slashes",
];

/// The fields that change what a person sees or is asked for, never where a secret goes.
pub const HARMLESS_FIELDS: &[&str] =
    &["name", "scopes", "scope_delimiter", "pkce", "extra_authorize_params", "refresh_idle_days"];

/// The fingerprint of the endpoints a secret is entrusted to (hex SHA-256 of their canonical form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custody(String);

impl Custody {
    /// The entrusting fields of `spec` with the OAuth client `client_id` (if any).
    pub fn of(spec: &ServiceSpec, client_id: Option<&str>) -> Custody {
        let mut fields = match serde_json::to_value(spec) {
            Ok(serde_json::Value::Object(map)) => map,
            // A spec always serialises to an object; anything else entrusts nothing.
            _ => serde_json::Map::new(),
        };
        fields.retain(|k, _| ENTRUSTING_FIELDS.contains(&k.as_str()));
        // Refreshing at the token URL, said or left implicit, is the same endpoint.
        fields.insert("refresh_url".into(), serde_json::json!(spec.refresh_url()));
        let mut bases: Vec<&str> = spec.api_base_urls.iter().map(|u| u.as_str()).collect();
        bases.sort_unstable();
        bases.dedup();
        fields.insert("api_base_urls".into(), serde_json::json!(bases));
        // Keys in a fixed order (the list's), so the text is canonical whatever the map's order.
        let canonical: Vec<serde_json::Value> = ENTRUSTING_FIELDS
            .iter()
            .map(|k| fields.get(*k).cloned().unwrap_or(serde_json::Value::Null))
            .chain([serde_json::json!(client_id)])
            .collect();
        let digest = Sha256::digest(serde_json::Value::Array(canonical).to_string().as_bytes());
        Custody(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a grant recorded under `recorded` may be used with these endpoints. A grant with no
    /// record (made before Liaison kept them, and not yet stamped at start) is not.
    pub fn entrusts(&self, recorded: Option<&str>) -> bool {
        recorded == Some(self.0.as_str())
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
            refresh_idle_days: "30".into(),
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
        renamed.pkce = !renamed.pkce;
        renamed.scope_delimiter = app::service::ScopeDelimiter::Comma;
        renamed.refresh_idle_days = Some(90);
        assert_eq!(Custody::of(&renamed, Some("acme-client")), base, "no endpoint moved");
        let mut reordered = spec();
        reordered.api_base_urls.reverse();
        assert_eq!(Custody::of(&reordered, Some("acme-client")), base, "the base URLs are a set");
        let mut explicit = spec();
        explicit.refresh_url = explicit.token_url.clone();
        assert_eq!(Custody::of(&explicit, Some("acme-client")), base, "refreshing at the token URL, said or not");

        type Move = Box<dyn Fn(&mut ServiceSpec)>;
        let moves: Vec<(&str, Move)> = vec![
            ("authorize", Box::new(|s| s.authorize_url = Some(url("https://evil.example/authorize")))),
            ("token", Box::new(|s| s.token_url = Some(url("https://evil.example/token")))),
            ("refresh", Box::new(|s| s.refresh_url = Some(url("https://evil.example/refresh")))),
            ("revoke", Box::new(|s| s.revoke_url = Some(url("https://evil.example/revoke")))),
            ("no revoke", Box::new(|s| s.revoke_url = None)),
            ("api base", Box::new(|s| s.api_base_urls.push(url("https://evil.example/")))),
            ("auth type", Box::new(|s| s.auth_type = app::service::AuthType::ApiKey)),
            ("into the query", Box::new(|s| s.param_type = app::service::ParamType::Query)),
            ("another header", Box::new(|s| s.header_name = "Origin".into())),
            ("header prefix", Box::new(|s| s.header_prefix = "Token".into())),
            ("token path", Box::new(|s| s.token_path = vec!["refresh_token".into()])),
            (
                "extra token parameter",
                Box::new(|s| {
                    s.extra_token_params.insert("audience".into(), "https://evil.example".into());
                }),
            ),
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
        assert!(!now.entrusts(None), "a grant with no record is entrusted to nothing");
    }

    #[test]
    fn every_field_of_a_service_is_classed_as_entrusting_or_harmless() {
        // A field added to ServiceSpec must be classed here before it ships: left out of the
        // fingerprint by mistake, changing it would move secrets without asking again.
        let serde_json::Value::Object(fields) = serde_json::to_value(spec()).unwrap() else { panic!("an object") };
        for key in fields.keys() {
            let entrusting = ENTRUSTING_FIELDS.contains(&key.as_str());
            let harmless = HARMLESS_FIELDS.contains(&key.as_str());
            assert!(entrusting ^ harmless, "class the ServiceSpec field `{key}` in custody.rs");
        }
        assert_eq!(fields.len(), ENTRUSTING_FIELDS.len() + HARMLESS_FIELDS.len(), "no stale name in the lists");
    }
}
