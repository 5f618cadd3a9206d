//! The outbox's lease and the endpoints' tenancy, on every test database.

use super::*;
use crate::store::testing::db_test;
use sqlx::AnyPool;

async fn seed(pool: &AnyPool) -> (i64, i64) {
    for sql in [
        "INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', 1)",
        "INSERT INTO organisations (id, name, created_at) VALUES (2, 'Other', 1)",
    ] {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
    let a = create(pool, 1, "https://hooks.acme.example/in", "", "ada", 10).await.unwrap();
    let b = create(pool, 2, "https://hooks.other.example/in", "", "bob", 10).await.unwrap();
    (a, b)
}

fn row(endpoint_id: i64, event_id: &str) -> NewOutbox<'_> {
    NewOutbox { org_id: 1, endpoint_id, event_id, event_type: "connection.created", payload: "{}" }
}

db_test!(an_endpoint_is_seen_only_by_its_organisation, async |pool: &AnyPool| {
    let (a, b) = seed(pool).await;
    assert_eq!(endpoint_ids(pool, 1).await.unwrap(), [a]);
    assert!(endpoint_by_id(pool, 1, b).await.unwrap().is_none());
    assert!(!delete(pool, 1, b).await.unwrap(), "another organisation's endpoint is not deleted");
    assert!(endpoint_by_id(pool, 2, b).await.unwrap().is_some());
    assert!(delete(pool, 1, a).await.unwrap());
    assert!(endpoints(pool, 1).await.unwrap().is_empty());
});

db_test!(of_two_claims_of_a_due_event_one_wins_until_its_lease_runs_out, async |pool: &AnyPool| {
    let (a, _) = seed(pool).await;
    enqueue(pool, row(a, "evt_1"), 100).await.unwrap();
    assert!(due_endpoints(pool, 99, 10).await.unwrap().is_empty(), "not due before it happened");
    assert_eq!(due_endpoints(pool, 100, 10).await.unwrap(), [a]);
    let id = next_due(pool, a, 100).await.unwrap().unwrap();
    assert!(claim(pool, id, "one", 100, 1_000).await.unwrap());
    assert!(!claim(pool, id, "two", 100, 1_000).await.unwrap(), "held");
    assert_eq!(next_due(pool, a, 500).await.unwrap(), None, "a held row is not due");
    // The holder died: its lease runs out and another takes the row.
    assert!(claim(pool, id, "two", 1_001, 2_000).await.unwrap());
    assert!(!finish(pool, id, "one", Next::Delivered, 1_002).await.unwrap(), "the first holder lost it");
    assert!(finish(pool, id, "two", Next::RetryAt(5_000), 1_002).await.unwrap());
    assert!(due_endpoints(pool, 4_999, 10).await.unwrap().is_empty(), "backing off");
    assert_eq!(next_due(pool, a, 5_000).await.unwrap(), Some(id));
    assert!(claim(pool, id, "three", 5_000, 6_000).await.unwrap());
    assert!(finish(pool, id, "three", Next::Delivered, 5_001).await.unwrap());
    assert!(due_endpoints(pool, 10_000_000, 10).await.unwrap().is_empty(), "delivered: never again");
    assert!(!claim(pool, id, "four", 10_000_000, 10_000_001).await.unwrap());
    let r = outbox_row(pool, id).await.unwrap().unwrap();
    assert_eq!((r.attempts, r.event_id.as_str()), (2, "evt_1"));
    assert_eq!(purge(pool, 5_001).await.unwrap(), 0, "kept while recent");
    assert_eq!(purge(pool, 5_002).await.unwrap(), 1);
});

db_test!(one_instance_at_a_time_works_an_endpoint_and_no_other_waits_for_it, async |pool: &AnyPool| {
    let (a, b) = seed(pool).await;
    enqueue(pool, row(a, "evt_1"), 100).await.unwrap();
    enqueue(pool, row(a, "evt_2"), 100).await.unwrap();
    enqueue(pool, NewOutbox { org_id: 2, ..row(b, "evt_3") }, 100).await.unwrap();
    assert_eq!(due_endpoints(pool, 100, 10).await.unwrap(), [a, b], "oldest event first");
    assert!(hold_endpoint(pool, a, "one", 100, 1_000).await.unwrap());
    assert!(!hold_endpoint(pool, a, "two", 200, 1_200).await.unwrap(), "held by another instance");
    assert_eq!(due_endpoints(pool, 200, 10).await.unwrap(), [b], "the other endpoint is free");
    assert!(hold_endpoint(pool, a, "one", 900, 1_900).await.unwrap(), "renewed by its holder");
    assert!(!hold_endpoint(pool, a, "two", 1_000, 2_000).await.unwrap(), "renewed: still held");
    // Its holder died: the lease runs out.
    assert!(hold_endpoint(pool, a, "two", 1_901, 2_900).await.unwrap());
    assert!(!hold_endpoint(pool, a, "one", 1_950, 2_950).await.unwrap(), "lost");
    release_endpoint(pool, a, "one").await.unwrap();
    assert!(!hold_endpoint(pool, a, "three", 2_000, 3_000).await.unwrap(), "only the holder releases it");
    release_endpoint(pool, a, "two").await.unwrap();
    assert!(hold_endpoint(pool, a, "three", 2_000, 3_000).await.unwrap());
    // Its events, oldest first, one at a time.
    let first = next_due(pool, a, 2_000).await.unwrap().unwrap();
    assert!(claim(pool, first, "three", 2_000, 3_000).await.unwrap());
    let second = next_due(pool, a, 2_000).await.unwrap().unwrap();
    assert!(first < second);
    assert_eq!(clear_leases(pool).await.unwrap(), 1);
    assert!(hold_endpoint(pool, a, "four", 2_001, 3_001).await.unwrap(), "cleared at start-up");
});

db_test!(an_endpoint_has_one_test_event_at_a_time_and_an_organisation_each_url_once, async |pool: &AnyPool| {
    let (a, b) = seed(pool).await;
    let test = |event_id| NewOutbox { event_type: "webhook.test", ..row(a, event_id) };
    enqueue(pool, test("evt_1"), 100).await.unwrap();
    let Err(crate::error::Error::Db(e)) = enqueue(pool, test("evt_2"), 100).await else { panic!("a second test") };
    assert!(crate::error::is_unique_violation(&e));
    enqueue(pool, NewOutbox { org_id: 2, event_type: "webhook.test", ..row(b, "evt_3") }, 100).await.unwrap();
    let id = next_due(pool, a, 100).await.unwrap().unwrap();
    assert!(claim(pool, id, "one", 100, 1_000).await.unwrap());
    assert!(finish(pool, id, "one", Next::GiveUp, 200).await.unwrap());
    enqueue(pool, test("evt_4"), 300).await.unwrap();
    let Err(crate::error::Error::Db(e)) = create(pool, 1, "https://hooks.acme.example/in", "", "ada", 10).await else {
        panic!("the same URL twice")
    };
    assert!(crate::error::is_unique_violation(&e));
    create(pool, 2, "https://hooks.acme.example/in", "", "bob", 10).await.unwrap();
    assert_eq!((count(pool, 1).await.unwrap(), count(pool, 2).await.unwrap()), (1, 2));
});

db_test!(a_rotation_from_a_stale_secret_is_refused, async |pool: &AnyPool| {
    let (a, b) = seed(pool).await;
    let rotation = |org_id, id, current, secret| Rotation {
        org_id,
        id,
        current,
        secret,
        previous: current,
        previous_until: Some(1_000),
    };
    assert!(set_secrets(pool, rotation(1, a, None, "s1"), 10).await.unwrap());
    assert!(set_secrets(pool, rotation(1, a, Some("s1"), "s2"), 11).await.unwrap());
    // A second rotation read "s1" too: it would lose "s2".
    assert!(!set_secrets(pool, rotation(1, a, Some("s1"), "s3"), 12).await.unwrap(), "stale");
    assert!(!set_secrets(pool, rotation(1, b, None, "s4"), 12).await.unwrap(), "another organisation's");
    let e = endpoint_by_id(pool, 1, a).await.unwrap().unwrap();
    assert_eq!((e.secret.as_deref(), e.previous_secret.as_deref()), (Some("s2"), Some("s1")));
    assert_eq!(endpoint_by_id(pool, 2, b).await.unwrap().unwrap().secret, None);
});

db_test!(an_expired_previous_secret_is_cleared_by_the_purge, async |pool: &AnyPool| {
    let (a, b) = seed(pool).await;
    let rotation = |org_id, id, until| Rotation {
        org_id,
        id,
        current: None,
        secret: "new",
        previous: Some("old"),
        previous_until: Some(until),
    };
    assert!(set_secrets(pool, rotation(1, a, 1_000), 10).await.unwrap());
    assert!(set_secrets(pool, rotation(2, b, 2_000), 10).await.unwrap());
    assert_eq!(clear_previous_secrets(pool, 999).await.unwrap(), 0, "still signing");
    assert_eq!(clear_previous_secrets(pool, 1_000).await.unwrap(), 1);
    let e = endpoint_by_id(pool, 1, a).await.unwrap().unwrap();
    assert_eq!((e.secret.as_deref(), e.previous_secret, e.previous_until), (Some("new"), None, None));
    assert_eq!(endpoint_by_id(pool, 2, b).await.unwrap().unwrap().previous_secret.as_deref(), Some("old"));
});

db_test!(the_delivery_log_is_the_organisations_newest_first, async |pool: &AnyPool| {
    let (a, b) = seed(pool).await;
    enqueue(pool, row(a, "evt_1"), 100).await.unwrap();
    let id = next_due(pool, a, 100).await.unwrap().unwrap();
    for (n, status) in [(1, Some(500)), (2, None), (3, Some(204))] {
        let attempt = Attempt {
            org_id: 1,
            endpoint_id: a,
            outbox_id: id,
            event_id: "evt_1",
            event_type: "webhook.test",
            attempt: n,
            status_code: status,
            latency_ms: 7,
            error: status.is_none().then_some("could not connect"),
        };
        log_attempt(pool, attempt, 100 + n).await.unwrap();
    }
    let log = deliveries(pool, 1, Some(a), 10).await.unwrap();
    assert_eq!(log.iter().map(|d| d.attempt).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!((log[0].status_code, log[1].error.as_deref()), (Some(204), Some("could not connect")));
    assert_eq!(deliveries(pool, 1, None, 2).await.unwrap().len(), 2);
    assert!(deliveries(pool, 2, None, 10).await.unwrap().is_empty());
    assert!(deliveries(pool, 2, Some(b), 10).await.unwrap().is_empty());
});
