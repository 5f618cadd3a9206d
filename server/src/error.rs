//! The server's one error type. Internal details go to the log; the UI gets an `AppError` with a
//! stable code, never the internal text.

use app::error::{AppError, ErrorCode};

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
    #[error("a background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
            other => {
                tracing::error!(error = %other, "request failed");
                AppError::internal()
            }
        }
    }
}

/// True when a database error is a unique-key violation (on either database).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
