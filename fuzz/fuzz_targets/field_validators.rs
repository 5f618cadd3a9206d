//! The form validators: a link name, a service URL, a whole custom-service form. Never a panic;
//! what they accept keeps their promises (checked against the `url` crate's reading of a URL).
#![no_main]

use app::connection::LinkName;
use app::service::{ServiceForm, ServiceUrl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(link) = LinkName::parse(text) {
        let s = link.as_str();
        assert!(!s.is_empty() && s.len() <= 64, "{s:?}");
        assert!(s.starts_with(|c: char| c.is_ascii_lowercase()), "{s:?}");
        assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{s:?}");
        assert_eq!(LinkName::parse(s).as_ref().map(LinkName::as_str), Ok(s), "parsing is idempotent");
    }
    for allow_http in [false, true] {
        if let Ok(u) = ServiceUrl::parse(text, allow_http) {
            let parsed = url::Url::parse(u.as_str()).unwrap_or_else(|e| panic!("accepted {u:?}, which url rejects: {e}"));
            assert!(parsed.scheme() == "https" || (allow_http && parsed.scheme() == "http"), "{u:?}");
            assert!(parsed.username().is_empty() && parsed.password().is_none(), "credentials in {u:?}");
            assert!(parsed.fragment().is_none(), "a fragment in {u:?}");
            assert!(parsed.host_str().is_some_and(|h| !h.is_empty()), "no host in {u:?}");
        }
    }
    if let Ok(form) = serde_json::from_slice::<ServiceForm>(data) {
        for (allow_http, has_secret) in [(false, false), (true, true)] {
            if let Ok(parsed) = form.parse(allow_http, has_secret) {
                assert!(!parsed.spec.name.trim().is_empty());
                assert!(!parsed.spec.api_base_urls.is_empty(), "a service with nowhere to send the credential");
            }
        }
    }
});
