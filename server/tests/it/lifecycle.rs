//! Services and connections over HTTP against a real authorization server (oidc-provider): the
//! whole lifecycle, the flow's failure paths, the grants without a popup, internal connections,
//! key rotation, and what ends up in the database file (no secret in plaintext).

use crate::harness::*;
use crate::provider::{self, Provider};
use serde_json::{json, Value};

pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";
pub const CLIENT_SECRET: &str = "client-secret-7f3a9c2e-liaison-tests";

/// A server that may call the local provider (http, loopback), with the admin API on.
pub fn start_open(db: &Db) -> Server {
    Server::with_local_providers(db, &[("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN)])
}

/// The redirect URL a Create New Service form is given as it opens (what the admin registers with
/// the provider before anything is saved); the form carries its key back (`service_form`).
pub async fn reserve_callback(client: &Client) -> String {
    let r = client.call("reserve_callback", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.json()["callback_url"].as_str().unwrap().to_string();
    assert!(url.ends_with(&format!("/oauth/callback/{}", r.json()["key"].as_str().unwrap())), "{url}");
    url
}

/// Liaison signed in as the admin, and the provider with a client whose redirect URI is the one
/// given to the organisation's first Create New Service form.
pub async fn liaison_and_provider(db: &Db) -> (Server, Client, Provider) {
    let server = start_open(db);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    let callback = reserve_callback(&client).await;
    let provider = Provider::start(json!([provider::client("liaison", CLIENT_SECRET, &callback)])).await;
    (server, client, provider)
}

/// A provider whose client redirects to the URL Liaison reserved for the next custom service, and
/// that service (authorization code, its API at the provider's issuer URL); returns the provider
/// and the service's id.
pub async fn api_service_at_provider(client: &Client) -> (Provider, i64) {
    let callback = reserve_callback(client).await;
    let provider = Provider::start(json!([provider::client("liaison", CLIENT_SECRET, &callback)])).await;
    let mut form = service_form(client, &provider, "authorization_code").await;
    form["api_base_urls"] = json!([provider.issuer]);
    let id = create_service(client, form).await;
    (provider, id)
}

/// The custom service form for the provider, pre-filled from its metadata.
pub async fn service_form(client: &Client, provider: &Provider, grant: &str) -> Value {
    let r = client.call("discover_service", json!({ "issuer": provider.issuer })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut form = r.json();
    assert_eq!(form["token_url"], format!("{}/token", provider.issuer));
    assert_eq!(form["pkce"], true, "oidc-provider advertises S256");
    form["name"] = json!("Acme ID");
    // The key registered with the provider, for the first service made with it (the provider's
    // client then redirects there); a later one gets a key of its own.
    let services = client.call("services", json!({})).await.json();
    let registered = provider.callback_key.as_deref().unwrap_or_default();
    let taken = services.as_array().unwrap().iter().any(|s| s["callback_url"].as_str().unwrap().ends_with(registered));
    if !taken {
        form["callback_key"] = json!(registered);
    }
    form["grant_type"] = json!(grant);
    form["client_id"] = json!("liaison");
    form["client_secret"] = json!(CLIENT_SECRET);
    form["scopes"] = json!([
        { "name": "openid", "display": "Sign you in" },
        { "name": "api:read", "display": "Read the API" },
        { "name": "api:write", "display": "Change things" },
        { "name": "offline_access", "display": "Stay connected" },
    ]);
    form
}

pub async fn create_service(client: &Client, form: Value) -> i64 {
    let r = client.call("create_service", json!({ "form": form })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_i64().unwrap()
}

pub async fn create_connection(client: &Client, form: Value) -> Reply {
    client.call("create_connection", json!({ "form": form })).await
}

/// Sets Liaison up (first admin) and makes `keyed`: an API-key connection whose service is at
/// `api_base` (header `X-Key: <api_key>`); returns an API token of the admin's named `token_name`.
/// A custom OAuth service the tests never reach ("Zephyr Identity", authorisation code, one
/// `read` scope) with `client_secret`.
pub fn zephyr_identity(client_secret: &str) -> Value {
    json!({ "name": "Zephyr Identity", "auth_type": "oauth2", "grant_type": "authorization_code",
            "client_id": "zephyr-client", "client_secret": client_secret,
            "authorize_url": "https://id.zephyr.example/authorize", "token_url": "https://id.zephyr.example/token",
            "api_base_urls": ["https://api.zephyr.example"], "scopes": [{ "name": "read", "display": "Read" }] })
}

pub async fn keyed_connection(client: &Client, api_base: &str, api_key: &str, token_name: &str) -> String {
    assert_eq!(setup(client).await.status, 200);
    let service = json!({ "name": "Keyed", "auth_type": "api_key", "api_base_urls": [api_base], "param_type": "header", "header_name": "X-Key" });
    create_service(client, service).await;
    let form = json!({ "name": "Keyed", "service": { "kind": "custom", "id": 1 }, "api_key": api_key });
    let r = create_connection(client, form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = client.call("create_api_token", json!({ "name": token_name })).await;
    r.json()["token"].as_str().unwrap_or_else(|| panic!("no token: {}", r.body)).to_string()
}

pub async fn details(client: &Client, link: &str) -> Value {
    let r = client.call("connection", json!({ "link_name": link })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The one-time start URL an answer of `create_connection` (`[link, outcome]`) or `connect`
/// names for `link`.
pub fn start_url_of(answer: &Value, link: &str) -> String {
    let outcome = if answer.is_array() { &answer[1] } else { answer };
    assert_eq!(outcome["next"], "authorize", "{answer}");
    let url = outcome["start_url"].as_str().unwrap_or_default().to_string();
    assert!(url.starts_with(&format!("/oauth/start/{link}?n=")), "{answer}");
    url
}

/// Connect (or Enable) as the button does: a fresh one-time start URL for this browser session.
pub async fn start_link(client: &Client, link: &str) -> String {
    let r = client.call("connect", json!({ "link_name": link, "form": {} })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    start_url_of(&r.json(), link)
}

/// Opens the start URL as the popup would (the page adds its ticket) and returns the provider's
/// authorise URL.
pub async fn start(client: &Client, start_url: &str, ticket: &str) -> String {
    let sep = if start_url.contains('?') { '&' } else { '?' };
    let r = client.open(&format!("{start_url}{sep}ticket={ticket}")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.headers["location"].to_str().unwrap().to_string()
}

/// Follows the provider's redirect back to Liaison's callback in the same browser.
pub async fn land(client: &Client, server: &Server, callback: &str) -> Reply {
    let path = callback.strip_prefix(&server.url).unwrap_or_else(|| panic!("callback elsewhere: {callback}"));
    client.open(path).await
}

async fn status(client: &Client, ticket: &str) -> Value {
    let r = client.call("authorisation_status", json!({ "ticket": ticket })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// A direct connection to the server's database, as an operator would open it.
pub async fn connect(db: &Db) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let url = match &db.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", db.data_dir.path().join("liaison.db").display()),
    };
    <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap()
}

pub async fn sqlite_rows(db: &Db, sql: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::query(sql).fetch_all(&mut connect(db).await).await.unwrap()
}

pub async fn exec(db: &Db, sql: &str) {
    sqlx::query(sql).execute(&mut connect(db).await).await.unwrap();
}

/// Opens the sealed tokens of the connection's shared grant with the key file, as only Liaison can.
async fn tokens_in_db(db: &Db) -> Vec<String> {
    use sqlx::Row;
    let ring = server::vault::KeyRing::parse(&std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap())
        .unwrap();
    let mut out = Vec::new();
    for r in sqlite_rows(db, "SELECT id, access_token, refresh_token FROM grants").await {
        let id: i64 = r.get("id");
        for column in ["access_token", "refresh_token"] {
            if let Some(sealed) = r.get::<Option<String>, _>(column) {
                let slot = server::vault::SecretColumn::named("grants", column).unwrap().at(id);
                out.push(ring.open(slot, &sealed).unwrap().expose().to_string());
            }
        }
    }
    out
}

fn count(counts: &Value, route: &[&str]) -> i64 {
    let mut v = counts;
    for key in route {
        v = &v[*key];
    }
    v.as_i64().unwrap_or(0)
}

#[tokio::test]
async fn the_whole_lifecycle_against_a_real_provider() {
    for db in databases().await {
        let label = db.label();
        let (server, client, provider) = liaison_and_provider(&db).await;
        let id = create_service(&client, service_form(&client, &provider, "authorization_code").await).await;
        assert_eq!(id, 1);
        let view = client.call("custom_service", json!({ "id": id })).await.json();
        let callback_url = format!("{}/oauth/callback/{}", server.url, provider.callback_key.as_deref().unwrap());
        assert_eq!(view["callback_url"], callback_url, "{label}: the service took the key its form was given");
        assert_eq!(view["client_secret_set"], true);
        assert!(!view.to_string().contains(CLIENT_SECRET), "the secret never comes back");

        // Create and Connect: the answer names Liaison's own start URL.
        let r = create_connection(
            &client,
            json!({ "name": "Acme CRM", "service": { "kind": "custom", "id": id },
                    "scopes": ["openid", "api:read", "offline_access"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()[0], "acme_crm");
        let url = start_url_of(&r.json(), "acme_crm");
        assert_eq!(details(&client, "acme_crm").await["row"]["status"], "not_connected");

        let ticket = "ticket-0123456789abcdef";
        // Asked before the popup reaches /oauth/start: still waiting, not an error.
        assert_eq!(status(&client, ticket).await, json!({ "state": "pending" }));
        let authorize = start(&client, &url, ticket).await;
        let q = provider::query(&authorize);
        assert!(authorize.starts_with(&format!("{}/auth?", provider.issuer)), "{authorize}");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["scope"], "openid api:read offline_access");
        assert_eq!(q["redirect_uri"], callback_url);
        assert_eq!(status(&client, ticket).await, json!({ "state": "pending" }));

        let callback = provider.approve(&authorize).await;
        let page = land(&client, &server, &callback).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Connected") && page.body.contains("postMessage"), "{}", page.body);
        assert_eq!(status(&client, ticket).await, json!({ "state": "connected", "link_name": "acme_crm" }));
        // Another session, of a member of the same organisation, reads nothing of it.
        let bob = member(&db, &server, "bob@acme.example").await;
        assert_eq!(status(&bob, ticket).await, json!({ "state": "pending" }), "{label}");
        // The same answer again: refused, nothing changes.
        let replay = land(&client, &server, &callback).await;
        assert_eq!(replay.status, 400);
        assert!(
            replay.body.contains("already used") || replay.body.contains("unknown or already finished"),
            "{}",
            replay.body
        );

        let d = details(&client, "acme_crm").await;
        assert_eq!(d["row"]["status"], "connected", "{label}");
        assert_eq!(d["grant"]["authorised_by"], ADMIN_EMAIL);
        assert_eq!(d["grant"]["has_refresh_token"], true);
        assert!(d["grant"]["expires_at"].as_i64().unwrap() > d["grant"]["authorised_at"].as_i64().unwrap());
        assert_eq!(d["scopes"][1], json!({ "name": "api:read", "display": "Read the API" }));
        let tokens = tokens_in_db(&db).await;
        assert_eq!(tokens.len(), 2, "access and refresh token sealed");
        for t in &tokens {
            assert!(!d.to_string().contains(t.as_str()), "no token in a view");
        }
        // The access token is a real one: the provider's userinfo accepts it.
        let me = reqwest::Client::new().get(provider.url("/me")).bearer_auth(&tokens[0]).send().await.unwrap();
        assert_eq!(me.status(), 200);
        assert_eq!(count(&provider.counts().await, &["token", "authorization_code", "ok"]), 1);

        // Edit: new scopes need a new authorisation.
        let r = client
            .call(
                "update_connection",
                json!({ "link_name": "acme_crm", "name": "Acme CRM (EU)", "scopes": ["openid", "api:write"] }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let d = details(&client, "acme_crm").await;
        assert_eq!(
            (d["row"]["status"].as_str(), d["row"]["name"].as_str()),
            (Some("needs_reauth"), Some("Acme CRM (EU)"))
        );

        // Revoke: at the provider, then erased here.
        let r = client.call("revoke_connection", json!({ "link_name": "acme_crm" })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(count(&provider.counts().await, &["revocation", "ok"]), 1, "{}", provider.counts().await);
        let d = details(&client, "acme_crm").await;
        assert_eq!(d["row"]["status"], "revoked");
        assert_eq!(d["grant"], Value::Null);
        assert!(tokens_in_db(&db).await.is_empty());

        // Enable: the popup again, with the edited scopes.
        let url = start_link(&client, "acme_crm").await;
        let authorize = start(&client, &url, "ticket-second-0123456789").await;
        assert_eq!(provider::query(&authorize)["scope"], "openid api:write");
        let callback = provider.approve(&authorize).await;
        assert_eq!(land(&client, &server, &callback).await.status, 200);
        assert_eq!(details(&client, "acme_crm").await["row"]["status"], "connected");

        // Delete: revoked at the provider, then gone.
        let r = client.call("delete_connection", json!({ "link_name": "acme_crm" })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(count(&provider.counts().await, &["revocation", "ok"]), 2);
        let r = client.call("connection", json!({ "link_name": "acme_crm" })).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (404, Some("not_found")));
        let list = client.call("connections", json!({ "query": {} })).await.json();
        assert_eq!(list["total"], 0);

        // The audit log tells the story, without a secret.
        use sqlx::Row;
        let audit: Vec<String> = sqlite_rows(&db, "SELECT action, actor, target, detail FROM audit_log ORDER BY id")
            .await
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {:?}",
                    r.get::<String, _>("action"),
                    r.get::<String, _>("actor"),
                    r.get::<String, _>("target"),
                    r.get::<Option<String>, _>("detail")
                )
            })
            .collect();
        let actions: Vec<&str> = audit.iter().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(
            actions,
            [
                "service.create",
                "connection.create",
                "connection.authorise",
                "connection.edit",
                "connection.revoke",
                "connection.authorise",
                "connection.delete"
            ],
            "{label}"
        );
        let text = audit.join("\n");
        for secret in tokens.iter().map(String::as_str).chain([CLIENT_SECRET]) {
            assert!(!text.contains(secret));
            assert!(!server.log().contains(secret), "{label}: a secret in the log");
        }
        drop(server);
        if db.database_url.is_none() {
            assert_no_plaintext(&db, &tokens).await;
        }
    }
}

/// None of the secrets appears in the SQLite files (database and WAL).
async fn assert_no_plaintext(db: &Db, secrets: &[String]) {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(db.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("liaison.db") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(bytes.len() > 4096, "the database files were read");
    for secret in secrets.iter().map(String::as_str).chain([CLIENT_SECRET]) {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "plaintext secret in the database file");
    }
}

#[tokio::test]
async fn a_failed_or_forged_authorisation_saves_nothing() {
    let db = sqlite().await;
    let (server, client, provider) = liaison_and_provider(&db).await;
    let id = create_service(&client, service_form(&client, &provider, "authorization_code").await).await;
    let r = create_connection(
        &client,
        json!({ "name": "CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The person declines: access_denied, in words; the connection stays Not connected.
    let ticket = "deny-0123456789abcdef";
    let authorize = start(&client, &start_url_of(&r.json(), "crm"), ticket).await;
    let back = provider.deny(&authorize).await;
    let page = land(&client, &server, &back).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Access was not granted"), "{}", page.body);
    let s = status(&client, ticket).await;
    assert_eq!((s["state"].as_str(), s["code"].as_str()), (Some("failed"), Some("access_denied")));
    assert_eq!(details(&client, "crm").await["row"]["status"], "not_connected");

    // An answer from another browser session is refused, and the flow stays usable.
    let authorize = start(&client, &start_link(&client, "crm").await, "other-0123456789abcdef").await;
    let callback = provider.approve(&authorize).await;
    let stranger = server.client();
    let r = land(&stranger, &server, &callback).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("another browser session"), "{}", r.body);
    // A forged state, and a missing one.
    let forged = callback.replace("state=", "state=x");
    assert!(land(&client, &server, &forged).await.body.contains("unknown or already finished"));
    let key = provider.callback_key.clone().unwrap();
    let r = client.open(&format!("/oauth/callback/{key}?code=abc")).await;
    assert!(r.body.contains("has no state"), "{}", r.body);
    // The answer on another service's callback path (mix-up) is refused and burns the flow.
    let mixed = callback.replace(&format!("/oauth/callback/{key}"), "/oauth/callback/p-github");
    let r = land(&client, &server, &mixed).await;
    assert!(r.body.contains("different service"), "{}", r.body);
    assert!(land(&client, &server, &callback).await.body.contains("already used"));
    assert_eq!(details(&client, "crm").await["row"]["status"], "not_connected");

    // An expired flow: ten minutes are over (moved in the database, no sleeping).
    let authorize = start(&client, &start_link(&client, "crm").await, "late-0123456789abcdef").await;
    let callback = provider.approve(&authorize).await;
    exec(&db, "UPDATE oauth_flows SET expires_at = 0 WHERE ticket = 'late-0123456789abcdef'").await;
    let r = land(&client, &server, &callback).await;
    assert!(r.body.contains("expired"), "{}", r.body);
    assert_eq!(details(&client, "crm").await["row"]["status"], "not_connected");
    assert!(tokens_in_db(&db).await.is_empty(), "nothing half-saved");
    assert_eq!(count(&provider.counts().await, &["token", "authorization_code", "total"]), 0);

    // A start from another site is refused; one without a session goes to sign-in.
    let r = client.send_get_with("/oauth/start/crm", &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(r.status, 403);
    let r = server.client().open("/oauth/start/crm").await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/login"));
}

#[tokio::test]
async fn client_credentials_api_key_and_basic_connect_without_a_popup() {
    let db = sqlite().await;
    let (_server, client, provider) = liaison_and_provider(&db).await;
    let id = create_service(&client, service_form(&client, &provider, "client_credentials").await).await;
    let r = create_connection(
        &client,
        json!({ "name": "Machine", "service": { "kind": "custom", "id": id }, "scopes": ["api:read"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[1], json!({ "next": "connected" }));
    assert_eq!(details(&client, "machine").await["row"]["status"], "connected");
    assert_eq!(count(&provider.counts().await, &["token", "client_credentials", "ok"]), 1);

    // A wrong client secret: the provider's invalid_client, in words; status Error with the reason.
    let mut form = service_form(&client, &provider, "client_credentials").await;
    form["name"] = json!("Wrong secret");
    form["client_secret"] = json!("not-the-secret");
    let bad = create_service(&client, form).await;
    let r = create_connection(&client, json!({ "name": "Broken", "service": { "kind": "custom", "id": bad } })).await;
    assert_eq!(r.status, 502, "{}", r.body);
    let e = r.json();
    assert_eq!(e["code"], "provider_error");
    assert!(
        e["message"].as_str().unwrap().contains("invalid_client")
            && e["message"].as_str().unwrap().contains("Check the client ID and secret"),
        "{e}"
    );
    assert!(!r.body.contains("not-the-secret"));
    let d = details(&client, "broken").await;
    assert_eq!(d["row"]["status"], "error");

    // API key and Basic services.
    let api = json!({ "name": "Weather", "auth_type": "api_key", "api_base_urls": ["https://api.weather.example"],
                      "param_type": "query", "query_param": "appid" });
    let api_id = create_service(&client, api).await;
    let r =
        create_connection(&client, json!({ "name": "Weather", "service": { "kind": "custom", "id": api_id } })).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["fields"], json!([{ "field": "api_key", "message": "Enter the API key." }]));
    let list = client.call("connections", json!({ "query": {} })).await.json();
    assert_eq!(list["total"], 2, "nothing saved by the refused form: {list}");
    let r = create_connection(
        &client,
        json!({ "name": "Weather", "service": { "kind": "custom", "id": api_id }, "api_key": "key-8c1d-weather" }),
    )
    .await;
    assert_eq!(r.json()[1], json!({ "next": "connected" }));
    let basic = json!({ "name": "Legacy", "auth_type": "basic", "api_base_urls": ["https://legacy.example/api"] });
    let basic_id = create_service(&client, basic).await;
    let r = create_connection(&client, json!({ "name": "Legacy", "service": { "kind": "custom", "id": basic_id }, "username": "ops", "password": "pw-legacy-2b7e" })).await;
    assert_eq!(r.json()[1], json!({ "next": "connected" }), "{}", r.body);
    // Link names are unique in the organisation.
    let r = create_connection(
        &client,
        json!({ "name": "Weather", "service": { "kind": "custom", "id": api_id }, "api_key": "k" }),
    )
    .await;
    assert_eq!(r.json()["fields"][0]["field"], "link_name");
    // A service in use cannot be deleted.
    let r = client.call("delete_service", json!({ "id": api_id })).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (409, Some("conflict")));
    let secrets = tokens_in_db(&db).await;
    assert!(secrets.contains(&"key-8c1d-weather".to_string()) && secrets.contains(&"pw-legacy-2b7e".to_string()));
}

#[tokio::test]
async fn outbound_calls_to_private_addresses_are_refused_unless_allowed() {
    let db = sqlite().await;
    let server = Server::start_with(&db, &[("LIAISON_ALLOW_HTTP_URLS", "true")]);
    let client = server.client();
    setup(&client).await;
    let provider = Provider::start(json!([provider::client("liaison", CLIENT_SECRET, "http://127.0.0.1:9/cb")])).await;
    let form = json!({ "name": "Local", "auth_type": "oauth2", "grant_type": "client_credentials", "client_id": "liaison",
                       "client_secret": CLIENT_SECRET, "token_url": format!("{}/token", provider.issuer),
                       "api_base_urls": [provider.issuer] });
    let id = create_service(&client, form).await;
    let r = create_connection(&client, json!({ "name": "Local", "service": { "kind": "custom", "id": id } })).await;
    let e = r.json();
    assert_eq!((r.status, e["code"].as_str()), (502, Some("host_not_allowed")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("allow_private_network"), "{e}");
    assert_eq!(count(&provider.counts().await, &["token", "client_credentials", "total"]), 0, "never reached");
}

#[tokio::test]
async fn custom_service_rules_admins_only_and_nothing_half_saved() {
    let db = sqlite().await;
    let server = start_open(&db);
    let client = server.client();
    setup(&client).await;
    let bad = json!({ "name": "", "auth_type": "oauth2", "grant_type": "authorization_code",
                      "authorize_url": "ftp://x", "token_url": "https://u:p@x.example/token",
                      "api_base_urls": [], "extra_authorize_params": [["state", "x"]] });
    let r = client.call("create_service", json!({ "form": bad })).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (422, Some("validation")));
    let fields: Vec<(String, String)> = r.json()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
        .collect();
    let expect = [
        ("name", "Enter the service's name."),
        ("authorize_url", "Enter a full URL starting with https://."),
        ("token_url", "A URL here cannot contain a user name or password."),
        ("api_base_urls", "Enter at least one API base URL: Liaison sends the credential only there."),
        ("client_id", "Enter the client ID of the OAuth client you registered with the provider."),
        ("extra_authorize_params", "state is set by Liaison itself and cannot be overridden."),
    ];
    for (field, message) in expect {
        assert!(fields.contains(&(field.to_string(), message.to_string())), "{field}: {fields:?}");
    }
    let services = client.call("services", json!({})).await.json();
    assert!(services.as_array().unwrap().len() >= 40, "the catalogue is offered");
    assert!(
        services.as_array().unwrap().iter().all(|s| s["service"]["kind"] == "predefined"),
        "no custom service saved"
    );
    // Same name twice.
    let ok = json!({ "name": "Weather", "auth_type": "api_key", "api_base_urls": ["https://api.weather.example"] });
    create_service(&client, ok.clone()).await;
    let r = client.call("create_service", json!({ "form": ok })).await;
    assert_eq!(
        r.json()["fields"][0],
        json!({ "field": "name", "message": "Your organisation already has a service with this name." })
    );
    // Signed out: no access.
    let r = server.client().call("services", json!({})).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (401, Some("unauthenticated")));
}

#[tokio::test]
async fn internal_connections_belong_to_the_admin_api() {
    let db = sqlite().await;
    let server = start_open(&db);
    let client = server.client();
    setup(&client).await;
    let api = json!({ "name": "Mailer", "auth_type": "api_key", "api_base_urls": ["https://api.mailer.example"] });
    let id = create_service(&client, api).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/admin/v1/organisations/1/connections", server.url);
    let body =
        json!({ "name": "Mailer (system)", "service": { "kind": "custom", "id": id }, "api_key": "mailer-key-51f0" });
    let r = http.post(&url).bearer_auth("wrong-token-wrong-token-wrong-token").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.post(&url).bearer_auth(ADMIN_TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let listed: Value = http.get(&url).bearer_auth(ADMIN_TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["link_name"], "mailer_system");

    // Listed apart, and nobody can edit, revoke or delete it from the UI.
    let mine = client.call("connections", json!({ "query": {} })).await.json();
    assert_eq!(mine["total"], 0);
    let internal = client.call("connections", json!({ "query": { "internal": true } })).await.json();
    assert_eq!(internal["rows"][0]["can_manage"], false);
    assert_eq!(internal["rows"][0]["status"], "connected");
    for (name, body) in [
        ("update_connection", json!({ "link_name": "mailer_system", "name": "x", "scopes": [] })),
        ("revoke_connection", json!({ "link_name": "mailer_system" })),
        ("delete_connection", json!({ "link_name": "mailer_system" })),
    ] {
        let r = client.call(name, body).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (403, Some("forbidden")), "{name}");
        assert!(r.json()["message"].as_str().unwrap().contains("internal connection"));
    }
    let r = http.delete(format!("{url}/mailer_system")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let internal = client.call("connections", json!({ "query": { "internal": true } })).await.json();
    assert_eq!(internal["total"], 0);
    // Without an admin token configured, the admin API is off.
    let off = Server::start(&sqlite().await);
    let r = http
        .get(format!("{}/api/admin/v1/organisations/1/connections", off.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn keys_rotate_reseals_every_secret_and_connections_keep_working() {
    let db = sqlite().await;
    let (server, client, provider) = liaison_and_provider(&db).await;
    let id = create_service(&client, service_form(&client, &provider, "authorization_code").await).await;
    let r = create_connection(
        &client,
        json!({ "name": "CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid"] }),
    )
    .await;
    let authorize = start(&client, &start_url_of(&r.json(), "crm"), "rotate-0123456789abcdef").await;
    let callback = provider.approve(&authorize).await;
    assert_eq!(land(&client, &server, &callback).await.status, 200);
    let before = tokens_in_db(&db).await;
    let old_key = std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap();
    let cookie = client.cookie.lock().unwrap().clone();
    drop(server);

    let out = db.command().args(["keys", "rotate"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("3 secret(s) re-sealed"),
        "the client secret and 2 tokens (the spent flow kept no verifier): {stdout}"
    );
    assert!(stdout.contains("retired key(s)"), "{stdout}");
    let new_key = std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap();
    assert_ne!(old_key, new_key);
    assert_eq!(new_key.lines().filter(|l| !l.starts_with('#')).count(), 1, "the old key is retired");
    assert_eq!(tokens_in_db(&db).await, before, "same secrets under the new key");
    // A second run has nothing to re-seal... beyond making the next key: it always rotates anew.
    let server = start_open(&db);
    let client = server.client();
    *client.cookie.lock().unwrap() = cookie;
    assert_eq!(details(&client, "crm").await["row"]["status"], "connected");
    let r = client.call("revoke_connection", json!({ "link_name": "crm" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        count(&provider.counts().await, &["revocation", "ok"]),
        1,
        "the re-sealed token still works at the provider"
    );
}

pub const MEMBER_PASSWORD: &str = "a member's long password";

/// Adds a member to Acme with the command line (`liaison admin create --role member`) and signs
/// them in with a browser of their own.
pub async fn member(db: &Db, server: &Server, email: &str) -> Client {
    let file = db.data_dir.path().join(format!("{email}.password"));
    std::fs::write(&file, format!("{MEMBER_PASSWORD}\n")).unwrap();
    let out = db
        .command()
        .args(["admin", "create", "--email", email, "--name", "Bob Member", "--org", "Acme", "--role", "member"])
        .args(["--password-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let client = server.client();
    let r = client.rpc("sign_in", &[("email", email), ("password", MEMBER_PASSWORD)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me = client.me().await;
    assert_eq!((me["role"].as_str(), me["org_name"].as_str()), (Some("member"), Some("Acme")));
    client
}

/// The access token of every grant, by the email of the person it belongs to (user_key 0, the
/// shared grant, as "shared").
async fn access_tokens_by_person(db: &Db) -> std::collections::BTreeMap<String, String> {
    use sqlx::Row;
    let ring = server::vault::KeyRing::parse(&std::fs::read_to_string(db.data_dir.path().join("master.key")).unwrap())
        .unwrap();
    let sql = "SELECT g.id, g.access_token, u.email FROM grants g LEFT JOIN users u ON u.id = g.user_key";
    let mut out = std::collections::BTreeMap::new();
    for r in sqlite_rows(db, sql).await {
        let id: i64 = r.get("id");
        let sealed: String = r.get("access_token");
        let slot = server::vault::SecretColumn::GrantAccessToken.at(id);
        let who = r.get::<Option<String>, _>("email").unwrap_or_else(|| "shared".into());
        out.insert(who, ring.open(slot, &sealed).unwrap().expose().to_string());
    }
    out
}

#[tokio::test]
async fn login_user_connections_keep_one_grant_per_person() {
    const BOB: &str = "bob@acme.example";
    for db in databases().await {
        let label = db.label();
        let (server, admin, provider) = liaison_and_provider(&db).await;
        let bob = member(&db, &server, BOB).await;
        let id = create_service(&admin, service_form(&admin, &provider, "authorization_code").await).await;
        let r = create_connection(
            &admin,
            json!({ "name": "Team CRM", "service": { "kind": "custom", "id": id },
                    "scopes": ["openid", "api:read"], "per_user": true }),
        )
        .await;
        assert_eq!(r.json()[0], "team_crm");

        // The admin authorises as alice at the provider.
        let authorize = start(&admin, &start_url_of(&r.json(), "team_crm"), "admin-0123456789abcdef").await;
        let callback = provider.approve_as(&authorize, "alice").await;
        assert_eq!(land(&admin, &server, &callback).await.status, 200, "{label}");
        let d = details(&admin, "team_crm").await;
        assert_eq!((d["row"]["per_user"].as_bool(), d["row"]["status"].as_str()), (Some(true), Some("connected")));
        assert_eq!((d["grant"]["authorised_by"].as_str(), d["user_grants"].as_i64()), (Some(ADMIN_EMAIL), Some(1)));

        // The member sees the connection, but no grant of their own, and may not manage it.
        let d = details(&bob, "team_crm").await;
        assert_eq!(d["row"]["status"], "connected", "{label}");
        assert_eq!((&d["grant"], d["user_grants"].as_i64()), (&Value::Null, Some(1)), "{label}: {d}");
        assert_eq!(d["row"]["can_manage"], false);
        for (name, body) in [
            ("update_connection", json!({ "link_name": "team_crm", "name": "Mine now", "scopes": ["openid"] })),
            ("revoke_connection", json!({ "link_name": "team_crm" })),
            ("delete_connection", json!({ "link_name": "team_crm" })),
        ] {
            let r = bob.call(name, body).await;
            assert_eq!((r.status, r.json()["code"].as_str()), (403, Some("forbidden")), "{label} {name}");
            assert_eq!(r.json()["message"], "Only the person who created this connection and admins can change it.");
        }
        assert_eq!(details(&admin, "team_crm").await["row"]["name"], "Team CRM", "{label}: nothing changed");

        // But they can connect their own grant. Declining first changes nobody's grant.
        let url = start_link(&bob, "team_crm").await;
        let authorize = start(&bob, &url, "bob-deny-0123456789abcdef").await;
        assert_eq!(land(&bob, &server, &provider.deny(&authorize).await).await.status, 400);
        let d = details(&admin, "team_crm").await;
        assert_eq!((d["row"]["status"].as_str(), d["user_grants"].as_i64()), (Some("connected"), Some(1)), "{label}");

        let ticket = "bob-0123456789abcdef";
        let authorize = start(&bob, &start_link(&bob, "team_crm").await, ticket).await;
        // The flow is bound to the member's own grant.
        use sqlx::Row;
        let flow = &sqlite_rows(&db, &format!("SELECT f.user_key, u.email FROM oauth_flows f JOIN users u ON u.id = f.user_id WHERE f.ticket = '{ticket}'")).await[0];
        let bob_id: i64 = sqlite_rows(&db, &format!("SELECT id FROM users WHERE email = '{BOB}'")).await[0].get("id");
        assert_eq!((flow.get::<i64, _>("user_key"), flow.get::<String, _>("email")), (bob_id, BOB.to_string()));
        let callback = provider.approve_as(&authorize, "bob").await;
        // The answer belongs to the member's browser session: the admin's is refused.
        assert_eq!(land(&admin, &server, &callback).await.status, 400, "{label}");
        assert_eq!(land(&bob, &server, &callback).await.status, 200, "{label}");
        assert_eq!(status(&bob, ticket).await, json!({ "state": "connected", "link_name": "team_crm" }));

        let mine = details(&bob, "team_crm").await;
        assert_eq!((mine["grant"]["authorised_by"].as_str(), mine["user_grants"].as_i64()), (Some(BOB), Some(2)));
        let theirs = details(&admin, "team_crm").await;
        assert_eq!(
            (theirs["grant"]["authorised_by"].as_str(), theirs["user_grants"].as_i64()),
            (Some(ADMIN_EMAIL), Some(2))
        );

        // Two grants, two different tokens, each its person's own at the provider; no shared one.
        let tokens = access_tokens_by_person(&db).await;
        assert_eq!(tokens.keys().collect::<Vec<_>>(), [ADMIN_EMAIL, BOB], "{label}");
        assert_ne!(tokens[ADMIN_EMAIL], tokens[BOB]);
        let http = reqwest::Client::new();
        for (email, sub) in [(ADMIN_EMAIL, "alice"), (BOB, "bob")] {
            let me: Value =
                http.get(provider.url("/me")).bearer_auth(&tokens[email]).send().await.unwrap().json().await.unwrap();
            assert_eq!(me["sub"], sub, "{label}: {email}'s token");
        }

        // The admin revokes: both grants revoked at the provider and erased here.
        let r = admin.call("revoke_connection", json!({ "link_name": "team_crm" })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(count(&provider.counts().await, &["revocation", "ok"]), 2, "{label}");
        assert!(access_tokens_by_person(&db).await.is_empty(), "{label}");
        for client in [&admin, &bob] {
            let d = details(client, "team_crm").await;
            assert_eq!((d["row"]["status"].as_str(), &d["grant"]), (Some("revoked"), &Value::Null), "{label}");
            assert_eq!(d["user_grants"], 0);
        }
        for email in [ADMIN_EMAIL, BOB] {
            let me = http.get(provider.url("/me")).bearer_auth(&tokens[email]).send().await.unwrap();
            assert_eq!(me.status(), 401, "{label}: {email}'s token is dead at the provider");
        }

        // A shared connection is the admin's alone to authorise: the member cannot start it.
        create_connection(&admin, json!({ "name": "Shared", "service": { "kind": "custom", "id": id } })).await;
        let r = bob.open("/oauth/start/shared?ticket=bob-shared-0123456789").await;
        assert_eq!(r.status, 403, "{label}: {}", r.body);
        assert!(r.body.contains("Only the person who created this connection and admins can authorise it."));
        let r = bob.call("connect", json!({ "link_name": "shared", "form": {} })).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (403, Some("forbidden")), "{label}");
    }
}
