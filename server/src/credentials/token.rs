//! Token endpoint requests (RFC 6749 §4.1.3, §4.4, §6) and revocation (RFC 7009), hand-written
//! for provider quirks: JSON request bodies, form-encoded answers, errors inside HTTP 200 answers,
//! access tokens at a nested path, `expires_in` as a string. Nothing here ever puts a token, a
//! secret, a code or a raw answer into an error message: provider texts are cut short and scrubbed
//! of every secret value that was sent.

mod hints;

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

/// A failed answer without an OAuth error: 429 with the wait it asks for, or just the status.
fn status_error(resp: &OutboundResponse) -> TokenError {
    if resp.status != 429 {
        return TokenError::Status(resp.status);
    }
    let retry_after = resp
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s <= 24 * 3600);
    TokenError::RateLimited { retry_after }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The answer as a JSON object, or a form-encoded one (old GitHub) as an object of strings.
fn parse_body(resp: &OutboundResponse) -> Option<Map<String, Value>> {
    let content_type = resp.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let form = || {
        let map: Map<String, Value> = url::form_urlencoded::parse(&resp.body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        (!map.is_empty()).then_some(map)
    };
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return form();
    }
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(map)) => Some(map),
        Ok(_) => None,
        Err(_) if content_type.starts_with("text/plain") => form(),
        Err(_) => None,
    }
}

/// An RFC 6749 §5.2 error in the answer, scrubbed and cut short for messages.
fn oauth_error(map: &Map<String, Value>, status: u16, sensitive: &[&str]) -> Option<TokenError> {
    let error = map.get("error")?.as_str().filter(|e| !e.trim().is_empty())?;
    let description = map.get("error_description").and_then(Value::as_str).map(|d| clean(d, 300, sensitive));
    Some(TokenError::Provider { error: clean(error, 64, sensitive), description, status })
}

/// Keeps printable text only, removes every sent secret value, and cuts to `max` characters.
fn clean(text: &str, max: usize, sensitive: &[&str]) -> String {
    let mut text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    for s in sensitive.iter().filter(|s| s.len() >= 4) {
        text = text.replace(s, "[redacted]");
    }
    if text.chars().count() > max {
        text = text.chars().take(max).collect::<String>() + "…";
    }
    text
}

/// Reads a token endpoint's answer exactly as a token request does: the HTTP status, the
/// `Content-Type` and the body, with the service's token path and error-in-200 knob; `sensitive`
/// are the values that must never appear in a message. Public for the fuzz targets.
pub fn parse_answer(
    status: u16,
    content_type: &str,
    body: &[u8],
    token_path: &[String],
    error_in_200: bool,
    sensitive: &[&str],
) -> Result<TokenSet, TokenError> {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, v);
    }
    let resp = OutboundResponse { status, headers, body: bytes::Bytes::copy_from_slice(body) };
    let extra = BTreeMap::new();
    let ep = TokenEndpoint {
        url: "",
        client_id: "",
        client_secret: None,
        client_auth: ClientAuth::Header,
        token_request: TokenRequest::Form,
        token_path,
        extra_params: &extra,
        error_in_200,
    };
    parse_token_response(&resp, &ep, sensitive)
}

fn parse_token_response(
    resp: &OutboundResponse,
    ep: &TokenEndpoint<'_>,
    sensitive: &[&str],
) -> Result<TokenSet, TokenError> {
    let map = parse_body(resp);
    let error = map.as_ref().and_then(|m| oauth_error(m, resp.status, sensitive));
    if !is_success(resp.status) {
        return Err(error.unwrap_or_else(|| status_error(resp)));
    }
    let Some(root) = map else {
        return Err(TokenError::Malformed("it is not a JSON object".into()));
    };
    let default = default_token_path();
    let path = if ep.token_path.is_empty() { &default[..] } else { ep.token_path };
    let dotted = path.join(".");
    let (parent, token) = lookup(&root, path);
    match (error, token) {
        (Some(e), _) if ep.error_in_200 => return Err(e),
        (Some(e), None) => return Err(e),
        _ => {}
    }
    let access_token = match token {
        None | Some(Value::Null) => {
            return Err(TokenError::Malformed(format!("there is no access token at `{dotted}`")))
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(TokenError::Malformed(format!("the access token at `{dotted}` is empty")))
        }
        Some(Value::String(s)) => Secret::new(s.clone()),
        Some(other) => {
            return Err(TokenError::Malformed(format!(
                "the access token at `{dotted}` is {}, not a string",
                kind(other)
            )))
        }
    };
    // The other fields sit beside the token. For a nested token they may also be at the top level,
    // unless the top level carries an access token of its own (Slack's bot token beside the
    // user's), whose fields belong to that other token.
    let fallback = (path.len() > 1 && !root.contains_key("access_token")).then_some(&root);
    let field = |name: &str| {
        parent
            .and_then(|p| p.get(name))
            .filter(|v| !v.is_null())
            .or_else(|| fallback.and_then(|r| r.get(name)).filter(|v| !v.is_null()))
    };
    let text = |name: &str| match field(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let scope = match field("scope") {
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")),
        _ => text("scope"),
    };
    Ok(TokenSet {
        access_token,
        refresh_token: text("refresh_token").map(Secret::new),
        expires_in: field("expires_in").and_then(seconds),
        scope,
        token_type: text("token_type"),
    })
}

/// Follows the path; returns the object holding the last key and the value there.
fn lookup<'v>(root: &'v Map<String, Value>, path: &[String]) -> (Option<&'v Map<String, Value>>, Option<&'v Value>) {
    let mut parent = root;
    for (i, key) in path.iter().enumerate() {
        let value = parent.get(key);
        if i + 1 == path.len() {
            return (Some(parent), value);
        }
        match value {
            Some(Value::Object(next)) => parent = next,
            _ => return (None, None),
        }
    }
    (None, None)
}

/// `expires_in` as a number or a numeric string; anything else is ignored (the token is still
/// usable, and a 401 triggers a refresh).
fn seconds(value: &Value) -> Option<i64> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64)),
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!(kind = kind(value), "the token endpoint sent an expires_in that is not a number; ignored");
    }
    parsed
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
