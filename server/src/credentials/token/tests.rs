//! Token endpoint tests against a small in-process provider that records what it received.

use super::*;
use crate::outbound::OutboundConfig;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    accept: Option<String>,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn json(status: u16, body: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

async fn provider(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string());
    log.lock().unwrap().push(Seen {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        accept: header("accept"),
        body,
    });
    match uri.path() {
        "/token" => json(
            200,
            r#"{"access_token":"at-123456","refresh_token":"rt-654321","expires_in":3600,"scope":"a b","token_type":"bearer"}"#,
        ),
        "/slack" => json(
            200,
            r#"{"ok":true,"access_token":"xoxb-bot","refresh_token":"bot-refresh","expires_in":60,
                "authed_user":{"id":"U1","access_token":"xoxp-user","expires_in":"43200","scope":"chat:write"}}"#,
        ),
        "/expires-string" => json(200, r#"{"access_token":"at-123456","expires_in":"3599"}"#),
        "/form-answer" => (
            [("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            "access_token=gho_abcdef&scope=repo%2Cuser&token_type=bearer",
        )
            .into_response(),
        "/error-400" => json(400, r#"{"error":"invalid_grant","error_description":"code the-code-xyz expired"}"#),
        "/error-200" => json(
            200,
            r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
        ),
        "/error-200-with-token" => json(200, r#"{"access_token":"at-123456","error":"odd"}"#),
        "/not-json" => (StatusCode::OK, [("content-type", "text/html")], "<html>at-leaked</html>").into_response(),
        "/no-token" => json(200, r#"{"token_type":"bearer"}"#),
        "/number-token" => json(200, r#"{"access_token":12345}"#),
        "/500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom at-leaked").into_response(),
        "/429" => json(429, r#"{"message":"slow down"}"#),
        "/429-retry-after" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")], "slow down").into_response(),
        "/429-retry-date" => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], "").into_response()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json(200, r#"{"access_token":"late"}"#)
        }
        "/revoke-ok" => StatusCode::OK.into_response(),
        "/revoke-unsupported" => json(400, r#"{"error":"unsupported_token_type"}"#),
        "/revoke-denied" => json(401, r#"{"error":"invalid_client"}"#),
        "/revoke-503" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Fx {
    base: String,
    log: Log,
    out: Outbound,
    secret: Secret,
    path: Vec<String>,
    extra: BTreeMap<String, String>,
}

impl Fx {
    async fn new() -> Fx {
        let log: Log = Arc::default();
        let app = axum::Router::new().fallback(provider).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let out = Outbound::new(OutboundConfig {
            allow_private: true.into(),
            timeout: Duration::from_millis(1500),
            max_response_bytes: 64 * 1024,
        })
        .unwrap();
        Fx {
            base: format!("http://{addr}"),
            log,
            out,
            secret: Secret::new("s3cr%t:x"),
            path: default_token_path(),
            extra: BTreeMap::new(),
        }
    }

    fn url(&self, route: &str) -> String {
        format!("{}{route}", self.base)
    }

    fn ep<'a>(&'a self, url: &'a str) -> TokenEndpoint<'a> {
        TokenEndpoint {
            url,
            client_id: "my client",
            client_secret: Some(&self.secret),
            client_auth: ClientAuth::Header,
            token_request: TokenRequest::Form,
            token_path: &self.path,
            extra_params: &self.extra,
            error_in_200: false,
        }
    }

    fn last(&self) -> Seen {
        self.log.lock().unwrap().last().cloned().unwrap()
    }
}

fn code_grant<'a>(verifier: Option<&'a str>) -> TokenGrant<'a> {
    TokenGrant::AuthorizationCode {
        code: "the-code-xyz",
        redirect_uri: "https://liaison.test/cb",
        pkce_verifier: verifier,
    }
}

fn form(body: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

#[tokio::test]
async fn form_request_with_basic_auth_and_pkce() {
    let fx = Fx::new().await;
    let url = fx.url("/token");
    let set = request_token(&fx.out, &fx.ep(&url), code_grant(Some("verifier-abc"))).await.unwrap();
    assert_eq!(set.access_token.expose(), "at-123456");
    assert_eq!(set.refresh_token.as_ref().map(Secret::expose), Some("rt-654321"));
    assert_eq!(set.expires_in, Some(3600));
    assert_eq!(set.scope.as_deref(), Some("a b"));
    assert_eq!(set.token_type.as_deref(), Some("bearer"));

    let seen = fx.last();
    assert_eq!(seen.path, "/token");
    assert_eq!(seen.authorization.as_deref(), Some("Basic bXkrY2xpZW50OnMzY3IlMjV0JTNBeA=="));
    assert_eq!(seen.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(seen.accept.as_deref(), Some("application/json"));
    let body = form(&seen.body);
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code"], "the-code-xyz");
    assert_eq!(body["redirect_uri"], "https://liaison.test/cb");
    assert_eq!(body["code_verifier"], "verifier-abc");
    assert!(!body.contains_key("client_id") && !body.contains_key("client_secret"));
}

#[tokio::test]
async fn json_request_with_body_auth_and_extras() {
    let mut fx = Fx::new().await;
    fx.extra.insert("audience".into(), "api://x".into());
    fx.extra.insert("grant_type".into(), "must-not-override".into());
    let url = fx.url("/token");
    let mut ep = fx.ep(&url);
    ep.client_auth = ClientAuth::Body;
    ep.token_request = TokenRequest::Json;
    let grant = TokenGrant::RefreshToken { refresh_token: &Secret::new("rt-old"), scope: Some("a b") };
    request_token(&fx.out, &ep, grant).await.unwrap();

    let seen = fx.last();
    assert_eq!(seen.authorization, None);
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "rt-old");
    assert_eq!(body["scope"], "a b");
    assert_eq!(body["client_id"], "my client");
    assert_eq!(body["client_secret"], "s3cr%t:x");
    assert_eq!(body["audience"], "api://x");
}

#[tokio::test]
async fn public_client_sends_client_id_in_body() {
    let fx = Fx::new().await;
    let url = fx.url("/token");
    let mut ep = fx.ep(&url);
    ep.client_secret = None;
    request_token(&fx.out, &ep, TokenGrant::ClientCredentials { scope: None }).await.unwrap();
    let seen = fx.last();
    assert_eq!(seen.authorization, None);
    let body = form(&seen.body);
    assert_eq!(body["client_id"], "my client");
    assert_eq!(body["grant_type"], "client_credentials");
    assert!(!body.contains_key("client_secret") && !body.contains_key("scope"));
}

#[tokio::test]
async fn nested_token_path_takes_fields_beside_the_token() {
    let mut fx = Fx::new().await;
    fx.path = vec!["authed_user".into(), "access_token".into()];
    let url = fx.url("/slack");
    let set = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap();
    assert_eq!(set.access_token.expose(), "xoxp-user");
    assert_eq!(set.expires_in, Some(43200));
    assert_eq!(set.scope.as_deref(), Some("chat:write"));
    // The top-level refresh token belongs to the bot token, not to this one.
    assert!(set.refresh_token.is_none());
    assert!(!form(&fx.last().body).contains_key("code_verifier"));
}

#[tokio::test]
async fn expires_in_as_string_and_form_encoded_answer() {
    let fx = Fx::new().await;
    let url = fx.url("/expires-string");
    let set = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap();
    assert_eq!(set.expires_in, Some(3599));

    let url = fx.url("/form-answer");
    let set = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap();
    assert_eq!(set.access_token.expose(), "gho_abcdef");
    assert_eq!(set.scope.as_deref(), Some("repo,user"));
    assert_eq!(set.expires_in, None);
}

#[tokio::test]
async fn rfc6749_error_with_400_is_invalid_grant_and_scrubbed() {
    let fx = Fx::new().await;
    let url = fx.url("/error-400");
    let err = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap_err();
    assert!(err.is_invalid_grant() && !err.is_retryable(), "{err:?}");
    let TokenError::Provider { error, description, status } = &err else { panic!("{err:?}") };
    assert_eq!((error.as_str(), *status), ("invalid_grant", 400));
    assert_eq!(description.as_deref(), Some("code [redacted] expired"));
    assert!(!err.to_string().contains("the-code-xyz"), "{err}");
}

#[tokio::test]
async fn error_inside_http_200() {
    let fx = Fx::new().await;
    let url = fx.url("/error-200");
    let err = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap_err();
    assert!(matches!(&err, TokenError::Provider { status: 200, .. }), "{err:?}");
    assert!(err.is_invalid_grant());

    // With a token beside the error, the error counts only for providers flagged error_in_200.
    let url = fx.url("/error-200-with-token");
    assert!(request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.is_ok());
    let mut ep = fx.ep(&url);
    ep.error_in_200 = true;
    let err = request_token(&fx.out, &ep, code_grant(None)).await.unwrap_err();
    assert!(matches!(&err, TokenError::Provider { error, .. } if error == "odd"), "{err:?}");
}

#[tokio::test]
async fn malformed_answers() {
    let fx = Fx::new().await;
    for (route, expected) in [
        ("/not-json", "not a JSON object"),
        ("/no-token", "no access token at `access_token`"),
        ("/number-token", "is a number, not a string"),
    ] {
        let url = fx.url(route);
        let err = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap_err();
        assert!(matches!(&err, TokenError::Malformed(m) if m.contains(expected)), "{route}: {err:?}");
        assert!(!err.to_string().contains("at-leaked") && !err.to_string().contains("12345"));
    }
}

#[tokio::test]
async fn server_errors_are_retryable_statuses() {
    let fx = Fx::new().await;
    let url = fx.url("/500");
    let err = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap_err();
    assert!(matches!(err, TokenError::Status(500)) && err.is_retryable() && !err.is_invalid_grant());
    assert!(!err.to_string().contains("at-leaked"));
    for (route, wait) in [("/429", None), ("/429-retry-after", Some(30)), ("/429-retry-date", None)] {
        let url = fx.url(route);
        let err = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap_err();
        assert!(matches!(err, TokenError::RateLimited { retry_after } if retry_after == wait), "{route}: {err:?}");
        assert!(err.is_retryable());
    }
    let url = fx.url("/429-retry-after");
    let err = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap_err();
    assert_eq!(err.to_string(), "the token endpoint is limiting requests (HTTP 429); try again in 30 seconds");
}

#[tokio::test]
async fn slow_endpoint_times_out() {
    let fx = Fx::new().await;
    let url = fx.url("/slow");
    let err = request_token(&fx.out, &fx.ep(&url), code_grant(None)).await.unwrap_err();
    assert!(matches!(err, TokenError::Outbound(OutboundError::Timeout)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn revoke_success_and_failures() {
    let fx = Fx::new().await;
    let token = Secret::new("at-to-revoke");
    let url = fx.url("/revoke-ok");
    revoke(&fx.out, &fx.ep(&url), &token, "access_token").await.unwrap();
    let seen = fx.last();
    assert_eq!(seen.authorization.as_deref(), Some("Basic bXkrY2xpZW50OnMzY3IlMjV0JTNBeA=="));
    let body = form(&seen.body);
    assert_eq!(body["token"], "at-to-revoke");
    assert_eq!(body["token_type_hint"], "access_token");

    let url = fx.url("/revoke-unsupported");
    revoke(&fx.out, &fx.ep(&url), &token, "refresh_token").await.unwrap();

    let url = fx.url("/revoke-denied");
    let err = revoke(&fx.out, &fx.ep(&url), &token, "access_token").await.unwrap_err();
    assert!(matches!(&err, TokenError::Provider { error, status: 401, .. } if error == "invalid_client"));
    assert!(err.to_string().contains("client ID and client secret"));

    let url = fx.url("/revoke-503");
    let err = revoke(&fx.out, &fx.ep(&url), &token, "access_token").await.unwrap_err();
    assert!(matches!(err, TokenError::Status(503)) && err.is_retryable());
}

#[tokio::test]
async fn nothing_secret_in_debug_or_display() {
    let set = TokenSet {
        access_token: Secret::new("at-123456"),
        refresh_token: Some(Secret::new("rt-654321")),
        expires_in: Some(1),
        scope: None,
        token_type: None,
    };
    let debug = format!("{set:?}");
    assert!(!debug.contains("at-123456") && !debug.contains("rt-654321"), "{debug}");

    let fx = Fx::new().await;
    let mut errors = Vec::new();
    for route in ["/error-400", "/error-200", "/not-json", "/no-token", "/500", "/slow", "/missing"] {
        let url = fx.url(route);
        let grant = TokenGrant::RefreshToken { refresh_token: &Secret::new("the-code-xyz"), scope: None };
        errors.push(request_token(&fx.out, &fx.ep(&url), grant).await.unwrap_err());
    }
    let bad_url = "http://127.0.0.1:1/token?client_secret=s3cr%t:x";
    errors.push(request_token(&fx.out, &fx.ep(bad_url), code_grant(Some("verifier-abc"))).await.unwrap_err());
    for err in &errors {
        let text = format!("{err} {err:?}");
        for secret in ["the-code-xyz", "s3cr%t:x", "verifier-abc", "at-leaked", "at-123456", "client_secret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
