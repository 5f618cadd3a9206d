//! Webhook delivery under load, over HTTP: a slow receiver holds up no other organisation's
//! events, two instances on PostgreSQL send each event of a slow receiver once, in order; and the
//! limits that keep an organisation from turning Liaison into a reflector (endpoints, test events).

use crate::faults::{Fault, FaultProvider};
use crate::hardening::cli_user;
use crate::harness::*;
use crate::lifecycle::{create_connection, create_service, ADMIN_TOKEN};
use crate::webhooks::{admin, admin_at, register, register_at, verify, HOOK};
use serde_json::json;
use std::time::{Duration, Instant};

/// Two events (created, then authorised) for each of `n` new API-key connections of Acme.
async fn events_for_acme(client: &Client, n: usize) {
    let keyed = json!({ "name": "Keyed", "auth_type": "api_key", "api_base_urls": ["https://api.keyed.example"], "param_type": "header", "header_name": "X-Key" });
    let service = create_service(client, keyed).await;
    for i in 0..n {
        let form = json!({ "name": format!("Keyed {i}"), "link_name": format!("keyed_{i}"), "service": { "kind": "custom", "id": service }, "api_key": "k-1" });
        let r = create_connection(client, form).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn two_instances_on_postgresql_deliver_each_event_once() {
    let Some(db) = postgres().await else { return };
    let a = crate::lifecycle::start_open(&db);
    let client = a.client();
    assert_eq!(setup(&client).await.status, 200);
    let b = crate::lifecycle::start_open(&db);
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::json(200, json!({})));
    // Two endpoints, so both instances find work in each round.
    let (_, secret) = register(&a, &fp.url(HOOK)).await;
    let (_, second) = register(&b, &format!("{}?second", fp.url(HOOK))).await;
    // Ten events for each (a test event is one at a time per endpoint).
    events_for_acme(&client, 5).await;
    use sqlx::Row;
    let rows = crate::lifecycle::sqlite_rows(&db, "SELECT event_id FROM webhook_outbox").await;
    let sent: std::collections::BTreeSet<String> = rows.iter().map(|r| r.get("event_id")).collect();
    eventually("every event delivered", || async {
        let rows = crate::lifecycle::sqlite_rows(
            &db,
            "SELECT COUNT(*) AS n FROM webhook_outbox WHERE delivered_at IS NOT NULL",
        )
        .await;
        (rows[0].get::<i64, _>("n") == 20).then_some(())
    })
    .await;
    // Each endpoint (told apart by its query) got each event once.
    let got: Vec<(bool, String)> = fp
        .requests()
        .iter()
        .filter(|r| r.path == HOOK)
        .map(|r| (r.query.is_some(), r.header("liaison-event-id").unwrap().to_string()))
        .collect();
    let pairs: std::collections::BTreeSet<&(bool, String)> = got.iter().collect();
    let ids: std::collections::BTreeSet<String> = got.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!((got.len(), pairs.len(), &ids), (20, 20, &sent), "each event once to each endpoint");
    let rows = crate::lifecycle::sqlite_rows(&db, "SELECT COUNT(*) AS n, MAX(attempts) AS m FROM webhook_outbox").await;
    assert_eq!((rows[0].get::<i64, _>("n"), rows[0].get::<i64, _>("m")), (20, 1));
    let rows = crate::lifecycle::sqlite_rows(&db, "SELECT COUNT(*) AS n FROM webhook_deliveries").await;
    assert_eq!(rows[0].get::<i64, _>("n"), 20);
    for r in fp.requests() {
        let key = if r.query.is_some() { &second } else { &secret };
        assert!(verify(key, r.header("liaison-signature").unwrap(), &r.body, Some(db.now_ms())).is_some());
    }
}

#[tokio::test]
async fn a_slow_receiver_delays_no_other_organisations_events() {
    let db = sqlite().await;
    let env = [("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN), ("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "5")];
    let server = Server::with_local_providers(&db, &env);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    // Acme's receiver answers nothing before the time limit, with ten events queued for it.
    let slow = FaultProvider::start().await;
    slow.set_at(HOOK, Fault::json(200, json!({})).after(Duration::from_secs(3600)));
    register(&server, &slow.url(HOOK)).await;
    events_for_acme(&client, 5).await;
    eventually("Acme's first event held", || async { (slow.calls(HOOK) >= 1).then_some(()) }).await;

    // Another organisation's receiver is well: its event comes at once.
    let eve = cli_user(&db, &server, "eve@other.example", "Other Org", "admin", "eve's long password").await;
    let other = eve.me().await["org_id"].as_i64().unwrap();
    let fast = FaultProvider::start().await;
    fast.set_at(HOOK, Fault::json(200, json!({})));
    let (id, _) = register_at(&server, other, &fast.url(HOOK)).await;
    let sent = Instant::now();
    assert_eq!(admin_at(&server, other, "POST", &format!("/{id}/test"), None).await.0, 202);
    eventually("the other organisation's event", || async { (fast.calls(HOOK) == 1).then_some(()) }).await;
    assert!(sent.elapsed() < Duration::from_secs(3), "waited {:?} behind another's receiver", sent.elapsed());
    assert!(slow.calls(HOOK) < 10, "Acme's events still going, one at a time");
}

#[tokio::test]
async fn two_instances_deliver_once_to_a_slow_receiver() {
    let Some(db) = postgres().await else { return };
    let env = [("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN), ("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "3")];
    let a = Server::with_local_providers(&db, &env);
    let client = a.client();
    assert_eq!(setup(&client).await.status, 200);
    let b = Server::with_local_providers(&db, &env);
    // Each answer takes half the time limit: twenty of them take ten times each one's lease.
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::json(200, json!({})).after(Duration::from_millis(1500)));
    register(&b, &fp.url(HOOK)).await;
    events_for_acme(&client, 10).await;

    use sqlx::Row;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = crate::lifecycle::sqlite_rows(
            &db,
            "SELECT COUNT(*) AS n FROM webhook_outbox WHERE delivered_at IS NOT NULL OR gave_up_at IS NOT NULL",
        )
        .await;
        if rows[0].get::<i64, _>("n") == 20 {
            break;
        }
        assert!(Instant::now() < deadline, "twenty events not delivered in 90 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Whatever was still being sent has arrived.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got: Vec<String> = fp
        .requests()
        .iter()
        .filter(|r| r.path == HOOK)
        .map(|r| r.header("liaison-event-id").unwrap().to_string())
        .collect();
    let rows = crate::lifecycle::sqlite_rows(&db, "SELECT event_id FROM webhook_outbox ORDER BY id").await;
    let queued: Vec<String> = rows.iter().map(|r| r.get("event_id")).collect();
    assert_eq!(got, queued, "each event once, oldest first");
    let rows = crate::lifecycle::sqlite_rows(&db, "SELECT MAX(attempts) AS m FROM webhook_outbox").await;
    assert_eq!(rows[0].get::<i64, _>("m"), 1, "delivered at the first attempt");
    drop((a, b));
}

#[tokio::test]
async fn an_organisation_cannot_register_more_than_the_limit_or_the_same_url_twice() {
    let db = sqlite().await;
    let server = crate::lifecycle::start_open(&db);
    assert_eq!(setup(&server.client()).await.status, 200);
    let fp = FaultProvider::start().await;
    let url = |i: usize| format!("{}?n={i}", fp.url(HOOK));
    let (first, _) = register(&server, &url(0)).await;
    let (status, v) = admin(&server, "POST", "", Some(json!({ "url": url(0) }))).await;
    assert_eq!((status, v["fields"][0]["field"].as_str()), (422, Some("url")), "{v}");
    assert!(v["fields"][0]["message"].as_str().unwrap().contains("already"), "{v}");
    for i in 1..20 {
        register(&server, &url(i)).await;
    }
    let (status, v) = admin(&server, "POST", "", Some(json!({ "url": url(20) }))).await;
    assert_eq!((status, v["code"].as_str()), (409, Some("conflict")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("20"), "{v}");
    assert_eq!(admin(&server, "GET", "", None).await.1.as_array().unwrap().len(), 20);
    // Another organisation has its own twenty; one removed makes room again.
    let eve = cli_user(&db, &server, "eve@other.example", "Other Org", "admin", "eve's long password").await;
    let other = eve.me().await["org_id"].as_i64().unwrap();
    register_at(&server, other, &url(0)).await;
    assert_eq!(admin(&server, "DELETE", &format!("/{first}"), None).await.0, 204);
    register(&server, &url(20)).await;
}

#[tokio::test]
async fn a_second_test_event_waits_for_the_first() {
    let db = sqlite().await;
    let env = [("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN), ("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "2")];
    let server = Server::with_local_providers(&db, &env);
    assert_eq!(setup(&server.client()).await.status, 200);
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::json(200, json!({})).after(Duration::from_secs(3600)));
    let (id, _) = register(&server, &fp.url(HOOK)).await;
    let test = format!("/{id}/test");
    assert_eq!(admin(&server, "POST", &test, None).await.0, 202);
    let (status, v) = admin(&server, "POST", &test, None).await;
    assert_eq!((status, v["code"].as_str()), (409, Some("conflict")), "{v}");
    // Its first attempt timed out: it is still to be delivered, and the next still waits.
    eventually("the first attempt logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    assert_eq!(admin(&server, "POST", &test, None).await.0, 409);
    fp.set_at(HOOK, Fault::json(200, json!({})));
    server.advance_clock(Duration::from_secs(10));
    eventually("the first test event delivered", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log[0]["delivered"] == true).then_some(())
    })
    .await;
    assert_eq!(admin(&server, "POST", &test, None).await.0, 202, "the first was delivered");
    eventually("the second test event", || async { (fp.calls(HOOK) == 3).then_some(()) }).await;
}

#[tokio::test]
async fn a_2xx_with_a_large_body_is_delivered_once() {
    let db = sqlite().await;
    let server = crate::lifecycle::start_open(&db);
    assert_eq!(setup(&server.client()).await.status, 200);
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::raw(200, "text/plain", vec![b'x'; 200_000]));
    let (id, _) = register(&server, &fp.url(HOOK)).await;
    assert_eq!(admin(&server, "POST", &format!("/{id}/test"), None).await.0, 202);
    let log = eventually("the attempt logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 1).then_some(log)
    })
    .await;
    assert_eq!((log[0]["status"].as_i64(), log[0]["delivered"].as_bool()), (Some(200), Some(true)), "{log}");
    // Past the first back-off it is not sent again: the next event comes alone.
    server.advance_clock(Duration::from_secs(60));
    assert_eq!(admin(&server, "POST", &format!("/{id}/test"), None).await.0, 202, "the first was delivered");
    let log = eventually("the second test event logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 2).then_some(log)
    })
    .await;
    assert!(log.as_array().unwrap().iter().all(|d| d["delivered"] == true && d["attempt"] == 1), "{log}");
    assert_eq!(fp.calls(HOOK), 2, "each test event once");
}

#[tokio::test]
async fn an_http_endpoint_gets_nothing_once_http_is_off() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::json(200, json!({})));
    let open = crate::lifecycle::start_open(&db);
    assert_eq!(setup(&open.client()).await.status, 200);
    let (id, _) = register(&open, &fp.url(HOOK)).await;
    open.stop();
    // Private addresses still allowed, plain http no longer.
    let env = [("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN), ("LIAISON_ALLOW_PRIVATE_NETWORK", "true")];
    let server = Server::start_with(&db, &env);
    assert_eq!(admin(&server, "POST", &format!("/{id}/test"), None).await.0, 202);
    let log = eventually("the refused attempt logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 1).then_some(log)
    })
    .await;
    assert_eq!((log[0]["status"].as_i64(), log[0]["delivered"].as_bool()), (None, Some(false)), "{log}");
    assert!(log[0]["error"].as_str().unwrap().contains("http"), "{log}");
    assert_eq!(fp.calls(HOOK), 0, "nothing was sent");
}

#[tokio::test]
async fn an_event_whose_secret_cannot_be_opened_is_tried_and_given_up_after_a_day() {
    let db = sqlite().await;
    let server = crate::lifecycle::start_open(&db);
    assert_eq!(setup(&server.client()).await.status, 200);
    let fp = FaultProvider::start().await;
    fp.set_at(HOOK, Fault::json(200, json!({})));
    let (id, _) = register(&server, &fp.url(HOOK)).await;
    crate::lifecycle::exec(&db, "UPDATE webhook_endpoints SET secret = 'not-a-sealed-value'").await;
    assert_eq!(admin(&server, "POST", &format!("/{id}/test"), None).await.0, 202);
    let log = eventually("the attempt logged", || async {
        let (_, log) = admin(&server, "GET", &format!("/{id}/deliveries"), None).await;
        (log.as_array().unwrap().len() == 1).then_some(log)
    })
    .await;
    assert!(log[0]["error"].as_str().unwrap().contains("secret"), "{log}");
    // A day later its next attempt is its last: it ends, given up.
    server.advance_clock(Duration::from_secs(25 * 3600));
    use sqlx::Row;
    eventually("the event given up", || async {
        let rows = crate::lifecycle::sqlite_rows(&db, "SELECT gave_up_at, attempts FROM webhook_outbox").await;
        rows[0].get::<Option<i64>, _>("gave_up_at").is_some().then(|| rows[0].get::<i64, _>("attempts"))
    })
    .await;
    assert_eq!(fp.calls(HOOK), 0, "nothing sent unsigned");
    assert!(!server.log().contains("not-a-sealed-value"));
}
