//! The vocabulary of services, shared by the catalogue, custom services and the UI: how a service
//! authenticates, how its credential travels, and the URL rules. Invalid values cannot be built.

use crate::error::{quoted, FieldError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

macro_rules! choice {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Every accepted spelling, for messages.
            pub fn names() -> Vec<&'static str> {
                vec![$($text),+]
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

choice!(
    /// How Liaison authenticates to the service.
    AuthType { OAuth2 = "oauth2", ApiKey = "api_key", Basic = "basic" }
);
choice!(
    /// The OAuth 2.0 grant used to obtain tokens.
    GrantType { AuthorizationCode = "authorization_code", ClientCredentials = "client_credentials" }
);
choice!(
    /// How the service wants scopes joined in the authorise URL.
    ScopeDelimiter { Space = "space", Comma = "comma", Plus = "plus" }
);
choice!(
    /// Where the credential is put on API calls.
    ParamType { Header = "header", Query = "query" }
);
choice!(
    /// How the client authenticates at the token endpoint.
    ClientAuth { Header = "header", Body = "body" }
);
choice!(
    /// How the token request body is encoded.
    TokenRequest { Form = "form", Json = "json" }
);

impl ScopeDelimiter {
    pub fn join<'a>(self, scopes: impl IntoIterator<Item = &'a str>) -> String {
        let sep = match self {
            ScopeDelimiter::Space => " ",
            ScopeDelimiter::Comma => ",",
            ScopeDelimiter::Plus => "+",
        };
        scopes.into_iter().collect::<Vec<_>>().join(sep)
    }
}

/// An absolute https URL (http only where the operator allows it) with a host, no user name or
/// password, and no fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceUrl(String);

impl ServiceUrl {
    pub fn parse(raw: &str, allow_http: bool) -> Result<ServiceUrl, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a URL.".into());
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err("Enter a full URL starting with https://.".into());
        };
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if allow_http => {}
            "http" => return Err("Use https://; plain http is not allowed here.".into()),
            _ => return Err("Enter a full URL starting with https://.".into()),
        }
        if s.contains('#') {
            return Err("A URL here cannot have a fragment (#…).".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("A URL cannot contain spaces.".into());
        }
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("A URL here cannot contain a user name or password.".into());
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((h, after)) => (h, after.strip_prefix(':')),
                None => ("", None),
            },
            None => match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        if host.is_empty() || host.starts_with('.') {
            return Err("The URL has no host name.".into());
        }
        if let Some(port) = port {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err("The port after the host name must be a number from 1 to 65535.".into());
            }
        }
        Ok(ServiceUrl(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A scope and the words a person sees for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub name: String,
    pub display: String,
}

/// Everything Liaison needs to know about a service, except its OAuth client secret: the shape
/// shared by catalogue entries and custom services. Built only by parsing (the catalogue loader or
/// [`ServiceForm::parse`]), so every field holds a valid value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    pub auth_type: AuthType,
    /// OAuth 2.0 only.
    pub grant_type: Option<GrantType>,
    pub authorize_url: Option<ServiceUrl>,
    pub token_url: Option<ServiceUrl>,
    /// Where refreshing happens when it is not the token URL.
    pub refresh_url: Option<ServiceUrl>,
    pub revoke_url: Option<ServiceUrl>,
    /// The only places the credential may be sent.
    pub api_base_urls: Vec<ServiceUrl>,
    pub scope_delimiter: ScopeDelimiter,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub token_request: TokenRequest,
    pub param_type: ParamType,
    /// For header credentials: the header and the word before the credential (may be empty).
    pub header_name: String,
    pub header_prefix: String,
    /// For query credentials: the parameter name.
    pub query_param: Option<String>,
    /// The access token's place in the token response, as a path of keys.
    pub token_path: Vec<String>,
    /// The provider reports token errors with HTTP 200.
    pub error_in_200: bool,
    pub extra_authorize_params: BTreeMap<String, String>,
    pub extra_token_params: BTreeMap<String, String>,
    pub scopes: Vec<Scope>,
    /// API calls may carry encoded slashes (`%2F`, `%5C`) inside path segments, for services whose
    /// identifiers contain them. Off unless a catalogue entry says so; a path that climbs out of
    /// the API base path is refused either way.
    #[serde(default)]
    pub allow_encoded_slashes: bool,
    /// How many days a refresh token lasts unused before the provider lets it lapse (OAuth 2.0
    /// with the authorisation code only): Liaison refreshes an idle grant before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_idle_days: Option<u32>,
}

/// The longest refresh token idle lifetime a service may give, in days (ten years).
pub const MAX_REFRESH_IDLE_DAYS: u32 = 3650;

impl ServiceSpec {
    /// The URL used to refresh tokens.
    pub fn refresh_url(&self) -> Option<&ServiceUrl> {
        self.refresh_url.as_ref().or(self.token_url.as_ref())
    }

    /// Whether connecting needs the person's browser (the authorisation popup).
    pub fn needs_popup(&self) -> bool {
        self.auth_type == AuthType::OAuth2 && self.grant_type == Some(GrantType::AuthorizationCode)
    }

    /// The display name of a scope, or the scope itself.
    pub fn scope_display<'a>(&'a self, name: &'a str) -> &'a str {
        self.scopes.iter().find(|s| s.name == name).map(|s| s.display.as_str()).unwrap_or(name)
    }
}

/// Parameters Liaison sets itself: a service cannot override them.
pub const RESERVED_PARAMS: &[&str] = &[
    "client_id",
    "client_secret",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "response_type",
    "code",
    "grant_type",
    "code_verifier",
    "refresh_token",
];

/// A plain name: letters, digits, `-` and `_` (parameter names, header names, JSON keys).
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The custom-service form as typed. Enumerations travel as their text (`"oauth2"`, `"space"`…).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceForm {
    /// Create only: the callback key the form was given (`NewServiceKey`); none for a script's.
    pub callback_key: String,
    pub name: String,
    pub auth_type: String,
    pub grant_type: String,
    pub client_id: String,
    /// Empty when editing means "keep the secret already stored".
    pub client_secret: crate::model::Password,
    pub authorize_url: String,
    pub token_url: String,
    pub refresh_url: String,
    pub revoke_url: String,
    pub api_base_urls: Vec<String>,
    pub scopes: Vec<Scope>,
    pub scope_delimiter: String,
    pub pkce: bool,
    pub client_auth: String,
    pub token_request: String,
    pub param_type: String,
    pub header_name: String,
    pub header_prefix: String,
    pub query_param: String,
    pub token_path: String,
    pub error_in_200: bool,
    pub extra_authorize_params: Vec<(String, String)>,
    pub extra_token_params: Vec<(String, String)>,
    /// Days a refresh token lasts unused at the provider; empty when it does not say.
    pub refresh_idle_days: String,
}

/// A custom service's form, parsed.
#[derive(Debug, Clone)]
pub struct ParsedService {
    pub spec: ServiceSpec,
    /// OAuth 2.0: the client ID (required).
    pub client_id: Option<String>,
    /// `None` when the form left it empty.
    pub client_secret: Option<crate::model::Password>,
}

impl ServiceForm {
    /// Checks every field; on failure, one message per offending field. `allow_http` is the
    /// operator's setting for plain-http URLs. `has_secret` tells whether a client secret is
    /// already stored (editing), so an empty one is fine.
    pub fn parse(&self, allow_http: bool, has_secret: bool) -> Result<ParsedService, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| errors.push(FieldError { field: field.into(), message });
        let name = match crate::model::DisplayName::parse(&self.name, "the service's name") {
            Ok(n) => n.as_str().to_string(),
            Err(m) => {
                fail("name", m);
                String::new()
            }
        };
        let auth_type = AuthType::parse(self.auth_type.trim());
        if auth_type.is_none() {
            fail("auth_type", "Choose OAuth 2.0, API key or Basic.".into());
        }
        let oauth = auth_type == Some(AuthType::OAuth2);
        let grant_type = if oauth {
            let g = GrantType::parse(self.grant_type.trim());
            if g.is_none() {
                fail("grant_type", "Choose authorization code or client credentials.".into());
            }
            g
        } else {
            None
        };
        let mut url = |field: &str, raw: &str, required: Option<&str>| -> Option<ServiceUrl> {
            if raw.trim().is_empty() {
                if let Some(message) = required {
                    fail(field, message.into());
                }
                return None;
            }
            ServiceUrl::parse(raw, allow_http).map_err(|m| fail(field, m)).ok()
        };
        let code = grant_type == Some(GrantType::AuthorizationCode);
        let authorize_url = if code {
            url(
                "authorize_url",
                &self.authorize_url,
                Some("Enter the authorise URL from the provider's documentation."),
            )
        } else {
            None
        };
        let (token_url, refresh_url, revoke_url) = if oauth {
            (
                url(
                    "token_url",
                    &self.token_url,
                    Some("Enter the access token URL from the provider's documentation."),
                ),
                url("refresh_url", &self.refresh_url, None),
                url("revoke_url", &self.revoke_url, None),
            )
        } else {
            (None, None, None)
        };
        let mut api_base_urls = Vec::new();
        let typed: Vec<&str> = self.api_base_urls.iter().map(|u| u.trim()).filter(|u| !u.is_empty()).collect();
        if typed.is_empty() {
            fail("api_base_urls", "Enter at least one API base URL: Liaison sends the credential only there.".into());
        }
        for (i, raw) in typed.iter().enumerate() {
            match ServiceUrl::parse(raw, allow_http) {
                Ok(u) if api_base_urls.contains(&u) => fail("api_base_urls", format!("URL {} is listed twice.", i + 1)),
                Ok(u) => api_base_urls.push(u),
                Err(m) => fail("api_base_urls", format!("URL {}: {m}", i + 1)),
            }
        }
        let client_id = self.client_id.trim();
        let client_secret = Some(self.client_secret.clone()).filter(|s| !s.expose().is_empty());
        if oauth && client_id.is_empty() {
            fail("client_id", "Enter the client ID of the OAuth client you registered with the provider.".into());
        }
        if oauth && client_id.chars().any(|c| c.is_control()) {
            fail("client_id", "The client ID cannot contain control characters.".into());
        }
        if grant_type == Some(GrantType::ClientCredentials) && client_secret.is_none() && !has_secret {
            fail("client_secret", "Enter the client secret: the client credentials grant needs it.".into());
        }
        if client_secret.as_ref().is_some_and(|s| s.expose().chars().count() > 4096) {
            fail("client_secret", "The client secret is longer than 4096 characters.".into());
        }
        let choose = |raw: &str, default: &'static str| {
            if raw.trim().is_empty() {
                default.to_string()
            } else {
                raw.trim().to_string()
            }
        };
        let scope_delimiter = ScopeDelimiter::parse(&choose(&self.scope_delimiter, "space"));
        if scope_delimiter.is_none() {
            fail("scope_delimiter", "Choose how scopes are joined: space, comma or plus.".into());
        }
        let client_auth = ClientAuth::parse(&choose(&self.client_auth, "header"));
        if client_auth.is_none() {
            fail("client_auth", "Choose where the client authenticates: header (HTTP Basic) or body.".into());
        }
        let token_request = TokenRequest::parse(&choose(&self.token_request, "form"));
        if token_request.is_none() {
            fail("token_request", "Choose how token requests are encoded: form or JSON.".into());
        }
        let param_type = ParamType::parse(&choose(&self.param_type, "header"));
        if param_type.is_none() {
            fail("param_type", "Choose where the credential goes: a request header or a query parameter.".into());
        }
        let default_header = if auth_type == Some(AuthType::ApiKey) { "X-API-Key" } else { "Authorization" };
        let header_name = choose(&self.header_name, default_header);
        if !is_plain_name(&header_name) {
            fail("header_name", "Use a header name of letters, digits, - and _ only, e.g. X-API-Key.".into());
        }
        let header_prefix = match (auth_type, self.header_prefix.trim()) {
            (Some(AuthType::OAuth2), "") => "Bearer".to_string(),
            (_, p) => p.to_string(),
        };
        if header_prefix.chars().any(|c| c.is_whitespace() || c.is_control()) || header_prefix.len() > 50 {
            fail("header_prefix", "Use one word before the credential, e.g. Bearer, or leave it empty.".into());
        }
        let query_param = Some(self.query_param.trim().to_string()).filter(|q| !q.is_empty());
        match (param_type, &query_param) {
            (Some(ParamType::Query), None) => {
                fail("query_param", "Enter the query parameter that carries the credential, e.g. access_token.".into())
            }
            (_, Some(q)) if !is_plain_name(q) => {
                fail("query_param", "Use a parameter name of letters, digits, - and _ only.".into())
            }
            _ => {}
        }
        let token_path: Vec<String> = choose(&self.token_path, "access_token").split('.').map(str::to_string).collect();
        if token_path.iter().any(|k| !is_plain_name(k)) {
            fail("token_path", "Use key names separated by dots, e.g. authed_user.access_token.".into());
        }
        let mut scopes: Vec<Scope> = Vec::new();
        for s in &self.scopes {
            let name = s.name.trim();
            if name.is_empty() && s.display.trim().is_empty() {
                continue;
            }
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) || name.len() > 200 {
                fail("scopes", format!("{} is not a scope name: scope names have no spaces.", quoted(name)));
            } else if scopes.iter().any(|x| x.name == name) {
                fail("scopes", format!("The scope {name} is listed twice."));
            } else {
                let display = if s.display.trim().is_empty() { name } else { s.display.trim() };
                scopes.push(Scope { name: name.into(), display: display.into() });
            }
        }
        let mut params = |field: &str, pairs: &[(String, String)]| {
            let mut map = BTreeMap::new();
            for (k, v) in pairs {
                let k = k.trim();
                if k.is_empty() && v.trim().is_empty() {
                    continue;
                }
                if !is_plain_name(k) {
                    fail(field, format!("{} is not a parameter name: use letters, digits, - and _.", quoted(k)));
                } else if RESERVED_PARAMS.contains(&k) {
                    fail(field, format!("{k} is set by Liaison itself and cannot be overridden."));
                } else if map.insert(k.to_string(), v.trim().to_string()).is_some() {
                    fail(field, format!("The parameter {k} is listed twice."));
                }
            }
            map
        };
        let extra_authorize_params = params("extra_authorize_params", &self.extra_authorize_params);
        let extra_token_params = params("extra_token_params", &self.extra_token_params);
        let refresh_idle_days = match self.refresh_idle_days.trim() {
            "" => None,
            days => match days.parse::<u32>() {
                Ok(n) if (1..=MAX_REFRESH_IDLE_DAYS).contains(&n) => {
                    if grant_type != Some(GrantType::AuthorizationCode) {
                        fail(
                            "refresh_idle_days",
                            "Only an OAuth 2.0 service with the authorisation code has refresh tokens that lapse."
                                .into(),
                        );
                    }
                    Some(n)
                }
                _ => {
                    fail(
                        "refresh_idle_days",
                        format!("Enter a number of days from 1 to {MAX_REFRESH_IDLE_DAYS}, or leave it empty."),
                    );
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some(auth_type), Some(scope_delimiter), Some(client_auth), Some(token_request), Some(param_type)) =
            (auth_type, scope_delimiter, client_auth, token_request, param_type)
        else {
            return Err(errors);
        };
        Ok(ParsedService {
            spec: ServiceSpec {
                name,
                auth_type,
                grant_type,
                authorize_url,
                token_url,
                refresh_url,
                revoke_url,
                api_base_urls,
                scope_delimiter,
                pkce: code && self.pkce,
                client_auth,
                token_request,
                param_type,
                header_name,
                header_prefix,
                query_param,
                token_path,
                error_in_200: self.error_in_200,
                extra_authorize_params,
                extra_token_params,
                scopes,
                allow_encoded_slashes: false,
                refresh_idle_days,
            },
            client_id: Some(client_id.to_string()).filter(|c| oauth && !c.is_empty()),
            client_secret: client_secret.filter(|_| oauth),
        })
    }

    /// The form that edits an existing service (the secret left empty: "keep it").
    pub fn from_spec(spec: &ServiceSpec, client_id: Option<&str>) -> ServiceForm {
        let text = |u: &Option<ServiceUrl>| u.as_ref().map(|u| u.as_str().to_string()).unwrap_or_default();
        ServiceForm {
            callback_key: String::new(),
            name: spec.name.clone(),
            auth_type: spec.auth_type.as_str().into(),
            grant_type: spec.grant_type.map(|g| g.as_str().to_string()).unwrap_or_default(),
            client_id: client_id.unwrap_or_default().into(),
            client_secret: crate::model::Password::default(),
            authorize_url: text(&spec.authorize_url),
            token_url: text(&spec.token_url),
            refresh_url: text(&spec.refresh_url),
            revoke_url: text(&spec.revoke_url),
            api_base_urls: spec.api_base_urls.iter().map(|u| u.as_str().to_string()).collect(),
            scopes: spec.scopes.clone(),
            scope_delimiter: spec.scope_delimiter.as_str().into(),
            pkce: spec.pkce,
            client_auth: spec.client_auth.as_str().into(),
            token_request: spec.token_request.as_str().into(),
            param_type: spec.param_type.as_str().into(),
            header_name: spec.header_name.clone(),
            header_prefix: spec.header_prefix.clone(),
            query_param: spec.query_param.clone().unwrap_or_default(),
            token_path: spec.token_path.join("."),
            error_in_200: spec.error_in_200,
            extra_authorize_params: spec.extra_authorize_params.clone().into_iter().collect(),
            extra_token_params: spec.extra_token_params.clone().into_iter().collect(),
            refresh_idle_days: spec.refresh_idle_days.map(|d| d.to_string()).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod form_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_round_trip_through_their_text() {
        for d in ScopeDelimiter::ALL {
            assert_eq!(ScopeDelimiter::parse(d.as_str()), Some(*d));
        }
        assert_eq!(AuthType::parse("oauth2"), Some(AuthType::OAuth2));
        assert_eq!(GrantType::parse("password"), None);
    }

    #[test]
    fn scopes_are_joined_by_the_delimiter() {
        let scopes = ["a", "b", "c"];
        assert_eq!(ScopeDelimiter::Space.join(scopes), "a b c");
        assert_eq!(ScopeDelimiter::Comma.join(scopes), "a,b,c");
        assert_eq!(ScopeDelimiter::Plus.join(scopes), "a+b+c");
    }

    #[test]
    fn url_rules_and_messages() {
        assert!(ServiceUrl::parse("https://accounts.google.com/o/oauth2/v2/auth", false).is_ok());
        assert!(ServiceUrl::parse("https://api.example.com:8443/v1?x=1", false).is_ok());
        assert!(ServiceUrl::parse("http://127.0.0.1:9000/token", true).is_ok());
        assert!(ServiceUrl::parse("https://[::1]:8443/token", false).is_ok());
        let cases = [
            ("", "Enter a URL."),
            ("accounts.google.com/auth", "Enter a full URL starting with https://."),
            ("ftp://example.com", "Enter a full URL starting with https://."),
            ("http://example.com", "Use https://; plain http is not allowed here."),
            ("https://example.com/a#b", "A URL here cannot have a fragment (#…)."),
            ("https://user:pw@example.com", "A URL here cannot contain a user name or password."),
            ("https://exa mple.com", "A URL cannot contain spaces."),
            ("https:///path", "The URL has no host name."),
            ("https://example.com:http/x", "The port after the host name must be a number from 1 to 65535."),
            ("https://example.com:0", "The port after the host name must be a number from 1 to 65535."),
        ];
        for (url, message) in cases {
            assert_eq!(ServiceUrl::parse(url, false).unwrap_err(), message, "{url}");
        }
    }
}
