//! `kill -9` at the worst moments: in the middle of the authorization-code exchange (the provider
//! holds the token request while the server dies) and part way through `liaison keys rotate`.
//! After a restart (and a re-run of the rotation) the state is consistent: nothing half-saved,
//! the rotation resumes under the same new key and completes, and every grant that was good still
//! works through the API. (The refresh case is in api.rs:
//! a_server_killed_in_the_middle_of_a_refresh_leaves_a_working_grant.)

use crate::api::start_liaison;
use crate::faults::{Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, create_connection, exec, land, sqlite_rows, start};
use crate::provider::Provider;
use serde_json::{json, Value};
use sqlx::Row;
use std::time::Duration;

/// A call through the `keyed` connection answers 200 with the key attached.
async fn keyed_call_works(server: &Server, token: &str, fp: &FaultProvider, what: &str) {
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/connections/keyed/proxy/v1/data", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{what}");
    assert_eq!(fp.last_request().unwrap().header("x-key"), Some("keyed-secret-0001"), "{what}");
}

fn count(counts: &Value, route: &[&str]) -> i64 {
    route.iter().fold(counts, |v, k| &v[*k]).as_i64().unwrap_or(0)
}

async fn wait_for(provider: &Provider, route: &[&str], n: i64) {
    let reached = || async { (count(&provider.counts().await, route) >= n).then_some(()) };
    eventually(&format!("{route:?} reaching {n}"), reached).await;
}

/// `127.0.0.1:<port>` of a URL: the restarted server listens where the provider's redirect URI points.
fn base_addr(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

async fn authorise(server: &Server, client: &Client, provider: &Provider, link: &str, ticket: &str) -> Reply {
    let authorize = start(client, &lifecycle::start_link(client, link).await, ticket).await;
    land(client, server, &provider.approve(&authorize).await).await
}

#[tokio::test]
async fn a_server_killed_during_the_code_exchange_saves_nothing_and_every_good_grant_works() {
    for db in databases().await {
        let label = db.label();
        let server = start_liaison(&db);
        let client = server.client();
        assert_eq!(setup(&client).await.status, 200);
        let (provider, _) = lifecycle::api_service_at_provider(&client).await;
        for link in ["steady", "held"] {
            let r = create_connection(
                &client,
                json!({ "name": link, "service": { "kind": "custom", "id": 1 }, "scopes": ["openid", "offline_access"] }),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        assert_eq!(authorise(&server, &client, &provider, "steady", "steady-0123456789abcdef").await.status, 200);
        let token = client.call("create_api_token", json!({ "name": "crash" })).await.json()["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(server.proxy_get(&token, "steady", "me").await.1["sub"], "alice", "{label}");

        // The provider holds the code exchange; the server dies while it waits.
        let ticket = "held-0123456789abcdef";
        let authorize = start(&client, &lifecycle::start_link(&client, "held").await, ticket).await;
        let back = provider.approve(&authorize).await;
        provider.reset_counts().await;
        provider.hold(30_000).await;
        let cookie = client.cookie.lock().unwrap().clone();
        let (url, header) = (back.clone(), cookie.clone().unwrap());
        // The browser's request dies with the server: its error is the expected outcome.
        let pending = tokio::spawn(async move {
            let _ = reqwest::Client::new().get(url).header("cookie", header).send().await;
        });
        wait_for(&provider, &["hold", "held"], 1).await;
        server.kill();
        let _ = pending.await;
        provider.hold(0).await;
        wait_for(&provider, &["hold", "abandoned"], 1).await;
        assert_eq!(count(&provider.counts().await, &["token", "authorization_code", "total"]), 0, "{label}");

        // After the restart: nothing half-saved, the page learns the result, the answer cannot be
        // replayed, the good grant works, and connecting again works.
        let listen = base_addr(&back);
        let server = Server::with_local_providers(
            &db,
            &[("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "2"), ("LIAISON_LISTEN", &listen)],
        );
        let client = server.client();
        *client.cookie.lock().unwrap() = cookie;
        let d = client.call("connection", json!({ "link_name": "held" })).await.json();
        assert_eq!((d["row"]["status"].as_str(), &d["grant"]), (Some("not_connected"), &Value::Null), "{label}: {d}");
        let grants = sqlite_rows(
            &db,
            "SELECT COUNT(*) AS n FROM grants g JOIN connections c ON c.id = g.connection_id WHERE c.link_name = 'held'",
        )
        .await;
        assert_eq!(grants[0].get::<i64, _>("n"), 0, "{label}");
        // The page that polls learns it: pending while an exchange could still be running (the
        // 2 s outbound limit, and 5 s more), then failed, well before the flow's 10 minutes.
        let status = client.call("authorisation_status", json!({ "ticket": ticket })).await.json();
        assert_eq!(status["state"], "pending", "{label}");
        server.advance_clock(Duration::from_secs(8));
        let status = client.call("authorisation_status", json!({ "ticket": ticket })).await.json();
        assert_eq!(
            (status["state"].as_str(), status["code"].as_str()),
            (Some("failed"), Some("flow_invalid")),
            "{label}: {status}"
        );
        assert!(status["message"].as_str().unwrap().contains("interrupted"), "{label}: {status}");
        let replay = land(&client, &server, &back).await;
        assert_eq!(replay.status, 400, "{label}: the interrupted answer cannot be used again");
        assert_eq!(
            server.proxy_get(&token, "steady", "me").await.1["sub"],
            "alice",
            "{label}: the good grant still works"
        );
        let page = authorise(&server, &client, &provider, "held", "held-again-0123456789").await;
        assert_eq!(page.status, 200, "{label}: {}", page.body);
        assert_eq!(server.proxy_get(&token, "held", "me").await.1["sub"], "alice", "{label}");
    }
}

/// How many sealed secrets are under `key` (ciphertexts are `v1.<key id>.<base64>`).
async fn under_key(db: &Db, key: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM grants WHERE access_token LIKE 'v1.{key}.%'");
    sqlite_rows(db, &sql).await[0].get("n")
}

fn active_key(db: &Db) -> String {
    let text = std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap();
    server::vault::KeyRing::parse(&text).unwrap().active_id().to_string()
}

#[tokio::test]
async fn keys_rotate_killed_part_way_resumes_and_every_grant_still_works() {
    const EXTRA: i64 = 6000;
    for db in databases().await {
        let label = db.label();
        let fp = FaultProvider::start().await;
        fp.set_at("/v1/data", Fault::json(200, json!({ "ok": true })));
        let server = start_liaison(&db);
        let token = lifecycle::keyed_connection(&server.client(), &fp.base, "keyed-secret-0001", "rotate").await;
        drop(server);

        // Thousands more sealed secrets (grants of a login-user connection), sealed as Liaison does.
        let old = active_key(&db);
        let ring =
            server::vault::KeyRing::parse(&std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap())
                .unwrap();
        exec(&db, "UPDATE connections SET per_user = 1").await;
        let mut conn = lifecycle::connect(&db).await;
        let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
        for i in 0..EXTRA {
            let id = 1000 + i;
            let slot = server::vault::SecretColumn::GrantAccessToken.at(id);
            let sealed = ring.seal(slot, &format!("bulk-secret-{i}")).unwrap();
            sqlx::query(
                "INSERT INTO grants (id, connection_id, user_key, access_token, authorised_by_name, authorised_at, updated_at) \
                 VALUES ($1, 1, $2, $3, 'bulk', 0, 0)",
            )
            .bind(id)
            .bind(id)
            .bind(sealed)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        exec(&db, "UPDATE connections SET per_user = 0").await;
        let total = EXTRA + 1;

        // Rotate, and kill it once it has re-sealed some but not all.
        let mut child = db.command().args(["keys", "rotate"]).stdout(std::process::Stdio::null()).spawn().unwrap();
        let mut new_key = String::new();
        let mut done_at_kill = 0;
        for _ in 0..4000 {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            let active = active_key(&db);
            if active != old {
                let done = under_key(&db, &active).await;
                if done > 0 {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    // A COMMIT the killed process had sent may still be finishing on PostgreSQL's
                    // side: count once no other session is busy (a killed one in a transaction
                    // rolls back, a committing one commits; either way it then ends).
                    if db.database_url.is_some() {
                        let busy = "SELECT COUNT(*) AS n FROM pg_stat_activity \
                                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'";
                        eventually("the killed rotation's last statement to end", || async {
                            (sqlite_rows(&db, busy).await[0].get::<i64, _>("n") == 0).then_some(())
                        })
                        .await;
                    }
                    new_key = active;
                    done_at_kill = under_key(&db, &new_key).await;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(!new_key.is_empty(), "{label}: the rotation finished before it could be killed");
        assert!(done_at_kill < total, "{label}: killed part way ({done_at_kill} of {total})");
        // Every secret still opens with the key file as it was left: some under the old key, some
        // under the new.
        let ring =
            server::vault::KeyRing::parse(&std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap())
                .unwrap();
        assert_eq!(ring.active_id(), new_key, "{label}");
        let rows = sqlite_rows(&db, "SELECT id, access_token FROM grants ORDER BY id").await;
        assert_eq!(rows.len() as i64, total, "{label}");
        for r in &rows {
            let id: i64 = r.get("id");
            let slot = server::vault::SecretColumn::GrantAccessToken.at(id);
            let opened = ring.open(slot, &r.get::<String, _>("access_token")).unwrap();
            let expected = if id >= 1000 { format!("bulk-secret-{}", id - 1000) } else { "keyed-secret-0001".into() };
            assert_eq!(opened.expose(), expected, "{label}: row {id}");
        }

        // A server started now works with the half-rotated keys.
        let server = start_liaison(&db);
        keyed_call_works(&server, &token, &fp, &format!("{label}: mid-rotation")).await;
        drop(server);

        // The re-run resumes under the same key, re-seals only what is left, and retires the old key.
        let out = db.command().args(["keys", "rotate"]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{label}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        let done_now = under_key(&db, &new_key).await;
        assert_eq!(active_key(&db), new_key, "{label}: resumed, not a third key: {stdout}");
        assert_eq!(done_now, total, "{label}: {stdout}");
        assert!(
            stdout.contains(&format!("active key {new_key}: {} secret(s) re-sealed", total - done_at_kill)),
            "{label}: only the rest re-sealed ({} expected): {stdout}",
            total - done_at_kill
        );
        assert!(stdout.contains(&format!("retired key(s) {old}")), "{label}: {stdout}");
        let text = std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap();
        assert_eq!(server::vault::KeyRing::parse(&text).unwrap().key_ids(), vec![new_key.as_str()], "{label}");

        let server = start_liaison(&db);
        keyed_call_works(&server, &token, &fp, &format!("{label}: after the rotation")).await;
    }
}
