//! A custom service's redirect URL is given to its Create New Service form before anything is
//! saved (issue 23): the key is minted by the server for one organisation and taken by one
//! service. A form cannot carry another organisation's key, a key a service already has, or a key
//! no form was given, so no service can take over another's callback; and the authorisation flow
//! runs through the key the form was given.

use super::cli_user;
use crate::harness::*;
use crate::lifecycle::{
    self, create_connection, details, land, liaison_and_provider, service_form, start, start_url_of,
};
use serde_json::{json, Value};

const PASSWORD: &str = "a long enough password for zephyr";

/// The field error of a refused create, as (status, field, message).
fn refusal(r: &Reply) -> (u16, String, String) {
    let f = &r.json()["fields"][0];
    (r.status, f["field"].as_str().unwrap_or_default().into(), f["message"].as_str().unwrap_or_default().into())
}

async fn create(client: &Client, form: &Value) -> Reply {
    client.call("create_service", json!({ "form": form })).await
}

async fn service_count(db: &Db) -> i64 {
    use sqlx::Row;
    lifecycle::sqlite_rows(db, "SELECT COUNT(*) AS n FROM services").await[0].get::<i64, _>("n")
}

#[tokio::test]
async fn a_form_carries_only_its_own_organisations_unused_key_and_the_flow_runs_through_it() {
    for db in databases().await {
        let label = db.label();
        let (server, acme, provider) = liaison_and_provider(&db).await;
        let form = service_form(&acme, &provider, "authorization_code").await;
        let key = provider.callback_key.clone().unwrap();
        assert!(key.starts_with("s-") && key.len() == 24, "{label}: {key}");

        // Another organisation's admin carries Acme's key (seen over a shoulder, in a screenshot):
        // refused on the field, nothing made, and Acme's key is still Acme's.
        let zephyr = cli_user(&db, &server, "zoe@zephyr.example", "Zephyr", "admin", PASSWORD).await;
        let mut stolen = form.clone();
        stolen["name"] = json!("Zephyr ID");
        let (status, field, message) = refusal(&create(&zephyr, &stolen).await);
        assert_eq!((status, field.as_str()), (422, "callback_key"), "{label}");
        assert!(message.contains("not given to this form"), "{label}: {message}");
        assert_eq!(service_count(&db).await, 0, "{label}");
        // Nor a key of a shape Liaison never gives (a predefined service's, a row id's).
        for forged in ["p-github", "c-1", "s-../../oauth/callback/x", "s-AAAAAAAAAAAAAAAAAAAAAA"] {
            let mut f = stolen.clone();
            f["callback_key"] = json!(forged);
            let (status, field, _) = refusal(&create(&zephyr, &f).await);
            assert_eq!((status, field.as_str()), (422, "callback_key"), "{label}: {forged}");
        }

        // Acme's form takes it.
        let id = lifecycle::create_service(&acme, form.clone()).await;
        let view = acme.call("custom_service", json!({ "id": id })).await.json();
        assert_eq!(view["callback_url"], format!("{}/oauth/callback/{key}", server.url), "{label}");

        // The same key again, in Acme's own second form or in Zephyr's: it belongs to a service.
        let mut again = form.clone();
        again["name"] = json!("Acme ID again");
        let (status, field, message) = refusal(&create(&acme, &again).await);
        assert_eq!((status, field.as_str()), (422, "callback_key"), "{label}");
        assert!(message.contains("already belongs to another service"), "{label}: {message}");
        let (status, field, _) = refusal(&create(&zephyr, &stolen).await);
        assert_eq!((status, field.as_str()), (422, "callback_key"), "{label}");
        assert_eq!(service_count(&db).await, 1, "{label}");

        // A script's form without a key gets a key of its own, unlike any other.
        let mut scripted = form.clone();
        scripted["name"] = json!("Scripted ID");
        scripted["callback_key"] = json!("");
        let other = lifecycle::create_service(&acme, scripted).await;
        let other_url = acme.call("custom_service", json!({ "id": other })).await.json()["callback_url"].clone();
        let other_key = other_url.as_str().unwrap().rsplit('/').next().unwrap().to_string();
        assert!(other_key.starts_with("s-") && other_key != key, "{label}: {other_key}");

        // The flow runs through the key the form was given, and lands Connected.
        let r = create_connection(
            &acme,
            json!({ "name": "Acme CRM", "service": { "kind": "custom", "id": id }, "scopes": ["openid", "api:read"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let authorize = start(&acme, &start_url_of(&r.json(), "acme_crm"), "ticket-keys-0123456789ab").await;
        assert_eq!(
            crate::provider::query(&authorize)["redirect_uri"],
            format!("{}/oauth/callback/{key}", server.url),
            "{label}"
        );
        let callback = provider.approve(&authorize).await;
        assert!(callback.contains(&format!("/oauth/callback/{key}?")), "{label}: {callback}");
        // The same answer on the other service's callback is refused (each service its own path).
        let elsewhere = callback.replace(&key, &other_key);
        assert!(land(&acme, &server, &elsewhere).await.body.contains("different service"), "{label}");
        assert_eq!(details(&acme, "acme_crm").await["row"]["status"], "not_connected", "{label}");
        let authorize = start(
            &acme,
            &start_url_of(
                &acme.call("connect", json!({ "link_name": "acme_crm", "form": {} })).await.json(),
                "acme_crm",
            ),
            "ticket-keys-0123456789ac",
        )
        .await;
        assert_eq!(land(&acme, &server, &provider.approve(&authorize).await).await.status, 200, "{label}");
        assert_eq!(details(&acme, "acme_crm").await["row"]["status"], "connected", "{label}");
    }
}
