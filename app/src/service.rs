//! The vocabulary of services, shared by the catalogue, custom services and the UI: how a service
//! authenticates, how its credential travels, and the URL rules. Invalid values cannot be built.

use serde::{Deserialize, Serialize};

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
