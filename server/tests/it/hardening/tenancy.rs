//! The tenancy and roles matrix: two organisations (Acme by first-run setup, Other by the command
//! line), admins, members and creators. Every server function, every route of the server and every
//! operation of the OpenAPI document is tried across the boundary — another organisation's ids and
//! link names, a member on admin-only functions, a member on someone else's connection. For each:
//! the stable code, no foreign name in the answer, and Acme's rows unchanged. The lists of server
//! functions, routes and pages are read from the sources and the live OpenAPI document at test
//! time, so a new one the matrix does not cover fails the test.

use super::{call_log_written, cli_user, dump};
use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, create_connection, create_service, start_open, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const OTHER_ORG: &str = "Other Org";
const EVE: &str = "eve@other.example";
const MALLORY: &str = "mallory@other.example";
const BOB: &str = "bob@acme.example";
const PASSWORD: &str = "a long password for the matrix";
const API_KEY_A: &str = "zephyr-api-key-1c9e55d0b7";
const API_KEY_B: &str = "other-api-key-83fd21aa40";
const CLIENT_SECRET_A: &str = "zephyr-client-secret-0f4d2a";
const TICKET_A: &str = "zephyr-ticket-0123456789abcdef";
/// Acme's webhook endpoint (a documentation address: no event is sent while the matrix runs).
const WEBHOOK_A: &str = "https://192.0.2.10/acme-zephyr-hooks";

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    /// Other Org's admin.
    Eve,
    /// Other Org's member.
    Mallory,
    /// Acme's member, creator of `quartz_notes` only.
    Bob,
    /// Nobody signed in.
    Anon,
}

/// How a request is authenticated.
#[derive(Debug, Clone)]
enum Auth {
    /// The browser session of `Who`.
    Session(Who),
    /// `Authorization: Bearer …`.
    Bearer(String),
}

#[derive(Debug, Clone)]
enum Call {
    /// A server function with a JSON body.
    Rpc(&'static str, Value),
    /// A server function with a form body (as the sign-in and setup pages send).
    Form(&'static str, Vec<(&'static str, String)>),
    /// Any other route: method, route template (as in the source), concrete path, auth, JSON body.
    Http { method: &'static str, route: &'static str, path: String, auth: Auth, body: Option<Value> },
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This status, and this stable code in the JSON body (or in the result of an OAuth page).
    Refused(u16, &'static str),
    /// Answered (2xx): only the asker's own organisation's data.
    Own,
}

struct Attack {
    who: Who,
    call: Call,
    expect: Expect,
}

fn rpc(who: Who, name: &'static str, body: Value, expect: Expect) -> Attack {
    Attack { who, call: Call::Rpc(name, body), expect }
}

/// Acme's world, and Other Org's.
struct World {
    db: Db,
    server: Server,
    fp: FaultProvider,
    ada: Client,
    bob: Client,
    eve: Client,
    mallory: Client,
    ada_token: String,
    ada_token_id: i64,
    bob_token: String,
    bob_token_id: i64,
    bob_id: i64,
    eve_token: String,
    mallory_token: String,
    ledger: i64,
    identity: i64,
    spare: i64,
    other_org: i64,
    /// Acme's pending authorisation: the path of the callback the provider would send back.
    callback_a: String,
    /// Acme's webhook endpoint.
    webhook: i64,
    /// Acme's reconnect link, for Bob on zephyr_books.
    reconnect: i64,
}

impl World {
    fn client(&self, who: Who) -> Client {
        match who {
            Who::Eve => self.eve.clone(),
            Who::Mallory => self.mallory.clone(),
            Who::Bob => self.bob.clone(),
            Who::Anon => self.server.client(),
        }
    }

    /// What must never appear in an answer to Other Org or to a member who may not see it:
    /// Acme's names, emails, tokens and secrets (a marker the request itself carries is exempt).
    fn markers(&self) -> Vec<String> {
        let mut m: Vec<String> = [
            "Acme",
            "Zephyr Ledger",
            "Zephyr Identity",
            "Zephyr Spare",
            "Zephyr Books",
            "Zephyr Login",
            "Zephyr System",
            "Quartz Notes",
            "zephyr_books",
            "zephyr_login",
            "zephyr_system",
            "quartz_notes",
            ADMIN_EMAIL,
            BOB,
            "Nightly Zephyr Sync",
            API_KEY_A,
            CLIENT_SECRET_A,
            TICKET_A,
            "acme-zephyr-hooks",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        m.push(self.ada_token.clone());
        m.push(self.bob_token.clone());
        m
    }
}

fn api_key_service(name: &str, base: &str) -> Value {
    json!({ "name": name, "auth_type": "api_key", "api_base_urls": [base], "param_type": "header", "header_name": "X-Key" })
}

async fn world(db: Db) -> World {
    let server = start_open(&db);
    let fp = FaultProvider::start().await;
    fp.set_at("/v1/data", Fault::json(200, json!({ "data": "ok" })));
    let ada = server.client();
    assert_eq!(setup(&ada).await.status, 200);
    let ledger = create_service(&ada, api_key_service("Zephyr Ledger", &fp.base)).await;
    let identity = create_service(&ada, lifecycle::zephyr_identity(CLIENT_SECRET_A)).await;
    let spare = create_service(&ada, api_key_service("Zephyr Spare", "https://spare.zephyr.example")).await;
    let mut login_start = String::new();
    for (name, link, service, extra) in [
        ("Zephyr Books", "zephyr_books", ledger, json!({ "api_key": API_KEY_A })),
        ("Zephyr Login", "zephyr_login", identity, json!({ "scopes": ["read"] })),
    ] {
        let mut form = json!({ "name": name, "link_name": link, "service": { "kind": "custom", "id": service } });
        form.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let r = create_connection(&ada, form).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if link == "zephyr_login" {
            login_start = lifecycle::start_url_of(&r.json(), link);
        }
    }
    // An internal connection, made by an integration through the admin API.
    let r = reqwest::Client::new()
        .post(format!("{}/api/admin/v1/organisations/1/connections", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "name": "Zephyr System", "link_name": "zephyr_system",
                       "service": { "kind": "custom", "id": ledger }, "api_key": API_KEY_A }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Acme's pending authorisation.
    let authorize = lifecycle::start(&ada, &login_start, TICKET_A).await;
    let state = crate::provider::query(&authorize)["state"].as_str().unwrap().to_string();
    let identity_view = ada.call("custom_service", json!({ "id": identity })).await.json();
    let identity_callback = identity_view["callback_url"].as_str().unwrap().replace(&server.url, "");
    let callback_a = format!("{identity_callback}?code=stolen-code&state={state}");

    let bob = cli_user(&db, &server, BOB, "Acme", "member", PASSWORD).await;
    let r = create_connection(
        &bob,
        json!({ "name": "Quartz Notes", "link_name": "quartz_notes", "service": { "kind": "custom", "id": ledger },
                "api_key": "quartz-key-5521" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (ada_token_id, ada_token) = ada.api_token("Nightly Zephyr Sync").await;
    let (bob_token_id, bob_token) = bob.api_token("Bob's Zephyr job").await;
    let bob_id = bob.me().await["user_id"].as_i64().unwrap();

    // Other Org, from the command line: a second organisation with its own admin and member.
    let eve = cli_user(&db, &server, EVE, OTHER_ORG, "admin", PASSWORD).await;
    let mallory = cli_user(&db, &server, MALLORY, OTHER_ORG, "member", PASSWORD).await;
    let other_org = eve.me().await["org_id"].as_i64().unwrap();
    assert_ne!(other_org, 1);
    let fp_b_base = "https://api.other.example";
    let other = create_service(&eve, api_key_service("Other Service", fp_b_base)).await;
    let r = create_connection(
        &eve,
        json!({ "name": "Other Books", "link_name": "other_books", "service": { "kind": "custom", "id": other },
                "api_key": API_KEY_B }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, eve_token) = eve.api_token("Eve's job").await;
    let (_, mallory_token) = mallory.api_token("Mallory's job").await;

    // Acme's own call works, and is in the call log before the snapshots start.
    let ok = reqwest::Client::new()
        .get(format!("{}/api/v1/connections/zephyr_books/proxy/v1/data", server.url))
        .bearer_auth(&ada_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(fp.last_request().unwrap().header("x-key"), Some(API_KEY_A));
    eventually("Acme's call in the call log", || async {
        (!dump(&db, "SELECT id FROM api_calls WHERE org_id = 1").await.is_empty()).then_some(())
    })
    .await;
    // Last: no change of Acme's is told to it before the attacks.
    let r = ada.call("create_webhook_endpoint", json!({ "url": WEBHOOK_A, "description": "Acme's console" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let webhook = r.json()["endpoint"]["id"].as_i64().unwrap();
    let r = ada
        .call("create_reconnect_link", json!({ "link_name": "zephyr_books", "user_id": bob_id, "minutes": 60 }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reconnect = r.json()["id"].as_i64().unwrap();
    World {
        db,
        server,
        fp,
        ada,
        bob,
        eve,
        mallory,
        ada_token,
        ada_token_id,
        bob_token,
        bob_token_id,
        bob_id,
        eve_token,
        mallory_token,
        ledger,
        identity,
        spare,
        other_org,
        callback_a,
        webhook,
        reconnect,
    }
}

/// Every row of Acme's, in every table.
async fn acme_rows(db: &Db) -> Vec<String> {
    let mut all = Vec::new();
    for sql in [
        "SELECT * FROM organisations ORDER BY id",
        "SELECT * FROM users WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM services WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM connections WHERE org_id = 1 ORDER BY id",
        "SELECT g.* FROM grants g JOIN connections c ON c.id = g.connection_id WHERE c.org_id = 1 ORDER BY g.id",
        "SELECT * FROM api_tokens WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM oauth_flows WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM audit_log WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM sessions WHERE org_id = 1 ORDER BY token_hash",
        "SELECT * FROM api_calls WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM webhook_endpoints WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM webhook_outbox WHERE org_id = 1 ORDER BY id",
        "SELECT * FROM reconnect_links WHERE org_id = 1 ORDER BY id",
    ] {
        all.push(format!("-- {sql}"));
        all.extend(dump(db, sql).await);
    }
    all
}

fn service_form(name: &str) -> Value {
    api_key_service(name, "https://api.changed.example")
}

/// The attacks on server functions, by hand: each needs a body that names a foreign target.
fn rpc_attacks(w: &World) -> Vec<Attack> {
    use Expect::*;
    use Who::*;
    let nf = Refused(404, "not_found");
    let forbidden = Refused(403, "forbidden");
    let link = |l: &str| json!({ "link_name": l });
    let edit = |l: &str| json!({ "link_name": l, "name": "Taken over", "scopes": [] });
    let mut v = vec![
        rpc(Eve, "me", json!({}), Own),
        rpc(Eve, "setup_needed", json!({}), Own),
        rpc(Eve, "services", json!({}), Own),
        rpc(Mallory, "services", json!({}), Own),
        rpc(Eve, "custom_service", json!({ "id": w.ledger }), nf),
        rpc(Eve, "custom_service", json!({ "id": w.identity }), nf),
        rpc(Mallory, "custom_service", json!({ "id": w.ledger }), nf),
        rpc(Bob, "create_service", json!({ "form": service_form("Bob's own") }), forbidden),
        rpc(Mallory, "create_service", json!({ "form": service_form("Mallory's own") }), forbidden),
        rpc(Eve, "update_service", json!({ "id": w.ledger, "form": service_form("Taken over") }), nf),
        rpc(Eve, "update_service", json!({ "id": w.identity, "form": service_form("Taken over") }), nf),
        rpc(Bob, "update_service", json!({ "id": w.ledger, "form": service_form("Taken over") }), forbidden),
        rpc(Eve, "service_edit_impact", json!({ "id": w.ledger, "form": service_form("Taken over") }), nf),
        rpc(Bob, "service_edit_impact", json!({ "id": w.ledger, "form": service_form("Taken over") }), forbidden),
        rpc(Eve, "delete_service", json!({ "id": w.spare }), nf),
        rpc(Bob, "delete_service", json!({ "id": w.spare }), forbidden),
        rpc(Bob, "discover_service", json!({ "issuer": "https://id.zephyr.example" }), forbidden),
        rpc(Mallory, "discover_service", json!({ "issuer": "https://id.zephyr.example" }), forbidden),
        // A redirect URL for a new service's form: admins, of their own organisation (a form
        // carrying another organisation's key: hardening/callback_keys.rs).
        rpc(Eve, "reserve_callback", json!({}), Own),
        rpc(Bob, "reserve_callback", json!({}), forbidden),
        rpc(Eve, "connections", json!({ "query": {} }), Own),
        rpc(Eve, "connections", json!({ "query": { "internal": true } }), Own),
        rpc(Eve, "connections", json!({ "query": { "search": "zephyr" } }), Own),
        rpc(Mallory, "connections", json!({ "query": { "search": "quartz" } }), Own),
        // A custom service of another organisation cannot be used: "choose a service".
        rpc(
            Eve,
            "create_connection",
            json!({ "form": { "name": "Borrowed", "service": { "kind": "custom", "id": w.ledger }, "api_key": "x" } }),
            Refused(422, "validation"),
        ),
        rpc(Eve, "api_tokens", json!({}), Own),
        rpc(Mallory, "create_api_token", json!({ "name": "Mallory's second" }), Own),
        rpc(Eve, "revoke_api_token", json!({ "id": w.ada_token_id }), nf),
        // API tokens are personal: not even an admin's colleague can revoke them.
        rpc(Bob, "revoke_api_token", json!({ "id": w.ada_token_id }), nf),
        // The organisation's people: admins of their own organisation only.
        rpc(Eve, "members", json!({}), Own),
        rpc(Bob, "members", json!({}), forbidden),
        rpc(Mallory, "members", json!({}), forbidden),
        rpc(Eve, "revoke_member_token", json!({ "user_id": w.bob_id, "token_id": w.bob_token_id }), nf),
        rpc(Eve, "revoke_member_token", json!({ "user_id": 1, "token_id": w.ada_token_id }), nf),
        rpc(Bob, "revoke_member_token", json!({ "user_id": 1, "token_id": w.ada_token_id }), forbidden),
        rpc(Mallory, "revoke_member_token", json!({ "user_id": w.bob_id, "token_id": w.bob_token_id }), forbidden),
        rpc(Eve, "end_member_sessions", json!({ "user_id": w.bob_id }), nf),
        rpc(Eve, "end_member_sessions", json!({ "user_id": 1 }), nf),
        rpc(Bob, "end_member_sessions", json!({ "user_id": 1 }), forbidden),
        rpc(Mallory, "end_member_sessions", json!({ "user_id": w.bob_id }), forbidden),
        rpc(Eve, "remove_member", json!({ "user_id": w.bob_id }), nf),
        rpc(Eve, "remove_member", json!({ "user_id": 1 }), nf),
        rpc(Bob, "remove_member", json!({ "user_id": 1 }), forbidden),
        rpc(Mallory, "remove_member", json!({ "user_id": w.bob_id }), forbidden),
        // Webhooks: admins of their own organisation only.
        rpc(Eve, "webhook_endpoints", json!({}), Own),
        rpc(Eve, "webhook_deliveries", json!({}), Own),
        rpc(Bob, "webhook_endpoints", json!({}), forbidden),
        rpc(Mallory, "webhook_deliveries", json!({}), forbidden),
        rpc(Bob, "create_webhook_endpoint", json!({ "url": "https://192.0.2.11/bob", "description": "" }), forbidden),
        rpc(Eve, "rotate_webhook_secret", json!({ "id": w.webhook }), nf),
        rpc(Bob, "rotate_webhook_secret", json!({ "id": w.webhook }), forbidden),
        rpc(Eve, "delete_webhook_endpoint", json!({ "id": w.webhook }), nf),
        rpc(Bob, "delete_webhook_endpoint", json!({ "id": w.webhook }), forbidden),
        rpc(Eve, "send_test_webhook", json!({ "id": w.webhook }), nf),
        rpc(Bob, "send_test_webhook", json!({ "id": w.webhook }), forbidden),
        // Reconnect links: admins, of their own organisation's connections and people only.
        rpc(Eve, "reconnect_links", link("zephyr_books"), nf),
        rpc(Eve, "reconnect_links", link("other_books"), Own),
        rpc(Bob, "reconnect_links", link("zephyr_books"), forbidden),
        rpc(Mallory, "reconnect_links", link("other_books"), forbidden),
        rpc(
            Eve,
            "create_reconnect_link",
            json!({ "link_name": "zephyr_books", "user_id": w.bob_id, "minutes": 60 }),
            nf,
        ),
        rpc(
            Eve,
            "create_reconnect_link",
            json!({ "link_name": "other_books", "user_id": w.bob_id, "minutes": 60 }),
            nf,
        ),
        rpc(
            Bob,
            "create_reconnect_link",
            json!({ "link_name": "zephyr_books", "user_id": w.bob_id, "minutes": 60 }),
            forbidden,
        ),
        rpc(Eve, "revoke_reconnect_link", json!({ "id": w.reconnect }), nf),
        rpc(Bob, "revoke_reconnect_link", json!({ "id": w.reconnect }), forbidden),
        // Another session's ticket reads as one whose popup has not started: `pending`, whatever
        // Ada's flow is (tests/it/lifecycle.rs checks it after her flow is connected).
        rpc(Eve, "authorisation_status", json!({ "ticket": TICKET_A }), Own),
        rpc(Bob, "authorisation_status", json!({ "ticket": TICKET_A }), Own),
        Attack {
            who: Eve,
            call: Call::Form(
                "setup",
                vec![
                    ("org_name", "Acme".into()),
                    ("name", "Eve".into()),
                    ("email", "eve2@other.example".into()),
                    ("password", PASSWORD.into()),
                    ("password_confirm", PASSWORD.into()),
                ],
            ),
            expect: Refused(409, "setup_complete"),
        },
        Attack {
            who: Anon,
            call: Call::Form("sign_in", vec![("email", ADMIN_EMAIL.into()), ("password", PASSWORD.into())]),
            expect: Refused(401, "invalid_credentials"),
        },
        Attack {
            who: Eve,
            call: Call::Form("sign_in", vec![("email", ADMIN_EMAIL.into()), ("password", PASSWORD.into())]),
            expect: Refused(401, "invalid_credentials"),
        },
    ];
    for l in ["zephyr_books", "zephyr_login", "zephyr_system", "quartz_notes"] {
        for who in [Eve, Mallory] {
            v.push(rpc(who, "connection", link(l), nf));
            v.push(rpc(who, "connection_calls", link(l), nf));
            v.push(rpc(who, "connect", json!({ "link_name": l, "form": {} }), nf));
            v.push(rpc(who, "update_connection", edit(l), nf));
            v.push(rpc(who, "revoke_connection", link(l), nf));
            v.push(rpc(who, "delete_connection", link(l), nf));
        }
    }
    // A member on connections an admin created (quartz_notes is Bob's own: the control below).
    for l in ["zephyr_books", "zephyr_login"] {
        v.push(rpc(Bob, "connect", json!({ "link_name": l, "form": {} }), forbidden));
        v.push(rpc(Bob, "update_connection", edit(l), forbidden));
        v.push(rpc(Bob, "revoke_connection", link(l), forbidden));
        v.push(rpc(Bob, "delete_connection", link(l), forbidden));
    }
    v
}

/// An embedded sign-in token for Acme's admin, signed with a key that is not Liaison's.
fn forged_embed_token() -> String {
    let claims = server::embed::Claims {
        sub: crate::harness::ADMIN_EMAIL.into(),
        origin: "https://console.other.example".into(),
        exp: i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
            .unwrap()
            + 60,
        jti: None,
        name: None,
        role: None,
        org: None,
    };
    server::embed::sign("a-key-other-org-made-up-0123456789abcdef", &claims)
}

/// The attacks on the routes outside `/api/v1` (admin API, OAuth pages, health check, embedded sign-in).
fn route_attacks(w: &World) -> Vec<Attack> {
    use Expect::*;
    use Who::*;
    let other = w.other_org;
    let list = "/api/admin/v1/organisations/{org_id}/connections";
    let one = "/api/admin/v1/organisations/{org_id}/connections/{link_name}";
    let meta = "/api/admin/v1/organisations/{org_id}/connections/{link_name}/metadata";
    let admin = || Auth::Bearer(ADMIN_TOKEN.into());
    let http = |who, method, route, path: String, auth, body, expect| Attack {
        who,
        call: Call::Http { method, route, path, auth, body },
        expect,
    };
    let borrowed = json!({ "name": "Borrowed", "service": { "kind": "custom", "id": w.ledger }, "api_key": "x" });
    let hooks = "/api/admin/v1/organisations/{org_id}/webhooks";
    let hook = "/api/admin/v1/organisations/{org_id}/webhooks/{id}";
    let rotate = "/api/admin/v1/organisations/{org_id}/webhooks/{id}/rotate";
    let deliveries = "/api/admin/v1/organisations/{org_id}/webhooks/{id}/deliveries";
    let test = "/api/admin/v1/organisations/{org_id}/webhooks/{id}/test";
    let links = "/api/admin/v1/organisations/{org_id}/reconnect-links";
    let link = "/api/admin/v1/organisations/{org_id}/reconnect-links/{id}";
    let hook_of = |rest: &str| format!("/api/admin/v1/organisations/{other}/webhooks/{}{rest}", w.webhook);
    let mut v = vec![
        // The admin token is the operator's; with another organisation's id nothing of Acme's.
        http(Anon, "GET", list, format!("/api/admin/v1/organisations/{other}/connections"), admin(), None, Own),
        http(
            Anon,
            "POST",
            list,
            format!("/api/admin/v1/organisations/{other}/connections"),
            admin(),
            Some(borrowed.clone()),
            Refused(422, "validation"),
        ),
        http(
            Anon,
            "DELETE",
            one,
            format!("/api/admin/v1/organisations/{other}/connections/zephyr_system"),
            admin(),
            None,
            Refused(404, "not_found"),
        ),
        // Metadata: with another organisation's id, Acme's link name is no connection there.
        http(
            Anon,
            "GET",
            meta,
            format!("/api/admin/v1/organisations/{other}/connections/zephyr_books/metadata"),
            admin(),
            None,
            Refused(404, "not_found"),
        ),
        http(
            Anon,
            "PUT",
            meta,
            format!("/api/admin/v1/organisations/{other}/connections/zephyr_books/metadata"),
            admin(),
            Some(json!({ "taken": true })),
            Refused(404, "not_found"),
        ),
        // The OAuth pages: another organisation's link name, a member on an admin's connection,
        // and Acme's pending answer landing in Other Org's browser.
        http(Eve, "GET", "/oauth/start/{link_name}", "/oauth/start/zephyr_login".into(), Auth::Session(Eve), None, {
            Refused(404, "not_found")
        }),
        http(Bob, "GET", "/oauth/start/{link_name}", "/oauth/start/zephyr_login".into(), Auth::Session(Bob), None, {
            Refused(403, "forbidden")
        }),
        http(Eve, "GET", "/oauth/callback/{key}", w.callback_a.clone(), Auth::Session(Eve), None, {
            Refused(400, "flow_invalid")
        }),
        // Webhooks: another organisation's id sees and touches nothing of Acme's endpoint.
        http(Anon, "GET", hooks, format!("/api/admin/v1/organisations/{other}/webhooks"), admin(), None, Own),
        http(
            Anon,
            "POST",
            hooks,
            format!("/api/admin/v1/organisations/{other}/webhooks"),
            admin(),
            Some(json!({ "url": "ftp://192.0.2.12/x" })),
            Refused(422, "validation"),
        ),
        http(Anon, "DELETE", hook, hook_of(""), admin(), None, Refused(404, "not_found")),
        http(Anon, "POST", rotate, hook_of("/rotate"), admin(), None, Refused(404, "not_found")),
        http(Anon, "GET", deliveries, hook_of("/deliveries"), admin(), None, Refused(404, "not_found")),
        http(Anon, "POST", test, hook_of("/test"), admin(), None, Refused(404, "not_found")),
        // Reconnect links: another organisation's id lists nothing of Acme's, cannot make one for
        // Acme's connection or revoke one; a made-up link opens nothing.
        http(Anon, "GET", links, format!("/api/admin/v1/organisations/{other}/reconnect-links"), admin(), None, Own),
        http(
            Anon,
            "POST",
            links,
            format!("/api/admin/v1/organisations/{other}/reconnect-links"),
            admin(),
            Some(json!({ "link_name": "zephyr_books", "user_id": 1 })),
            Refused(404, "not_found"),
        ),
        http(
            Anon,
            "DELETE",
            link,
            format!("/api/admin/v1/organisations/{other}/reconnect-links/{}", w.reconnect),
            admin(),
            None,
            Refused(404, "not_found"),
        ),
        http(
            Eve,
            "GET",
            "/reconnect/{token}",
            "/reconnect/made-up-reconnect-token".into(),
            Auth::Session(Eve),
            None,
            Refused(400, "flow_invalid"),
        ),
        http(
            Eve,
            "GET",
            "/reconnect/{token}/continue",
            "/reconnect/made-up-reconnect-token/continue".into(),
            Auth::Session(Eve),
            None,
            Refused(400, "flow_invalid"),
        ),
        http(Eve, "GET", "/healthz", "/healthz".into(), Auth::Session(Eve), None, Own),
        http(Eve, "GET", "/favicon.ico", "/favicon.ico".into(), Auth::Session(Eve), None, Own),
        http(Eve, "GET", "/theme.css", "/theme.css".into(), Auth::Session(Eve), None, Own),
        // Embedded sign-in: a token for Acme's admin that Other Org forged (no embed secret is
        // configured here, and Eve does not have it anyway) signs nobody in.
        http(
            Eve,
            "GET",
            "/embed/start",
            format!("/embed/start?token={}", forged_embed_token()),
            Auth::Session(Eve),
            None,
            Refused(401, "unauthenticated"),
        ),
    ];
    // Cookies and API tokens never open the admin API, whoever holds them.
    for (method, route, path, body) in [
        ("GET", list, "/api/admin/v1/organisations/1/connections".to_string(), None),
        ("POST", list, "/api/admin/v1/organisations/1/connections".to_string(), Some(borrowed.clone())),
        ("DELETE", one, "/api/admin/v1/organisations/1/connections/zephyr_system".to_string(), None),
        ("GET", hooks, "/api/admin/v1/organisations/1/webhooks".to_string(), None),
        ("POST", hooks, "/api/admin/v1/organisations/1/webhooks".to_string(), Some(json!({ "url": WEBHOOK_A }))),
        ("DELETE", hook, format!("/api/admin/v1/organisations/1/webhooks/{}", w.webhook), None),
        ("POST", rotate, format!("/api/admin/v1/organisations/1/webhooks/{}/rotate", w.webhook), None),
        ("GET", deliveries, format!("/api/admin/v1/organisations/1/webhooks/{}/deliveries", w.webhook), None),
        ("POST", test, format!("/api/admin/v1/organisations/1/webhooks/{}/test", w.webhook), None),
        ("GET", links, "/api/admin/v1/organisations/1/reconnect-links".to_string(), None),
        (
            "POST",
            links,
            "/api/admin/v1/organisations/1/reconnect-links".to_string(),
            Some(json!({ "link_name": "zephyr_books", "user_id": 1 })),
        ),
        ("DELETE", link, "/api/admin/v1/organisations/1/reconnect-links/1".to_string(), None),
        ("GET", meta, "/api/admin/v1/organisations/1/connections/zephyr_books/metadata".to_string(), None),
        (
            "PUT",
            meta,
            "/api/admin/v1/organisations/1/connections/zephyr_books/metadata".to_string(),
            Some(json!({ "taken": true })),
        ),
    ] {
        for auth in [Auth::Session(Eve), Auth::Bearer(w.eve_token.clone()), Auth::Bearer(w.ada_token.clone())] {
            v.push(http(Eve, method, route, path.clone(), auth, body.clone(), Refused(401, "unauthenticated")));
        }
    }
    v
}

/// The scripts' API, generated from the live OpenAPI document: every operation, with Other Org's
/// tokens, on each of Acme's link names.
fn api_attacks(w: &World, doc: &Value) -> Vec<Attack> {
    let mut v = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let route: &'static str = match path.as_str() {
            "/api/v1/connections/{link_name}/proxy" => "/api/v1/connections/{link_name}/proxy",
            "/api/v1/connections/{link_name}/proxy/{path}" => "/api/v1/connections/{link_name}/proxy/{*path}",
            "/api/v1/connections/{link_name}/metadata" => "/api/v1/connections/{link_name}/metadata",
            "/api/v1/invoke" => "/api/v1/invoke",
            "/api/v1/openapi.json" => "/api/v1/openapi.json",
            other => panic!("{other}: an API route the tenancy matrix does not know; add it here"),
        };
        for method in item.as_object().unwrap().keys() {
            let method: &'static str = Box::leak(method.to_uppercase().into_boxed_str());
            for (who, token) in [(Who::Eve, &w.eve_token), (Who::Mallory, &w.mallory_token)] {
                for link in ["zephyr_books", "zephyr_system", "quartz_notes"] {
                    let (concrete, body, expect) = match route {
                        "/api/v1/invoke" => (
                            path.clone(),
                            Some(json!({ "connection": link, "url": "/v1/data" })),
                            Expect::Refused(404, "connection_not_found"),
                        ),
                        "/api/v1/openapi.json" => (path.clone(), None, Expect::Own),
                        "/api/v1/connections/{link_name}/metadata" => (
                            path.replace("{link_name}", link),
                            (method == "PUT").then(|| json!({ "taken": true })),
                            Expect::Refused(404, "connection_not_found"),
                        ),
                        _ => (
                            path.replace("{link_name}", link).replace("{path}", "v1/data"),
                            None,
                            Expect::Refused(404, "connection_not_found"),
                        ),
                    };
                    v.push(Attack {
                        who,
                        call: Call::Http { method, route, path: concrete, auth: Auth::Bearer(token.clone()), body },
                        expect,
                    });
                }
            }
        }
    }
    v
}

/// Sends one attack: (status, body, the request as text).
async fn send(w: &World, a: &Attack) -> (u16, String, String) {
    let client = w.client(a.who);
    match &a.call {
        Call::Rpc(name, body) => {
            let r = client.call(name, body.clone()).await;
            (r.status, r.body, format!("{name} {body}"))
        }
        Call::Form(name, form) => {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = client.rpc(name, &pairs).await;
            (r.status, r.body, format!("{name} {form:?}"))
        }
        Call::Http { method, path, auth, body, .. } => {
            let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            let mut req = http
                .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", w.server.url))
                .header("sec-fetch-site", "same-origin");
            match auth {
                Auth::Bearer(t) => req = req.bearer_auth(t),
                Auth::Session(who) => {
                    if let Some(c) = w.client(*who).cookie.lock().unwrap().clone() {
                        req = req.header("cookie", c);
                    }
                }
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
            let text = res.text().await.unwrap();
            (status, format!("{location}\n{text}"), format!("{method} {path} {body:?}"))
        }
    }
}

fn check(w: &World, a: &Attack, status: u16, body: &str, request: &str) {
    let what = format!("{:?} {request}", a.who);
    match a.expect {
        Expect::Refused(expected, code) => {
            assert_eq!(status, expected, "{what}: {body}");
            let json_code = body
                .lines()
                .last()
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
                .and_then(|v| v["code"].as_str().map(str::to_string));
            let page_code = body.contains(&format!("&quot;code&quot;:&quot;{code}&quot;"));
            // A HEAD answer has no body to carry the code.
            let head = request.starts_with("HEAD ") && body.trim().is_empty();
            assert!(json_code.as_deref() == Some(code) || page_code || head, "{what}: expected code {code}: {body}");
        }
        Expect::Own => assert!((200..300).contains(&status), "{what}: {status} {body}"),
    }
    for m in w.markers() {
        if !request.contains(&m) {
            assert!(!body.contains(&m), "{what}: the answer names {m:?}: {body}");
        }
    }
}

/// `(method, route)` of every `.route(…)` in the server's sources (tests excluded).
fn source_routes() -> BTreeSet<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") && p.file_name().unwrap() != "tests.rs" {
                out.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut sources = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut sources);
    let mut out = BTreeSet::new();
    for text in sources {
        for chunk in text.split(".route(\"").skip(1) {
            let (route, rest) = chunk.split_once('"').unwrap();
            let line = rest.lines().next().unwrap();
            let mut found = false;
            for m in ["get", "post", "put", "patch", "delete", "any"] {
                if line.contains(&format!("{m}(")) || line.contains(&format!(".{m}(")) {
                    out.insert((m.to_uppercase(), route.to_string()));
                    found = true;
                }
            }
            assert!(found, "cannot tell the methods of route {route}: {line}");
        }
    }
    out
}

/// The server functions, from `app/src/api.rs`.
fn server_functions() -> BTreeSet<String> {
    let source = include_str!("../../../../app/src/api.rs");
    source.split("endpoint = \"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

/// The pages, from the router in `app/src/lib.rs`; parameters become an Acme link name.
fn pages() -> Vec<String> {
    let source = include_str!("../../../../app/src/lib.rs");
    source
        .split("path!(\"")
        .skip(1)
        .map(|s| {
            let path = s.split('"').next().unwrap();
            path.split('/')
                .map(|seg| if seg.starts_with(':') { "zephyr_books" } else { seg })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

#[tokio::test]
async fn no_organisation_or_member_reaches_what_is_not_theirs() {
    for db in databases().await {
        let label = db.label();
        let w = world(db).await;
        let doc: Value =
            reqwest::get(format!("{}/api/v1/openapi.json", w.server.url)).await.unwrap().json().await.unwrap();
        let mut attacks = rpc_attacks(&w);
        attacks.extend(route_attacks(&w));
        attacks.extend(api_attacks(&w, &doc));

        // Coverage: every server function, every route in the sources, every documented operation.
        let attacked_fns: BTreeSet<String> = attacks
            .iter()
            .filter_map(|a| match &a.call {
                Call::Rpc(n, _) | Call::Form(n, _) => Some(n.to_string()),
                _ => None,
            })
            .chain(["sign_out".to_string()])
            .collect();
        let fns = server_functions();
        assert!(fns.len() >= 22, "{fns:?}");
        let missing: Vec<_> = fns.difference(&attacked_fns).collect();
        assert!(missing.is_empty(), "server functions the tenancy matrix does not try: {missing:?}");
        let attacked_routes: BTreeSet<(String, String)> = attacks
            .iter()
            .filter_map(|a| match &a.call {
                Call::Http { method, route, .. } => Some((method.to_string(), route.to_string())),
                _ => None,
            })
            .collect();
        for (method, route) in source_routes() {
            // The operator's counts, on metrics_listen's own listener, not on the public router
            // (tests/it/metrics.rs checks the public address has no /metrics).
            if route == "/metrics" {
                continue;
            }
            let covered = if method == "ANY" {
                attacked_routes.iter().filter(|(_, r)| *r == route).count() >= 7
            } else {
                attacked_routes.contains(&(method.clone(), route.clone()))
            };
            assert!(covered, "{method} {route}: a route the tenancy matrix does not try");
        }

        let before = acme_rows(&w.db).await;
        let reached = w.fp.requests().len();
        for a in &attacks {
            let (status, body, request) = send(&w, a).await;
            check(&w, a, status, &body, &request);
        }
        // The pages, as Other Org's admin: only their own organisation.
        for page in pages() {
            let r = w.eve.open(&page).await;
            assert!(r.status < 500, "{page}: {}", r.status);
            for m in w.markers() {
                assert!(!r.body.contains(&m), "{label}: page {page} names {m:?}");
            }
        }
        // Signing out of another browser ends that session only.
        let eve2 = w.server.client();
        assert_eq!(eve2.rpc("sign_in", &[("email", EVE), ("password", PASSWORD)]).await.status, 200);
        assert_eq!(eve2.rpc("sign_out", &[]).await.status, 200);
        assert_eq!(eve2.me().await, Value::Null);
        assert_eq!(w.eve.me().await["email"], EVE);

        call_log_written(&w.db, &w.server, &w.eve_token).await;
        assert_eq!(acme_rows(&w.db).await, before, "{label}: an attack changed Acme's rows");
        assert_eq!(w.fp.requests().len(), reached, "{label}: an attack reached Acme's service");
        // Other Org's answers were about Other Org: its own list, its own tokens.
        let list = w.eve.call("connections", json!({ "query": {} })).await.json();
        assert_eq!((list["total"].as_i64(), list["rows"][0]["link_name"].as_str()), (Some(1), Some("other_books")));

        controls(&w, label).await;
    }
}

/// The same calls by those entitled to them succeed: the refusals above came from the boundary,
/// not from a malformed request. Then Other Org may reuse Acme's names without touching Acme's.
async fn controls(w: &World, label: &str) {
    let ok = |r: Reply, what: &str| assert!((200..300).contains(&r.status), "{label} {what}: {} {}", r.status, r.body);
    let (ada, bob) = (&w.ada, &w.bob);
    ok(ada.call("custom_service", json!({ "id": w.ledger })).await, "custom_service");
    ok(bob.call("custom_service", json!({ "id": w.identity })).await, "a member reads a service");
    ok(ada.call("authorisation_status", json!({ "ticket": TICKET_A })).await, "authorisation_status");
    ok(bob.call("connection", json!({ "link_name": "zephyr_books" })).await, "a member sees the connection");
    // …and of its calls only his own: not which tokens of Ada's call it.
    let r = bob.call("connection_calls", json!({ "link_name": "zephyr_books" })).await;
    assert!(!r.body.contains("Nightly Zephyr Sync") && !r.body.contains("ada@"), "{label}: {}", r.body);
    ok(r, "a member sees his own calls");
    let r = ada.call("connection_calls", json!({ "link_name": "zephyr_books" })).await;
    assert!(r.body.contains("ada@acme.example (token Nightly Zephyr Sync)"), "{label}: the admin sees it: {}", r.body);
    for l in ["zephyr_books", "zephyr_system", "quartz_notes"] {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/invoke", w.server.url))
            .bearer_auth(&w.bob_token)
            .json(&json!({ "connection": l, "url": "/v1/data" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{label}: a member's script uses {l}");
    }
    ok(
        bob.call("update_connection", json!({ "link_name": "quartz_notes", "name": "Quartz 2", "scopes": [] })).await,
        "creator edits",
    );
    ok(bob.call("revoke_connection", json!({ "link_name": "quartz_notes" })).await, "creator revokes");
    ok(bob.call("delete_connection", json!({ "link_name": "quartz_notes" })).await, "creator deletes");
    ok(
        ada.call("update_connection", json!({ "link_name": "zephyr_books", "name": "Zephyr Books 2", "scopes": [] }))
            .await,
        "admin edits",
    );
    ok(
        ada.call("update_service", json!({ "id": w.ledger, "form": api_key_service("Zephyr Ledger", &w.fp.base) }))
            .await,
        "update_service",
    );
    ok(ada.call("delete_service", json!({ "id": w.spare })).await, "delete_service");
    let url = lifecycle::start_link(ada, "zephyr_login").await;
    let r = ada.open(&format!("{url}&ticket=zephyr-second-0123456789")).await;
    assert_eq!(r.status, 303, "{label}: {}", r.body);
    ok(ada.call("revoke_connection", json!({ "link_name": "zephyr_books" })).await, "admin revokes");
    ok(ada.call("connect", json!({ "link_name": "zephyr_books", "form": { "api_key": API_KEY_A } })).await, "enable");
    ok(ada.call("revoke_api_token", json!({ "id": w.ada_token_id })).await, "revoke_api_token");
    let r = reqwest::Client::new()
        .delete(format!("{}/api/admin/v1/organisations/1/connections/zephyr_system", w.server.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{label}");

    // Same names in another organisation: allowed, and each organisation gets its own.
    let fp_b = FaultProvider::start().await;
    fp_b.set_at("/v1/data", Fault::json(200, json!({ "data": "other" })));
    let sid = create_service(&w.eve, api_key_service("Zephyr Ledger", &fp_b.base)).await;
    let r = create_connection(
        &w.eve,
        json!({ "name": "Zephyr Books", "link_name": "zephyr_books", "service": { "kind": "custom", "id": sid },
                "api_key": API_KEY_B }),
    )
    .await;
    assert_eq!(r.status, 200, "{label}: {}", r.body);
    let before = w.fp.requests().len();
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/connections/zephyr_books/proxy/v1/data", w.server.url))
        .bearer_auth(&w.eve_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"data":"other"}"#, "{label}");
    assert_eq!(fp_b.last_request().unwrap().header("x-key"), Some(API_KEY_B));
    assert_eq!(w.fp.requests().len(), before, "{label}: Acme's service was not called");
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/connections/zephyr_books/proxy/v1/data", w.server.url))
        .bearer_auth(&w.bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"data":"ok"}"#, "{label}");
    assert_eq!(w.fp.last_request().unwrap().header("x-key"), Some(API_KEY_A));

    // Acme's admin manages Acme's people.
    let people = ada.call("members", json!({})).await;
    assert!(people.body.contains(BOB) && !people.body.contains(EVE), "{label}: {}", people.body);
    ok(people, "members");
    ok(ada.call("end_member_sessions", json!({ "user_id": w.bob_id })).await, "end_member_sessions");
    ok(
        ada.call("revoke_member_token", json!({ "user_id": w.bob_id, "token_id": w.bob_token_id })).await,
        "revoke_member_token",
    );
    ok(ada.call("remove_member", json!({ "user_id": w.bob_id })).await, "remove_member");
}
