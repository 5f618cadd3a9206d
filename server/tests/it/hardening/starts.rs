//! Start links (issue 17): an authorisation popup starts only with the one-time nonce the Connect
//! call gave this browser session; a bare link, another session's, a used or an expired one starts
//! nothing.

use super::cli_user;
use crate::harness::*;
use crate::lifecycle::{create_connection, create_service, exec, sqlite_rows, zephyr_identity};
use serde_json::{json, Value};
use sqlx::Row;

const BOB: &str = "bob@acme.example";
const PASSWORD: &str = "a long password for the start links";
const NOT_STARTED: &str = "Start again from Liaison&#39;s Connections page.";

async fn count(db: &Db, table: &str) -> i64 {
    sqlite_rows(db, &format!("SELECT COUNT(*) AS n FROM {table}")).await[0].get("n")
}

/// The start URL an answer of `create_connection` (`[link, outcome]`) or `connect` names.
fn start_url(answer: &Value) -> String {
    let outcome = if answer.is_array() { &answer[1] } else { answer };
    assert_eq!(outcome["next"], "authorize", "{answer}");
    outcome["start_url"].as_str().unwrap().to_string()
}

async fn connect(client: &Client, link: &str) -> String {
    let r = client.call("connect", json!({ "link_name": link, "form": {} })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    start_url(&r.json())
}

/// Opens a start URL as the popup does (with its ticket); the answer.
async fn open(client: &Client, url: &str, ticket: &str) -> Reply {
    let sep = if url.contains('?') { '&' } else { '?' };
    client.open(&format!("{url}{sep}ticket={ticket}-0123456789abcdef")).await
}

/// A start that started nothing: no redirect to the provider, the page saying where to start.
fn refused(r: &Reply, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    assert!(r.headers.get("location").is_none(), "{what}");
    assert!(r.body.contains(NOT_STARTED), "{what}: {}", r.body);
}

#[tokio::test]
async fn a_start_link_starts_a_flow_once_only_in_the_browser_session_it_was_issued_to() {
    for db in databases().await {
        let label = db.label();
        let server = Server::start(&db);
        let ada = server.client();
        assert_eq!(setup(&ada).await.status, 200);
        let id = create_service(&ada, zephyr_identity("zephyr-client-secret-0f4d2a")).await;
        // Each person signs in for themselves: Bob, a member, may authorise it too.
        let r = create_connection(
            &ada,
            json!({ "name": "Team Login", "link_name": "team_login", "service": { "kind": "custom", "id": id },
                    "scopes": ["read"], "per_user": true }),
        )
        .await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let ada_url = start_url(&r.json());
        let bob = cli_user(&db, &server, BOB, "Acme", "member", PASSWORD).await;

        // The bare link, sent to anyone or opened by its owner, starts nothing.
        refused(&open(&ada, "/oauth/start/team_login", "ada-bare").await, "bare, admin");
        refused(&open(&bob, "/oauth/start/team_login", "bob-bare").await, "bare, member");
        refused(&open(&bob, "/oauth/start/team_login?n=", "bob-empty").await, "empty nonce");
        refused(&open(&bob, "/oauth/start/team_login?n=made-up-nonce", "bob-made-up").await, "made-up nonce");
        assert!(ada_url.starts_with("/oauth/start/team_login?n="), "{label}: {ada_url}");
        // Another session's link: Ada's, sent to Bob (it is burnt by the attempt).
        refused(&open(&bob, &ada_url, "bob-ada").await, "another person's link");
        refused(&open(&ada, &ada_url, "ada-burnt").await, "a link presented once already");
        // Ada's own link in another browser of hers.
        let ada_url = connect(&ada, "team_login").await;
        let ada_elsewhere = server.client();
        let r = ada_elsewhere.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        refused(&open(&ada_elsewhere, &ada_url, "ada-elsewhere").await, "same person, another session");
        // An expired link (moved in the database, no sleeping).
        let ada_url = connect(&ada, "team_login").await;
        exec(&db, "UPDATE oauth_starts SET expires_at = 0").await;
        refused(&open(&ada, &ada_url, "ada-late").await, "expired");
        assert_eq!(count(&db, "oauth_flows").await, 0, "{label}: no flow was started");

        // The link a session's own Connect gave starts the flow once.
        let bob_url = connect(&bob, "team_login").await;
        let r = open(&bob, &bob_url, "bob-own").await;
        assert_eq!(r.status, 303, "{label}: {}", r.body);
        let to = r.headers["location"].to_str().unwrap();
        assert!(to.starts_with("https://id.zephyr.example/authorize?"), "{label}: {to}");
        refused(&open(&bob, &bob_url, "bob-again").await, "used");
        assert_eq!(count(&db, "oauth_flows").await, 1, "{label}");
        // Nothing of the nonces is kept in the clear.
        for r in sqlite_rows(&db, "SELECT nonce_hash FROM oauth_starts").await {
            let hash: String = r.get("nonce_hash");
            assert!(!bob_url.contains(&hash) && hash.len() == 64, "{label}");
        }
    }
}
