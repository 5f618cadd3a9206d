//! A connection's recent calls on its details page (issue 23): read from the call log within the
//! viewer's organisation, since the connection was created, all of them for admins and the creator
//! of a shared connection, only their own (since they were added) for everyone else; nothing for
//! another organisation, or an earlier connection or person of the same link name or email.

use super::{call_log_written, cli_user};
use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, keyed_connection};
use serde_json::{json, Value};

const PASSWORD: &str = "a long enough password for the call log";

async fn calls(client: &Client, link: &str) -> Reply {
    client.call("connection_calls", json!({ "link_name": link })).await
}

fn callers(r: &Reply) -> Vec<String> {
    r.json().as_array().unwrap().iter().map(|c| c["caller"].as_str().unwrap().to_string()).collect()
}

/// Acme: Ada (admin) with her `keyed` connection to the fault provider's `/v1` (`/v1/ok` answers
/// 200) and an API token, and Bob (member) with his.
struct Acme {
    fp: FaultProvider,
    server: Server,
    ada: Client,
    ada_token: String,
    bob: Client,
    bob_token: String,
}

async fn acme(db: &Db) -> Acme {
    let fp = FaultProvider::start().await;
    fp.set_at("/v1/ok", Fault::json(200, json!({ "ok": true })));
    let server = lifecycle::start_open(db);
    let ada = server.client();
    let ada_token = keyed_connection(&ada, &format!("{}/v1", fp.base), "call-log-key-0001", "Ada's job").await;
    let bob = cli_user(db, &server, "bob@acme.example", "Acme", "member", PASSWORD).await;
    let (_, bob_token) = bob.api_token("Bob's job").await;
    Acme { fp, server, ada, ada_token, bob, bob_token }
}

#[tokio::test]
async fn the_details_page_shows_the_calls_the_viewer_may_see() {
    for db in databases().await {
        let label = db.label();
        let Acme { fp, server, ada, ada_token, bob, bob_token } = acme(&db).await;
        fp.set_at("/v1/broken", Fault::json(503, json!({ "error": "down" })));
        // Another organisation with a connection of the same link name.
        let eve = cli_user(&db, &server, "eve@zephyr.example", "Zephyr", "admin", PASSWORD).await;
        let eve_token = keyed_connection_in(&eve, &fp.base).await;

        assert_eq!(server.proxy_get(&ada_token, "keyed", "ok").await.0, 200, "{label}");
        assert_eq!(server.proxy_get(&ada_token, "keyed", "broken").await.0, 503, "{label}");
        assert_eq!(server.proxy_get(&bob_token, "keyed", "ok").await.0, 200, "{label}");
        assert_eq!(server.proxy_get(&eve_token, "keyed", "ok").await.0, 200, "{label}");
        call_log_written(&db, &server, &ada_token).await;
        call_log_written(&db, &server, &eve_token).await;

        // The admin who made it sees every call of the connection, newest first, failures told.
        let r = calls(&ada, "keyed").await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(
            callers(&r),
            [
                "bob@acme.example (token Bob's job)",
                "ada@acme.example (token Ada's job)",
                "ada@acme.example (token Ada's job)"
            ],
            "{label}"
        );
        let json = r.json();
        let all: &Vec<Value> = json.as_array().unwrap();
        assert_eq!((all[1]["status"].as_i64(), all[1]["method"].as_str()), (Some(503), Some("GET")), "{label}");
        assert_eq!(all[2]["status"], 200, "{label}");
        assert!(all[1]["host"].as_str().unwrap().starts_with("127.0.0.1"), "{label}: {}", all[1]);
        assert!(!r.body.contains("call-log-key-0001"), "{label}: no credential");
        // A member sees only their own calls (nobody else's API tokens, as everywhere else).
        assert_eq!(callers(&calls(&bob, "keyed").await), ["bob@acme.example (token Bob's job)"], "{label}");
        // Another organisation: its own connection of that name only.
        assert_eq!(callers(&calls(&eve, "keyed").await), ["eve@zephyr.example (token Eve's job)"], "{label}");
        assert_eq!(calls(&eve, "no_such_link").await.status, 404, "{label}");
    }
}

/// Eve's own `keyed` connection in her organisation; returns her API token.
async fn keyed_connection_in(eve: &Client, base: &str) -> String {
    let service = json!({ "name": "Keyed", "auth_type": "api_key", "api_base_urls": [format!("{base}/v1")],
                          "param_type": "header", "header_name": "X-Key" });
    let id = lifecycle::create_service(eve, service).await;
    let r = lifecycle::create_connection(
        eve,
        json!({ "name": "Keyed", "service": { "kind": "custom", "id": id }, "api_key": "zephyr-key-0002" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    eve.api_token("Eve's job").await.1
}

/// The `keyed` connection's form (an API-key service at `base`, made by Ada first).
fn keyed_form() -> Value {
    json!({ "name": "Keyed", "service": { "kind": "custom", "id": 1 }, "api_key": "call-log-key-0003" })
}

#[tokio::test]
async fn a_new_connection_with_a_deleted_ones_link_name_shows_none_of_the_old_calls() {
    for db in databases().await {
        let label = db.label();
        let Acme { fp: _fp, server, ada, ada_token, bob, bob_token } = acme(&db).await;
        assert_eq!(server.proxy_get(&ada_token, "keyed", "ok").await.0, 200, "{label}");
        assert_eq!(server.proxy_get(&bob_token, "keyed", "ok").await.0, 200, "{label}");
        let r = ada.call("delete_connection", json!({ "link_name": "keyed" })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        // Calls to the link name while no connection has it are logged too.
        server.advance_clock(std::time::Duration::from_secs(1));
        assert_eq!(server.proxy_get(&bob_token, "keyed", "ok").await.0, 404, "{label}");
        assert_eq!(server.proxy_get(&ada_token, "keyed", "ok").await.0, 404, "{label}");
        call_log_written(&db, &server, &ada_token).await;
        server.advance_clock(std::time::Duration::from_secs(1));

        // A new connection of that name, made by Bob: none of those calls are its own.
        let r = lifecycle::create_connection(&bob, keyed_form()).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(calls(&bob, "keyed").await.json(), json!([]), "{label}");
        assert_eq!(calls(&ada, "keyed").await.json(), json!([]), "{label}");
        // Its own calls are shown.
        assert_eq!(server.proxy_get(&ada_token, "keyed", "ok").await.0, 200, "{label}");
        call_log_written(&db, &server, &ada_token).await;
        assert_eq!(callers(&calls(&bob, "keyed").await), ["ada@acme.example (token Ada's job)"], "{label}");
    }
}

#[tokio::test]
async fn a_person_added_again_with_a_removed_persons_email_sees_none_of_their_calls() {
    for db in databases().await {
        let label = db.label();
        let Acme { fp: _fp, server, ada, ada_token, bob, bob_token } = acme(&db).await;
        assert_eq!(server.proxy_get(&bob_token, "keyed", "ok").await.0, 200, "{label}");
        call_log_written(&db, &server, &ada_token).await;
        assert_eq!(callers(&calls(&bob, "keyed").await), ["bob@acme.example (token Bob's job)"], "{label}");
        let bob_id = bob.me().await["user_id"].as_i64().unwrap();
        let r = ada.call("remove_member", json!({ "user_id": bob_id })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        server.advance_clock(std::time::Duration::from_secs(1));

        // Another Bob, with the same email: the first one's calls are not his.
        let bob = cli_user(&db, &server, "bob@acme.example", "Acme", "member", PASSWORD).await;
        assert_eq!(calls(&bob, "keyed").await.json(), json!([]), "{label}");
        let (_, bob_token) = bob.api_token("Bob's job").await;
        assert_eq!(server.proxy_get(&bob_token, "keyed", "ok").await.0, 200, "{label}");
        call_log_written(&db, &server, &ada_token).await;
        assert_eq!(calls(&bob, "keyed").await.json().as_array().unwrap().len(), 1, "{label}");
        // The connection's managers still see every call.
        assert_eq!(calls(&ada, "keyed").await.json().as_array().unwrap().len(), 2, "{label}");
    }
}

#[tokio::test]
async fn a_login_user_connections_creator_who_is_a_member_sees_only_their_own_calls() {
    for db in databases().await {
        let label = db.label();
        let server = lifecycle::start_open(&db);
        let ada = server.client();
        assert_eq!(setup(&ada).await.status, 200);
        let id = lifecycle::create_service(&ada, lifecycle::zephyr_identity("zephyr-client-secret-0f4d2a")).await;
        let bob = cli_user(&db, &server, "bob@acme.example", "Acme", "member", PASSWORD).await;
        let carol = cli_user(&db, &server, "carol@acme.example", "Acme", "member", PASSWORD).await;
        // Bob makes it: each person signs in for themselves, and calls with their own grant.
        let r = lifecycle::create_connection(
            &bob,
            json!({ "name": "Team Login", "link_name": "team_login", "service": { "kind": "custom", "id": id },
                    "scopes": ["read"], "per_user": true }),
        )
        .await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let ada_token = ada.api_token("Ada's job").await.1;
        for (who, client) in [("ada", &ada), ("bob", &bob), ("carol", &carol)] {
            let token = client.api_token(&format!("{who}'s job")).await.1;
            // Nobody has signed in to the service yet: refused, and logged.
            assert_ne!(server.proxy_get(&token, "team_login", "x").await.0, 200, "{label}");
        }
        call_log_written(&db, &server, &ada_token).await;
        assert_eq!(callers(&calls(&bob, "team_login").await), ["bob@acme.example (token bob's job)"], "{label}");
        assert_eq!(callers(&calls(&carol, "team_login").await), ["carol@acme.example (token carol's job)"], "{label}");
        assert_eq!(calls(&ada, "team_login").await.json().as_array().unwrap().len(), 3, "{label}: admins see all");
    }
}
