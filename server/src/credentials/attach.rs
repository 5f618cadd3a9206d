//! How a credential rides in a call: a header (with its prefix), a query parameter, or HTTP Basic,
//! as the service wants it, replacing anything of the same name the script sent. Marked sensitive
//! so no layer logs it. Only ever on a URL `crate::invoke::target` allowed.

use crate::error::ApiError;
use crate::vault::Secret;
use app::error::ErrorCode;
use app::service::{AuthType, ParamType, ServiceSpec};
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// A credential ready to attach.
pub struct Credential {
    pub secret: Secret,
    pub username: Option<String>,
    /// The grant's version the secret belongs to (to ask for a refresh after a 401).
    pub version: i64,
    /// A refresh could produce another secret (OAuth 2.0 with a refresh token, or client
    /// credentials).
    pub refreshable: bool,
}

/// Puts the credential where the service wants it: a header (with its prefix), a query
/// parameter, or HTTP Basic. Anything of the same name the script sent is replaced.
pub fn attach(
    spec: &ServiceSpec,
    cred: &Credential,
    url: &mut url::Url,
    headers: &mut HeaderMap,
) -> Result<(), ApiError> {
    let bad = || {
        ApiError::new(ErrorCode::InvalidRequest, "The stored credential cannot be sent in a request (it has characters HTTP does not allow). Connect again with a valid one.")
    };
    if spec.auth_type == AuthType::Basic {
        let user = cred.username.as_deref().unwrap_or_default();
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", cred.secret.expose()));
        let mut v = HeaderValue::from_str(&format!("Basic {b64}")).map_err(|_| bad())?;
        v.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, v);
        return Ok(());
    }
    match spec.param_type {
        ParamType::Query => {
            let name = spec.query_param.as_deref().unwrap_or("access_token");
            // The script's query stays as it was written, unless it names the parameter itself.
            if url.query_pairs().any(|(k, _)| k == name) {
                let kept: Vec<(String, String)> = url
                    .query_pairs()
                    .filter(|(k, _)| k != name)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(kept);
            }
            url.query_pairs_mut().append_pair(name, cred.secret.expose());
        }
        ParamType::Header => {
            let name = HeaderName::from_bytes(spec.header_name.as_bytes()).map_err(|_| bad())?;
            let text = if spec.header_prefix.is_empty() {
                cred.secret.expose().to_string()
            } else {
                format!("{} {}", spec.header_prefix, cred.secret.expose())
            };
            let mut v = HeaderValue::from_str(&text).map_err(|_| bad())?;
            v.set_sensitive(true);
            headers.insert(name, v);
        }
    }
    Ok(())
}
