//! `/metrics` after a lifecycle (authorised, proxy calls with failures, a refresh, a declined
//! authorisation): the counts are the events', and only the metrics address serves them.

use crate::api::{connected, LINK};
use crate::harness::*;
use crate::lifecycle::{self, exec, land, start, start_link};

fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in:\n{scrape}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_lifecycle_is_counted_and_only_the_metrics_address_serves_it() {
    for db in databases().await {
        let label = db.label();
        let server = Server::with_local_providers(&db, &[("LIAISON_METRICS_LISTEN", "127.0.0.1:0")]);
        let log = server.log();
        let metrics = log
            .split("metrics served at ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
            .to_string();
        let client = server.client();
        assert_eq!(setup(&client).await.status, 200);
        let (provider, _) = lifecycle::api_service_at_provider(&client).await;
        connected(&server, &client, &provider, "alice").await;
        let (_, token) = client.api_token("metrics").await;

        let http = reqwest::Client::new();
        let call = |link: &str, path: &str, token: &str| {
            let req = http.get(format!("{}/api/v1/connections/{link}/proxy/{path}", server.url)).bearer_auth(token);
            async move { req.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(call(LINK, "me", &token).await, 200);
        assert_eq!(call(LINK, "no-such-endpoint", &token).await, 404, "the service's own 404");
        assert_eq!(call("nobody", "me", &token).await, 404, "connection_not_found");
        assert_eq!(call(LINK, "me", "lsn_not-a-token").await, 401, "unauthenticated");
        // Expired: the next call refreshes first.
        exec(&db, "UPDATE grants SET expires_at = 1").await;
        assert_eq!(call(LINK, "me", &token).await, 200);
        // A second authorisation, declined at the provider.
        let authorize = start(&client, &start_link(&client, LINK).await, "declined-0123456789abc").await;
        let back = provider.deny(&authorize).await;
        assert_eq!(land(&client, &server, &back).await.status, 400);

        let scrape = reqwest::get(&metrics).await.unwrap();
        assert_eq!(scrape.status(), 200);
        assert!(scrape.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let scrape = scrape.text().await.unwrap();
        for (series, expected) in [
            ("liaison_api_calls_total{class=\"2xx\",code=\"upstream\"}", 2.0),
            ("liaison_api_calls_total{class=\"4xx\",code=\"upstream\"}", 1.0),
            ("liaison_api_calls_total{class=\"4xx\",code=\"connection_not_found\"}", 1.0),
            ("liaison_api_calls_total{class=\"4xx\",code=\"unauthenticated\"}", 1.0),
            ("liaison_api_added_latency_seconds_count", 5.0),
            ("liaison_api_added_latency_seconds_bucket{le=\"+Inf\"}", 5.0),
            ("liaison_refreshes_total{outcome=\"ok\"}", 1.0),
            ("liaison_refreshes_total{outcome=\"failed\"}", 0.0),
            ("liaison_flows_total{event=\"started\"}", 2.0),
            ("liaison_flows_total{event=\"finished\"}", 1.0),
            ("liaison_flows_total{event=\"failed\"}", 1.0),
            ("liaison_connections{status=\"connected\"}", 1.0),
            ("liaison_connections{status=\"revoked\"}", 0.0),
        ] {
            assert_eq!(value(&scrape, series), expected, "{label}: {series}\n{scrape}");
        }
        let sum = value(&scrape, "liaison_api_added_latency_seconds_sum");
        assert!(sum > 0.0 && sum < 30.0, "{label}: {sum}");
        assert!(value(&scrape, "liaison_db_pool_max_connections") == 8.0, "{scrape}");
        for secret in [token.as_str(), LINK, "no-such-endpoint", "alice", lifecycle::CLIENT_SECRET] {
            assert!(!scrape.contains(secret), "{label}: no label carries {secret}");
        }

        // The public address has no /metrics, and the metrics address serves nothing else.
        let public = reqwest::get(format!("{}/metrics", server.url)).await.unwrap();
        assert_eq!(public.status(), 404, "{label}");
        assert!(!public.text().await.unwrap().contains("liaison_api_calls_total"));
        let other = reqwest::get(metrics.replace("/metrics", "/healthz")).await.unwrap();
        assert_eq!(other.status(), 404, "{label}");
    }
}
