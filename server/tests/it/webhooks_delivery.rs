//! Webhook delivery under load, over HTTP: a slow receiver holds up no other organisation's
//! events, and two instances on PostgreSQL send each event of a slow receiver once, in order.

use crate::faults::{Fault, FaultProvider};
use crate::hardening::cli_user;
use crate::harness::*;
use crate::lifecycle::{create_connection, create_service, ADMIN_TOKEN};
use crate::webhooks::{admin_at, register, register_at, HOOK};
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
