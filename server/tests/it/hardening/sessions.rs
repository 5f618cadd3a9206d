//! Sessions and sign-in abuse: a new session id at every sign-in (the old one and a planted one are
//! worthless afterwards), sign-out ends the session on the server, the cookie's flags, and sign-in
//! throttling per email and address with a clear message and code.

use super::cli_user;
use crate::harness::*;
use std::time::Duration;

const BOB: &str = "bob@acme.example";
const BOB_PASSWORD: &str = "bob's long enough password";

fn session_of(cookie: &Option<String>) -> String {
    cookie.clone().expect("a session cookie")
}

/// The same browser, with `cookie` instead of its own.
fn with_cookie(server: &Server, cookie: &str) -> Client {
    let c = server.client();
    *c.cookie.lock().unwrap() = Some(cookie.to_string());
    c
}

#[tokio::test]
async fn every_sign_in_starts_a_new_session_and_the_old_ones_stop_working() {
    for db in databases().await {
        let label = db.label();
        let server = Server::start(&db);
        let browser = server.client();
        let r = setup(&browser).await;
        let set = r.set_cookie().unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
        let first = session_of(&browser.cookie.lock().unwrap());

        // Signing in again in the same browser: a new id, and the old one is ended on the server.
        let r = browser.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let second = session_of(&browser.cookie.lock().unwrap());
        assert_ne!(first, second, "{label}: the session id is renewed at sign-in");
        assert_eq!(browser.me().await["email"], ADMIN_EMAIL);
        assert_eq!(with_cookie(&server, &first).me().await, serde_json::Value::Null, "{label}: the old id is dead");

        // A session id planted before sign-in (fixation) is not adopted.
        let planted = "liaison_session=planted-by-someone-else-0123456789abcdef";
        let victim = with_cookie(&server, planted);
        let r = victim.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let issued = session_of(&victim.cookie.lock().unwrap());
        assert_ne!(issued, planted, "{label}");
        assert_eq!(with_cookie(&server, planted).me().await, serde_json::Value::Null, "{label}");
        assert_eq!(victim.me().await["email"], ADMIN_EMAIL, "{label}");
        // The other browser's session is untouched by this sign-in.
        assert_eq!(browser.me().await["email"], ADMIN_EMAIL, "{label}");

        // Sign-out ends the session on the server, not only in the browser.
        assert_eq!(browser.rpc("sign_out", &[]).await.status, 200);
        assert_eq!(
            with_cookie(&server, &second).me().await,
            serde_json::Value::Null,
            "{label}: replayed after sign-out"
        );
    }
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled_per_email_and_address() {
    let db = sqlite().await;
    let server = Server::start_with(&db, &[("LIAISON_LOGIN_LOCKOUT_SECONDS", "2")]);
    assert_eq!(setup(&server.client()).await.status, 200);
    cli_user(&db, &server, BOB, "Acme", "member", BOB_PASSWORD).await;
    let sessions = || async { super::dump(&db, "SELECT token_hash FROM sessions").await.len() };
    let attacker = server.client();
    for i in 0..5 {
        let guess = format!("wrong password, guess {i}");
        let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", &guess)]).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (401, Some("invalid_credentials")), "attempt {i}");
    }
    // Now even the right password is refused for a while, with a code and a sentence.
    let before = sessions().await;
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (429, Some("too_many_attempts")), "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Too many failed sign-ins for this account from your address. Wait 2 seconds, then try again."
    );
    assert_eq!(r.set_cookie(), None);
    assert_eq!(sessions().await, before, "no session was started");
    // The same email, written differently, is the same account.
    let r = attacker.rpc("sign_in", &[("email", " ADA@acme.example"), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 429, "{}", r.body);
    // Another account from the same address is not affected.
    let r = server.client().rpc("sign_in", &[("email", BOB), ("password", BOB_PASSWORD)]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // After the lock-out, the right password works, and the count starts again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for i in 0..4 {
        let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", "wrong again")]).await;
        assert_eq!(r.status, 401, "attempt {i} after a success: {}", r.body);
    }
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 200, "four failures are still free: {}", r.body);
    // The next lock-out doubles: five failures, then 2 s, then one more failure, 4 s.
    for _ in 0..5 {
        attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", "wrong")]).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", "wrong")]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(
        r.json()["message"],
        "Too many failed sign-ins for this account from your address. Wait 4 seconds, then try again."
    );
    assert!(!server.log().contains(ADMIN_PASSWORD), "no password in the log");
}
