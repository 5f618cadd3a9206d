//! Retries of the scripts' API against an upstream that answers from a script of steps (statuses
//! with their headers, or a connection reset): `Retry-After` in seconds and as a date, 503 then
//! 200, a reset then 200, a POST retried only when the caller says so, retries exhausted (the last
//! answer, the attempts in the log), a wait past the time limit not waited for, and bad requests
//! refused. Waits are moved on the test clock, never slept: the server's clock moves its file by
//! each wait, so the test reads how long the server waited.

use crate::harness::*;
use crate::lifecycle::{self, keyed_connection};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the upstream does with one request.
#[derive(Clone)]
enum Step {
    Answer(u16, Vec<(&'static str, String)>, &'static str),
    /// Reads the request, then resets the connection (RST) without a byte of answer.
    Reset,
    /// Reads the request, waits to be let go, then takes the step it holds.
    Held(Arc<tokio::sync::Notify>, Box<Step>),
}

fn answer(status: u16, body: &'static str) -> Step {
    Step::Answer(status, Vec::new(), body)
}

fn retry_after(status: u16, value: &str) -> Step {
    Step::Answer(status, vec![("retry-after", value.to_string())], "slow down")
}

/// A request the upstream received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 server that takes the next step for each request (200 `fallback` once they run
/// out), one request a connection.
struct Upstream {
    base: String,
    steps: Arc<Mutex<VecDeque<Step>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let steps: Arc<Mutex<VecDeque<Step>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (s, r) = (steps.clone(), seen.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                tokio::spawn(one_request(sock, s.clone(), r.clone()));
            }
        });
        Upstream { base, steps, seen, task }
    }

    fn script(&self, steps: &[Step]) {
        *self.steps.lock().unwrap() = steps.iter().cloned().collect();
        self.seen.lock().unwrap().clear();
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn one_request(mut sock: tokio::net::TcpStream, steps: Arc<Mutex<VecDeque<Step>>>, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let method = lines.next().unwrap_or_default().split(' ').next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    seen.lock().unwrap().push(Seen { method, headers, body });
    let mut step = steps.lock().unwrap().pop_front().unwrap_or(answer(200, "fallback"));
    if let Step::Held(gate, then) = step {
        gate.notified().await;
        step = *then;
    }
    match step {
        Step::Held(..) => {}
        Step::Reset => {
            sock.set_zero_linger().unwrap();
            drop(sock);
        }
        Step::Answer(status, extra, body) => {
            let mut out = format!(
                "HTTP/1.1 {status} Scripted\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in extra {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(body);
            let _ = sock.write_all(out.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    }
}

mod limits;

const KEY: &str = "retry-key-0001-secret";

/// Liaison with an API-key connection `keyed` to the upstream, made by its first admin (signed
/// in with `admin`), and an API token for it.
async fn setup_with_admin(db: &Db) -> (Server, Upstream, String, Client) {
    let up = Upstream::start().await;
    let server = lifecycle::start_open(db);
    let admin = server.client();
    let token = keyed_connection(&admin, &up.base, KEY, "Retry job").await;
    (server, up, token, admin)
}

async fn setup(db: &Db) -> (Server, Upstream, String) {
    let (server, up, token, _) = setup_with_admin(db).await;
    (server, up, token)
}

/// How far the test clock has been moved, in ms (the server moves it by each wait).
fn moved(db: &Db) -> i64 {
    std::fs::read_to_string(db.clock_file()).map(|t| t.trim().parse().unwrap()).unwrap_or(0)
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn attempts(&self) -> Option<&str> {
        self.headers.get("liaison-attempts").and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn proxy(server: &Server, token: &str, method: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let url = format!("{}/api/v1/connections/keyed/proxy/items", server.url);
    let mut req = reqwest::Client::new()
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .bearer_auth(token)
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    Reply { status, headers, body: r.text().await.unwrap() }
}

async fn invoke(server: &Server, token: &str, call: Value) -> Reply {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/invoke", server.url))
        .bearer_auth(token)
        .json(&call)
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    Reply { status, headers, body: r.text().await.unwrap() }
}

#[tokio::test]
async fn a_rate_limited_call_waits_out_retry_after_in_seconds_and_as_a_date() {
    for db in databases().await {
        let label = db.label();
        let (server, up, token) = setup(&db).await;
        up.script(&[retry_after(429, "7"), answer(200, "done")]);
        let before = moved(&db);
        let r = proxy(&server, &token, "GET", &[("Liaison-Retries", "3")], "").await;
        assert_eq!((r.status, r.body.as_str(), r.attempts()), (200, "done", Some("2")), "{label}");
        assert_eq!(moved(&db) - before, 7_000, "{label}: waited exactly what Retry-After asked");
        let seen = up.seen();
        assert_eq!(seen.len(), 2, "{label}");
        for s in &seen {
            assert_eq!(s.header("x-key"), Some(KEY), "{label}: every attempt carries the credential");
            assert!(s.headers.iter().all(|(k, _)| !k.starts_with("liaison-")), "{label}: {:?}", s.headers);
        }

        // An HTTP date, 30 s ahead by the server's clock.
        let at = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(db.now_ms()).unwrap() + 30_000);
        up.script(&[retry_after(503, &httpdate::fmt_http_date(at)), answer(200, "done")]);
        let before = moved(&db);
        let r = proxy(&server, &token, "GET", &[("Liaison-Retries", "1")], "").await;
        assert_eq!((r.status, r.attempts()), (200, Some("2")), "{label}: {}", r.body);
        let waited = moved(&db) - before;
        assert!((28_000..=30_000).contains(&waited), "{label}: waited until the date: {waited} ms");
    }
}

#[tokio::test]
async fn a_service_down_or_a_reset_connection_is_tried_again() {
    for db in databases().await {
        let label = db.label();
        let (server, up, token) = setup(&db).await;
        up.script(&[answer(503, "down"), answer(200, "up again")]);
        let before = moved(&db);
        let r = proxy(&server, &token, "DELETE", &[("Liaison-Retries", "2")], "").await;
        assert_eq!((r.status, r.body.as_str(), r.attempts()), (200, "up again", Some("2")), "{label}");
        let waited = moved(&db) - before;
        assert!((250..=500).contains(&waited), "{label}: a back-off with jitter, no Retry-After: {waited} ms");

        up.script(&[Step::Reset, answer(200, "{\"ok\":true}")]);
        let r = invoke(&server, &token, json!({ "connection": "keyed", "url": "/items", "retries": 2 })).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!((r.json()["status"].as_i64(), r.json()["attempts"].as_i64()), (Some(200), Some(2)), "{label}");
        assert_eq!(up.seen().len(), 2, "{label}");

        // Resets to the end: the last failure, with the attempts made.
        up.script(&[Step::Reset, Step::Reset]);
        let r = proxy(&server, &token, "GET", &[("Liaison-Retries", "1")], "").await;
        assert_eq!((r.status, r.json()["code"].as_str()), (502, Some("upstream_unreachable")), "{label}: {}", r.body);
        assert_eq!(r.attempts(), Some("2"), "{label}");
        up.script(&[Step::Reset, Step::Reset, Step::Reset]);
        let r = invoke(&server, &token, json!({ "connection": "keyed", "url": "/items", "retries": 2 })).await;
        assert_eq!((r.status, r.attempts()), (502, Some("3")), "{label}: {}", r.body);

        // Without retries, the reset is the answer, as before.
        up.script(&[Step::Reset]);
        let r = proxy(&server, &token, "GET", &[], "").await;
        assert_eq!((r.status, r.json()["code"].as_str()), (502, Some("upstream_unreachable")), "{label}: {}", r.body);
        assert_eq!(r.attempts(), None, "{label}: no retries asked, no count told");
    }
}

#[tokio::test]
async fn a_post_is_retried_only_when_the_caller_says_so() {
    for db in databases().await {
        let label = db.label();
        let (server, up, token) = setup(&db).await;
        up.script(&[answer(503, "down"), answer(201, "created")]);
        let r = proxy(&server, &token, "POST", &[("Liaison-Retries", "3")], "{\"n\":1}").await;
        assert_eq!((r.status, r.body.as_str(), r.attempts()), (503, "down", Some("1")), "{label}: not retried");
        assert_eq!(up.seen().len(), 1, "{label}");

        up.script(&[answer(503, "down"), answer(201, "created")]);
        let opted = [("Liaison-Retries", "3"), ("Liaison-Retry-Non-Idempotent", "true")];
        let r = proxy(&server, &token, "POST", &opted, "{\"n\":1}").await;
        assert_eq!((r.status, r.body.as_str(), r.attempts()), (201, "created", Some("2")), "{label}");
        let seen = up.seen();
        assert_eq!(
            seen.iter().map(|s| (s.method.as_str(), s.body.as_str())).collect::<Vec<_>>(),
            [("POST", "{\"n\":1}"); 2]
        );

        up.script(&[answer(502, "bad gateway"), answer(200, "{}")]);
        let call = json!({ "connection": "keyed", "method": "PATCH", "url": "/items", "body": {"n": 2}, "retries": 3 });
        let r = invoke(&server, &token, call.clone()).await;
        assert_eq!((r.json()["status"].as_i64(), r.json()["attempts"].as_i64()), (Some(502), Some(1)), "{label}");
        up.script(&[answer(502, "bad gateway"), answer(200, "{}")]);
        let mut opted = call;
        opted["retry_non_idempotent"] = json!(true);
        let r = invoke(&server, &token, opted).await;
        assert_eq!((r.json()["status"].as_i64(), r.json()["attempts"].as_i64()), (Some(200), Some(2)), "{label}");
    }
}

#[tokio::test]
async fn exhausted_retries_answer_the_last_response_and_the_log_shows_the_attempts() {
    for db in databases().await {
        let label = db.label();
        let (server, up, token, admin) = setup_with_admin(&db).await;
        up.script(&[answer(503, "first"), answer(504, "second"), answer(429, "third"), answer(200, "never")]);
        let r = proxy(&server, &token, "GET", &[("Liaison-Retries", "2")], "").await;
        assert_eq!((r.status, r.body.as_str(), r.attempts()), (429, "third", Some("3")), "{label}");
        assert_eq!(up.seen().len(), 3, "{label}");

        let calls = eventually("the call in the log", || async {
            let r = admin.call("connection_calls", json!({ "link_name": "keyed" })).await;
            let list = r.json();
            (list.as_array().is_some_and(|l| !l.is_empty())).then_some(list)
        })
        .await;
        assert_eq!((calls[0]["status"].as_i64(), calls[0]["attempts"].as_i64()), (Some(429), Some(3)), "{label}");
    }
}

#[tokio::test]
async fn a_retry_after_past_the_time_limit_is_not_waited_for() {
    for db in databases().await {
        let label = db.label();
        let (server, up, token) = setup(&db).await;
        // The call's time limit is 60 s (api_timeout_seconds' default).
        let later = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(db.now_ms()).unwrap() + 3_600_000);
        for value in ["120".to_string(), httpdate::fmt_http_date(later)] {
            up.script(&[retry_after(429, &value), answer(200, "never")]);
            let before = moved(&db);
            let r = proxy(&server, &token, "GET", &[("Liaison-Retries", "5")], "").await;
            assert_eq!((r.status, r.body.as_str(), r.attempts()), (429, "slow down", Some("1")), "{label}: {value}");
            assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some(value.as_str()));
            assert_eq!(moved(&db), before, "{label}: no wait at all");
            assert_eq!(up.seen().len(), 1, "{label}");
        }
    }
}

#[tokio::test]
async fn bad_retry_requests_are_refused_before_anything_is_sent() {
    let db = sqlite().await;
    let (server, up, token) = setup(&db).await;
    up.script(&[]);
    for (name, value) in
        [("Liaison-Retries", "6"), ("Liaison-Retries", "three"), ("Liaison-Retry-Non-Idempotent", "yes")]
    {
        let r = proxy(&server, &token, "GET", &[(name, value)], "").await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (400, Some("invalid_request")),
            "{name}: {value}: {}",
            r.body
        );
        assert!(r.json()["message"].as_str().unwrap().ends_with('.'), "{}", r.body);
    }
    for retries in [json!(9), json!("many"), json!(-1)] {
        let r = invoke(&server, &token, json!({ "connection": "keyed", "url": "/items", "retries": retries })).await;
        assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("invalid_request")), "{retries}: {}", r.body);
    }
    // A body Liaison would have to keep: over 1 MiB with retries is refused (without, it streams).
    let big = "x".repeat(1024 * 1024 + 1);
    let r = proxy(&server, &token, "PUT", &[("Liaison-Retries", "1")], &big).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (413, Some("body_too_large")), "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("without Liaison-Retries"), "{}", r.body);
    assert!(up.seen().is_empty(), "nothing reached the service");
    let r = proxy(&server, &token, "PUT", &[], &big).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(up.seen()[0].body.len(), big.len());
}
