//! The Flows area: the authorisation-code dance, in the order a person meets it. `start.rs`: the
//! one-time start link the Connect call issues, and `/oauth/start/{link}`, which makes a flow
//! record (single use, bound to the browser session, ten minutes) and redirects to the provider
//! with `state`, PKCE S256 and the scopes joined by the service's delimiter. `finish.rs`:
//! `/oauth/callback/{service key}` checks the state, the session, the expiry and that the answer
//! came back on the service's own callback path (the mix-up defence), then hands the code to
//! `Credentials`, which exchanges it and stores the tokens sealed; every ending is recorded on the
//! flow, so the page that opened the popup can poll it. `page.rs`: the popup's page. `request.rs`:
//! what both routes take from a request.

pub mod finish;
pub mod page;
pub mod request;
pub mod start;

use crate::credentials::Credentials;
use crate::error::Result;
use crate::infra::Infra;
use crate::keys::live::Vault;
use crate::services::Services;
use app::error::{AppError, ErrorCode};
use std::sync::Arc;

/// How long a started authorisation stays valid.
pub const FLOW_TTL_MS: i64 = 10 * 60 * 1000;

fn flow_error(message: &str) -> AppError {
    AppError::new(ErrorCode::FlowInvalid, message)
}

/// A ticket the page chose to poll the flow by: 16 to 64 URL-safe characters.
pub fn check_ticket(t: &str) -> Result<()> {
    if (16..=64).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(())
    } else {
        Err(flow_error("The authorisation ticket is not valid: start again from the Connections page.").into())
    }
}

/// The authorisations in progress, from the start link to the provider's answer.
pub struct Flows {
    pub infra: Infra,
    /// Seals the PKCE verifiers.
    pub vault: Arc<Vault>,
    pub services: Arc<Services>,
    pub credentials: Arc<Credentials>,
}

/// A provider's words, made safe to show: no control characters, at most 200 characters.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The stable snake_case name of a code.
pub fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::AccessDenied
        | ErrorCode::ProviderError
        | ErrorCode::HostNotAllowed
        | ErrorCode::UpstreamTimeout
        | ErrorCode::SecretUnreadable
        | ErrorCode::NotFound
        | ErrorCode::Forbidden => code.as_str(),
        _ => ErrorCode::FlowInvalid.as_str(),
    }
}

#[cfg(test)]
mod tests;
