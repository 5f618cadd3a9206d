//! Sending one call to the service, for the proxy and `invoke` alike: the credential attached to
//! every attempt as `crate::credentials::attach` puts it (the same target each time), one refresh
//! and one more attempt on a 401 when a refresh could help, and the retries the call asked for
//! ([`super::retry`]). Every wait goes through the server's clock ([`crate::clock::Clock::sleep`])
//! and none passes the call's time limit, nor leaves too little of it for another attempt
//! ([`Api::min_attempt`]): an answer whose wait would is returned as it is. After each wait the
//! caller and the connection are checked again ([`Api::still`]): a token revoked or a connection
//! revoked or deleted meanwhile gets no further request.

use crate::credentials::attach::{attach, Credential};
use crate::error::ApiError;
use crate::invoke::proxy::{outbound_error, too_large, OutBody, Outgoing};
use crate::invoke::retry;
use crate::invoke::target::Target;
use crate::invoke::Api;
use crate::outbound::{HopBody, OutboundError};
use app::error::ErrorCode;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Api {
    /// Sends a call with the connection's credential, with up to `retries` more attempts (only
    /// for a body that can be sent again), counting every request sent in `attempts`. `call` is
    /// the call's own headers: its token is checked again before a retry.
    pub(super) async fn send(
        &self,
        t: &Target,
        call: &HeaderMap,
        mut out: Outgoing,
        retries: u8,
        attempts: &mut u32,
    ) -> Result<http::Response<HopBody>, ApiError> {
        let (c, resolved) = (&t.found.c, &t.found.resolved);
        let spec = &resolved.spec;
        let clock = &self.infra.clock;
        let deadline = clock.now_ms().saturating_add(millis(self.settings.timeout));
        let mut cred: Credential = self.credentials.credential(c, resolved, t.user_key, Some(t.fresh), None).await?;
        let (mut refreshed, mut retried) = (false, 0u8);
        loop {
            let left = deadline.saturating_sub(clock.now_ms());
            if left <= 0 {
                return Err(outbound_error(OutboundError::Timeout, &spec.name));
            }
            let mut url = out.url.clone();
            let mut headers = out.headers.clone();
            attach(spec, &cred, &mut url, &mut headers)?;
            let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
            let (body, replayable) = match &mut out.body {
                OutBody::Bytes(b) if b.is_empty() => (Body::empty(), true),
                OutBody::Bytes(b) => (Body::from(b.clone()), true),
                OutBody::Empty => {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                    (Body::empty(), true)
                }
                OutBody::Stream(s, _) => (s.take().unwrap_or_else(Body::empty), false),
            };
            let sent =
                self.infra.outbound.send_api(out.method.clone(), &url, headers, body, self.settings.timeout.min(left));
            *attempts += 1;
            let may_retry = replayable && retried < retries;
            let resp = match crate::metrics::upstream(sent).await {
                Ok(r) => r,
                Err(e) => {
                    if let OutBody::Stream(_, over) = &out.body {
                        if over.load(Ordering::Relaxed) {
                            return Err(too_large(self.settings.max_body_bytes));
                        }
                    }
                    // A connection refused or cut: nothing came back, so another attempt may.
                    if may_retry && matches!(e, OutboundError::Connect(_)) {
                        let wait = retry::backoff(u32::from(retried) + 1, rand::random());
                        if self.fits(wait, deadline, &spec.name, None) {
                            clock.sleep(wait).await;
                            self.still(t, call).await?;
                            retried += 1;
                            continue;
                        }
                    }
                    return Err(outbound_error(e, &spec.name));
                }
            };
            if resp.status() == StatusCode::UNAUTHORIZED && replayable && cred.refreshable && !refreshed {
                refreshed = true;
                cred = self.credentials.credential(c, resolved, t.user_key, None, Some(cred.version)).await?;
                continue;
            }
            let status = resp.status().as_u16();
            if may_retry && retry::retryable(status) {
                let asked = retry::asked_wait(resp.headers(), status, resolved.retries.as_ref(), clock.now_ms());
                let wait = asked.unwrap_or_else(|| retry::backoff(u32::from(retried) + 1, rand::random()));
                if self.fits(wait, deadline, &spec.name, Some(status)) {
                    // The answer is let go first: no connection is held through the wait.
                    drop(resp);
                    clock.sleep(wait).await;
                    self.still(t, call).await?;
                    retried += 1;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// Whether the call may still go on after a wait: its token still names a caller who can
    /// use the same connection, which can still be called (from the memos while nothing changed,
    /// as at the start of a call). The refusal is the one a new call would get.
    async fn still(&self, t: &Target, call: &HeaderMap) -> Result<(), ApiError> {
        let caller = self.tokens.authenticate(call).await?;
        let link = &t.found.c.link_name;
        let now = self.target(&caller, link).await?;
        if now.found.c.id != t.found.c.id || now.user_key != t.user_key {
            return Err(ApiError::new(
                ErrorCode::ConnectionNotFound,
                format!(
                    "The connection \"{link}\" was replaced while the call waited to be retried. Send the call again."
                ),
            ));
        }
        Ok(())
    }

    /// The least time an attempt after a wait must have: 5 s, or a quarter of the call's time
    /// limit when that is more.
    fn min_attempt(&self) -> Duration {
        (self.settings.timeout / 4).max(Duration::from_secs(5))
    }

    /// Whether a wait of `wait` from now still leaves room for an attempt ([`Self::min_attempt`])
    /// before `deadline` (said in the log either way).
    fn fits(&self, wait: Duration, deadline: i64, service: &str, status: Option<u16>) -> bool {
        let wait_ms = millis(wait);
        let end = self.infra.clock.now_ms().saturating_add(wait_ms).saturating_add(millis(self.min_attempt()));
        if end >= deadline {
            tracing::info!(
                service,
                status,
                wait_ms,
                "api call: not retried, the wait would leave no time for an attempt"
            );
            return false;
        }
        tracing::info!(service, status, wait_ms, "api call: retrying after a wait");
        true
    }
}
