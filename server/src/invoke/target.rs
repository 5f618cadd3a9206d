//! Where a call goes: the connection a caller names (from memory while the change stamp stays the
//! same, see `crate::hot`), usable only in a state that can be called; and the URL under its
//! service (the credential rides along as `crate::credentials::attach` puts it). A
//! credential is only ever sent to a URL under one of the service's API base URLs: same scheme, host and port, and a path within
//! the base URL's path (after the URL parser has resolved any `..`, encoded or not), which it does
//! not leave however the service decodes it (see [`super::paths`]).

use crate::actor::{link_from_path, user_key};
use crate::api_tokens::Caller;
use crate::error::ApiError;
use crate::hot::{Fresh, MAX_ENTRIES};
use crate::invoke::paths::{self, Refusal};
use crate::invoke::Api;
use crate::services::Resolved;
use crate::store::connections::ConnectionRecord;
use app::connection::ConnectionStatus;
use app::error::ErrorCode;
use app::service::ServiceSpec;
use reqwest::header::HeaderMap;
use std::collections::HashMap;
use std::sync::Arc;

/// A connection as remembered, with its service resolved.
pub struct Found {
    pub c: ConnectionRecord,
    pub resolved: Resolved,
}

/// The connections the calls named, by organisation, then link name (looked up without building
/// a key), with how many are kept over every organisation (the cap is on them all).
#[derive(Default)]
pub struct Targets {
    by_org: HashMap<i64, HashMap<String, Arc<Found>>>,
    count: usize,
}

impl Targets {
    fn get(&self, org_id: i64, link_name: &str) -> Option<Arc<Found>> {
        self.by_org.get(&org_id).and_then(|links| links.get(link_name)).cloned()
    }

    fn keep(&mut self, found: Arc<Found>) {
        if self.count >= MAX_ENTRIES {
            *self = Targets::default();
        }
        let links = self.by_org.entry(found.c.org_id).or_default();
        if links.insert(found.c.link_name.clone(), found).is_none() {
            self.count += 1;
        }
    }
}

/// A connection ready to be called.
pub(super) struct Target {
    pub(super) found: Arc<Found>,
    pub(super) user_key: i64,
    pub(super) fresh: Fresh,
}

impl Api {
    /// The connection a caller names, if it can be used now.
    pub(super) async fn target(&self, caller: &Caller, link: &str) -> Result<Target, ApiError> {
        let not_found = || {
            ApiError::new(
                ErrorCode::ConnectionNotFound,
                format!("There is no connection \"{link}\" in your organisation. Check the link name on the Connections page."),
            )
        };
        let name = link_from_path(link).map_err(|_| not_found())?;
        let org_id = caller.viewer.org_id;
        let found = match self.targets.get(caller.fresh, |t| t.get(org_id, name.as_str())) {
            Some(found) => found,
            None => {
                let c = crate::store::connections::by_link(&self.infra.store.pool, org_id, name.as_str())
                    .await?
                    .ok_or_else(not_found)?;
                let resolved = self.services.resolve(c.org_id, &c.service).await?;
                let found = Arc::new(Found { c, resolved });
                self.targets.keep(caller.fresh, |t| t.keep(found.clone()));
                found
            }
        };
        let c = &found.c;
        let reason = c.status_reason.clone().map(|r| format!(" ({r})")).unwrap_or_default();
        match c.status {
            ConnectionStatus::Revoked => {
                return Err(ApiError::new(
                    ErrorCode::ConnectionRevoked,
                    format!("The connection \"{link}\" was revoked. Someone who manages it can enable it again in Liaison."),
                ))
            }
            ConnectionStatus::NeedsReauth => {
                return Err(ApiError::new(
                    ErrorCode::NeedsReauthorization,
                    format!("The connection \"{link}\" needs to be authorised again{reason}. Someone who manages it must reconnect it in Liaison."),
                ))
            }
            ConnectionStatus::Error if !c.per_user => {
                return Err(ApiError::new(
                    ErrorCode::ConnectionError,
                    format!("The connection \"{link}\" is in error{reason}. Reconnect it in Liaison."),
                ))
            }
            ConnectionStatus::NotConnected if !c.per_user => {
                return Err(ApiError::new(
                    ErrorCode::NotConnected,
                    format!("The connection \"{link}\" has not been authorised yet. Connect it in Liaison first."),
                ))
            }
            _ => {}
        }
        let user_key = user_key(c, Some(caller.viewer.user_id));
        Ok(Target { found, user_key, fresh: caller.fresh })
    }
}

/// The URL for a proxy path (raw, still percent-encoded, may be empty) and query under the
/// service's first API base URL.
pub fn proxy_url(service: &Resolved, raw_path: &str, raw_query: Option<&str>) -> Result<url::Url, ApiError> {
    let base = service.spec.api_base_urls.first().ok_or_else(|| no_base(&service.spec))?;
    let mut joined = base.as_str().trim_end_matches('/').to_string();
    if !raw_path.is_empty() {
        joined.push('/');
        joined.push_str(raw_path.trim_start_matches('/'));
    }
    if let Some(q) = raw_query.filter(|q| !q.is_empty()) {
        joined.push('?');
        joined.push_str(q);
    }
    let url = url::Url::parse(&joined)
        .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "The path after /proxy/ does not make a valid URL."))?;
    allowed(service, url)
}

/// An `invoke` URL: absolute (it must be under an API base URL) or a path under the first one.
pub fn invoke_url(service: &Resolved, raw: &str) -> Result<url::Url, ApiError> {
    let raw = raw.trim();
    if raw.contains("://") {
        let url = url::Url::parse(raw).map_err(|_| {
            ApiError::new(ErrorCode::InvalidRequest, "`url` is not a valid URL: give an absolute https URL or a path.")
        })?;
        return allowed(service, url);
    }
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    proxy_url(service, path, query)
}

fn no_base(spec: &ServiceSpec) -> ApiError {
    ApiError::new(
        ErrorCode::ApiHostNotAllowed,
        format!(
            "{} has no API base URL, so Liaison sends its credential nowhere. An admin can add one to the service.",
            spec.name
        ),
    )
}

/// The URL itself if it lies under one of the service's API base URLs.
pub fn allowed(service: &Resolved, url: url::Url) -> Result<url::Url, ApiError> {
    let spec = &service.spec;
    if spec.api_base_urls.is_empty() {
        return Err(no_base(spec));
    }
    if url.username() != "" || url.password().is_some() {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "A URL with a user name or password cannot be called."));
    }
    // Under a base URL whose path it stays in once decoded, whatever the decoding.
    let mut refused = None;
    for base in service.api_bases() {
        let prefix = base.path().trim_end_matches('/');
        let path = url.path();
        let within =
            prefix.is_empty() || path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let under = base.scheme() == url.scheme()
            && base.host() == url.host()
            && base.port_or_known_default() == url.port_or_known_default()
            && within;
        if !under {
            continue;
        }
        match paths::contained(&url.path()[prefix.len()..], spec.allow_encoded_slashes) {
            Ok(()) => return Ok(url),
            Err(why) => refused = Some(why),
        }
    }
    if let Some(why) = refused {
        return Err(path_not_allowed(spec, why));
    }
    let host = url.host_str().unwrap_or("that host").to_string();
    let bases: Vec<&str> = spec.api_base_urls.iter().map(|b| b.as_str()).collect();
    Err(ApiError::new(
        ErrorCode::ApiHostNotAllowed,
        format!(
            "{host}{} is not under {}'s API base URLs ({}), so Liaison will not send the connection's credential there.",
            url.path(),
            spec.name,
            bases.join(", ")
        ),
    ))
}

fn path_not_allowed(spec: &ServiceSpec, why: Refusal) -> ApiError {
    let what = match why {
        Refusal::Climbs => "climbs out of the API base path once decoded (`..`, `%2e%2e`, `..;`, a backslash)",
        Refusal::EncodedSlash => "carries an encoded slash or backslash (`%2F`, `%5C`, `%252F`)",
        Refusal::TooDeep => "is percent-encoded more times over than any real path",
    };
    ApiError::new(
        ErrorCode::PathNotAllowed,
        format!(
            "The path {what}, which {} does not accept through Liaison. Send the path as plain segments under the API base URL.",
            spec.name
        ),
    )
}

/// Headers a proxy never forwards, either way: hop-by-hop ones (RFC 9110 §7.6.1) and, towards
/// the service, Liaison's own credentials and the client's host.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
];
const NEVER_UPSTREAM: &[&str] = &[
    "host",
    "authorization",
    "cookie",
    "content-length",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Headers of a service's answer that would make a browser keep state for Liaison's own origin
/// (the answer reaches the script from Liaison's origin): cookies, site-data clearing, transport
/// and pinning policies, alternative services, reporting and network-error-logging endpoints,
/// client-hint opt-ins, origin-keyed agent clusters, service-worker scope, FedCM login status,
/// device-bound session registration, Topics, Attribution Reporting and Shared Storage writes.
/// Neither the proxy nor `invoke` passes them on.
pub const ORIGIN_STATE: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "clear-site-data",
    "strict-transport-security",
    "alt-svc",
    "public-key-pins",
    "public-key-pins-report-only",
    "expect-ct",
    "nel",
    "report-to",
    "reporting-endpoints",
    "accept-ch",
    "accept-ch-lifetime",
    "critical-ch",
    "origin-agent-cluster",
    "service-worker-allowed",
    "set-login",
    "sec-session-registration",
    "sec-session-challenge",
    "observe-browsing-topics",
    "attribution-reporting-register-source",
    "attribution-reporting-register-trigger",
    "shared-storage-write",
];

/// The end-to-end headers of a message: hop-by-hop ones removed, with those its `Connection`
/// header names; towards the service, Liaison's own ([`NEVER_UPSTREAM`], and every `Liaison-*`
/// header); from it, those that would set state on Liaison's origin ([`ORIGIN_STATE`]), and any
/// `Liaison-*` one.
pub fn end_to_end(headers: &HeaderMap, upstream: bool) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    // Room for what is added after: the credential on the way up; the answer headers every
    // answer carries and `Liaison-Attempts` on the way down (a map that grows rehashes).
    let mut out = HeaderMap::with_capacity(headers.len() + 4);
    for (name, value) in headers {
        let n = name.as_str();
        let own = if upstream { NEVER_UPSTREAM } else { ORIGIN_STATE };
        // Liaison's own headers (`Liaison-Retries`…, `Liaison-Attempts`) are for Liaison, not the
        // service, and only Liaison says them to the script: a service's are dropped both ways.
        let liaisons = n.starts_with("liaison-");
        if HOP_BY_HOP.contains(&n) || named.iter().any(|x| x == n) || own.contains(&n) || liaisons {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests;
