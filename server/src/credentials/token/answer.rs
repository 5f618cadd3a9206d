//! Reading a token endpoint's answer: the OAuth error it carries (in a 4xx, or inside a 200 for
//! providers that do so), a 429's wait, the tokens at the path the service names, and
//! `expires_in` as a number or a string. Whatever comes from the provider is cleaned of control
//! characters and of the secrets sent with the request before anyone reads it.

use super::{default_token_path, TokenEndpoint, TokenError, TokenSet};
use crate::outbound::OutboundResponse;
use crate::vault::Secret;
use app::service::{ClientAuth, TokenRequest};
use http::header::{HeaderValue, CONTENT_TYPE};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
pub(super) fn oauth_error(map: &Map<String, Value>, status: u16, sensitive: &[&str]) -> Option<TokenError> {
    let error = map.get("error")?.as_str().filter(|e| !e.trim().is_empty())?;
    let description = map.get("error_description").and_then(Value::as_str).map(|d| clean(d, 300, sensitive));
    Some(TokenError::Provider { error: clean(error, 64, sensitive), description, status })
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

pub(super) fn parse_token_response(
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

/// `expires_in` as a number or a numeric string; anything else is ignored (the token is still
/// usable, and a 401 triggers a refresh).
pub(super) fn seconds(value: &Value) -> Option<i64> {
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
