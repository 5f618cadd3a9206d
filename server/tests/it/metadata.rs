//! Connection metadata over HTTP: scripts read it with any token of the organisation and set it
//! with the token of an admin or the connection's creator; the admin API reads and sets it for any
//! connection of an organisation; a bad object is refused with a sentence and nothing is saved;
//! the details page's data carries it; another organisation never sees it; the admin API checks
//! its token before it reads a body, and bounds the body.

use crate::hardening::cli_user;
use crate::harness::*;
use crate::lifecycle::{self, create_service, details, keyed_connection, ADMIN_TOKEN};
use serde_json::{json, Value};

const PASSWORD: &str = "a long enough password for metadata";

struct Answer {
    status: u16,
    body: Value,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    Answer { status, body: r.json().await.unwrap_or(Value::Null) }
}

fn scripts_url(server: &Server, link: &str) -> String {
    format!("{}/api/v1/connections/{link}/metadata", server.url)
}

fn admin_url(server: &Server, org: i64, link: &str) -> String {
    format!("{}/api/admin/v1/organisations/{org}/connections/{link}/metadata", server.url)
}

async fn get(server: &Server, token: &str, link: &str) -> Answer {
    send(reqwest::Client::new().get(scripts_url(server, link)).bearer_auth(token)).await
}

async fn put(server: &Server, token: &str, link: &str, body: &str) -> Answer {
    let req = reqwest::Client::new().put(scripts_url(server, link)).bearer_auth(token);
    send(req.header("content-type", "application/json").body(body.to_string())).await
}

#[tokio::test]
async fn scripts_read_and_set_metadata_as_the_connection_allows() {
    for db in databases().await {
        let label = db.label();
        let server = lifecycle::start_open(&db);
        let ada = server.client();
        let ada_token = keyed_connection(&ada, "https://api.keyed.example", "metadata-key-0001", "Ada's job").await;
        let bob = cli_user(&db, &server, "bob@acme.example", "Acme", "member", PASSWORD).await;
        let (_, bob_token) = bob.api_token("Bob's job").await;

        let a = get(&server, &ada_token, "keyed").await;
        assert_eq!((a.status, &a.body), (200, &json!({})), "{label}: none set yet");
        assert_eq!(details(&ada, "keyed").await["metadata"], "", "{label}");

        let set = json!({ "account_id": "acct_12345", "region": "eu-west", "plan": { "seats": 40 } });
        let a = put(&server, &ada_token, "keyed", &set.to_string()).await;
        assert_eq!((a.status, &a.body), (200, &set), "{label}: the admin who made it sets it");
        // Every token of the organisation reads it; the details page shows it.
        assert_eq!(get(&server, &bob_token, "keyed").await.body, set, "{label}");
        let shown = details(&bob, "keyed").await["metadata"].as_str().unwrap().to_string();
        assert!(shown.contains("\"account_id\": \"acct_12345\"") && shown.contains('\n'), "{label}: {shown}");

        // A member who did not create it may not change it; nothing changes.
        let a = put(&server, &bob_token, "keyed", r#"{"account_id": "hijacked"}"#).await;
        assert_eq!((a.status, a.body["code"].as_str()), (403, Some("forbidden")), "{label}: {}", a.body);
        assert!(a.body["message"].as_str().unwrap().contains("Only admins and the person who created"));
        assert_eq!(get(&server, &ada_token, "keyed").await.body, set, "{label}");
        // Their own connection is theirs to describe.
        let service =
            json!({ "name": "Bob's API", "auth_type": "api_key", "api_base_urls": ["https://api.bob.example"] });
        let id = create_service(&ada, service).await;
        let form = json!({ "name": "Bob's", "link_name": "bobs", "service": { "kind": "custom", "id": id }, "api_key": "bob-key-0001" });
        assert_eq!(lifecycle::create_connection(&bob, form).await.status, 200, "{label}");
        assert_eq!(put(&server, &bob_token, "bobs", r#"{"owner": "bob"}"#).await.status, 200, "{label}");

        // Without a token, or from another organisation: nothing.
        let anon = send(reqwest::Client::new().get(scripts_url(&server, "keyed"))).await;
        assert_eq!((anon.status, anon.body["code"].as_str()), (401, Some("unauthenticated")), "{label}");
        let eve = cli_user(&db, &server, "eve@zephyr.example", "Zephyr", "admin", PASSWORD).await;
        let (_, eve_token) = eve.api_token("Eve's job").await;
        let a = get(&server, &eve_token, "keyed").await;
        assert_eq!((a.status, a.body["code"].as_str()), (404, Some("connection_not_found")), "{label}");
        assert_eq!(put(&server, &eve_token, "keyed", "{}").await.status, 404, "{label}");
    }
}

#[tokio::test]
async fn bad_metadata_is_refused_with_a_sentence_and_nothing_is_saved() {
    let db = sqlite().await;
    let server = lifecycle::start_open(&db);
    let admin = server.client();
    let token = keyed_connection(&admin, "https://api.keyed.example", "metadata-key-0002", "Job").await;
    let kept = json!({ "account_id": "acct_1" });
    assert_eq!(put(&server, &token, "keyed", &kept.to_string()).await.status, 200);
    let big = format!("{{\"notes\": \"{}\"}}", "x".repeat(5000));
    for (body, words) in [
        ("[1, 2]", "must be a JSON object"),
        ("\"acct_1\"", "must be a JSON object"),
        ("{\"account_id\": ", "not valid JSON"),
        (r#"{"a": {"b": {"c": {"d": {"e": 1}}}}}"#, "more than 4 levels"),
        (r#"{"client": {"client_secret": "s3cret"}}"#, "names a credential"),
        (r#"{"API-Key": "k"}"#, "names a credential"),
        (big.as_str(), "at most 4096 bytes"),
    ] {
        let a = put(&server, &token, "keyed", body).await;
        assert_eq!((a.status, a.body["code"].as_str()), (400, Some("invalid_request")), "{words}: {}", a.body);
        let message = a.body["message"].as_str().unwrap();
        assert!(message.contains(words) && message.ends_with('.'), "{words}: {message}");
        assert!(!message.contains("s3cret"), "no value echoed: {message}");
    }
    assert_eq!(get(&server, &token, "keyed").await.body, kept, "nothing saved");
    let a = send(reqwest::Client::new().post(scripts_url(&server, "keyed")).bearer_auth(&token).body("{}")).await;
    assert_eq!(a.status, 405, "GET and PUT only");
}

#[tokio::test]
async fn the_admin_api_reads_and_sets_the_metadata_of_any_connection() {
    let db = sqlite().await;
    let server = lifecycle::start_open(&db);
    let admin = server.client();
    let token = keyed_connection(&admin, "https://api.keyed.example", "metadata-key-0003", "Job").await;
    let http = reqwest::Client::new();
    let url = admin_url(&server, 1, "keyed");

    let a = send(http.put(&url).bearer_auth(ADMIN_TOKEN).body(r#"{"tenant": "acme-eu"}"#)).await;
    assert_eq!((a.status, &a.body), (200, &json!({ "tenant": "acme-eu" })));
    assert_eq!(send(http.get(&url).bearer_auth(ADMIN_TOKEN)).await.body, json!({ "tenant": "acme-eu" }));
    for req in [http.get(&url), http.put(&url).body(r#"{"tenant": "acme-eu"}"#)] {
        let r = req.bearer_auth(ADMIN_TOKEN).send().await.unwrap();
        assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    }
    assert_eq!(get(&server, &token, "keyed").await.body, json!({ "tenant": "acme-eu" }), "scripts see it");

    let a = send(http.put(&url).bearer_auth(ADMIN_TOKEN).body("[]")).await;
    assert_eq!((a.status, a.body["code"].as_str()), (422, Some("validation")), "{}", a.body);
    assert_eq!(send(http.get(&url).bearer_auth(ADMIN_TOKEN)).await.body, json!({ "tenant": "acme-eu" }));
    for wrong in [None, Some("wrong-token-wrong-token-wrong-token")] {
        let mut req = http.put(&url).body("{}");
        if let Some(t) = wrong {
            req = req.bearer_auth(t);
        }
        assert_eq!(send(req).await.status, 401);
    }
    assert_eq!(send(http.get(admin_url(&server, 1, "no_such_link")).bearer_auth(ADMIN_TOKEN)).await.status, 404);
    assert_eq!(send(http.get(admin_url(&server, 2, "keyed")).bearer_auth(ADMIN_TOKEN)).await.status, 404);

    // An integration's internal connection: set by the admin API, not by a person's token.
    let service = json!({ "name": "Mailer", "auth_type": "api_key", "api_base_urls": ["https://api.mailer.example"] });
    let id = create_service(&admin, service).await;
    let body =
        json!({ "name": "Mailer (system)", "service": { "kind": "custom", "id": id }, "api_key": "mailer-key-1" });
    let created = http
        .post(format!("{}/api/admin/v1/organisations/1/connections", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body);
    assert_eq!(send(created).await.status, 201);
    let a = put(&server, &token, "mailer_system", r#"{"x": 1}"#).await;
    assert_eq!((a.status, a.body["code"].as_str()), (403, Some("forbidden")), "{}", a.body);
    assert!(a.body["message"].as_str().unwrap().contains("admin API"));
    let a = send(http.put(admin_url(&server, 1, "mailer_system")).bearer_auth(ADMIN_TOKEN).body(r#"{"x": 1}"#)).await;
    assert_eq!(a.status, 200);
}

/// A request announcing a 3 MB body of which only the first `sent` bytes are sent, and the answer
/// read as soon as it comes (the server answers without reading the rest, or it would wait).
async fn announced(server: &Server, method: &str, path: &str, token: Option<&str>, sent: usize) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.url.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n",
        3 * 1024 * 1024
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&vec![b' '; sent]).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n =
            tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut chunk)).await.unwrap().unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap();
            if body.len() >= length || n == 0 {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return Answer { status, body: serde_json::from_str(body).unwrap_or(Value::Null) };
            }
        }
        assert!(n > 0, "closed without an answer: {text}");
    }
}

#[tokio::test]
async fn the_admin_api_checks_its_token_before_reading_a_body_and_bounds_it() {
    let db = sqlite().await;
    let server = lifecycle::start_open(&db);
    let admin = server.client();
    keyed_connection(&admin, "https://api.keyed.example", "metadata-key-0004", "Job").await;
    let meta = "/api/admin/v1/organisations/1/connections/keyed/metadata";

    // Past axum's own 2 MB: still the JSON validation answer, with the limit in words, and
    // without a token the answer comes before the body is read.
    let a = announced(&server, "PUT", meta, Some(ADMIN_TOKEN), 8192).await;
    assert_eq!((a.status, a.body["code"].as_str()), (422, Some("validation")), "{}", a.body);
    assert!(a.body["message"].as_str().unwrap().contains("at most 4096 bytes"), "{}", a.body);
    let a = announced(&server, "PUT", meta, None, 0).await;
    assert_eq!((a.status, a.body["code"].as_str()), (401, Some("unauthenticated")), "{}", a.body);

    for path in ["/api/admin/v1/organisations/1/connections", "/api/admin/v1/organisations/1/webhooks"] {
        let a = announced(&server, "POST", path, None, 0).await;
        assert_eq!((a.status, a.body["code"].as_str()), (401, Some("unauthenticated")), "{path}: {}", a.body);
    }
    // One byte past the limit: read whole, refused.
    let big = format!("{{\"url\": \"https://hooks.example/{}\"}}", "x".repeat(256 * 1024 - 32));
    assert_eq!(big.len(), 256 * 1024 + 1);
    let http = reqwest::Client::new();
    for path in ["connections", "webhooks"] {
        let url = format!("{}/api/admin/v1/organisations/1/{path}", server.url);
        let a = send(http.post(&url).bearer_auth(ADMIN_TOKEN).body(big.clone())).await;
        assert_eq!((a.status, a.body["code"].as_str()), (422, Some("validation")), "{path}: {}", a.body);
        assert!(a.body["message"].as_str().unwrap().contains("at most 262144 bytes"), "{path}: {}", a.body);
    }
}
