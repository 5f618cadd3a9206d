//! Admins and their organisation's people (issue 17): an admin ends a member's sessions, revokes
//! their API tokens and removes them, and each takes effect on the very next request, on every
//! instance, even for a token the API has just used (and so remembers). A removed member's own
//! grants are revoked at the real provider and erased. API tokens may expire, and an expired one
//! is refused although nothing in the database changed.

use crate::api::start_liaison;
use crate::harness::*;
use crate::lifecycle::{self, create_connection, create_service, exec, land, member, sqlite_rows};
use crate::provider::Provider;
use serde_json::{json, Value};
use sqlx::Row;
use std::time::Duration;

const BOB: &str = "bob@acme.example";
const LINK: &str = "team_api";

fn assert_refused(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.json()["code"].as_str()), (status, Some(code)), "{}", r.body);
}

async fn one_number(db: &Db, sql: &str) -> i64 {
    sqlite_rows(db, sql).await[0].get::<i64, _>(0)
}

/// Acme with a login-user connection to the provider (its API is the provider's userinfo), the
/// admin authorised as alice and Bob, a member, as bob; Bob has an API token.
async fn team(db: &Db) -> (Server, Client, Client, Provider, i64, String) {
    let server = start_liaison(db);
    let admin = server.client();
    assert_eq!(setup(&admin).await.status, 200);
    let (provider, service) = lifecycle::api_service_at_provider(&admin).await;
    let r = create_connection(
        &admin,
        json!({ "name": "Team API", "link_name": LINK, "service": { "kind": "custom", "id": service },
                "scopes": ["openid", "api:read"], "per_user": true }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let start_url = r.json()[1]["start_url"].as_str().unwrap().to_string();
    let authorize = lifecycle::start(&admin, &start_url, "admin-team-0123456789").await;
    assert_eq!(land(&admin, &server, &provider.approve_as(&authorize, "alice").await).await.status, 200);

    let bob = member(db, &server, BOB).await;
    let r = bob.call("connect", json!({ "link_name": LINK, "form": {} })).await;
    let start_url = r.json()["start_url"].as_str().unwrap_or_else(|| panic!("{}", r.body)).to_string();
    let authorize = lifecycle::start(&bob, &start_url, "bob-team-0123456789").await;
    assert_eq!(land(&bob, &server, &provider.approve_as(&authorize, "bob").await).await.status, 200);
    let bob_id = bob.me().await["user_id"].as_i64().unwrap();
    let (_, token) = bob.api_token_with(json!({ "name": "Bob's job" })).await;
    (server, admin, bob, provider, bob_id, token)
}

/// The access token of a person's own grant, opened with the key file as only Liaison can.
async fn own_access_token(db: &Db, user_key: i64) -> String {
    let ring = server::vault::KeyRing::parse(&std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap())
        .unwrap();
    let row = &sqlite_rows(db, &format!("SELECT id, access_token FROM grants WHERE user_key = {user_key}")).await[0];
    let slot = server::vault::SecretColumn::GrantAccessToken.at(row.get("id"));
    ring.open(slot, &row.get::<String, _>("access_token")).unwrap().expose().to_string()
}

async fn provider_me(provider: &Provider, access_token: &str) -> u16 {
    reqwest::Client::new().get(provider.url("/me")).bearer_auth(access_token).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_admin_ends_a_members_sessions_and_revokes_their_tokens_at_once() {
    for db in databases().await {
        let label = db.label();
        let (server, admin, bob, _provider, bob_id, token) = team(&db).await;
        let other = start_liaison(&db);
        let bob_elsewhere = other.client();
        let r = bob_elsewhere.rpc("sign_in", &[("email", BOB), ("password", lifecycle::MEMBER_PASSWORD)]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // The token is used on both instances, so both remember it.
        for s in [&server, &other, &server, &other] {
            let (status, body) = s.proxy_get(&token, LINK, "me").await;
            assert_eq!((status, body["sub"].as_str()), (200, Some("bob")), "{label}: {body}");
        }

        // A member may not look at or act on the others.
        let admin_id = admin.me().await["user_id"].as_i64().unwrap();
        for (name, body) in [
            ("members", json!({})),
            ("revoke_member_token", json!({ "user_id": admin_id, "token_id": 1 })),
            ("end_member_sessions", json!({ "user_id": admin_id })),
            ("remove_member", json!({ "user_id": admin_id })),
        ] {
            assert_refused(&bob.call(name, body).await, 403, "forbidden");
        }

        let r = admin.call("members", json!({})).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let people = r.json();
        let listed = people.as_array().unwrap().iter().find(|p| p["email"] == BOB).unwrap().clone();
        assert_eq!(
            (listed["role"].as_str(), listed["active_sessions"].as_i64()),
            (Some("member"), Some(2)),
            "{listed}"
        );
        assert_eq!(listed["tokens"][0]["name"], "Bob's job");
        assert!(!people.to_string().contains(&token), "{label}: a token's value is never listed");
        let token_id = listed["tokens"][0]["id"].as_i64().unwrap();

        // Ending the sessions signs Bob out of every browser, on every instance; scripts go on.
        let r = admin.call("end_member_sessions", json!({ "user_id": bob_id })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(bob.me().await, Value::Null, "{label}");
        assert_eq!(bob_elsewhere.me().await, Value::Null, "{label}");
        assert_refused(&bob.call("api_tokens", json!({})).await, 401, "unauthenticated");
        assert_eq!(other.proxy_get(&token, LINK, "me").await.0, 200, "{label}: sessions are not tokens");

        // Revoking the token: the very next call is refused, on both instances.
        let r = admin.call("revoke_member_token", json!({ "user_id": bob_id, "token_id": token_id })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        for s in [&other, &server] {
            let (status, body) = s.proxy_get(&token, LINK, "me").await;
            assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{label}: {body}");
        }
        let again = admin.call("revoke_member_token", json!({ "user_id": bob_id, "token_id": token_id })).await;
        assert_refused(&again, 404, "not_found");
        // A token id of another person is not Bob's to revoke through him.
        let (admin_token_id, _) = admin.api_token_with(json!({ "name": "Admin's job" })).await;
        let r = admin.call("revoke_member_token", json!({ "user_id": bob_id, "token_id": admin_token_id })).await;
        assert_refused(&r, 404, "not_found");
        let audit = sqlite_rows(&db, "SELECT action, target FROM audit_log ORDER BY id").await;
        let audit: Vec<(String, String)> = audit.iter().map(|r| (r.get("action"), r.get("target"))).collect();
        for action in ["member.end_sessions", "api_token.revoke"] {
            assert!(audit.contains(&(action.to_string(), BOB.to_string())), "{label}: {action} audited: {audit:?}");
        }
    }
}

#[tokio::test]
async fn a_removed_member_is_refused_at_once_and_their_grant_revoked_at_the_provider() {
    for db in databases().await {
        let label = db.label();
        let (server, admin, bob, provider, bob_id, token) = team(&db).await;
        let admin_id = admin.me().await["user_id"].as_i64().unwrap();
        // Bob also created a connection of his own (an API key one): it stays the organisation's.
        let notes = create_service(
            &admin,
            json!({ "name": "Notes", "auth_type": "api_key", "api_base_urls": ["https://notes.example"],
                    "param_type": "header", "header_name": "X-Key" }),
        )
        .await;
        let r = create_connection(
            &bob,
            json!({ "name": "Bob's Notes", "link_name": "bob_notes", "service": { "kind": "custom", "id": notes },
                    "api_key": "notes-key-99" }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let other = start_liaison(&db);
        for s in [&server, &other, &server, &other] {
            assert_eq!(s.proxy_get(&token, LINK, "me").await.0, 200, "{label}: the token is used, and remembered");
        }
        let bob_at_provider = own_access_token(&db, bob_id).await;
        let alice_at_provider = own_access_token(&db, admin_id).await;
        assert_eq!(provider_me(&provider, &bob_at_provider).await, 200);

        // Not oneself; not by a member.
        assert_refused(&admin.call("remove_member", json!({ "user_id": admin_id })).await, 409, "conflict");
        assert_refused(&bob.call("remove_member", json!({ "user_id": bob_id })).await, 403, "forbidden");

        provider.reset_counts().await;
        let r = admin.call("remove_member", json!({ "user_id": bob_id })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);

        // The very next call is refused, on each instance; the session is over.
        for s in [&other, &server] {
            let (status, body) = s.proxy_get(&token, LINK, "me").await;
            assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{label}: {body}");
        }
        assert_eq!(bob.me().await, Value::Null, "{label}");
        assert_refused(&bob.call("connections", json!({ "query": {} })).await, 401, "unauthenticated");
        let r = bob.rpc("sign_in", &[("email", BOB), ("password", lifecycle::MEMBER_PASSWORD)]).await;
        assert_refused(&r, 401, "invalid_credentials");

        // His own grant: revoked at the provider, erased here. Alice's is untouched.
        let counts = provider.counts().await;
        assert_eq!(counts["revocation"]["ok"].as_i64(), Some(1), "{label}: {counts}");
        assert_eq!(provider_me(&provider, &bob_at_provider).await, 401, "{label}: dead at the provider");
        assert_eq!(provider_me(&provider, &alice_at_provider).await, 200, "{label}: alice's grant stays");
        let grants = sqlite_rows(&db, "SELECT user_key FROM grants ORDER BY user_key").await;
        let keys: Vec<i64> = grants.iter().map(|r| r.get("user_key")).collect();
        assert_eq!(keys, [0, admin_id], "{label}: Bob's notes key (shared) and alice's grant are left");
        for (table, column) in
            [("users", "id"), ("sessions", "user_id"), ("api_tokens", "user_id"), ("oauth_flows", "user_id")]
        {
            let n = one_number(&db, &format!("SELECT COUNT(*) FROM {table} WHERE {column} = {bob_id}")).await;
            assert_eq!(n, 0, "{label}: nothing of Bob's left in {table}");
        }
        let kept =
            sqlite_rows(&db, "SELECT created_by, created_by_name FROM connections WHERE link_name = 'bob_notes'").await;
        assert_eq!(kept.len(), 1, "{label}: the connection he created stays");
        assert_eq!(kept[0].get::<Option<i64>, _>("created_by"), None);
        assert_eq!(kept[0].get::<String, _>("created_by_name"), BOB);
        let audit = sqlite_rows(&db, &format!("SELECT action FROM audit_log WHERE target = '{BOB}' ORDER BY id")).await;
        let audit: Vec<String> = audit.iter().map(|r| r.get("action")).collect();
        assert_eq!(audit[audit.len() - 2..], ["member.remove_access", "member.remove"], "{label}");
        // Gone from the list; removing again finds no one.
        let people = admin.call("members", json!({})).await.json();
        assert!(!people.to_string().contains(BOB), "{label}: {people}");
        assert_refused(&admin.call("remove_member", json!({ "user_id": bob_id })).await, 404, "not_found");
    }
}

#[tokio::test]
async fn an_expired_api_token_is_refused_even_when_remembered() {
    for db in databases().await {
        let label = db.label();
        let (server, _admin, bob, _provider, _bob_id, _token) = team(&db).await;
        let r = bob.call("create_api_token", json!({ "name": "Too long", "expires_in_days": 0 })).await;
        assert_refused(&r, 422, "validation");
        assert_eq!(r.json()["fields"][0]["field"], "expires_in_days", "{}", r.body);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let r = bob.call("create_api_token", json!({ "name": "Weekly", "expires_in_days": 7 })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let created = r.json();
        let (id, token) = (created["view"]["id"].as_i64().unwrap(), created["token"].as_str().unwrap().to_string());
        let expires = created["view"]["expires_at"].as_i64().unwrap_or_else(|| panic!("{label}: no expiry: {created}"));
        assert!((expires - now - 7 * 86_400_000).abs() < 60_000, "{label}: in 7 days: {expires}");
        let listed = bob.call("api_tokens", json!({})).await.json();
        assert_eq!(listed[0]["expires_at"].as_i64(), Some(expires), "{label}: {listed}");
        assert_eq!(server.proxy_get(&token, LINK, "me").await.0, 200, "{label}");

        // Already past its expiry (as set by hand): refused, saying why.
        exec(&db, &format!("UPDATE api_tokens SET expires_at = {} WHERE id = {id}", now - 1000)).await;
        let (status, body) = server.proxy_get(&token, LINK, "me").await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{label}: {body}");
        assert!(body["message"].as_str().unwrap().contains("expired"), "{label}: {body}");

        // Expiring in a minute: the calls before are answered (and the caller remembered); once
        // the server's clock is past it, the next call is refused although nothing changed in the
        // database.
        let soon = db.now_ms() + 60_000;
        exec(&db, &format!("UPDATE api_tokens SET expires_at = {soon} WHERE id = {id}")).await;
        assert_eq!(server.proxy_get(&token, LINK, "me").await.0, 200, "{label}");
        assert_eq!(server.proxy_get(&token, LINK, "me").await.0, 200, "{label}");
        let stamp = one_number(&db, "SELECT n FROM change_stamp").await;
        server.advance_clock(Duration::from_secs(61));
        let (status, body) = server.proxy_get(&token, LINK, "me").await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{label}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with("This API token expired on "), "{label}: {body}");
        assert_eq!(one_number(&db, "SELECT n FROM change_stamp").await, stamp, "{label}: the database did not change");
    }
}
