//! Reconnect links (issue 20): the admin API makes a single-use link for one member and one
//! connection; opened by that member it starts the ordinary authorisation flow against the real
//! provider, once. Used, expired, revoked, someone else's or another organisation's links are
//! refused in the same words; the token is never listed nor logged.

use crate::hardening::cli_user;
use crate::harness::*;
use crate::lifecycle::{
    create_connection, create_service, details, land, liaison_and_provider, member, service_form, start, ADMIN_TOKEN,
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

/// Opens the link as a person does from an email: from another site.
async fn open(client: &Client, token: &str) -> Reply {
    client.send_get_with(&format!("/reconnect/{token}"), &[("sec-fetch-site", "cross-site")]).await
}

fn refused(r: &Reply, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    assert!(r.body.contains(REFUSED), "{what}: {}", r.body);
    assert!(!r.body.contains("/oauth/start/"), "{what}: {}", r.body);
}

/// The start link the page's button leads to.
fn start_url_in(page: &str) -> String {
    let at = page.find("href=\"/oauth/start/").unwrap_or_else(|| panic!("no start link: {page}"));
    page[at + 6..].split('"').next().unwrap().replace("&amp;", "&")
}

#[tokio::test]
async fn a_reconnect_link_reauthorises_once_for_its_member_only() {
    for db in databases().await {
        let label = db.label();
        let (server, ada, provider) = liaison_and_provider(&db).await;
        let bob = member(&db, &server, BOB).await;
        let me = bob.me().await;
        let bob_id = me["user_id"].as_i64().unwrap();
        let ada_id = ada.me().await["user_id"].as_i64().unwrap();
        let id = create_service(&ada, service_form(&ada, &provider, "authorization_code").await).await;
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
        // Signed out: to sign-in, and nothing is used.
        let stranger = server.client();
        let r = open(&stranger, &token).await;
        assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/login"), "{label}");
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
        let ttl = list[0]["expires_at"].as_i64().unwrap() - list[0]["created_at"].as_i64().unwrap();
        assert_eq!(ttl, 24 * 3600 * 1000, "{label}");

        // Bob opens it: a page whose button starts the ordinary flow in his session.
        let r = open(&bob, &token).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let url = start_url_in(&r.body);
        assert!(url.starts_with("/oauth/start/team_crm?n="), "{label}: {url}");
        refused(&open(&bob, &token).await, "used");
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
        let (server, ada, provider) = liaison_and_provider(&db).await;
        let bob = member(&db, &server, BOB).await;
        let bob_id = bob.me().await["user_id"].as_i64().unwrap();
        let id = create_service(&ada, service_form(&ada, &provider, "authorization_code").await).await;
        let r = create_connection(
            &ada,
            json!({ "name": "Team CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid"], "per_user": true }),
        )
        .await;
        assert_eq!(r.json()[0], "team_crm", "{label}");
        let (_, token) = make(&server, bob_id, "team_crm", None).await;
        let answers = futures_util::future::join_all((0..6).map(|_| open(&bob, &token))).await;
        let won = answers.iter().filter(|r| r.status == 200).count();
        assert_eq!(won, 1, "{label}: {:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in answers.iter().filter(|r| r.status != 200) {
            refused(r, "the losers");
        }
    }
}
