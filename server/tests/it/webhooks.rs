//! Signed webhooks over HTTP: a receiver in the test process (the fault provider's `/hook`) checks
//! every signature with its own HMAC and the exact sequence of a connection's lifecycle against
//! oidc-provider; a server killed mid-delivery loses nothing; a 500 is tried again after the
//! back-off (the clock is moved); a secret is shown once; private receivers are refused unless the
//! operator allows them.

use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, create_connection, create_service, land, service_form, start, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

pub const HOOK: &str = "/hook";

/// A call to the admin API about Acme's webhooks: the status and the JSON answer (null when
/// there is none).
pub async fn admin(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    admin_at(server, 1, method, path, body).await
}

/// The same, about organisation `org`'s.
pub async fn admin_at(server: &Server, org: i64, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/api/admin/v1/organisations/{org}/webhooks{path}", server.url);
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), url).bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Registers `url` for Acme: the endpoint's id and its secret.
pub async fn register(server: &Server, url: &str) -> (i64, String) {
    register_at(server, 1, url).await
}

/// Registers `url` for organisation `org`.
pub async fn register_at(server: &Server, org: i64, url: &str) -> (i64, String) {
    let (status, v) = admin_at(server, org, "POST", "", Some(json!({ "url": url, "description": "tests" }))).await;
    assert_eq!(status, 201, "{v}");
    let secret = v["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{v}");
    (v["endpoint"]["id"].as_i64().unwrap(), secret)
}

/// The receiver's own check, as a host system would write it: `t=<secs>,v1=<hex>…`, the HMAC of
/// `<t>.<body>` under the secret among the `v1`s, and `t` near now (when given): how many `v1`s
/// there were, or None when none is the secret's.
pub fn verify(secret: &str, header: &str, body: &str, now_ms: Option<i64>) -> Option<usize> {
    use hmac::{Hmac, Mac};
    let t = header.split(',').find_map(|p| p.strip_prefix("t=")).unwrap_or_else(|| panic!("no t: {header}"));
    let t: i64 = t.parse().unwrap();
    if let Some(now) = now_ms {
        assert!((now / 1000 - t).abs() < 300, "signed at {t}, now {now}");
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let sigs: Vec<&str> = header.split(',').filter_map(|p| p.strip_prefix("v1=")).collect();
    sigs.contains(&expected.as_str()).then_some(sigs.len())
}

/// Waits until the receiver has had `n` deliveries; each one's signature checked with `secret`
/// (or with the secret before a rotation, given as `old`) and its headers matching its body. The
/// bodies, oldest first.
pub async fn received(fp: &FaultProvider, db: &Db, secret: &str, n: usize) -> Vec<Value> {
    received_under(fp, db, &[secret], n).await
}

pub async fn received_under(fp: &FaultProvider, db: &Db, secrets: &[&str], n: usize) -> Vec<Value> {
    let got = eventually(&format!("delivery {n}"), || async {
        let got: Vec<_> = fp.requests().into_iter().filter(|r| r.path == HOOK).collect();
        (got.len() >= n).then_some(got)
    })
    .await;
    // Each was signed near the time it came: the newest, now.
    let newest = got.len() - 1;
    got.iter()
        .enumerate()
        .map(|(i, r)| {
            let header = r.header("liaison-signature").unwrap();
            let now = (i == newest).then(|| db.now_ms());
            let signed = secrets.iter().any(|s| verify(s, header, &r.body, now).is_some());
            assert!(signed, "not signed with the endpoint's secret: {header}");
            assert_eq!(r.header("content-type"), Some("application/json"));
            let v: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(
                (r.header("liaison-event-id"), r.header("liaison-event-type")),
                (v["id"].as_str(), v["type"].as_str())
            );
            v
        })
        .collect()
}

/// The type, link name and status of the `n`-th event (from 1), once it came.
pub async fn nth(fp: &FaultProvider, db: &Db, secret: &str, n: usize) -> Value {
    let events = received(fp, db, secret, n).await;
    assert_eq!(events.len(), n, "one event more, no other: {events:#?}");
    events[n - 1].clone()
}

pub fn said(e: &Value) -> (&str, &str, &str) {
    (
        e["type"].as_str().unwrap(),
        e["connection"]["link_name"].as_str().unwrap(),
        e["connection"]["status"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn a_whole_lifecycle_is_told_in_order_signed_and_without_a_secret() {
    for db in databases().await {
        let (server, client, provider) = lifecycle::liaison_and_provider(&db).await;
        let fp = FaultProvider::start().await;
        fp.set_at(HOOK, Fault::json(200, json!({ "ok": true })));
        let (_, secret) = register(&server, &fp.url(HOOK)).await;
        let id = create_service(&client, service_form(&client, &provider, "authorization_code").await).await;
        let form = json!({ "name": "Acme CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid", "offline_access"] });
        let r = create_connection(&client, form).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let e = nth(&fp, &db, &secret, 1).await;
        assert_eq!(said(&e), ("connection.created", "acme_crm", "not_connected"));
        assert_eq!(e["organisation"], json!({ "id": 1, "name": "Acme" }));
        assert_eq!((e["actor"].as_str(), e["connection"]["service"].as_str()), (Some(ADMIN_EMAIL), Some("Acme ID")));
        assert!(e["id"].as_str().unwrap().starts_with("evt_") && e["time"].as_str().unwrap().ends_with('Z'), "{e}");

        let authorize =
            start(&client, &lifecycle::start_url_of(&r.json(), "acme_crm"), "ticket-hooks-0123456789").await;
        assert_eq!(land(&client, &server, &provider.approve(&authorize).await).await.status, 200);
        assert_eq!(said(&nth(&fp, &db, &secret, 2).await), ("connection.authorised", "acme_crm", "connected"));

        let edit = json!({ "link_name": "acme_crm", "name": "Acme CRM (EU)", "scopes": ["openid", "api:read"] });
        assert_eq!(client.call("update_connection", edit).await.status, 200);
        let e = nth(&fp, &db, &secret, 3).await;
        assert_eq!(said(&e), ("connection.reauthorisation_needed", "acme_crm", "needs_reauth"));
        assert_eq!(e["connection"]["name"], "Acme CRM (EU)", "as edited");
        assert!(e["connection"]["reason"].as_str().unwrap().contains("scopes changed"), "{e}");

        assert_eq!(client.call("revoke_connection", json!({ "link_name": "acme_crm" })).await.status, 200);
        assert_eq!(said(&nth(&fp, &db, &secret, 4).await), ("connection.revoked", "acme_crm", "revoked"));
        let authorize =
            start(&client, &lifecycle::start_link(&client, "acme_crm").await, "ticket-hooks-2-0123456789").await;
        assert_eq!(land(&client, &server, &provider.approve(&authorize).await).await.status, 200);
        assert_eq!(said(&nth(&fp, &db, &secret, 5).await), ("connection.enabled", "acme_crm", "connected"));
        // The service's endpoints moved: the grant is set aside, and that is told too.
        let mut form = service_form(&client, &provider, "authorization_code").await;
        form["api_base_urls"] = json!([format!("{}/moved", provider.issuer)]);
        let r = client.call("update_service", json!({ "id": id, "form": form })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let e = nth(&fp, &db, &secret, 6).await;
        assert_eq!(said(&e), ("connection.reauthorisation_needed", "acme_crm", "needs_reauth"));
        assert!(e["connection"]["reason"].as_str().unwrap().contains("endpoints or OAuth client changed"), "{e}");
        assert_eq!(client.call("delete_connection", json!({ "link_name": "acme_crm" })).await.status, 200);
        assert_eq!(said(&nth(&fp, &db, &secret, 7).await), ("connection.deleted", "acme_crm", "deleted"));

        // A login-user connection: a person's grant added, then removed with the person.
        let form = json!({ "name": "People", "service": { "kind": "custom", "id": id }, "scopes": ["openid"], "per_user": true });
        assert_eq!(create_connection(&client, form).await.status, 200);
        assert_eq!(said(&nth(&fp, &db, &secret, 8).await), ("connection.created", "people", "not_connected"));
        let bob = lifecycle::member(&db, &server, "bob@acme.example").await;
        let bob_id = bob.me().await["user_id"].as_i64().unwrap();
        let authorize = start(&bob, &lifecycle::start_link(&bob, "people").await, "ticket-bob-hooks-0123456789").await;
        assert_eq!(land(&bob, &server, &provider.approve_as(&authorize, "bob").await).await.status, 200);
        let e = nth(&fp, &db, &secret, 9).await;
        assert_eq!(
            (said(&e).0, e["connection"]["user_id"].as_i64(), e["actor"].as_str()),
            ("connection.grant_added", Some(bob_id), Some("bob@acme.example"))
        );
        assert_eq!(client.call("remove_member", json!({ "user_id": bob_id })).await.status, 200);
        let e = nth(&fp, &db, &secret, 10).await;
        assert_eq!((said(&e).0, e["connection"]["user_id"].as_i64()), ("connection.grant_removed", Some(bob_id)));

        // Every delivery is in the log, and no answer or log line holds the secret.
        let (status, endpoints) = admin(&server, "GET", "", None).await;
        assert_eq!((status, endpoints.as_array().unwrap().len()), (200, 1), "{endpoints}");
        let (_, log) = admin(&server, "GET", &format!("/{}/deliveries", endpoints[0]["id"]), None).await;
        assert_eq!(log.as_array().unwrap().len(), 10, "{log}");
        assert!(log.as_array().unwrap().iter().all(|d| d["delivered"] == true && d["status"] == 200), "{log}");
        let bodies: Vec<String> = fp.requests().iter().map(|r| r.body.clone()).collect();
        for text in [server.log(), endpoints.to_string(), log.to_string(), bodies.join("\n")] {
            assert!(!text.contains(&secret) && !text.contains(&secret[6..]), "{}: the secret leaked", db.label());
            assert!(!text.contains(lifecycle::CLIENT_SECRET) && !text.contains("access_token"), "no token or secret");
        }
    }
}

#[tokio::test]
async fn a_500_is_tried_again_after_the_back_off_and_a_rotation_signs_with_both_secrets() {
    let db = sqlite().await;
    let server = lifecycle::start_open(&db);
    assert_eq!(setup(&server.client()).await.status, 200);
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::html(500, "oops"));
    let (id, secret) = register(&server, &fp.url(HOOK)).await;
    let (status, sent) = admin(&server, "POST", &format!("/{id}/test"), None).await;
    assert_eq!(status, 202, "{sent}");
    let first = nth(&fp, &db, &secret, 1).await;
    assert_eq!((first["id"].as_str(), first["type"].as_str()), (sent["event_id"].as_str(), Some("webhook.test")));
    let log = eventually("the failed attempt logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 1).then_some(log)
    })
    .await;
    assert_eq!((log[0]["status"].as_i64(), log[0]["delivered"].as_bool()), (Some(500), Some(false)));

    // Fixed; ten seconds later (the first back-off) it comes again, the same event.
    fp.set_at(HOOK, Fault::json(200, json!({})));
    server.advance_clock(Duration::from_secs(10));
    let again = nth(&fp, &db, &secret, 2).await;
    assert_eq!(again, first);
    let log = eventually("the delivery logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 2).then_some(log)
    })
    .await;
    assert_eq!(
        (log[0]["attempt"].as_i64(), log[0]["status"].as_i64(), log[0]["delivered"].as_bool()),
        (Some(2), Some(200), Some(true))
    );
    assert!(log[0]["latency_ms"].as_i64().unwrap() >= 0);
    use sqlx::Row;
    let rows = lifecycle::sqlite_rows(&db, "SELECT attempts, delivered_at FROM webhook_outbox").await;
    assert_eq!((rows.len(), rows[0].get::<i64, _>("attempts")), (1, 2));
    assert!(rows[0].get::<Option<i64>, _>("delivered_at").is_some(), "delivered: never due again");

    // A rotation: the new secret is shown once; for a day both sign, then only the new one.
    let (status, rotated) = admin(&server, "POST", &format!("/{id}/rotate"), None).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert!(new != secret && rotated["endpoint"]["previous_secret_until"].as_i64().is_some(), "{rotated}");
    admin(&server, "POST", &format!("/{id}/test"), None).await;
    assert_eq!(received_under(&fp, &db, &[&secret, &new], 3).await.len(), 3);
    let r = fp.requests().into_iter().filter(|r| r.path == HOOK).nth(2).unwrap();
    let header = r.header("liaison-signature").unwrap();
    assert_eq!(verify(&new, header, &r.body, Some(db.now_ms())), Some(2));
    assert_eq!(verify(&secret, header, &r.body, Some(db.now_ms())), Some(2));
    server.advance_clock(Duration::from_secs(25 * 3600));
    admin(&server, "POST", &format!("/{id}/test"), None).await;
    assert_eq!(received_under(&fp, &db, &[&secret, &new], 4).await.len(), 4);
    let r = fp.requests().into_iter().filter(|r| r.path == HOOK).nth(3).unwrap();
    let header = r.header("liaison-signature").unwrap();
    assert_eq!(verify(&new, header, &r.body, Some(db.now_ms())), Some(1));
    assert_eq!(verify(&secret, header, &r.body, Some(db.now_ms())), None, "the old secret retired");
    let (_, listed) = admin(&server, "GET", "", None).await;
    assert!(!listed.to_string().contains(&new[6..]) && !server.log().contains(&new[6..]), "{listed}");
    let (status, _) = admin(&server, "DELETE", &format!("/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(admin(&server, "POST", &format!("/{id}/test"), None).await.0, 404);
}

#[tokio::test]
async fn a_server_killed_during_a_delivery_delivers_it_after_the_restart() {
    for db in databases().await {
        let server = lifecycle::start_open(&db);
        let client = server.client();
        assert_eq!(setup(&client).await.status, 200);
        let fp = FaultProvider::start().await;
        // The receiver holds the first delivery: the server dies in the middle of it.
        fp.set_at(HOOK, Fault::json(200, json!({})).after(Duration::from_secs(3600)));
        let (_, secret) = register(&server, &fp.url(HOOK)).await;
        let keyed = json!({ "name": "Keyed", "auth_type": "api_key", "api_base_urls": ["https://api.keyed.example"], "param_type": "header", "header_name": "X-Key" });
        create_service(&client, keyed).await;
        let form = json!({ "name": "Keyed", "service": { "kind": "custom", "id": 1 }, "api_key": "k-1" });
        assert_eq!(create_connection(&client, form).await.status, 200);
        // Created, then authorised (API key): the first is held, the second waits behind it.
        let held = nth(&fp, &db, &secret, 1).await;
        assert_eq!(held["type"], "connection.created");
        server.kill();

        fp.set_at(HOOK, Fault::json(200, json!({})));
        let server = lifecycle::start_open(&db);
        // On PostgreSQL the dead instance's lease runs out (the time limit, 30 s, and 10 s); on
        // SQLite, the one instance clears it as it starts.
        server.advance_clock(Duration::from_secs(60));
        let after = received(&fp, &db, &secret, 3).await;
        assert_eq!(after.len(), 3, "{after:#?}");
        assert_eq!(after[1], held, "{}: the same event, delivered after the restart", db.label());
        assert_eq!(said(&after[2]), ("connection.authorised", "keyed", "connected"));
        drop(server);
    }
}

#[tokio::test]
async fn a_private_receiver_is_refused_unless_the_operator_allows_it() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::json(200, json!({})));
    let strict = [("LIAISON_ALLOW_HTTP_URLS", "true"), ("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN)];
    let server = Server::start_with(&db, &strict);
    assert_eq!(setup(&server.client()).await.status, 200);
    for url in
        [fp.url(HOOK), "http://localhost:9/hook".into(), "https://10.1.2.3/hook".into(), "https://[::1]/hook".into()]
    {
        let (status, v) = admin(&server, "POST", "", Some(json!({ "url": url }))).await;
        assert_eq!((status, v["code"].as_str()), (422, Some("validation")), "{url}: {v}");
        assert!(v["fields"][0]["message"].as_str().unwrap().contains("private"), "{v}");
    }
    for url in ["ftp://hooks.example/in", "https://user:pw@hooks.example/in", "/relative"] {
        assert_eq!(admin(&server, "POST", "", Some(json!({ "url": url }))).await.0, 422, "{url}");
    }
    assert_eq!(admin(&server, "GET", "", None).await.1, json!([]));
    server.stop();

    // Registered while the operator allowed it, then the permission withdrawn: the guard still
    // stops each delivery, and the log says why.
    let open = lifecycle::start_open(&db);
    let (id, _) = register(&open, &fp.url(HOOK)).await;
    open.stop();
    let server = Server::start_with(&db, &strict);
    assert_eq!(admin(&server, "POST", &format!("/{id}/test"), None).await.0, 202);
    let log = eventually("the refused attempt logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 1).then_some(log)
    })
    .await;
    assert_eq!(log[0]["status"], Value::Null);
    assert!(log[0]["error"].as_str().unwrap().contains("127.0.0.1"), "{log}");
    assert_eq!(fp.calls(HOOK), 0, "nothing was sent");
    let refused = reqwest::Client::new()
        .get(format!("{}/api/admin/v1/organisations/1/webhooks", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "the admin token is needed");
}

#[tokio::test]
async fn the_pages_functions_register_send_a_test_and_show_the_log() {
    let db = sqlite().await;
    let server = lifecycle::start_open(&db);
    let ada = server.client();
    assert_eq!(setup(&ada).await.status, 200);
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::json(200, json!({})));
    let r = ada.call("create_webhook_endpoint", json!({ "url": fp.url(HOOK), "description": "Console" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (id, secret) = (r.json()["endpoint"]["id"].as_i64().unwrap(), r.json()["secret"].as_str().unwrap().to_string());
    let r = ada.call("send_test_webhook", json!({ "id": id })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let event = nth(&fp, &db, &secret, 1).await;
    assert_eq!((r.json().as_str(), event["actor"].as_str()), (event["id"].as_str(), Some(ADMIN_EMAIL)));
    let log = eventually("the delivery in the page's log", || async {
        let log = ada.call("webhook_deliveries", json!({})).await.json();
        (log.as_array().unwrap().len() == 1).then_some(log)
    })
    .await;
    assert_eq!((log[0]["event_type"].as_str(), log[0]["delivered"].as_bool()), (Some("webhook.test"), Some(true)));
    let listed = ada.call("webhook_endpoints", json!({})).await;
    assert_eq!(listed.json()[0]["description"], "Console");
    assert!(!listed.body.contains(&secret[6..]), "listed without its secret");
    // A member may not.
    let bob = lifecycle::member(&db, &server, "bob@acme.example").await;
    let r = bob.call("webhook_endpoints", json!({})).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(ada.call("delete_webhook_endpoint", json!({ "id": id })).await.status, 200);
    assert_eq!(ada.call("webhook_endpoints", json!({})).await.json(), json!([]));
}
