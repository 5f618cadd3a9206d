//! Pre-filling a custom service from an issuer's metadata: RFC 8414
//! (`/.well-known/oauth-authorization-server`), falling back to OpenID Connect discovery.

use crate::error::Result;
use crate::outbound::Outbound;
use app::error::{AppError, ErrorCode};
use app::service::{Scope, ServiceForm, ServiceUrl};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    grant_types_supported: Vec<String>,
}

fn field_error(message: impl Into<String>) -> AppError {
    AppError::validation(vec![app::error::FieldError { field: "issuer".into(), message: message.into() }])
}

/// The metadata URLs tried for an issuer, RFC 8414 first (path-aware, §3.1).
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let (origin, path) = match trimmed.find("://").and_then(|i| trimmed[i + 3..].find('/').map(|j| i + 3 + j)) {
        Some(split) => (&trimmed[..split], &trimmed[split..]),
        None => (trimmed, ""),
    };
    vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{trimmed}/.well-known/openid-configuration"),
    ]
}

/// Fetches the metadata and turns it into a service form.
pub async fn discover(out: &Outbound, issuer: &str, allow_http: bool) -> Result<ServiceForm> {
    let issuer_url = ServiceUrl::parse(issuer, allow_http).map_err(field_error)?;
    let mut last = String::new();
    for url in metadata_urls(issuer_url.as_str()) {
        let req = out
            .client()
            .get(&url)
            .header("Accept", "application/json")
            .build()
            .map_err(|_| field_error("That issuer URL cannot be fetched."))?;
        let resp = match out.execute(req).await {
            Ok(r) => r,
            // An internal address is refused whatever the path: say so with its own code.
            Err(e @ crate::outbound::OutboundError::HostNotAllowed { .. }) => {
                return Err(AppError::new(
                    ErrorCode::HostNotAllowed,
                    format!("No OAuth metadata was fetched: {e}. Fill in the URLs by hand."),
                )
                .into());
            }
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        if resp.status != 200 {
            last = format!("the metadata answered HTTP {}", resp.status);
            continue;
        }
        let meta: Metadata = serde_json::from_slice(&resp.body)
            .map_err(|_| field_error("The issuer's metadata is not valid JSON metadata (RFC 8414)."))?;
        return to_form(meta, issuer_url.as_str());
    }
    Err(AppError::new(
        ErrorCode::ProviderError,
        format!("No OAuth metadata was found for that issuer ({last}). Fill in the URLs by hand."),
    )
    .into())
}

fn to_form(meta: Metadata, issuer: &str) -> Result<ServiceForm> {
    if meta.issuer.as_deref().map(|i| i.trim_end_matches('/')) != Some(issuer.trim_end_matches('/')) {
        return Err(field_error(
            "The metadata names another issuer than the URL it came from (RFC 8414 §3.3), so it was not used.",
        )
        .into());
    }
    let Some(token_url) = meta.token_endpoint else {
        return Err(field_error("The issuer's metadata has no token endpoint.").into());
    };
    let host = issuer.split("://").nth(1).and_then(|r| r.split(['/', ':']).next()).unwrap_or("Service");
    let basic = meta.token_endpoint_auth_methods_supported.is_empty()
        || meta.token_endpoint_auth_methods_supported.iter().any(|m| m == "client_secret_basic");
    let code = meta.authorization_endpoint.is_some()
        && (meta.grant_types_supported.is_empty()
            || meta.grant_types_supported.iter().any(|g| g == "authorization_code"));
    Ok(ServiceForm {
        name: host.to_string(),
        auth_type: "oauth2".into(),
        grant_type: if code { "authorization_code" } else { "client_credentials" }.into(),
        authorize_url: meta.authorization_endpoint.unwrap_or_default(),
        token_url,
        revoke_url: meta.revocation_endpoint.unwrap_or_default(),
        api_base_urls: vec![issuer.trim_end_matches('/').to_string()],
        scopes: meta.scopes_supported.into_iter().map(|s| Scope { display: s.clone(), name: s }).collect(),
        scope_delimiter: "space".into(),
        pkce: meta.code_challenge_methods_supported.iter().any(|m| m == "S256"),
        client_auth: if basic { "header" } else { "body" }.into(),
        token_request: "form".into(),
        param_type: "header".into(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_rfc_8414() {
        assert_eq!(
            metadata_urls("https://auth.example.com"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            metadata_urls("https://auth.example.com/tenant1/"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn metadata_becomes_a_form_and_a_foreign_issuer_is_refused() {
        let meta = |issuer: &str| Metadata {
            issuer: Some(issuer.into()),
            authorization_endpoint: Some("https://a.example/auth".into()),
            token_endpoint: Some("https://a.example/token".into()),
            revocation_endpoint: None,
            scopes_supported: vec!["openid".into()],
            code_challenge_methods_supported: vec!["S256".into()],
            token_endpoint_auth_methods_supported: vec!["client_secret_post".into()],
            grant_types_supported: vec![],
        };
        let form = to_form(meta("https://a.example"), "https://a.example").unwrap();
        assert_eq!(
            (form.name.as_str(), form.grant_type.as_str(), form.client_auth.as_str()),
            ("a.example", "authorization_code", "body")
        );
        assert!(form.pkce);
        assert_eq!(form.scopes[0].name, "openid");
        let e = to_form(meta("https://evil.example"), "https://a.example").unwrap_err();
        assert!(format!("{e:?}").contains("another issuer"), "{e:?}");
    }
}
