//! The one adapter between the `oauth2` crate and the providers: the crate's HTTP client, over
//! Liaison's guarded outbound client (SSRF guard, no redirects, size and time limits), and the only
//! place that knows a provider quirk. It builds the crate's client from the service's settings
//! (client authentication in a header or in the body), rewrites each request the crate makes (the
//! extra token parameters, a JSON body instead of a form) and makes each answer standard before the
//! crate reads it (`answer`). Scopes are joined with the service's delimiter here too, for the
//! token requests and the authorise URL, and the scopes an answer grants are split as providers
//! separate them.

mod answer;

pub use answer::parse_answer;

use super::{TokenEndpoint, TokenError};
use crate::outbound::{Outbound, OutboundError};
use crate::vault::Secret;
use app::service::{ClientAuth, ScopeDelimiter, TokenRequest};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use oauth2::basic::BasicClient;
use oauth2::{
    AsyncHttpClient, AuthType, ClientId, ClientSecret, HttpRequest, HttpResponse, RevocationUrl, Scope, TokenUrl,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};

/// The parameters whose values are secrets: they are scrubbed from whatever the provider says.
const SENSITIVE: &[&str] = &["code", "code_verifier", "refresh_token", "token", "client_secret"];

/// Which endpoint a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    /// The token endpoint: the extra token parameters are added, the answer carries tokens.
    Token,
    /// The revocation endpoint (RFC 7009).
    Revoke,
}

/// The crate's HTTP client for one call to one endpoint of one service. It owns what it needs
/// (the crate's futures must not borrow from the caller's frame for the server's handlers to stay
/// `Send`).
pub(super) struct Adapter {
    out: Outbound,
    quirks: Quirks,
    call: Call,
    /// Where the request goes: the service's URL, whatever the crate was given.
    url: url::Url,
    /// The status of the provider's last answer: the crate sees an error inside a 200 as a 400,
    /// the messages name the status the provider sent.
    status: AtomicU16,
}

/// The service's settings the adapter follows.
struct Quirks {
    client_id: String,
    client_secret: Option<Secret>,
    client_auth: ClientAuth,
    token_request: TokenRequest,
    token_path: Vec<String>,
    extra_params: BTreeMap<String, String>,
    error_in_200: bool,
}

impl Adapter {
    pub(super) fn new(out: &Outbound, ep: &TokenEndpoint<'_>, call: Call) -> Result<Self, TokenError> {
        let url = url::Url::parse(ep.url).map_err(|_| {
            OutboundError::InvalidUrl(
                "the token endpoint URL is not a valid absolute URL; check the service's settings".into(),
            )
        })?;
        let quirks = Quirks {
            client_id: ep.client_id.to_string(),
            client_secret: ep.client_secret.map(|s| Secret::new(s.expose())),
            client_auth: ep.client_auth,
            token_request: ep.token_request,
            token_path: ep.token_path.to_vec(),
            extra_params: ep.extra_params.clone(),
            error_in_200: ep.error_in_200,
        };
        Ok(Adapter { out: out.clone(), quirks, call, url, status: AtomicU16::new(0) })
    }

    /// The crate's client for this service: its client ID, its secret (none for a public
    /// client, whose ID then always goes in the body) and where the secret goes.
    pub(super) fn client(&self) -> BasicClient {
        let q = &self.quirks;
        let auth = match q.client_auth {
            ClientAuth::Header => AuthType::BasicAuth,
            ClientAuth::Body => AuthType::RequestBody,
        };
        let client = BasicClient::new(ClientId::new(q.client_id.clone())).set_auth_type(auth);
        match &q.client_secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.expose().to_string())),
            None => client,
        }
    }

    pub(super) fn token_url(&self) -> TokenUrl {
        TokenUrl::from_url(self.url.clone())
    }

    /// The revocation URL for the crate, which refuses any but https (RFC 7009 §2). Which URLs a
    /// service may have is decided where its settings are checked (plain http only where the
    /// operator allows it, for local providers), and the request goes to the service's own URL
    /// (`self.url`), so the crate is handed its https twin.
    pub(super) fn revocation_url(&self) -> RevocationUrl {
        let mut twin = self.url.clone();
        if twin.scheme() == "http" {
            let _ = twin.set_scheme("https");
        }
        RevocationUrl::from_url(twin)
    }

    /// The status the provider answered the last request with.
    pub(super) fn status(&self) -> u16 {
        self.status.load(Ordering::Relaxed)
    }

    /// The crate's request as the provider wants it, and the secret values it carries.
    pub(super) fn rewrite(&self, req: HttpRequest) -> Result<(reqwest::Request, Vec<String>), TokenError> {
        let (head, body) = req.into_parts();
        let mut params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let mut sensitive: Vec<String> =
            params.iter().filter(|(k, _)| SENSITIVE.contains(&k.as_str())).map(|(_, v)| v.clone()).collect();
        if let Some(secret) = &self.quirks.client_secret {
            sensitive.push(secret.expose().to_string());
        }
        // As a provider may echo them back: form-encoded, and the Basic credentials as sent.
        let encoded: Vec<String> = sensitive
            .iter()
            .map(|v| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>())
            .filter(|e| !sensitive.contains(e))
            .collect();
        sensitive.extend(encoded);
        if let Some(basic) = head.headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok()) {
            sensitive.extend(basic.strip_prefix("Basic ").map(str::to_string));
        }
        if self.call == Call::Token {
            for (k, v) in &self.quirks.extra_params {
                if !params.iter().any(|(have, _)| have == k) {
                    params.push((k.clone(), v.clone()));
                }
            }
        }
        let (content_type, body) = match self.quirks.token_request {
            TokenRequest::Form => (
                "application/x-www-form-urlencoded",
                url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish(),
            ),
            TokenRequest::Json => {
                let object: Map<String, Value> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                ("application/json", Value::Object(object).to_string())
            }
        };
        let mut builder = self
            .out
            .client()
            .post(self.url.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, content_type)
            .body(body);
        if let Some(basic) = head.headers.get(AUTHORIZATION) {
            let mut basic = basic.clone();
            basic.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, basic);
        }
        let req = builder.build().map_err(|_| {
            OutboundError::InvalidUrl("the token request could not be built; check the token URL".into())
        })?;
        Ok((req, sensitive))
    }

    /// Sends the crate's request through the outbound client and gives it the answer made
    /// standard; an answer that cannot be made so is this call's error.
    async fn exchange(&self, req: HttpRequest) -> Result<HttpResponse, TokenError> {
        let (req, sensitive) = self.rewrite(req)?;
        let resp = self.out.execute(req).await?;
        self.status.store(resp.status, Ordering::Relaxed);
        let sensitive: Vec<&str> = sensitive.iter().map(String::as_str).collect();
        match self.call {
            Call::Token => answer::token(&resp, &self.quirks.token_path, self.quirks.error_in_200, &sensitive),
            Call::Revoke => answer::revocation(&resp, self.quirks.error_in_200, &sensitive),
        }
    }
}

impl<'c> AsyncHttpClient<'c> for Adapter {
    type Error = TokenError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TokenError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.exchange(request))
    }
}

/// The scopes as one, joined with the service's delimiter (the crate joins with spaces); none
/// when there are none.
pub fn scope<'s>(delimiter: ScopeDelimiter, scopes: impl IntoIterator<Item = &'s str>) -> Option<Scope> {
    Some(delimiter.join(scopes)).filter(|s| !s.is_empty()).map(Scope::new)
}

/// The scopes a token answer says were granted: separated by spaces (RFC 6749 §3.3) or, for some
/// providers (GitHub), by commas.
pub fn granted_scopes(scope: &str) -> Vec<String> {
    scope.split([' ', ',']).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// The scopes of an authorise URL. Spaces there are written `%20` (some providers read a `+` as
/// itself), except where the service's delimiter is `plus`: its scopes are joined with spaces,
/// which the URL then carries as `+`.
pub fn authorise_scope(delimiter: ScopeDelimiter, scopes: &[String]) -> Option<Scope> {
    match delimiter {
        ScopeDelimiter::Plus => scope(ScopeDelimiter::Space, scopes.iter().map(String::as_str)),
        other => scope(other, scopes.iter().map(String::as_str)),
    }
}

/// Rewrites the query parameters the crate appended to `base` (an authorise URL) with spaces as
/// `%20`, but for the scope of a service whose delimiter is `plus`. The crate writes a space as
/// `+` and a plus as `%2B`, so every `+` it wrote is a space.
pub fn authorise_spaces(base: &str, built: &str, delimiter: ScopeDelimiter) -> String {
    let Some(added) = built.strip_prefix(base) else { return built.to_string() };
    let added = added
        .split('&')
        .map(|pair| {
            let keep_plus = delimiter == ScopeDelimiter::Plus && pair.starts_with("scope=");
            if keep_plus {
                pair.to_string()
            } else {
                pair.replace('+', "%20")
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{base}{added}")
}

#[cfg(test)]
mod tests;
