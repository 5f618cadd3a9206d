//! The doctor's checks that need no database: the built site, the catalogue and the operator's
//! OAuth clients, `public_url` against the cookies, the embed settings, the key file's mode and
//! owner, and outbound DNS. The pure ones take their inputs as arguments, so each failing case has
//! a unit test.

use super::{Line, TIME_LIMIT};
use crate::catalog::Catalog;
use crate::config::Config;
use std::path::Path;

/// The files every page loads (cargo-leptos's output name is `liaison`).
const SITE_FILES: [&str; 3] = ["pkg/liaison.wasm", "pkg/liaison.js", "pkg/liaison.css"];

/// The built front end: without it every page is served without its script.
pub fn site(site_root: &Path) -> Line {
    let missing: Vec<&str> = SITE_FILES.into_iter().filter(|f| !site_root.join(f).is_file()).collect();
    let root = crate::backup::absolute(site_root);
    if missing.is_empty() {
        Line::ok("site", format!("{} holds the built front end", root.display()))
    } else {
        Line::fail(
            "site",
            format!(
                "{} has no {}: pages would load without their script or style. Set site_root to the release's site/ \
                 directory (or build it: make run)",
                root.display(),
                missing.join(" or ")
            ),
        )
    }
}

/// The shipped catalogue plus the operator's `catalog_file`.
pub fn catalogue(config: &Config) -> Result<Catalog, Line> {
    Catalog::load(config.catalog_file.as_deref()).map_err(|problems| {
        Line::fail(
            "catalogue",
            format!(
                "{} problem(s), serve would refuse to start: {}. Run `liaison catalog validate` and fix each",
                problems.len(),
                problems.join("; ")
            ),
        )
    })
}

/// The catalogue loaded; now the operator's OAuth clients against it.
pub fn operator_clients(config: &Config, catalog: &Catalog) -> Line {
    let from = config.catalog_file.as_ref().map(|f| format!(", with {}", f.display())).unwrap_or_default();
    match crate::services::OperatorClients::load(config.oauth_clients_file.as_deref(), catalog) {
        Ok(_) => Line::ok("catalogue", format!("{} services{from}", catalog.services().len())),
        // The message names the file and the entry, never a client secret.
        Err(e) => Line::fail("catalogue", format!("{e}; serve would refuse to start. Fix the file")),
    }
}

/// `public_url` against the session cookie: `Secure` (and `__Host-`) only behind https.
pub fn public_url(config: &Config) -> Line {
    let loopback = config.listen.ip().is_loopback();
    match &config.public_url {
        None if loopback => Line::ok(
            "public_url",
            format!("not set: http://{} on this machine only (cookies without Secure)", config.listen),
        ),
        None => Line::warn(
            "public_url",
            format!(
                "not set while listen ({}) is reachable from other machines: sign-in cookies would travel without \
                 TLS and OAuth callbacks would name the bare address. Put Liaison behind a TLS proxy and set \
                 public_url to its https:// address",
                config.listen
            ),
        ),
        Some(url) if url.scheme() == "https" => {
            Line::ok("public_url", format!("{} (session cookie Secure, __Host- prefixed)", url.as_str()))
        }
        Some(url) if is_local(url) => {
            Line::ok("public_url", format!("{} on this machine only (cookies without Secure)", url.as_str()))
        }
        Some(url) => Line::warn(
            "public_url",
            format!(
                "{} is plain http: the session cookie cannot be Secure, and sign-ins travel unencrypted. Serve \
                 Liaison through a TLS proxy and set public_url to https://",
                url.as_str()
            ),
        ),
    }
}

/// The embed settings: the embedded session's cookie is `SameSite=None; Secure`, which browsers
/// keep only over https (or on localhost).
pub fn embedding(config: &Config) -> Line {
    if config.embed_origins.is_empty() {
        return Line::ok("embedding", "off (embed_origins not set)");
    }
    let origins = config.embed_origins.join(", ");
    let sign_in = if config.embed_secret.is_some() {
        "embedded sign-in on (embed_secret set, at least 32 characters)"
    } else {
        "embedded sign-in off (embed_secret not set)"
    };
    // Without public_url, Liaison answers at its listen address: local when that is loopback.
    let public_https = match &config.public_url {
        Some(u) => u.scheme() == "https" || is_local(u),
        None => config.listen.ip().is_loopback(),
    };
    if config.embed_secret.is_some() && !public_https {
        return Line::fail(
            "embedding",
            "embed_secret is set but public_url is not https://: the embedded session's cookie is SameSite=None; \
             Secure, which browsers refuse over http, so no one could sign in inside the iframe. Set public_url \
             to Liaison's https:// address",
        );
    }
    let plain: Vec<&str> = config
        .embed_origins
        .iter()
        .map(String::as_str)
        .filter(|o| o.starts_with("http://") && url::Url::parse(o).map(|u| !is_local(&u)).unwrap_or(true))
        .collect();
    if !plain.is_empty() {
        return Line::warn(
            "embedding",
            format!(
                "{} is plain http: a console served that way cannot keep Liaison's embedded cookie. Use its \
                 https:// origin",
                plain.join(", ")
            ),
        );
    }
    Line::ok("embedding", format!("framed by {origins}; {sign_in}"))
}

fn is_local(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `/metrics` has no authentication: it belongs on loopback or a private network.
pub fn metrics_listen(config: &Config) -> Line {
    match config.metrics_listen {
        None => Line::ok("metrics", "off (metrics_listen not set)"),
        Some(addr) if addr.ip().is_loopback() => Line::ok("metrics", format!("http://{addr}/metrics")),
        Some(addr) => Line::warn(
            "metrics",
            format!(
                "http://{addr}/metrics has no authentication and {} is not loopback: anyone who reaches it reads \
                 the counts. Keep it on a private network behind a firewall, or listen on 127.0.0.1",
                addr.ip()
            ),
        ),
    }
}

/// The key file's mode and owner: only the user Liaison runs as may read it.
pub fn key_file_mode(path: &Path, mode: u32, owner: u32, me: u32) -> Line {
    let shown = path.display();
    if mode & 0o077 != 0 {
        return Line::fail(
            "key file",
            format!(
                "{shown} is readable by other users (mode {:04o}); serve refuses it. Run `chmod 600 {shown}`",
                mode & 0o7777
            ),
        );
    }
    if owner != me {
        return Line::warn(
            "key file",
            format!(
                "{shown} belongs to user {owner}, not to the user running this check ({me}). Run the doctor as the \
                 user Liaison runs as (e.g. `sudo -u liaison`), or `chown` the file to that user"
            ),
        );
    }
    Line::ok("key file", format!("{shown} (mode {:04o}, owned by this user)", mode & 0o7777))
}

/// The name the DNS check looks up: a host of the operator's own first service (`catalog_file`),
/// else of the catalogue's first (its token endpoint, else its first API base URL).
pub fn dns_name(config: &Config, catalog: &Catalog) -> Option<String> {
    let own = config
        .catalog_file
        .as_deref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| crate::catalog::parse(&text, "catalog_file").ok())
        .unwrap_or_default();
    own.iter().chain(catalog.services()).find_map(|s| {
        let url = s.token_url.as_ref().or(s.api_base_urls.first())?;
        let host = url::Url::parse(url.as_str()).ok()?.host_str()?.to_string();
        // An address needs no lookup.
        host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_err().then_some(host)
    })
}

/// Resolves `name` within the time limit. A failure is a warning, not a failure: Liaison serves
/// its pages, sign-in and the admin API without outbound DNS, and a Liaison whose services are all
/// on addresses needs none; only connections to services by name need it.
pub async fn dns(name: Option<String>) -> Line {
    let Some(name) = name else {
        return Line::ok("dns", "no service in the catalogue is named by a host name: nothing to look up");
    };
    let lookup = tokio::time::timeout(TIME_LIMIT, tokio::net::lookup_host((name.as_str(), 443))).await;
    let what_to_do = "Connections to services by name will fail until it does: check /etc/resolv.conf, a \
                      firewall, and the service unit's RestrictAddressFamilies (AF_INET, AF_INET6 and AF_UNIX are \
                      needed)";
    match lookup {
        Ok(Ok(addrs)) => match addrs.count() {
            0 => Line::warn("dns", format!("{name} resolves to no address. {what_to_do}")),
            _ => Line::ok("dns", format!("{name} resolves")),
        },
        Ok(Err(e)) => Line::warn("dns", format!("{name} does not resolve ({e}). {what_to_do}")),
        Err(_) => {
            Line::warn("dns", format!("looking up {name} took more than {} s. {what_to_do}", TIME_LIMIT.as_secs()))
        }
    }
}
