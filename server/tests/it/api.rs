//! The scripts' API over HTTP against oidc-provider: API tokens, the proxy and invoke with the
//! provider's userinfo endpoint as the "API", every error code a test can provoke, the refresh
//! that never races (500 concurrent calls, two instances on PostgreSQL, a SIGKILL mid-refresh),
//! the call log, and the OpenAPI document checked against the real routes.

use crate::faults::{self, Fault, FaultProvider};
use crate::harness::*;
use crate::lifecycle::{self, create_connection, create_service, exec, land, service_form, sqlite_rows, start};
use crate::provider::{self, Provider};
use serde_json::{json, Value};
use sqlx::Row;
use std::time::Duration;

pub const LINK: &str = "acme_api";

/// Liaison (may call the local provider; short provider time limit so leases are short) and the
/// provider, with an authorization-code service whose API base URL is the provider itself.
async fn setup_with(db: &Db, provider_env: &[(&str, &str)]) -> (Server, Client, Provider) {
    let server = start_liaison(db);
    let (client, provider) = setup_on(&server, provider_env).await;
    (server, client, provider)
}

/// `server` set up, with the provider and the service of [`setup_with`].
pub async fn setup_on(server: &Server, provider_env: &[(&str, &str)]) -> (Client, Provider) {
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    let callback = lifecycle::reserve_callback(&client).await;
    let provider =
        Provider::start_with(json!([provider::client("liaison", lifecycle::CLIENT_SECRET, &callback)]), provider_env)
            .await;
    let mut form = service_form(&client, &provider, "authorization_code").await;
    form["api_base_urls"] = json!([provider.issuer]);
    create_service(&client, form).await;
    (client, provider)
}

/// Liaison that may call local providers, with a short provider time limit (short leases).
pub fn start_liaison(db: &Db) -> Server {
    start_liaison_with(db, &[])
}

/// [`start_liaison`] with `env` besides.
pub fn start_liaison_with(db: &Db, env: &[(&str, &str)]) -> Server {
    let ours = [("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "2"), ("LIAISON_DB_MAX_CONNECTIONS", "16")];
    Server::with_local_providers(db, &[&ours[..], env].concat())
}

/// Creates the connection and authorises it through the provider as `login`.
pub async fn connected(server: &Server, client: &Client, provider: &Provider, login: &str) {
    let r = create_connection(
        client,
        json!({ "name": "Acme API", "link_name": LINK, "service": { "kind": "custom", "id": 1 },
                "scopes": ["openid", "api:read", "offline_access"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let authorize = start(client, &lifecycle::start_url_of(&r.json(), LINK), "ticket-api-0123456789").await;
    let callback = provider.approve_as(&authorize, login).await;
    let page = land(client, server, &callback).await;
    assert_eq!(page.status, 200, "{}\n{}", page.body, server.log());
}

/// Liaison and the provider with `LINK` connected as alice, and an API token for it.
async fn connected_api(db: &Db, provider_env: &[(&str, &str)], name: &str) -> (Server, Client, Provider, String) {
    let (server, client, provider) = setup_with(db, provider_env).await;
    connected(&server, &client, &provider, "alice").await;
    let (_, token) = client.api_token(name).await;
    (server, client, provider, token)
}

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(server: &Server, token: &str) -> Api {
        Api {
            base: server.url.clone(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            token: token.to_string(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, headers, body }
    }

    pub async fn proxy(&self, method: &str, path: &str) -> Answer {
        let url = format!("{}/api/v1/connections/{LINK}/proxy/{path}", self.base);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.send(self.http.request(m, url).bearer_auth(&self.token)).await
    }

    pub async fn invoke(&self, call: Value) -> Answer {
        self.send(self.http.post(format!("{}/api/v1/invoke", self.base)).bearer_auth(&self.token).json(&call)).await
    }
}

pub fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!((a.status, a.body["code"].as_str()), (status, Some(code)), "{}", a.body);
    let message = a.body["message"].as_str().unwrap();
    assert!(message.len() > 20 && message.ends_with('.'), "a sentence a person can act on: {message}");
}

fn count(counts: &Value, route: &[&str]) -> i64 {
    route.iter().fold(counts, |v, k| &v[*k]).as_i64().unwrap_or(0)
}

/// The API call log, oldest first (the log is written in the background: waits for `n` rows).
async fn calls(db: &Db, n: usize) -> Vec<(String, String, String, i64, Option<String>)> {
    let rows = eventually(&format!("the call log holding {n} calls"), || async {
        let rows =
            sqlite_rows(db, "SELECT actor, link_name, method, host, status, error_code FROM api_calls ORDER BY id")
                .await;
        (rows.len() >= n).then_some(rows)
    })
    .await;
    rows.iter()
        .map(|r| {
            let host: String = r.get("host");
            (
                r.get::<String, _>("actor"),
                r.get("link_name"),
                format!("{} {host}", r.get::<String, _>("method")),
                r.get("status"),
                r.get("error_code"),
            )
        })
        .collect()
}

#[tokio::test]
async fn proxy_and_invoke_call_the_api_with_the_connections_credential() {
    for db in databases().await {
        let label = db.label();
        let (server, client, provider) = setup_with(&db, &[]).await;
        let (token_id, token) = client.api_token("Nightly sync").await;
        assert!(token.starts_with("lsn_") && token.len() > 40, "{token}");
        let listed = client.call("api_tokens", json!({})).await.json();
        assert_eq!(listed[0]["name"], "Nightly sync");
        assert!(!listed.to_string().contains(&token), "the token is shown once, never listed");
        let api = Api::new(&server, &token);

        // Before the connection exists, and before it is authorised.
        assert_error(&api.proxy("GET", "me").await, 404, "connection_not_found");
        let r = create_connection(
            &client,
            json!({ "name": "Acme API", "link_name": LINK, "service": { "kind": "custom", "id": 1 },
                    "scopes": ["openid", "api:read", "offline_access"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_error(&api.proxy("GET", "me").await, 409, "not_connected");
        exec(&db, &format!("DELETE FROM connections WHERE link_name = '{LINK}'")).await;
        connected(&server, &client, &provider, "alice").await;

        // The proxy: the provider's userinfo answers for alice, with its own headers.
        let me = api.proxy("GET", "me").await;
        assert_eq!((me.status, &me.body["sub"]), (200, &json!("alice")), "{label}: {}", me.body);
        assert!(me.headers["content-type"].to_str().unwrap().starts_with("application/json"));
        // A POST with a body passes through too (oidc-provider's userinfo accepts POST).
        let url = format!("{}/api/v1/connections/{LINK}/proxy/me", server.url);
        let post = api
            .send(
                api.http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("x=1"),
            )
            .await;
        assert_eq!((post.status, &post.body["sub"]), (200, &json!("alice")), "{}", post.body);
        // The provider's own errors come back as they are.
        let missing = api.proxy("GET", "no/such/route").await;
        assert_eq!(missing.status, 404, "{}", missing.body);
        assert!(missing.body.get("code").is_none() || missing.body["code"] != "connection_not_found");

        // invoke: one JSON call.
        let inv = api
            .invoke(json!({ "connection": LINK, "method": "GET", "url": "/me", "query": { "x": [1, "two"] } }))
            .await;
        assert_eq!(inv.status, 200, "{}", inv.body);
        assert_eq!(
            (inv.body["status"].as_i64(), &inv.body["body"]["sub"]),
            (Some(200), &json!("alice")),
            "{}",
            inv.body
        );
        assert!(inv.body["headers"]["content-type"].as_str().unwrap().contains("json"));
        let abs = api.invoke(json!({ "connection": LINK, "url": provider.url("/me") })).await;
        assert_eq!(abs.body["body"]["sub"], "alice", "{}", abs.body);

        // The credential goes nowhere else.
        assert_error(
            &api.invoke(json!({ "connection": LINK, "url": "https://evil.example/me" })).await,
            403,
            "host_not_allowed",
        );
        assert_error(
            &api.invoke(json!({ "connection": LINK, "url": "http://127.0.0.1:1/me" })).await,
            403,
            "host_not_allowed",
        );
        // Malformed calls.
        assert_error(&api.invoke(json!({ "connection": LINK })).await, 400, "invalid_request");
        assert_error(
            &api.invoke(json!({ "connection": LINK, "url": "/me", "method": "BAD METHOD" })).await,
            400,
            "invalid_request",
        );
        assert_error(
            &api.invoke(json!({ "connection": LINK, "url": "/me", "headers": { "x-bad": "a\nb" } })).await,
            400,
            "invalid_request",
        );
        assert_error(
            &api.invoke(json!({ "connection": LINK, "url": "/me", "extra": 1 })).await,
            400,
            "invalid_request",
        );
        assert_error(
            &api.invoke(json!({ "connection": "Not A Link", "url": "/me" })).await,
            404,
            "connection_not_found",
        );
        let raw = api
            .send(api.http.post(format!("{}/api/v1/invoke", server.url)).bearer_auth(&token).body("{not json"))
            .await;
        assert_error(&raw, 400, "invalid_request");

        // Tokens: none, unknown, revoked.
        let anon = api.send(api.http.get(format!("{}/api/v1/connections/{LINK}/proxy/me", server.url))).await;
        assert_error(&anon, 401, "unauthenticated");
        assert!(anon.headers.contains_key("www-authenticate"));
        assert_error(&Api::new(&server, "lsn_forged").proxy("GET", "me").await, 401, "unauthenticated");
        let r = client.call("revoke_api_token", json!({ "id": token_id })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_error(&api.proxy("GET", "me").await, 401, "unauthenticated");
        let again = client.call("revoke_api_token", json!({ "id": token_id })).await;
        assert_eq!(again.status, 404, "{}", again.body);

        // Revoked connection.
        let (_, token2) = client.api_token("second").await;
        let api2 = Api::new(&server, &token2);
        assert_eq!(client.call("revoke_connection", json!({ "link_name": LINK })).await.status, 200);
        assert_error(&api2.proxy("GET", "me").await, 409, "connection_revoked");
        exec(&db, &format!("UPDATE connections SET status = 'needs_reauth' WHERE link_name = '{LINK}'")).await;
        assert_error(&api2.proxy("GET", "me").await, 409, "needs_reauthorization");

        // The call log: who, connection, method, host, status; never a token or a path.
        let log = calls(&db, 10).await;
        let host = url::Url::parse(&provider.issuer).unwrap().host_str().unwrap().to_string();
        assert!(
            log.iter().any(|c| c
                == &(
                    format!("{ADMIN_EMAIL} (token Nightly sync)"),
                    LINK.to_string(),
                    format!("GET {host}"),
                    200,
                    None
                )),
            "{log:?}"
        );
        assert!(log.iter().any(|c| c.3 == 403 && c.4.as_deref() == Some("host_not_allowed")), "{log:?}");
        let dump = format!("{log:?}");
        assert!(!dump.contains(&token) && !dump.contains("/me") && !dump.contains("no/such"), "{dump}");
        assert!(!server.log().contains(&token) && !server.log().contains(&token2), "no API token in the log");
        let used = client.call("api_tokens", json!({})).await.json();
        assert!(
            used.as_array().unwrap().iter().any(|t| t["name"] == "Nightly sync" && t["last_used_at"].is_i64()),
            "{used}"
        );
        let last_used =
            sqlite_rows(&db, &format!("SELECT last_used_at FROM connections WHERE link_name = '{LINK}'")).await;
        assert!(last_used[0].get::<Option<i64>, _>("last_used_at").is_some(), "{label}");
    }
}

#[tokio::test]
async fn five_hundred_calls_on_an_expired_token_refresh_it_exactly_once() {
    for db in databases().await {
        let label = db.label();
        let (server, _client, provider, token) = connected_api(&db, &[], "load").await;
        let api = Api::new(&server, &token);
        assert_eq!(api.proxy("GET", "me").await.status, 200);

        // Liaison believes the token expired: every call wants a refresh at once.
        provider.reset_counts().await;
        exec(&db, "UPDATE grants SET expires_at = 1").await;
        let calls = (0..500).map(|_| api.proxy("GET", "me"));
        let answers = futures_util::future::join_all(calls).await;
        let failed: Vec<_> = answers.iter().filter(|a| a.status != 200).map(|a| (a.status, a.body.clone())).collect();
        assert!(failed.is_empty(), "{label}: {} failed, e.g. {:?}", failed.len(), failed.first());
        let counts = provider.counts().await;
        assert_eq!(count(&counts, &["token", "refresh_token", "total"]), 1, "{label}: {counts}");
        assert_eq!(count(&counts, &["token", "refresh_token", "ok"]), 1, "{label}: {counts}");
        assert_eq!(count(&counts, &["userinfo", "ok"]), 500, "{label}: {counts}");

        // Two instances sharing PostgreSQL: still exactly one refresh.
        if db.database_url.is_some() {
            let second = start_liaison(&db);
            let api_b = Api::new(&second, &token);
            provider.reset_counts().await;
            exec(&db, "UPDATE grants SET expires_at = 1").await;
            let a = (0..250).map(|_| api.proxy("GET", "me"));
            let b = (0..250).map(|_| api_b.proxy("GET", "me"));
            let (ra, rb) = tokio::join!(futures_util::future::join_all(a), futures_util::future::join_all(b));
            let failed = ra.iter().chain(&rb).filter(|a| a.status != 200).count();
            assert_eq!(
                failed,
                0,
                "two instances: {:?}",
                ra.iter().chain(&rb).find(|a| a.status != 200).map(|a| &a.body)
            );
            let counts = provider.counts().await;
            assert_eq!(count(&counts, &["token", "refresh_token", "total"]), 1, "two instances: {counts}");
            assert_eq!(count(&counts, &["userinfo", "ok"]), 500, "two instances: {counts}");
        }
    }
}

#[tokio::test]
async fn a_401_from_the_api_refreshes_once_and_retries() {
    for db in databases().await {
        let (server, _client, provider, token) =
            connected_api(&db, &[("ACCESS_TOKEN_TTL", "2"), ("CLOCK_TOLERANCE", "0")], "retry").await;
        let api = Api::new(&server, &token);
        // Liaison does not know when the token expires; the provider lets it expire.
        let g = sqlite_rows(&db, "SELECT expires_at, updated_at FROM grants").await;
        let lifetime = g[0].get::<Option<i64>, _>("expires_at").unwrap() - g[0].get::<i64, _>("updated_at");
        assert!((1000..=2000).contains(&lifetime), "the provider's 2 s lifetime: {lifetime} ms");
        exec(&db, "UPDATE grants SET expires_at = NULL").await;
        provider.advance_clock(Duration::from_millis(2600)).await;
        provider.reset_counts().await;
        let me = api.proxy("GET", "me").await;
        assert_eq!((me.status, &me.body["sub"]), (200, &json!("alice")), "{}", me.body);
        let counts = provider.counts().await;
        assert_eq!(count(&counts, &["token", "refresh_token", "ok"]), 1, "{counts}");
        assert_eq!(count(&counts, &["userinfo", "error"]), 1, "the first try was refused: {counts}");
        assert_eq!(count(&counts, &["userinfo", "ok"]), 1, "{counts}");
    }
}

#[tokio::test]
async fn a_server_killed_in_the_middle_of_a_refresh_leaves_a_working_grant() {
    for db in databases().await {
        let label = db.label();
        let (server, client, provider, token) = connected_api(&db, &[], "crash").await;
        let api = Api::new(&server, &token);
        exec(&db, "UPDATE grants SET expires_at = 1").await;
        provider.reset_counts().await;
        provider.hold(30_000).await;
        let pending = tokio::spawn(async move { api.proxy("GET", "me").await.status });
        let held = || async { (count(&provider.counts().await, &["hold", "held"]) == 1).then_some(()) };
        eventually(&format!("{label}: the refresh reaching the provider"), held).await;
        server.kill();
        let _ = pending.await;
        provider.hold(0).await;
        let abandoned = || async { (count(&provider.counts().await, &["hold", "abandoned"]) == 1).then_some(()) };
        eventually(&format!("{label}: the provider seeing the refresh abandoned"), abandoned).await;

        // On PostgreSQL the dead process's lease runs out (2 s time limit + 5 s): the clock moves
        // past it rather than the test waiting. SQLite clears it at start.
        db.advance_clock(Duration::from_secs(8));
        let server = start_liaison(&db);
        let api = Api::new(&server, &token);
        let me = api.proxy("GET", "me").await;
        assert_eq!((me.status, &me.body["sub"]), (200, &json!("alice")), "{label}: {}", me.body);
        let counts = provider.counts().await;
        assert_eq!(count(&counts, &["token", "refresh_token", "ok"]), 1, "{label}: {counts}");
        assert_eq!(count(&counts, &["token", "refresh_token", "error"]), 0, "{label}: {counts}");
        let d = client.with_base(&server.url).call("connection", json!({ "link_name": LINK })).await.json();
        assert_eq!(d["row"]["status"], "connected", "{label}");
    }
}

#[tokio::test]
async fn the_openapi_document_matches_the_real_routes() {
    let db = sqlite().await;
    let (server, client, provider) = setup_with(&db, &[]).await;
    connected(&server, &client, &provider, "alice").await;
    let (_, token) = client.api_token("openapi").await;
    let api = Api::new(&server, &token);
    let doc = api.send(api.http.get(format!("{}/api/v1/openapi.json", server.url))).await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 5, "{:?}", paths.keys());
    let codes: Vec<&str> = doc.body["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "connection_not_found",
        "connection_revoked",
        "needs_reauthorization",
        "user_not_authorized",
        "host_not_allowed",
        "upstream_timeout",
    ] {
        assert!(codes.contains(&code), "{code} documented");
    }
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let concrete = path.replace("{link_name}", LINK).replace("{path}", "me");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = api.http.request(m, format!("{}{concrete}", server.url)).bearer_auth(&token);
            if path.ends_with("/invoke") {
                req = req.json(&json!({ "connection": LINK, "url": "/me" }));
            }
            let a = api.send(req).await;
            let documented =
                op["responses"].get(a.status.to_string()).is_some() || op["responses"].get("default").is_some();
            assert!(documented, "{method} {path} answered {} which is not documented: {}", a.status, a.body);
            if a.body.get("code").is_some() {
                assert!(codes.contains(&a.body["code"].as_str().unwrap()), "{method} {path}: {}", a.body);
            }
            // Without a token every operation but the document itself is refused.
            let anon = api
                .send(api.http.request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    format!("{}{concrete}", server.url),
                ))
                .await;
            let open = op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| a.is_empty()));
            assert_eq!(anon.status == 401, !open, "{method} {path} without a token: {}", anon.status);
        }
    }
    assert_eq!(operations, 18);
    // A route the document does not list is not there.
    let other = api.send(api.http.get(format!("{}/api/v1/connections/{LINK}", server.url)).bearer_auth(&token)).await;
    assert_eq!(other.status, 404);
}

/// Liaison with tight API limits (1 s, 1 KiB), signed in, with a client-credentials connection
/// `LINK` to the fault provider, connected with token `at-1`.
async fn fault_setup(db: &Db, fp: &FaultProvider, error_in_200: bool) -> (Server, Client, Api) {
    let server = Server::with_local_providers(
        db,
        &[
            ("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "1"),
            ("LIAISON_API_TIMEOUT_SECONDS", "1"),
            ("LIAISON_API_MAX_BODY_BYTES", "1024"),
        ],
    );
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    create_service(&client, faults::service(fp, "Faulty", error_in_200)).await;
    fp.set(Fault::tokens("at-1"));
    let r = create_connection(
        &client,
        json!({ "name": "Faulty", "link_name": LINK, "service": { "kind": "custom", "id": 1 }, "scopes": ["read"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, token) = client.api_token("faults").await;
    let api = Api::new(&server, &token);
    (server, client, api)
}

async fn status_of(client: &Client, link: &str) -> (String, String) {
    let d = client.call("connection", json!({ "link_name": link })).await.json();
    (d["row"]["status"].as_str().unwrap().into(), d["row"]["status_reason"].as_str().unwrap_or_default().into())
}

#[tokio::test]
async fn a_failing_token_endpoint_backs_off_and_a_dead_grant_asks_for_reauthorisation() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    let (server, client, api) = fault_setup(&db, &fp, true).await;
    fp.set_at("/v1/me", Fault::json(200, json!({ "me": "ok" })));
    let ok = api.proxy("GET", "v1/me").await;
    assert_eq!((ok.status, &ok.body), (200, &json!({ "me": "ok" })));
    assert_eq!(fp.last_request().unwrap().header("authorization"), Some("Bearer at-1"));

    // 5xx while the token is expired: 503 with Retry-After, still Connected, and no second try
    // at the provider before the back-off is over.
    exec(&db, "UPDATE grants SET expires_at = 1").await;
    fp.set(Fault::html(503, "<h1>down</h1>"));
    let before = fp.token_calls();
    let down = api.proxy("GET", "v1/me").await;
    assert_error(&down, 503, "provider_unavailable");
    assert!(down.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_error(&api.proxy("GET", "v1/me").await, 503, "provider_unavailable");
    assert_eq!(fp.token_calls(), before + 1, "backing off: one try only");
    assert_eq!(status_of(&client, LINK).await.0, "connected");

    // 429 and a timeout count as "try later" too.
    for fault in [
        Fault::oauth_error(429, "slow_down", None).with_header("retry-after", "30"),
        Fault::tokens("late").after(Duration::from_millis(1500)),
        Fault::raw(200, "application/json", "{not json"),
    ] {
        exec(&db, "UPDATE grants SET retry_at = NULL").await;
        fp.set(fault.clone());
        let a = api.proxy("GET", "v1/me").await;
        if matches!(fault, Fault::Answer { status: 200, .. }) {
            // Malformed: not worth retrying.
            assert_error(&a, 502, "refresh_failed");
            assert_eq!(status_of(&client, LINK).await.0, "error");
            exec(&db, "UPDATE connections SET status = 'connected', status_reason = NULL").await;
        } else {
            assert_error(&a, 503, "provider_unavailable");
            assert_eq!(status_of(&client, LINK).await.0, "connected", "{fault:?}");
        }
    }

    // Back to health: the refresh succeeds and the call goes out with the new token.
    exec(&db, "UPDATE grants SET retry_at = NULL").await;
    fp.set(Fault::tokens("at-2"));
    assert_eq!(api.proxy("GET", "v1/me").await.status, 200);
    assert_eq!(fp.last_request().unwrap().header("authorization"), Some("Bearer at-2"));

    // invalid_client: the refresh fails for good, the connection shows the reason.
    exec(&db, "UPDATE grants SET expires_at = 1").await;
    fp.set(Fault::oauth_error(401, "invalid_client", Some("client authentication failed")));
    let refused = api.proxy("GET", "v1/me").await;
    assert_error(&refused, 502, "refresh_failed");
    assert!(refused.body["message"].as_str().unwrap().contains("invalid_client"), "{}", refused.body);
    let (status, reason) = status_of(&client, LINK).await;
    assert_eq!(status, "error");
    assert!(reason.contains("Check the client ID and secret"), "{reason}");
    assert_error(&api.proxy("GET", "v1/me").await, 409, "connection_error");

    // invalid_grant inside an HTTP 200 (the service's error_in_200 knob): Needs re-authorisation.
    exec(&db, "UPDATE connections SET status = 'connected', status_reason = NULL").await;
    fp.set(Fault::json(200, json!({ "error": "invalid_grant", "error_description": "revoked" })));
    assert_error(&api.proxy("GET", "v1/me").await, 409, "needs_reauthorization");
    assert_eq!(status_of(&client, LINK).await.0, "needs_reauth");
    assert_error(&api.proxy("GET", "v1/me").await, 409, "needs_reauthorization");
    let log = server.log();
    assert!(!log.contains(faults::CLIENT_SECRET) && !log.contains("at-1") && !log.contains("at-2"), "no secret logged");
}

#[tokio::test]
async fn the_service_side_limits_and_failures_have_their_codes() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    let (server, client, api) = fault_setup(&db, &fp, false).await;

    // A 401 from the API: one refresh (client credentials again), one retry, then the service's
    // own 401 comes back as it is.
    fp.set_at("/v1/private", Fault::json(401, json!({ "message": "nope" })).with_header("x-upstream", "1"));
    fp.set(Fault::tokens("at-2"));
    let before = fp.token_calls();
    let denied = api.proxy("GET", "v1/private").await;
    assert_eq!((denied.status, &denied.body), (401, &json!({ "message": "nope" })));
    assert_eq!(denied.headers["x-upstream"], "1");
    assert_eq!(fp.token_calls(), before + 1);
    let tries: Vec<_> = fp
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/private")
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(tries, ["Bearer at-1", "Bearer at-2"]);

    // Time and size limits.
    fp.set_at("/v1/slow", Fault::json(200, json!({})).after(Duration::from_millis(2500)));
    assert_error(&api.proxy("GET", "v1/slow").await, 504, "upstream_timeout");
    let url = format!("{}/api/v1/connections/{LINK}/proxy/v1/upload", server.url);
    let big = api.send(api.http.post(&url).bearer_auth(&api.token).body(vec![b'x'; 2048])).await;
    assert_error(&big, 413, "body_too_large");
    // Streamed (no length given): cut off at the limit.
    let chunks = futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 512])));
    let streamed = api.send(api.http.post(&url).bearer_auth(&api.token).body(reqwest::Body::wrap_stream(chunks))).await;
    assert_error(&streamed, 413, "body_too_large");
    // Below the limit, a streamed body goes through whole.
    fp.set_at("/v1/upload", Fault::json(201, json!({ "stored": true })));
    let small = futures_util::stream::iter((0..2).map(|_| Ok::<_, std::io::Error>(vec![b'z'; 300])));
    let up = api
        .send(
            api.http
                .put(&url)
                .bearer_auth(&api.token)
                .header("content-type", "text/plain")
                .body(reqwest::Body::wrap_stream(small)),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let got = fp.requests().into_iter().rfind(|r| r.path == "/v1/upload").unwrap();
    assert_eq!((got.method.as_str(), got.body.len(), got.header("content-type")), ("PUT", 600, Some("text/plain")));
    fp.set_at("/v1/big", Fault::raw(200, "text/plain", vec![b'b'; 4096]));
    assert_error(&api.invoke(json!({ "connection": LINK, "url": "/v1/big" })).await, 413, "body_too_large");
    // The proxy streams answers of any size.
    assert_eq!(api.proxy("GET", "v1/big").await.body.as_str().map(str::len), Some(4096));

    // Binary answers come back in base64 from invoke.
    fp.set_at("/v1/bin", Fault::raw(200, "application/octet-stream", vec![0xff, 0x00, 0x10]));
    let bin = api.invoke(json!({ "connection": LINK, "url": "/v1/bin" })).await;
    assert_eq!((&bin.body["body"], &bin.body["body_encoding"]), (&json!("/wAQ"), &json!("base64")), "{}", bin.body);

    // invoke sends JSON bodies as JSON, strings as they are, and the query.
    fp.set_at("/v1/echo", Fault::json(200, json!({})));
    let sent = api
        .invoke(
            json!({ "connection": LINK, "method": "post", "url": "/v1/echo", "query": { "a": 1, "b": [true, "x y"] },
                        "headers": { "X-Trace": "t1" }, "body": { "n": 1 } }),
        )
        .await;
    assert_eq!(sent.body["status"], 200, "{}", sent.body);
    let got = fp.last_request().unwrap();
    assert_eq!(
        (got.method.as_str(), got.query.as_deref(), got.body.as_str()),
        ("POST", Some("a=1&b=true&b=x+y"), r#"{"n":1}"#)
    );
    assert_eq!((got.header("content-type"), got.header("x-trace")), (Some("application/json"), Some("t1")));

    // Redirects are answers, not followed: the credential never travels to the new place.
    fp.set_at("/v1/moved", Fault::redirect("https://evil.example/steal"));
    let moved = api.proxy("GET", "v1/moved").await;
    assert_eq!((moved.status, moved.headers["location"].to_str().unwrap()), (302, "https://evil.example/steal"));

    // A service whose API cannot be reached.
    let mut form = faults::service(&fp, "Gone", false);
    form["api_base_urls"] = json!(["http://127.0.0.1:9"]);
    create_service(&client, form).await;
    let r = create_connection(
        &client,
        json!({ "name": "Gone", "link_name": "gone", "service": { "kind": "custom", "id": 2 }, "scopes": ["read"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let gone =
        api.send(api.http.get(format!("{}/api/v1/connections/gone/proxy/x", server.url)).bearer_auth(&api.token)).await;
    assert_error(&gone, 502, "upstream_unreachable");
}

#[tokio::test]
async fn private_addresses_are_refused_without_the_operators_consent() {
    let db = sqlite().await;
    let fp = FaultProvider::start().await;
    // API key: connecting calls nobody, so only the API call meets the guard.
    let server = Server::start_with(&db, &[("LIAISON_ALLOW_HTTP_URLS", "true")]);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    create_service(
        &client,
        json!({ "name": "Local", "auth_type": "api_key", "api_base_urls": [fp.base], "param_type": "header", "header_name": "X-Key" }),
    )
    .await;
    let r = create_connection(
        &client,
        json!({ "name": "Local", "link_name": LINK, "service": { "kind": "custom", "id": 1 }, "api_key": "k-123" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, token) = client.api_token("ssrf").await;
    let refused = Api::new(&server, &token).proxy("GET", "v1/me").await;
    assert_error(&refused, 403, "host_not_allowed");
    assert!(refused.body["message"].as_str().unwrap().contains("127.0.0.1"), "{}", refused.body);
    assert_eq!(fp.requests().len(), 0, "nothing was sent");
}

#[tokio::test]
async fn login_user_connections_use_the_callers_own_grant() {
    let db = sqlite().await;
    let (server, admin, provider) = setup_with(&db, &[]).await;
    let r = create_connection(
        &admin,
        json!({ "name": "Acme API", "link_name": LINK, "service": { "kind": "custom", "id": 1 },
                "scopes": ["openid", "api:read", "offline_access"], "per_user": true }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let authorize = start(&admin, &lifecycle::start_url_of(&r.json(), LINK), "ticket-admin-0123456789").await;
    assert_eq!(land(&admin, &server, &provider.approve_as(&authorize, "alice").await).await.status, 200);

    let bob = lifecycle::member(&db, &server, "bob@acme.example").await;
    let (_, bob_token) = bob.api_token("bob's script").await;
    let bob_api = Api::new(&server, &bob_token);
    let not_yet = bob_api.proxy("GET", "me").await;
    assert_error(&not_yet, 403, "user_not_authorized");
    let url = not_yet.body["authorize_url"].as_str().unwrap();
    assert!(url.starts_with(&server.url) && url.ends_with(&format!("connection={LINK}")), "{url}");
    assert!(not_yet.body["message"].as_str().unwrap().contains(url));

    let authorize = start(&bob, &lifecycle::start_link(&bob, LINK).await, "ticket-bob-0123456789").await;
    assert_eq!(land(&bob, &server, &provider.approve_as(&authorize, "bob").await).await.status, 200);
    assert_eq!(bob_api.proxy("GET", "me").await.body["sub"], "bob");
    let (_, admin_token) = admin.api_token("admin's script").await;
    assert_eq!(Api::new(&server, &admin_token).proxy("GET", "me").await.body["sub"], "alice");
}

/// The API remembers what its calls read (server/src/hot.rs) only while nothing changed:
/// a change made in the database by hand, or through another instance, is seen by the very next
/// call, whichever instance it reaches.
#[tokio::test]
async fn a_change_made_elsewhere_is_seen_by_the_next_call() {
    for db in databases().await {
        let label = db.label();
        let (server, client, provider) = setup_with(&db, &[]).await;
        connected(&server, &client, &provider, "alice").await;
        let (token_id, token) = client.api_token("remembered").await;
        let here = Api::new(&server, &token);
        for _ in 0..3 {
            assert_eq!(here.proxy("GET", "me").await.status, 200, "{label}");
        }

        // By hand in the database (as an operator's SQL or the CLI would).
        exec(&db, &format!("UPDATE connections SET status = 'needs_reauth' WHERE link_name = '{LINK}'")).await;
        assert_error(&here.proxy("GET", "me").await, 409, "needs_reauthorization");
        exec(&db, "UPDATE connections SET status = 'connected'").await;
        assert_eq!(here.proxy("GET", "me").await.status, 200, "{label}");
        exec(&db, "UPDATE users SET role = 'member'").await;
        exec(&db, "UPDATE api_tokens SET revoked_at = 1").await;
        assert_error(&here.proxy("GET", "me").await, 401, "unauthenticated");
        exec(&db, "UPDATE api_tokens SET revoked_at = NULL").await;
        exec(&db, "UPDATE users SET role = 'admin'").await;
        assert_eq!(here.proxy("GET", "me").await.status, 200, "{label}");

        // Through another instance on the same database: it remembers too, then the first one
        // revokes the connection and the token.
        let other = start_liaison(&db);
        let there = Api::new(&other, &token);
        for _ in 0..3 {
            assert_eq!(there.proxy("GET", "me").await.status, 200, "{label}");
        }
        assert_eq!(client.call("revoke_connection", json!({ "link_name": LINK })).await.status, 200);
        assert_error(&there.proxy("GET", "me").await, 409, "connection_revoked");
        assert_error(&there.invoke(json!({ "connection": LINK, "url": "/me" })).await, 409, "connection_revoked");
        assert_eq!(client.call("revoke_api_token", json!({ "id": token_id })).await.status, 200);
        assert_error(&there.proxy("GET", "me").await, 401, "unauthenticated");
        assert_error(&here.proxy("GET", "me").await, 401, "unauthenticated");
    }
}
