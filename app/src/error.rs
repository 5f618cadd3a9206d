//! One serialisable error for everything the UI may be told. A closed set of stable codes and a
//! sentence a person can act on; never a formatted internal error, never a secret.

use serde::{Deserialize, Serialize};

/// Declares [`ErrorCode`] from one table: each code with its stable string (its serde name), its
/// HTTP status and when it is answered (its documentation, and the OpenAPI document's words).
macro_rules! error_codes {
    ($($(#[$attr:meta])* $variant:ident = $name:literal, $status:literal, $when:literal;)*) => {
        /// Every code Liaison answers with: the UI's server functions, the admin API and the
        /// scripts' API (`/api/v1`) share this one vocabulary. The strings are stable: scripts,
        /// the integration tests and the documentation rely on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[$attr])* #[doc = $when] #[serde(rename = $name)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The stable snake_case string (the same as its serde name).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The HTTP status that goes with the code.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// When the code is answered, in a few words (as the OpenAPI document says it).
            pub fn when(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $when,)*
                }
            }
        }
    };
}

error_codes! {
    // The UI's codes (server functions, the OAuth callback, the admin API).
    Validation = "validation", 422, "one or more form fields are invalid; see `fields`";
    InvalidCredentials = "invalid_credentials", 401,
        "sign-in failed: unknown email or wrong password (deliberately not told apart)";
    /// In the UI: the request needs a signed-in user.
    Unauthenticated = "unauthenticated", 401, "no API token, or one that is unknown, revoked or expired";
    Forbidden = "forbidden", 403, "signed in, but not allowed to do this";
    NotFound = "not_found", 404, "nothing of that name in this organisation";
    SetupComplete = "setup_complete", 409, "the first-run setup has already been completed";
    CrossOriginRefused = "cross_origin_refused", 403,
        "a state-changing request that did not come from Liaison's own pages";
    Conflict = "conflict", 409, "the request clashes with the current state (e.g. a service still in use)";
    ProviderError = "provider_error", 502,
        "the provider refused or failed (token exchange, client credentials, revoke); the message says what it answered, never a secret";
    /// The scripts' API answers the same string with 403: [`ErrorCode::ApiHostNotAllowed`].
    HostNotAllowed = "host_not_allowed", 502,
        "an outbound call to a private, loopback or link-local address the operator has not allowed";
    /// In the UI: the provider did not answer in time.
    UpstreamTimeout = "upstream_timeout", 504, "the service did not answer within the time limit";
    FlowInvalid = "flow_invalid", 400,
        "the authorisation flow is unknown, already used, expired, or from another browser session";
    AccessDenied = "access_denied", 400, "the person declined access on the provider's page";
    TooManyAttempts = "too_many_attempts", 429,
        "too many failed sign-ins for this email from this address: wait, then try again";
    Busy = "busy", 503,
        "Liaison has too much to do right now (sign-ins waiting for a password check, a request that could not be finished in time): try again shortly";
    SecretUnreadable = "secret_unreadable", 500, "a stored credential cannot be decrypted with the current keys";
    Transport = "transport", 502, "the browser could not reach the server, or could not read its answer";
    Internal = "internal", 500, "something failed inside Liaison; the details are in its log";
    // The scripts' API's own codes.
    InvalidRequest = "invalid_request", 400, "the request itself is malformed (method, URL, header, JSON)";
    ConnectionNotFound = "connection_not_found", 404,
        "no connection of that link name in the token owner's organisation";
    NotConnected = "not_connected", 409, "the connection has never been authorised";
    ConnectionRevoked = "connection_revoked", 409, "the connection was revoked; enable it to use it again";
    NeedsReauthorization = "needs_reauthorization", 409,
        "the provider no longer accepts the grant, or the scopes changed";
    ConnectionError = "connection_error", 409, "the last attempt to connect failed; see the message";
    UserNotAuthorized = "user_not_authorized", 403,
        "a login-user connection the caller has not authorised yet; see authorize_url";
    /// The UI answers the same string with 502 ([`ErrorCode::HostNotAllowed`]); only that one is
    /// read back from JSON.
    #[serde(skip_deserializing)]
    ApiHostNotAllowed = "host_not_allowed", 403,
        "the URL is outside the service's API base URLs, or a private address";
    PathNotAllowed = "path_not_allowed", 400,
        "the path leaves the API base path once percent-decoded (`..%2F`, `%252e`, `..;`, backslashes), or carries an encoded slash the service does not need";
    BodyTooLarge = "body_too_large", 413, "the request body, or invoke's answer, is over the configured limit";
    UpstreamUnreachable = "upstream_unreachable", 502, "the service could not be reached";
    ProviderUnavailable = "provider_unavailable", 503,
        "the provider's token endpoint is failing; Liaison backs off (Retry-After)";
    RefreshFailed = "refresh_failed", 502,
        "the provider refused to refresh the token for another reason; see the message";
}

impl ErrorCode {
    /// The codes the scripts' API answers with, in the order its documentation lists them.
    pub const API: &'static [ErrorCode] = &[
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidRequest,
        ErrorCode::ConnectionNotFound,
        ErrorCode::NotConnected,
        ErrorCode::ConnectionRevoked,
        ErrorCode::NeedsReauthorization,
        ErrorCode::ConnectionError,
        ErrorCode::UserNotAuthorized,
        ErrorCode::Forbidden,
        ErrorCode::ApiHostNotAllowed,
        ErrorCode::PathNotAllowed,
        ErrorCode::BodyTooLarge,
        ErrorCode::UpstreamTimeout,
        ErrorCode::UpstreamUnreachable,
        ErrorCode::ProviderUnavailable,
        ErrorCode::RefreshFailed,
        ErrorCode::SecretUnreadable,
        ErrorCode::Internal,
    ];

    /// What the scripts' API answers for a code met on the way (a stored secret, a provider, a
    /// validation): its own code where it has one, `internal` (the message then not shown) where it
    /// has none.
    pub fn for_api(self) -> Option<ErrorCode> {
        Some(match self {
            ErrorCode::HostNotAllowed => ErrorCode::ApiHostNotAllowed,
            ErrorCode::ProviderError => ErrorCode::RefreshFailed,
            ErrorCode::NotFound => ErrorCode::ConnectionNotFound,
            ErrorCode::Validation => ErrorCode::InvalidRequest,
            ErrorCode::InvalidCredentials => ErrorCode::Unauthenticated,
            // The API says it in its own words.
            ErrorCode::Internal => return None,
            code if ErrorCode::API.contains(&code) => code,
            _ => return None,
        })
    }
}

/// A message attached to one form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The error every server function returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), fields: Vec::new() }
    }

    /// A validation failure carrying one message per offending field.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        Self { code: ErrorCode::Validation, message: "Some fields need attention.".into(), fields }
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "Something went wrong on the server. Please try again; if it keeps happening, ask your administrator to check Liaison's log.",
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "Please sign in to continue.")
    }

    /// The message for one field, if that field has one.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.field == name).map(|f| f.message.as_str())
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// `value` in curly quotes, its control characters escaped (`\n`, `\u{7f}`): how a message names
/// a value whose blanks or spaces matter. Not `{:?}`: the release wasm is built without `Debug`
/// formatting (`-Zfmt-debug=none` in `Cargo.toml`), where `{:?}` prints nothing, and the
/// messages read the same wherever they are made.
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 6);
    out.push('“');
    for c in value.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.push('”');
    out
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(_) | E::Response(_) => {
                Self::new(ErrorCode::Transport, "Liaison could not be reached. Check your connection and try again.")
            }
            _ => Self::new(
                ErrorCode::Transport,
                "Liaison answered in a way this page did not understand. Reload the page and try again.",
            ),
        }
    }
}

/// A part of the page's code that could not be fetched (the network is down, or the server was
/// updated and no longer has it): said like any other failure to reach Liaison, never a trap.
impl From<leptos::wasm_split::SplitLoaderError> for AppError {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        Self::new(ErrorCode::Transport, "Liaison could not be reached. Check your connection and try again.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_stable_snake_case() {
        let e = AppError::new(ErrorCode::InvalidCredentials, "x");
        let json = serde_json_like(&e);
        assert!(json.contains("\"invalid_credentials\""), "{json}");
    }

    /// The strings and statuses answered before the codes were one enum: they must not move.
    #[test]
    fn every_code_keeps_its_string_and_status() {
        let expected: &[(ErrorCode, &str, u16)] = &[
            (ErrorCode::Validation, "validation", 422),
            (ErrorCode::InvalidCredentials, "invalid_credentials", 401),
            (ErrorCode::Unauthenticated, "unauthenticated", 401),
            (ErrorCode::Forbidden, "forbidden", 403),
            (ErrorCode::NotFound, "not_found", 404),
            (ErrorCode::SetupComplete, "setup_complete", 409),
            (ErrorCode::CrossOriginRefused, "cross_origin_refused", 403),
            (ErrorCode::Conflict, "conflict", 409),
            (ErrorCode::ProviderError, "provider_error", 502),
            (ErrorCode::HostNotAllowed, "host_not_allowed", 502),
            (ErrorCode::UpstreamTimeout, "upstream_timeout", 504),
            (ErrorCode::FlowInvalid, "flow_invalid", 400),
            (ErrorCode::AccessDenied, "access_denied", 400),
            (ErrorCode::TooManyAttempts, "too_many_attempts", 429),
            (ErrorCode::Busy, "busy", 503),
            (ErrorCode::SecretUnreadable, "secret_unreadable", 500),
            (ErrorCode::Transport, "transport", 502),
            (ErrorCode::Internal, "internal", 500),
            (ErrorCode::InvalidRequest, "invalid_request", 400),
            (ErrorCode::ConnectionNotFound, "connection_not_found", 404),
            (ErrorCode::NotConnected, "not_connected", 409),
            (ErrorCode::ConnectionRevoked, "connection_revoked", 409),
            (ErrorCode::NeedsReauthorization, "needs_reauthorization", 409),
            (ErrorCode::ConnectionError, "connection_error", 409),
            (ErrorCode::UserNotAuthorized, "user_not_authorized", 403),
            (ErrorCode::ApiHostNotAllowed, "host_not_allowed", 403),
            (ErrorCode::PathNotAllowed, "path_not_allowed", 400),
            (ErrorCode::BodyTooLarge, "body_too_large", 413),
            (ErrorCode::UpstreamUnreachable, "upstream_unreachable", 502),
            (ErrorCode::ProviderUnavailable, "provider_unavailable", 503),
            (ErrorCode::RefreshFailed, "refresh_failed", 502),
        ];
        assert_eq!(expected.len(), ErrorCode::ALL.len(), "a code was added or removed: list it here");
        for (code, name, status) in expected {
            assert_eq!((code.as_str(), code.http_status()), (*name, *status), "{code:?}");
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(name), "{code:?}");
            assert!(!code.when().is_empty());
        }
    }

    #[test]
    fn every_string_reads_back_as_its_code_and_the_ui_host_code_wins() {
        for code in ErrorCode::ALL.iter().filter(|c| **c != ErrorCode::ApiHostNotAllowed) {
            let back: ErrorCode = serde_json::from_value(serde_json::json!(code.as_str())).unwrap();
            assert_eq!(back, *code);
        }
        let host: ErrorCode = serde_json::from_str("\"host_not_allowed\"").unwrap();
        assert_eq!(host, ErrorCode::HostNotAllowed);
    }

    #[test]
    fn the_api_answers_only_its_own_codes() {
        for code in ErrorCode::ALL {
            match code.for_api() {
                Some(api) => assert!(ErrorCode::API.contains(&api), "{code:?} -> {api:?}"),
                None => assert!(!ErrorCode::API.contains(code) || *code == ErrorCode::Internal, "{code:?}"),
            }
        }
        assert_eq!(ErrorCode::HostNotAllowed.for_api(), Some(ErrorCode::ApiHostNotAllowed));
        assert_eq!(ErrorCode::ProviderError.for_api(), Some(ErrorCode::RefreshFailed));
        assert_eq!(ErrorCode::NotFound.for_api(), Some(ErrorCode::ConnectionNotFound));
        assert_eq!(ErrorCode::Validation.for_api(), Some(ErrorCode::InvalidRequest));
        assert_eq!(ErrorCode::InvalidCredentials.for_api(), Some(ErrorCode::Unauthenticated));
        assert_eq!(ErrorCode::Forbidden.for_api(), Some(ErrorCode::Forbidden));
    }

    #[test]
    fn field_lookup_finds_the_right_message() {
        let e =
            AppError::validation(vec![FieldError { field: "email".into(), message: "Enter an email address.".into() }]);
        assert_eq!(e.field("email"), Some("Enter an email address."));
        assert_eq!(e.field("password"), None);
        assert_eq!(e.code.http_status(), 422);
    }

    #[test]
    fn quoted_shows_blanks_and_escapes_control_characters() {
        assert_eq!(quoted("read write"), "“read write”");
        assert_eq!(quoted(""), "“”");
        assert_eq!(quoted("it's \"é\""), "“it's \"é\"”");
        assert_eq!(quoted("a\nb\t\u{7f}"), "“a\\nb\\t\\u{7f}”");
    }

    /// The release wasm has no `Debug` formatting: a `{:?}` in the UI's code would print nothing
    /// there, and a message would lose what it is about. Only tests may use it.
    #[test]
    fn no_code_of_the_ui_formats_with_debug() {
        fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, found);
                    continue;
                }
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if !name.ends_with(".rs") || name.ends_with("tests.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // What comes before the file's test module.
                let code = text.lines().take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"));
                for (n, line) in code.enumerate() {
                    let comment = line.trim_start().starts_with("//");
                    if !comment && (line.contains(":?}") || line.contains(":#?}")) {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        let mut found = Vec::new();
        visit(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
        assert!(found.is_empty(), "use error::quoted or Display, not Debug formatting:\n{}", found.join("\n"));
    }

    fn serde_json_like(e: &AppError) -> String {
        use leptos::server_fn::error::FromServerFnError;
        let bytes = e.ser();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
