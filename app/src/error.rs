//! One serialisable error for everything the UI may be told. A closed set of stable codes and a
//! sentence a person can act on; never a formatted internal error, never a secret.

use serde::{Deserialize, Serialize};

/// The stable codes the UI (and later the API) answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// One or more form fields are invalid; see `fields`.
    Validation,
    /// Sign-in failed: unknown email or wrong password (deliberately not told apart).
    InvalidCredentials,
    /// The request needs a signed-in user.
    Unauthenticated,
    /// Signed in, but not allowed to do this.
    Forbidden,
    /// Nothing of that name in this organisation.
    NotFound,
    /// The first-run setup has already been completed.
    SetupComplete,
    /// A state-changing request that did not come from Liaison's own pages.
    CrossOriginRefused,
    /// The request clashes with the current state (e.g. a service still in use).
    Conflict,
    /// The provider refused or failed (token exchange, client credentials, revoke); the message
    /// says what it answered, never a secret.
    ProviderError,
    /// An outbound call to a private, loopback or link-local address the operator has not allowed.
    HostNotAllowed,
    /// The provider did not answer in time.
    UpstreamTimeout,
    /// The authorisation flow is unknown, already used, expired, or from another browser session.
    FlowInvalid,
    /// The person declined access on the provider's page.
    AccessDenied,
    /// Too many failed sign-ins for this email from this address: wait, then try again.
    TooManyAttempts,
    /// Liaison has too much to do right now (sign-ins waiting for a password check, a request that
    /// could not be finished in time): try again shortly.
    Busy,
    /// A stored secret cannot be decrypted with the keys Liaison has.
    SecretUnreadable,
    /// The browser could not reach the server, or could not read its answer.
    Transport,
    /// Something failed on the server; the details are in its log, not here.
    Internal,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Validation => 422,
            ErrorCode::InvalidCredentials | ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden | ErrorCode::CrossOriginRefused => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::SetupComplete | ErrorCode::Conflict => 409,
            ErrorCode::FlowInvalid | ErrorCode::AccessDenied => 400,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::ProviderError | ErrorCode::HostNotAllowed => 502,
            ErrorCode::UpstreamTimeout => 504,
            ErrorCode::Busy => 503,
            ErrorCode::SecretUnreadable => 500,
            ErrorCode::Transport => 502,
            ErrorCode::Internal => 500,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_stable_snake_case() {
        let e = AppError::new(ErrorCode::InvalidCredentials, "x");
        let json = serde_json_like(&e);
        assert!(json.contains("\"invalid_credentials\""), "{json}");
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
