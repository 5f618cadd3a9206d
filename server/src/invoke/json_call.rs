//! `invoke`: one JSON call in, one JSON answer out. The caller is known before a byte of the body
//! is read; the body is read up to the limit and parsed with the script's `body` kept as raw JSON
//! text (no tree of values), then sent through the same path as the proxy (see [`super::proxy`]),
//! with the retries it asks for (`retries`, `retry_non_idempotent`: [`super::retry`]).

use crate::error::ApiError;
use crate::invoke::proxy::{invalid, not_replayable, outbound_error, too_large, Logged, OutBody, Outgoing};
use crate::invoke::retry::{Ask, Asked, ATTEMPTS_HEADER};
use crate::invoke::target::Target;
use crate::invoke::target::{end_to_end, invoke_url, ORIGIN_STATE};
use crate::invoke::{invoke_limit, Api};
use crate::outbound::read_limited;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `POST /api/v1/invoke`: `{connection, method, url, headers, query, body}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokeRequest {
    pub connection: String,
    #[serde(default)]
    pub method: Option<String>,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, QueryValue>,
    /// Kept as the JSON text the script wrote (no tree of values is built): a string is sent as
    /// its text, anything else as that JSON text.
    #[serde(default)]
    pub body: Option<Box<RawValue>>,
    /// Retries on a failed exchange, 429, 502, 503 and 504: a number up to 5, or `"default"`.
    #[serde(default)]
    pub retries: Option<Asked>,
    /// Retry a method that is not idempotent (POST, PATCH) too.
    #[serde(default)]
    pub retry_non_idempotent: bool,
}

/// A query parameter's value: one, or several (repeated in the URL).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum QueryValue {
    One(Scalar),
    Many(Vec<Scalar>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// Turns an `invoke` request into a call (the URL checked against the base URLs).
fn outgoing(t: &Target, r: InvokeRequest) -> Result<Outgoing, ApiError> {
    let method_text = r.method.as_deref().unwrap_or("GET").trim().to_ascii_uppercase();
    let method = Method::from_bytes(method_text.as_bytes())
        .map_err(|_| invalid(format!("`method` {method_text:?} is not an HTTP method.")))?;
    if matches!(method, Method::CONNECT | Method::TRACE) {
        return Err(invalid(format!("`method` {method} cannot be used through Liaison.")));
    }
    let mut url = invoke_url(&t.found.resolved, &r.url)?;
    if !r.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &r.query {
            match v {
                QueryValue::One(s) => {
                    pairs.append_pair(k, &s.text());
                }
                QueryValue::Many(list) => {
                    for s in list {
                        pairs.append_pair(k, &s.text());
                    }
                }
            }
        }
    }
    let mut raw = HeaderMap::new();
    for (k, v) in &r.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| invalid(format!("`headers`: {k:?} is not a valid header name.")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| invalid(format!("`headers`: the value of {k:?} has characters HTTP does not allow.")))?;
        raw.append(name, value);
    }
    let mut headers = end_to_end(&raw, true);
    let body = match r.body {
        None => Bytes::new(),
        Some(raw) if raw.get() == "null" => Bytes::new(),
        Some(raw) if raw.get().starts_with('"') => {
            Bytes::from(serde_json::from_str::<String>(raw.get()).map_err(|_| ApiError::internal())?)
        }
        Some(raw) => {
            if !headers.contains_key(header::CONTENT_TYPE) {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Bytes::from(String::from(Box::<str>::from(raw)))
        }
    };
    Ok(Outgoing { method, url, headers, body: OutBody::Bytes(body) })
}

/// The service's answer as `invoke` returns it: JSON bodies as JSON, text as a string, anything
/// else in base64 (with `body_encoding`).
fn answer(status: u16, headers: &HeaderMap, body: &[u8]) -> Value {
    let mut h = Map::new();
    for name in headers.keys() {
        if matches!(name.as_str(), "connection" | "keep-alive" | "transfer-encoding")
            || ORIGIN_STATE.contains(&name.as_str())
        {
            continue;
        }
        let joined: Vec<String> =
            headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
        h.insert(name.as_str().to_string(), Value::String(joined.join(", ")));
    }
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut out = json!({ "status": status, "headers": h });
    if content_type.contains("json") {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            out["body"] = v;
            return out;
        }
    }
    match std::str::from_utf8(body) {
        Ok(text) => out["body"] = Value::String(text.to_string()),
        Err(_) => {
            out["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(body));
            out["body_encoding"] = Value::String("base64".into());
        }
    }
    out
}

/// The whole request body, refused past `limit` (checked against Content-Length before anything
/// is read, and while reading).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<u64>().ok());
    if length.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut out = Vec::with_capacity(length.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| invalid("The request body could not be read."))?;
        if out.len().saturating_add(chunk.len()) > limit {
            return Err(too_large(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `POST /api/v1/invoke`. The caller is known before a byte of the body is read: an anonymous
/// call costs no reading or parsing.
pub async fn invoke(State(api): State<Arc<Api>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let caller = match api.tokens.authenticate(&parts.headers).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let limit = invoke_limit(&api.settings);
    let parsed: Result<InvokeRequest, ApiError> = match read_body(&parts.headers, body, limit).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("The request is not a valid invoke call ({e}). Send JSON like {{\"connection\": \"link_name\", \"method\": \"GET\", \"url\": \"/path\"}}."))),
        Err(e) => Err(e),
    };
    let link = parsed.as_ref().map(|r| r.connection.clone()).unwrap_or_default();
    let method = parsed
        .as_ref()
        .ok()
        .and_then(|r| r.method.as_deref())
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(Method::GET);
    let parsed_retries = parsed.as_ref().is_ok_and(|r| r.retries.is_some());
    let mut log = Logged::new(&api, Some(&caller), &link, &method);
    let result = async {
        let request = parsed?;
        let t = api.target(&caller, &request.connection).await?;
        log.call.connection_id = Some(t.found.c.id);
        let ask = Ask { retries: request.retries, non_idempotent: request.retry_non_idempotent };
        let out = outgoing(&t, request)?;
        log.call.host = out.url.host_str().unwrap_or_default().to_string();
        let retries = ask.retries(&out.method, t.found.resolved.retries.as_ref())?;
        // As on the proxy: a body sent again is kept, so it may be at most so big.
        let keep = crate::invoke::retry::REPLAY_BYTES;
        if retries > 0 && matches!(&out.body, OutBody::Bytes(b) if b.len() > keep) {
            return Err(not_replayable(keep));
        }
        let resp = api.send(&t, &parts.headers, out, retries, &mut log.call.attempts).await?;
        let read = crate::metrics::upstream(read_limited(resp, api.settings.max_body_bytes, |e| e))
            .await
            .map_err(|e| outbound_error(e, &t.found.resolved.spec.name))?;
        Ok::<_, ApiError>(read)
    }
    .await;
    let asked = parsed_retries && log.call.attempts > 0;
    let attempts = log.call.attempts;
    match result {
        Ok(read) => {
            log.finish(&api, read.status, None);
            let mut answer = answer(read.status, &read.headers, &read.body);
            if asked {
                answer["attempts"] = json!(attempts);
            }
            let mut resp = Json(answer).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            log.finish(&api, e.status().as_u16(), Some(e.code.as_str()));
            let mut resp = e.into_response();
            // Retries that all failed: the refusal says how many attempts were made.
            if asked && attempts > 0 {
                resp.headers_mut().insert(HeaderName::from_static(ATTEMPTS_HEADER), HeaderValue::from(attempts));
            }
            resp
        }
    }
}
