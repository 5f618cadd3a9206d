//! Retries of the scripts' API, opt-in per call (`Liaison-Retries: N` on the proxy, `retries` in
//! `invoke`): who may be retried (idempotent methods, others only when the caller says so), on
//! what (a failed exchange, 429, 502, 503, 504), and after how long (`Retry-After` in seconds or
//! as an HTTP date, a service's documented reset header on a 429, else exponential back-off with
//! jitter).
//! The waiting itself, and the call's time limit, are in [`super::send`].

pub use crate::catalog::retries::{ResetFormat, RetryDefaults, MAX_RETRIES};
use crate::error::ApiError;
use app::error::ErrorCode;
use axum::http::{HeaderMap, Method};
use serde::Deserialize;
use std::time::Duration;

/// What `default` means for a service without its own in the catalogue.
pub const DEFAULT_RETRIES: u8 = 2;
/// The proxy's request headers, and the answer's count of attempts.
pub const RETRIES_HEADER: &str = "liaison-retries";
pub const NON_IDEMPOTENT_HEADER: &str = "liaison-retry-non-idempotent";
pub const ATTEMPTS_HEADER: &str = "liaison-attempts";
/// A body sent with retries is kept in memory to be sent again: at most this many bytes.
pub const REPLAY_BYTES: usize = 1024 * 1024;
/// The back-off without `Retry-After`: the first wait is about this long, and doubles.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How many retries a call asks for, as the script wrote it: a number (`invoke`'s `"retries": 3`
/// or the header's `3`) or the service's `"default"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Asked {
    Count(u64),
    Default(DefaultWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultWord {
    Default,
}

/// What a call asked for: retries, and whether methods that are not idempotent may be retried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ask {
    pub retries: Option<Asked>,
    pub non_idempotent: bool,
}

impl Ask {
    /// The proxy's `Liaison-Retries` and `Liaison-Retry-Non-Idempotent` headers.
    pub fn from_headers(headers: &HeaderMap) -> Result<Ask, ApiError> {
        let retries = match headers.get(RETRIES_HEADER) {
            None => None,
            Some(v) => {
                let text = v.to_str().unwrap_or_default().trim();
                Some(match text.parse::<u64>() {
                    Ok(n) => Asked::Count(n),
                    Err(_) if text.eq_ignore_ascii_case("default") => Asked::Default(DefaultWord::Default),
                    Err(_) => return Err(bad_retries()),
                })
            }
        };
        let non_idempotent = match headers.get(NON_IDEMPOTENT_HEADER).map(|v| v.to_str().unwrap_or_default().trim()) {
            None => false,
            Some(t) if t.eq_ignore_ascii_case("true") => true,
            Some(t) if t.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "Liaison-Retry-Non-Idempotent must be true or false.",
                ))
            }
        };
        Ok(Ask { retries, non_idempotent })
    }

    /// The retries this call gets with `method` at a service with `defaults`: 0 when none were
    /// asked for, or when the method is not idempotent and the caller did not say to retry it.
    /// A number over [`MAX_RETRIES`] is refused.
    pub fn retries(&self, method: &Method, defaults: Option<&RetryDefaults>) -> Result<u8, ApiError> {
        let n = match self.retries {
            None => return Ok(0),
            Some(Asked::Count(n)) => u8::try_from(n).ok().filter(|n| *n <= MAX_RETRIES).ok_or_else(bad_retries)?,
            Some(Asked::Default(_)) => defaults.map_or(DEFAULT_RETRIES, |d| d.default),
        };
        Ok(if idempotent(method) || self.non_idempotent { n } else { 0 })
    }
}

fn bad_retries() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("Liaison-Retries (retries in invoke) must be a whole number from 0 to {MAX_RETRIES}, or default."),
    )
}

/// GET, HEAD, OPTIONS, PUT and DELETE: sending them twice does what sending them once does
/// (RFC 9110 §9.2.2; TRACE is never sent).
pub fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE)
}

/// The answers worth another attempt: too many requests, and a gateway or the service down.
pub fn retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// How long an answer with `status` asks to be left alone: `Retry-After` (seconds, or an HTTP
/// date, RFC 9110 §10.2.3), else, for a 429 only, the service's reset header (services such as
/// GitHub send it on every answer: on a 502, 503 or 504 it says nothing of the outage); `None`
/// when neither says (or says nonsense). A time already past is no wait.
pub fn asked_wait(headers: &HeaderMap, status: u16, defaults: Option<&RetryDefaults>, now_ms: i64) -> Option<Duration> {
    if let Some(wait) = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| retry_after(v, now_ms)) {
        return Some(wait);
    }
    if status != 429 {
        return None;
    }
    let d = defaults?;
    let text = headers.get(d.reset_header.as_deref()?)?.to_str().ok()?.trim();
    let seconds: f64 = text.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
    let ms = match d.reset_format {
        ResetFormat::Seconds => seconds * 1000.0,
        ResetFormat::UnixSeconds => seconds * 1000.0 - now_ms as f64,
    };
    Some(Duration::from_millis(ms.clamp(0.0, u64::MAX as f64) as u64))
}

/// A `Retry-After` value as a wait from `now_ms`: whole seconds, or an HTTP date.
pub fn retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    let now = u128::try_from(now_ms).unwrap_or(0);
    Some(Duration::from_millis(u64::try_from(at_ms.saturating_sub(now)).unwrap_or(u64::MAX)))
}

/// The wait before retry number `retry` (1 for the first) when the answer names none: doubling
/// from [`BACKOFF_BASE`] up to [`BACKOFF_MAX`], each a random point of its upper half (`jitter` in
/// 0..1), so callers that failed together do not come back together.
pub fn backoff(retry: u32, jitter: f64) -> Duration {
    let full = BACKOFF_BASE.saturating_mul(1u32 << retry.saturating_sub(1).min(16)).min(BACKOFF_MAX);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests;
