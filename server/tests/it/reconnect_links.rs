//! Reconnect links (issue 20): the admin API makes a single-use link for one member and one
//! connection; opened by that member it starts the ordinary authorisation flow against the real
//! provider, once. Used, expired, revoked, someone else's or another organisation's links are
//! refused in the same words; the token is never listed nor logged. The details page's server
//! functions make, list and revoke links (admins only), and sign-in leads back to a link opened
//! signed out, and nowhere else.

use crate::hardening::cli_user;
use crate::harness::*;
use crate::lifecycle::{
    create_connection, create_service, details, land, liaison_and_provider, member, service_form, start, ADMIN_TOKEN,
    MEMBER_PASSWORD,
};
use serde_json::{json, Value};
use std::time::Duration;

const BOB: &str = "bob@acme.example";
const REFUSED: &str = "This reconnect link cannot be used";

async fn admin_api(server: &Server, org: i64, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/api/admin/v1/organisations/{org}/reconnect-links{path}", server.url);
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), url).bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Makes a link for `user_id` on `link`: its id and its token.
async fn make(server: &Server, user_id: i64, link: &str, minutes: Option<i64>) -> (i64, String) {
    let (status, v) =
        admin_api(server, 1, "POST", "", Some(json!({ "link_name": link, "user_id": user_id, "minutes": minutes })))
            .await;
    assert_eq!(status, 201, "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/reconnect/", server.url)), "{url}");
    (v["id"].as_i64().unwrap(), url.rsplit('/').next().unwrap().to_string())
}

/// Liaison beside the real provider, its admin Ada, the member Bob, and a custom service of the
/// provider (authorization code).
struct Team {
    server: Server,
    ada: Client,
    provider: crate::provider::Provider,
    bob: Client,
    bob_id: i64,
    service: i64,
}

async fn team(db: &Db) -> Team {
    let (server, ada, provider) = liaison_and_provider(db).await;
    let bob = member(db, &server, BOB).await;
    let bob_id = bob.me().await["user_id"].as_i64().unwrap();
    let service = create_service(&ada, service_form(&ada, &provider, "authorization_code").await).await;
    Team { server, ada, provider, bob, bob_id, service }
}

/// Opens the link as a person does from an email: from another site.
async fn open(client: &Client, token: &str) -> Reply {
    client.send_get_with(&format!("/reconnect/{token}"), &[("sec-fetch-site", "cross-site")]).await
}

fn refused(r: &Reply, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    assert!(r.body.contains(REFUSED), "{what}: {}", r.body);
    assert!(!r.body.contains("/oauth/start/"), "{what}: {}", r.body);
}

/// Follows the page's button (from Liaison's own page), as the browser does.
async fn press(client: &Client, token: &str) -> Reply {
    client.send_get_with(&format!("/reconnect/{token}/continue"), &[("sec-fetch-site", "same-origin")]).await
}

/// The start link the page's button leads to: the button is there, and following it uses the
/// link and answers the start link of the flow.
async fn go_on(client: &Client, page: &str, token: &str) -> String {
    assert!(page.contains(&format!("href=\"/reconnect/{token}/continue\"")), "no button: {page}");
    let r = press(client, token).await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.headers["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_reconnect_link_reauthorises_once_for_its_member_only() {
    for db in databases().await {
        let label = db.label();
        let Team { server, ada, provider, bob, bob_id, service: id } = team(&db).await;
        let ada_id = ada.me().await["user_id"].as_i64().unwrap();
        // A shared connection Ada created: Bob may not manage it, but the link lets him authorise it.
        let r = create_connection(
            &ada,
            json!({ "name": "Team CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid", "api:read"] }),
        )
        .await;
        assert_eq!(r.json()[0], "team_crm", "{label}");
        assert_ne!(details(&ada, "team_crm").await["row"]["status"], "connected", "{label}");

        // Bounds, unknown people and connections.
        for (body, status) in [
            (json!({ "link_name": "team_crm", "user_id": bob_id, "minutes": 5 }), 422),
            (json!({ "link_name": "team_crm", "user_id": bob_id, "minutes": 7 * 24 * 60 + 1 }), 422),
            (json!({ "link_name": "team_crm", "user_id": 999_999 }), 404),
            (json!({ "link_name": "nothing_here", "user_id": bob_id }), 404),
        ] {
            assert_eq!(admin_api(&server, 1, "POST", "", Some(body.clone())).await.0, status, "{label}: {body}");
        }

        let (link_id, token) = make(&server, bob_id, "team_crm", None).await;
        // Signed out: to sign-in, which leads back to the link; nothing is used.
        let stranger = server.client();
        let r = open(&stranger, &token).await;
        let back = format!("/login?next=/reconnect/{token}");
        assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, back.as_str()), "{label}");
        // Someone else of the organisation (the admin herself) is refused, and does not burn it.
        refused(&open(&ada, &token).await, "another person");
        // Another organisation's admin cannot see it or revoke it; its people cannot use it.
        let eve = cli_user(&db, &server, "eve@other.example", "Other Org", "admin", "eve's long password here").await;
        refused(&open(&eve, &token).await, "another organisation");
        let (status, other) = admin_api(&server, 2, "GET", "", None).await;
        assert_eq!((status, other), (200, json!([])), "{label}");
        assert_eq!(admin_api(&server, 2, "DELETE", &format!("/{link_id}"), None).await.0, 404, "{label}");

        // Listed without the token; with an expiry a day away by default.
        let (status, list) = admin_api(&server, 1, "GET", "", None).await;
        assert_eq!(status, 200, "{label}");
        assert!(!list.to_string().contains(&token), "{label}: {list}");
        assert_eq!(list[0]["id"], link_id);
        assert_eq!(list[0]["link_name"], "team_crm");
        assert_eq!(list[0]["used_at"], Value::Null);
        assert_eq!((list[0]["person"].as_str(), list[0]["state"].as_str()), (Some(BOB), Some("usable")), "{label}");
        let ttl = list[0]["expires_at"].as_i64().unwrap() - list[0]["created_at"].as_i64().unwrap();
        assert_eq!(ttl, 24 * 3600 * 1000, "{label}");

        // Bob opens it: a page whose button starts the ordinary flow in his session. Opening it
        // again (a reload) uses nothing; nor does the button's address reached from elsewhere.
        assert_eq!(open(&bob, &token).await.status, 200, "{label}");
        let r = bob.send_get_with(&format!("/reconnect/{token}/continue"), &[("sec-fetch-site", "cross-site")]).await;
        let back = format!("/reconnect/{token}");
        assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, back.as_str()), "{label}");
        let r = open(&bob, &token).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let url = go_on(&bob, &r.body, &token).await;
        assert!(url.starts_with("/oauth/start/team_crm?n="), "{label}: {url}");
        refused(&open(&bob, &token).await, "used");
        refused(&press(&bob, &token).await, "used, by its button");
        let authorize = start(&bob, &url, "bob-reconnect-0123456789abcdef").await;
        let callback = provider.approve_as(&authorize, "bob").await;
        assert_eq!(land(&bob, &server, &callback).await.status, 200, "{label}");
        let d = details(&ada, "team_crm").await;
        assert_eq!(d["row"]["status"], "connected", "{label}: {d}");
        assert_eq!(d["grant"]["authorised_by"], BOB, "{label}: {d}");
        let (_, list) = admin_api(&server, 1, "GET", "", None).await;
        assert!(list[0]["used_at"].is_i64(), "{label}: {list}");
        assert_eq!(admin_api(&server, 1, "DELETE", &format!("/{link_id}"), None).await.0, 404, "{label}: used");

        // Revoked: refused.
        let (revoked, token2) = make(&server, bob_id, "team_crm", None).await;
        assert_eq!(admin_api(&server, 1, "DELETE", &format!("/{revoked}"), None).await.0, 204, "{label}");
        refused(&open(&bob, &token2).await, "revoked");

        // Expired: refused once the clock has moved past it.
        let (_, token3) = make(&server, bob_id, "team_crm", Some(10)).await;
        db.advance_clock(Duration::from_secs(11 * 60));
        refused(&open(&bob, &token3).await, "expired");

        // A link for the admin, opened by the member, is refused too.
        let (_, token4) = make(&server, ada_id, "team_crm", None).await;
        refused(&open(&bob, &token4).await, "the admin's link");

        // Audited, and no token in the log.
        let log = server.log();
        for t in [&token, &token2, &token3, &token4] {
            assert!(!log.contains(t.as_str()), "{label}: a token in the log");
        }
        let audit =
            crate::lifecycle::sqlite_rows(&db, "SELECT action FROM audit_log WHERE action LIKE 'reconnect%'").await;
        let actions: Vec<String> = audit.iter().map(|r| sqlx::Row::get(r, "action")).collect();
        for a in ["reconnect link created", "reconnect link used", "reconnect link revoked"] {
            assert!(actions.iter().any(|x| x == a), "{label}: {a} not audited: {actions:?}");
        }
    }
}

#[tokio::test]
async fn two_concurrent_uses_of_a_link_one_wins() {
    for db in databases().await {
        let label = db.label();
        let Team { server, ada, bob, bob_id, service: id, .. } = team(&db).await;
        let r = create_connection(
            &ada,
            json!({ "name": "Team CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid"], "per_user": true }),
        )
        .await;
        assert_eq!(r.json()[0], "team_crm", "{label}");
        let (_, token) = make(&server, bob_id, "team_crm", None).await;
        let answers = futures_util::future::join_all((0..6).map(|_| press(&bob, &token))).await;
        let won = answers.iter().filter(|r| r.status == 303).count();
        assert_eq!(won, 1, "{label}: {:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in answers.iter().filter(|r| r.status != 303) {
            refused(r, "the losers");
        }
    }
}

#[tokio::test]
async fn the_details_page_makes_lists_and_revokes_links_and_sign_in_leads_back_to_one() {
    for db in databases().await {
        let label = db.label();
        let Team { server, ada, provider, bob, bob_id, service: id } = team(&db).await;
        for name in ["Team CRM", "Other CRM"] {
            let r = create_connection(
                &ada,
                json!({ "name": name, "service": { "kind": "custom", "id": id }, "scopes": ["openid"] }),
            )
            .await;
            assert_eq!(r.status, 200, "{label}: {}", r.body);
        }
        let make = |minutes: i64| json!({ "link_name": "team_crm", "user_id": bob_id, "minutes": minutes });

        // Admins only; a member can neither make, see nor revoke one.
        let r = bob.call("create_reconnect_link", make(60)).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (403, Some("forbidden")), "{label}");
        let r = ada.call("create_reconnect_link", make(60)).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let made = r.json();
        let url = made["url"].as_str().unwrap().to_string();
        let token = url.rsplit('/').next().unwrap().to_string();
        assert_eq!(url, format!("{}/reconnect/{token}", server.url), "{label}");
        assert_eq!((made["person"].as_str(), made["state"].as_str()), (Some(BOB), Some("usable")), "{label}");
        assert_eq!(made["expires_at"].as_i64().unwrap() - made["created_at"].as_i64().unwrap(), 3_600_000);
        assert_eq!(ada.call("create_reconnect_link", make(5)).await.status, 422, "{label}: too short");
        assert_eq!(bob.call("reconnect_links", json!({ "link_name": "team_crm" })).await.status, 403, "{label}");
        assert_eq!(ada.call("reconnect_links", json!({ "link_name": "no_such" })).await.status, 404, "{label}");
        let list = ada.call("reconnect_links", json!({ "link_name": "team_crm" })).await.json();
        assert_eq!((list[0]["id"].clone(), list.as_array().map(Vec::len)), (made["id"].clone(), Some(1)), "{label}");
        assert!(!list.to_string().contains(&token), "{label}: the token listed");
        let other = ada.call("reconnect_links", json!({ "link_name": "other_crm" })).await.json();
        assert_eq!(other, json!([]), "{label}: only the connection's own links");

        // Bob, signed out, opens it: sign-in leads him back to it, and it starts his flow.
        let browser = server.client();
        let r = open(&browser, &token).await;
        let next = r.headers["location"].to_str().unwrap().strip_prefix("/login?next=").unwrap().to_string();
        let r = browser.rpc("sign_in", &[("email", BOB), ("password", MEMBER_PASSWORD), ("next", &next)]).await;
        assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (200, next.as_str()), "{label}");
        let r = open(&browser, &token).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let authorize = start(&browser, &go_on(&browser, &r.body, &token).await, "bob-details-0123456789abcdef").await;
        let callback = provider.approve_as(&authorize, "bob").await;
        assert_eq!(land(&browser, &server, &callback).await.status, 200, "{label}");
        assert_eq!(details(&ada, "team_crm").await["row"]["status"], "connected", "{label}");
        let list = ada.call("reconnect_links", json!({ "link_name": "team_crm" })).await.json();
        assert_eq!(list[0]["state"], "used", "{label}: {list}");

        // The sign-in form posted before the page's wasm has loaded: a plain redirect there too.
        let plain = server.client();
        let headers = [("origin", server.url.as_str()), ("sec-fetch-site", "same-origin"), ("accept", "text/html")];
        let r = plain
            .rpc_with("sign_in", &[("email", BOB), ("password", MEMBER_PASSWORD), ("next", &next)], &headers)
            .await;
        assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (302, next.as_str()), "{label}");

        // Sign-in leads nowhere else: other sites, other paths, an encoded way out.
        for next in [
            "https://evil.example/",
            "//evil.example/reconnect/x",
            "/settings/developer-space/members",
            "/reconnect/../login",
            "/reconnect/x%2F..%2Fy",
        ] {
            let c = server.client();
            let r = c.rpc("sign_in", &[("email", BOB), ("password", MEMBER_PASSWORD), ("next", next)]).await;
            assert_eq!(r.headers["location"].to_str().unwrap(), "/settings/developer-space/connections", "{next}");
        }

        // Revoked from the page: listed so, and refused.
        let r = ada.call("create_reconnect_link", make(7 * 24 * 60)).await;
        let (id2, token2) = (
            r.json()["id"].as_i64().unwrap(),
            r.json()["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string(),
        );
        assert_eq!(bob.call("revoke_reconnect_link", json!({ "id": id2 })).await.status, 403, "{label}");
        assert_eq!(ada.call("revoke_reconnect_link", json!({ "id": id2 })).await.status, 200, "{label}");
        assert_eq!(ada.call("revoke_reconnect_link", json!({ "id": id2 })).await.status, 404, "{label}: twice");
        let list = ada.call("reconnect_links", json!({ "link_name": "team_crm" })).await.json();
        assert_eq!((list[0]["id"].as_i64(), list[0]["state"].as_str()), (Some(id2), Some("revoked")), "{label}");
        refused(&open(&bob, &token2).await, "revoked from the page");
        assert!(!server.log().contains(&token2) && !server.log().contains(&token), "{label}: a token in the log");
    }
}
