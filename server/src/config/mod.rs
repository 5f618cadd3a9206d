//! Configuration, layered once at start-up: built-in defaults → a TOML file → `LIAISON_*`
//! environment variables (`LIAISON_<KEY>`; secrets may instead come from `LIAISON_<KEY>_FILE`).
//! Unknown keys are refused with a message naming them. The result is passed in state, never global.

use crate::vault::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod embed;
mod settings;

pub use embed::Provision;
use settings::{apply_env, setting, unknown};
pub use settings::{Kind, Setting, SETTINGS};

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
    #[serde(default)]
    embed_provision_users: Option<bool>,
    #[serde(default)]
    embed_provision_admins: Option<bool>,
    #[serde(default)]
    embed_theme: Option<toml::Value>,
    #[serde(default)]
    metrics_listen: Option<String>,
    #[serde(default)]
    api_listen: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration. Its secrets are `Secret`s, so `Debug` shows none of them.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: Option<url::Url>,
    pub data_dir: PathBuf,
    /// Holds a password when PostgreSQL is used.
    pub database_url: Option<Secret>,
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
    /// The vault's keys, when given directly.
    pub master_key: Option<Secret>,
    pub key_file: PathBuf,
    pub oauth_clients_file: Option<PathBuf>,
    pub admin_token: Option<Secret>,
    pub allow_http_urls: bool,
    pub allow_private_network: crate::outbound::PrivateNetwork,
    pub outbound_timeout_seconds: u64,
    pub api_timeout_seconds: u64,
    pub api_max_body_bytes: usize,
    /// Origins (`scheme://host[:port]`) allowed to frame Liaison.
    pub embed_origins: Vec<String>,
    pub embed_secret: Option<Secret>,
    /// Whom a console may bring that Liaison does not know yet (`embed_provision_*`).
    pub embed_provision: Provision,
    /// The embedded pages' theme (`/theme.css`).
    pub embed_theme: Option<crate::theme::Theme>,
    /// Where `/metrics` is served, on its own listener (metrics.rs); off when not set.
    pub metrics_listen: Option<SocketAddr>,
    /// A listener of the scripts' API's own, served by one runtime per core (api_listen.rs); the
    /// API stays on `listen` too. Off when not set.
    pub api_listen: Option<SocketAddr>,
    /// `LIAISON_TEST_CLOCK`: the file that moves the clock (clock.rs). Debug builds only.
    #[cfg(debug_assertions)]
    pub test_clock: Option<PathBuf>,
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
        // An optional listener's address (`example` in the message); empty is none.
        let address = |raw: &Option<String>, key: &str, example: &str| -> Result<Option<SocketAddr>, ConfigError> {
            match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(a) => a.parse().map(Some).map_err(|_| bad(key, format!("`{a}` is not an address like {example}"))),
            }
        };
        let site_root =
            raw.site_root.or_else(|| lookup(env, "LEPTOS_SITE_ROOT")).unwrap_or_else(|| "target/site".into());
        let data_dir = PathBuf::from(raw.data_dir.unwrap_or_else(|| "data".into()));
        let embed = embed::validate(
            embed::Raw {
                origins: raw.embed_origins,
                secret: raw.embed_secret,
                provision_users: raw.embed_provision_users,
                provision_admins: raw.embed_provision_admins,
                theme: raw.embed_theme,
            },
            origins,
        )?;
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
            database_url: database_url.map(Secret::new),
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
            master_key: raw.master_key.filter(|s| !s.trim().is_empty()).map(Secret::new),
            oauth_clients_file: raw.oauth_clients_file.filter(|s| !s.trim().is_empty()).map(PathBuf::from),
            admin_token: admin_token.map(|t| Secret::new(t.trim())),
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
            embed_origins: embed.origins,
            embed_secret: embed.secret.map(Secret::new),
            embed_provision: embed.provision,
            embed_theme: embed.theme,
            metrics_listen: address(&raw.metrics_listen, "metrics_listen", "127.0.0.1:9090")?,
            api_listen: address(&raw.api_listen, "api_listen", "127.0.0.1:8081")?,
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

fn lookup(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
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
mod tests;
