use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn defaults_apply_without_file_or_environment() {
    let c = Config::load_from(None, &[]).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert!(c.database_url.is_none());
    assert_eq!(c.session_ttl_hours, 12);
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn the_optional_listeners_take_an_address_or_nothing() {
    let c = Config::load_from(None, &[]).unwrap();
    assert_eq!((c.api_listen, c.metrics_listen), (None, None));
    let c = Config::load_from(None, &env(&[("LIAISON_API_LISTEN", "127.0.0.1:8081"), ("LIAISON_METRICS_LISTEN", " ")]))
        .unwrap();
    assert_eq!((c.api_listen.map(|a| a.to_string()), c.metrics_listen), (Some("127.0.0.1:8081".into()), None));
    for (key, bad) in [("LIAISON_API_LISTEN", "localhost:8081"), ("LIAISON_METRICS_LISTEN", "9090")] {
        let e = Config::load_from(None, &env(&[(key, bad)])).unwrap_err().to_string();
        assert!(e.contains(&format!("`{bad}` is not an address like")), "{e}");
    }
}

#[test]
fn environment_overrides_file_which_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liaison.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:4000\"\nsession_ttl_hours = 5\n").unwrap();
    let c = Config::load_from(Some(&path), &env(&[("LIAISON_SESSION_TTL_HOURS", "7")])).unwrap();
    assert_eq!(c.listen.port(), 4000);
    assert_eq!(c.session_ttl_hours, 7);
}

#[test]
fn unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liaison.toml");
    std::fs::write(&path, "lisen = \"127.0.0.1:4000\"\n").unwrap();
    let e = Config::load_from(Some(&path), &[]).unwrap_err().to_string();
    assert!(e.starts_with("unknown setting `lisen` in the configuration file"), "{e}");
    let e = Config::load_from(None, &env(&[("LIAISON_LISEN", "x")])).unwrap_err().to_string();
    assert!(e.starts_with("unknown setting `LIAISON_LISEN` in the environment"), "{e}");
}

#[test]
fn bad_values_name_the_key_and_where_it_came_from() {
    let e = Config::load_from(None, &env(&[("LIAISON_LISTEN", "nowhere")])).unwrap_err().to_string();
    assert_eq!(
        e,
        "bad value for `listen` (environment variable LIAISON_LISTEN): `nowhere` is not an address like 127.0.0.1:3000"
    );
    let e = Config::load_from(None, &env(&[("LIAISON_SESSION_TTL_HOURS", "ten")])).unwrap_err().to_string();
    assert!(e.contains("`ten` is not a whole number"), "{e}");
    let e = Config::load_from(None, &env(&[("LIAISON_SESSION_TTL_HOURS", "0")])).unwrap_err().to_string();
    assert!(e.contains("0 is outside 1..=720"), "{e}");
    let e = Config::load_from(None, &env(&[("LIAISON_LOG_FORMAT", "xml")])).unwrap_err().to_string();
    assert!(e.contains("`xml` is neither `text` nor `json`"), "{e}");
    let e = Config::load_from(None, &env(&[("LIAISON_ALLOW_HTTP_URLS", "maybe")])).unwrap_err().to_string();
    assert!(e.contains("`maybe` is neither true nor false"), "{e}");
    let e = Config::load_from(None, &env(&[("LIAISON_ADMIN_TOKEN", "short")])).unwrap_err().to_string();
    assert!(e.contains("at least 32 characters") && !e.contains("short"), "{e}");
    let c = Config::load_from(None, &env(&[("LIAISON_ALLOW_PRIVATE_NETWORK", "true")])).unwrap();
    assert!(c.allow_private_network == crate::outbound::PrivateNetwork::All && !c.allow_http_urls);
    let c = Config::load_from(None, &env(&[("LIAISON_ALLOW_PRIVATE_NETWORK", "127.0.0.1/32, ::1/128")])).unwrap();
    assert!(matches!(&c.allow_private_network, crate::outbound::PrivateNetwork::Ranges(r) if r.len() == 2));
    let e = Config::load_from(None, &env(&[("LIAISON_ALLOW_PRIVATE_NETWORK", "10.0.0.1/8")])).unwrap_err();
    assert!(e.to_string().contains("did you mean 10.0.0.0/8?"), "{e}");
    assert_eq!(c.key_file, PathBuf::from("data/master.key"));
    for (url, msg) in [
        ("ftp://x.example", "must start with https://"),
        ("https://u:p@x.example", "must not contain a user name or password"),
        ("https://x.example/#a", "must not have a query"),
        ("x.example", "is not an absolute URL"),
    ] {
        let e = Config::load_from(None, &env(&[("LIAISON_PUBLIC_URL", url)])).unwrap_err().to_string();
        assert!(e.contains(msg), "{url}: {e}");
    }
}

#[test]
fn slow_client_limits_have_defaults_and_are_checked() {
    let c = Config::load_from(None, &[]).unwrap();
    assert_eq!((c.header_read_timeout_seconds, c.request_timeout_seconds, c.max_connections), (10, 60, 4096));
    let e = Config::load_from(None, &env(&[("LIAISON_HEADER_READ_TIMEOUT_SECONDS", "0")])).unwrap_err().to_string();
    assert!(e.contains("`header_read_timeout_seconds`") && e.contains("0 is outside 1..=300"), "{e}");
    let e = Config::load_from(None, &env(&[("LIAISON_MAX_CONNECTIONS", "8")])).unwrap_err().to_string();
    assert!(e.contains("`max_connections`") && e.contains("8 is outside 16..=1000000"), "{e}");
    let e = Config::load_from(None, &env(&[("LIAISON_REQUEST_TIMEOUT_SECONDS", "20")])).unwrap_err().to_string();
    assert_eq!(
        e,
        "bad value for `request_timeout_seconds` (environment variable LIAISON_REQUEST_TIMEOUT_SECONDS): 20 is not more than outbound_timeout_seconds (20): a call to a provider would be cut short"
    );
    let c = Config::load_from(
        None,
        &env(&[("LIAISON_OUTBOUND_TIMEOUT_SECONDS", "1"), ("LIAISON_REQUEST_TIMEOUT_SECONDS", "2")]),
    )
    .unwrap();
    assert_eq!(c.request_timeout_seconds, 2);
}

#[test]
fn database_url_errors_never_show_the_url() {
    let e =
        Config::load_from(None, &env(&[("LIAISON_DATABASE_URL", "mysql://root:s3cr3t@db/x")])).unwrap_err().to_string();
    assert!(!e.contains("s3cr3t"), "{e}");
    assert!(e.contains("`mysql:`"), "{e}");
}

#[test]
fn secrets_can_come_from_files_and_database_url_from_the_plain_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    std::fs::write(&path, "postgres://u:pw@localhost/db\n").unwrap();
    let c = Config::load_from(None, &env(&[("LIAISON_DATABASE_URL_FILE", path.to_str().unwrap())])).unwrap();
    assert_eq!(c.database_url.as_ref().map(Secret::expose), Some("postgres://u:pw@localhost/db"));
    assert!(!format!("{c:?}").contains("pw@"));
    let c = Config::load_from(None, &env(&[("DATABASE_URL", "postgres://h/db")])).unwrap();
    assert_eq!(c.database_url.as_ref().map(Secret::expose), Some("postgres://h/db"));
    // Only secrets have a _FILE form.
    let e = Config::load_from(None, &env(&[("LIAISON_LISTEN_FILE", "/x")])).unwrap_err().to_string();
    assert!(e.contains("LIAISON_LISTEN_FILE"), "{e}");
}

#[test]
fn readme_documents_every_setting() {
    let readme = include_str!("../../../README.md");
    for s in SETTINGS {
        assert!(readme.contains(&format!("`{}`", s.key)), "README lacks `{}`", s.key);
        assert!(readme.contains(&s.env_name()), "README lacks {}", s.env_name());
    }
}

#[test]
fn consoles_bring_nobody_unless_allowed_and_admins_only_with_people() {
    let embedding =
        [("LIAISON_EMBED_ORIGINS", "https://console.example.com"), ("LIAISON_EMBED_SECRET", &"k".repeat(32))];
    let with = |extra: &[(&str, &str)]| {
        let mut pairs = embedding.to_vec();
        pairs.extend_from_slice(extra);
        Config::load_from(None, &env(&pairs))
    };
    assert_eq!(with(&[]).unwrap().embed_provision, Provision::default());
    let c = with(&[("LIAISON_EMBED_PROVISION_USERS", "true")]).unwrap();
    assert_eq!(c.embed_provision, Provision { users: true, admins: false });
    let c = with(&[("LIAISON_EMBED_PROVISION_USERS", "true"), ("LIAISON_EMBED_PROVISION_ADMINS", "true")]).unwrap();
    assert_eq!(c.embed_provision, Provision { users: true, admins: true });
    let e = with(&[("LIAISON_EMBED_PROVISION_ADMINS", "true")]).unwrap_err().to_string();
    assert!(
        e.starts_with("bad value for `embed_provision_admins`") && e.contains("set embed_provision_users too"),
        "{e}"
    );
    let e = Config::load_from(None, &env(&[("LIAISON_EMBED_PROVISION_USERS", "yes")])).unwrap_err().to_string();
    assert!(e.starts_with("bad value for `embed_provision_users`") && e.contains("set embed_secret too"), "{e}");
}

#[test]
fn the_embed_theme_is_checked_at_start_and_named_in_the_error() {
    let embedding =
        [("LIAISON_EMBED_ORIGINS", "https://console.example.com"), ("LIAISON_EMBED_SECRET", &"k".repeat(32))];
    let with = |theme: &str| {
        let mut pairs = embedding.to_vec();
        pairs.push(("LIAISON_EMBED_THEME", theme));
        Config::load_from(None, &env(&pairs))
    };
    assert!(Config::load_from(None, &env(&embedding)).unwrap().embed_theme.is_none());
    let c = with("accent=#0b6e4f; scheme=light").unwrap();
    assert!(c.embed_theme.unwrap().css().contains("--liaison-accent: #0b6e4f;"));
    let e = with("accent=#0b6e4f;} body {color:red").unwrap_err().to_string();
    assert!(e.starts_with("bad value for `embed_theme` (environment variable LIAISON_EMBED_THEME): "), "{e}");
    // The file's table form.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liaison.toml");
    std::fs::write(&path, "[embed_theme]\nradius = \"30px\"\n").unwrap();
    let e = Config::load_from(Some(&path), &env(&embedding)).unwrap_err().to_string();
    assert!(e.contains("`embed_theme` (the configuration file") && e.contains("radius `30px`"), "{e}");
    std::fs::write(&path, "[embed_theme]\nscheme = \"dark\"\n").unwrap();
    assert_eq!(
        Config::load_from(Some(&path), &env(&embedding)).unwrap().embed_theme.unwrap().scheme,
        crate::theme::Scheme::Dark
    );
    // Only embedded pages are themed.
    let e = Config::load_from(None, &env(&[("LIAISON_EMBED_THEME", "scheme=dark")])).unwrap_err().to_string();
    assert!(e.contains("set embed_secret too"), "{e}");
}
