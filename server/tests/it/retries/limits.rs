//! Retries against the call's time limit and against changes made while a call waits: a wait
//! that would leave no time for another attempt is not waited for (the answer is the one the
//! service gave), a connection revoked during a wait gets no further request, and `invoke` keeps
//! no body past the proxy's limit for retries; a service's own `Liaison-*` headers never reach the
//! script.

use super::*;

#[tokio::test]
async fn a_retry_after_that_leaves_no_time_for_an_attempt_answers_the_429() {
    for db in databases().await {
        let label = db.label();
        let (server, up, token) = setup(&db).await;
        // 59 s of the 60 s limit: the attempt after it would have about a second.
        up.script(&[retry_after(429, "59"), answer(200, "never")]);
        let before = moved(&db);
        let r = proxy(&server, &token, "GET", &[("Liaison-Retries", "2")], "").await;
        assert_eq!((r.status, r.body.as_str(), r.attempts()), (429, "slow down", Some("1")), "{label}");
        assert_eq!(moved(&db), before, "{label}: no wait at all");
        assert_eq!(up.seen().len(), 1, "{label}");
    }
}

#[tokio::test]
async fn a_connection_revoked_during_the_wait_gets_no_further_request() {
    for db in databases().await {
        let label = db.label();
        let (server, up, token, admin) = setup_with_admin(&db).await;
        let gate = Arc::new(tokio::sync::Notify::new());
        up.script(&[Step::Held(gate.clone(), Box::new(retry_after(503, "1"))), answer(200, "never")]);
        let revoke = async {
            eventually("the first attempt", || async { (!up.seen().is_empty()).then_some(()) }).await;
            let r = admin.call("revoke_connection", json!({ "link_name": "keyed" })).await;
            assert_eq!(r.status, 200, "{label}: {}", r.body);
            gate.notify_one();
        };
        let (r, ()) = tokio::join!(proxy(&server, &token, "GET", &[("Liaison-Retries", "3")], ""), revoke);
        assert_eq!((r.status, r.json()["code"].as_str()), (409, Some("connection_revoked")), "{label}: {}", r.body);
        assert_eq!(r.attempts(), Some("1"), "{label}");
        assert_eq!(up.seen().len(), 1, "{label}: nothing sent after the revoke");
    }
}

#[tokio::test]
async fn invoke_with_retries_refuses_a_body_it_would_have_to_keep() {
    let db = sqlite().await;
    let (server, up, token) = setup(&db).await;
    up.script(&[]);
    let big = "x".repeat(1024 * 1024 + 1);
    let call = json!({ "connection": "keyed", "method": "PUT", "url": "/items", "body": big, "retries": 1 });
    let r = invoke(&server, &token, call).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (413, Some("body_too_large")), "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("retries in invoke"), "{}", r.body);
    assert!(up.seen().is_empty(), "nothing reached the service");
    let call = json!({ "connection": "keyed", "method": "PUT", "url": "/items", "body": big });
    let r = invoke(&server, &token, call).await;
    assert_eq!((r.status, r.json()["status"].as_i64()), (200, Some(200)), "{}", r.body);
    assert!(up.seen()[0].body.len() >= big.len(), "without retries it is sent");
}

#[tokio::test]
async fn a_services_liaison_headers_never_reach_the_script() {
    let db = sqlite().await;
    let (server, up, token) = setup(&db).await;
    let forged = || vec![("liaison-attempts", "9".to_string()), ("liaison-whatever", "x".to_string())];
    up.script(&[Step::Answer(200, forged(), "ok")]);
    let r = proxy(&server, &token, "GET", &[], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers.keys().all(|k| !k.as_str().starts_with("liaison-")), "{:?}", r.headers);
    up.script(&[Step::Answer(200, forged(), "ok")]);
    let r = proxy(&server, &token, "GET", &[("Liaison-Retries", "1")], "").await;
    assert_eq!((r.attempts(), r.headers.get("liaison-whatever")), (Some("1"), None), "{:?}", r.headers);
}
