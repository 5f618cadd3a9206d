//! One test per rule of [`ServiceForm::parse`], each with the exact message a person sees next to
//! the field. Every test starts from a valid form, breaks one thing, and expects exactly one
//! message: so a rule that fires where it should not also fails a test.

use super::*;
use crate::model::Password;

/// A valid OAuth 2.0 authorization-code service.
fn code() -> ServiceForm {
    ServiceForm {
        name: "Acme CRM".into(),
        auth_type: "oauth2".into(),
        grant_type: "authorization_code".into(),
        client_id: "liaison-client".into(),
        authorize_url: "https://id.acme.example/authorize".into(),
        token_url: "https://id.acme.example/token".into(),
        api_base_urls: vec!["https://api.acme.example".into()],
        scopes: vec![scope("read", "Read your data")],
        pkce: true,
        ..Default::default()
    }
}

/// A valid OAuth 2.0 client-credentials service.
fn machine() -> ServiceForm {
    ServiceForm {
        grant_type: "client_credentials".into(),
        authorize_url: String::new(),
        client_secret: Password::new("s3cret-value"),
        ..code()
    }
}

/// A valid API key service.
fn api_key() -> ServiceForm {
    ServiceForm {
        name: "Weather".into(),
        auth_type: "api_key".into(),
        api_base_urls: vec!["https://api.weather.example".into()],
        ..Default::default()
    }
}

/// A valid Basic service.
fn basic() -> ServiceForm {
    ServiceForm { auth_type: "basic".into(), ..api_key() }
}

fn scope(name: &str, display: &str) -> Scope {
    Scope { name: name.into(), display: display.into() }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The messages the form shows, as (field, message), with plain http refused and no stored secret.
fn problems(form: &ServiceForm) -> Vec<(String, String)> {
    problems_with(form, false, false)
}

fn problems_with(form: &ServiceForm, allow_http: bool, has_secret: bool) -> Vec<(String, String)> {
    match form.parse(allow_http, has_secret) {
        Ok(_) => Vec::new(),
        Err(fields) => fields.into_iter().map(|f| (f.field, f.message)).collect(),
    }
}

/// Asserts the form shows exactly this one message.
#[track_caller]
fn only(form: &ServiceForm, field: &str, message: &str) {
    assert_eq!(problems(form), vec![(field.to_string(), message.to_string())]);
}

#[test]
fn the_baselines_are_valid() {
    for form in [code(), machine(), api_key(), basic()] {
        assert_eq!(problems(&form), vec![], "{form:?}");
    }
}

#[test]
fn name_is_required() {
    only(&ServiceForm { name: "   ".into(), ..code() }, "name", "Enter the service's name.");
}

#[test]
fn name_has_at_most_100_characters() {
    only(&ServiceForm { name: "n".repeat(101), ..code() }, "name", "Service's name has at most 100 characters.");
    assert_eq!(problems(&ServiceForm { name: "n".repeat(100), ..code() }), vec![]);
}

#[test]
fn name_cannot_contain_control_characters() {
    only(
        &ServiceForm { name: "Acme\u{7}CRM".into(), ..code() },
        "name",
        "Service's name cannot contain control characters.",
    );
}

#[test]
fn auth_type_must_be_one_of_the_three() {
    for bad in ["", "oauth", "OAuth2", "bearer"] {
        only(&ServiceForm { auth_type: bad.into(), ..api_key() }, "auth_type", "Choose OAuth 2.0, API key or Basic.");
    }
}

#[test]
fn grant_type_must_be_code_or_client_credentials_for_oauth() {
    for bad in ["", "password", "implicit"] {
        only(
            &ServiceForm { grant_type: bad.into(), authorize_url: String::new(), ..machine() },
            "grant_type",
            "Choose authorization code or client credentials.",
        );
    }
    // Not asked for API key and Basic services, whatever it holds.
    assert_eq!(problems(&ServiceForm { grant_type: "password".into(), ..api_key() }), vec![]);
    assert_eq!(
        ServiceForm { grant_type: "authorization_code".into(), ..basic() }.parse(false, false).unwrap().spec.grant_type,
        None
    );
}

#[test]
fn authorize_url_is_required_for_authorization_code_only() {
    only(
        &ServiceForm { authorize_url: " ".into(), ..code() },
        "authorize_url",
        "Enter the authorise URL from the provider's documentation.",
    );
    let parsed = ServiceForm { authorize_url: "https://ignored.example/auth".into(), ..machine() }.parse(false, false);
    assert_eq!(parsed.unwrap().spec.authorize_url, None, "client credentials has no authorise URL");
}

#[test]
fn authorize_url_must_be_a_full_https_url() {
    only(
        &ServiceForm { authorize_url: "id.acme.example/authorize".into(), ..code() },
        "authorize_url",
        "Enter a full URL starting with https://.",
    );
    only(
        &ServiceForm { authorize_url: "https://id.acme.example/authorize#top".into(), ..code() },
        "authorize_url",
        "A URL here cannot have a fragment (#…).",
    );
}

#[test]
fn token_url_is_required_for_oauth() {
    for form in [code(), machine()] {
        only(
            &ServiceForm { token_url: String::new(), ..form },
            "token_url",
            "Enter the access token URL from the provider's documentation.",
        );
    }
    // API key and Basic services ignore it.
    let parsed = ServiceForm { token_url: "nonsense".into(), ..api_key() }.parse(false, false).unwrap();
    assert_eq!(parsed.spec.token_url, None);
}

#[test]
fn token_url_cannot_carry_a_user_name_or_password() {
    only(
        &ServiceForm { token_url: "https://user:pw@id.acme.example/token".into(), ..code() },
        "token_url",
        "A URL here cannot contain a user name or password.",
    );
}

#[test]
fn plain_http_is_refused_unless_the_operator_allows_it() {
    let form = ServiceForm { token_url: "http://127.0.0.1:8080/token".into(), ..machine() };
    only(&form, "token_url", "Use https://; plain http is not allowed here.");
    assert_eq!(problems_with(&form, true, false), vec![]);
    let api = ServiceForm { api_base_urls: vec!["http://10.0.0.5/api".into()], ..api_key() };
    only(&api, "api_base_urls", "URL 1: Use https://; plain http is not allowed here.");
    assert_eq!(problems_with(&api, true, false), vec![]);
}

#[test]
fn refresh_url_is_optional_but_checked() {
    let parsed = ServiceForm { refresh_url: String::new(), ..code() }.parse(false, false).unwrap();
    assert_eq!(parsed.spec.refresh_url().map(ServiceUrl::as_str), Some("https://id.acme.example/token"));
    only(
        &ServiceForm { refresh_url: "https://id.acme.example:99999/refresh".into(), ..code() },
        "refresh_url",
        "The port after the host name must be a number from 1 to 65535.",
    );
}

#[test]
fn revoke_url_is_optional_but_checked() {
    let parsed = ServiceForm { revoke_url: String::new(), ..code() }.parse(false, false).unwrap();
    assert_eq!(parsed.spec.revoke_url, None);
    only(
        &ServiceForm { revoke_url: "https://id.acme.example/re voke".into(), ..code() },
        "revoke_url",
        "A URL cannot contain spaces.",
    );
}

#[test]
fn at_least_one_api_base_url() {
    for urls in [vec![], vec!["  ".to_string(), String::new()]] {
        only(
            &ServiceForm { api_base_urls: urls, ..api_key() },
            "api_base_urls",
            "Enter at least one API base URL: Liaison sends the credential only there.",
        );
    }
}

#[test]
fn api_base_urls_are_numbered_in_their_messages() {
    // Blank rows are skipped, so the number is that of the URL among those typed.
    let urls = vec!["https://api.weather.example".into(), "".into(), "https:///v2".into()];
    only(&ServiceForm { api_base_urls: urls, ..api_key() }, "api_base_urls", "URL 2: The URL has no host name.");
}

#[test]
fn an_api_base_url_listed_twice() {
    let urls = vec!["https://api.weather.example".into(), " https://api.weather.example ".into()];
    only(&ServiceForm { api_base_urls: urls, ..api_key() }, "api_base_urls", "URL 2 is listed twice.");
}

#[test]
fn client_id_is_required_for_oauth() {
    for form in [code(), machine()] {
        only(
            &ServiceForm { client_id: "  ".into(), ..form },
            "client_id",
            "Enter the client ID of the OAuth client you registered with the provider.",
        );
    }
    // API key and Basic services keep no client.
    let parsed = ServiceForm { client_id: "stray".into(), client_secret: Password::new("x"), ..basic() }
        .parse(false, false)
        .unwrap();
    assert_eq!((parsed.client_id, parsed.client_secret), (None, None));
}

#[test]
fn client_id_cannot_contain_control_characters() {
    only(
        &ServiceForm { client_id: "liaison\u{0}client".into(), ..code() },
        "client_id",
        "The client ID cannot contain control characters.",
    );
}

#[test]
fn client_credentials_needs_a_secret_unless_one_is_stored() {
    let form = ServiceForm { client_secret: Password::default(), ..machine() };
    only(&form, "client_secret", "Enter the client secret: the client credentials grant needs it.");
    // Editing: an empty secret keeps the stored one.
    assert_eq!(problems_with(&form, false, true), vec![]);
    // Authorization code works with public clients: no secret needed.
    assert_eq!(problems(&ServiceForm { client_secret: Password::default(), ..code() }), vec![]);
}

#[test]
fn client_secret_has_at_most_4096_characters() {
    only(
        &ServiceForm { client_secret: Password::new("s".repeat(4097)), ..code() },
        "client_secret",
        "The client secret is longer than 4096 characters.",
    );
    assert_eq!(problems(&ServiceForm { client_secret: Password::new("s".repeat(4096)), ..code() }), vec![]);
}

#[test]
fn scope_delimiter_is_space_comma_or_plus() {
    only(
        &ServiceForm { scope_delimiter: "semicolon".into(), ..code() },
        "scope_delimiter",
        "Choose how scopes are joined: space, comma or plus.",
    );
    let parsed = ServiceForm { scope_delimiter: " comma ".into(), ..code() }.parse(false, false).unwrap();
    assert_eq!(parsed.spec.scope_delimiter, ScopeDelimiter::Comma);
    let parsed = ServiceForm { scope_delimiter: String::new(), ..code() }.parse(false, false).unwrap();
    assert_eq!(parsed.spec.scope_delimiter, ScopeDelimiter::Space, "the default");
}

#[test]
fn client_auth_is_header_or_body() {
    only(
        &ServiceForm { client_auth: "jwt".into(), ..code() },
        "client_auth",
        "Choose where the client authenticates: header (HTTP Basic) or body.",
    );
}

#[test]
fn token_request_is_form_or_json() {
    only(
        &ServiceForm { token_request: "xml".into(), ..code() },
        "token_request",
        "Choose how token requests are encoded: form or JSON.",
    );
}

#[test]
fn param_type_is_header_or_query() {
    only(
        &ServiceForm { param_type: "cookie".into(), ..api_key() },
        "param_type",
        "Choose where the credential goes: a request header or a query parameter.",
    );
}

#[test]
fn header_name_is_a_plain_name() {
    for bad in ["X API Key", "X-Key:", "Authorisation\u{e9}"] {
        only(
            &ServiceForm { header_name: bad.into(), ..api_key() },
            "header_name",
            "Use a header name of letters, digits, - and _ only, e.g. X-API-Key.",
        );
    }
    let defaults = |f: ServiceForm| f.parse(false, false).unwrap().spec.header_name;
    assert_eq!(defaults(api_key()), "X-API-Key");
    assert_eq!(defaults(code()), "Authorization");
}

#[test]
fn header_prefix_is_one_word_or_nothing() {
    only(
        &ServiceForm { header_prefix: "Token bearer".into(), ..api_key() },
        "header_prefix",
        "Use one word before the credential, e.g. Bearer, or leave it empty.",
    );
    only(
        &ServiceForm { header_prefix: "p".repeat(51), ..api_key() },
        "header_prefix",
        "Use one word before the credential, e.g. Bearer, or leave it empty.",
    );
    let prefix = |f: ServiceForm| f.parse(false, false).unwrap().spec.header_prefix;
    assert_eq!(prefix(code()), "Bearer", "OAuth defaults to Bearer");
    assert_eq!(prefix(api_key()), "", "an API key may go bare");
    assert_eq!(prefix(ServiceForm { header_prefix: "Zoho-oauthtoken".into(), ..code() }), "Zoho-oauthtoken");
}

#[test]
fn query_credentials_need_a_parameter_name() {
    only(
        &ServiceForm { param_type: "query".into(), query_param: " ".into(), ..api_key() },
        "query_param",
        "Enter the query parameter that carries the credential, e.g. access_token.",
    );
    let parsed = ServiceForm { param_type: "query".into(), query_param: "appid".into(), ..api_key() }
        .parse(false, false)
        .unwrap();
    assert_eq!(parsed.spec.query_param.as_deref(), Some("appid"));
}

#[test]
fn query_parameter_is_a_plain_name() {
    only(
        &ServiceForm { param_type: "query".into(), query_param: "api key".into(), ..api_key() },
        "query_param",
        "Use a parameter name of letters, digits, - and _ only.",
    );
    // Checked even when the credential goes in a header.
    only(
        &ServiceForm { query_param: "a&b".into(), ..api_key() },
        "query_param",
        "Use a parameter name of letters, digits, - and _ only.",
    );
}

#[test]
fn token_path_is_dotted_plain_keys() {
    for bad in ["authed_user..access_token", ".access_token", "data[0].token", "access token"] {
        only(
            &ServiceForm { token_path: bad.into(), ..code() },
            "token_path",
            "Use key names separated by dots, e.g. authed_user.access_token.",
        );
    }
    let path = |f: ServiceForm| f.parse(false, false).unwrap().spec.token_path;
    assert_eq!(
        path(ServiceForm { token_path: "authed_user.access_token".into(), ..code() }),
        ["authed_user", "access_token"]
    );
    assert_eq!(path(code()), ["access_token"], "the default");
}

#[test]
fn scope_names_have_no_spaces() {
    only(
        &ServiceForm { scopes: vec![scope("read write", "Both")], ..code() },
        "scopes",
        "“read write” is not a scope name: scope names have no spaces.",
    );
    // A display name without a scope name.
    only(
        &ServiceForm { scopes: vec![scope(" ", "Read things")], ..code() },
        "scopes",
        "“” is not a scope name: scope names have no spaces.",
    );
    let long = "s".repeat(201);
    only(
        &ServiceForm { scopes: vec![scope(&long, "")], ..code() },
        "scopes",
        &format!("“{long}” is not a scope name: scope names have no spaces."),
    );
}

#[test]
fn a_scope_listed_twice() {
    only(
        &ServiceForm { scopes: vec![scope("read", "Read"), scope(" read ", "Read again")], ..code() },
        "scopes",
        "The scope read is listed twice.",
    );
}

#[test]
fn blank_scope_rows_are_skipped_and_display_names_default_to_the_name() {
    let form =
        ServiceForm { scopes: vec![scope("", " "), scope("openid", ""), scope("email", "Your email")], ..code() };
    let parsed = form.parse(false, false).unwrap();
    assert_eq!(parsed.spec.scopes, vec![scope("openid", "openid"), scope("email", "Your email")]);
}

#[test]
fn extra_parameters_have_plain_names() {
    for field in ["extra_authorize_params", "extra_token_params"] {
        let bad = pairs(&[("access type", "offline")]);
        let form = match field {
            "extra_authorize_params" => ServiceForm { extra_authorize_params: bad, ..code() },
            _ => ServiceForm { extra_token_params: bad, ..code() },
        };
        only(&form, field, "“access type” is not a parameter name: use letters, digits, - and _.");
    }
    // A value without a name.
    only(
        &ServiceForm { extra_token_params: pairs(&[("", "offline")]), ..code() },
        "extra_token_params",
        "“” is not a parameter name: use letters, digits, - and _.",
    );
}

#[test]
fn reserved_parameters_cannot_be_overridden() {
    for name in RESERVED_PARAMS {
        let message = format!("{name} is set by Liaison itself and cannot be overridden.");
        only(
            &ServiceForm { extra_authorize_params: pairs(&[(name, "x")]), ..code() },
            "extra_authorize_params",
            &message,
        );
        only(&ServiceForm { extra_token_params: pairs(&[(name, "x")]), ..code() }, "extra_token_params", &message);
    }
}

#[test]
fn an_extra_parameter_listed_twice() {
    only(
        &ServiceForm { extra_authorize_params: pairs(&[("prompt", "consent"), (" prompt", "none")]), ..code() },
        "extra_authorize_params",
        "The parameter prompt is listed twice.",
    );
    only(
        &ServiceForm { extra_token_params: pairs(&[("audience", "a"), ("audience", "b")]), ..code() },
        "extra_token_params",
        "The parameter audience is listed twice.",
    );
}

#[test]
fn blank_parameter_rows_are_skipped_and_values_trimmed() {
    let form = ServiceForm {
        extra_authorize_params: pairs(&[("", " "), ("access_type", " offline ")]),
        extra_token_params: pairs(&[(" ", "")]),
        ..code()
    };
    let spec = form.parse(false, false).unwrap().spec;
    assert_eq!(spec.extra_authorize_params, BTreeMap::from([("access_type".to_string(), "offline".to_string())]));
    assert!(spec.extra_token_params.is_empty());
}

#[test]
fn pkce_applies_to_authorization_code_only() {
    assert!(code().parse(false, false).unwrap().spec.pkce);
    assert!(!ServiceForm { pkce: false, ..code() }.parse(false, false).unwrap().spec.pkce);
    assert!(!ServiceForm { pkce: true, ..machine() }.parse(false, false).unwrap().spec.pkce);
}

#[test]
fn every_problem_is_reported_at_once() {
    let form = ServiceForm {
        name: String::new(),
        auth_type: "oauth2".into(),
        grant_type: "client_credentials".into(),
        client_id: String::new(),
        token_url: "ftp://x".into(),
        api_base_urls: vec![],
        scope_delimiter: "tab".into(),
        query_param: "?".into(),
        extra_token_params: pairs(&[("grant_type", "password")]),
        ..Default::default()
    };
    let fields: Vec<String> = problems(&form).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "name",
            "token_url",
            "api_base_urls",
            "client_id",
            "client_secret",
            "scope_delimiter",
            "query_param",
            "extra_token_params"
        ]
    );
}

#[test]
fn the_refresh_token_idle_lifetime_is_optional_days_for_the_authorisation_code() {
    let parsed = |f: ServiceForm| f.parse(false, false).unwrap().spec.refresh_idle_days;
    assert_eq!(parsed(code()), None);
    assert_eq!(parsed(ServiceForm { refresh_idle_days: " 90 ".into(), ..code() }), Some(90));
    assert_eq!(parsed(ServiceForm { refresh_idle_days: "3650".into(), ..code() }), Some(3650));
    for bad in ["0", "-3", "3651", "90d", "1.5"] {
        only(
            &ServiceForm { refresh_idle_days: bad.into(), ..code() },
            "refresh_idle_days",
            "Enter a number of days from 1 to 3650, or leave it empty.",
        );
    }
    only(
        &ServiceForm { refresh_idle_days: "90".into(), ..machine() },
        "refresh_idle_days",
        "Only an OAuth 2.0 service with the authorisation code has refresh tokens that lapse.",
    );
    // The edit form shows what is stored.
    let spec = ServiceForm { refresh_idle_days: "90".into(), ..code() }.parse(false, false).unwrap().spec;
    assert_eq!(ServiceForm::from_spec(&spec, None).refresh_idle_days, "90");
}
