//! Token endpoint requests (RFC 6749 §4.1.3, §4.4, §6) and revocation (RFC 7009) through the
//! `oauth2` crate and its typed secrets, every request sent and every answer read by the one
//! adapter (`adapter`) that knows the providers' quirks. Nothing here ever puts a token, a secret,
//! a code or a raw answer into an error message: provider texts are cut short and scrubbed of every
//! secret value that was sent.

pub mod adapter;
mod hints;

pub use adapter::parse_answer;
use adapter::{Adapter, Call};
use hints::INVALID_GRANT;
pub use hints::{hint, Hint};

use crate::outbound::{Outbound, OutboundError};
use crate::vault::Secret;
use app::service::{ClientAuth, TokenRequest};
use oauth2::basic::BasicTokenResponse;
use oauth2::{
    AccessToken, AuthorizationCode, ErrorResponseType, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    RevocationErrorResponseType, Scope, StandardErrorResponse, StandardRevocableToken, TokenResponse,
};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Where and how to ask for tokens.
pub struct TokenEndpoint<'a> {
    pub url: &'a str,
    pub client_id: &'a str,
    /// None for public clients: `client_id` then always goes in the body.
    pub client_secret: Option<&'a Secret>,
    pub client_auth: ClientAuth,
    pub token_request: TokenRequest,
    /// The dotted path to the access token in the answer, split: `["access_token"]` by default,
    /// `["authed_user", "access_token"]` for Slack user tokens. An empty path means the default.
    pub token_path: &'a [String],
    /// Added to token requests (not to revocation); a key that the request already carries is
    /// not overridden.
    pub extra_params: &'a BTreeMap<String, String>,
    /// The provider reports errors with HTTP 200 (GitHub): an `error` field then wins even when an
    /// access token is present. Without it, an `error` in a 200 answer counts only when there is no
    /// access token.
    pub error_in_200: bool,
}

/// The default path to the access token.
pub fn default_token_path() -> Vec<String> {
    vec!["access_token".to_string()]
}

/// What is exchanged for tokens.
pub enum TokenGrant<'a> {
    AuthorizationCode { code: &'a str, redirect_uri: &'a str, pkce_verifier: Option<&'a str> },
    RefreshToken { refresh_token: &'a Secret, scope: Option<&'a str> },
    ClientCredentials { scope: Option<&'a str> },
}

/// The tokens a provider issued. `Debug` shows no secret.
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// Seconds from now.
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
}

/// Why no tokens came back (or a revocation failed).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// An RFC 6749 §5.2 error, also when the provider sent it with HTTP 200.
    #[error("{}", provider_message(error, description.as_deref(), *status))]
    Provider { error: String, description: Option<String>, status: u16 },
    #[error("the token endpoint's answer could not be used: {0}; check the service's token URL and token path")]
    Malformed(String),
    #[error("the token endpoint answered HTTP {0} without an OAuth error; check the token URL, or try again later")]
    Status(u16),
    /// HTTP 429 without an OAuth error, with the wait the provider asked for (`Retry-After` in
    /// seconds, up to a day; an HTTP date is not read).
    #[error("the token endpoint is limiting requests (HTTP 429){}", retry_after.map(|s| format!("; try again in {s} seconds")).unwrap_or_default())]
    RateLimited { retry_after: Option<u64> },
    #[error(transparent)]
    Outbound(#[from] OutboundError),
}

fn provider_message(error: &str, description: Option<&str>, status: u16) -> String {
    let mut text = format!("the provider refused the request with \"{error}\" (HTTP {status})");
    if let Some(d) = description {
        text.push_str(&format!(": {d}"));
    }
    if let Some(h) = hint(error) {
        text.push_str(&format!("; {}", h.clause));
    }
    text
}

impl TokenError {
    /// The grant is dead: the connection needs a person to authorise it again. GitHub's
    /// `bad_verification_code` and `bad_refresh_token` (sent with HTTP 200) count as well.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::Provider { error, .. } if INVALID_GRANT.contains(&error.as_str()))
    }

    /// Trying again later may work: 5xx, 429, `temporarily_unavailable`, a timeout, no connection.
    pub fn is_retryable(&self) -> bool {
        match self {
            TokenError::Status(s) => *s >= 500 || *s == 429,
            TokenError::RateLimited { .. } => true,
            TokenError::Provider { error, status, .. } => {
                *status >= 500 || *status == 429 || error == "temporarily_unavailable" || error == "server_error"
            }
            TokenError::Outbound(OutboundError::Timeout | OutboundError::Connect(_)) => true,
            TokenError::Outbound(_) | TokenError::Malformed(_) => false,
        }
    }
}

/// Asks the token endpoint for tokens.
pub async fn request_token(
    out: &Outbound,
    ep: &TokenEndpoint<'_>,
    grant: TokenGrant<'_>,
) -> Result<TokenSet, TokenError> {
    let http = Adapter::new(out, ep, Call::Token)?;
    let client = http.client().set_token_uri(http.token_url());
    let answer = match grant {
        TokenGrant::AuthorizationCode { code, redirect_uri, pkce_verifier } => {
            let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|_| {
                OutboundError::InvalidUrl("the callback URL is not a valid absolute URL; check the public URL".into())
            })?;
            let mut req =
                client.exchange_code(AuthorizationCode::new(code.to_string())).set_redirect_uri(Cow::Owned(redirect));
            if let Some(v) = pkce_verifier {
                req = req.set_pkce_verifier(PkceCodeVerifier::new(v.to_string()));
            }
            req.request_async(&http).await
        }
        TokenGrant::RefreshToken { refresh_token, scope } => {
            let refresh_token = RefreshToken::new(refresh_token.expose().to_string());
            let mut req = client.exchange_refresh_token(&refresh_token);
            if let Some(s) = scope {
                req = req.add_scope(Scope::new(s.to_string()));
            }
            req.request_async(&http).await
        }
        TokenGrant::ClientCredentials { scope } => {
            let mut req = client.exchange_client_credentials();
            if let Some(s) = scope {
                req = req.add_scope(Scope::new(s.to_string()));
            }
            req.request_async(&http).await
        }
    };
    match answer {
        Ok(t) => Ok(tokens(&t)),
        Err(e) => Err(crate_error(e, http.status(), TokenError::Malformed("it is not a token answer".into()))),
    }
}

/// The tokens of the crate's standard answer, in Liaison's secrets.
pub(crate) fn tokens(t: &BasicTokenResponse) -> TokenSet {
    let scope = t.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "));
    TokenSet {
        access_token: Secret::new(t.access_token().secret().clone()),
        refresh_token: t.refresh_token().map(|r| Secret::new(r.secret().clone())),
        expires_in: t.expires_in().map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        scope,
        token_type: Some(t.token_type().as_ref().to_string()),
    }
}

/// Why the crate got no tokens (or no revocation): the adapter's own error, or the provider's
/// OAuth error with the status it came with. The adapter hands the crate only answers it can read,
/// so anything else (`unreadable`) does not happen; it is worded without the answer.
fn crate_error<T>(
    e: RequestTokenError<TokenError, StandardErrorResponse<T>>,
    status: u16,
    unreadable: TokenError,
) -> TokenError
where
    T: ErrorResponseType + AsRef<str> + std::fmt::Display + 'static,
{
    match e {
        RequestTokenError::Request(e) => e,
        RequestTokenError::ServerResponse(r) => TokenError::Provider {
            error: r.error().as_ref().to_string(),
            description: r.error_description().cloned(),
            status,
        },
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => unreadable,
    }
}

/// Revokes a token (RFC 7009) with the endpoint's client authentication and encoding; `ep.url` is
/// the revocation URL and `token_type_hint` the kind of token (`refresh_token`, or any other word
/// for an access token). Any 2xx is success. A 400 `unsupported_token_type` is treated as success
/// too: the provider will never revoke this kind of token, retrying cannot change that, and the
/// caller goes on to forget the token anyway. An `error` in a 200 answer counts only when
/// `ep.error_in_200` is set.
pub async fn revoke(
    out: &Outbound,
    ep: &TokenEndpoint<'_>,
    token: &Secret,
    token_type_hint: &str,
) -> Result<(), TokenError> {
    let http = Adapter::new(out, ep, Call::Revoke)?;
    let client = http.client().set_revocation_url(http.revocation_url());
    let token = match token_type_hint == "refresh_token" {
        true => StandardRevocableToken::RefreshToken(RefreshToken::new(token.expose().to_string())),
        false => StandardRevocableToken::AccessToken(AccessToken::new(token.expose().to_string())),
    };
    let answer = match client.revoke_token(token) {
        Ok(req) => req.request_async(&http).await,
        Err(_) => return Err(OutboundError::InvalidUrl("the revocation URL cannot be used".into()).into()),
    };
    let status = http.status();
    match answer {
        Ok(()) => Ok(()),
        Err(RequestTokenError::ServerResponse(r))
            if status == 400 && *r.error() == RevocationErrorResponseType::UnsupportedTokenType =>
        {
            tracing::info!("the provider does not revoke this kind of token; it is forgotten locally only");
            Ok(())
        }
        Err(e) => Err(crate_error(e, status, TokenError::Status(status))),
    }
}

#[cfg(test)]
mod tests;
