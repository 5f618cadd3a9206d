//! The SSRF matrix through Liaison's real paths: every internal address form — loopback, RFC 1918,
//! link-local metadata, CGNAT, ULA, `::1`, `0.0.0.0`, decimal / octal / hex IPv4, IPv4-mapped IPv6,
//! `localhost` and a name from /etc/hosts — as a token endpoint (client credentials), a revoke
//! endpoint, an API base URL (proxy and invoke), an issuer to discover, and a token endpoint met by
//! a refresh through the API: refused with `host_not_allowed` while the operator has not allowed
//! private networks, and nothing arrives at the listeners behind the loopback forms. Redirects are
//! never followed, even where private addresses are allowed.

use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{create_connection, create_service, exec, sqlite_rows};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A TCP listener that only counts the connections made to it.
struct Tripwire {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Tripwire {
    async fn bind(addr: &str) -> Option<Tripwire> {
        let listener = tokio::net::TcpListener::bind(addr).await.ok()?;
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Some(Tripwire { port, hits })
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A name from /etc/hosts (other than localhost) that resolves to an internal address.
fn hosts_file_name() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().filter(|l| !l.trim_start().starts_with('#')).find_map(|l| {
        let mut parts = l.split_whitespace();
        let ip: std::net::IpAddr = parts.next()?.parse().ok()?;
        let name = parts.find(|n| *n != "localhost" && !n.contains("localhost"))?;
        server::outbound::is_forbidden_ip(ip).then(|| name.to_string())
    })
}

/// Every internal address form, as a base URL; the loopback forms point at `port` (where the fault
/// provider listens), `::1` at `port6`.
fn forms(port: u16, port6: u16) -> Vec<(String, String)> {
    let mut v: Vec<(&str, String)> = vec![
        ("loopback", format!("http://127.0.0.1:{port}")),
        ("10/8", format!("http://10.0.0.7:{port}")),
        ("172.16/12", format!("http://172.16.5.4:{port}")),
        ("192.168/16", format!("http://192.168.1.20:{port}")),
        ("cloud metadata", "http://169.254.169.254".to_string()),
        ("CGNAT 100.64/10", format!("http://100.64.0.9:{port}")),
        ("ULA fc00::/7", format!("http://[fd12:3456::1]:{port}")),
        ("::1", format!("http://[::1]:{port6}")),
        ("0.0.0.0", format!("http://0.0.0.0:{port}")),
        ("decimal IPv4", format!("http://2130706433:{port}")),
        ("octal IPv4", format!("http://0177.0.0.1:{port}")),
        ("hex IPv4", format!("http://0x7f000001:{port}")),
        ("IPv4-mapped IPv6", format!("http://[::ffff:127.0.0.1]:{port}")),
        ("localhost", format!("http://localhost:{port}")),
    ];
    let hosts = hosts_file_name().map(|n| format!("http://{n}:{port}"));
    v.extend(hosts.map(|h| ("a name in /etc/hosts", h)));
    v.into_iter().map(|(l, u)| (l.to_string(), u)).collect()
}

fn cc_service(name: &str, token_url: &str, revoke_url: &str, api_base: &str) -> Value {
    json!({
        "name": name, "auth_type": "oauth2", "grant_type": "client_credentials",
        "client_id": "ssrf-client", "client_secret": "ssrf-client-secret",
        "token_url": token_url, "revoke_url": revoke_url, "api_base_urls": [api_base],
        "scopes": [{ "name": "read", "display": "Read" }],
    })
}

fn assert_refused(what: &str, status: u16, body: &Value, expected_status: u16) {
    assert_eq!((status, body["code"].as_str()), (expected_status, Some("host_not_allowed")), "{what}: {body}");
}

async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn internal_addresses_are_refused_on_every_outbound_path() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    fp.set_at("/v1/data", Fault::json(200, json!({ "reached": true })));
    let port = fp.base.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let six = Tripwire::bind("[::1]:0").await;
    let forms = forms(port, six.as_ref().map_or(9, |t| t.port));
    assert!(forms.len() >= 14, "{forms:?}");

    // Phase 1, private networks allowed: connections whose token endpoint is the fault provider,
    // and whose revoke URL and API base URL are the form under test.
    let open = Server::with_local_providers(&db, &[]);
    let client = open.client();
    assert_eq!(setup(&client).await.status, 200);
    let mut ids = Vec::new();
    for (i, (label, base)) in forms.iter().enumerate() {
        let connected = create_service(
            &client,
            cc_service(&format!("Connected {i}"), &fp.url("/token"), &format!("{base}/revoke"), base),
        )
        .await;
        let r = create_connection(
            &client,
            json!({ "name": format!("via {i}"), "link_name": format!("via_{i}"),
                    "service": { "kind": "custom", "id": connected }, "scopes": ["read"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let token_here = create_service(
            &client,
            cc_service(&format!("Token {i}"), &format!("{base}/token"), &format!("{base}/revoke"), base),
        )
        .await;
        ids.push(token_here);
    }
    // A connection whose API is public but whose token endpoint is the loopback fault provider.
    let public =
        create_service(&client, cc_service("Public API", &fp.url("/token"), "", "https://api.public.example")).await;
    let r = create_connection(
        &client,
        json!({ "name": "Public", "link_name": "public", "service": { "kind": "custom", "id": public }, "scopes": ["read"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token =
        client.call("create_api_token", json!({ "name": "ssrf" })).await.json()["token"].as_str().unwrap().to_string();
    let cookie = client.cookie.lock().unwrap().clone();
    drop(open);

    // Phase 2: the operator's default, no private networks.
    let server = Server::start_with(&db, &[("LIAISON_ALLOW_HTTP_URLS", "true")]);
    let client = server.client();
    *client.cookie.lock().unwrap() = cookie;
    let http = reqwest::Client::new();
    let reached = fp.requests().len();
    for (i, (label, base)) in forms.iter().enumerate() {
        // Token endpoint (client credentials, at Connect).
        let r = create_connection(
            &client,
            json!({ "name": format!("token {i}"), "service": { "kind": "custom", "id": ids[i] }, "scopes": ["read"] }),
        )
        .await;
        let what = format!("{label} as token endpoint");
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (502, Some("host_not_allowed")),
            "{what}: {}\n{}",
            r.body,
            server.log()
        );
        // An issuer to discover.
        let r = client.call("discover_service", json!({ "issuer": base })).await;
        assert_refused(&format!("{label} as issuer"), r.status, &r.json(), 502);
        // The API: proxy and invoke.
        let link = format!("via_{i}");
        let (s, b) =
            call(http.get(format!("{}/api/v1/connections/{link}/proxy/v1/data", server.url)).bearer_auth(&token)).await;
        assert_refused(&format!("{label} by proxy"), s, &b, 403);
        let (s, b) = call(
            http.post(format!("{}/api/v1/invoke", server.url))
                .bearer_auth(&token)
                .json(&json!({ "connection": link, "url": "/v1/data" })),
        )
        .await;
        assert_refused(&format!("{label} by invoke"), s, &b, 403);
        let (s, b) = call(
            http.post(format!("{}/api/v1/invoke", server.url))
                .bearer_auth(&token)
                .json(&json!({ "connection": link, "url": format!("{base}/v1/data") })),
        )
        .await;
        assert_refused(&format!("{label} by invoke, absolute URL"), s, &b, 403);
        // Revoke: done here, refused at the provider's (internal) address, and audited.
        let r = client.call("revoke_connection", json!({ "link_name": link })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let audit = sqlite_rows(
            &db,
            &format!("SELECT detail FROM audit_log WHERE action = 'connection.revoke_at_provider_failed' AND target = '{link}'"),
        )
        .await;
        use sqlx::Row;
        let detail: String =
            audit.first().unwrap_or_else(|| panic!("{label}: no revoke failure audited")).get("detail");
        assert!(detail.contains("otherwise internal address"), "{label} as revoke endpoint: {detail}");
    }
    // A refresh through the API meets the guard at the (loopback) token endpoint.
    exec(&db, "UPDATE grants SET expires_at = 1").await;
    let (s, b) =
        call(http.get(format!("{}/api/v1/connections/public/proxy/v1/data", server.url)).bearer_auth(&token)).await;
    assert_refused("a refresh at a loopback token endpoint", s, &b, 403);

    assert_eq!(fp.requests().len(), reached, "nothing was sent: {:?}", &fp.requests()[reached..]);
    if let Some(six) = &six {
        assert_eq!(six.hits(), 0, "nothing reached [::1]");
    }
    assert!(!server.log().contains("ssrf-client-secret"));
}

#[tokio::test]
async fn redirects_are_never_followed_even_to_allowed_addresses() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    let elsewhere = Tripwire::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://127.0.0.1:{}/steal", elsewhere.port);
    // Private networks allowed: the only thing between the redirect and the tripwire is the rule.
    let server = Server::with_local_providers(&db, &[]);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);

    // A token endpoint that redirects: not followed, not connected.
    fp.set_at("/moved-token", Fault::redirect(&target));
    let id = create_service(&client, cc_service("Moved", &fp.url("/moved-token"), "", &fp.base)).await;
    let r = create_connection(
        &client,
        json!({ "name": "Moved", "service": { "kind": "custom", "id": id }, "scopes": ["read"] }),
    )
    .await;
    assert_ne!(r.status, 200, "a redirect is not a token answer: {}", r.body);

    // A revoke endpoint that redirects: not followed.
    fp.set_at("/moved-revoke", Fault::redirect(&target));
    let id =
        create_service(&client, cc_service("Revoker", &fp.url("/token"), &fp.url("/moved-revoke"), &fp.base)).await;
    let r = create_connection(
        &client,
        json!({ "name": "Revoker", "link_name": "revoker", "service": { "kind": "custom", "id": id }, "scopes": ["read"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(client.call("revoke_connection", json!({ "link_name": "revoker" })).await.status, 200);
    assert_eq!(fp.calls("/moved-revoke"), 1);

    // The API: the 302 comes back to the script as it is.
    assert_eq!(client.call("connect", json!({ "link_name": "revoker", "form": {} })).await.status, 200);
    let token = client.call("create_api_token", json!({ "name": "redirects" })).await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    fp.set_at("/v1/moved", Fault::redirect(&target));
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/api/v1/connections/revoker/proxy/v1/moved", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (302, target.as_str()));
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/invoke", server.url))
        .bearer_auth(&token)
        .json(&json!({ "connection": "revoker", "url": "/v1/moved" }))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 302, "{body}");

    assert_eq!(fp.calls("/moved-token"), 1, "the redirecting token endpoint was asked once");
    assert_eq!(fp.calls("/v1/moved"), 2);
    assert_eq!(elsewhere.hits(), 0, "no redirect was followed");
}

/// `allow_private_network` as CIDR ranges (issue 17): `true` still opens every internal address
/// but never a cloud metadata endpoint; `127.0.0.1/32` opens that address and nothing else of
/// 127/8.
#[tokio::test]
async fn private_network_ranges_open_only_what_they_name_and_never_the_metadata_endpoint() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    fp.set_at("/v1/data", Fault::json(200, json!({ "reached": true })));
    let Some(other) = Tripwire::bind("127.0.0.2:0").await else {
        eprintln!("skipped: 127.0.0.2 cannot be bound here");
        return;
    };
    let limits = [("LIAISON_ALLOW_HTTP_URLS", "true"), ("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "2")];
    let open = Server::start_with(&db, &[limits[0], limits[1], ("LIAISON_ALLOW_PRIVATE_NETWORK", "true")]);
    let client = open.client();
    assert_eq!(setup(&client).await.status, 200);
    for (link, base) in [
        ("here", fp.base.clone()),
        ("next_door", format!("http://127.0.0.2:{}", other.port)),
        ("metadata", "http://169.254.169.254".to_string()),
        ("metadata6", "http://[fd00:ec2::254]".to_string()),
    ] {
        let id = create_service(&client, cc_service(link, &fp.url("/token"), "", &base)).await;
        let r = create_connection(
            &client,
            json!({ "name": link, "link_name": link, "service": { "kind": "custom", "id": id }, "scopes": ["read"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{link}: {}", r.body);
    }
    let token = client.call("create_api_token", json!({ "name": "ranges" })).await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let proxy = |server: &Server, link: &str| {
        http.get(format!("{}/api/v1/connections/{link}/proxy/v1/data", server.url)).bearer_auth(&token)
    };

    // `true`: loopback as before, the metadata endpoints refused before anything is sent.
    let (s, b) = call(proxy(&open, "here")).await;
    assert_eq!((s, &b["reached"]), (200, &json!(true)), "true reaches loopback: {b}");
    for link in ["metadata", "metadata6"] {
        let (s, b) = call(proxy(&open, link)).await;
        assert_refused(&format!("{link} under allow_private_network=true"), s, &b, 403);
    }
    drop(open);

    // `127.0.0.1/32`: that address, and not 127.0.0.2 (nor the metadata endpoint).
    let server = Server::start_with(&db, &[limits[0], limits[1], ("LIAISON_ALLOW_PRIVATE_NETWORK", "127.0.0.1/32")]);
    let (s, b) = call(proxy(&server, "here")).await;
    assert_eq!((s, &b["reached"]), (200, &json!(true)), "127.0.0.1/32 reaches 127.0.0.1: {b}");
    for link in ["next_door", "metadata"] {
        let (s, b) = call(proxy(&server, link)).await;
        assert_refused(&format!("{link} under allow_private_network=127.0.0.1/32"), s, &b, 403);
    }
    assert_eq!(other.hits(), 0, "nothing reached 127.0.0.2");
    drop(server);

    // A range that is not one: the server does not start, and says why.
    let out = db.command().env("LIAISON_ALLOW_PRIVATE_NETWORK", "127.0.0.1/8").arg("migrate").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("allow_private_network") && err.contains("did you mean 127.0.0.0/8?"), "{err}");
}
