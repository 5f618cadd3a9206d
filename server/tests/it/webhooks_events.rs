//! What Liaison does by itself, told over webhooks: a refresh's failures and its recovery, once
//! per streak (a connection's, and a person's own grant refused for good); and a set-aside, when
//! the operator moves a predefined service's endpoints: each person's own grant on its login-user
//! connections, removed at start, is told as `connection.grant_removed` naming them.

use crate::faults::{self, Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, create_connection, create_service, exec, land, start, ADMIN_TOKEN};
use crate::webhooks::{nth, received, register, said, HOOK};
use serde_json::{json, Value};
use std::time::Duration;

fn catalog_entry(token_url: &str) -> String {
    format!(
        "[[service]]\nid = \"acme_login\"\nname = \"Acme Login\"\nauth_type = \"oauth2\"\n\
         grant_type = \"authorization_code\"\nauthorize_url = \"https://id.acme.invalid/authorize\"\n\
         token_url = \"{token_url}\"\napi_base_urls = [\"https://api.acme.invalid/\"]\n\
         docs_url = \"https://acme.example/docs\"\n[[service.scopes]]\nname = \"read\"\ndisplay = \"Read\"\n"
    )
}

/// The deliveries so far, once there are `n`.
async fn events(fp: &FaultProvider, n: usize) -> Vec<Value> {
    eventually(&format!("event {n}"), || async {
        let got: Vec<Value> =
            fp.requests().iter().filter(|r| r.path == HOOK).map(|r| serde_json::from_str(&r.body).unwrap()).collect();
        (got.len() >= n).then_some(got)
    })
    .await
}

#[tokio::test]
async fn a_moved_predefined_service_tells_each_persons_grant_removed() {
    for db in databases().await {
        let label = db.label();
        let file = db.data_dir.path().join("catalog.toml");
        std::fs::write(&file, catalog_entry("https://id.acme.invalid/token")).unwrap();
        let env = [("LIAISON_CATALOG_FILE", file.to_str().unwrap()), ("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN)];
        let server = Server::with_local_providers(&db, &env);
        let client = server.client();
        assert_eq!(setup(&client).await.status, 200);
        let fp = FaultProvider::start().await;
        fp.set_at(HOOK, Fault::json(200, json!({})));
        register(&server, &fp.url(HOOK)).await;
        let form = json!({ "name": "Acme Login", "link_name": "acme_login", "per_user": true, "scopes": ["read"],
            "service": { "kind": "predefined", "id": "acme_login" },
            "client_id": "typed-client", "client_secret": "typed-client-secret-0123" });
        let r = create_connection(&client, form).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let bob = lifecycle::member(&db, &server, "bob@acme.example").await;
        let bob_id = bob.me().await["user_id"].as_i64().unwrap();
        assert_eq!(events(&fp, 1).await[0]["type"], "connection.created", "{label}");
        // Bob's own grant, made under the endpoints as they were (the provider is not reachable
        // from the tests, so it is written as Liaison would have).
        exec(
            &db,
            &format!(
                "INSERT INTO grants (connection_id, user_key, access_token, authorised_by_name, authorised_at, \
                 updated_at, custody) SELECT id, {bob_id}, 'sealed', 'Bob', 1, 1, 'as before' FROM connections \
                 WHERE link_name = 'acme_login'"
            ),
        )
        .await;
        drop(server);

        // The operator moves the token endpoint: Bob's grant is removed at start, and told.
        std::fs::write(&file, catalog_entry("https://elsewhere.acme.invalid/token")).unwrap();
        let server = Server::with_local_providers(&db, &env);
        // On PostgreSQL the first server may have stopped still holding the endpoint's lease (it
        // had just delivered event 1; leases are cleared at start on SQLite only): it lapses.
        server.advance_clock(Duration::from_secs(60));
        let got = events(&fp, 2).await;
        let e = &got[1];
        assert_eq!(
            (e["type"].as_str(), e["connection"]["link_name"].as_str(), e["connection"]["user_id"].as_i64()),
            (Some("connection.grant_removed"), Some("acme_login"), Some(bob_id)),
            "{label}: {e}"
        );
        assert_eq!(e["actor"], "Liaison", "{label}");
        assert!(e["connection"]["reason"].as_str().unwrap().contains("endpoints"), "{label}: {e}");
        use sqlx::Row;
        let rows = lifecycle::sqlite_rows(&db, "SELECT COUNT(*) AS n FROM grants").await;
        assert_eq!(rows[0].get::<i64, _>("n"), 0, "{label}: set aside");
        let rows = lifecycle::sqlite_rows(&db, "SELECT COUNT(*) AS n FROM webhook_outbox").await;
        assert_eq!(rows[0].get::<i64, _>("n"), 2, "{label}: nothing else told");
        drop(server);
    }
}

#[tokio::test]
async fn refresh_failures_and_the_recovery_are_told_once_each() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    let env = [("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN), ("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "2")];
    let server = Server::with_local_providers(&db, &env);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    fp.set_at(HOOK, Fault::json(200, json!({})));
    let (_, secret) = register(&server, &fp.url(HOOK)).await;
    create_service(&client, faults::service(&fp, "Faulty", false)).await;
    fp.set(Fault::tokens("at-1"));
    let form = json!({ "name": "Faulty", "link_name": "faulty", "service": { "kind": "custom", "id": 1 }, "scopes": ["read"] });
    assert_eq!(create_connection(&client, form).await.status, 200);
    fp.set_at("/v1/me", Fault::json(200, json!({ "me": "ok" })));
    let (_, token) = client.api_token("hooks").await;
    assert_eq!(said(&nth(&fp, &db, &secret, 2).await), ("connection.authorised", "faulty", "connected"));

    exec(&db, "UPDATE grants SET expires_at = 1").await;
    fp.set(Fault::html(503, "<h1>down</h1>"));
    assert_eq!(server.proxy_get(&token, "faulty", "v1/me").await.0, 503);
    let e = nth(&fp, &db, &secret, 3).await;
    assert_eq!(
        (said(&e), e["actor"].as_str()),
        (("connection.refresh_failed", "faulty", "connected"), Some("Liaison"))
    );
    assert!(e["connection"]["reason"].as_str().unwrap().contains("Faulty"), "{e}");
    // Failing again in the same streak says nothing more.
    exec(&db, "UPDATE grants SET retry_at = NULL").await;
    assert_eq!(server.proxy_get(&token, "faulty", "v1/me").await.0, 503);
    exec(&db, "UPDATE grants SET retry_at = NULL").await;
    fp.set(Fault::tokens("at-2"));
    assert_eq!(server.proxy_get(&token, "faulty", "v1/me").await.0, 200);
    assert_eq!(said(&nth(&fp, &db, &secret, 4).await), ("connection.refresh_recovered", "faulty", "connected"));
    let types: Vec<String> =
        received(&fp, &db, &secret, 4).await.iter().map(|e| e["type"].as_str().unwrap().into()).collect();
    assert_eq!(
        types,
        ["connection.created", "connection.authorised", "connection.refresh_failed", "connection.refresh_recovered"]
    );

    // A person's own grant on a login-user connection, its client refused three times (not to be
    // retried): told once, and its recovery told.
    let login = json!({ "name": "Faulty Login", "auth_type": "oauth2", "grant_type": "authorization_code",
        "client_id": "liaison-faults", "client_secret": faults::CLIENT_SECRET, "authorize_url": fp.url("/authorize"),
        "token_url": fp.url(faults::TOKEN), "api_base_urls": [fp.base], "scopes": [{ "name": "read", "display": "Read" }] });
    let service = create_service(&client, login).await;
    let form = json!({ "name": "Faulty Login", "link_name": "faulty_login", "service": { "kind": "custom", "id": service },
        "scopes": ["read"], "per_user": true });
    assert_eq!(create_connection(&client, form).await.status, 200);
    let authorize =
        start(&client, &lifecycle::start_link(&client, "faulty_login").await, "ticket-login-0123456789").await;
    let authorize = reqwest::Url::parse(&authorize).unwrap();
    let param = |k: &str| authorize.query_pairs().find(|(n, _)| n == k).unwrap().1.to_string();
    let tokens =
        json!({ "access_token": "at-own", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-own" });
    fp.set(Fault::json(200, tokens.clone()));
    let callback = format!("{}?code=c-1&state={}", param("redirect_uri"), param("state"));
    assert_eq!(land(&client, &server, &callback).await.status, 200);
    assert_eq!(said(&nth(&fp, &db, &secret, 6).await).0, "connection.grant_added");
    exec(&db, "UPDATE grants SET expires_at = 1 WHERE user_key <> 0").await;
    fp.set(Fault::oauth_error(400, "invalid_client", None));
    for _ in 0..3 {
        assert_ne!(server.proxy_get(&token, "faulty_login", "v1/me").await.0, 200);
    }
    fp.set(Fault::json(200, tokens));
    assert_eq!(server.proxy_get(&token, "faulty_login", "v1/me").await.0, 200);
    let events = received(&fp, &db, &secret, 8).await;
    let told: Vec<_> = events[6..].iter().map(|e| (said(e).0, e["connection"]["link_name"].as_str())).collect();
    assert_eq!(
        told,
        [("connection.refresh_failed", Some("faulty_login")), ("connection.refresh_recovered", Some("faulty_login"))]
    );
    use sqlx::Row;
    let rows = lifecycle::sqlite_rows(&db, "SELECT COUNT(*) AS n FROM webhook_outbox").await;
    assert_eq!(rows[0].get::<i64, _>("n"), 8, "nothing more told");
}
