//! What a set-aside tells over webhooks: the operator moves a predefined service's endpoints, and
//! each person's own grant on its login-user connections, removed at start, is told as
//! `connection.grant_removed` naming them.

use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, create_connection, exec, ADMIN_TOKEN};
use crate::webhooks::{register, HOOK};
use serde_json::{json, Value};

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
