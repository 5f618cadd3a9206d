use super::*;

const GOOD: &str = r#"
[[service]]
id = "acme"
name = "Acme"
auth_type = "oauth2"
grant_type = "authorization_code"
authorize_url = "https://acme.example/oauth/authorize"
token_url = "https://acme.example/oauth/token"
api_base_urls = ["https://api.acme.example"]
scope_delimiter = "comma"
docs_url = "https://acme.example/docs"
[[service.scopes]]
name = "read"
display = "Read your data"
"#;

fn problems(text: &str) -> Vec<String> {
    parse(text, "f.toml").unwrap_err()
}

#[test]
fn the_shipped_catalogue_is_valid_and_has_the_providers_people_expect() {
    let catalog = Catalog::load(None).unwrap_or_else(|p| panic!("{}", p.join("\n")));
    assert!(catalog.services().len() >= 40, "only {} entries", catalog.services().len());
    for id in [
        "google",
        "microsoft",
        "github",
        "gitlab",
        "slack",
        "zoho",
        "salesforce",
        "hubspot",
        "dropbox",
        "box",
        "atlassian",
        "notion",
        "zoom",
        "xero",
        "quickbooks",
    ] {
        assert!(catalog.get(id).is_some(), "the catalogue lacks {id}");
    }
    for s in catalog.services() {
        assert!(!s.api_base_urls.is_empty(), "{}", s.id);
        assert_eq!(s.auth_type, AuthType::OAuth2, "{}", s.id);
    }
    let zoho = catalog.get("zoho").unwrap();
    assert_eq!(zoho.header_prefix, "Zoho-oauthtoken");
    assert_eq!(zoho.scope_delimiter, ScopeDelimiter::Comma);
}

#[test]
fn defaults_fill_what_an_entry_leaves_out() {
    let s = &parse(GOOD, "f.toml").unwrap()[0];
    assert_eq!(s.grant_type, Some(GrantType::AuthorizationCode));
    assert!(s.pkce);
    assert_eq!(
        (s.client_auth, s.token_request, s.param_type),
        (ClientAuth::Body, TokenRequest::Form, ParamType::Header)
    );
    assert_eq!((s.header_name.as_str(), s.header_prefix.as_str()), ("Authorization", "Bearer"));
    assert_eq!(s.token_path, ["access_token"]);
    assert_eq!(s.scopes, [Scope { name: "read".into(), display: "Read your data".into() }]);
    assert!(!s.allow_encoded_slashes, "encoded slashes in API paths are refused unless an entry asks");
}

#[test]
fn an_entry_may_ask_for_encoded_slashes_in_api_paths() {
    let text = GOOD.replace("scope_delimiter = \"comma\"", "scope_delimiter = \"comma\"\nallow_encoded_slashes = true");
    assert!(parse(&text, "f.toml").unwrap()[0].allow_encoded_slashes);
    // A spec stored before the setting existed reads as "no".
    let mut stored = serde_json::to_value(&parse(GOOD, "f.toml").unwrap()[0].spec).unwrap();
    stored.as_object_mut().unwrap().remove("allow_encoded_slashes");
    assert!(!serde_json::from_value::<ServiceSpec>(stored).unwrap().allow_encoded_slashes);
}

#[test]
fn each_rule_names_the_entry_and_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        ("id = \"acme\"", "id = \"Acme-1\"", "service `Acme-1`: id: use lowercase letters, digits and _ only"),
        ("auth_type = \"oauth2\"", "auth_type = \"saml\"", "auth_type: \"saml\" is not one of oauth2, api_key, basic"),
        ("grant_type = \"authorization_code\"\n", "", "grant_type: is required for oauth2"),
        (
            "scope_delimiter = \"comma\"",
            "scope_delimiter = \";\"",
            "scope_delimiter: \";\" is not one of space, comma, plus",
        ),
        (
            "token_url = \"https://acme.example/oauth/token\"",
            "token_url = \"http://acme.example/t\"",
            "token_url: \"http://acme.example/t\": Use https://; plain http is not allowed here.",
        ),
        (
            "authorize_url = \"https://acme.example/oauth/authorize\"\n",
            "",
            "authorize_url: is required for the authorization_code grant",
        ),
        (
            "api_base_urls = [\"https://api.acme.example\"]",
            "api_base_urls = []",
            "api_base_urls: name at least one URL the credential may be sent to",
        ),
        (
            "api_base_urls = [\"https://api.acme.example\"]",
            "api_base_urls = [\"https://api.acme.example/#x\"]",
            "api_base_urls: \"https://api.acme.example/#x\": A URL here cannot have a fragment (#…).",
        ),
        (
            "docs_url = \"https://acme.example/docs\"",
            "docs_url = \"https://acme.example/docs\"\nparam_type = \"query\"",
            "query_param: is required when param_type is query",
        ),
        (
            "docs_url = \"https://acme.example/docs\"",
            "docs_url = \"https://acme.example/docs\"\nquery_param = \"access_token\"",
            "query_param: is only for param_type = query",
        ),
        (
            "docs_url = \"https://acme.example/docs\"",
            "docs_url = \"https://acme.example/docs\"\nheader_prefix = \"Bearer token\"",
            "header_prefix: \"Bearer token\" must be one word",
        ),
        (
            "docs_url = \"https://acme.example/docs\"",
            "docs_url = \"https://acme.example/docs\"\ntoken_path = \"data..token\"",
            "token_path: use dot-separated key names",
        ),
        (
            "docs_url = \"https://acme.example/docs\"",
            "docs_url = \"https://acme.example/docs\"\n[service.extra_authorize_params]\nstate = \"x\"",
            "extra_authorize_params: \"state\" is set by Liaison itself",
        ),
        ("name = \"read\"", "name = \"read all\"", "scopes: \"read all\" is not a scope name (no spaces)"),
        ("display = \"Read your data\"", "display = \" \"", "scopes: \"read\" needs a display name"),
    ];
    for (from, to, expected) in cases {
        assert!(GOOD.contains(from), "{from}");
        let text = GOOD.replacen(from, to, 1);
        let found = problems(&text);
        assert!(found.iter().any(|p| p.contains(expected)), "expected {expected:?} in {found:#?}");
        assert!(found.iter().all(|p| p.starts_with("f.toml: service `")), "{found:#?}");
    }
}

#[test]
fn duplicates_unknown_keys_and_bad_toml_are_refused() {
    let twice = format!("{GOOD}\n{GOOD}");
    let found = problems(&twice);
    assert!(found.iter().any(|p| p.ends_with("id: is used by another entry in this file")), "{found:#?}");
    assert!(found.iter().any(|p| p.contains("name: \"Acme\" is used by another entry")), "{found:#?}");
    let found = problems(&GOOD.replacen("scope_delimiter", "scope_delimeter", 1));
    assert!(found[0].contains("unknown field `scope_delimeter`"), "{found:#?}");
    assert!(problems("[[service]\n")[0].starts_with("f.toml: "));
}

#[test]
fn an_operator_file_adds_and_replaces_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    let github = GOOD.replace("id = \"acme\"", "id = \"github\"").replace("name = \"Acme\"", "name = \"GitHub\"");
    std::fs::write(&path, format!("{GOOD}\n{github}")).unwrap();
    let shipped = Catalog::load(None).unwrap().services().len();
    let catalog = Catalog::load(Some(&path)).unwrap();
    assert_eq!(catalog.services().len(), shipped + 1);
    assert_eq!(
        catalog.get("github").unwrap().authorize_url.as_ref().unwrap().as_str(),
        "https://acme.example/oauth/authorize"
    );
    assert!(catalog.get("acme").is_some());

    let clash = GOOD.replace("name = \"Acme\"", "name = \"Google\"");
    std::fs::write(&path, clash).unwrap();
    let found = Catalog::load(Some(&path)).unwrap_err();
    assert!(found[0].contains("the name \"Google\" is already used by another service"), "{found:#?}");
}

#[test]
fn an_entry_may_document_its_rate_limits_for_retries() {
    assert_eq!(parse(GOOD, "f.toml").unwrap()[0].retries, None, "no table, no defaults");
    let text = format!(
        "{GOOD}[service.retries]\ndefault = 3\nreset_header = \"X-RateLimit-Reset\"\nreset_format = \"unix_seconds\"\n"
    );
    let r = parse(&text, "f.toml").unwrap_or_else(|p| panic!("{p:#?}"))[0].retries.clone().unwrap();
    assert_eq!(
        r,
        RetryDefaults {
            default: 3,
            reset_header: Some("x-ratelimit-reset".into()),
            reset_format: ResetFormat::UnixSeconds
        }
    );
    let only = format!("{GOOD}[service.retries]\ndefault = 2\n");
    assert_eq!(parse(&only, "f.toml").unwrap()[0].retries.as_ref().map(|r| r.default), Some(2));
    for (table, expected) in [
        ("default = 0", "retries.default: 0 is not a number of retries from 1 to 5"),
        ("default = 6", "retries.default: 6 is not a number of retries from 1 to 5"),
        (
            "default = 2\nreset_header = \"x reset\"\nreset_format = \"seconds\"",
            "retries.reset_header: \"x reset\" is not a valid header name",
        ),
        ("default = 2\nreset_header = \"x-reset\"", "retries.reset_format: is required with reset_header"),
        (
            "default = 2\nreset_header = \"x-reset\"\nreset_format = \"ms\"",
            "retries.reset_format: \"ms\" is not one of unix_seconds, seconds",
        ),
        ("default = 2\nreset_format = \"seconds\"", "retries.reset_format: is only for a reset_header"),
        ("default = 2\nmax = 3", "unknown field `max`"),
    ] {
        let found = problems(&format!("{GOOD}[service.retries]\n{table}\n"));
        assert!(found.iter().any(|p| p.contains(expected)), "expected {expected:?} in {found:#?}");
    }
}

#[test]
fn the_shipped_rate_limits_are_where_providers_document_them() {
    let catalog = Catalog::load(None).unwrap();
    let github = catalog.get("github").unwrap().retries.clone().unwrap();
    assert_eq!(
        (github.reset_header.as_deref(), github.reset_format),
        (Some("x-ratelimit-reset"), ResetFormat::UnixSeconds)
    );
    for id in ["slack", "notion", "dropbox", "microsoft", "discord", "gitlab", "twitter"] {
        let r = catalog.get(id).and_then(|s| s.retries.clone()).unwrap_or_else(|| panic!("{id} has no retry defaults"));
        assert!((1..=MAX_RETRIES).contains(&r.default), "{id}");
    }
}

#[test]
fn an_idle_lifetime_is_a_number_of_days_for_the_authorisation_code_only() {
    let catalog = Catalog::load(None).unwrap_or_else(|p| panic!("{}", p.join("\n")));
    assert_eq!(catalog.get("google").unwrap().refresh_idle_days, Some(180));
    assert_eq!(catalog.get("microsoft").unwrap().refresh_idle_days, Some(90));
    assert_eq!(catalog.get("github").unwrap().refresh_idle_days, None);
    assert_eq!(parse(GOOD, "f.toml").unwrap()[0].refresh_idle_days, None);
    let with = |days: &str| {
        GOOD.replace("scope_delimiter = \"comma\"", &format!("scope_delimiter = \"comma\"\nrefresh_idle_days = {days}"))
    };
    assert_eq!(parse(&with("30"), "f.toml").unwrap()[0].refresh_idle_days, Some(30));
    assert_eq!(parse(&with("3650"), "f.toml").unwrap()[0].refresh_idle_days, Some(3650));
    for bad in ["0", "-1", "3651"] {
        let p = problems(&with(bad));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("refresh_idle_days") && p[0].contains(bad), "{p:?}");
    }
    let machine = with("30").replace("grant_type = \"authorization_code\"", "grant_type = \"client_credentials\"");
    let p = problems(&machine);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("refresh_idle_days") && p[0].contains("authorization_code"), "{p:?}");
    // A spec stored without it reads as none, and one without it is stored without it.
    let stored = serde_json::to_value(&parse(GOOD, "f.toml").unwrap()[0].spec).unwrap();
    assert!(stored.get("refresh_idle_days").is_none(), "{stored}");
    assert_eq!(serde_json::from_value::<ServiceSpec>(stored).unwrap().refresh_idle_days, None);
}
