//! `api_listen`: the scripts' API on a listener of its own (one thread per core). It answers the
//! API as `listen` does, sees a change made elsewhere on the very next call, serves no page, and
//! stops cleanly on SIGTERM.

use crate::api::{assert_error, connected, setup_on, start_liaison_with, Api, LINK};
use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn the_apis_own_listener_serves_the_api_and_nothing_else() {
    for db in databases().await {
        let label = db.label();
        let server =
            start_liaison_with(&db, &[("LIAISON_API_LISTEN", "127.0.0.1:0"), ("LIAISON_SHUTDOWN_GRACE_SECONDS", "5")]);
        let log = server.log();
        let base = log
            .split("the scripts' API served at ")
            .nth(1)
            .and_then(|rest| rest.split("/api/v1/").next())
            .unwrap_or_else(|| panic!("{label}: no API address in the log:\n{log}"))
            .to_string();
        assert_ne!(base, server.url, "{label}: a listener of its own");
        let (client, provider) = setup_on(&server, &[]).await;
        connected(&server, &client, &provider, "alice").await;
        let (_, token) = client.api_token("own listener").await;
        let api = Api { base: base.clone(), ..Api::new(&server, &token) };

        // Many calls at once (spread over the threads' sockets): each answered as on `listen`.
        let calls = (0..24).map(|_| async {
            let fresh = Api { base: base.clone(), ..Api::new(&server, &token) };
            fresh.proxy("GET", "me").await
        });
        for me in futures_util::future::join_all(calls).await {
            assert_eq!((me.status, &me.body["sub"]), (200, &json!("alice")), "{label}: {}", me.body);
            assert_eq!(me.headers["x-content-type-options"], "nosniff", "{label}");
        }
        let invoked = api.invoke(json!({ "connection": LINK, "url": "/me" })).await;
        assert_eq!((invoked.status, &invoked.body["body"]["sub"]), (200, &json!("alice")), "{label}: {}", invoked.body);
        let stranger = Api { token: "lsn_not-a-token-of-this-liaison".into(), ..Api::new(&server, &token) };
        let stranger = Api { base: base.clone(), ..stranger };
        assert_error(&stranger.proxy("GET", "me").await, 401, "unauthenticated");

        // A revoke made through the main address: refused by the very next call here.
        assert_eq!(client.call("revoke_connection", json!({ "link_name": LINK })).await.status, 200);
        assert_error(&api.proxy("GET", "me").await, 409, "connection_revoked");

        // No page, no server function, no health check: only the API.
        for path in ["/", "/login", "/healthz", "/rpc/me", "/pkg/liaison.js"] {
            let r = reqwest::get(format!("{base}{path}")).await.unwrap();
            assert_eq!(r.status(), 404, "{label}: {path}");
        }
        // Both listeners let their connections finish and the process ends cleanly, within the
        // grace period.
        let log = server.log.clone();
        assert!(server.stop().success(), "{label}");
        let log = eventually("the last log line read", || {
            let log = log.lock().unwrap().clone();
            // The last line: "… INFO stopped".
            async move { log.lines().any(|l| l.trim_end().ends_with(" stopped")).then_some(log) }
        })
        .await;
        assert!(!log.contains("grace period over"), "{label}: {log}");
    }
}
