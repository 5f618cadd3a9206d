//! The one table of OAuth error codes a provider answers with (RFC 6749 §5.2, and GitHub's, sent
//! with HTTP 200) and the advice that goes with them, for the UI's sentences and the log's clauses.

/// What a person can do about an OAuth error code: one piece of advice, worded as a sentence for
/// the person who acts and as a clause for the log and the audit.
pub struct Hint {
    pub sentence: &'static str,
    pub clause: &'static str,
}

/// The codes of a dead grant: RFC 6749's, and GitHub's (sent with HTTP 200).
pub(super) const INVALID_GRANT: &[&str] = &["invalid_grant", "bad_verification_code", "bad_refresh_token"];

/// The one table of OAuth error codes (GitHub's with their RFC 6749 peers) and their advice.
const HINTS: &[(&[&str], Hint)] = &[
    (
        &["invalid_client", "unauthorized_client", "incorrect_client_credentials"],
        Hint { sentence: "Check the client ID and secret.", clause: "check the service's client ID and client secret" },
    ),
    (
        INVALID_GRANT,
        Hint {
            sentence: "Connect again to grant access anew.",
            clause: "the authorisation is no longer valid: authorise the connection again",
        },
    ),
    (&["invalid_scope"], Hint { sentence: "Check the scopes.", clause: "check the scopes chosen for the connection" }),
];

/// The advice for a provider's OAuth error code, if there is one.
pub fn hint(error: &str) -> Option<&'static Hint> {
    HINTS.iter().find(|(codes, _)| codes.contains(&error)).map(|(_, h)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_codes_get_the_advice_of_their_rfc_peers() {
        for (code, peer) in [
            ("incorrect_client_credentials", "invalid_client"),
            ("bad_verification_code", "invalid_grant"),
            ("bad_refresh_token", "invalid_grant"),
        ] {
            let (h, p) = (hint(code).unwrap(), hint(peer).unwrap());
            assert_eq!((h.sentence, h.clause), (p.sentence, p.clause), "{code}");
        }
        assert_eq!(hint("invalid_scope").map(|h| h.sentence), Some("Check the scopes."));
        assert!(hint("temporarily_unavailable").is_none());
    }
}
