//! People arriving from a console (issue 23): a person Liaison does not know is created on their
//! first arrival only when the operator allows it, as a member unless the token says admin and a
//! second setting allows it, in the organisation the token names (which every token must name
//! then), audited, without a password, and never again once an admin removed them; a token never
//! changes a person who exists, and the refusal does not tell which emails Liaison knows.

use super::embed::{embed_start, mint, now_secs, signed_in, CONSOLE, EMBED_SECRET};
use crate::harness::*;
use crate::lifecycle::sqlite_rows;
use serde_json::{json, Value};
use sqlx::Row;

const BOB: &str = "bob@acme.example";
const CAROL: &str = "carol@acme.example";

/// A server whose consoles may bring new people (`users`) and new admins (`admins`).
fn console_server(db: &Db, users: bool, admins: bool) -> Server {
    let flag = |b: bool| if b { "true" } else { "false" };
    Server::start_with(
        db,
        &[
            ("LIAISON_EMBED_ORIGINS", CONSOLE),
            ("LIAISON_EMBED_SECRET", EMBED_SECRET),
            ("LIAISON_EMBED_PROVISION_USERS", flag(users)),
            ("LIAISON_EMBED_PROVISION_ADMINS", flag(admins)),
        ],
    )
}

/// A fresh token with `extra` claims for `sub`.
fn token(sub: &str, jti: &str, extra: Value) -> String {
    let mut claims = json!({ "sub": sub, "origin": CONSOLE, "exp": now_secs() + 120, "jti": jti });
    if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        c.extend(extra);
    }
    mint(claims)
}

/// Loads the token in an iframe: the refusal's sentence, or `None` when it signed someone in.
async fn arrive(server: &Server, token: &str) -> (Client, Option<String>) {
    let (client, r) = embed_start(server, token, Some("iframe")).await;
    if r.status == 303 {
        signed_in(&client, &r, "arrival");
        return (client, None);
    }
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.set_cookie().is_none(), "{}", r.body);
    (client, Some(r.body))
}

async fn people(db: &Db, email: &str) -> Vec<(String, String, String)> {
    let sql = format!(
        "SELECT u.name, u.role, o.name AS org FROM users u JOIN organisations o ON o.id = u.org_id WHERE u.email = '{email}'"
    );
    sqlite_rows(db, &sql).await.iter().map(|r| (r.get("name"), r.get("role"), r.get("org"))).collect()
}

async fn creations(db: &Db) -> Vec<(String, String, String)> {
    let sql = "SELECT actor, target, detail FROM audit_log WHERE action = 'member.create' ORDER BY id";
    sqlite_rows(db, sql).await.iter().map(|r| (r.get("actor"), r.get("target"), r.get("detail"))).collect()
}

#[tokio::test]
async fn a_person_unknown_to_liaison_is_created_only_when_the_operator_allows_it() {
    for db in databases().await {
        let label = db.label();
        let server = console_server(&db, false, false);
        assert_eq!(setup(&server.client()).await.status, 200);
        let bob = json!({ "org": "Acme", "name": "Bob Builder", "role": "member" });
        let (client, refused) = arrive(&server, &token(BOB, "off-1", bob.clone())).await;
        assert!(refused.is_some_and(|b| b.contains("no Liaison account")), "{label}");
        assert!(!client.rpc("me", &[]).await.body.contains(BOB), "{label}");
        assert!(people(&db, BOB).await.is_empty() && creations(&db).await.is_empty(), "{label}");
        drop(server);

        // Allowed: Bob is created as a member of Acme, with his name, audited with the console as
        // the actor; he is signed in.
        let server = console_server(&db, true, false);
        let first = token(BOB, "on-1", bob.clone());
        let (client, refused) = arrive(&server, &first).await;
        assert_eq!(refused, None, "{label}");
        let me = client.me().await;
        assert_eq!((me["email"].as_str(), me["role"].as_str()), (Some(BOB), Some("member")), "{label}: {me}");
        assert_eq!((me["name"].as_str(), me["org_name"].as_str()), (Some("Bob Builder"), Some("Acme")), "{label}");
        assert_eq!(people(&db, BOB).await, [("Bob Builder".into(), "member".into(), "Acme".into())], "{label}");
        let audited = creations(&db).await;
        assert_eq!(audited.len(), 1, "{label}: {audited:?}");
        assert_eq!((audited[0].0.as_str(), audited[0].1.as_str()), (CONSOLE, BOB), "{label}");
        assert!(audited[0].2.contains("as member"), "{label}: {audited:?}");

        // The same token again is still a replay, and creates nobody.
        let (_, refused) = arrive(&server, &first).await;
        assert!(refused.is_some_and(|b| b.contains("used before")), "{label}");
        // A token never changes a person who exists: Bob asking to be an admin, renamed, stays
        // the member he is; so does Ada asking to be a member.
        let (client, refused) =
            arrive(&server, &token(BOB, "on-2", json!({ "org": "Acme", "name": "Boss", "role": "admin" }))).await;
        assert_eq!(refused, None, "{label}");
        assert_eq!(client.me().await["role"], "member", "{label}");
        let (client, refused) =
            arrive(&server, &token(ADMIN_EMAIL, "on-3", json!({ "org": "Acme", "role": "member" }))).await;
        assert_eq!(refused, None, "{label}");
        assert_eq!(client.me().await["role"], "admin", "{label}");
        assert_eq!(people(&db, BOB).await, [("Bob Builder".into(), "member".into(), "Acme".into())], "{label}");
        assert_eq!(creations(&db).await.len(), 1, "{label}: one creation");
    }
}

#[tokio::test]
async fn a_console_creates_an_admin_only_when_the_token_and_both_settings_say_so() {
    for db in databases().await {
        let label = db.label();
        let server = console_server(&db, true, false);
        assert_eq!(setup(&server.client()).await.status, 200);
        let admin = json!({ "org": "Acme", "name": "Carol", "role": "admin" });
        let (_, refused) = arrive(&server, &token(CAROL, "admin-1", admin.clone())).await;
        assert!(refused.is_some_and(|b| b.contains("does not create admins")), "{label}");
        assert!(people(&db, CAROL).await.is_empty(), "{label}");
        // Without a role a new person is a member.
        let (client, refused) = arrive(&server, &token("dan@acme.example", "admin-2", json!({ "org": "Acme" }))).await;
        assert_eq!(refused, None, "{label}");
        let me = client.me().await;
        assert_eq!((me["role"].as_str(), me["name"].as_str()), (Some("member"), Some("dan@acme.example")), "{label}");
        drop(server);

        let server = console_server(&db, true, true);
        let (client, refused) = arrive(&server, &token(CAROL, "admin-3", admin)).await;
        assert_eq!(refused, None, "{label}");
        assert_eq!(client.me().await["role"], "admin", "{label}");
        assert_eq!(people(&db, CAROL).await, [("Carol".into(), "admin".into(), "Acme".into())], "{label}");
        let audited = creations(&db).await;
        assert!(audited
            .iter()
            .any(|(actor, who, detail)| actor == CONSOLE && who == CAROL && detail.contains("as admin")));
    }
}

#[tokio::test]
async fn a_token_naming_no_organisation_another_one_or_one_that_does_not_exist_creates_nobody() {
    for db in databases().await {
        let label = db.label();
        let server = console_server(&db, true, true);
        assert_eq!(setup(&server.client()).await.status, 200);
        let cases = [
            (BOB, json!({ "name": "Bob" }), "names no organisation"),
            (BOB, json!({ "org": "Globex" }), "does not exist"),
            (ADMIN_EMAIL, json!({ "org": "Globex" }), "does not exist"),
            (BOB, json!({ "org": "Acme", "role": "owner" }), "neither admin nor member"),
            (BOB, json!({ "org": "Acme", "name": "" }), "name is not usable"),
            ("not an email", json!({ "org": "Acme" }), "not an email address"),
        ];
        for (i, (sub, extra, reason)) in cases.into_iter().enumerate() {
            let (_, refused) = arrive(&server, &token(sub, &format!("bad-{i}"), extra)).await;
            assert!(refused.as_deref().is_some_and(|b| b.contains(reason)), "{label} {i}: {refused:?}");
        }
        assert!(people(&db, BOB).await.is_empty() && creations(&db).await.is_empty(), "{label}");
        // A person of Acme named by a token as one of another organisation is refused.
        crate::lifecycle::exec(&db, "INSERT INTO organisations (name, created_at) VALUES ('Globex', 1)").await;
        let (_, refused) = arrive(&server, &token(ADMIN_EMAIL, "other-org", json!({ "org": "Globex" }))).await;
        assert!(refused.is_some_and(|b| b.contains("no Liaison account")), "{label}");
        // Bob named in Globex is created there, not in Acme.
        let (client, refused) = arrive(&server, &token(BOB, "globex", json!({ "org": "Globex" }))).await;
        assert_eq!(refused, None, "{label}");
        assert_eq!(client.me().await["org_name"], "Globex", "{label}");
    }
}

#[tokio::test]
async fn a_person_a_console_created_has_no_password() {
    let db = sqlite().await;
    let server = console_server(&db, true, false);
    assert_eq!(setup(&server.client()).await.status, 200);
    let (_, refused) = arrive(&server, &token(BOB, "nopw", json!({ "org": "Acme" }))).await;
    assert_eq!(refused, None);
    let stored: String =
        sqlite_rows(&db, &format!("SELECT password_hash FROM users WHERE email = '{BOB}'")).await[0].get(0);
    assert!(!stored.starts_with('$'), "no PHC hash: {stored}");
    for guess in [stored.as_str(), "", ADMIN_PASSWORD, "!"] {
        let client = server.client();
        let r = client.rpc("sign_in", &[("email", BOB), ("password", guess)]).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (401, Some("invalid_credentials")), "{guess:?}: {}", r.body);
        assert!(client.cookie.lock().unwrap().is_none());
    }
    // Answered like an unknown person, not logged as a broken hash.
    assert!(!server.log().contains("malformed"), "{}", server.log());
}

#[tokio::test]
async fn a_person_an_admin_removed_is_not_brought_back_by_a_console_until_an_admin_adds_them() {
    for db in databases().await {
        let label = db.label();
        let server = console_server(&db, true, true);
        let admin = server.client();
        assert_eq!(setup(&admin).await.status, 200);
        let (bob, refused) = arrive(&server, &token(BOB, "rm-1", json!({ "org": "Acme" }))).await;
        assert_eq!(refused, None, "{label}");
        let bob_id = bob.me().await["user_id"].as_i64().unwrap();
        let r = admin.call("remove_member", json!({ "user_id": bob_id })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let marked = "SELECT COUNT(*) AS n FROM removed_members";
        assert_eq!(sqlite_rows(&db, marked).await[0].get::<i64, _>("n"), 1, "{label}");

        // The console's next token for him, even one asking for an admin, creates nobody.
        for (i, extra) in [json!({ "org": "Acme" }), json!({ "org": "Acme", "role": "admin" })].into_iter().enumerate()
        {
            let (client, refused) = arrive(&server, &token(BOB, &format!("rm-2-{i}"), extra)).await;
            let refused = refused.unwrap_or_default();
            assert!(
                refused.contains("an admin of Acme removed this person; ask them to add you back"),
                "{label}: {refused}"
            );
            assert!(!client.rpc("me", &[]).await.body.contains(BOB), "{label}");
        }
        assert!(people(&db, BOB).await.is_empty(), "{label}");
        assert_eq!(creations(&db).await.len(), 1, "{label}: only the first arrival created him");

        // An admin adds him again (the command line): the mark is gone, and he signs in.
        crate::lifecycle::member(&db, &server, BOB).await;
        assert_eq!(sqlite_rows(&db, marked).await[0].get::<i64, _>("n"), 0, "{label}");
        let (client, refused) = arrive(&server, &token(BOB, "rm-3", json!({ "org": "Acme" }))).await;
        assert_eq!(refused, None, "{label}");
        assert_eq!(client.me().await["email"], BOB, "{label}");
    }
}

#[tokio::test]
async fn where_consoles_may_bring_people_a_token_without_an_organisation_signs_nobody_in() {
    for db in databases().await {
        let label = db.label();
        let server = console_server(&db, true, false);
        assert_eq!(setup(&server.client()).await.status, 200);
        // Ada exists (in Acme), but the token does not say which organisation it means.
        let (client, refused) = arrive(&server, &token(ADMIN_EMAIL, "no-org-1", json!({}))).await;
        let refused = refused.unwrap_or_default();
        assert!(refused.contains("names no organisation"), "{label}: {refused}");
        assert!(!client.rpc("me", &[]).await.body.contains(ADMIN_EMAIL), "{label}");
        let (_, refused) = arrive(&server, &token(ADMIN_EMAIL, "no-org-2", json!({ "org": "Acme" }))).await;
        assert_eq!(refused, None, "{label}");
        drop(server);
        // A Liaison whose consoles bring nobody signs a known person in without it, as before.
        let server = console_server(&db, false, false);
        let (_, refused) = arrive(&server, &token(ADMIN_EMAIL, "no-org-3", json!({}))).await;
        assert_eq!(refused, None, "{label}");
    }
}

#[tokio::test]
async fn the_refusal_does_not_tell_a_person_of_another_organisation_from_an_unknown_one() {
    for db in databases().await {
        let label = db.label();
        let server = console_server(&db, false, false);
        assert_eq!(setup(&server.client()).await.status, 200);
        crate::lifecycle::exec(&db, "INSERT INTO organisations (name, created_at) VALUES ('Globex', 1)").await;
        // Ada is in Acme; Bob is nowhere.
        let (_, other) = arrive(&server, &token(ADMIN_EMAIL, "same-1", json!({ "org": "Globex" }))).await;
        let (_, unknown) = arrive(&server, &token(BOB, "same-2", json!({ "org": "Globex" }))).await;
        let (other, unknown) = (other.unwrap_or_default(), unknown.unwrap_or_default());
        assert!(unknown.contains("no Liaison account"), "{label}: {unknown}");
        assert_eq!(other, unknown, "{label}: the browser is told the same");
        // The operator's log still tells them apart (read from the server's output as it comes).
        let apart =
            |log: String| log.contains("refused: another organisation") && log.contains("refused: unknown person");
        eventually("both refusals in the log", || async { apart(server.log()).then_some(()) }).await;
    }
}
