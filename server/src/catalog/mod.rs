//! The predefined services: the catalogue shipped in `server/catalog/predefined.toml` (compiled in),
//! plus an operator's own file of the same format, whose entries add to it or replace an entry
//! with the same id. Every entry is checked when loaded; `liaison catalog validate` prints the
//! problems of a file without starting anything.

use app::service::{AuthType, ClientAuth, GrantType, ParamType, ScopeDelimiter, ServiceUrl, TokenRequest};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The shipped catalogue.
pub const PREDEFINED: &str = include_str!("../../catalog/predefined.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    service: Vec<RawService>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: String,
    name: String,
    auth_type: String,
    #[serde(default)]
    grant_type: Option<String>,
    #[serde(default)]
    authorize_url: Option<String>,
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    refresh_url: Option<String>,
    #[serde(default)]
    revoke_url: Option<String>,
    api_base_urls: Vec<String>,
    #[serde(default = "default_delimiter")]
    scope_delimiter: String,
    #[serde(default = "yes")]
    pkce: bool,
    #[serde(default = "default_client_auth")]
    client_auth: String,
    #[serde(default = "default_token_request")]
    token_request: String,
    #[serde(default = "default_param_type")]
    param_type: String,
    #[serde(default)]
    header_prefix: Option<String>,
    #[serde(default)]
    header_name: Option<String>,
    #[serde(default)]
    query_param: Option<String>,
    #[serde(default)]
    token_path: Option<String>,
    #[serde(default)]
    error_in_200: bool,
    #[serde(default)]
    allow_encoded_slashes: bool,
    docs_url: String,
    #[serde(default)]
    extra_authorize_params: BTreeMap<String, String>,
    #[serde(default)]
    extra_token_params: BTreeMap<String, String>,
    #[serde(default)]
    scopes: Vec<RawScope>,
    #[serde(default)]
    retries: Option<RawRetries>,
    #[serde(default)]
    refresh_idle_days: Option<i64>,
}

fn default_delimiter() -> String {
    "space".into()
}
fn yes() -> bool {
    true
}
fn default_client_auth() -> String {
    "body".into()
}
fn default_token_request() -> String {
    "form".into()
}
fn default_param_type() -> String {
    "header".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    name: String,
    display: String,
}

pub mod retries;
pub use app::service::Scope;
use app::service::ServiceSpec;
use retries::RawRetries;
pub use retries::{ResetFormat, RetryDefaults, MAX_RETRIES};

/// One checked catalogue entry: its id, its documentation and its spec (reachable directly
/// through `Deref`, e.g. `entry.token_url`).
#[derive(Debug, Clone)]
pub struct PredefinedService {
    pub id: String,
    pub docs_url: ServiceUrl,
    pub spec: ServiceSpec,
    /// The retries `Liaison-Retries: default` gets, and the provider's reset header.
    pub retries: Option<RetryDefaults>,
}

impl std::ops::Deref for PredefinedService {
    type Target = ServiceSpec;
    fn deref(&self) -> &ServiceSpec {
        &self.spec
    }
}

/// The catalogue in force: shipped entries, then the operator's.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    services: Vec<PredefinedService>,
}

impl Catalog {
    /// The shipped catalogue plus `operator_file` (if any).
    pub fn load(operator_file: Option<&Path>) -> Result<Catalog, Vec<String>> {
        let mut catalog = Catalog { services: parse(PREDEFINED, "the shipped catalogue")? };
        if let Some(path) = operator_file {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{origin}: cannot read it: {e}")])?;
            for service in parse(&text, &origin)? {
                match catalog.services.iter_mut().find(|s| s.id == service.id) {
                    Some(existing) => *existing = service,
                    None => catalog.services.push(service),
                }
            }
            let mut names = HashSet::new();
            let clashes: Vec<String> = catalog
                .services
                .iter()
                .filter(|s| !names.insert(s.name.to_lowercase()))
                .map(|s| {
                    format!("{origin}: service `{}`: the name {:?} is already used by another service", s.id, s.name)
                })
                .collect();
            if !clashes.is_empty() {
                return Err(clashes);
            }
        }
        catalog.services.sort_by_key(|s| s.name.to_lowercase());
        Ok(catalog)
    }

    pub fn services(&self) -> &[PredefinedService] {
        &self.services
    }

    pub fn get(&self, id: &str) -> Option<&PredefinedService> {
        self.services.iter().find(|s| s.id == id)
    }
}

/// Parses and checks a catalogue file; every problem is reported, each naming its entry and field.
pub fn parse(text: &str, origin: &str) -> Result<Vec<PredefinedService>, Vec<String>> {
    let file: CatalogFile = toml::from_str(text).map_err(|e| vec![format!("{origin}: {}", e.message())])?;
    let mut problems = Vec::new();
    let mut services = Vec::new();
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for raw in file.service {
        let id = raw.id.clone();
        let mut check = Check { problems: Vec::new() };
        if !ids.insert(id.clone()) {
            check.fail("id", "is used by another entry in this file".into());
        }
        if !names.insert(raw.name.to_lowercase()) {
            check.fail("name", format!("{:?} is used by another entry in this file", raw.name));
        }
        let service = check.service(raw);
        problems.extend(check.problems.into_iter().map(|p| format!("{origin}: service `{id}`: {p}")));
        services.extend(service);
    }
    if problems.is_empty() {
        Ok(services)
    } else {
        Err(problems)
    }
}

struct Check {
    problems: Vec<String>,
}

impl Check {
    fn fail(&mut self, field: &str, message: String) {
        self.problems.push(format!("{field}: {message}"));
    }

    fn choice<T>(&mut self, field: &str, value: &str, parse: fn(&str) -> Option<T>, all: &[&str]) -> Option<T> {
        let parsed = parse(value);
        if parsed.is_none() {
            self.fail(field, format!("{value:?} is not one of {}", all.join(", ")));
        }
        parsed
    }

    fn url(&mut self, field: &str, value: &str) -> Option<ServiceUrl> {
        match ServiceUrl::parse(value, false) {
            Ok(u) => Some(u),
            Err(m) => {
                self.fail(field, format!("{value:?}: {m}"));
                None
            }
        }
    }

    fn opt_url(&mut self, field: &str, value: Option<&str>) -> Option<Option<ServiceUrl>> {
        match value {
            None => Some(None),
            Some(v) => self.url(field, v).map(Some),
        }
    }

    fn service(&mut self, raw: RawService) -> Option<PredefinedService> {
        if raw.id.is_empty() || !raw.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            self.fail("id", "use lowercase letters, digits and _ only".into());
        }
        if raw.name.trim().is_empty() || raw.name.chars().count() > 100 {
            self.fail("name", "give a display name of 1 to 100 characters".into());
        }
        let auth_type = self.choice("auth_type", &raw.auth_type, AuthType::parse, &AuthType::names());
        let grant_type = match (&raw.grant_type, auth_type) {
            (Some(g), _) => self.choice("grant_type", g, GrantType::parse, &GrantType::names()),
            (None, Some(AuthType::OAuth2)) => {
                self.fail("grant_type", "is required for oauth2".into());
                None
            }
            (None, _) => None,
        };
        let scope_delimiter =
            self.choice("scope_delimiter", &raw.scope_delimiter, ScopeDelimiter::parse, &ScopeDelimiter::names());
        let client_auth = self.choice("client_auth", &raw.client_auth, ClientAuth::parse, &ClientAuth::names());
        let token_request =
            self.choice("token_request", &raw.token_request, TokenRequest::parse, &TokenRequest::names());
        let param_type = self.choice("param_type", &raw.param_type, ParamType::parse, &ParamType::names());

        let authorize_url = self.opt_url("authorize_url", raw.authorize_url.as_deref());
        let token_url = self.opt_url("token_url", raw.token_url.as_deref());
        let refresh_url = self.opt_url("refresh_url", raw.refresh_url.as_deref());
        let revoke_url = self.opt_url("revoke_url", raw.revoke_url.as_deref());
        let docs_url = self.url("docs_url", &raw.docs_url);
        if auth_type == Some(AuthType::OAuth2) && raw.token_url.is_none() {
            self.fail("token_url", "is required for oauth2".into());
        }
        if grant_type == Some(GrantType::AuthorizationCode) && raw.authorize_url.is_none() {
            self.fail("authorize_url", "is required for the authorization_code grant".into());
        }
        if raw.api_base_urls.is_empty() {
            self.fail("api_base_urls", "name at least one URL the credential may be sent to".into());
        }
        let api_base_urls: Vec<_> = raw.api_base_urls.iter().filter_map(|u| self.url("api_base_urls", u)).collect();

        match (param_type, &raw.query_param) {
            (Some(ParamType::Query), None) => self.fail("query_param", "is required when param_type is query".into()),
            (Some(ParamType::Header), Some(_)) => self.fail("query_param", "is only for param_type = query".into()),
            (_, Some(q)) if !is_token(q) => self.fail("query_param", format!("{q:?} is not a plain parameter name")),
            _ => {}
        }
        if let Some(h) = &raw.header_name {
            if !is_token(h) {
                self.fail("header_name", format!("{h:?} is not a valid header name"));
            }
        }
        if let Some(p) = &raw.header_prefix {
            if p.is_empty() || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
                self.fail("header_prefix", format!("{p:?} must be one word, e.g. Bearer"));
            }
        }
        let token_path: Vec<String> =
            raw.token_path.as_deref().unwrap_or("access_token").split('.').map(str::to_string).collect();
        if token_path.iter().any(|seg| !is_token(seg)) {
            self.fail("token_path", "use dot-separated key names, e.g. authed_user.access_token".into());
        }
        for (field, params) in
            [("extra_authorize_params", &raw.extra_authorize_params), ("extra_token_params", &raw.extra_token_params)]
        {
            for key in params.keys() {
                if !is_token(key) {
                    self.fail(field, format!("{key:?} is not a plain parameter name"));
                }
                if app::service::RESERVED_PARAMS.contains(&key.as_str()) {
                    self.fail(field, format!("{key:?} is set by Liaison itself"));
                }
            }
        }
        let retries = raw.retries.as_ref().map(|r| self.retries(r));
        let refresh_idle_days = raw.refresh_idle_days.and_then(|d| {
            let days = u32::try_from(d).ok().filter(|n| (1..=app::service::MAX_REFRESH_IDLE_DAYS).contains(n));
            if days.is_none() {
                let max = app::service::MAX_REFRESH_IDLE_DAYS;
                self.fail("refresh_idle_days", format!("{d} is not a number of days from 1 to {max}"));
            }
            if auth_type != Some(AuthType::OAuth2) || grant_type != Some(GrantType::AuthorizationCode) {
                self.fail("refresh_idle_days", "is only for OAuth 2.0 with the authorization_code grant".into());
            }
            days
        });
        let mut seen = HashSet::new();
        for s in &raw.scopes {
            if s.name.is_empty() || s.name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                self.fail("scopes", format!("{:?} is not a scope name (no spaces)", s.name));
            }
            if s.display.trim().is_empty() {
                self.fail("scopes", format!("{:?} needs a display name", s.name));
            }
            if !seen.insert(&s.name) {
                self.fail("scopes", format!("{:?} is listed twice", s.name));
            }
        }

        Some(PredefinedService {
            id: raw.id,
            docs_url: docs_url?,
            retries: retries.flatten(),
            spec: ServiceSpec {
                name: raw.name,
                auth_type: auth_type?,
                grant_type,
                authorize_url: authorize_url?,
                token_url: token_url?,
                refresh_url: refresh_url?,
                revoke_url: revoke_url?,
                api_base_urls,
                scope_delimiter: scope_delimiter?,
                pkce: raw.pkce,
                client_auth: client_auth?,
                token_request: token_request?,
                param_type: param_type?,
                header_name: raw.header_name.unwrap_or_else(|| "Authorization".into()),
                header_prefix: raw.header_prefix.unwrap_or_else(|| "Bearer".into()),
                query_param: raw.query_param,
                token_path,
                error_in_200: raw.error_in_200,
                extra_authorize_params: raw.extra_authorize_params,
                extra_token_params: raw.extra_token_params,
                scopes: raw.scopes.into_iter().map(|s| Scope { name: s.name, display: s.display }).collect(),
                allow_encoded_slashes: raw.allow_encoded_slashes,
                refresh_idle_days,
            },
        })
        .filter(|_| self.problems.is_empty())
    }
}

/// A plain name: letters, digits, `-` and `_`.
fn is_token(s: &str) -> bool {
    app::service::is_plain_name(s)
}

#[cfg(test)]
mod tests;
