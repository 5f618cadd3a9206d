//! The transparent proxy (streamed both ways), and what it shares with `invoke` (see
//! [`super::json_call`]): both find the connection, check its state, get its credential
//! (refreshed if due), send the call through the outbound client (no redirects, the SSRF guard,
//! the time limit; [`super::send`]: a refresh and another attempt on a 401, and the retries a call
//! asks for with `Liaison-Retries`, its body then kept to be sent again), and log the call with
//! its attempts.

use crate::api_tokens::Caller;
use crate::error::ApiError;
use crate::invoke::retry::{self, Ask};
use crate::invoke::target::{end_to_end, proxy_url};
use crate::invoke::Api;
use crate::outbound::{read_limited, OutboundError};
use crate::store::api_tokens::Call;
use app::error::ErrorCode;
use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Request bodies up to this size are kept in memory, so a call refused with 401 can be retried
/// after a refresh; larger ones stream and are not retried.
const REPLAYABLE_BYTES: u64 = 256 * 1024;

/// Answers up to this size (by their Content-Length) are read whole before they are passed on.
const WHOLE_ANSWER_BYTES: u64 = 64 * 1024;

/// What a call carries, before the credential is attached.
pub(super) struct Outgoing {
    pub(super) method: Method,
    pub(super) url: url::Url,
    pub(super) headers: HeaderMap,
    pub(super) body: OutBody,
}

pub(super) enum OutBody {
    /// Kept in memory: can be sent again. Empty and not `Content-Length: 0`: no body at all.
    Bytes(Bytes),
    /// `Content-Length: 0`: a body, of no bytes.
    Empty,
    /// Streamed from the script: sent once.
    Stream(Option<Body>, Arc<AtomicBool>),
}

/// One call's entry for the log, filled in as it goes.
pub(super) struct Logged {
    started: Instant,
    pub(super) call: Call,
}

impl Logged {
    pub(super) fn new(api: &Api, caller: Option<&Caller>, link: &str, method: &Method) -> Logged {
        Logged {
            started: Instant::now(),
            call: Call {
                org_id: caller.map(|c| c.viewer.org_id).unwrap_or(0),
                at: api.infra.clock.now_ms(),
                actor: caller.map_or_else(|| "".into(), |c| c.label.clone()),
                connection_id: None,
                link_name: link.chars().take(100).collect(),
                method: method.as_str().chars().take(20).collect(),
                host: String::new(),
                status: 0,
                latency_ms: 0,
                error_code: None,
                attempts: 0,
            },
        }
    }

    pub(super) fn finish(mut self, api: &Api, status: u16, error: Option<&'static str>) {
        crate::metrics::api_call(status, error);
        // Without a caller there is no organisation to file the call under.
        if self.call.org_id == 0 {
            return;
        }
        // A call refused before anything was sent counts as one attempt.
        self.call.attempts = self.call.attempts.max(1);
        self.call.status = status;
        self.call.error_code = error;
        self.call.latency_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        tracing::info!(
            link_name = %self.call.link_name,
            method = %self.call.method,
            host = %self.call.host,
            status,
            latency_ms = self.call.latency_ms,
            error = error.unwrap_or(""),
            attempts = self.call.attempts,
            "api call"
        );
        api.calls.record(self.call);
    }
}

pub(super) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::BodyTooLarge,
        format!("The body is larger than the limit of {limit} bytes. Send less, or ask the operator to raise api_max_body_bytes."),
    )
}

/// A body too large to be kept for retries.
pub(super) fn not_replayable(keep: usize) -> ApiError {
    ApiError::new(
        ErrorCode::BodyTooLarge,
        format!("A call with retries can carry at most {keep} bytes of body, which Liaison keeps to send again. Send less, or call without Liaison-Retries (retries in invoke)."),
    )
}

pub(super) fn outbound_error(e: OutboundError, service: &str) -> ApiError {
    let code = match e {
        OutboundError::HostNotAllowed { .. } => ErrorCode::ApiHostNotAllowed,
        OutboundError::Timeout => ErrorCode::UpstreamTimeout,
        OutboundError::TooLarge { limit } => return too_large(limit),
        OutboundError::InvalidUrl(m) => return ApiError::new(ErrorCode::InvalidRequest, m),
        OutboundError::Connect(_) => ErrorCode::UpstreamUnreachable,
    };
    let mut message = e.sentence(service, "API");
    if e == OutboundError::Timeout {
        message.push_str(" The operator can raise api_timeout_seconds.");
    }
    ApiError::new(code, message)
}

/// What the route's `{*path}` captured, still percent-encoded (so the service gets the path as
/// the script sent it): the request's path without as many segments as the matched route has
/// before its capture. Empty for the route without one. (The link name may itself contain
/// `proxy`, so the path is never searched for it.)
fn raw_capture<'a>(path: &'a str, route: Option<&str>) -> &'a str {
    let Some((fixed, _)) = route.and_then(|r| r.split_once("/{*")) else { return "" };
    let skip = fixed.split('/').count();
    path.splitn(skip + 1, '/').nth(skip).unwrap_or_default()
}

/// Methods no call through Liaison may use.
fn refused_method(method: &Method) -> Result<(), ApiError> {
    if matches!(*method, Method::CONNECT | Method::TRACE) {
        return Err(invalid(format!("The method {method} cannot be used through Liaison.")));
    }
    Ok(())
}

/// `ANY /api/v1/connections/{link_name}/proxy/{*path}`
pub async fn handle(
    State(api): State<Arc<Api>>,
    Path(params): Path<BTreeMap<String, String>>,
    req: Request,
) -> Response {
    let link = params.get("link_name").cloned().unwrap_or_default();
    let (parts, body) = req.into_parts();
    let caller = api.tokens.authenticate(&parts.headers).await;
    let mut log = Logged::new(&api, caller.as_ref().ok(), &link, &parts.method);
    let ask = Ask::from_headers(&parts.headers);
    let asked = ask.as_ref().is_ok_and(|a| a.retries.is_some());
    let result = async {
        let caller = caller?;
        refused_method(&parts.method)?;
        let ask = ask?;
        let t = api.target(&caller, &link).await?;
        log.call.connection_id = Some(t.found.c.id);
        let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str);
        let url = proxy_url(&t.found.resolved, raw_capture(parts.uri.path(), route), parts.uri.query())?;
        log.call.host = url.host_str().unwrap_or_default().to_string();
        let limit = api.settings.max_body_bytes;
        let length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()))
            .map(|n| {
                n.ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, "The Content-Length header is not a number."))
            })
            .transpose()?;
        if length.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
        let retries = ask.retries(&parts.method, t.found.resolved.retries.as_ref())?;
        let mut headers = end_to_end(&parts.headers, true);
        let body = match length {
            Some(0) if !chunked => OutBody::Empty,
            // Retried: kept whole to be sent again, within its own limit.
            _ if retries > 0 => {
                let keep = retry::REPLAY_BYTES.min(limit);
                if length.is_some_and(|n| n > keep as u64) {
                    return Err(not_replayable(keep));
                }
                OutBody::Bytes(axum::body::to_bytes(body, keep).await.map_err(|_| not_replayable(keep))?)
            }
            Some(n) if n <= REPLAYABLE_BYTES && !chunked => OutBody::Bytes(
                axum::body::to_bytes(body, limit)
                    .await
                    .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "The request body could not be read."))?,
            ),
            None if !chunked => OutBody::Bytes(Bytes::new()),
            _ => {
                if let Some(n) = length {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                }
                let over = Arc::new(AtomicBool::new(false));
                OutBody::Stream(Some(limited_upload(body, limit, over.clone())), over)
            }
        };
        let out = Outgoing { method: parts.method.clone(), url, headers, body };
        let resp = api.send(&t, &parts.headers, out, retries, &mut log.call.attempts).await?;
        // A small answer of known length is read whole and goes out in one write; any other
        // streams.
        if http_body::Body::size_hint(resp.body()).exact().is_some_and(|n| n <= WHOLE_ANSWER_BYTES) {
            let read = crate::metrics::upstream(read_limited(resp, WHOLE_ANSWER_BYTES as usize, |e| e))
                .await
                .map_err(|e| outbound_error(e, &t.found.resolved.spec.name))?;
            let status = StatusCode::from_u16(read.status).map_err(|_| ApiError::internal())?;
            return Ok((status, end_to_end(&read.headers, false), Body::from(read.body)));
        }
        let status = resp.status();
        let headers = end_to_end(resp.headers(), false);
        Ok::<_, ApiError>((status, headers, Body::new(resp.into_body())))
    }
    .await;
    let attempts = log.call.attempts;
    match result {
        Ok((status, mut headers, body)) => {
            log.finish(&api, status.as_u16(), None);
            if asked {
                headers.insert(HeaderName::from_static(retry::ATTEMPTS_HEADER), HeaderValue::from(attempts));
            }
            let mut out = Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            out
        }
        Err(e) => {
            log.finish(&api, e.status().as_u16(), Some(e.code.as_str()));
            let mut out = e.into_response();
            // Retries that all failed: the refusal says how many attempts were made.
            if asked && attempts > 0 {
                out.headers_mut().insert(HeaderName::from_static(retry::ATTEMPTS_HEADER), HeaderValue::from(attempts));
            }
            out
        }
    }
}

/// The script's body as a stream to the service, cut off past the limit.
fn limited_upload(body: Body, limit: usize, over: Arc<AtomicBool>) -> Body {
    let mut seen = 0usize;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
        seen += chunk.len();
        if seen > limit {
            over.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("request body over the limit"));
        }
        Ok(chunk)
    });
    Body::from_stream(stream)
}

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}
