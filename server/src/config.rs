//! Configuration, layered once at start-up: built-in defaults → a TOML file → `LIAISON_*`
//! environment variables (`LIAISON_<KEY>`; secrets may instead come from `LIAISON_<KEY>_FILE`).
//! Unknown keys are refused with a message naming them. The result is passed in state, never global.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting, its kind, its default and what it does. The README's reference is checked
/// against this list by a test, so a setting cannot go undocumented.
pub const SETTINGS: &[Setting] = &[
    Setting { key: "listen", kind: Kind::Str, secret: false, default: "127.0.0.1:3000",
        doc: "Address and port to listen on. Port 0 picks a free port (the log says which)." },
    Setting { key: "public_url", kind: Kind::Str, secret: false, default: "http://<listen address>",
        doc: "The URL people and providers use to reach Liaison (OAuth callbacks and the same-origin check are built from it). Set it when Liaison runs behind a reverse proxy." },
    Setting { key: "data_dir", kind: Kind::Str, secret: false, default: "data",
        doc: "Directory for the embedded SQLite database (created on first run)." },
    Setting { key: "database_url", kind: Kind::Str, secret: true, default: "(SQLite in data_dir)",
        doc: "A postgres:// URL to use PostgreSQL instead of the embedded SQLite (needed to run several instances). Also read from DATABASE_URL." },
    Setting { key: "db_max_connections", kind: Kind::Int, secret: false, default: "8",
        doc: "Size of the database connection pool." },
    Setting { key: "log", kind: Kind::Str, secret: false, default: "info",
        doc: "Log filter in tracing's EnvFilter syntax, e.g. `info,server=debug`." },
    Setting { key: "log_format", kind: Kind::Str, secret: false, default: "text",
        doc: "`text` for people, `json` for log collectors." },
    Setting { key: "site_root", kind: Kind::Str, secret: false, default: "target/site",
        doc: "Directory holding the built front end (`pkg/`); cargo-leptos's LEPTOS_SITE_ROOT is honoured when this is not set." },
    Setting { key: "catalog_file", kind: Kind::Str, secret: false, default: "(none)",
        doc: "A TOML file of your own predefined services, in the format of server/catalog/predefined.toml. Its entries add to the shipped ones, or replace the one with the same id." },
    Setting { key: "session_ttl_hours", kind: Kind::Int, secret: false, default: "12",
        doc: "How long a sign-in lasts, in hours (1 to 720)." },
    Setting { key: "login_lockout_seconds", kind: Kind::Int, secret: false, default: "30",
        doc: "After 5 failed sign-ins in a row for one email from one address, further attempts from there are refused for this long (1 to 900 seconds), doubling with each further failure up to 15 minutes." },
    Setting { key: "shutdown_grace_seconds", kind: Kind::Int, secret: false, default: "30",
        doc: "On SIGTERM or Ctrl-C, how long in-flight requests may take to finish." },
    Setting { key: "header_read_timeout_seconds", kind: Kind::Int, secret: false, default: "10",
        doc: "How long a client may take to send a request's head (request line and headers), and how long an idle kept-alive connection stays open (1 to 300). A connection that sends nothing, or its head too slowly, is closed after this long." },
    Setting { key: "request_timeout_seconds", kind: Kind::Int, secret: false, default: "60",
        doc: "Time limit of each page, server function and admin API request, from its head to its answer, the request body included (1 to 3600, and more than outbound_timeout_seconds). Past it the answer is 503 with the code `busy`. The scripts' API has api_timeout_seconds instead." },
    Setting { key: "max_connections", kind: Kind::Int, secret: false, default: "4096",
        doc: "The most client connections served at once (16 to 1000000); further ones wait in the operating system's queue until one closes. At start-up Liaison raises its open-files limit as far as it may, and serves fewer connections if that limit is too low (the log says so)." },
    Setting { key: "master_key", kind: Kind::Str, secret: true, default: "(the key file)",
        doc: "The vault's keys: base64 AES-256 keys separated by commas, the active one first. When set, the key file is not used. Add a new key in front and run `liaison keys rotate` to rotate." },
    Setting { key: "key_file", kind: Kind::Str, secret: false, default: "<data_dir>/master.key",
        doc: "The vault's key file (one base64 key per line, active first), created with mode 0600 on first run when master_key is not set. `liaison keys rotate` manages it." },
    Setting { key: "oauth_clients_file", kind: Kind::Str, secret: false, default: "(none)",
        doc: "A TOML file with the OAuth clients you registered for predefined services: a table per catalogue id with `client_id` and `client_secret`. Services without one ask for a client on the connection form." },
    Setting { key: "admin_token", kind: Kind::Str, secret: true, default: "(admin API off)",
        doc: "The bearer token of the admin API (`/api/admin/v1/…`, internal connections); at least 32 characters. The admin API is off while it is not set." },
    Setting { key: "allow_http_urls", kind: Kind::Bool, secret: false, default: "false",
        doc: "Accept plain http:// URLs for services (for test providers; never for real ones)." },
    Setting { key: "allow_private_network", kind: Kind::Str, secret: false, default: "false",
        doc: "Let outbound calls (token, revoke, API) reach internal addresses: `true` for every loopback, private and link-local address except the cloud metadata endpoints, or a comma-separated list of CIDR ranges (`127.0.0.0/8,10.1.0.0/16,::1/128`). A metadata endpoint (169.254.169.254, fd00:ec2::254, …) opens only when a range names it exactly (`169.254.169.254/32`). Off by default: it is the guard against server-side request forgery." },
    Setting { key: "outbound_timeout_seconds", kind: Kind::Int, secret: false, default: "20",
        doc: "Time limit of each call Liaison makes to a provider's token and revoke endpoints (1 to 300). A refresh lease lasts this long plus 5 seconds." },
    Setting { key: "api_timeout_seconds", kind: Kind::Int, secret: false, default: "60",
        doc: "Time limit of each call scripts make through the API (proxy and invoke), from connecting to the last byte of the answer (1 to 3600)." },
    Setting { key: "api_max_body_bytes", kind: Kind::Int, secret: false, default: "10485760",
        doc: "The largest request body a script may send through the API, and the largest answer `invoke` returns (1024 to 1073741824). Proxied answers stream and are limited by time only." },
    Setting { key: "embed_origins", kind: Kind::Str, secret: false, default: "(embedding off)",
        doc: "Origins of the consoles that may show Liaison in an iframe, comma-separated (e.g. `https://console.example.com`). They make up the `frame-ancestors` of every page and are the only targets of the embedded page's events." },
    Setting { key: "embed_secret", kind: Kind::Str, secret: true, default: "(embedded sign-in off)",
        doc: "The key (at least 32 characters) a host console signs embedded sign-in tokens with (HMAC-SHA256): `/embed/start?token=…` signs its user in inside the iframe. See the README's Embedding section." },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
}

#[derive(Debug)]
pub struct Setting {
    pub key: &'static str,
    pub kind: Kind,
    /// May also be given as `LIAISON_<KEY>_FILE`, whose content is the value.
    pub secret: bool,
    pub default: &'static str,
    pub doc: &'static str,
}

impl Setting {
    pub fn env_name(&self) -> String {
        format!("LIAISON_{}", self.key.to_uppercase())
    }
}

/// Environment variables that are not settings but are read by the command line, and the
/// integration tests' clock (debug builds only, see clock.rs).
const NON_SETTING_ENV: &[&str] = &["LIAISON_CONFIG", TEST_CLOCK_ENV];

/// The file a debug build's clock is moved by (clock.rs); a release build refuses to start with it.
pub const TEST_CLOCK_ENV: &str = "LIAISON_TEST_CLOCK";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the configuration file {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("unknown setting `{key}` in {origin}. Known settings: {known}")]
    Unknown { key: String, origin: String, known: String },
    #[error("bad value for `{key}` ({origin}): {message}")]
    Invalid { key: String, origin: String, message: String },
}

/// The settings Liaison runs with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    public_url: Option<String>,
    #[serde(default)]
    data_dir: Option<String>,
    #[serde(default)]
    database_url: Option<String>,
    #[serde(default)]
    db_max_connections: Option<i64>,
    #[serde(default)]
    log: Option<String>,
    #[serde(default)]
    log_format: Option<String>,
    #[serde(default)]
    site_root: Option<String>,
    #[serde(default)]
    catalog_file: Option<String>,
    #[serde(default)]
    session_ttl_hours: Option<i64>,
    #[serde(default)]
    login_lockout_seconds: Option<i64>,
    #[serde(default)]
    shutdown_grace_seconds: Option<i64>,
    #[serde(default)]
    header_read_timeout_seconds: Option<i64>,
    #[serde(default)]
    request_timeout_seconds: Option<i64>,
    #[serde(default)]
    max_connections: Option<i64>,
    #[serde(default)]
    master_key: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    oauth_clients_file: Option<String>,
    #[serde(default)]
    admin_token: Option<String>,
    #[serde(default)]
    allow_http_urls: Option<bool>,
    #[serde(default)]
    allow_private_network: Option<toml::Value>,
    #[serde(default)]
    outbound_timeout_seconds: Option<i64>,
    #[serde(default)]
    api_timeout_seconds: Option<i64>,
    #[serde(default)]
    api_max_body_bytes: Option<i64>,
    #[serde(default)]
    embed_origins: Option<String>,
    #[serde(default)]
    embed_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: Option<url::Url>,
    pub data_dir: PathBuf,
    /// Holds a password when PostgreSQL is used: never printed (see the `Debug` impl).
    pub database_url: Option<String>,
    pub db_max_connections: u32,
    pub log: String,
    pub log_format: LogFormat,
    pub site_root: PathBuf,
    pub catalog_file: Option<PathBuf>,
    pub session_ttl_hours: u32,
    pub login_lockout_seconds: u64,
    pub shutdown_grace_seconds: u64,
    /// Slow clients: the time to send a request's head, a request's time limit (pages and server
    /// functions), and the connections served at once.
    pub header_read_timeout_seconds: u64,
    pub request_timeout_seconds: u64,
    pub max_connections: usize,
    /// The vault's keys, when given directly (never printed).
    pub master_key: Option<String>,
    pub key_file: PathBuf,
    pub oauth_clients_file: Option<PathBuf>,
    /// Never printed.
    pub admin_token: Option<String>,
    pub allow_http_urls: bool,
    pub allow_private_network: crate::outbound::PrivateNetwork,
    pub outbound_timeout_seconds: u64,
    pub api_timeout_seconds: u64,
    pub api_max_body_bytes: usize,
    /// Origins (`scheme://host[:port]`) allowed to frame Liaison.
    pub embed_origins: Vec<String>,
    pub embed_secret: Option<String>,
    /// `LIAISON_TEST_CLOCK`: the file that moves the clock (clock.rs). Debug builds only.
    #[cfg(debug_assertions)]
    pub test_clock: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url.as_ref().map(url::Url::as_str))
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "[set]"))
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("site_root", &self.site_root)
            .field("session_ttl_hours", &self.session_ttl_hours)
            .field("master_key", &self.master_key.as_ref().map(|_| "[set]"))
            .field("key_file", &self.key_file)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "[set]"))
            .field("embed_origins", &self.embed_origins)
            .field("embed_secret", &self.embed_secret.as_ref().map(|_| "[set]"))
            .field("allow_http_urls", &self.allow_http_urls)
            .field("allow_private_network", &self.allow_private_network)
            .finish_non_exhaustive()
    }
}

/// Where each value came from, for messages.
type Origins = BTreeMap<String, String>;

impl Config {
    /// Loads defaults → `file` (if given) → the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// As [`Config::load`], with the environment passed in (tests).
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut table = toml::Table::new();
        let mut origins = Origins::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
            let file_table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Toml {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
            for (key, value) in file_table {
                let origin = format!("the configuration file {}", path.display());
                if setting(&key).is_none() {
                    return Err(unknown(&key, origin));
                }
                origins.insert(key.clone(), origin);
                table.insert(key, value);
            }
        }
        apply_env(env, &mut table, &mut origins)?;
        let raw: Raw = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| ConfigError::Invalid {
            key: "?".into(),
            origin: "configuration".into(),
            message: e.message().to_string(),
        })?;
        Self::validate(raw, &origins, env)
    }

    fn validate(raw: Raw, origins: &Origins, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            origin: origins.get(key).cloned().unwrap_or_else(|| "default".into()),
            message,
        };
        let listen = raw.listen.as_deref().unwrap_or("127.0.0.1:3000");
        let listen: SocketAddr =
            listen.parse().map_err(|_| bad("listen", format!("`{listen}` is not an address like 127.0.0.1:3000")))?;
        let public_url = match raw.public_url.as_deref() {
            None => None,
            Some(s) => Some(parse_public_url(s).map_err(|m| bad("public_url", m))?),
        };
        let log_format = match raw.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(bad("log_format", format!("`{other}` is neither `text` nor `json`"))),
        };
        let log = raw.log.unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| bad("log", format!("`{log}` is not a valid log filter: {e}")))?;
        let database_url = raw.database_url.or_else(|| lookup(env, "DATABASE_URL")).filter(|s| !s.trim().is_empty());
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:")) {
                // The value may hold a password: the message shows only its scheme.
                let scheme = url.split(':').next().unwrap_or("");
                return Err(bad(
                    "database_url",
                    format!("expected a postgres:// (or sqlite:) URL, got one starting with `{scheme}:`"),
                ));
            }
        }
        let in_range = |key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64| -> Result<i64, ConfigError> {
            let v = v.unwrap_or(default);
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(bad(key, format!("{v} is outside {lo}..={hi}")))
            }
        };
        let site_root =
            raw.site_root.or_else(|| lookup(env, "LEPTOS_SITE_ROOT")).unwrap_or_else(|| "target/site".into());
        let data_dir = PathBuf::from(raw.data_dir.unwrap_or_else(|| "data".into()));
        let mut embed_origins = Vec::new();
        for item in raw.embed_origins.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty())
        {
            let origin = url::Url::parse(item)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .map(|u| u.origin().ascii_serialization())
                .filter(|o| o == item.trim_end_matches('/'))
                .ok_or_else(|| {
                    bad(
                        "embed_origins",
                        format!(
                            "{item:?} is not an origin like https://console.example.com (scheme, host and port only)"
                        ),
                    )
                })?;
            embed_origins.push(origin);
        }
        let embed_secret = raw.embed_secret.filter(|t| !t.trim().is_empty()).map(|t| t.trim().to_string());
        if embed_secret.as_ref().is_some_and(|t| t.chars().count() < 32) {
            return Err(bad("embed_secret", "use at least 32 characters (e.g. `openssl rand -hex 32`)".into()));
        }
        if embed_secret.is_some() && embed_origins.is_empty() {
            return Err(bad(
                "embed_secret",
                "set embed_origins too: embedded sign-in needs the consoles' origins".into(),
            ));
        }
        // A request's time limit leaves room for a call to a provider.
        let outbound_timeout_seconds =
            in_range("outbound_timeout_seconds", raw.outbound_timeout_seconds, 20, 1, 300)? as u64;
        let request_timeout_seconds =
            in_range("request_timeout_seconds", raw.request_timeout_seconds, 60, 1, 3600)? as u64;
        if request_timeout_seconds <= outbound_timeout_seconds {
            return Err(bad(
                "request_timeout_seconds",
                format!(
                    "{request_timeout_seconds} is not more than outbound_timeout_seconds ({outbound_timeout_seconds}): a call to a provider would be cut short"
                ),
            ));
        }
        let test_clock = lookup(env, TEST_CLOCK_ENV).filter(|s| !s.trim().is_empty()).map(PathBuf::from);
        #[cfg(not(debug_assertions))]
        if test_clock.is_some() {
            return Err(ConfigError::Invalid {
                key: TEST_CLOCK_ENV.into(),
                origin: "the environment".into(),
                message: "the test clock exists only in debug builds (the integration tests); this release build \
                    refuses to start with it: unset it"
                    .into(),
            });
        }
        let admin_token = raw.admin_token.filter(|t| !t.trim().is_empty());
        if admin_token.as_ref().is_some_and(|t| t.trim().chars().count() < 32) {
            return Err(bad("admin_token", "use at least 32 characters (e.g. `openssl rand -hex 32`)".into()));
        }
        Ok(Config {
            listen,
            public_url,
            key_file: raw
                .key_file
                .filter(|s| !s.trim().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("master.key")),
            data_dir,
            database_url,
            db_max_connections: in_range("db_max_connections", raw.db_max_connections, 8, 1, 1000)? as u32,
            log,
            log_format,
            site_root: PathBuf::from(site_root),
            catalog_file: raw.catalog_file.filter(|s| !s.trim().is_empty()).map(PathBuf::from),
            session_ttl_hours: in_range("session_ttl_hours", raw.session_ttl_hours, 12, 1, 720)? as u32,
            login_lockout_seconds: in_range("login_lockout_seconds", raw.login_lockout_seconds, 30, 1, 900)? as u64,
            shutdown_grace_seconds: in_range("shutdown_grace_seconds", raw.shutdown_grace_seconds, 30, 0, 3600)? as u64,
            header_read_timeout_seconds: in_range(
                "header_read_timeout_seconds",
                raw.header_read_timeout_seconds,
                10,
                1,
                300,
            )? as u64,
            request_timeout_seconds,
            max_connections: in_range("max_connections", raw.max_connections, 4096, 16, 1_000_000)? as usize,
            master_key: raw.master_key.filter(|s| !s.trim().is_empty()),
            oauth_clients_file: raw.oauth_clients_file.filter(|s| !s.trim().is_empty()).map(PathBuf::from),
            admin_token: admin_token.map(|t| t.trim().to_string()),
            allow_http_urls: raw.allow_http_urls.unwrap_or(false),
            allow_private_network: match raw.allow_private_network {
                None => crate::outbound::PrivateNetwork::Off,
                Some(toml::Value::Boolean(all)) => all.into(),
                Some(toml::Value::String(s)) => {
                    crate::outbound::PrivateNetwork::parse(&s).map_err(|m| bad("allow_private_network", m))?
                }
                Some(_) => return Err(bad("allow_private_network", "use true, false or a list of CIDR ranges".into())),
            },
            outbound_timeout_seconds: in_range("outbound_timeout_seconds", raw.outbound_timeout_seconds, 20, 1, 300)?
                as u64,
            embed_origins,
            embed_secret,
            api_timeout_seconds: in_range("api_timeout_seconds", raw.api_timeout_seconds, 60, 1, 3600)? as u64,
            api_max_body_bytes: in_range("api_max_body_bytes", raw.api_max_body_bytes, 10 * 1024 * 1024, 1024, 1 << 30)?
                as usize,
            #[cfg(debug_assertions)]
            test_clock,
        })
    }

    /// The public URL: configured, or derived from the address actually bound.
    pub fn public_url_for(&self, bound: SocketAddr) -> Result<url::Url, url::ParseError> {
        match &self.public_url {
            Some(url) => Ok(url.clone()),
            None => url::Url::parse(&format!("http://{bound}/")),
        }
    }
}

fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

fn unknown(key: &str, origin: String) -> ConfigError {
    ConfigError::Unknown {
        key: key.into(),
        origin,
        known: SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>().join(", "),
    }
}

fn lookup(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn apply_env(env: &[(String, String)], table: &mut toml::Table, origins: &mut Origins) -> Result<(), ConfigError> {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("LIAISON_") else { continue };
        if NON_SETTING_ENV.contains(&name.as_str()) {
            continue;
        }
        let lower = rest.to_lowercase();
        let (key, value, origin) = match setting(&lower) {
            Some(s) => (s, value.clone(), format!("environment variable {name}")),
            None => match lower.strip_suffix("_file").and_then(setting).filter(|s| s.secret) {
                Some(s) => {
                    let content = std::fs::read_to_string(value).map_err(|e| ConfigError::Invalid {
                        key: s.key.into(),
                        origin: format!("environment variable {name}"),
                        message: format!("cannot read the file {value}: {e}"),
                    })?;
                    (s, content.trim_end_matches(['\r', '\n']).to_string(), format!("the file named by {name}"))
                }
                None => {
                    return Err(ConfigError::Unknown {
                        key: name.clone(),
                        origin: "the environment".into(),
                        known: SETTINGS.iter().map(Setting::env_name).collect::<Vec<_>>().join(", "),
                    })
                }
            },
        };
        let parsed = match key.kind {
            Kind::Str => toml::Value::String(value),
            Kind::Int => toml::Value::Integer(value.trim().parse().map_err(|_| ConfigError::Invalid {
                key: key.key.into(),
                origin: origin.clone(),
                message: format!("`{value}` is not a whole number"),
            })?),
            Kind::Bool => toml::Value::Boolean(match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" | "" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: key.key.into(),
                        origin,
                        message: format!("`{value}` is neither true nor false"),
                    })
                }
            }),
        };
        origins.insert(key.key.into(), origin);
        table.insert(key.key.into(), parsed);
    }
    Ok(())
}

/// An absolute http(s) URL with a host, no credentials, no query and no fragment.
fn parse_public_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("`{s}` is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{s}` must start with https:// (or http://)"));
    }
    if url.host().is_none() {
        return Err(format!("`{s}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not contain a user name or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{s}` must not have a query (?…) or a fragment (#…)"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_apply_without_file_or_environment() {
        let c = Config::load_from(None, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert!(c.database_url.is_none());
        assert_eq!(c.session_ttl_hours, 12);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("liaison.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\nsession_ttl_hours = 5\n").unwrap();
        let c = Config::load_from(Some(&path), &env(&[("LIAISON_SESSION_TTL_HOURS", "7")])).unwrap();
        assert_eq!(c.listen.port(), 4000);
        assert_eq!(c.session_ttl_hours, 7);
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("liaison.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:4000\"\n").unwrap();
        let e = Config::load_from(Some(&path), &[]).unwrap_err().to_string();
        assert!(e.starts_with("unknown setting `lisen` in the configuration file"), "{e}");
        let e = Config::load_from(None, &env(&[("LIAISON_LISEN", "x")])).unwrap_err().to_string();
        assert!(e.starts_with("unknown setting `LIAISON_LISEN` in the environment"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key_and_where_it_came_from() {
        let e = Config::load_from(None, &env(&[("LIAISON_LISTEN", "nowhere")])).unwrap_err().to_string();
        assert_eq!(
            e,
            "bad value for `listen` (environment variable LIAISON_LISTEN): `nowhere` is not an address like 127.0.0.1:3000"
        );
        let e = Config::load_from(None, &env(&[("LIAISON_SESSION_TTL_HOURS", "ten")])).unwrap_err().to_string();
        assert!(e.contains("`ten` is not a whole number"), "{e}");
        let e = Config::load_from(None, &env(&[("LIAISON_SESSION_TTL_HOURS", "0")])).unwrap_err().to_string();
        assert!(e.contains("0 is outside 1..=720"), "{e}");
        let e = Config::load_from(None, &env(&[("LIAISON_LOG_FORMAT", "xml")])).unwrap_err().to_string();
        assert!(e.contains("`xml` is neither `text` nor `json`"), "{e}");
        let e = Config::load_from(None, &env(&[("LIAISON_ALLOW_HTTP_URLS", "maybe")])).unwrap_err().to_string();
        assert!(e.contains("`maybe` is neither true nor false"), "{e}");
        let e = Config::load_from(None, &env(&[("LIAISON_ADMIN_TOKEN", "short")])).unwrap_err().to_string();
        assert!(e.contains("at least 32 characters") && !e.contains("short"), "{e}");
        let c = Config::load_from(None, &env(&[("LIAISON_ALLOW_PRIVATE_NETWORK", "true")])).unwrap();
        assert!(c.allow_private_network == crate::outbound::PrivateNetwork::All && !c.allow_http_urls);
        let c = Config::load_from(None, &env(&[("LIAISON_ALLOW_PRIVATE_NETWORK", "127.0.0.1/32, ::1/128")])).unwrap();
        assert!(matches!(&c.allow_private_network, crate::outbound::PrivateNetwork::Ranges(r) if r.len() == 2));
        let e = Config::load_from(None, &env(&[("LIAISON_ALLOW_PRIVATE_NETWORK", "10.0.0.1/8")])).unwrap_err();
        assert!(e.to_string().contains("did you mean 10.0.0.0/8?"), "{e}");
        assert_eq!(c.key_file, PathBuf::from("data/master.key"));
        for (url, msg) in [
            ("ftp://x.example", "must start with https://"),
            ("https://u:p@x.example", "must not contain a user name or password"),
            ("https://x.example/#a", "must not have a query"),
            ("x.example", "is not an absolute URL"),
        ] {
            let e = Config::load_from(None, &env(&[("LIAISON_PUBLIC_URL", url)])).unwrap_err().to_string();
            assert!(e.contains(msg), "{url}: {e}");
        }
    }

    #[test]
    fn slow_client_limits_have_defaults_and_are_checked() {
        let c = Config::load_from(None, &[]).unwrap();
        assert_eq!((c.header_read_timeout_seconds, c.request_timeout_seconds, c.max_connections), (10, 60, 4096));
        let e = Config::load_from(None, &env(&[("LIAISON_HEADER_READ_TIMEOUT_SECONDS", "0")])).unwrap_err().to_string();
        assert!(e.contains("`header_read_timeout_seconds`") && e.contains("0 is outside 1..=300"), "{e}");
        let e = Config::load_from(None, &env(&[("LIAISON_MAX_CONNECTIONS", "8")])).unwrap_err().to_string();
        assert!(e.contains("`max_connections`") && e.contains("8 is outside 16..=1000000"), "{e}");
        let e = Config::load_from(None, &env(&[("LIAISON_REQUEST_TIMEOUT_SECONDS", "20")])).unwrap_err().to_string();
        assert_eq!(
            e,
            "bad value for `request_timeout_seconds` (environment variable LIAISON_REQUEST_TIMEOUT_SECONDS): 20 is not more than outbound_timeout_seconds (20): a call to a provider would be cut short"
        );
        let c = Config::load_from(
            None,
            &env(&[("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "1"), ("LIAISON_REQUEST_TIMEOUT_SECONDS", "2")]),
        )
        .unwrap();
        assert_eq!(c.request_timeout_seconds, 2);
    }

    #[test]
    fn database_url_errors_never_show_the_url() {
        let e = Config::load_from(None, &env(&[("LIAISON_DATABASE_URL", "mysql://root:s3cr3t@db/x")]))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(e.contains("`mysql:`"), "{e}");
    }

    #[test]
    fn secrets_can_come_from_files_and_database_url_from_the_plain_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, "postgres://u:pw@localhost/db\n").unwrap();
        let c = Config::load_from(None, &env(&[("LIAISON_DATABASE_URL_FILE", path.to_str().unwrap())])).unwrap();
        assert_eq!(c.database_url.as_deref(), Some("postgres://u:pw@localhost/db"));
        assert!(!format!("{c:?}").contains("pw@"));
        let c = Config::load_from(None, &env(&[("DATABASE_URL", "postgres://h/db")])).unwrap();
        assert_eq!(c.database_url.as_deref(), Some("postgres://h/db"));
        // Only secrets have a _FILE form.
        let e = Config::load_from(None, &env(&[("LIAISON_LISTEN_FILE", "/x")])).unwrap_err().to_string();
        assert!(e.contains("LIAISON_LISTEN_FILE"), "{e}");
    }

    #[test]
    fn readme_documents_every_setting() {
        let readme = include_str!("../../README.md");
        for s in SETTINGS {
            assert!(readme.contains(&format!("`{}`", s.key)), "README lacks `{}`", s.key);
            assert!(readme.contains(&s.env_name()), "README lacks {}", s.env_name());
        }
    }
}
