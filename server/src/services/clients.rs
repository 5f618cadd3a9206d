//! The OAuth clients a service can be used with: the operator's (`oauth_clients_file`), one stored
//! sealed with a custom service or a connection, and a service resolved with its client.

use crate::custody::Custody;
use crate::error::{Error, Result};
use crate::store::connections::ConnectionRecord;
use crate::vault::{Secret, SecretColumn};
use app::service::ServiceSpec;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

/// An OAuth client: its id, and its secret where it has one (public clients have none).
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

/// The OAuth clients the operator registered for predefined services, by catalogue id.
#[derive(Debug, Default)]
pub struct OperatorClients(BTreeMap<String, OAuthClient>);

impl OperatorClients {
    /// Reads `oauth_clients_file`: a table per catalogue id with `client_id` and `client_secret`
    /// (strings). Any problem is a configuration error naming the setting, the file and the entry;
    /// the messages never quote the file's text, which holds secrets.
    pub fn load(path: Option<&Path>, catalog: &crate::catalog::Catalog) -> Result<OperatorClients> {
        let Some(path) = path else { return Ok(OperatorClients::default()) };
        let bad = |m: String| Error::Config(format!("oauth_clients_file {}: {m}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().and_then(|s| text.get(..s.start)).map(|before| before.matches('\n').count() + 1);
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            bad(format!("it is not valid TOML{at}: {}", e.message()))
        })?;
        let mut out = BTreeMap::new();
        for (id, value) in table {
            if catalog.get(&id).is_none() {
                return Err(bad(format!("[{id}] is not a service of the catalogue")));
            }
            let Some(entry) = value.as_table() else {
                return Err(bad(format!("{id} must be a table: [{id}] with client_id and client_secret")));
            };
            if let Some(k) = entry.keys().find(|k| !matches!(k.as_str(), "client_id" | "client_secret")) {
                return Err(bad(format!("[{id}] has an unknown key {k:?}; use client_id and client_secret")));
            }
            let text = |key: &str| match entry.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
                Some(_) => Err(bad(format!("[{id}] {key} must be a string"))),
            };
            let client_id = text("client_id")?.ok_or_else(|| bad(format!("[{id}] needs a client_id")))?;
            let client_secret = text("client_secret")?.map(Secret::new);
            out.insert(id.clone(), OAuthClient { client_id: client_id.to_string(), client_secret });
        }
        Ok(OperatorClients(out))
    }

    pub fn get(&self, catalog_id: &str) -> Option<&OAuthClient> {
        self.0.get(catalog_id)
    }
}

/// An OAuth client as configured: the operator's (from their file), or one stored in a row with
/// its secret still sealed, opened only when a token endpoint is called.
#[derive(Debug, Clone)]
pub enum ConfiguredClient {
    Operator(OAuthClient),
    Stored { client_id: String, column: SecretColumn, row: i64, sealed_secret: Option<String> },
}

impl ConfiguredClient {
    pub fn client_id(&self) -> &str {
        match self {
            ConfiguredClient::Operator(o) => &o.client_id,
            ConfiguredClient::Stored { client_id, .. } => client_id,
        }
    }
}

/// A service ready for use: its spec and the OAuth client configured for it (if any).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: ServiceSpec,
    pub client: Option<ConfiguredClient>,
    /// The endpoints of the service with its own client (`crate::custody`), worked out once.
    pub custody: Custody,
    /// The last segment of the service's own redirect URL (`/oauth/callback/{key}`).
    pub callback_key: String,
    /// The catalogue's documented rate limits (none for a custom service), for API retries.
    pub retries: Option<crate::catalog::retries::RetryDefaults>,
    /// The service's API base URLs, parsed once here rather than on every call
    /// (`crate::invoke::target::allowed`); one that does not parse is left out (none should:
    /// they were checked when saved).
    api_bases: Vec<url::Url>,
}

impl Resolved {
    pub fn new(spec: ServiceSpec, client: Option<ConfiguredClient>, callback_key: String) -> Resolved {
        let custody = Custody::of(&spec, client.as_ref().map(ConfiguredClient::client_id));
        let api_bases = spec.api_base_urls.iter().filter_map(|b| url::Url::parse(b.as_str()).ok()).collect();
        Resolved { spec, client, custody, callback_key, retries: None, api_bases }
    }

    /// The service's API base URLs, parsed (from `spec.api_base_urls`, once).
    pub fn api_bases(&self) -> &[url::Url] {
        &self.api_bases
    }

    /// The endpoints a connection's secrets may go to now: this service's, with the connection's
    /// OAuth client (its own, else the service's, whose custody was worked out once).
    pub fn custody_of(&self, c: &ConnectionRecord) -> Cow<'_, Custody> {
        self.custody_with(c.client_id.as_deref())
    }

    /// The endpoints of this service used with a connection's own OAuth client, if it has one.
    pub fn custody_with(&self, own_client: Option<&str>) -> Cow<'_, Custody> {
        match own_client {
            Some(own) => Cow::Owned(Custody::of(&self.spec, Some(own))),
            None => Cow::Borrowed(&self.custody),
        }
    }
}
