//! The providers' quirks against the fault provider, each as a service's settings make Liaison
//! meet it (the quirk adapter, `credentials/token/adapter.rs`): client authentication in the body,
//! a JSON token request, extra token parameters, an error inside an HTTP 200, a token at a nested
//! path, `expires_in` as a string, a form-encoded answer and the scope delimiters; then every
//! service of the shipped catalogue with its own settings.

use crate::faults::{self, Fault, FaultProvider, REVOKE, TOKEN};
use crate::harness::*;
use crate::lifecycle::{create_connection, create_service, details, exec, land, start, start_url_of};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The API path of the fault provider a proxied call reaches.
const ME: &str = "/v1/me";

/// Liaison, set up and signed in, with an API token for the proxy.
async fn liaison(db: &Db) -> (Server, Client, String) {
    let server = Server::with_local_providers(db, &[("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "2")]);
    let client = server.client();
    assert_eq!(setup(&client).await.status, 200);
    let (_, token) = client.api_token("quirks").await;
    (server, client, token)
}

/// A client-credentials service at the fault provider with the scopes `read` and `write`, its
/// settings changed by `quirks`; its id.
async fn quirky_service(client: &Client, fp: &FaultProvider, name: &str, quirks: Value) -> i64 {
    let mut form = faults::service(fp, name, false);
    form["scopes"] = json!([{ "name": "read", "display": "Read" }, { "name": "write", "display": "Write" }]);
    for (k, v) in quirks.as_object().unwrap() {
        form[k] = v.clone();
    }
    create_service(client, form).await
}

/// Connects `link` to service `id` with the fault provider answering `answer`: Liaison's reply and
/// the token request the provider received.
async fn connect(client: &Client, fp: &FaultProvider, link: &str, id: i64, answer: Fault) -> (Reply, faults::Received) {
    fp.set(answer);
    let form = json!({ "name": link, "link_name": link, "service": { "kind": "custom", "id": id }, "scopes": ["read", "write"] });
    let r = create_connection(client, form).await;
    let sent = fp.requests().into_iter().rev().find(|r| r.path == TOKEN).unwrap();
    (r, sent)
}

fn connected(r: &Reply) -> bool {
    r.status == 200 && r.json()[1] == json!({ "next": "connected" })
}

/// The credential a proxied call on `link` carries to the provider's API.
async fn credential_sent(server: &Server, api_token: &str, fp: &FaultProvider, link: &str) -> String {
    fp.set_at(ME, Fault::json(200, json!({ "me": "ok" })));
    let url = format!("{}/api/v1/connections/{link}/proxy{ME}", server.url);
    let res = reqwest::Client::new().get(url).bearer_auth(api_token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "{link}: {}", res.text().await.unwrap());
    let sent = fp.requests().into_iter().rev().find(|r| r.path == ME).unwrap();
    sent.header("authorization").unwrap().to_string()
}

/// The body of a request, form or JSON, as text pairs.
fn params(r: &faults::Received) -> BTreeMap<String, String> {
    if r.header("content-type") == Some("application/json") {
        let object: BTreeMap<String, Value> = serde_json::from_str(&r.body).unwrap();
        object.into_iter().map(|(k, v)| (k, v.as_str().unwrap().to_string())).collect()
    } else {
        r.form()
    }
}

#[tokio::test]
async fn each_quirk_is_met_as_the_services_settings_say() {
    let fp = FaultProvider::start().await;
    for db in databases().await {
        let label = db.label();
        let (server, client, api_token) = liaison(&db).await;
        let tokens = |t: &str| Fault::tokens(t);

        // Client authentication in the body (the fault provider's default service sends it in a
        // header: see faults.rs).
        let id = quirky_service(&client, &fp, "Body auth", json!({ "client_auth": "body" })).await;
        let (r, sent) = connect(&client, &fp, "body_auth", id, tokens("at-body")).await;
        assert!(connected(&r), "{label}: {}", r.body);
        assert_eq!(sent.header("authorization"), None, "{label}");
        let form = sent.form();
        assert_eq!(
            (form["client_id"].as_str(), form["client_secret"].as_str()),
            ("liaison-faults", faults::CLIENT_SECRET)
        );

        // A JSON token request, with extra token parameters (the form refuses one Liaison sets).
        let quirks = json!({ "token_request": "json", "extra_token_params": [["audience", "api://x"], ["resource", "https://api.x"]] });
        let id = quirky_service(&client, &fp, "Json", quirks).await;
        let (r, sent) = connect(&client, &fp, "json", id, tokens("at-json")).await;
        assert!(connected(&r), "{label}: {}", r.body);
        assert_eq!(sent.header("content-type"), Some("application/json"), "{label}");
        let body: Value = serde_json::from_str(&sent.body).unwrap();
        assert_eq!(
            body,
            json!({ "grant_type": "client_credentials", "scope": "read write", "audience": "api://x", "resource": "https://api.x" })
        );
        assert!(sent.basic_auth().is_some(), "{label}: the secret still in the header");
        // The revocation is encoded the same way, without the extra parameters.
        let r = client.call("revoke_connection", json!({ "link_name": "json" })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let revoked = fp.last_request().unwrap();
        assert_eq!((revoked.path.as_str(), revoked.header("content-type")), (REVOKE, Some("application/json")));
        let body: Value = serde_json::from_str(&revoked.body).unwrap();
        assert_eq!(body, json!({ "token": "at-json", "token_type_hint": "access_token" }), "{label}");

        // An error inside an HTTP 200 beside a token: refused only for a service flagged so.
        let odd = || Fault::json(200, json!({ "access_token": "at-odd", "error": "invalid_scope" }));
        let lenient = quirky_service(&client, &fp, "Lenient", json!({})).await;
        let (r, _) = connect(&client, &fp, "lenient", lenient, odd()).await;
        assert!(connected(&r), "{label}: {}", r.body);
        let strict = quirky_service(&client, &fp, "Strict", json!({ "error_in_200": true })).await;
        let (r, _) = connect(&client, &fp, "strict", strict, odd()).await;
        assert_eq!(
            (r.status, r.json()["message"].as_str()),
            (502, Some("Strict refused the request (invalid_scope). Check the scopes."))
        );
        assert_eq!(details(&client, "strict").await["row"]["status"], "error", "{label}");

        // A token at a nested path (Slack's user token beside the bot's), `expires_in` a string.
        let nested = Fault::json(
            200,
            json!({ "ok": true, "access_token": "xoxb-bot", "expires_in": 60,
                    "authed_user": { "access_token": "xoxp-user", "expires_in": "43200", "scope": "read" } }),
        );
        let id = quirky_service(&client, &fp, "Nested", json!({ "token_path": "authed_user.access_token" })).await;
        let (r, _) = connect(&client, &fp, "nested", id, nested).await;
        assert!(connected(&r), "{label}: {}", r.body);
        let grant = &details(&client, "nested").await["grant"];
        let lifetime = grant["expires_at"].as_i64().unwrap() - grant["authorised_at"].as_i64().unwrap();
        assert!((43_190_000..=43_200_000).contains(&lifetime), "{label}: the user token's 43200 s, not 60: {lifetime}");
        assert_eq!(grant["granted_scopes"], json!(["read"]), "{label}");
        assert_eq!(credential_sent(&server, &api_token, &fp, "nested").await, "Bearer xoxp-user", "{label}");

        // A form-encoded answer (old GitHub), whose scopes are comma-separated.
        let form_answer = Fault::raw(
            200,
            "application/x-www-form-urlencoded",
            "access_token=gho_form&scope=read%2Cwrite&token_type=bearer",
        );
        let id = quirky_service(&client, &fp, "Form answer", json!({})).await;
        let (r, _) = connect(&client, &fp, "form_answer", id, form_answer).await;
        assert!(connected(&r), "{label}: {}", r.body);
        assert_eq!(details(&client, "form_answer").await["grant"]["granted_scopes"], json!(["read", "write"]));
        assert_eq!(credential_sent(&server, &api_token, &fp, "form_answer").await, "Bearer gho_form", "{label}");

        // Scopes granted as an array, and no token type (bearer, then).
        let array = Fault::json(200, json!({ "access_token": "at-array", "scope": ["read", "write"] }));
        let id = quirky_service(&client, &fp, "Array scopes", json!({})).await;
        let (r, _) = connect(&client, &fp, "array_scopes", id, array).await;
        assert!(connected(&r), "{label}: {}", r.body);
        assert_eq!(details(&client, "array_scopes").await["grant"]["granted_scopes"], json!(["read", "write"]));

        // The scope delimiters, as the token request joins the scopes.
        for (delimiter, joined) in [("space", "read write"), ("comma", "read,write"), ("plus", "read+write")] {
            let id =
                quirky_service(&client, &fp, &format!("Scopes {delimiter}"), json!({ "scope_delimiter": delimiter }))
                    .await;
            let (r, sent) = connect(&client, &fp, &format!("scopes_{delimiter}"), id, tokens("at-scopes")).await;
            assert!(connected(&r), "{label}: {}", r.body);
            assert_eq!(sent.form()["scope"], joined, "{label}: {delimiter}");
        }

        let log = server.log();
        assert!(!log.contains(faults::CLIENT_SECRET) && !log.contains("xoxp-user"), "{label}: no secret logged");
    }
}

/// The authorisation-code grant with the quirks: the scopes in the authorise URL joined and
/// spaced as each delimiter wants, then the code exchange and a refresh as JSON with the client
/// in the body and an extra parameter, the PKCE verifier the one whose challenge was sent.
#[tokio::test]
async fn the_authorise_url_the_code_exchange_and_the_refresh_carry_the_quirks_too() {
    let fp = FaultProvider::start().await;
    let db = sqlite().await;
    let (server, client, api_token) = liaison(&db).await;
    let code_grant = |delimiter: &str| {
        json!({ "grant_type": "authorization_code", "authorize_url": fp.url("/authorize"), "pkce": true,
                "scope_delimiter": delimiter, "token_request": "json", "client_auth": "body",
                "extra_token_params": [["audience", "api://x"]], "extra_authorize_params": [["prompt", "select account"]] })
    };
    for (i, (delimiter, scope)) in
        [("space", "read%20write"), ("comma", "read%2Cwrite"), ("plus", "read+write")].into_iter().enumerate()
    {
        let id = quirky_service(&client, &fp, &format!("Code {delimiter}"), code_grant(delimiter)).await;
        let link = format!("code_{delimiter}");
        let form = json!({ "name": link, "link_name": link, "service": { "kind": "custom", "id": id }, "scopes": ["read", "write"] });
        let r = create_connection(&client, form).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let authorize = start(&client, &start_url_of(&r.json(), &link), &format!("ticket-{i}-0123456789abcdef")).await;
        assert!(
            authorize.starts_with(&fp.url("/authorize?response_type=code&client_id=liaison-faults&state=")),
            "{authorize}"
        );
        assert!(authorize.contains(&format!("&scope={scope}&")), "{delimiter}: {authorize}");
        assert!(authorize.ends_with("&prompt=select%20account"), "{authorize}");
        let q: BTreeMap<String, String> = url::Url::parse(&authorize).unwrap().query_pairs().into_owned().collect();
        assert_eq!(
            (q["code_challenge_method"].as_str(), q["state"].len(), q["code_challenge"].len()),
            ("S256", 43, 43)
        );

        fp.set(Fault::json(
            200,
            json!({ "access_token": format!("at-{i}"), "refresh_token": "rt-1", "expires_in": "60" }),
        ));
        let callback = format!("{}?code=code-{i}&state={}", q["redirect_uri"], q["state"]);
        let page = land(&client, &server, &callback).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(details(&client, &link).await["row"]["status"], "connected", "{delimiter}");
        let sent = fp.requests().into_iter().rev().find(|r| r.path == TOKEN).unwrap();
        assert_eq!((sent.header("content-type"), sent.header("authorization")), (Some("application/json"), None));
        let mut body: BTreeMap<String, String> = params(&sent);
        let verifier = body.remove("code_verifier").unwrap();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, q["code_challenge"], "the verifier of the challenge sent");
        let expected = [
            ("grant_type", "authorization_code"),
            ("code", &format!("code-{i}")),
            ("redirect_uri", &q["redirect_uri"]),
            ("client_id", "liaison-faults"),
            ("client_secret", faults::CLIENT_SECRET),
            ("audience", "api://x"),
        ];
        assert_eq!(body, expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    }

    // The refresh, due since `expires_in` ("60") is nearly over: the same encoding.
    exec(&db, "UPDATE grants SET expires_at = 1").await;
    fp.set(Fault::json(200, json!({ "access_token": "at-refreshed", "expires_in": 3600 })));
    assert_eq!(credential_sent(&server, &api_token, &fp, "code_plus").await, "Bearer at-refreshed");
    let sent = fp.requests().into_iter().rev().find(|r| r.path == TOKEN).unwrap();
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let expected = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "rt-1"),
        ("client_id", "liaison-faults"),
        ("client_secret", faults::CLIENT_SECRET),
        ("audience", "api://x"),
    ];
    assert_eq!(params(&sent), expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
}

/// Every service of the shipped catalogue, its settings as they are (the client authentication,
/// the request encoding, the scope delimiter, the token path, the extra token parameters and
/// `error_in_200`), pointed at the fault provider with the client credentials grant: the request
/// it makes, the token it stores, the error inside a 200 it believes or not, its revocation.
#[tokio::test]
async fn every_catalogue_service_is_met_with_its_own_settings() {
    use app::service::{ClientAuth, ServiceForm, TokenRequest};
    let catalog = server::catalog::Catalog::load(None).unwrap();
    let fp = FaultProvider::start().await;
    let db = sqlite().await;
    let (server, client, api_token) = liaison(&db).await;
    assert!(catalog.services().len() > 40, "the whole catalogue");
    for (i, s) in catalog.services().iter().enumerate() {
        let what = &s.id;
        let mut form = serde_json::to_value(ServiceForm::from_spec(&s.spec, Some("liaison-faults"))).unwrap();
        let fault_form = faults::service(&fp, &format!("Catalogue {what}"), s.spec.error_in_200);
        for key in ["name", "grant_type", "client_secret", "token_url", "revoke_url", "api_base_urls"] {
            form[key] = fault_form[key].clone();
        }
        for key in ["authorize_url", "refresh_url", "callback_key", "refresh_idle_days"] {
            form[key] = json!("");
        }
        form["param_type"] = json!("header");
        form["header_name"] = json!("Authorization");
        form["header_prefix"] = json!("Bearer");
        form["scopes"] = json!([{ "name": "read", "display": "Read" }, { "name": "write", "display": "Write" }]);
        let id = create_service(&client, form).await;

        // The token at the service's path, `expires_in` a string.
        let token = format!("tok-{what}");
        let mut answer = json!({ "access_token": token, "token_type": "bearer", "expires_in": "3600" });
        for key in s.spec.token_path.iter().rev().skip(1) {
            answer = json!({ key: answer });
        }
        let link = format!("cat_{i}");
        let (r, sent) = connect(&client, &fp, &link, id, Fault::json(200, answer)).await;
        assert!(connected(&r), "{what}: {}", r.body);
        let body = params(&sent);
        let json_body = s.spec.token_request == TokenRequest::Json;
        let content_type = if json_body { "application/json" } else { "application/x-www-form-urlencoded" };
        assert_eq!(sent.header("content-type"), Some(content_type), "{what}");
        let secret = (String::from("liaison-faults"), faults::CLIENT_SECRET.to_string());
        match s.spec.client_auth {
            ClientAuth::Header => assert_eq!(sent.basic_auth(), Some(secret), "{what}"),
            ClientAuth::Body => {
                assert_eq!(sent.header("authorization"), None, "{what}");
                assert_eq!((body["client_id"].clone(), body["client_secret"].clone()), secret, "{what}");
            }
        }
        assert_eq!(body["scope"], s.spec.scope_delimiter.join(["read", "write"]), "{what}");
        assert_eq!(body["grant_type"], "client_credentials", "{what}");
        for (k, v) in &s.spec.extra_token_params {
            assert_eq!(body.get(k), Some(v), "{what}: extra parameter {k}");
        }
        let grant = &details(&client, &link).await["grant"];
        let lifetime = grant["expires_at"].as_i64().unwrap() - grant["authorised_at"].as_i64().unwrap();
        assert!((3_590_000..=3_600_000).contains(&lifetime), "{what}: {lifetime}");
        assert_eq!(credential_sent(&server, &api_token, &fp, &link).await, format!("Bearer {token}"), "{what}");

        // An error inside a 200 beside a token: believed only where the catalogue says so.
        let mut odd = json!({ "access_token": "tok-odd", "error": "invalid_scope" });
        for key in s.spec.token_path.iter().rev().skip(1) {
            odd = json!({ key: odd, "error": "invalid_scope" });
        }
        let (r, _) = connect(&client, &fp, &format!("odd_{i}"), id, Fault::json(200, odd)).await;
        assert_eq!(!connected(&r), s.spec.error_in_200, "{what}: {}", r.body);

        // Revocation: the same encoding and client authentication, no extra parameters.
        let r = client.call("revoke_connection", json!({ "link_name": link })).await;
        assert_eq!(r.status, 200, "{what}: {}", r.body);
        let revoked = fp.last_request().unwrap();
        assert_eq!((revoked.path.as_str(), revoked.header("content-type")), (REVOKE, Some(content_type)), "{what}");
        let mut expected =
            BTreeMap::from([("token".to_string(), token.clone()), ("token_type_hint".into(), "access_token".into())]);
        if s.spec.client_auth == ClientAuth::Body {
            expected.insert("client_id".into(), "liaison-faults".into());
            expected.insert("client_secret".into(), faults::CLIENT_SECRET.into());
        }
        assert_eq!(params(&revoked), expected, "{what}");
    }
}
