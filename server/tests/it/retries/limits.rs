//! Retries against the call's time limit: a wait that would leave no time for another attempt is
//! not waited for (the answer is the one the service gave).

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
