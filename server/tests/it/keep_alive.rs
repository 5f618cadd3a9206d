//! Grants kept alive against oidc-provider: a custom service whose refresh tokens lapse after a
//! day unused (`refresh_idle_days`); moving the clock past half a day has the background task
//! refresh the grant with no call; a refresh the provider refuses (its refresh token expired
//! there) marks the connection Needs re-authorisation and sends reauthorisation_needed to a
//! receiver (the fault provider's `/hook`); two instances on PostgreSQL refresh it once.

use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, create_connection, create_service, land, service_form, start, ADMIN_TOKEN};
use crate::provider::Provider;
use serde_json::{json, Value};
use sqlx::Row;
use std::time::Duration;

const HOOK: &str = "/hook";
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const KEPT_ALIVE: &str = "idle grants refreshed before their refresh tokens lapse";

/// The connection `acme_crm` on a service whose refresh tokens lapse after a day unused,
/// authorised at the provider.
async fn idle_connection(server: &Server, client: &Client, provider: &Provider) {
    let mut form = service_form(client, provider, "authorization_code").await;
    form["refresh_idle_days"] = json!("1");
    let id = create_service(client, form).await;
    let form = json!({ "name": "Acme CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid", "offline_access"] });
    let r = create_connection(client, form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let authorize = start(client, &lifecycle::start_url_of(&r.json(), "acme_crm"), "ticket-keep-0123456789").await;
    assert_eq!(land(client, server, &provider.approve(&authorize).await).await.status, 200);
}

/// The shared grant's version and the connection's status.
async fn grant(db: &Db) -> (i64, String) {
    let rows = lifecycle::sqlite_rows(
        db,
        "SELECT g.version, c.status FROM grants g JOIN connections c ON c.id = g.connection_id WHERE g.user_key = 0",
    )
    .await;
    assert_eq!(rows.len(), 1);
    (rows[0].get("version"), rows[0].get("status"))
}

/// The token endpoint's refresh_token calls so far: (ok, refused as invalid_grant).
async fn refreshes(provider: &Provider) -> (u64, u64) {
    let counts = provider.counts().await;
    let t = &counts["token"]["refresh_token"];
    (t["ok"].as_u64().unwrap_or(0), t["errors"]["invalid_grant"].as_u64().unwrap_or(0))
}

/// The event types the receiver got, once it has `n`.
async fn events(fp: &FaultProvider, n: usize) -> Vec<Value> {
    eventually(&format!("{n} events"), || async {
        let got: Vec<Value> =
            fp.requests().iter().filter(|r| r.path == HOOK).map(|r| serde_json::from_str(&r.body).unwrap()).collect();
        (got.len() >= n).then_some(got)
    })
    .await
}

#[tokio::test]
async fn an_idle_grant_is_refreshed_without_a_call_and_a_refused_one_is_told_at_once() {
    for db in databases().await {
        let (server, client, provider) = lifecycle::liaison_and_provider(&db).await;
        let fp = FaultProvider::start().await;
        fp.set_at(HOOK, Fault::json(200, json!({})));
        let url = format!("{}/api/admin/v1/organisations/1/webhooks", server.url);
        let r = reqwest::Client::new().post(url).bearer_auth(ADMIN_TOKEN).json(&json!({ "url": fp.url(HOOK) }));
        assert_eq!(r.send().await.unwrap().status(), 201);
        idle_connection(&server, &client, &provider).await;
        let (version, status) = grant(&db).await;
        assert_eq!((status.as_str(), refreshes(&provider).await), ("connected", (0, 0)), "{}", db.label());

        // Past half the idle lifetime, with no call: refreshed once, and nothing is told.
        server.advance_clock(13 * HOUR);
        let now = eventually("the idle grant refreshed", || async {
            let now = grant(&db).await;
            (now.0 > version).then_some(now)
        })
        .await;
        assert_eq!((now, refreshes(&provider).await), ((version + 1, "connected".into()), (1, 0)));
        assert!(server.log().contains(KEPT_ALIVE), "{}", server.log());

        // Left idle until the provider let the refresh token lapse: refused, and told at once.
        provider.advance_clock(15 * DAY).await;
        server.advance_clock(13 * HOUR);
        let status = eventually("the connection marked", || async {
            let (_, status) = grant(&db).await;
            (status != "connected").then_some(status)
        })
        .await;
        assert_eq!((status.as_str(), refreshes(&provider).await), ("needs_reauth", (1, 1)), "{}", db.label());
        let got = events(&fp, 3).await;
        let types: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["connection.created", "connection.authorised", "connection.reauthorisation_needed"],
            "{}",
            db.label()
        );
        let told = &got[2];
        assert_eq!(
            (told["connection"]["link_name"].as_str(), told["connection"]["status"].as_str(), told["actor"].as_str()),
            (Some("acme_crm"), Some("needs_reauth"), Some("Liaison"))
        );
    }
}

#[tokio::test]
async fn two_instances_on_postgresql_refresh_an_idle_grant_once() {
    let Some(db) = postgres().await else { return };
    let (a, client, provider) = lifecycle::liaison_and_provider(&db).await;
    let b = lifecycle::start_open(&db);
    idle_connection(&a, &client, &provider).await;
    let (version, _) = grant(&db).await;
    // The provider answers slowly, so both instances find the grant due while it is refreshed.
    provider.hold(1500).await;
    a.advance_clock(13 * HOUR);
    eventually("both instances kept it alive", || async {
        (a.log().contains(KEPT_ALIVE) && b.log().contains(KEPT_ALIVE)).then_some(())
    })
    .await;
    provider.hold(0).await;
    assert_eq!(grant(&db).await, (version + 1, "connected".into()));
    let counts = provider.counts().await;
    assert_eq!(counts["token"]["refresh_token"]["total"], 1, "refreshed once: {counts}");
}
