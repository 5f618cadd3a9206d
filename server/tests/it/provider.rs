//! A real OAuth 2.0 / OpenID Connect authorization server for the tests: panva's oidc-provider
//! (end2end/fixtures/oidc-provider.mjs, installed by `npm ci` in end2end/), on a free port, with its
//! development login and consent pages driven over HTTP.
//!
//! ```ignore
//! let provider = Provider::start(json!([{
//!     "client_id": "liaison", "client_secret": "s3cret",
//!     "redirect_uris": [format!("{}/oauth/callback", server.url)],
//!     "grant_types": ["authorization_code", "refresh_token"],
//!     "scope": "openid profile email offline_access api:read api:write",
//! }]))
//! .await;
//! let callback = provider.approve(&authorize_url).await; // the redirect URI with code, state, iss
//! ```
//!
//! What the provider does: PKCE S256 required; a refresh token on every code exchange (no
//! offline_access needed); refresh tokens rotate, and reusing a used one fails with invalid_grant
//! and revokes the grant; client_credentials; revocation and introspection; `counts()` tells how
//! often each endpoint (the token endpoint per grant_type) answered ok or with which error.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest as _;

pub const SCOPES: &str = "openid profile email offline_access api:read api:write";

pub struct Provider {
    /// `http://127.0.0.1:<port>`, also the base URL of every endpoint.
    pub issuer: String,
    /// The Liaison callback key of the first client's first redirect URI (`…/oauth/callback/{key}`),
    /// for the service form of the tests that register it.
    pub callback_key: Option<String>,
    child: Child,
    /// The provider's stderr (notices, warnings, server errors).
    log: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A confidential web client allowed every grant the fixture offers, with client_secret_basic.
pub fn client(client_id: &str, client_secret: &str, redirect_uri: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": SCOPES,
    })
}

/// A PKCE pair: (code_verifier, S256 code_challenge).
pub fn pkce() -> (String, String) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verifier = b64.encode(rand::random::<[u8; 32]>());
    let challenge = b64.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl Provider {
    /// Starts the provider with these clients (a JSON array of client metadata).
    pub async fn start(clients: Value) -> Provider {
        Self::start_with(clients, &[]).await
    }

    /// Same, with more environment for the fixture, e.g. `("ACCESS_TOKEN_TTL", "2")`.
    pub async fn start_with(clients: Value, env: &[(&str, &str)]) -> Provider {
        assert!(clients.is_array(), "clients must be a JSON array of client metadata");
        let root = repo_root();
        let end2end = root.join("end2end");
        assert!(
            end2end.join("node_modules/oidc-provider/package.json").exists(),
            "{} is missing: run `npm ci` in end2end/ (or tools/setup.sh) to install oidc-provider",
            end2end.join("node_modules/oidc-provider").display()
        );
        let script = end2end.join("fixtures/oidc-provider.mjs");
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .current_dir(&end2end)
            .env("CLIENTS_JSON", clients.to_string())
            .env_remove("PORT")
            .env_remove("ACCESS_TOKEN_TTL")
            .env_remove("CLOCK_TOLERANCE")
            .env_remove("SCOPES");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run `node {}` ({e}): is Node.js installed?", script.display()));

        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("LISTENING ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let err_log = log.clone();
        let err_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err_log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        // Only the stdout reader holds the sender: if node exits, `recv` ends at once.
        let waited = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30))).await.unwrap();
        let issuer = match waited {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                // The stderr reader ends with the process: then the log holds its last words.
                let _ = err_reader.join();
                panic!(
                    "oidc-provider did not start (if end2end/node_modules is missing or stale, run `npm ci` in \
                     end2end/); its stderr:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let callback_key = clients[0]["redirect_uris"][0]
            .as_str()
            .and_then(|u| u.split_once("/oauth/callback/"))
            .map(|(_, key)| key.to_string());
        Provider { issuer, callback_key, child, log, http }
    }

    /// What the provider printed on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The OpenID Connect discovery document.
    pub async fn discovery(&self) -> Value {
        self.get_json("/.well-known/openid-configuration").await
    }

    /// Calls so far per endpoint, the token endpoint's per grant_type, each as
    /// `{ "total", "ok", "error", "errors": { code: n } }`; an endpoint not called is absent:
    /// `counts()["token"]["refresh_token"]["ok"]`, `counts()["revocation"]["total"]`.
    pub async fn counts(&self) -> Value {
        self.get_json("/__test/counts").await
    }

    /// Returns the counts so far and sets them back to zero.
    pub async fn reset_counts(&self) -> Value {
        self.get_json("/__test/counts?reset=1").await
    }

    /// Holds every token request `ms` milliseconds before handling it (0: stop holding); one whose
    /// client leaves meanwhile is dropped unhandled (`counts()["hold"]["abandoned"]`).
    pub async fn hold(&self, ms: u64) {
        self.get_json(&format!("/__test/hold?ms={ms}")).await;
    }

    /// Moves the provider's clock forward by `by`: its tokens expire without the test waiting.
    pub async fn advance_clock(&self, by: Duration) {
        self.get_json(&format!("/__test/clock?advance_ms={}", by.as_millis())).await;
    }

    async fn get_json(&self, path: &str) -> Value {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Follows an authorization request through the provider's own login page (as "alice", any
    /// password) and consent page, and returns the URL it finally redirects to outside the
    /// provider: the client's redirect URI with `code`, `state` and `iss` (or `error` when the
    /// request itself is refused, e.g. without PKCE).
    pub async fn approve(&self, authorize_url: &str) -> String {
        self.approve_as(authorize_url, "alice").await
    }

    /// Same as `approve`, signing in as `login` (which becomes the `sub`).
    pub async fn approve_as(&self, authorize_url: &str, login: &str) -> String {
        self.drive(authorize_url, Some(login)).await
    }

    /// Follows an authorization request to the provider's login page and aborts there, as a user
    /// who refuses: returns the redirect URI with `error=access_denied` (and `state`).
    pub async fn deny(&self, authorize_url: &str) -> String {
        self.drive(authorize_url, None).await
    }

    /// A browser of its own (fresh cookies, so always a fresh login) that follows redirects by
    /// hand, fills the dev interaction forms (or aborts when `login` is None), and stops at the
    /// first redirect that leaves the provider.
    async fn drive(&self, authorize_url: &str, login: Option<&str>) -> String {
        let browser =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let origin = url::Url::parse(&self.issuer).unwrap().origin();
        let mut url = url::Url::parse(authorize_url).unwrap();
        let mut form: Option<Vec<(String, String)>> = None;
        let mut trail = Vec::new();
        for _ in 0..20 {
            trail.push(format!("{} {url}", if form.is_some() { "POST" } else { "GET" }));
            let req = match form.take() {
                Some(fields) => browser.post(url.clone()).form(&fields),
                None => browser.get(url.clone()),
            };
            let res = req.send().await.unwrap();
            let status = res.status();
            if status.is_redirection() {
                let location = res.headers()["location"].to_str().unwrap().to_string();
                let next = url.join(&location).unwrap();
                if next.origin() != origin {
                    return next.to_string();
                }
                url = next;
                continue;
            }
            let body = res.text().await.unwrap();
            assert_eq!(status, 200, "{trail:#?}\n{body}\n{}", self.log());
            let uid = url.path().strip_prefix("/interaction/").map(str::to_string);
            let (Some(uid), Some((action, prompt))) = (uid, interaction_form(&body)) else {
                panic!("not an interaction page: {trail:#?}\n{body}");
            };
            match login {
                None => url = url.join(&format!("/interaction/{uid}/abort")).unwrap(),
                Some(login) => {
                    let mut fields = vec![("prompt".to_string(), prompt.clone())];
                    if prompt == "login" {
                        fields.push(("login".into(), login.into()));
                        fields.push(("password".into(), "any password".into()));
                    }
                    url = url.join(&action).unwrap();
                    form = Some(fields);
                }
            }
        }
        panic!("no redirect out of the provider after 20 steps: {trail:#?}");
    }
}

/// The form of a dev interaction page: its action and its hidden `prompt` (login or consent).
fn interaction_form(html: &str) -> Option<(String, String)> {
    let form = &html[html.find("<form")?..];
    let action = attribute(&form[..form.find('>')?], "action")?;
    let prompt_input = &form[form.find(r#"name="prompt""#)?..];
    let prompt = attribute(&prompt_input[..prompt_input.find('>')?], "value")?;
    Some((action.replace("&amp;", "&"), prompt))
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(r#"{name}=""#))? + name.len() + 2;
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

/// The query parameters of a URL, as JSON strings, for easy assertions.
pub fn query(url: &str) -> Value {
    let url = url::Url::parse(url).unwrap();
    Value::Object(url.query_pairs().map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect())
}

#[tokio::test]
async fn oidc_provider_fixture_runs_a_full_code_flow() {
    let redirect_uri = "http://127.0.0.1:9/cb";
    let provider = Provider::start(json!([client("app", "app-secret", redirect_uri)])).await;
    let http = reqwest::Client::new();

    let disco = provider.discovery().await;
    assert_eq!(disco["issuer"], provider.issuer.as_str());
    assert_eq!(disco["code_challenge_methods_supported"], json!(["S256"]));
    for endpoint in ["authorization_endpoint", "token_endpoint", "revocation_endpoint", "introspection_endpoint"] {
        assert!(disco[endpoint].as_str().unwrap().starts_with(&provider.issuer), "{endpoint}: {disco}");
    }
    let token_url = disco["token_endpoint"].as_str().unwrap().to_string();
    let revocation_url = disco["revocation_endpoint"].as_str().unwrap().to_string();
    let introspection_url = disco["introspection_endpoint"].as_str().unwrap().to_string();

    let authorize = |state: &str, challenge: Option<&str>| {
        let mut url = url::Url::parse(disco["authorization_endpoint"].as_str().unwrap()).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "app")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", state);
        if let Some(challenge) = challenge {
            url.query_pairs_mut().append_pair("code_challenge", challenge).append_pair("code_challenge_method", "S256");
        }
        url.to_string()
    };
    let token = |form: Vec<(&'static str, String)>| {
        let req = http.post(&token_url).basic_auth("app", Some("app-secret")).form(&form);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let introspect = |token: &str| {
        let req = http.post(&introspection_url).basic_auth("app", Some("app-secret")).form(&[("token", token)]);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap()["active"].as_bool().unwrap() }
    };

    // PKCE is required.
    let refused = query(&provider.approve(&authorize("s0", None)).await);
    assert_eq!(refused["error"], "invalid_request", "{refused}");

    // Authorization code with PKCE S256, through the login and consent pages.
    let (verifier, challenge) = pkce();
    let callback = provider.approve(&authorize("state-1", Some(&challenge))).await;
    assert!(callback.starts_with(&format!("{redirect_uri}?")), "{callback}");
    let params = query(&callback);
    assert_eq!(params["state"], "state-1");
    assert_eq!(params["iss"], provider.issuer.as_str());
    let code = params["code"].as_str().unwrap().to_string();

    let (status, body) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", redirect_uri.into()),
        ("code_verifier", verifier),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["id_token"].is_string());
    // Every scope but offline_access, which OpenID Connect grants only with prompt=consent; the
    // refresh token comes all the same.
    let mut scopes: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    scopes.sort();
    assert_eq!(scopes, ["api:read", "api:write", "email", "openid", "profile"], "{body}");
    let access_1 = body["access_token"].as_str().unwrap().to_string();
    let refresh_1 = body["refresh_token"].as_str().unwrap().to_string();
    assert!(introspect(&access_1).await);

    // The access token works at userinfo.
    let me: Value = http
        .get(disco["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(&access_1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["email"], "alice@example.test");

    // One refresh: a new access token and a new refresh token (rotation).
    let (status, body) =
        token(vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_1.clone())]).await;
    assert_eq!(status, 200, "{body}");
    let access_2 = body["access_token"].as_str().unwrap().to_string();
    let refresh_2 = body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(access_2, access_1);
    assert_ne!(refresh_2, refresh_1);
    assert!(introspect(&refresh_2).await);

    // Revocation.
    let res = http
        .post(&revocation_url)
        .basic_auth("app", Some("app-secret"))
        .form(&[("token", access_2.as_str()), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(!introspect(&access_2).await);

    // Reusing the old refresh token fails, and revokes the grant: the new one is dead too.
    let (status, body) = token(vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_1)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(!introspect(&refresh_2).await);
    let (status, body) = token(vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_2)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // Client credentials with a scope.
    let (status, body) = token(vec![("grant_type", "client_credentials".into()), ("scope", "api:read".into())]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "api:read");
    assert!(introspect(body["access_token"].as_str().unwrap()).await);

    // The user refuses.
    let (_, challenge) = pkce();
    let denied = query(&provider.deny(&authorize("state-2", Some(&challenge))).await);
    assert_eq!(denied["error"], "access_denied", "{denied}");
    assert_eq!(denied["state"], "state-2");

    // The counts saw all of it.
    let counts = provider.counts().await;
    let t = &counts["token"];
    assert_eq!(t["authorization_code"]["ok"], 1, "{counts}");
    assert_eq!(
        (t["refresh_token"]["ok"].as_u64(), t["refresh_token"]["error"].as_u64()),
        (Some(1), Some(2)),
        "{counts}"
    );
    assert_eq!(t["refresh_token"]["errors"]["invalid_grant"], 2, "{counts}");
    assert_eq!(t["client_credentials"]["total"], 1, "{counts}");
    assert_eq!(counts["revocation"]["total"], 1, "{counts}");
    assert_eq!(counts["revocation"]["ok"], 1, "{counts}");
    assert_eq!(counts["introspection"]["total"], 5, "{counts}");
    let before = provider.reset_counts().await;
    assert_eq!(before, counts);
    assert_eq!(provider.counts().await, json!({ "token": {} }));
}

#[tokio::test]
async fn oidc_provider_fixture_honours_access_token_ttl() {
    let provider = Provider::start_with(
        json!([client("app", "app-secret", "http://127.0.0.1:9/cb")]),
        &[("ACCESS_TOKEN_TTL", "60")],
    )
    .await;
    let http = reqwest::Client::new();
    let body: Value = http
        .post(provider.url("/token"))
        .basic_auth("app", Some("app-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "api:write")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["expires_in"], 60, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let active = || async {
        let introspected: Value = http
            .post(provider.url("/token/introspection"))
            .basic_auth("app", Some("app-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        introspected["active"].clone()
    };
    assert_eq!(active().await, true);
    // Token times are whole seconds (the issue time rounded down) and real time passes between
    // the calls too: two seconds before the expiry, never one, so the check cannot straddle it.
    provider.advance_clock(Duration::from_secs(58)).await;
    assert_eq!(active().await, true, "two seconds before its expiry");
    provider.advance_clock(Duration::from_secs(3)).await;
    assert_eq!(active().await, false, "past its expiry");
}
