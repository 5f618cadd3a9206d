//! Sessions and sign-in abuse: a new session id at every sign-in (the old one and a planted one are
//! worthless afterwards), sign-out ends the session on the server, the cookie's flags, sign-in
//! throttling per email and address with a clear message and code, guesses sent in parallel
//! counted before they are checked, and a burst of sign-ins answered "try again shortly" past a
//! few password checks at a time, with the server's memory bounded.

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

    // After the lock-out (the server's clock moved past it), the right password works, and the
    // count starts again.
    server.advance_clock(Duration::from_millis(2100));
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
    server.advance_clock(Duration::from_millis(2100));
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", "wrong")]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(
        r.json()["message"],
        "Too many failed sign-ins for this account from your address. Wait 4 seconds, then try again."
    );
    assert!(!server.log().contains(ADMIN_PASSWORD), "no password in the log");
}

/// The server's peak resident memory so far (VmHWM), in KiB.
fn peak_rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap();
    line.trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// (status, code) of each answer, and how many answers had each code.
fn tally(answers: &[Reply]) -> std::collections::BTreeMap<(u16, String), usize> {
    let mut counts = std::collections::BTreeMap::new();
    for r in answers {
        let code = r.json()["code"].as_str().unwrap_or_default().to_string();
        *counts.entry((r.status, code)).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn parallel_wrong_guesses_are_evaluated_at_most_five_times() {
    let db = sqlite().await;
    let server = Server::start(&db);
    assert_eq!(setup(&server.client()).await.status, 200);
    let attacker = server.client();
    let guesses = (0..50).map(|i| {
        let attacker = attacker.clone();
        async move {
            let guess = format!("wrong password, guess {i}");
            attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", &guess)]).await
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let counts = tally(&answers);
    eprintln!("50 parallel wrong guesses: {counts:?}");
    // Only an answer of invalid_credentials tells the attacker a password was checked.
    let evaluated = counts.get(&(401, "invalid_credentials".into())).copied().unwrap_or(0);
    let refused = counts.get(&(429, "too_many_attempts".into())).copied().unwrap_or(0);
    assert_eq!((evaluated, refused), (5, 45), "{counts:?}");
    // And the lock-out is in force for the right password too.
    let r = attacker.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (429, Some("too_many_attempts")), "{}", r.body);
}

#[tokio::test]
async fn a_burst_of_200_sign_ins_keeps_memory_bounded_and_each_is_answered() {
    let db = sqlite().await;
    let server = Server::start(&db);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    let r = client.rpc("sign_in", &[("email", "nobody@acme.example"), ("password", "warming up")]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let before = peak_rss_kib(&server);
    // 200 browsers, each its own connection and its own email (so the per-email throttle is not
    // what stops them): every one costs a password verification.
    let burst = (0..200).map(|i| {
        let browser = server.client();
        async move {
            let email = format!("user{i}@acme.example");
            browser.rpc("sign_in", &[("email", &email), ("password", "not the password")]).await
        }
    });
    let answers = futures_util::future::join_all(burst).await;
    let after = peak_rss_kib(&server);
    let counts = tally(&answers);
    eprintln!("200 parallel sign-ins: {counts:?}; peak RSS {before} KiB before, {after} KiB after");
    for r in &answers {
        match (r.status, r.json()["code"].as_str()) {
            (401, Some("invalid_credentials")) => {}
            (503, Some("busy")) => {
                assert_eq!(r.json()["message"], "Liaison is busy checking other sign-ins. Try again shortly.")
            }
            _ => panic!("neither an answer nor \"try again shortly\": {} {}", r.status, r.body),
        }
    }
    // argon2id takes 19 MiB a verification: a handful at a time, not 200.
    let grown = after.saturating_sub(before);
    assert!(grown < 120 * 1024, "peak RSS grew by {grown} KiB during the burst ({before} → {after} KiB)");
    // The burst over, sign-in works as before.
    let r = client.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
