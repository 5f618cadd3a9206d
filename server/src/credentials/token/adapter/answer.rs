//! The answers of token and revocation endpoints made standard for the `oauth2` crate: an OAuth
//! error (in a 4xx, or inside a 200 for providers that do so) as the crate expects it, a 429's
//! wait, the tokens moved from the path the service names to the top level, `expires_in` as a
//! number whether sent as one or as a string, a form-encoded answer as JSON. Whatever comes from
//! the provider is cleaned of control characters and of the secrets sent with the request before
//! anyone reads it. An answer that cannot be made standard is the call's error, in Liaison's words.

use super::super::{default_token_path, tokens, TokenError, TokenSet};
use crate::outbound::OutboundResponse;
use http::header::{HeaderValue, CONTENT_TYPE};
use oauth2::basic::BasicTokenResponse;
use oauth2::HttpResponse;
use serde_json::{Map, Value};

/// A failed answer without an OAuth error: 429 with the wait it asks for, or just the status.
pub(super) fn status_error(resp: &OutboundResponse) -> TokenError {
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

pub(super) fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The answer as a JSON object, or a form-encoded one (old GitHub) as an object of strings.
pub(super) fn parse_body(resp: &OutboundResponse) -> Option<Map<String, Value>> {
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
pub(super) fn oauth_error(map: &Map<String, Value>, sensitive: &[&str]) -> Option<Refusal> {
    let error = map.get("error")?.as_str().filter(|e| !e.trim().is_empty())?;
    let description = map.get("error_description").and_then(Value::as_str).map(|d| clean(d, 300, sensitive));
    Some(Refusal { error: clean(error, 64, sensitive), description })
}

/// Keeps printable text only, removes every sent secret value, and cuts to `max` characters.
pub(super) fn clean(text: &str, max: usize, sensitive: &[&str]) -> String {
    let mut text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    for s in sensitive.iter().filter(|s| s.len() >= 4) {
        text = text.replace(s, "[redacted]");
    }
    if text.chars().count() > max {
        text = text.chars().take(max).collect::<String>() + "…";
    }
    text
}

/// An RFC 6749 §5.2 error a provider answered with, scrubbed and cut short for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub error: String,
    pub description: Option<String>,
}

/// A token endpoint's answer, made standard.
pub(super) enum Standard {
    /// The tokens, at the top level, as RFC 6749 §5.1 has them.
    Tokens(Map<String, Value>),
    Refused(Refusal),
}

/// Names the tokens' fields, never their values.
impl std::fmt::Debug for Standard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Standard::Tokens(map) => f.debug_tuple("Tokens").field(&map.keys().collect::<Vec<_>>()).finish(),
            Standard::Refused(r) => f.debug_tuple("Refused").field(r).finish(),
        }
    }
}

/// The token endpoint's answer as the crate reads it: the standard tokens with 200, or the
/// provider's OAuth error with the status it came with (a 400 if that was a success).
pub(super) fn token(
    resp: &OutboundResponse,
    token_path: &[String],
    error_in_200: bool,
    sensitive: &[&str],
) -> Result<HttpResponse, TokenError> {
    Ok(match standard(resp, token_path, error_in_200, sensitive)? {
        Standard::Tokens(map) => json(200, &Value::Object(map)),
        Standard::Refused(r) => refused(resp.status, &r),
    })
}

/// The revocation endpoint's answer as the crate reads it: any 2xx is a 200 (with an error inside
/// it, a refusal only for providers flagged `error_in_200`), an OAuth error keeps its status.
pub(super) fn revocation(
    resp: &OutboundResponse,
    error_in_200: bool,
    sensitive: &[&str],
) -> Result<HttpResponse, TokenError> {
    let map = parse_body(resp);
    let refusal = map.as_ref().and_then(|m| oauth_error(m, sensitive));
    match (is_success(resp.status), refusal) {
        (true, Some(r)) if error_in_200 => Ok(refused(resp.status, &r)),
        (true, _) => Ok(json(200, &Value::Object(Map::new()))),
        (false, Some(r)) => Ok(refused(resp.status, &r)),
        (false, None) => Err(status_error(resp)),
    }
}

fn json(status: u16, body: &Value) -> HttpResponse {
    let mut resp = HttpResponse::new(body.to_string().into_bytes());
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// An RFC 6749 §5.2 error answer: with the provider's status, or 400 where it said 200.
fn refused(status: u16, r: &Refusal) -> HttpResponse {
    let status = if is_success(status) { 400 } else { status };
    let mut body = Map::new();
    body.insert("error".into(), Value::String(r.error.clone()));
    if let Some(d) = &r.description {
        body.insert("error_description".into(), Value::String(d.clone()));
    }
    json(status, &Value::Object(body))
}

/// Reads a token endpoint's answer exactly as a token request does: the HTTP status, the
/// `Content-Type` and the body, with the service's token path and error-in-200 knob; `sensitive`
/// are the values that must never appear in a message. The standard answer is read as the crate
/// reads it. Public for the fuzz targets.
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
    match standard(&resp, token_path, error_in_200, sensitive)? {
        Standard::Tokens(map) => serde_json::from_value::<BasicTokenResponse>(Value::Object(map))
            .map(|t| tokens(&t))
            .map_err(|_| TokenError::Malformed("it is not a token answer".into())),
        Standard::Refused(Refusal { error, description }) => Err(TokenError::Provider { error, description, status }),
    }
}

/// The answer made standard: the OAuth error it carries (counted in a 200 as the service says),
/// or the tokens at the top level; a failure without an OAuth error, or tokens that cannot be
/// read, is the error.
pub(super) fn standard(
    resp: &OutboundResponse,
    token_path: &[String],
    error_in_200: bool,
    sensitive: &[&str],
) -> Result<Standard, TokenError> {
    let map = parse_body(resp);
    let refusal = map.as_ref().and_then(|m| oauth_error(m, sensitive));
    if !is_success(resp.status) {
        return refusal.map(Standard::Refused).ok_or_else(|| status_error(resp));
    }
    let Some(root) = map else {
        return Err(TokenError::Malformed("it is not a JSON object".into()));
    };
    let default = default_token_path();
    let path = if token_path.is_empty() { &default[..] } else { token_path };
    let dotted = path.join(".");
    let (parent, token) = lookup(&root, path);
    match (refusal, token) {
        (Some(r), _) if error_in_200 => return Ok(Standard::Refused(r)),
        (Some(r), None) => return Ok(Standard::Refused(r)),
        _ => {}
    }
    let access_token = match token {
        None | Some(Value::Null) => {
            return Err(TokenError::Malformed(format!("there is no access token at `{dotted}`")))
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(TokenError::Malformed(format!("the access token at `{dotted}` is empty")))
        }
        Some(Value::String(s)) => s.clone(),
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
    let mut tokens = Map::new();
    tokens.insert("access_token".into(), Value::String(access_token));
    // RFC 6750 bearer tokens are what a provider that names no type issues.
    tokens.insert("token_type".into(), Value::String(text("token_type").unwrap_or_else(|| "bearer".into())));
    if let Some(refresh) = text("refresh_token") {
        tokens.insert("refresh_token".into(), Value::String(refresh));
    }
    // A lifetime already over is one of no seconds.
    if let Some(secs) = field("expires_in").and_then(seconds) {
        tokens.insert("expires_in".into(), Value::from(secs.max(0)));
    }
    if let Some(scope) = scope {
        tokens.insert("scope".into(), Value::String(scope));
    }
    Ok(Standard::Tokens(tokens))
}

/// Follows the path; returns the object holding the last key and the value there.
pub(super) fn lookup<'v>(
    root: &'v Map<String, Value>,
    path: &[String],
) -> (Option<&'v Map<String, Value>>, Option<&'v Value>) {
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

/// The longest lifetime an answer may give a token (ten years): beyond it, `expires_in` is cut
/// short, so no answer can make an expiry time overflow.
const MAX_EXPIRES_IN: i64 = 10 * 365 * 24 * 3600;

/// `expires_in` as a number or a numeric string, between none and ten years; anything else is
/// ignored (the token is still usable, and a 401 triggers a refresh).
pub(super) fn seconds(value: &Value) -> Option<i64> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64)),
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!(kind = kind(value), "the token endpoint sent an expires_in that is not a number; ignored");
    }
    parsed.map(|s| s.clamp(0, MAX_EXPIRES_IN))
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
