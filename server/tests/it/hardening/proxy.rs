//! The scripts' API against hostile callers and a hostile service (issue 17): proxy and `invoke`
//! paths that climb out of the API base path once decoded, link names that contain `proxy`,
//! TRACE and CONNECT, a service's headers that would set state on Liaison's origin, and `invoke`
//! bodies that cost memory before the caller is known. The service is a raw TCP listener that
//! records every request target exactly as it arrives, and attacks are sent over raw TCP too
//! (see [`super::raw_http`]).

use super::raw_http::{raw, RawAnswer, Upstream};
use crate::harness::*;
use crate::lifecycle::{create_connection, create_service};
use serde_json::{json, Value};

const LINK: &str = "acme_api";

/// Liaison (local http services allowed), signed in, an API-key service whose base URL is the
/// upstream's `/v1/`, a connection per link name, and an API token.
async fn setup_api(db: &Db, up: &Upstream, links: &[&str]) -> (Server, String) {
    let server = Server::with_local_providers(db, &[]);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    create_service(
        &client,
        json!({ "name": "Upstream", "auth_type": "api_key", "api_base_urls": [up.base()],
                "param_type": "header", "header_name": "X-Key" }),
    )
    .await;
    for link in links {
        let r = create_connection(
            &client,
            json!({ "name": format!("Conn {link}"), "link_name": link, "service": { "kind": "custom", "id": 1 },
                    "api_key": "k-upstream-0001" }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = client.call("create_api_token", json!({ "name": "hostile" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_string();
    (server, token)
}

async fn proxy_get(server: &Server, token: &str, link: &str, rest: &str) -> RawAnswer {
    raw(server, &format!("GET /api/v1/connections/{link}/proxy/{rest} HTTP/1.1\r\nauthorization: Bearer {token}"), b"")
        .await
}

async fn invoke(server: &Server, token: Option<&str>, call: &str) -> RawAnswer {
    let auth = token.map(|t| format!("\r\nauthorization: Bearer {t}")).unwrap_or_default();
    let head = format!(
        "POST /api/v1/invoke HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: {}{auth}",
        call.len()
    );
    raw(server, &head, call.as_bytes()).await
}

#[tokio::test]
async fn proxy_and_invoke_paths_never_leave_the_api_base_path_once_decoded() {
    for db in databases().await {
        let label = db.label();
        let up = Upstream::start(&[]).await;
        let (server, token) = setup_api(&db, &up, &[LINK]).await;

        // Paths that stay inside pass as they were sent.
        for rest in ["things/a%20b", "items;v=2", "100%25"] {
            let a = proxy_get(&server, &token, LINK, rest).await;
            assert_eq!(a.status, 200, "{label} {rest}: {}", a.body);
        }
        let inside = up.targets();
        assert_eq!(inside, ["GET /v1/things/a%20b", "GET /v1/items;v=2", "GET /v1/100%25"], "{label}");

        // (path after /proxy/, the code: the URL parser resolves some itself and finds the
        // result outside the base URL; the rest leave it only once a server decodes them).
        let attacks = [
            ("..%2Fsecret", "path_not_allowed"),
            ("..%2fsecret", "path_not_allowed"),
            ("%2e%2e%2fsecret", "path_not_allowed"),
            ("..%252Fsecret", "path_not_allowed"),
            ("%252e%252e/secret", "path_not_allowed"),
            ("..%5Csecret", "path_not_allowed"),
            ("..;/secret", "path_not_allowed"),
            ("x/..;/..;/secret", "path_not_allowed"),
            (".%2e;/secret", "path_not_allowed"),
            ("a%2Fb", "path_not_allowed"),
            ("%2e%2e/secret", "host_not_allowed"),
            (".%2E/secret", "host_not_allowed"),
        ];
        let mut answers = Vec::new();
        for (rest, code) in attacks {
            let a = proxy_get(&server, &token, LINK, rest).await;
            answers.push(format!("proxy {rest} -> {} {}", a.status, a.json()["code"]));
            let status = if code == "path_not_allowed" { 400 } else { 403 };
            if (a.status, a.json()["code"].as_str()) != (status, Some(code)) {
                answers.push(format!("  expected {status} {code}"));
            }
            // The same through invoke, as a path and as an absolute URL.
            let port = up.port;
            for url in [format!("/{rest}"), format!("http://127.0.0.1:{port}/v1/{rest}")] {
                let a = invoke(&server, Some(&token), &json!({ "connection": LINK, "url": url }).to_string()).await;
                if (a.status, a.json()["code"].as_str()) != (status, Some(code)) {
                    answers.push(format!(
                        "  invoke {url} -> {} {}, expected {status} {code}",
                        a.status,
                        a.json()["code"]
                    ));
                }
            }
        }
        // A raw backslash: whatever the HTTP layer makes of it, nothing goes out.
        let a = proxy_get(&server, &token, LINK, "..\\secret").await;
        answers.push(format!("proxy ..\\secret -> {}", a.status));
        if a.status == 200 {
            answers.push("  expected a refusal".into());
        }
        let reached: Vec<String> = up.targets().into_iter().skip(inside.len()).collect();
        assert!(
            reached.is_empty() && !answers.iter().any(|l| l.starts_with("  ")),
            "{label}: the upstream received {reached:#?}\nanswers: {answers:#?}"
        );
        let a = proxy_get(&server, &token, LINK, "..%2Fsecret").await;
        assert!(a.json()["message"].as_str().unwrap().ends_with('.'), "{}", a.body);
        assert!(!server.log().contains("k-upstream-0001"));
    }
}

#[tokio::test]
async fn a_link_name_containing_proxy_reaches_its_own_path() {
    for db in databases().await {
        let label = db.label();
        let up = Upstream::start(&[]).await;
        let (server, token) = setup_api(&db, &up, &["proxy_api", "my_proxy"]).await;
        assert_eq!(proxy_get(&server, &token, "proxy_api", "things").await.status, 200);
        assert_eq!(proxy_get(&server, &token, "my_proxy", "proxy/things?q=a%2Fb").await.status, 200);
        let root = raw(
            &server,
            &format!("GET /api/v1/connections/proxy_api/proxy HTTP/1.1\r\nauthorization: Bearer {token}"),
            b"",
        )
        .await;
        assert_eq!(root.status, 200, "{}", root.body);
        assert_eq!(up.targets(), ["GET /v1/things", "GET /v1/proxy/things?q=a%2Fb", "GET /v1"], "{label}");
    }
}

#[tokio::test]
async fn trace_and_connect_are_refused_and_answers_set_no_state_on_liaisons_origin() {
    let stateful = [
        ("set-cookie", "session=upstream; Path=/"),
        ("set-cookie2", "legacy=1"),
        ("clear-site-data", "\"cookies\", \"storage\""),
        ("strict-transport-security", "max-age=63072000; includeSubDomains"),
        ("alt-svc", "h3=\":4433\"; ma=86400"),
        ("nel", "{\"report_to\":\"x\",\"max_age\":86400}"),
        ("report-to", "{\"group\":\"x\",\"max_age\":86400,\"endpoints\":[{\"url\":\"https://evil.example\"}]}"),
        ("accept-ch", "Sec-CH-UA-Model"),
        ("origin-agent-cluster", "?1"),
        ("service-worker-allowed", "/"),
    ];
    for db in databases().await {
        let label = db.label();
        let mut headers = stateful.to_vec();
        headers.push(("x-kept", "1"));
        let up = Upstream::start(&headers).await;
        let (server, token) = setup_api(&db, &up, &[LINK]).await;

        for method in ["TRACE", "CONNECT"] {
            let a = raw(
                &server,
                &format!("{method} /api/v1/connections/{LINK}/proxy/things HTTP/1.1\r\nauthorization: Bearer {token}"),
                b"",
            )
            .await;
            assert_eq!(
                (a.status, a.json()["code"].as_str()),
                (400, Some("invalid_request")),
                "{label} {method}: {}",
                a.body
            );
            let call = json!({ "connection": LINK, "method": method, "url": "/things" }).to_string();
            let a = invoke(&server, Some(&token), &call).await;
            assert_eq!(
                (a.status, a.json()["code"].as_str()),
                (400, Some("invalid_request")),
                "{label} invoke {method}"
            );
        }
        assert_eq!(up.targets(), Vec::<String>::new(), "{label}: nothing was sent upstream");

        let a = proxy_get(&server, &token, LINK, "things").await;
        assert_eq!(a.status, 200, "{label}: {}", a.body);
        assert!(a.head.contains("\r\nx-kept: 1"), "{}", a.head);
        let inv = invoke(&server, Some(&token), &json!({ "connection": LINK, "url": "/things" }).to_string()).await;
        assert_eq!(inv.json()["headers"]["x-kept"], "1", "{}", inv.body);
        for (name, _) in stateful {
            assert!(!a.head.contains(&format!("\r\n{name}:")), "{label}: the proxy passed {name} on:\n{}", a.head);
            assert!(inv.json()["headers"].get(name).is_none(), "{label}: invoke passed {name} on: {}", inv.body);
        }
    }
}

/// The server's memory now (`VmRSS`) and its peak (`VmHWM`), in bytes.
fn memory(server: &Server) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the server's peak (`VmHWM`) to its current RSS (Linux `clear_refs` 5).
fn reset_peak(server: &Server) {
    std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5").unwrap();
}

/// An invoke call of about `size` bytes whose body is `[0,0,…]`.
fn tiny_values(prefix: &str, size: usize) -> Vec<u8> {
    let mut out = format!("{prefix}\"body\":[0").into_bytes();
    while out.len() + 4 < size {
        out.extend_from_slice(b",0");
    }
    out.extend_from_slice(b"]}");
    out
}

const MB: u64 = 1024 * 1024;

#[tokio::test]
async fn invoke_knows_the_caller_before_it_reads_or_parses_a_body() {
    for db in databases().await {
        let label = db.label();
        let up = Upstream::start(&[]).await;
        let (server, token) = setup_api(&db, &up, &[LINK]).await;

        // An anonymous call announcing 20 MB, none of it sent: answered at once.
        let a = raw(
            &server,
            "POST /api/v1/invoke HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 20000000",
            b"",
        )
        .await;
        assert_eq!((a.status, a.json()["code"].as_str()), (401, Some("unauthenticated")), "{label}: {}", a.body);

        // 8 anonymous 20 MB bodies of tiny values at once: no reading, no parsing.
        let body = bytes::Bytes::from(tiny_values("{", 20_000_000));
        let http = reqwest::Client::new();
        let (rss, _) = memory(&server);
        reset_peak(&server);
        let calls = (0..8).map(|_| {
            http.post(format!("{}/api/v1/invoke", server.url))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
        });
        let answers = futures_util::future::join_all(calls).await;
        let (_, peak) = memory(&server);
        // Answered 401 before the body is read: the server may close while a client still sends.
        let statuses: Vec<String> = answers
            .iter()
            .map(|r| r.as_ref().map(|r| r.status().as_u16().to_string()).unwrap_or_else(|_| "closed".into()))
            .collect();
        assert!(statuses.iter().all(|s| s == "401" || s == "closed"), "{label}: {statuses:?}");
        eprintln!(
            "{label}: 8 anonymous 20 MB invoke bodies: RSS before {} MB, peak {} MB ({statuses:?})",
            rss / MB,
            peak / MB
        );
        assert!(peak <= rss + 50 * MB, "{label}: peak RSS {} MB, {} MB before", peak / MB, rss / MB);

        // A good call of 20 MB of tiny values: sent on as written, memory bounded by the limit.
        let call = tiny_values(&format!(r#"{{"connection":"{LINK}","method":"POST","url":"/sink","#), 20_000_000);
        let (rss, _) = memory(&server);
        reset_peak(&server);
        let a = http
            .post(format!("{}/api/v1/invoke", server.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(call.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(a.status(), 200, "{label}");
        let (_, peak) = memory(&server);
        eprintln!("{label}: one authenticated 20 MB invoke body: RSS before {} MB, peak {} MB", rss / MB, peak / MB);
        let sent = up.seen().into_iter().find(|s| s.target == "/v1/sink").expect("the call reached the service");
        let start = call.iter().position(|b| *b == b'[').unwrap();
        assert!(sent.body == call[start..call.len() - 1], "{label}: the body went out as written");
        assert!(peak <= rss + 100 * MB, "{label}: peak RSS {} MB, {} MB before", peak / MB, rss / MB);

        // Bodies as before: a string as its text, JSON as JSON with its content type, none at all.
        for (body, text, content_type) in [
            (json!("plain text"), "plain text", None),
            (json!({ "n": [1, 2] }), r#"{"n":[1,2]}"#, Some("application/json")),
            (Value::Null, "", None),
        ] {
            let call = json!({ "connection": LINK, "method": "PUT", "url": "/echo", "body": body });
            let a = invoke(&server, Some(&token), &call.to_string()).await;
            assert_eq!(a.status, 200, "{}", a.body);
            let got = up.seen().last().cloned().unwrap();
            assert_eq!((got.method.as_str(), got.body.as_slice()), ("PUT", text.as_bytes()), "{label}");
            let sent_type = got.head.lines().find_map(|l| l.strip_prefix("content-type: ")).map(str::trim);
            assert_eq!(sent_type, content_type, "{label}: {}", got.head);
        }
    }
}
