use super::start::{authorize_url, pkce_challenge};
use super::*;
use app::service::ServiceForm;
use app::service::ServiceSpec;
use oauth2::{CsrfToken, PkceCodeVerifier};

fn spec(delimiter: &str, pkce: bool) -> ServiceSpec {
    ServiceForm {
        name: "Acme".into(),
        auth_type: "oauth2".into(),
        grant_type: "authorization_code".into(),
        client_id: "cid".into(),
        authorize_url: "https://acme.example/authorize?tenant=x".into(),
        token_url: "https://acme.example/token".into(),
        api_base_urls: vec!["https://api.acme.example".into()],
        scope_delimiter: delimiter.into(),
        pkce,
        extra_authorize_params: vec![("access_type".into(), "offline".into())],
        ..Default::default()
    }
    .parse(false, false)
    .unwrap()
    .spec
}

#[test]
fn the_authorize_url_carries_state_pkce_and_scopes_joined_by_the_delimiter() {
    let scopes = vec!["read:a".to_string(), "write b".replace(' ', "_")];
    let st = CsrfToken::new("st".into());
    // RFC 7636 appendix B's verifier, whose challenge is known.
    let verifier = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
    let url =
        authorize_url(&spec("space", true), "c id", "https://l.example/cb", &scopes, &st, Some(&verifier)).unwrap();
    assert_eq!(
        url,
        "https://acme.example/authorize?tenant=x&response_type=code&client_id=c%20id&state=st\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\
         &redirect_uri=https%3A%2F%2Fl.example%2Fcb&scope=read%3Aa%20write_b&access_type=offline"
    );
    let url = authorize_url(&spec("comma", false), "c", "https://l/cb", &scopes, &st, None).unwrap();
    assert!(url.contains("&scope=read%3Aa%2Cwrite_b&") && !url.contains("code_challenge"), "{url}");
    let url = authorize_url(&spec("plus", false), "c", "https://l/cb", &scopes, &st, None).unwrap();
    assert!(url.contains("&scope=read%3Aa+write_b&"), "{url}");
    let url = authorize_url(&spec("space", false), "c", "https://l/cb", &[], &st, None).unwrap();
    assert!(!url.contains("scope="), "{url}");
}

#[test]
fn pkce_challenge_matches_rfc_7636_appendix_b() {
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn tickets_are_checked() {
    assert!(check_ticket("abcdefghijklmnop").is_ok());
    assert!(check_ticket("short").is_err());
    assert!(check_ticket("abcdefghijklmnop/../x").is_err());
}
