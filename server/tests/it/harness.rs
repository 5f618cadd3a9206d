//! Spawning servers and talking to them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_liaison");

/// Where a server keeps its data: a fresh data directory, and a fresh PostgreSQL database when
/// the run is on PostgreSQL.
#[derive(Clone)]
pub struct Db {
    pub data_dir: Arc<tempfile::TempDir>,
    pub database_url: Option<String>,
}

impl Db {
    /// The file that moves the clock of every server and command run on this database (the
    /// server's `LIAISON_TEST_CLOCK`, debug builds only): milliseconds ahead of the wall clock.
    pub fn clock_file(&self) -> std::path::PathBuf {
        self.data_dir.path().join("test-clock")
    }

    /// Moves the clock of every server and command on this database forward by `by`, at once:
    /// their next reading of "now" is that much later. Time is moved, not slept.
    pub fn advance_clock(&self, by: Duration) {
        let path = self.clock_file();
        let now: i64 = std::fs::read_to_string(&path).map(|t| t.trim().parse().unwrap()).unwrap_or(0);
        let next = now + i64::try_from(by.as_millis()).unwrap();
        // Written beside it and renamed over it: a server never reads half a number.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, next.to_string()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// What "now" is for this database's servers, in Unix milliseconds (the wall clock moved by
    /// [`Db::advance_clock`]).
    pub fn now_ms(&self) -> i64 {
        let offset: i64 = std::fs::read_to_string(self.clock_file()).map(|t| t.trim().parse().unwrap()).unwrap_or(0);
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + offset
    }

    pub fn label(&self) -> &'static str {
        if self.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// A command for the binary with a clean environment for this database.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("LIAISON_") || key == "DATABASE_URL" || key.starts_with("LEPTOS_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("LIAISON_DATA_DIR", self.data_dir.path());
        cmd.env("LIAISON_TEST_CLOCK", self.clock_file());
        if let Some(url) = &self.database_url {
            cmd.env("LIAISON_DATABASE_URL", url);
        }
        cmd
    }
}

pub async fn sqlite() -> Db {
    Db { data_dir: Arc::new(tempfile::tempdir().unwrap()), database_url: None }
}

pub async fn postgres() -> Option<Db> {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs need TEST_DATABASE_URL (see .ci/run)");
        return None;
    };
    let name = format!("liaison_t{:016x}", rand::random::<u64>());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    Some(Db { data_dir: Arc::new(tempfile::tempdir().unwrap()), database_url: Some(url.to_string()) })
}

/// Every database the suite runs on.
pub async fn databases() -> Vec<Db> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

pub struct Server {
    child: Child,
    pub url: String,
    pub log: Arc<Mutex<String>>,
    db: Db,
}

impl Server {
    pub fn start(db: &Db) -> Server {
        Self::start_with(db, &[])
    }

    /// A server that may call providers on this machine over plain http (the test providers),
    /// with `env` besides.
    pub fn with_local_providers(db: &Db, env: &[(&str, &str)]) -> Server {
        let local = [("LIAISON_ALLOW_HTTP_URLS", "true"), ("LIAISON_ALLOW_PRIVATE_NETWORK", "true")];
        Server::start_with(db, &[&local[..], env].concat())
    }

    pub fn start_with(db: &Db, env: &[(&str, &str)]) -> Server {
        let mut cmd = db.command();
        cmd.arg("serve").env("LIAISON_LISTEN", "127.0.0.1:0").env("LIAISON_LOG", log_filter());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let url = rest.split_whitespace().next().unwrap_or_default().to_string();
                        let _ = tx.send(url);
                    }
                    log.lock().unwrap().push_str(&(line + "\n"));
                }
            });
        }
        // Only the readers hold senders now: if the server dies, `recv` ends at once.
        drop(tx);
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start; its log:\n{}", log.lock().unwrap());
            }
        };
        Server { child, url, log, db: db.clone() }
    }

    /// Moves this server's clock (and that of every other process on its database) forward.
    pub fn advance_clock(&self, by: Duration) {
        self.db.advance_clock(by);
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process dies on the spot, whatever it was doing.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The server process's id (to read its /proc entries).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> Client {
        Client { base: self.url.clone(), http: http_client(), cookie: Arc::new(Mutex::new(None)) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it gives a value (every 20 ms, for at most 30 s), for what happens in the
/// background (the call log written, a count reached): the test waits for the event, not for a
/// guessed time. Panics naming `what` when it never happens.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A browser-like client: sends `Origin`, keeps the session cookie by hand (so it can be carried
/// to another server process on another port).
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Arc<Mutex<Option<String>>>,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn set_cookie(&self) -> Option<String> {
        self.headers.get("set-cookie").map(|v| v.to_str().unwrap().to_string())
    }
}

impl Server {
    /// A script's GET of `path` through `link`'s proxy with the API token `token`: the status and
    /// the JSON body (null when it is not JSON).
    pub async fn proxy_get(&self, token: &str, link: &str, path: &str) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/connections/{link}/proxy/{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

impl Client {
    /// Creates an API token with `create_api_token`'s arguments `args`: its id and its value.
    pub async fn api_token_with(&self, args: serde_json::Value) -> (i64, String) {
        let r = self.call("create_api_token", args).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        (v["view"]["id"].as_i64().unwrap(), v["token"].as_str().unwrap().to_string())
    }

    /// Creates an API token named `name` that does not expire: its id and its value.
    pub async fn api_token(&self, name: &str) -> (i64, String) {
        self.api_token_with(serde_json::json!({ "name": name })).await
    }

    pub fn with_base(&self, base: &str) -> Client {
        Client { base: base.to_string(), ..self.clone() }
    }

    /// Calls a server function the way the hydrated page does (same-origin fetch, form body).
    pub async fn rpc(&self, name: &str, form: &[(&str, &str)]) -> Reply {
        self.rpc_with(name, form, &[("origin", self.base.as_str()), ("sec-fetch-site", "same-origin")]).await
    }

    pub async fn rpc_with(&self, name: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
        let mut req = self.http.post(format!("{}/rpc/{name}", self.base)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// Calls a server function with a JSON body, as the hydrated page does for structured forms.
    pub async fn call(&self, name: &str, body: serde_json::Value) -> Reply {
        let req = self
            .http
            .post(format!("{}/rpc/{name}", self.base))
            .header("origin", self.base.as_str())
            .header("sec-fetch-site", "same-origin")
            .json(&body);
        self.send(req).await
    }

    /// A page load from Liaison's own page (as `window.open` does).
    pub async fn open(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)).header("sec-fetch-site", "same-origin")).await
    }

    pub async fn send_get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.http.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    async fn send(&self, mut req: reqwest::RequestBuilder) -> Reply {
        if let Some(c) = self.cookie.lock().unwrap().clone() {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or_default().to_string();
            let cleared = set.contains("Max-Age=0");
            *self.cookie.lock().unwrap() = (!cleared).then_some(pair);
        }
        let body = res.text().await.unwrap();
        Reply { status, headers, body }
    }

    pub async fn me(&self) -> serde_json::Value {
        let r = self.rpc("me", &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }
}

pub const ADMIN_EMAIL: &str = "ada@acme.example";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Runs first-run setup through the server function, leaving the client signed in.
pub async fn setup(client: &Client) -> Reply {
    client
        .rpc(
            "setup",
            &[
                ("org_name", "Acme"),
                ("name", "Ada Admin"),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await
}

/// The servers' log filter: info, and what `IT_LOG` says of named targets (e.g.
/// `IT_LOG=sqlx::query=debug`); a bare level there is ignored, so the log stays at info at least.
fn log_filter() -> String {
    let more = std::env::var("IT_LOG").unwrap_or_default();
    let targets: Vec<&str> = more.split(',').filter(|d| d.contains('=')).collect();
    format!("info,tower_http=debug,{}", targets.join(","))
}
