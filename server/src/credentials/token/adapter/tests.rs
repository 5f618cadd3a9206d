//! Each quirk at the adapter, without a network: the request the crate builds as the adapter
//! rewrites it, and the answers as the adapter hands them to the crate.

use super::answer::{self, Refusal, Standard};
use super::*;
use crate::credentials::token::{default_token_path, tokens, TokenGrant};
use crate::outbound::{OutboundConfig, OutboundResponse};
use oauth2::basic::BasicTokenResponse;
use std::sync::Mutex;

fn outbound() -> Outbound {
    Outbound::new(OutboundConfig::default()).unwrap()
}

struct Settings {
    client_auth: ClientAuth,
    token_request: TokenRequest,
    secret: Option<Secret>,
    extra: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            client_auth: ClientAuth::Header,
            token_request: TokenRequest::Form,
            secret: Some(Secret::new("s3cr%t:x")),
            extra: BTreeMap::new(),
        }
    }
}

/// The request the crate builds for `grant` (or a revocation) with these settings, as the adapter
/// sends it: (content type, authorization, body, secrets to scrub).
fn sent(s: &Settings, grant: Option<TokenGrant<'_>>) -> (String, Option<String>, String, Vec<String>) {
    let path = default_token_path();
    let ep = TokenEndpoint {
        url: "https://id.acme.example/token",
        client_id: "my client",
        client_secret: s.secret.as_ref(),
        client_auth: s.client_auth,
        token_request: s.token_request,
        token_path: &path,
        extra_params: &s.extra,
        error_in_200: false,
    };
    let call = if grant.is_some() { Call::Token } else { Call::Revoke };
    let adapter = Adapter::new(&outbound(), &ep, call).unwrap();
    let seen: Mutex<Option<HttpRequest>> = Mutex::new(None);
    let capture = |req: HttpRequest| {
        *seen.lock().unwrap() = Some(req);
        async { Err::<HttpResponse, _>(TokenError::Status(599)) }
    };
    let run = async {
        match grant {
            Some(TokenGrant::ClientCredentials { scope }) => {
                let client = adapter.client().set_token_uri(adapter.token_url());
                let mut req = client.exchange_client_credentials();
                if let Some(s) = scope {
                    req = req.add_scope(Scope::new(s.into()));
                }
                let _ = req.request_async(&capture).await;
            }
            Some(TokenGrant::RefreshToken { refresh_token, .. }) => {
                let client = adapter.client().set_token_uri(adapter.token_url());
                let rt = oauth2::RefreshToken::new(refresh_token.expose().into());
                let _ = client.exchange_refresh_token(&rt).request_async(&capture).await;
            }
            Some(TokenGrant::AuthorizationCode { .. }) => unreachable!(),
            None => {
                let client = adapter.client().set_revocation_url(adapter.revocation_url());
                let token = oauth2::StandardRevocableToken::AccessToken(oauth2::AccessToken::new("at-x".into()));
                let _ = client.revoke_token(token).unwrap().request_async(&capture).await;
            }
        }
    };
    futures_util::FutureExt::now_or_never(run).unwrap();
    let req = seen.lock().unwrap().take().unwrap();
    let (req, sensitive) = adapter.rewrite(req).unwrap();
    assert_eq!(req.url().as_str(), "https://id.acme.example/token", "the service's own URL");
    assert_eq!(req.headers()["accept"], "application/json");
    let header = |n: &str| req.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let body = String::from_utf8(req.body().unwrap().as_bytes().unwrap().to_vec()).unwrap();
    (header("content-type").unwrap(), header("authorization"), body, sensitive)
}

fn form(body: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn resp(status: u16, content_type: &str, body: &str) -> OutboundResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert(CONTENT_TYPE, content_type.parse().unwrap());
    OutboundResponse { status, headers, body: bytes::Bytes::copy_from_slice(body.as_bytes()) }
}

fn standard(r: &OutboundResponse, path: &[&str], error_in_200: bool) -> Result<Standard, TokenError> {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    answer::standard(r, &path, error_in_200, &["the-code-xyz"])
}

/// The tokens the crate reads from the adapter's answer.
fn read(r: &OutboundResponse, path: &[&str], error_in_200: bool) -> crate::credentials::token::TokenSet {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let answer = answer::token(r, &path, error_in_200, &[]).unwrap();
    assert_eq!(answer.status(), 200);
    tokens(&serde_json::from_slice::<BasicTokenResponse>(answer.body()).unwrap())
}

#[test]
fn client_auth_in_the_header_or_in_the_body() {
    let grant = || Some(TokenGrant::ClientCredentials { scope: None });
    let (_, auth, body, sensitive) = sent(&Settings::default(), grant());
    assert_eq!(auth.as_deref(), Some("Basic bXkrY2xpZW50OnMzY3IlMjV0JTNBeA=="));
    assert_eq!(form(&body), BTreeMap::from([("grant_type".into(), "client_credentials".into())]));
    // Scrubbed from what the provider says as sent, form-encoded, and inside the Basic credentials.
    assert_eq!(sensitive, vec!["s3cr%t:x", "s3cr%25t%3Ax", "bXkrY2xpZW50OnMzY3IlMjV0JTNBeA=="]);
    let echoed = "bad client s3cr%25t%3Ax (Basic bXkrY2xpZW50OnMzY3IlMjV0JTNBeA==)";
    let sensitive: Vec<&str> = sensitive.iter().map(String::as_str).collect();
    assert_eq!(answer::clean(echoed, 300, &sensitive), "bad client [redacted] (Basic [redacted])");

    let body_auth = Settings { client_auth: ClientAuth::Body, ..Settings::default() };
    let (_, auth, body, _) = sent(&body_auth, grant());
    assert_eq!(auth, None);
    let body = form(&body);
    assert_eq!((body["client_id"].as_str(), body["client_secret"].as_str()), ("my client", "s3cr%t:x"));

    // A public client: its ID in the body, whatever the setting.
    let public = Settings { secret: None, ..Settings::default() };
    let (_, auth, body, _) = sent(&public, grant());
    assert_eq!((auth, form(&body).get("client_id").map(String::as_str)), (None, Some("my client")));
    assert!(!form(&body).contains_key("client_secret"));
}

#[test]
fn a_json_token_request_body() {
    let json = Settings { token_request: TokenRequest::Json, client_auth: ClientAuth::Body, ..Settings::default() };
    let rt = Secret::new("rt-old");
    let (content_type, _, body, sensitive) =
        sent(&json, Some(TokenGrant::RefreshToken { refresh_token: &rt, scope: None }));
    assert_eq!(content_type, "application/json");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "grant_type": "refresh_token", "refresh_token": "rt-old",
                            "client_id": "my client", "client_secret": "s3cr%t:x" })
    );
    assert!(sensitive.contains(&"rt-old".to_string()), "{sensitive:?}");
    // A form otherwise.
    let (content_type, _, _, _) = sent(&Settings::default(), Some(TokenGrant::ClientCredentials { scope: None }));
    assert_eq!(content_type, "application/x-www-form-urlencoded");
}

#[test]
fn extra_parameters_join_token_requests_only_and_override_nothing() {
    let mut s = Settings::default();
    s.extra.insert("audience".into(), "api://x".into());
    s.extra.insert("grant_type".into(), "must-not-override".into());
    let (_, _, body, _) = sent(&s, Some(TokenGrant::ClientCredentials { scope: Some("a,b") }));
    let body = form(&body);
    assert_eq!(body["audience"], "api://x");
    assert_eq!(body["grant_type"], "client_credentials");
    assert_eq!(body["scope"], "a,b");
    let (_, _, body, sensitive) = sent(&s, None);
    assert_eq!(
        form(&body),
        BTreeMap::from([("token".into(), "at-x".into()), ("token_type_hint".into(), "access_token".into())])
    );
    assert!(sensitive.contains(&"at-x".to_string()));
}

#[test]
fn scopes_are_joined_with_the_services_delimiter() {
    let scopes = ["read:a", "write_b"];
    let join = |d| scope(d, scopes.iter().copied()).map(|s| s.to_string());
    assert_eq!(join(ScopeDelimiter::Space).as_deref(), Some("read:a write_b"));
    assert_eq!(join(ScopeDelimiter::Comma).as_deref(), Some("read:a,write_b"));
    assert_eq!(join(ScopeDelimiter::Plus).as_deref(), Some("read:a+write_b"));
    assert!(scope(ScopeDelimiter::Comma, []).is_none());
    // The scopes granted, as a provider separates them.
    assert_eq!(granted_scopes("repo,user  gist"), ["repo", "user", "gist"]);
    // In the authorise URL, plus-delimited scopes are joined with spaces, which the URL writes `+`.
    let owned: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    assert_eq!(authorise_scope(ScopeDelimiter::Plus, &owned).map(|s| s.to_string()).as_deref(), Some("read:a write_b"));
    let base = "https://a.example/auth?x=1+1";
    let built = "https://a.example/auth?x=1+1&client_id=a+b&scope=c+d";
    assert_eq!(
        authorise_spaces(base, built, ScopeDelimiter::Space),
        "https://a.example/auth?x=1+1&client_id=a%20b&scope=c%20d"
    );
    assert_eq!(
        authorise_spaces(base, built, ScopeDelimiter::Plus),
        "https://a.example/auth?x=1+1&client_id=a%20b&scope=c+d"
    );
}

#[test]
fn an_error_inside_a_200_is_a_refusal_with_400() {
    let r =
        resp(200, "application/json", r#"{"error":"bad_verification_code","error_description":"the-code-xyz is old"}"#);
    let refusal = Refusal { error: "bad_verification_code".into(), description: Some("[redacted] is old".into()) };
    assert!(matches!(standard(&r, &[], false), Ok(Standard::Refused(x)) if x == refusal));
    let answer = answer::token(&r, &[], false, &["the-code-xyz"]).unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = serde_json::from_slice(answer.body()).unwrap();
    assert_eq!(body, serde_json::json!({ "error": "bad_verification_code", "error_description": "[redacted] is old" }));

    // Beside a token, it counts only for providers flagged so.
    let r = resp(200, "application/json", r#"{"access_token":"at-1","error":"odd"}"#);
    assert!(matches!(standard(&r, &[], false), Ok(Standard::Tokens(_))));
    assert!(matches!(standard(&r, &[], true), Ok(Standard::Refused(x)) if x.error == "odd"));
    // A revocation's 200 likewise.
    let revoked = |flag| answer::revocation(&r, flag, &[]).unwrap().status().as_u16();
    assert_eq!((revoked(false), revoked(true)), (200, 400));
    // A refusal keeps the status it came with.
    let r = resp(401, "application/json", r#"{"error":"invalid_client"}"#);
    assert_eq!(answer::token(&r, &[], false, &[]).unwrap().status(), 401);
}

#[test]
fn a_nested_token_is_moved_to_the_top() {
    let r = resp(
        200,
        "application/json",
        r#"{"ok":true,"access_token":"xoxb-bot","refresh_token":"bot-refresh","expires_in":60,
            "authed_user":{"access_token":"xoxp-user","expires_in":"43200","scope":"chat:write"}}"#,
    );
    let set = read(&r, &["authed_user", "access_token"], false);
    assert_eq!(set.access_token.expose(), "xoxp-user");
    assert_eq!((set.expires_in, set.scope.as_deref()), (Some(43200), Some("chat:write")));
    assert!(set.refresh_token.is_none(), "the top-level refresh token is the bot's");
    // Without a top-level token of its own, the fields beside the nest count.
    let r = resp(200, "application/json", r#"{"data":{"token":"t-1"},"refresh_token":"r-1","expires_in":5}"#);
    let set = read(&r, &["data", "token"], false);
    assert_eq!((set.access_token.expose(), set.refresh_token.as_ref().map(Secret::expose)), ("t-1", Some("r-1")));
    let err = standard(&r, &["data", "missing"], false).unwrap_err();
    assert_eq!(err.to_string(), "the token endpoint's answer could not be used: there is no access token at `data.missing`; check the service's token URL and token path");
}

#[test]
fn expires_in_as_a_string_is_made_a_number() {
    for (sent, expected) in
        // Beyond ten years is ten years: no answer makes an expiry time overflow.
        [
            (r#""3599""#, Some(3599)),
            ("3600", Some(3600)),
            (r#""12.5""#, Some(12)),
            ("-5", Some(0)),
            (r#""soon""#, None),
            ("9223372036854775807", Some(315_360_000)),
            ("1e30", Some(315_360_000)),
        ]
    {
        let r = resp(200, "application/json", &format!(r#"{{"access_token":"at","expires_in":{sent}}}"#));
        assert_eq!(read(&r, &[], false).expires_in, expected, "{sent}");
    }
}

#[test]
fn odd_answers_made_standard() {
    // Old GitHub: a form-encoded answer, with a comma-delimited scope and no expiry.
    let r = resp(
        200,
        "application/x-www-form-urlencoded; charset=utf-8",
        "access_token=gho_1&scope=repo%2Cuser&token_type=bearer",
    );
    let set = read(&r, &[], false);
    assert_eq!((set.access_token.expose(), set.scope.as_deref(), set.expires_in), ("gho_1", Some("repo,user"), None));
    // No token type (bearer then), the scopes as an array, the type's case.
    let r = resp(200, "application/json", r#"{"access_token":"at","scope":["a","b"]}"#);
    let set = read(&r, &[], false);
    assert_eq!((set.token_type.as_deref(), set.scope.as_deref()), (Some("bearer"), Some("a b")));
    let r = resp(200, "application/json", r#"{"access_token":"at","token_type":"Bearer"}"#);
    assert_eq!(read(&r, &[], false).token_type.as_deref(), Some("bearer"));
    // What cannot be made standard is the call's error, in Liaison's words.
    let r = resp(200, "text/html", "<html>at-leaked</html>");
    assert!(matches!(standard(&r, &[], false), Err(TokenError::Malformed(m)) if m == "it is not a JSON object"));
    let r = resp(503, "text/html", "<html>down</html>");
    assert!(matches!(standard(&r, &[], false), Err(TokenError::Status(503))));
    assert!(matches!(answer::revocation(&r, false, &[]), Err(TokenError::Status(503))));
}
