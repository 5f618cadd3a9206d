//! The server's one error type, and the two edges it converts to, once: the UI's and the server
//! functions' `AppError`, and the scripts' API's `ApiError` (JSON with a stable code from the same
//! `ErrorCode` vocabulary). Internal details go to the log, never into either.

use app::error::{AppError, ErrorCode};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the email address is already in use")]
    EmailTaken,
    #[error("the first-run setup has already been completed")]
    SetupComplete,
    #[error("{0}")]
    Invalid(String),
    /// A setting (or a file a setting names) Liaison cannot run with: the command exits with 2,
    /// as for the other configuration errors.
    #[error("configuration error: {0}")]
    Config(String),
    /// A form field the user must correct.
    #[error("{field}: {message}")]
    Field { field: &'static str, message: String },
    /// Something the user asked for, refused with a stable code and a sentence they can act on.
    #[error("{0}")]
    App(AppError),
    #[error("the service is still used by connections")]
    InUse,
    #[error("vault: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("a background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<AppError> for Error {
    fn from(e: AppError) -> Self {
        Error::App(e)
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        match e {
            Error::EmailTaken => AppError::validation(vec![app::error::FieldError {
                field: "email".into(),
                message: "A user with this email address already exists.".into(),
            }]),
            Error::SetupComplete => {
                AppError::new(ErrorCode::SetupComplete, "Liaison is already set up. Sign in instead.")
            }
            Error::Invalid(message) => AppError::new(ErrorCode::Validation, message),
            Error::Field { field, message } => {
                AppError::validation(vec![app::error::FieldError { field: field.into(), message }])
            }
            Error::App(e) => e,
            Error::InUse => AppError::new(
                ErrorCode::Conflict,
                "Connections still use this service. Delete those connections first, then the service.",
            ),
            Error::Vault(e @ (crate::vault::VaultError::UnknownKey(_) | crate::vault::VaultError::Undecryptable)) => {
                tracing::error!(error = %e, "a stored secret cannot be opened");
                AppError::new(
                    ErrorCode::SecretUnreadable,
                    "A stored secret of this connection cannot be decrypted with Liaison's current keys. Ask your administrator to restore the key it was sealed with, or reconnect.",
                )
            }
            other => {
                tracing::error!(error = %other, "request failed");
                AppError::internal()
            }
        }
    }
}

/// An `AppError` as an HTTP answer: its code's status, and the error as JSON (the admin API's and
/// the middleware's refusals).
pub fn app_response(e: AppError) -> Response {
    (status(e.code), Json(e)).into_response()
}

/// The HTTP status of a code, as axum takes it.
pub fn status(code: ErrorCode) -> axum::http::StatusCode {
    axum::http::StatusCode::from_u16(code.http_status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// True when a database error is a unique-key violation (on either database).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// An error of the scripts' API: one of the [`ErrorCode::API`] codes, with its HTTP status.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        debug_assert!(ErrorCode::API.contains(&code), "{} is not a code of the scripts' API", code.as_str());
        ApiError { code, message: message.into(), authorize_url: None, retry_after: None }
    }

    pub fn internal() -> ApiError {
        ApiError::new(ErrorCode::Internal, "Something went wrong inside Liaison. Try again; if it keeps failing, tell your administrator (the details are in Liaison's log).")
    }

    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        status(self.code)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e.code.for_api() {
            Some(code) => ApiError::new(code, e.message),
            None => ApiError::internal(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        AppError::from(e).into()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = (status, Json(&self)).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"liaison\""));
        }
        resp
    }
}
