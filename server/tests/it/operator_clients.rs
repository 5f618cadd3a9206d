//! `oauth_clients_file`: the OAuth clients an operator registered for predefined services. With
//! one, the connection form does not ask for a client and the popup goes to the catalogue's
//! authorise URL with the operator's client ID; without one, the form asks. A malformed file stops
//! the server before it touches anything. (Catalogue services point at real internet hosts, which
//! the tests cannot reach: nothing here calls them.)

use crate::harness::*;
use crate::lifecycle::{self, create_connection, details, start};
use crate::provider;
use serde_json::{json, Value};

const OPERATOR_ID: &str = "Iv1.operator-github-client";
const OPERATOR_SECRET: &str = "operator-secret-github-3d9f0a";

fn clients_file(db: &Db, text: &str) -> String {
    let path = db.data_dir.path().join("oauth-clients.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

async fn summary(client: &Client, id: &str) -> Value {
    let r = client.call("services", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == json!({ "kind": "predefined", "id": id }))
        .unwrap()
        .clone()
}

#[tokio::test]
async fn an_operator_client_configures_a_predefined_service_so_the_form_does_not_ask() {
    for db in databases().await {
        let label = db.label();
        let file = clients_file(
            &db,
            &format!("# registered at github.com\n[github]\nclient_id = \"{OPERATOR_ID}\"\nclient_secret = \"{OPERATOR_SECRET}\"\n"),
        );
        let server = Server::start_with(&db, &[("LIAISON_OAUTH_CLIENTS_FILE", &file)]);
        let client = server.client();
        assert_eq!(setup(&client).await.status, 200);
        let services = client.call("services", json!({})).await;
        assert!(!services.body.contains(OPERATOR_SECRET) && !services.body.contains(OPERATOR_ID), "{label}");
        assert_eq!(summary(&client, "github").await["needs_client"], false, "{label}");
        assert_eq!(summary(&client, "gitlab").await["needs_client"], true, "{label}: no client for GitLab");

        // GitHub: no client on the form, and the popup goes to GitHub with the operator's client.
        let r = create_connection(
            &client,
            json!({ "name": "GitHub", "service": { "kind": "predefined", "id": "github" }, "scopes": ["repo", "read:user"] }),
        )
        .await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(r.json()[0], "github");
        let url = lifecycle::start_url_of(&r.json(), "github");
        let d = details(&client, "github").await;
        assert_eq!((d["has_own_client"].as_bool(), d["row"]["status"].as_str()), (Some(false), Some("not_connected")));
        let authorize = start(&client, &url, "github-0123456789abcdef").await;
        assert!(authorize.starts_with("https://github.com/login/oauth/authorize?"), "{label}: {authorize}");
        let q = provider::query(&authorize);
        assert_eq!(q["client_id"], OPERATOR_ID);
        assert_eq!(q["redirect_uri"], format!("{}/oauth/callback/p-github", server.url));
        assert_eq!((q["response_type"].as_str(), q["code_challenge_method"].as_str()), (Some("code"), Some("S256")));
        assert_eq!(q["scope"], "repo read:user");
        assert!(!authorize.contains(OPERATOR_SECRET), "the secret stays on the server");

        // GitLab has no operator client: the form asks for one, and nothing is saved without it.
        let gitlab =
            json!({ "name": "GitLab", "service": { "kind": "predefined", "id": "gitlab" }, "scopes": ["read_api"] });
        let r = create_connection(&client, gitlab.clone()).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (422, Some("validation")), "{label}: {}", r.body);
        assert_eq!(
            r.json()["fields"],
            json!([{ "field": "client_id", "message": "Enter the client ID of the OAuth app you registered with the provider." }])
        );
        assert_eq!(client.call("connections", json!({ "query": {} })).await.json()["total"], 1, "{label}");
        let mut typed = gitlab;
        typed["client_id"] = json!("typed-gitlab-client");
        typed["client_secret"] = json!("typed-gitlab-secret-77c2");
        let r = create_connection(&client, typed).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(details(&client, "gitlab").await["has_own_client"], true);
        let authorize = start(&client, &lifecycle::start_url_of(&r.json(), "gitlab"), "gitlab-0123456789abcdef").await;
        assert!(authorize.starts_with("https://gitlab.com/oauth/authorize?"), "{authorize}");
        assert_eq!(provider::query(&authorize)["client_id"], "typed-gitlab-client");

        assert!(!server.log().contains(OPERATOR_SECRET), "{label}: the operator's secret is in the log");
        let cookie = client.cookie.lock().unwrap().clone();
        drop(server);

        // The same database without the file: GitHub asks for a client again, and the connection
        // made with the operator's client cannot start until one is configured.
        let server = Server::start(&db);
        let client = server.client();
        *client.cookie.lock().unwrap() = cookie;
        assert_eq!(summary(&client, "github").await["needs_client"], true, "{label}");
        let r = create_connection(
            &client,
            json!({ "name": "GitHub 2", "service": { "kind": "predefined", "id": "github" } }),
        )
        .await;
        assert_eq!(r.json()["fields"][0]["field"], "client_id", "{label}: {}", r.body);
        let url = lifecycle::start_link(&client, "github").await;
        let r = client.open(&format!("{url}&ticket=github-again-0123456789")).await;
        assert_eq!(r.status, 422, "{label}: {}", r.body);
        assert!(r.body.contains("GitHub has no OAuth client configured."), "{}", r.body);
    }
}

#[tokio::test]
async fn a_malformed_oauth_clients_file_stops_the_server_before_it_starts() {
    let db = sqlite().await;
    let missing = db.data_dir.path().join("nowhere.toml");
    let cases = [
        ("[github\nclient_id = \"x\"\n".to_string(), "it is not valid TOML (line 1): "),
        (
            format!("[github]\nclient_id = \"x\"\nclient_secret = \"{OPERATOR_SECRET}\n"),
            "it is not valid TOML (line 3): ",
        ),
        ("[nosuchservice]\nclient_id = \"x\"\n".into(), "[nosuchservice] is not a service of the catalogue"),
        ("[github]\nclient_secret = \"x\"\n".into(), "[github] needs a client_id"),
        (
            "[github]\nclient_id = \"x\"\nclientsecret = \"y\"\n".into(),
            "[github] has an unknown key \"clientsecret\"; use client_id and client_secret",
        ),
        ("[github]\nclient_id = \"x\"\nclient_secret = 42\n".into(), "[github] client_secret must be a string"),
        ("github = \"x\"\n".into(), "github must be a table: [github] with client_id and client_secret"),
    ];
    let mut runs: Vec<(String, &str)> =
        cases.iter().map(|(text, expect)| (clients_file_named(&db, text), *expect)).collect();
    runs.push((missing.to_str().unwrap().to_string(), "cannot read it: "));
    for (path, expect) in runs {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let out = db
            .command()
            .arg("serve")
            .env("LIAISON_LISTEN", "127.0.0.1:0")
            .env("LIAISON_OAUTH_CLIENTS_FILE", &path)
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{text}\n{stdout}{stderr}");
        let expected = format!("liaison: configuration error: oauth_clients_file {path}: {expect}");
        assert!(stderr.contains(&expected), "{text}\nexpected: {expected}\nstderr: {stderr}");
        assert!(!stderr.contains(OPERATOR_SECRET), "the file's secret is quoted: {stderr}");
        assert!(!stdout.contains("listening on"), "{stdout}");
        // Refused before the database or the key file was touched.
        assert!(!db.data_dir.path().join("liaison.db").exists(), "{text}");
        assert!(!db.data_dir.path().join("master.key").exists(), "{text}");
    }
}

/// A clients file per case, each under its own name.
fn clients_file_named(db: &Db, text: &str) -> String {
    let path = db.data_dir.path().join(format!("clients-{:08x}.toml", rand::random::<u32>()));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}
