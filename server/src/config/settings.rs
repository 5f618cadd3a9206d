//! Every setting Liaison reads: its key, kind, default and what it does (the README's reference is
//! checked against this list), and how the environment names them.

use super::{ConfigError, Origins, NON_SETTING_ENV};

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
        doc: "The most client connections served at once (16 to 1000000); further ones wait in the operating system's queue until one closes. At start-up Liaison raises its open-files limit as far as it may, and serves fewer connections if that limit is too low (the log says so). With `api_listen` set, half are served on `listen` and half on the API's own listener." },
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
    Setting { key: "embed_provision_users", kind: Kind::Bool, secret: false, default: "false",
        doc: "Let a console's sign-in token bring a person Liaison does not know: on their first arrival they are created, as a member, in the organisation the token names (`org`), with the token's `name`. Every creation is audited. They have no password: they sign in through the console only. A token never changes a person who exists." },
    Setting { key: "embed_provision_admins", kind: Kind::Bool, secret: false, default: "false",
        doc: "With embed_provision_users, let a token whose `role` is `admin` create an admin; otherwise such a token is refused." },
    Setting { key: "embed_theme", kind: Kind::Str, secret: false, default: "(Liaison's own look)",
        doc: "The embedded pages' theme, as a TOML table or `key=value` pairs separated by `;` (e.g. `accent=#0b6e4f; radius=4px; scheme=light`). Colours (`accent`, `accent_text`, `background`, `surface`, `text`, `muted`, `border`) are `#rgb` or `#rrggbb`; `radius` is `0px` to `24px`; `font` is `system`, `sans-serif`, `serif` or `monospace`; `scheme` is `auto` (the browser's preference, the default), `light` or `dark`. Anything else, or colours under a 4.5:1 contrast with those they meet in a scheme the page may show, stops the start with the reason." },
    Setting { key: "api_listen", kind: Kind::Str, secret: false, default: "(the API on listen only)",
        doc: "Address and port of a listener of the scripts' API's own (e.g. `127.0.0.1:8081`): `/api/v1/` only, no pages, served on Linux by one thread per core (elsewhere one), each accepting its share of connections and calling services with its own connection pool. Scripts that call through it spend less CPU per call; the API stays on `listen` too, and `max_connections` is then shared, half each. Put the same TLS proxy in front of it as in front of `listen`." },
    Setting { key: "metrics_listen", kind: Kind::Str, secret: false, default: "(metrics off)",
        doc: "Address and port of a listener of its own that serves `/metrics` in Prometheus text format (e.g. `127.0.0.1:9090`); never on `listen`. It has no authentication: keep it on loopback or a private network." },
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

pub(super) fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

pub(super) fn unknown(key: &str, origin: String) -> ConfigError {
    ConfigError::Unknown {
        key: key.into(),
        origin,
        known: SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>().join(", "),
    }
}

/// The `LIAISON_*` environment variables (and `LIAISON_<KEY>_FILE` for secrets) over the table.
pub(super) fn apply_env(
    env: &[(String, String)],
    table: &mut toml::Table,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
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
