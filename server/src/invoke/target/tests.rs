use super::*;
use crate::credentials::attach::{attach, Credential};
use crate::vault::Secret;
use app::service::ServiceForm;
use reqwest::header::HeaderValue;

fn spec(bases: &[&str], auth_type: &str, param_type: &str, f: impl FnOnce(&mut ServiceForm)) -> ServiceSpec {
    let mut form = ServiceForm {
        name: "Acme".into(),
        auth_type: auth_type.into(),
        api_base_urls: bases.iter().map(|s| s.to_string()).collect(),
        param_type: param_type.into(),
        ..Default::default()
    };
    if auth_type == "oauth2" {
        form.grant_type = "client_credentials".into();
        form.client_id = "cid".into();
        form.client_secret = app::model::Password::new("s");
        form.token_url = "https://acme.example/token".into();
    }
    f(&mut form);
    form.parse(false, false).unwrap().spec
}

/// [`super::proxy_url`] and [`super::invoke_url`] on `spec` resolved as a call has it (its base
/// URLs parsed once).
fn proxy_url(spec: &ServiceSpec, path: &str, query: Option<&str>) -> Result<url::Url, ApiError> {
    super::proxy_url(&Resolved::new(spec.clone(), None, String::new()), path, query)
}

fn invoke_url(spec: &ServiceSpec, raw: &str) -> Result<url::Url, ApiError> {
    super::invoke_url(&Resolved::new(spec.clone(), None, String::new()), raw)
}

fn cred(secret: &str, username: Option<&str>) -> Credential {
    Credential { secret: Secret::new(secret), username: username.map(str::to_string), version: 1, refreshable: false }
}

#[test]
fn proxy_paths_stay_under_the_base_url() {
    let s = spec(&["https://api.acme.example/v2"], "api_key", "header", |_| {});
    let ok = |p: &str, q: Option<&str>| proxy_url(&s, p, q).map(|u| u.to_string());
    assert_eq!(ok("users/7", Some("a=1&b=x%20y")).unwrap(), "https://api.acme.example/v2/users/7?a=1&b=x%20y");
    assert_eq!(ok("", None).unwrap(), "https://api.acme.example/v2");
    assert_eq!(ok("a%20b;v=1", None).unwrap(), "https://api.acme.example/v2/a%20b;v=1");
    for escape in ["../admin", "%2e%2e/admin", "..%2fadmin/../../x", "./../../etc", "%2E%2E"] {
        let e = ok(escape, None).unwrap_err();
        assert_eq!(e.code.as_str(), "host_not_allowed", "{escape}: {e:?}");
        assert!(e.message.contains("is not under Acme's API base URLs (https://api.acme.example/v2)"), "{}", e.message);
    }
    // A path that looks like another authority stays a path on the same host.
    assert_eq!(ok("//evil.example/x", None).unwrap(), "https://api.acme.example/v2/evil.example/x");
    assert_eq!(ok("@evil.example/x", None).unwrap(), "https://api.acme.example/v2/@evil.example/x");
}

#[test]
fn paths_that_leave_the_base_path_once_decoded_are_refused() {
    let s = spec(&["https://api.acme.example/v2"], "api_key", "header", |_| {});
    let mut slashes = s.clone();
    slashes.allow_encoded_slashes = true;
    for escape in [
        "..%2Fadmin",
        "..%2fadmin",
        "%2e%2e%2fadmin",
        "..%252Fadmin",
        "%252e%252e/admin",
        "..%5Cadmin",
        "..;/admin",
        "x/..;/..;/admin",
        ".%2e;/admin",
        "a/..%2F..%2Fadmin",
    ] {
        for (spec, label) in [(&s, "default"), (&slashes, "encoded slashes allowed")] {
            let e = proxy_url(spec, escape, None).unwrap_err();
            assert_eq!((e.code.as_str(), e.status().as_u16()), ("path_not_allowed", 400), "{escape} ({label}): {e:?}");
            assert!(e.message.ends_with('.') && e.message.contains("Acme"), "{}", e.message);
            let e = invoke_url(spec, &format!("https://api.acme.example/v2/{escape}")).unwrap_err();
            assert_eq!(e.code.as_str(), "path_not_allowed", "invoke {escape} ({label})");
            let e = invoke_url(spec, &format!("/{escape}?q=1")).unwrap_err();
            assert_eq!(e.code.as_str(), "path_not_allowed", "invoke path {escape} ({label})");
        }
    }
    // An encoded slash that stays inside: only for a service that needs it.
    for inside in ["a%2Fb", "files/a%5Cb", "a%252Fb"] {
        assert_eq!(proxy_url(&s, inside, None).unwrap_err().code.as_str(), "path_not_allowed", "{inside}");
        assert_eq!(
            proxy_url(&slashes, inside, None).unwrap().to_string(),
            format!("https://api.acme.example/v2/{inside}")
        );
    }
    // The root of a host is a base path too.
    let root = spec(&["https://api.acme.example"], "api_key", "header", |_| {});
    assert_eq!(proxy_url(&root, "..%2F..%2Fetc/passwd", None).unwrap_err().code.as_str(), "path_not_allowed");
    assert_eq!(proxy_url(&root, "v1/users", None).unwrap().to_string(), "https://api.acme.example/v1/users");
}

#[test]
fn answers_never_set_state_on_liaisons_origin() {
    let mut h = HeaderMap::new();
    for name in ORIGIN_STATE {
        h.append(*name, HeaderValue::from_static("x"));
    }
    h.append("Set-Cookie", HeaderValue::from_static("b=2"));
    h.append("content-type", HeaderValue::from_static("application/json"));
    h.append("x-ratelimit-remaining", HeaderValue::from_static("9"));
    let down = end_to_end(&h, false);
    let names: Vec<&str> = down.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["content-type", "x-ratelimit-remaining"]);
}

#[test]
fn invoke_urls_must_be_under_some_base_url() {
    let s = spec(&["https://api.acme.example/v2", "https://upload.acme.example"], "api_key", "header", |_| {});
    let at = |u: &str| invoke_url(&s, u).map(|u| u.to_string());
    assert_eq!(at("https://api.acme.example/v2/me?x=1").unwrap(), "https://api.acme.example/v2/me?x=1");
    assert_eq!(at("https://upload.acme.example/files").unwrap(), "https://upload.acme.example/files");
    assert_eq!(at("/me?x=1").unwrap(), "https://api.acme.example/v2/me?x=1");
    for (bad, code) in [
        ("https://evil.example/v2/me", "host_not_allowed"),
        ("http://api.acme.example/v2/me", "host_not_allowed"),
        ("https://api.acme.example:8443/v2/me", "host_not_allowed"),
        ("https://api.acme.example/v20/me", "host_not_allowed"),
        ("https://api.acme.example.evil.example/v2", "host_not_allowed"),
        ("https://user:pw@api.acme.example/v2/me", "invalid_request"),
        ("https://api.acme.example/v2/../admin", "host_not_allowed"),
        ("ht!tp://x", "invalid_request"),
    ] {
        assert_eq!(at(bad).unwrap_err().code.as_str(), code, "{bad}");
    }
    // Forms and the catalogue require a base URL; a spec without one still sends nothing anywhere.
    let mut none = spec(&["https://api.acme.example"], "api_key", "header", |_| {});
    none.api_base_urls.clear();
    let e = invoke_url(&none, "/me").unwrap_err();
    assert_eq!((e.code.as_str(), e.status().as_u16()), ("host_not_allowed", 403));
    assert!(e.message.contains("has no API base URL"), "{}", e.message);
}

#[test]
fn hop_by_hop_headers_and_liaisons_own_never_go_upstream() {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("connection", "keep-alive, x-private"),
        ("keep-alive", "timeout=5"),
        ("x-private", "1"),
        ("te", "trailers"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "h2c"),
        ("authorization", "Bearer lsn_secret"),
        ("cookie", "__Host-liaison=abc"),
        ("host", "liaison.example"),
        ("content-length", "3"),
        ("accept", "application/json"),
        ("x-request-id", "42"),
    ] {
        h.append(k, HeaderValue::from_static(v));
    }
    let up = end_to_end(&h, true);
    let mut names: Vec<&str> = up.keys().map(|k| k.as_str()).collect();
    names.sort();
    assert_eq!(names, ["accept", "x-request-id"]);
    let down = end_to_end(&h, false);
    assert!(
        down.contains_key("authorization") && down.contains_key("content-length") && !down.contains_key("x-private")
    );
}

#[test]
fn credentials_go_where_the_service_wants_them() {
    let mut url = url::Url::parse("https://api.acme.example/v2/me?a=1&api_key=forged&b=x%20y").unwrap();
    let mut headers = HeaderMap::new();
    let query = spec(&["https://api.acme.example/v2"], "api_key", "query", |f| f.query_param = "api_key".into());
    attach(&query, &cred("k&y=1", None), &mut url, &mut headers).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(pairs, [("a".into(), "1".into()), ("b".into(), "x y".into()), ("api_key".into(), "k&y=1".into())]);
    assert!(headers.is_empty());

    // Without a clash the script's query is left as written.
    let mut url = url::Url::parse("https://api.acme.example/v2/me?b=x%20y").unwrap();
    attach(&query, &cred("k", None), &mut url, &mut headers).unwrap();
    assert_eq!(url.query(), Some("b=x%20y&api_key=k"));

    let header = spec(&["https://api.acme.example"], "api_key", "header", |f| {
        f.header_name = "X-Api-Key".into();
    });
    headers.insert("x-api-key", HeaderValue::from_static("forged"));
    attach(&header, &cred("key1", None), &mut url, &mut headers).unwrap();
    assert_eq!(headers.get_all("x-api-key").iter().collect::<Vec<_>>(), ["key1"]);
    assert!(headers["x-api-key"].is_sensitive());

    let zoho = spec(&["https://api.acme.example"], "oauth2", "header", |f| f.header_prefix = "Zoho-oauthtoken".into());
    attach(&zoho, &cred("tok", None), &mut url, &mut headers).unwrap();
    assert_eq!(headers["authorization"], "Zoho-oauthtoken tok");
    let bearer = spec(&["https://api.acme.example"], "oauth2", "header", |_| {});
    attach(&bearer, &cred("tok", None), &mut url, &mut headers).unwrap();
    assert_eq!(headers["authorization"], "Bearer tok");

    let basic = spec(&["https://api.acme.example"], "basic", "header", |_| {});
    attach(&basic, &cred("pa:ss", Some("ann")), &mut url, &mut headers).unwrap();
    assert_eq!(headers["authorization"], "Basic YW5uOnBhOnNz");

    let e = attach(&header, &cred("bad\nvalue", None), &mut url, &mut headers).unwrap_err();
    assert_eq!(e.code.as_str(), "invalid_request");
    assert!(!e.message.contains("bad"), "{}", e.message);
}

#[test]
fn the_targets_cap_counts_every_organisation() {
    let catalog = crate::catalog::Catalog::load(None).unwrap();
    let spec = catalog.services()[0].spec.clone();
    let found = |org_id: i64, link: &str| {
        Arc::new(Found {
            c: ConnectionRecord {
                id: 1,
                org_id,
                link_name: link.into(),
                name: link.into(),
                service: app::connection::ServiceRef::Predefined("x".into()),
                service_name: "X".into(),
                scopes: vec![],
                per_user: false,
                internal: false,
                status: ConnectionStatus::Connected,
                status_reason: None,
                client_id: None,
                client_secret: None,
                created_by: None,
                created_by_name: "Ada".into(),
                created_at: 1,
                last_used_at: None,
            },
            resolved: Resolved::new(spec.clone(), None, "p-x".into()),
        })
    };
    let mut targets = Targets::default();
    // One link in each of MAX_ENTRIES organisations, then one more: they start again.
    for org in 0..MAX_ENTRIES as i64 {
        targets.keep(found(org, "a"));
    }
    assert!(targets.get((MAX_ENTRIES - 1) as i64, "a").is_some(), "all kept up to the cap");
    targets.keep(found(-1, "b"));
    assert!(targets.get((MAX_ENTRIES - 1) as i64, "a").is_none(), "past the cap, the targets start again");
    assert!(targets.get(-1, "b").is_some());
}
