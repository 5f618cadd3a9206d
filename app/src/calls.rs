//! A connection's recent API calls as its details page shows them (from the call log): when, who,
//! what, where, how it ended and how long it took. Never a header, a body or a credential.

use serde::{Deserialize, Serialize};

/// How many of a connection's calls its details page shows.
pub const RECENT_CALLS: i64 = 20;

/// One call through the scripts' API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallView {
    /// Unix milliseconds.
    pub at: i64,
    /// The person and their API token: `ada@acme.example (token Nightly sync)`.
    pub caller: String,
    pub method: String,
    pub host: String,
    /// The answer's HTTP status; 0 when none came.
    pub status: u16,
    pub latency_ms: i64,
    /// Liaison's code for a failure (`upstream_timeout`, `needs_reauthorization`…).
    pub error: Option<String>,
    /// Requests sent to the service: more than 1 when the call was retried.
    pub attempts: u32,
}

impl CallView {
    /// The call did not get a successful answer.
    pub fn failed(&self) -> bool {
        self.status == 0 || self.status >= 400 || self.error.is_some()
    }

    /// The status in words: `200`, `502 upstream_unreachable`, `no answer`.
    pub fn outcome(&self) -> String {
        match (self.status, &self.error) {
            (0, Some(e)) => format!("no answer ({e})"),
            (0, None) => "no answer".into(),
            (s, Some(e)) => format!("{s} {e}"),
            (s, None) => s.to_string(),
        }
    }

    /// The attempts in words when there were several: `after 3 attempts`.
    pub fn retried(&self) -> Option<String> {
        (self.attempts > 1).then(|| format!("after {} attempts", self.attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_told_in_words() {
        let call = |status, error: Option<&str>| CallView {
            at: 0,
            caller: "a".into(),
            method: "GET".into(),
            host: "h".into(),
            status,
            latency_ms: 1,
            error: error.map(str::to_string),
            attempts: 1,
        };
        assert!(!call(200, None).failed());
        assert!(call(404, None).failed() && call(0, None).failed() && call(200, Some("x")).failed());
        assert_eq!(call(502, Some("upstream_unreachable")).outcome(), "502 upstream_unreachable");
        assert_eq!(call(0, Some("upstream_timeout")).outcome(), "no answer (upstream_timeout)");
        assert_eq!(call(201, None).outcome(), "201");
        assert_eq!(call(200, None).retried(), None, "one attempt is not worth a word");
        assert_eq!(CallView { attempts: 3, ..call(503, None) }.retried().as_deref(), Some("after 3 attempts"));
    }
}
