//! `liaison keys rotate` while servers run (issue 17): two servers share one PostgreSQL database
//! and one key file, OAuth grants at the real oidc-provider are refreshed through both while the
//! rotation re-seals every secret; nothing is lost: no call answers `secret_unreadable` during or
//! after, the old key is retired only once no row uses it, and after a restart every grant works.

use crate::api::start_liaison;
use crate::harness::*;
use crate::lifecycle::{self, create_connection, exec, land, sqlite_rows, start};
use serde_json::json;
use sqlx::Row;

const LINKS: &[&str] = &["k0", "k1", "k2", "k3"];
/// Sealed rows besides the grants in use, so the rotation takes long enough to overlap traffic.
const BULK: i64 = 1500;

fn key_file(db: &Db) -> server::vault::KeyRing {
    server::vault::KeyRing::parse(&std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap()).unwrap()
}

/// One round of traffic: every grant's token marked expired, then every link called through both
/// servers at once (each call refreshes, or waits for the other's refresh). The failures, as
/// "server link status code".
async fn round(db: &Db, servers: &[&Server], token: &str) -> Vec<String> {
    exec(db, "UPDATE grants SET expires_at = 1 WHERE refresh_token IS NOT NULL").await;
    let calls = servers.iter().enumerate().flat_map(|(i, s)| {
        LINKS.iter().map(move |link| async move {
            let (status, body) = s.proxy_get(token, link, "me").await;
            (status != 200).then(|| format!("server{i} {link} {status} {}", body["code"].as_str().unwrap_or("?")))
        })
    });
    futures_util::future::join_all(calls).await.into_iter().flatten().collect()
}

#[tokio::test]
async fn keys_rotate_with_two_servers_refreshing_loses_nothing() {
    let Some(db) = postgres().await else {
        eprintln!("skipped keys_rotate_with_two_servers_refreshing_loses_nothing: it needs TEST_DATABASE_URL");
        return;
    };
    let a = start_liaison(&db);
    let b = start_liaison(&db);
    let client = a.client();
    assert_eq!(setup(&client).await.status, 200);
    let (provider, _) = lifecycle::api_service_at_provider(&client).await;
    for (i, link) in LINKS.iter().enumerate() {
        let r = create_connection(
            &client,
            json!({ "name": link, "service": { "kind": "custom", "id": 1 }, "scopes": ["openid", "offline_access"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let start_url = lifecycle::start_url_of(&r.json(), link);
        let authorize = start(&client, &start_url, &format!("ticket-{link}-0123456789ab{i}")).await;
        assert_eq!(land(&client, &a, &provider.approve(&authorize).await).await.status, 200);
    }
    let token = client.call("create_api_token", json!({ "name": "rotate" })).await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(round(&db, &[&a, &b], &token).await, Vec::<String>::new(), "before the rotation");

    // Many more sealed secrets (grants of a per-user connection), sealed as Liaison does.
    let old = key_file(&db);
    let old_id = old.active_id().to_string();
    exec(&db, "UPDATE connections SET per_user = 1 WHERE link_name = 'k0'").await;
    let mut conn = lifecycle::connect(&db).await;
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    for i in 0..BULK {
        let id = 10_000 + i;
        let slot = server::vault::SecretColumn::GrantAccessToken.at(id);
        sqlx::query(
            "INSERT INTO grants (id, connection_id, user_key, access_token, authorised_by_name, authorised_at, updated_at) \
             VALUES ($1, 1, $2, $3, 'bulk', 0, 0)",
        )
        .bind(id)
        .bind(id)
        .bind(old.seal(slot, &format!("bulk-secret-{i}")).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    exec(&db, "UPDATE connections SET per_user = 0 WHERE link_name = 'k0'").await;

    // The rotation runs while both servers refresh every grant, round after round.
    let cmd = db.command();
    let rotation = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.args(["keys", "rotate"]).output().unwrap()
    });
    let mut failures = Vec::new();
    let mut rounds = 0;
    while !rotation.is_finished() {
        failures.extend(round(&db, &[&a, &b], &token).await);
        rounds += 1;
    }
    assert!(rounds > 0, "no traffic overlapped the rotation");
    let out = rotation.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for _ in 0..3 {
        failures.extend(round(&db, &[&a, &b], &token).await);
    }
    eprintln!("{rounds} round(s) of refreshes during the rotation; the rotation said: {stdout}");
    assert!(
        failures.is_empty(),
        "during and just after the rotation ({rounds} rounds): {} failed call(s), {} secret_unreadable, e.g. {:?}",
        failures.len(),
        failures.iter().filter(|f| f.ends_with("secret_unreadable")).count(),
        &failures[..failures.len().min(8)]
    );

    // The old key is gone from the key file and no row uses it any more.
    let ring = key_file(&db);
    assert_ne!(ring.active_id(), old_id);
    assert_eq!(ring.key_ids(), vec![ring.active_id()], "the old key is retired: {stdout}");
    for (table, column) in [("grants", "access_token"), ("grants", "refresh_token"), ("services", "client_secret")] {
        let rows = sqlite_rows(&db, &format!("SELECT id, {column} AS v FROM {table} WHERE {column} IS NOT NULL")).await;
        for r in rows {
            let id: i64 = r.get("id");
            let slot = server::vault::SecretColumn::named(table, column).unwrap().at(id);
            let sealed: String = r.get("v");
            assert!(
                ring.open(slot, &sealed).is_ok(),
                "{table}.{column} row {id} opens with the key file: {sealed:.20}"
            );
        }
    }

    // Both servers restarted: every grant still works, through both.
    drop((a, b));
    let (a, b) = (start_liaison(&db), start_liaison(&db));
    assert_eq!(round(&db, &[&a, &b], &token).await, Vec::<String>::new(), "after the restart");
    for link in LINKS {
        assert_eq!(b.proxy_get(&token, link, "me").await.1["sub"], "alice", "{link}");
    }
}
