//! A provider that misbehaves on demand, in the test process, and what Liaison makes of each fault:
//! the status code, the sentence and stable code a person sees, the connection's status and reason
//! afterwards, nothing half-saved, and no secret in any message or log line.
//!
//! ```ignore
//! let fp = FaultProvider::start().await;           // 127.0.0.1:<free port>
//! fp.set(Fault::oauth_error(400, "invalid_grant", None)); // the token endpoint's next answers
//! fp.set_at(REVOKE, Fault::html(503, "down"));     // any path
//! // … point a service's token_url at fp.url(TOKEN) and connect …
//! assert_eq!(fp.token_calls(), 1);
//! assert_eq!(fp.last_request().unwrap().form()["grant_type"], "client_credentials");
//! ```
//!
//! Every path answers 404 until it is given a fault; [`FaultProvider::start`] gives the token
//! endpoint a valid token answer and the revoke endpoint a 200.

use crate::harness::*;
use crate::lifecycle::{connect, create_connection, create_service, details};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const TOKEN: &str = "/token";
pub const REVOKE: &str = "/revoke";

/// What an endpoint of the fault provider answers.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This status, these headers, this body.
    Answer { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Waits, then answers as the inner fault.
    Delay(Duration, Box<Fault>),
}

impl Fault {
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Fault {
        Fault::Answer { status, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
    }

    pub fn json(status: u16, body: Value) -> Fault {
        Fault::raw(status, "application/json", body.to_string())
    }

    /// An RFC 6749 §5.2 error answer.
    pub fn oauth_error(status: u16, error: &str, description: Option<&str>) -> Fault {
        let mut body = json!({ "error": error });
        if let Some(d) = description {
            body["error_description"] = json!(d);
        }
        Fault::json(status, body)
    }

    /// A successful token answer (bearer, one hour, no refresh token).
    pub fn tokens(access_token: &str) -> Fault {
        Fault::json(200, json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 3600 }))
    }

    pub fn html(status: u16, body: &str) -> Fault {
        Fault::raw(status, "text/html; charset=utf-8", body)
    }

    pub fn redirect(location: &str) -> Fault {
        Fault::Answer { status: 302, headers: vec![("location".into(), location.into())], body: Vec::new() }
    }

    /// The same answer with one more header.
    pub fn with_header(self, name: &str, value: &str) -> Fault {
        match self {
            Fault::Answer { status, mut headers, body } => {
                headers.push((name.into(), value.into()));
                Fault::Answer { status, headers, body }
            }
            Fault::Delay(d, inner) => Fault::Delay(d, Box::new(inner.with_header(name, value))),
        }
    }

    /// The same answer, after a pause.
    pub fn after(self, pause: Duration) -> Fault {
        Fault::Delay(pause, Box::new(self))
    }
}

/// A request the fault provider received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as a form.
    pub fn form(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }

    /// HTTP Basic credentials, decoded (RFC 6749 §2.3.1: each part form-urlencoded first).
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let b64 = self.header("authorization")?.strip_prefix("Basic ")?;
        let raw = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).ok()?).ok()?;
        let (id, secret) = raw.split_once(':')?;
        let dec =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        Some((dec(id)?, dec(secret)?))
    }
}

#[derive(Default)]
struct Inner {
    routes: HashMap<String, Fault>,
    received: Vec<Received>,
    /// Delayed answers whose pause is over (whether or not their client still waits).
    pauses_over: usize,
}

/// An HTTP server in the test process whose every answer is chosen by the test.
pub struct FaultProvider {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    axum::extract::State(inner): axum::extract::State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            method,
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        inner.routes.get(uri.path()).cloned()
    };
    let mut fault = match fault {
        Some(f) => f,
        None => return (StatusCode::NOT_FOUND, "no fault set for this path").into_response(),
    };
    loop {
        match fault {
            Fault::Delay(pause, then) => {
                // Counted in a task of its own: a client that gave up closes the connection,
                // which drops this handler, but the test still learns when the answer was due.
                let (done, over) = tokio::sync::oneshot::channel();
                let state = inner.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(pause).await;
                    state.lock().unwrap().pauses_over += 1;
                    let _ = done.send(());
                });
                let _ = over.await;
                fault = *then;
            }
            Fault::Answer { status, headers, body } => {
                let mut res = (StatusCode::from_u16(status).unwrap(), body).into_response();
                for (k, v) in headers {
                    res.headers_mut()
                        .insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(&v).unwrap());
                }
                return res;
            }
        }
    }
}

impl FaultProvider {
    pub async fn start() -> FaultProvider {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new().fallback(answer).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let fp = FaultProvider { base, inner, task };
        fp.set(Fault::tokens("fault-access-token-0000"));
        fp.set_at(REVOKE, Fault::raw(200, "application/json", "{}"));
        fp
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the token endpoint answers from now on.
    pub fn set(&self, fault: Fault) {
        self.set_at(TOKEN, fault);
    }

    /// What `path` answers from now on.
    pub fn set_at(&self, path: &str, fault: Fault) {
        self.inner.lock().unwrap().routes.insert(path.to_string(), fault);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn last_request(&self) -> Option<Received> {
        self.inner.lock().unwrap().received.last().cloned()
    }

    /// Requests so far to `path`.
    pub fn calls(&self, path: &str) -> usize {
        self.inner.lock().unwrap().received.iter().filter(|r| r.path == path).count()
    }

    pub fn token_calls(&self) -> usize {
        self.calls(TOKEN)
    }

    /// Delayed answers whose pause is over so far (see [`Fault::after`]).
    pub fn pauses_over(&self) -> usize {
        self.inner.lock().unwrap().pauses_over
    }
}

const CLIENT_ID: &str = "liaison-faults";
pub const CLIENT_SECRET: &str = "fault-client-secret-4e1b9d77";
/// Put into provider bodies, to show no raw body reaches a message or the log.
const BODY_MARKER: &str = "raw-body-marker-5a2c";

pub fn service(fp: &FaultProvider, name: &str, error_in_200: bool) -> Value {
    json!({
        "name": name, "auth_type": "oauth2", "grant_type": "client_credentials",
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "token_url": fp.url(TOKEN), "revoke_url": fp.url(REVOKE), "api_base_urls": [fp.base],
        "scopes": [{ "name": "read", "display": "Read" }], "error_in_200": error_in_200,
    })
}

async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql).fetch_one(&mut connect(db).await).await.unwrap().get::<i64, _>(0)
}

/// One fault and what Liaison must say about it.
struct Case {
    what: &'static str,
    fault: Fault,
    /// The service flagged error_in_200 (GitHub style) instead of the plain one.
    github_style: bool,
    status: u16,
    code: &'static str,
    /// `{service}` stands for the service's name.
    message: &'static str,
    after: &'static str,
}

fn cases(fp: &FaultProvider) -> Vec<Case> {
    let big = format!(r#"{{"access_token":"big","padding":"{}"}}"#, "x".repeat(1024 * 1024 + 16));
    let echo = format!("the client_secret {CLIENT_SECRET} does not match");
    let html = format!("<html><body><h1>Internal Server Error</h1><p>{BODY_MARKER} {CLIENT_SECRET}</p></body></html>");
    let not_json = format!("<html><body>Welcome! {BODY_MARKER}</body></html>");
    let case = |what, fault, status, code, message, after| Case {
        what,
        fault,
        github_style: false,
        status,
        code,
        message,
        after,
    };
    vec![
        case(
            "invalid_grant",
            Fault::oauth_error(400, "invalid_grant", Some("The grant has expired")),
            502,
            "provider_error",
            "{service} refused the request (invalid_grant: The grant has expired). Connect again to grant access anew.",
            "needs_reauth",
        ),
        case(
            "invalid_client, echoing the secret back",
            Fault::oauth_error(401, "invalid_client", Some(&echo)),
            502,
            "provider_error",
            "{service} refused the request (invalid_client: the client_secret [redacted] does not match). Check the client ID and secret.",
            "error",
        ),
        case(
            "invalid_scope without a description",
            Fault::oauth_error(400, "invalid_scope", None),
            502,
            "provider_error",
            "{service} refused the request (invalid_scope). Check the scopes.",
            "error",
        ),
        case(
            "an error with HTTP 200 and no token",
            Fault::oauth_error(200, "access_denied", Some("The app is suspended")),
            502,
            "provider_error",
            "{service} refused the request (access_denied: The app is suspended).",
            "error",
        ),
        Case {
            github_style: true,
            ..case(
                "GitHub style: an error with HTTP 200 wins over a token",
                Fault::json(
                    200,
                    json!({ "access_token": "gho_not_really", "error": "incorrect_client_credentials",
                            "error_description": "The client_id and/or client_secret passed are incorrect." }),
                ),
                502,
                "provider_error",
                "{service} refused the request (incorrect_client_credentials: The client_id and/or client_secret passed are incorrect.). Check the client ID and secret.",
                "error",
            )
        },
        case(
            "HTTP 500 with an HTML page",
            Fault::html(500, &html),
            502,
            "provider_error",
            "{service} could not be used: the token endpoint answered HTTP 500 without an OAuth error; check the token URL, or try again later.",
            "error",
        ),
        case(
            "HTTP 502 with an HTML page",
            Fault::html(502, &html),
            502,
            "provider_error",
            "{service} could not be used: the token endpoint answered HTTP 502 without an OAuth error; check the token URL, or try again later.",
            "error",
        ),
        case(
            "HTTP 503 with an HTML page",
            Fault::html(503, &html).with_header("retry-after", "120"),
            502,
            "provider_error",
            "{service} could not be used: the token endpoint answered HTTP 503 without an OAuth error; check the token URL, or try again later.",
            "error",
        ),
        case(
            "HTTP 429 with Retry-After",
            Fault::json(429, json!({ "message": BODY_MARKER })).with_header("retry-after", "30"),
            502,
            "provider_error",
            "{service} is limiting requests (HTTP 429). Try again in 30 seconds.",
            "error",
        ),
        case(
            "malformed JSON",
            Fault::raw(200, "application/json", r#"{"access_token": "cut-sho"#),
            502,
            "provider_error",
            "{service} could not be used: the token endpoint's answer could not be used: it is not a JSON object; check the service's token URL and token path.",
            "error",
        ),
        case(
            "JSON without an access token",
            Fault::json(200, json!({ "token_type": "Bearer", "expires_in": 3600 })),
            502,
            "provider_error",
            "{service} could not be used: the token endpoint's answer could not be used: there is no access token at `access_token`; check the service's token URL and token path.",
            "error",
        ),
        case(
            "an HTML page with HTTP 200",
            Fault::html(200, &not_json),
            502,
            "provider_error",
            "{service} could not be used: the token endpoint's answer could not be used: it is not a JSON object; check the service's token URL and token path.",
            "error",
        ),
        case(
            "a body over the 1 MiB limit",
            Fault::raw(200, "application/json", big),
            502,
            "provider_error",
            "{service} could not be used: the remote server's answer is larger than the limit of 1048576 bytes; ask the operator to raise the response size limit.",
            "error",
        ),
        case(
            "an answer after the time limit",
            Fault::tokens("too-late-token").after(Duration::from_millis(2500)),
            504,
            "upstream_timeout",
            "{service} did not answer in time. Try again in a moment.",
            "error",
        ),
        case(
            "a redirect",
            Fault::redirect(&fp.url("/elsewhere")),
            502,
            "provider_error",
            "{service} could not be used: the token endpoint answered HTTP 302 without an OAuth error; check the token URL, or try again later.",
            "error",
        ),
    ]
}

#[tokio::test]
async fn token_endpoint_faults_are_told_in_words_and_nothing_is_half_saved() {
    let fp = FaultProvider::start().await;
    fp.set_at("/elsewhere", Fault::tokens("redirected-token"));
    for db in databases().await {
        let label = db.label();
        let server = Server::with_local_providers(&db, &[("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "1")]);
        let client = server.client();
        assert_eq!(setup(&client).await.status, 200);
        let plain = create_service(&client, service(&fp, "Faulty", false)).await;
        let github = create_service(&client, service(&fp, "Faulty GH", true)).await;
        let create = |name: String, id: i64| {
            let client = client.clone();
            async move {
                create_connection(
                    &client,
                    json!({ "name": name, "service": { "kind": "custom", "id": id }, "scopes": ["read"] }),
                )
                .await
            }
        };

        // First a good answer: what Liaison sends, and that it connects.
        fp.set(Fault::tokens("fault-access-token-0000"));
        let before = fp.token_calls();
        let r = create("Works".into(), plain).await;
        assert_eq!((r.status, &r.json()[1]), (200, &json!({ "next": "connected" })), "{label}: {}", r.body);
        assert_eq!(fp.token_calls(), before + 1);
        let sent = fp.last_request().unwrap();
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", TOKEN));
        assert_eq!(sent.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(sent.header("accept"), Some("application/json"));
        assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_string(), CLIENT_SECRET.to_string())));
        assert_eq!(
            sent.form(),
            BTreeMap::from([("grant_type".into(), "client_credentials".into()), ("scope".into(), "read".into())])
        );
        assert_eq!(details(&client, "works").await["row"]["status"], "connected");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM grants").await, 1);

        // An error beside a token, without the error_in_200 flag: the token counts.
        fp.set(Fault::json(200, json!({ "access_token": "token-beside-error", "error": "odd" })));
        let r = create("Lenient".into(), plain).await;
        assert_eq!(r.json()[1], json!({ "next": "connected" }), "{label}: {}", r.body);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM grants").await, 2);

        let pauses = fp.pauses_over();
        for (i, case) in cases(&fp).into_iter().enumerate() {
            let what = format!("{label}, {}", case.what);
            let (id, service_name) = if case.github_style { (github, "Faulty GH") } else { (plain, "Faulty") };
            fp.set(case.fault);
            let (calls, redirected) = (fp.token_calls(), fp.calls("/elsewhere"));
            let r = create(format!("Case {i}"), id).await;
            let link = format!("case_{i}");
            let message = case.message.replace("{service}", service_name);
            assert_eq!(r.status, case.status, "{what}: {}", r.body);
            let e = r.json();
            assert_eq!(e["code"], case.code, "{what}: {e}");
            assert_eq!(e["message"], message.as_str(), "{what}");
            assert!(!r.body.contains(CLIENT_SECRET) && !r.body.contains(BODY_MARKER), "{what}: {}", r.body);
            assert_eq!(fp.token_calls(), calls + 1, "{what}: one call, no retry");
            assert_eq!(fp.calls("/elsewhere"), redirected, "{what}: no redirect followed");

            // The connection exists (it was created), with the failure as its status and reason.
            let d = details(&client, &link).await;
            assert_eq!(d["row"]["status"], case.after, "{what}");
            assert_eq!(d["row"]["status_reason"], message.as_str(), "{what}");
            assert_eq!(d["grant"], Value::Null, "{what}");
            // Nothing half-saved: no grant row for it, the others untouched.
            let sql = format!(
                "SELECT COUNT(*) FROM grants g JOIN connections c ON c.id = g.connection_id WHERE c.link_name = '{link}'"
            );
            assert_eq!(count(&db, &sql).await, 0, "{what}");
            assert_eq!(count(&db, "SELECT COUNT(*) FROM grants").await, 2, "{what}");
        }
        // The timed-out answer arrives late, to nobody.
        eventually(&format!("{label}: the late answer's pause over"), || async {
            (fp.pauses_over() > pauses).then_some(())
        })
        .await;
        assert_eq!(details(&client, "case_13").await["row"]["status"], "error", "{label}");

        // A token endpoint where nothing listens.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/token", l.local_addr().unwrap())
        };
        let mut form = service(&fp, "Gone", false);
        form["token_url"] = json!(closed);
        let gone = create_service(&client, form).await;
        let r = create("Gone".into(), gone).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (502, Some("provider_error")), "{label}: {}", r.body);
        let message = r.json()["message"].as_str().unwrap().to_string();
        assert!(message.starts_with("Gone could not be used: could not connect to 127.0.0.1 ("), "{message}");
        assert!(message.ends_with("); check the URL and that the service is up."), "{message}");
        assert!(!message.contains(&closed), "no URL path in the message: {message}");

        // Retrying after a fault, once the provider is well again: connected, one grant more.
        fp.set(Fault::tokens("fault-access-token-retry"));
        let r = client.call("connect", json!({ "link_name": "case_0", "form": {} })).await;
        assert_eq!((r.status, r.json()), (200, json!({ "next": "connected" })), "{label}");
        let d = details(&client, "case_0").await;
        assert_eq!((d["row"]["status"].as_str(), &d["row"]["status_reason"]), (Some("connected"), &Value::Null));
        assert_eq!(count(&db, "SELECT COUNT(*) FROM grants").await, 3, "{label}");

        // Revocation the provider refuses: erased here all the same, and the refusal audited.
        fp.set_at(REVOKE, Fault::html(503, &format!("<p>{BODY_MARKER}</p>")));
        let revokes = fp.calls(REVOKE);
        let r = client.call("revoke_connection", json!({ "link_name": "case_0" })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(fp.calls(REVOKE), revokes + 1);
        let sent = fp.last_request().unwrap();
        assert_eq!(sent.basic_auth(), Some((CLIENT_ID.to_string(), CLIENT_SECRET.to_string())));
        assert_eq!(
            sent.form(),
            BTreeMap::from([
                ("token".into(), "fault-access-token-retry".into()),
                ("token_type_hint".into(), "access_token".into())
            ])
        );
        let d = details(&client, "case_0").await;
        assert_eq!((d["row"]["status"].as_str(), &d["grant"]), (Some("revoked"), &Value::Null));
        assert_eq!(count(&db, "SELECT COUNT(*) FROM grants").await, 2, "{label}");
        let failed = count(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'connection.revoke_at_provider_failed' AND target = 'case_0'",
        )
        .await;
        assert_eq!(failed, 1, "{label}");
        // A revoke endpoint too slow to answer: the same.
        fp.set_at(REVOKE, Fault::raw(200, "application/json", "{}").after(Duration::from_millis(2500)));
        let r = client.call("delete_connection", json!({ "link_name": "works" })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM grants").await, 1, "{label}");
        fp.set_at(REVOKE, Fault::raw(200, "application/json", "{}"));

        // Every call was a POST with its parameters in the body: nothing in a query string.
        let sent = fp.requests();
        assert!(sent.iter().all(|r| r.method == Method::POST && r.query.is_none()), "{label}: {sent:?}");

        // No secret and no raw body anywhere: not in the log, not in the audit log.
        let log = server.log();
        assert!(log.contains("connecting failed"), "{label}: the failures are logged");
        assert!(!log.contains(CLIENT_SECRET), "{label}: the client secret is in the log");
        assert!(!log.contains(BODY_MARKER), "{label}: a raw provider body is in the log");
        assert!(!log.contains("fault-access-token"), "{label}: a token is in the log");
        let leaks = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%{CLIENT_SECRET}%' OR detail LIKE '%{BODY_MARKER}%'"
            ),
        )
        .await;
        assert_eq!(leaks, 0, "{label}");
        let audited = count(&db, "SELECT COUNT(*) FROM audit_log WHERE action = 'connection.authorise_failed'").await;
        assert_eq!(audited, 16, "{label}: every failed attempt is audited");
    }
}
