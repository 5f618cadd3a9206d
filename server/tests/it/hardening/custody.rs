//! Custody under a hostile admin: an admin of the same organisation edits a service in use so that
//! its token, refresh, revoke or API URLs point at a server of theirs (the trap), keeping the stored
//! client secret by leaving the field empty, then presses Revoke or Delete, or lets a script call
//! through the connection. A secret is only ever sent to the endpoints it was entrusted with: the
//! edit asks for the client secret again, the grants made under the old endpoints are dropped here
//! (sent nowhere) and their connections say why they need a new authorisation, and the trap
//! receives nothing.

use crate::faults::{FaultProvider, REVOKE, TOKEN};
use crate::harness::*;
use crate::lifecycle::{
    create_connection, create_service, details, exec, land, liaison_and_provider, service_form, start, CLIENT_SECRET,
};
use serde_json::{json, Value};

const LINK: &str = "acme_crm";
const KEY_LINK: &str = "weather";
const API_KEY: &str = "weather-api-key-3b8e1f0c";

async fn update_service(client: &Client, id: i64, form: &Value) -> Reply {
    client.call("update_service", json!({ "id": id, "form": form })).await
}

/// What the edit page shows of a stored service.
async fn view(client: &Client, id: i64) -> Value {
    let r = client.call("custom_service", json!({ "id": id })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The form as the edit page sends it back: the secret field left empty keeps the stored one.
fn unchanged_secret(form: &Value) -> Value {
    let mut form = form.clone();
    form["client_secret"] = json!("");
    form
}

#[tokio::test]
async fn editing_a_service_in_use_never_sends_its_secrets_to_the_new_endpoints() {
    for db in databases().await {
        let label = db.label();
        let (server, client, provider) = liaison_and_provider(&db).await;
        let trap = FaultProvider::start().await;
        let form = service_form(&client, &provider, "authorization_code").await;
        let id = create_service(&client, form.clone()).await;
        let r = create_connection(
            &client,
            json!({ "name": "Acme CRM", "link_name": LINK, "service": { "kind": "custom", "id": id },
                    "scopes": ["openid", "api:read", "offline_access"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let start_url = r.json()[1]["start_url"].as_str().unwrap().to_string();
        let authorize = start(&client, &start_url, "ticket-custody-0123456789").await;
        let callback = provider.approve(&authorize).await;
        assert_eq!(land(&client, &server, &callback).await.status, 200);
        assert_eq!(details(&client, LINK).await["row"]["status"], "connected", "{label}");

        // An API-key service whose base URL is moved: the key goes only where it was entrusted.
        let key_form = json!({ "name": "Weather", "auth_type": "api_key", "api_base_urls": [provider.issuer],
                                "param_type": "header", "header_name": "X-Key" });
        let key_service = create_service(&client, key_form.clone()).await;
        let r = create_connection(
            &client,
            json!({ "name": "Weather", "link_name": KEY_LINK, "service": { "kind": "custom", "id": key_service },
                    "api_key": API_KEY }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (_, token) = client.api_token("custody").await;

        // Before saving, the edit dialog asks what an edit would cost (nothing is changed): the
        // connections that would need a new authorisation, by the rule the save applies.
        let impact = |f: &Value| {
            let (client, body) = (&client, json!({ "id": id, "form": f }));
            async move {
                let r = client.call("service_edit_impact", body).await;
                assert_eq!(r.status, 200, "{}", r.body);
                r.json()["reauthorise"].clone()
            }
        };
        // A change that moves no endpoint keeps every grant and asks for no secret.
        let mut renamed = unchanged_secret(&form);
        renamed["name"] = json!("Acme ID (renamed)");
        assert_eq!(impact(&renamed).await, json!([]), "{label}: a rename costs nothing");
        let r = update_service(&client, id, &renamed).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(details(&client, LINK).await["row"]["status"], "connected", "{label}");

        // Moving the credential into the query string moves it too: the secret is asked for again.
        let mut into_query = unchanged_secret(&form);
        into_query["param_type"] = json!("query");
        into_query["query_param"] = json!("access_token");
        assert_eq!(impact(&into_query).await, json!(["Acme CRM"]), "{label}: told before it is saved");
        assert_eq!(details(&client, LINK).await["row"]["status"], "connected", "{label}: asking changed nothing");
        let r = update_service(&client, id, &into_query).await;
        assert_eq!((r.status, r.json()["fields"][0]["field"].as_str()), (422, Some("client_secret")), "{label}");

        // The attack: every endpoint moved to the trap, the stored secret kept by an empty field.
        let mut hostile = unchanged_secret(&form);
        hostile["token_url"] = json!(trap.url(TOKEN));
        hostile["refresh_url"] = json!(trap.url(TOKEN));
        hostile["revoke_url"] = json!(trap.url(REVOKE));
        hostile["api_base_urls"] = json!([trap.base]);
        let r = update_service(&client, id, &hostile).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (422, Some("validation")), "{label}: {}", r.body);
        let field = &r.json()["fields"][0];
        assert_eq!(field["field"], "client_secret", "{label}: {}", r.body);
        assert!(field["message"].as_str().unwrap().contains("again"), "{label}: {}", r.body);
        // Refused whole: the service and the connection are as they were.
        let kept = view(&client, id).await;
        assert_eq!(kept["spec"]["token_url"], format!("{}/token", provider.issuer), "{label}: nothing saved");
        assert_eq!(details(&client, LINK).await["row"]["status"], "connected", "{label}");

        // With a new secret the edit is taken, and the old grants are dropped here, sent nowhere.
        hostile["client_secret"] = json!("the-admins-own-secret-9d1c");
        let r = update_service(&client, id, &hostile).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let d = details(&client, LINK).await;
        assert_eq!(d["row"]["status"], "needs_reauth", "{label}: {d}");
        let reason = d["row"]["status_reason"].as_str().unwrap_or_default();
        assert!(reason.contains("endpoints") && reason.contains("again"), "{label}: the reason in words: {reason}");
        assert_eq!(d["grant"], Value::Null, "{label}: the grant made under the old endpoints is gone");

        let mut moved = key_form.clone();
        moved["api_base_urls"] = json!([trap.base]);
        let r = update_service(&client, key_service, &moved).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(details(&client, KEY_LINK).await["row"]["status"], "needs_reauth", "{label}");

        // Scripts, Revoke and Delete: nothing reaches the trap, nothing reaches the provider.
        for link in [LINK, KEY_LINK] {
            let (status, body) = server.proxy_get(&token, link, "me").await;
            assert_eq!((status, body["code"].as_str()), (409, Some("needs_reauthorization")), "{label}: {body}");
        }
        let revocations_before = provider.counts().await["revocation"].clone();
        let r = client.call("revoke_connection", json!({ "link_name": LINK })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        for link in [LINK, KEY_LINK] {
            let r = client.call("delete_connection", json!({ "link_name": link })).await;
            assert_eq!(r.status, 200, "{label}: {}", r.body);
        }
        let received = trap.requests();
        assert!(received.is_empty(), "{label}: the trap received {received:?}");
        assert_eq!(provider.counts().await["revocation"], revocations_before, "{label}: dropped, not revoked");

        let text = server.log();
        for secret in [CLIENT_SECRET, API_KEY] {
            assert!(!text.contains(secret), "{label}: a secret in the log");
        }
    }
}

fn catalog_entry(base: &str) -> String {
    format!(
        "[[service]]\nid = \"acme_keys\"\nname = \"Acme Keys\"\nauth_type = \"api_key\"\napi_base_urls = [\"{base}\"]\n\
         param_type = \"header\"\nheader_name = \"X-Key\"\ndocs_url = \"https://acme.example/docs\"\n"
    )
}

#[tokio::test]
async fn a_predefined_service_moved_by_the_operator_sends_nothing_given_under_its_old_endpoints() {
    for db in databases().await {
        let label = db.label();
        // Hosts that do not resolve: a call that tried to send the key fails as unreachable.
        let file = db.data_dir.path().join("catalog.toml");
        std::fs::write(&file, catalog_entry("https://api.acme.invalid/v1/")).unwrap();
        let env = [("LIAISON_CATALOG_FILE", file.to_str().unwrap())];
        let server = Server::start_with(&db, &env);
        let client = server.client();
        assert_eq!(setup(&client).await.status, 200);
        let r = create_connection(
            &client,
            json!({ "name": "Acme Keys", "link_name": KEY_LINK,
                    "service": { "kind": "predefined", "id": "acme_keys" }, "api_key": API_KEY }),
        )
        .await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let (_, token) = client.api_token("custody").await;
        let (status, body) = server.proxy_get(&token, KEY_LINK, "me").await;
        assert_eq!((status, body["code"].as_str()), (502, Some("upstream_unreachable")), "{label}: {body}");
        drop(server);

        // The operator moves the API elsewhere: the key given for the old host stays here.
        std::fs::write(&file, catalog_entry("https://elsewhere.acme.invalid/")).unwrap();
        let server = Server::start_with(&db, &env);
        let client = server.client();
        let r = client.rpc("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let d = details(&client, KEY_LINK).await;
        assert_eq!(d["row"]["status"], "needs_reauth", "{label}: {d}");
        assert!(d["row"]["status_reason"].as_str().unwrap_or_default().contains("endpoints"), "{label}: {d}");
        assert_eq!(d["grant"], Value::Null, "{label}");
        let (status, body) = server.proxy_get(&token, KEY_LINK, "me").await;
        assert_eq!((status, body["code"].as_str()), (409, Some("needs_reauthorization")), "{label}: {body}");
        assert!(!server.log().contains(API_KEY), "{label}");
    }
}

#[tokio::test]
async fn a_service_changed_by_hand_in_the_database_sends_nothing_to_its_new_endpoints() {
    for db in databases().await {
        let label = db.label();
        let (server, client, provider) = liaison_and_provider(&db).await;
        let trap = FaultProvider::start().await;
        let mut form = service_form(&client, &provider, "authorization_code").await;
        form["api_base_urls"] = json!([provider.issuer]);
        let id = create_service(&client, form).await;
        let r = create_connection(
            &client,
            json!({ "name": "Acme CRM", "link_name": LINK, "service": { "kind": "custom", "id": id },
                    "scopes": ["openid", "api:read", "offline_access"] }),
        )
        .await;
        let start_url = r.json()[1]["start_url"].as_str().unwrap().to_string();
        let authorize = start(&client, &start_url, "ticket-by-hand-0123456789").await;
        assert_eq!(land(&client, &server, &provider.approve(&authorize).await).await.status, 200);
        let (_, token) = client.api_token("custody").await;
        assert_eq!(server.proxy_get(&token, LINK, "me").await.0, 200, "{label}: the grant works");

        // Someone with the database moves every URL to the trap; the connection still says Connected,
        // and the token looks expired, so the next call would refresh it.
        let sql = format!("UPDATE services SET spec = REPLACE(spec, '{}', '{}')", provider.issuer, trap.base);
        exec(&db, &sql).await;
        exec(&db, "UPDATE grants SET expires_at = 1").await;
        let (status, body) = server.proxy_get(&token, LINK, "me").await;
        assert_eq!((status, body["code"].as_str()), (409, Some("needs_reauthorization")), "{label}: {body}");
        let d = details(&client, LINK).await;
        assert_eq!(d["row"]["status"], "needs_reauth", "{label}: {d}");
        assert_eq!(d["grant"], Value::Null, "{label}: set aside");
        let r = client.call("revoke_connection", json!({ "link_name": LINK })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let received = trap.requests();
        assert!(received.is_empty(), "{label}: the trap received {received:?}");
    }
}

#[tokio::test]
async fn an_authorisation_whose_service_moved_meanwhile_exchanges_its_code_nowhere() {
    let db = sqlite().await;
    let label = db.label();
    let (server, client, provider) = liaison_and_provider(&db).await;
    let trap = FaultProvider::start().await;
    let id = create_service(&client, service_form(&client, &provider, "authorization_code").await).await;
    let r = create_connection(
        &client,
        json!({ "name": "Acme CRM", "link_name": LINK, "service": { "kind": "custom", "id": id },
                "scopes": ["openid", "offline_access"] }),
    )
    .await;
    let start_url = r.json()[1]["start_url"].as_str().unwrap().to_string();
    let authorize = start(&client, &start_url, "ticket-moved-0123456789").await;
    let callback = provider.approve(&authorize).await;
    // Between the person's consent and the callback, the token URL moves (by hand: an edit would
    // also end the authorisation before it could be claimed).
    exec(&db, &format!("UPDATE services SET spec = REPLACE(spec, '{}/token', '{}')", provider.issuer, trap.url(TOKEN)))
        .await;
    let page = land(&client, &server, &callback).await;
    assert!(page.body.contains("endpoints or OAuth client changed"), "{label}: {}", page.body);
    let received = trap.requests();
    assert!(received.is_empty(), "{label}: the trap received {received:?}");
    assert_eq!(details(&client, LINK).await["grant"], Value::Null, "{label}: nothing stored");
}
