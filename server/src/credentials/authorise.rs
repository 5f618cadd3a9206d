//! The provider's authorise URL for a flow (RFC 6749 §4.1.1), through the `oauth2` crate: the
//! `state` (`CsrfToken`), the PKCE S256 challenge of the flow's verifier (RFC 7636), the scopes
//! joined and spaced as the service wants them (the adapter's knowledge), and the service's extra
//! parameters.

use super::token::adapter;
use crate::error::{Error, Result};
use app::service::ServiceSpec;
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl};
use std::borrow::Cow;

/// Random bytes in a flow's `state` and PKCE verifier (43 URL-safe characters each).
const RANDOM_BYTES: u32 = 32;

/// A new flow's `state`.
pub fn new_state() -> CsrfToken {
    CsrfToken::new_random_len(RANDOM_BYTES)
}

/// A new flow's PKCE verifier.
pub fn new_verifier() -> PkceCodeVerifier {
    PkceCodeChallenge::new_random_sha256_len(RANDOM_BYTES).1
}

/// The PKCE S256 challenge of a verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_string())).as_str().to_string()
}

/// The provider's authorise URL for this flow: `verifier` is the flow's PKCE verifier, whose
/// challenge is sent (none for a service without PKCE).
pub fn authorize_url(
    spec: &ServiceSpec,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    state: &CsrfToken,
    verifier: Option<&PkceCodeVerifier>,
) -> Result<String> {
    let base = spec.authorize_url.as_ref().ok_or_else(|| Error::Invalid("the service has no authorise URL".into()))?;
    let auth_url =
        AuthUrl::new(base.as_str().to_string()).map_err(|_| Error::Invalid("the authorise URL is not valid".into()))?;
    let redirect = RedirectUrl::new(redirect_uri.to_string())
        .map_err(|_| Error::Invalid("the callback URL is not valid".into()))?;
    let client = BasicClient::new(ClientId::new(client_id.to_string())).set_auth_uri(auth_url);
    let mut req = client.authorize_url(|| state.clone()).set_redirect_uri(Cow::Owned(redirect));
    if let Some(scope) = adapter::authorise_scope(spec.scope_delimiter, scopes) {
        req = req.add_scope(scope);
    }
    if let Some(v) = verifier {
        req = req.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(v));
    }
    for (k, v) in &spec.extra_authorize_params {
        req = req.add_extra_param(k.as_str(), v.as_str());
    }
    let (url, _) = req.url();
    let base = auth_url_text(base.as_str());
    Ok(adapter::authorise_spaces(&base, url.as_str(), spec.scope_delimiter))
}

/// The authorise URL as the crate writes it before it adds its parameters.
fn auth_url_text(base: &str) -> String {
    url::Url::parse(base).map(|u| u.to_string()).unwrap_or_else(|_| base.to_string())
}
