//! Token endpoint requests (RFC 6749 §4.1.3, §4.4, §6) and revocation (RFC 7009), hand-written
//! for provider quirks: JSON request bodies, form-encoded answers, errors inside HTTP 200 answers,
//! access tokens at a nested path, `expires_in` as a string. Nothing here ever puts a token, a
//! secret, a code or a raw answer into an error message: provider texts are cut short and scrubbed
//! of every secret value that was sent.

mod answer;
mod hints;

pub use answer::parse_answer;
use answer::{is_success, oauth_error, parse_body, parse_token_response, status_error};
use hints::INVALID_GRANT;
pub use hints::{hint, Hint};

use crate::outbound::{Outbound, OutboundError, OutboundResponse};
use crate::vault::Secret;
use app::service::{ClientAuth, TokenRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Map, Value};
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
    let mut params: Vec<(String, String)> = Vec::new();
    let mut sensitive: Vec<&str> = Vec::new();
    let mut add = |k: &str, v: &str| params.push((k.to_string(), v.to_string()));
    match &grant {
        TokenGrant::AuthorizationCode { code, redirect_uri, pkce_verifier } => {
            add("grant_type", "authorization_code");
            add("code", code);
            add("redirect_uri", redirect_uri);
            sensitive.push(code);
            if let Some(v) = pkce_verifier {
                add("code_verifier", v);
                sensitive.push(v);
            }
        }
        TokenGrant::RefreshToken { refresh_token, scope } => {
            add("grant_type", "refresh_token");
            add("refresh_token", refresh_token.expose());
            sensitive.push(refresh_token.expose());
            if let Some(s) = scope {
                add("scope", s);
            }
        }
        TokenGrant::ClientCredentials { scope } => {
            add("grant_type", "client_credentials");
            if let Some(s) = scope {
                add("scope", s);
            }
        }
    }
    let resp = send(out, ep, params, true).await?;
    if let Some(secret) = ep.client_secret {
        sensitive.push(secret.expose());
    }
    parse_token_response(&resp, ep, &sensitive)
}

/// Revokes a token (RFC 7009) with the endpoint's client authentication and encoding; `ep.url` is
/// the revocation URL. Any 2xx is success. A 400 `unsupported_token_type` is treated as success
/// too: the provider will never revoke this kind of token, retrying cannot change that, and the
/// caller goes on to forget the token anyway. An `error` in a 200 answer counts only when
/// `ep.error_in_200` is set.
pub async fn revoke(
    out: &Outbound,
    ep: &TokenEndpoint<'_>,
    token: &Secret,
    token_type_hint: &str,
) -> Result<(), TokenError> {
    let params = vec![
        ("token".to_string(), token.expose().to_string()),
        ("token_type_hint".to_string(), token_type_hint.to_string()),
    ];
    let resp = send(out, ep, params, false).await?;
    let mut sensitive = vec![token.expose()];
    if let Some(secret) = ep.client_secret {
        sensitive.push(secret.expose());
    }
    let map = parse_body(&resp);
    let error = map.as_ref().and_then(|m| oauth_error(m, resp.status, &sensitive));
    match (is_success(resp.status), error) {
        (true, Some(e)) if ep.error_in_200 => Err(e),
        (true, _) => Ok(()),
        (false, Some(TokenError::Provider { error, .. }))
            if resp.status == 400 && error == "unsupported_token_type" =>
        {
            tracing::info!("the provider does not revoke this kind of token; it is forgotten locally only");
            Ok(())
        }
        (false, Some(e)) => Err(e),
        (false, None) => Err(status_error(&resp)),
    }
}

/// Adds client authentication (and, for token requests, the extra parameters), encodes and sends.
async fn send(
    out: &Outbound,
    ep: &TokenEndpoint<'_>,
    mut params: Vec<(String, String)>,
    with_extras: bool,
) -> Result<OutboundResponse, TokenError> {
    let url = url::Url::parse(ep.url).map_err(|_| {
        OutboundError::InvalidUrl(
            "the token endpoint URL is not a valid absolute URL; check the service's settings".into(),
        )
    })?;
    let mut authorization = None;
    match (ep.client_auth, ep.client_secret) {
        (ClientAuth::Header, Some(secret)) => authorization = Some(basic_auth(ep.client_id, secret)?),
        (_, secret) => {
            params.push(("client_id".to_string(), ep.client_id.to_string()));
            if let Some(secret) = secret {
                params.push(("client_secret".to_string(), secret.expose().to_string()));
            }
        }
    }
    if with_extras {
        for (k, v) in ep.extra_params {
            if !params.iter().any(|(have, _)| have == k) {
                params.push((k.clone(), v.clone()));
            }
        }
    }
    let (content_type, body) = match ep.token_request {
        TokenRequest::Form => (
            "application/x-www-form-urlencoded",
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish(),
        ),
        TokenRequest::Json => {
            let object: Map<String, Value> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            ("application/json", Value::Object(object).to_string())
        }
    };
    let mut builder =
        out.client().post(url).header(ACCEPT, "application/json").header(CONTENT_TYPE, content_type).body(body);
    if let Some(value) = authorization {
        builder = builder.header(AUTHORIZATION, value);
    }
    let req = builder
        .build()
        .map_err(|_| OutboundError::InvalidUrl("the token request could not be built; check the token URL".into()))?;
    Ok(out.execute(req).await?)
}

/// HTTP Basic with the id and secret form-urlencoded first (RFC 6749 §2.3.1).
fn basic_auth(client_id: &str, secret: &Secret) -> Result<HeaderValue, TokenError> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = zeroize::Zeroizing::new(format!("{}:{}", enc(client_id), enc(secret.expose())));
    let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(raw.as_bytes())))
        .map_err(|_| OutboundError::InvalidUrl("the client credentials cannot be put in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests;
