//! Cross-site request forgery defence: a state-changing request (anything but GET, HEAD, OPTIONS)
//! is accepted only when the browser says it is same-origin (`Sec-Fetch-Site`) or, for browsers
//! that do not send that header, when `Origin` is Liaison's own. Neither header → refused.

use axum::http::{HeaderMap, Method};

/// What the browser says of where the request comes from (`Sec-Fetch-Site`: `same-origin`,
/// `same-site`, `cross-site`, or `none` for an address typed or a bookmark); None when it does not
/// say.
pub fn fetch_site(headers: &HeaderMap) -> Option<&str> {
    headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
}

/// Whether a request may change state.
pub fn is_same_origin(method: &Method, headers: &HeaderMap, public_origin: &str, trust_host: bool) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site(headers) {
        return site == "same-origin";
    }
    match header("origin") {
        Some(origin) if origin == public_origin => true,
        // Without a configured public URL, the origin must match the host the request was sent to.
        Some(origin) if trust_host => header("host").is_some_and(|host| origin == format!("http://{host}")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const ME: &str = "https://liaison.example";

    #[test]
    fn safe_methods_always_pass() {
        assert!(is_same_origin(&Method::GET, &headers(&[("origin", "https://evil.example")]), ME, false));
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(is_same_origin(&Method::POST, &headers(&[("sec-fetch-site", "same-origin")]), ME, false));
        for site in ["cross-site", "same-site", "none"] {
            let h = headers(&[("sec-fetch-site", site), ("origin", ME)]);
            assert!(!is_same_origin(&Method::POST, &h, ME, false), "{site}");
        }
    }

    #[test]
    fn origin_must_match_when_fetch_metadata_is_absent() {
        assert!(is_same_origin(&Method::POST, &headers(&[("origin", ME)]), ME, false));
        assert!(!is_same_origin(&Method::POST, &headers(&[("origin", "https://evil.example")]), ME, false));
        assert!(!is_same_origin(&Method::DELETE, &headers(&[("origin", "null")]), ME, false));
        assert!(!is_same_origin(&Method::POST, &headers(&[]), ME, false), "no evidence, no entry");
    }

    #[test]
    fn host_is_trusted_only_without_a_configured_public_url() {
        let h = headers(&[("origin", "http://10.0.0.5:3000"), ("host", "10.0.0.5:3000")]);
        assert!(is_same_origin(&Method::POST, &h, "http://0.0.0.0:3000", true));
        assert!(!is_same_origin(&Method::POST, &h, "http://0.0.0.0:3000", false));
        let h = headers(&[("origin", "http://evil.example"), ("host", "10.0.0.5:3000")]);
        assert!(!is_same_origin(&Method::POST, &h, "http://0.0.0.0:3000", true));
    }
}
