//! The secrets scan: a full lifecycle (custom service, authorisation at oidc-provider, calls and a
//! refresh through the API, an internal connection, API-key and Basic connections, key rotation
//! with `liaison keys rotate`, revoke and delete), every secret it handled collected on the way
//! (opened from the database with the key file while they existed), and then the database (every
//! table; on SQLite also the raw bytes of the database, WAL and shared-memory files), every log
//! line, every HTTP answer the test received, every command's output, and the audit and call logs
//! searched for each of them.

use super::{call_log_written, dump};
use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{start_open, ADMIN_TOKEN, CLIENT_SECRET};
use crate::provider::{self, Provider};
use serde_json::{json, Value};
use sqlx::Row;

const API_KEY: &str = "scan-api-key-5b0e71c2d9a4";
const BASIC_PASSWORD: &str = "scan-basic-password-9d1f";
const INTERNAL_KEY: &str = "scan-internal-key-44aa0c";

/// What the test saw: every answer (minus the one place a value is meant to be shown), every
/// log and command output.
#[derive(Default)]
struct Seen {
    answers: Vec<String>,
    logs: Vec<String>,
}

impl Seen {
    fn keep(&mut self, r: &Reply) -> Value {
        let headers: Vec<String> = r
            .headers
            .iter()
            .filter(|(k, _)| *k != "set-cookie")
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        self.answers.push(format!("{} {}\n{}", r.status, headers.join("\n"), r.body));
        serde_json::from_str(&r.body).unwrap_or(Value::Null)
    }

    fn command(&mut self, out: std::process::Output) -> String {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        self.logs.push(text.clone());
        text
    }
}

/// Every sealed secret in the database, opened with the key file as only Liaison can.
async fn open_all(db: &Db) -> Vec<String> {
    let ring = server::vault::KeyRing::parse(&std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap())
        .unwrap();
    let mut out = Vec::new();
    for (table, columns) in [
        ("grants", &["access_token", "refresh_token"][..]),
        ("services", &["client_secret"][..]),
        ("connections", &["client_secret"][..]),
    ] {
        for r in crate::lifecycle::sqlite_rows(db, &format!("SELECT * FROM {table}")).await {
            let id: i64 = r.get("id");
            for column in columns {
                if let Some(sealed) = r.get::<Option<String>, _>(*column) {
                    let slot = server::vault::SecretColumn::named(table, column).unwrap().at(id);
                    out.push(ring.open(slot, &sealed).unwrap().expose().to_string());
                }
            }
        }
    }
    out
}

/// Every row of every table, as text.
async fn all_rows(db: &Db) -> String {
    let tables = match db.database_url {
        None => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Some(_) => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables WHERE table_schema = 'public'"
        }
    };
    let mut text = String::new();
    for r in crate::lifecycle::sqlite_rows(db, tables).await {
        let name: String = r.get("name");
        if name.starts_with("_sqlx") {
            continue; // the migrations' own bookkeeping (checksums, no data)
        }
        text.push_str(&format!("-- {name}\n{}\n", dump(db, &format!("SELECT * FROM {name}")).await.join("\n")));
    }
    text
}

/// A GET through the scripts' API: the status, and the answer as text (headers and body).
async fn api_get(server: &Server, path: &str, token: &str) -> (u16, String) {
    let r = reqwest::Client::new().get(format!("{}{path}", server.url)).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = format!("{:?}", r.headers());
    (status, format!("{status} {headers}\n{}", r.text().await.unwrap()))
}

fn sqlite_bytes(db: &Db) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(db.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("liaison.db") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_secret_is_left_in_the_database_the_logs_the_answers_or_the_audit_log() {
    for db in databases().await {
        let label = db.label();
        let mut seen = Seen::default();
        let mut secrets: Vec<String> =
            [CLIENT_SECRET, API_KEY, BASIC_PASSWORD, INTERNAL_KEY, ADMIN_TOKEN, ADMIN_PASSWORD]
                .map(String::from)
                .to_vec();
        let fp = FaultProvider::start().await;
        fp.set_at("/v1/data", Fault::json(200, json!({ "ok": true })));

        let server = start_open(&db);
        let client = server.client();
        seen.keep(&setup(&client).await);
        let session = client.cookie.lock().unwrap().clone().unwrap();
        secrets.push(session.split_once('=').unwrap().1.to_string());
        // A webhook endpoint, its secret rotated: both secrets shown once, each sealed at rest.
        fp.set_at("/hook", Fault::json(200, json!({})));
        let hooks = format!("{}/api/admin/v1/organisations/1/webhooks", server.url);
        let admin = reqwest::Client::new();
        let r =
            admin.post(&hooks).bearer_auth(ADMIN_TOKEN).json(&json!({ "url": fp.url("/hook") })).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let created: Value = r.json().await.unwrap();
        let rotate = format!("{hooks}/{}/rotate", created["endpoint"]["id"]);
        let rotated: Value = admin.post(&rotate).bearer_auth(ADMIN_TOKEN).send().await.unwrap().json().await.unwrap();
        for answer in [created, rotated] {
            let secret = answer["secret"].as_str().unwrap().to_string();
            assert!(secret.starts_with("whsec_"), "{label}: {answer}");
            seen.answers.push(answer.to_string().replace(&secret, "<shown once>"));
            secrets.push(secret);
        }
        let callback =
            seen.keep(&client.call("reserve_callback", json!({})).await)["callback_url"].as_str().unwrap().to_string();
        let provider = Provider::start(json!([provider::client("liaison", CLIENT_SECRET, &callback)])).await;

        // A custom service from the issuer's metadata, with its client secret.
        let mut form = seen.keep(&client.call("discover_service", json!({ "issuer": provider.issuer })).await);
        form["name"] = json!("Scan ID");
        form["callback_key"] = json!(provider.callback_key);
        form["client_id"] = json!("liaison");
        form["client_secret"] = json!(CLIENT_SECRET);
        form["api_base_urls"] = json!([provider.issuer]);
        form["scopes"] =
            json!([{ "name": "openid", "display": "Sign in" }, { "name": "offline_access", "display": "Stay" }]);
        let sid = seen.keep(&client.call("create_service", json!({ "form": form })).await);
        assert_eq!(sid, json!(1), "{label}");
        seen.keep(&client.call("custom_service", json!({ "id": 1 })).await);

        // Authorised at the provider.
        let r = client
            .call(
                "create_connection",
                json!({ "form": { "name": "Scan", "service": { "kind": "custom", "id": 1 }, "scopes": ["openid", "offline_access"] } }),
            )
            .await;
        assert_eq!(seen.keep(&r)[0], "scan", "{label}: {}", r.body);
        let url = crate::lifecycle::start_url_of(&r.json(), "scan");
        let r = client.open(&format!("{url}&ticket=scan-ticket-0123456789")).await;
        seen.keep(&r);
        let authorize = r.headers["location"].to_str().unwrap().to_string();
        let back = provider.approve(&authorize).await;
        let page = client.open(back.strip_prefix(&server.url).unwrap()).await;
        assert_eq!(page.status, 200, "{label}: {}", page.body);
        seen.keep(&page);
        seen.keep(&client.call("connection", json!({ "link_name": "scan" })).await);
        let first = open_all(&db).await;
        assert_eq!(first.len(), 3, "{label}: client secret, access and refresh token");

        // API key and Basic connections, and an internal one through the admin API.
        for (name, auth, extra) in [
            ("Keyed", "api_key", json!({ "api_key": API_KEY })),
            ("Basic", "basic", json!({ "username": "scan-user", "password": BASIC_PASSWORD })),
        ] {
            let s = json!({ "name": name, "auth_type": auth, "api_base_urls": [fp.base] });
            let id = seen.keep(&client.call("create_service", json!({ "form": s })).await);
            let mut c = json!({ "name": name, "service": { "kind": "custom", "id": id } });
            c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let r = client.call("create_connection", json!({ "form": c })).await;
            assert_eq!(r.status, 200, "{label}: {}", r.body);
            seen.keep(&r);
        }
        let r = reqwest::Client::new()
            .post(format!("{}/api/admin/v1/organisations/1/connections", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "name": "Internal", "service": { "kind": "custom", "id": 2 }, "api_key": INTERNAL_KEY }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{label}");
        seen.answers.push(r.text().await.unwrap());

        // The scripts' API: an API token (its answer is the one place its value is shown), calls,
        // a refresh with a rotated refresh token.
        let r = client.call("create_api_token", json!({ "name": "scan" })).await;
        let api_token = r.json()["token"].as_str().unwrap().to_string();
        seen.answers.push(r.body.replace(&api_token, "<shown once>"));
        secrets.push(api_token.clone());
        for path in [
            "/api/v1/connections/scan/proxy/me",
            "/api/v1/connections/keyed/proxy/v1/data",
            "/api/v1/connections/basic/proxy/v1/data",
            "/api/v1/connections/internal/proxy/v1/data",
        ] {
            let (status, text) = api_get(&server, path, &api_token).await;
            assert_eq!(status, 200, "{label} {path}: {text}");
            seen.answers.push(text);
        }
        crate::lifecycle::exec(&db, "UPDATE grants SET expires_at = 1 WHERE refresh_token IS NOT NULL").await;
        let (status, text) = api_get(&server, "/api/v1/connections/scan/proxy/me", &api_token).await;
        assert_eq!(status, 200, "{label}: {text}");
        seen.answers.push(text);
        let refreshed = open_all(&db).await;
        let new_tokens: Vec<&String> = refreshed.iter().filter(|s| !first.contains(s)).collect();
        assert!(new_tokens.len() >= 2, "{label}: a new access and a rotated refresh token: {}", new_tokens.len());
        secrets.extend(first.iter().chain(&refreshed).cloned());
        if db.database_url.is_none() {
            let bytes = sqlite_bytes(&db);
            for s in &secrets {
                assert!(!contains(&bytes, s), "{label}: a secret in the database files while running");
            }
        }
        let cookie = client.cookie.lock().unwrap().clone();
        seen.logs.push(server.log());
        drop(server);

        // Key rotation; the grants still work under the new key.
        let out = seen.command(db.command().args(["keys", "rotate"]).output().unwrap());
        assert!(out.contains("re-sealed"), "{label}: {out}");
        let resealed = open_all(&db).await;
        let mut a = resealed.clone();
        let mut b = refreshed.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{label}: the same secrets under the new key");
        let server = start_open(&db);
        let client = server.client();
        *client.cookie.lock().unwrap() = cookie;
        for path in ["/api/v1/connections/scan/proxy/me", "/api/v1/connections/keyed/proxy/v1/data"] {
            let (status, text) = api_get(&server, path, &api_token).await;
            assert_eq!(status, 200, "{label}: {path} after the rotation: {text}");
            seen.answers.push(text);
        }
        // Revoke (at the provider) and delete.
        seen.keep(&client.call("revoke_connection", json!({ "link_name": "scan" })).await);
        seen.keep(&client.call("delete_connection", json!({ "link_name": "keyed" })).await);
        seen.keep(&client.call("connections", json!({ "query": {} })).await);
        seen.keep(&client.call("connections", json!({ "query": { "internal": true } })).await);
        seen.keep(&client.call("api_tokens", json!({})).await);
        call_log_written(&db, &server, &api_token).await;
        let audit = dump(&db, "SELECT * FROM audit_log").await.join("\n");
        let calls = dump(&db, "SELECT * FROM api_calls").await.join("\n");
        assert!(audit.contains("connection.revoke") && calls.contains("scan"), "{label}: the logs were read");
        let rows = all_rows(&db).await;
        seen.logs.push(server.log());
        drop(server);

        let bytes = if db.database_url.is_none() { sqlite_bytes(&db) } else { Vec::new() };
        assert!(db.database_url.is_some() || bytes.len() > 4096, "{label}");
        let answers = seen.answers.join("\n");
        let logs = seen.logs.join("\n");
        assert!(answers.contains("Scan ID") && logs.contains("listening on"), "{label}: the scan has material");
        for s in &secrets {
            assert!(s.len() >= 8, "{label}: {s:?} is too short to search for");
            for (place, text) in
                [("answer", &answers), ("log", &logs), ("audit log", &audit), ("call log", &calls), ("table", &rows)]
            {
                assert!(!text.contains(s.as_str()), "{label}: a secret ({}…) in a {place}", &s[..4]);
            }
            assert!(!contains(&bytes, s), "{label}: a secret in the database files");
        }
    }
}
