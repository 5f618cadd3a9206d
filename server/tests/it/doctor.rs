//! `liaison doctor` run as an operator would, against a setup that works and against each broken
//! one: the line it prints and its exit status (1 on a FAIL, 0 with warnings only), and never a
//! secret.

use crate::cli::run;
use crate::harness::*;

const ADMIN_TOKEN: &str = "doctor-admin-token-0123456789abcdef";

/// A data directory a server has run on (database, schema, key file) and a built site.
fn healthy(db: &Db) -> Vec<(String, String)> {
    drop(Server::start(db));
    let site = db.data_dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    for f in ["pkg/liaison.wasm", "pkg/liaison.js", "pkg/liaison.css"] {
        std::fs::write(site.join(f), b"built").unwrap();
    }
    vec![
        ("LIAISON_SITE_ROOT".into(), site.to_str().unwrap().into()),
        ("LIAISON_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
    ]
}

fn doctor(db: &Db, env: &[(String, String)], more: &[(&str, &str)]) -> (i32, String) {
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(more);
    let (code, out, err) = run(db, &["doctor"], &all, "");
    assert!(err.is_empty(), "the doctor prints on standard output only: {err}");
    assert!(!out.contains(ADMIN_TOKEN), "no secret in the report: {out}");
    (code, out)
}

fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line `{start}…` in:\n{out}"))
}

/// A working setup passes on both databases; a DNS name that does not resolve is a warning, so the
/// exit status stays 0.
#[tokio::test]
async fn a_working_setup_passes_and_a_dns_failure_only_warns() {
    for db in databases().await {
        let label = db.label();
        let env = healthy(&db);
        let catalogue = db.data_dir.path().join("mine.toml");
        std::fs::write(
            &catalogue,
            "[[service]]\nid = \"intranet\"\nname = \"Intranet\"\nauth_type = \"api_key\"\n\
             api_base_urls = [\"https://api.doctor-check.invalid\"]\ndocs_url = \"https://doctor-check.invalid/docs\"\n",
        )
        .unwrap();
        let (code, out) = doctor(&db, &env, &[("LIAISON_CATALOG_FILE", catalogue.to_str().unwrap())]);
        assert_eq!(code, 0, "{label}:\n{out}");
        for check in [
            "configuration",
            "site",
            "catalogue",
            "public_url",
            "embedding",
            "metrics",
            "database",
            "migrations",
            "keys",
        ] {
            line(&out, &format!("ok    {check}: "));
        }
        if db.database_url.is_none() {
            line(&out, "ok    key file: ");
        } else {
            let database = line(&out, "ok    database: PostgreSQL at postgres://liaison@");
            assert!(!database.contains(":liaison@"), "{label}: no password: {database}");
        }
        assert!(line(&out, "ok    keys: ").contains("they open every secret in the database"), "{out}");
        assert!(line(&out, "warn  dns: api.doctor-check.invalid does not resolve").contains("resolv.conf"), "{out}");
    }
}

#[tokio::test]
async fn each_broken_setup_fails_with_its_line_and_exit_status_1() {
    let db = sqlite().await;
    let env = healthy(&db);
    let fails = |more: &[(&str, &str)], start: &str, says: &str| {
        let (code, out) = doctor(&db, &env, more);
        assert_eq!(code, 1, "{start}:\n{out}");
        let found = line(&out, start);
        assert!(found.contains(says), "`{says}` not in: {found}");
    };
    fails(&[("LIAISON_LISEN", "127.0.0.1:0")], "FAIL  configuration: unknown setting `LIAISON_LISEN`", "Fix it");
    fails(&[("LIAISON_SITE_ROOT", "/nonexistent")], "FAIL  site: /nonexistent has no pkg/liaison.wasm", "site_root");
    let bad_catalogue = db.data_dir.path().join("bad.toml");
    std::fs::write(&bad_catalogue, "[[service]]\nid = \"x\"\n").unwrap();
    fails(&[("LIAISON_CATALOG_FILE", bad_catalogue.to_str().unwrap())], "FAIL  catalogue: ", "catalog validate");
    fails(
        &[
            ("LIAISON_EMBED_ORIGINS", "https://console.example.com"),
            ("LIAISON_EMBED_SECRET", "an-embed-secret-of-more-than-32-characters"),
            ("LIAISON_PUBLIC_URL", "http://liaison.example.com"),
        ],
        "FAIL  embedding: embed_secret is set but public_url is not https://",
        "Set public_url",
    );
    fails(
        &[("LIAISON_EMBED_ORIGINS", "https://console.example.com"), ("LIAISON_EMBED_SECRET", "short-embed-secret")],
        "FAIL  configuration: bad value for `embed_secret`",
        "use at least 32 characters",
    );
    let (_, out) = doctor(&db, &env, &[("LIAISON_EMBED_SECRET", "short-embed-secret")]);
    assert!(!out.contains("short-embed-secret"), "{out}");
    let (_, out) = doctor(&db, &env, &[("LIAISON_EMBED_SECRET", "an-embed-secret-of-more-than-32-characters")]);
    assert!(!out.contains("an-embed-secret"), "{out}");
    fails(
        &[("LIAISON_DATABASE_URL", "postgres://liaison:hunter2-db-password@127.0.0.1:1/liaison")],
        "FAIL  database: cannot reach PostgreSQL at postgres://liaison@127.0.0.1:1/liaison",
        "Check that it runs",
    );
    let (_, out) =
        doctor(&db, &env, &[("LIAISON_DATABASE_URL", "postgres://liaison:hunter2-db-password@127.0.0.1:1/x")]);
    assert!(!out.contains("hunter2"), "{out}");

    // The key file: readable by others, then missing, then another Liaison's.
    let key = db.data_dir.path().join("master.key");
    let mode = |m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(0o644);
    fails(&[], "FAIL  key file: ", "(mode 0644); serve refuses it. Run `chmod 600");
    mode(0o600);
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    fails(&[], "FAIL  key file: cannot read", "Put back the key file saved with your backups");
    let elsewhere = sqlite().await;
    assert_eq!(run(&elsewhere, &["keys", "rotate"], &[], "").0, 0);
    let other = elsewhere.data_dir.path().join("master.key");
    std::fs::write(&key, &saved).unwrap();
    mode(0o600);
    fails(
        &[("LIAISON_KEY_FILE", other.to_str().unwrap())],
        "FAIL  keys: the keys given do not open the database's secrets",
        "servers seal under key",
    );

    // A newer Liaison's migration.
    let (code, out) = doctor(&db, &env, &[]);
    assert_eq!(code, 0, "the setup is whole again:\n{out}");
    let url = format!("sqlite://{}", db.data_dir.path().join("liaison.db").display());
    let store = server::store::Store::connect(&url, 1).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 0)",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    store.pool.close().await;
    fails(&[], "FAIL  migrations: the database has migration(s) 99990101000000", "cannot be downgraded in place");
}

/// Before the first start there is nothing to fail: no database, no key file yet, only warnings
/// that say `serve` makes them, and a migrated database without a key file is still one serve
/// completes.
#[tokio::test]
async fn a_fresh_install_only_warns() {
    let db = sqlite().await;
    let site = db.data_dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    for f in ["pkg/liaison.wasm", "pkg/liaison.js", "pkg/liaison.css"] {
        std::fs::write(site.join(f), b"built").unwrap();
    }
    let env = vec![("LIAISON_SITE_ROOT".to_string(), site.to_str().unwrap().to_string())];
    let (code, out) = doctor(&db, &env, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "warn  database: there is no database at ").contains("creates it"), "{out}");
    assert!(line(&out, "warn  key file: there is no key file at ").contains("creates it"), "{out}");
    assert!(!db.data_dir.path().join("liaison.db").exists(), "the doctor creates nothing");
    assert_eq!(run(&db, &["migrate"], &[], "").0, 0);
    let (code, out) = doctor(&db, &env, &[]);
    assert_eq!(code, 0, "{out}");
    line(&out, "ok    migrations: all ");
    line(&out, "warn  key file: there is no key file at ");
}
