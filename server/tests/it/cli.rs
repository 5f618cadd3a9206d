//! The command line: configuration errors, `migrate`, `admin create`, `catalog validate`,
//! `backup` and `restore`.

use crate::harness::*;
use std::io::Write;
use std::process::Stdio;

pub fn run(db: &Db, args: &[&str], env: &[(&str, &str)], stdin: &str) -> (i32, String, String) {
    let mut cmd = db.command();
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn configuration_errors_exit_non_zero_with_a_message_naming_the_setting() {
    let db = sqlite().await;
    let (code, _, err) = run(&db, &["serve"], &[("LIAISON_LISEN", "127.0.0.1:0")], "");
    assert_eq!(code, 2);
    assert!(err.contains("unknown setting `LIAISON_LISEN` in the environment"), "{err}");

    let (code, _, err) = run(&db, &["serve"], &[("LIAISON_LISTEN", "localhost")], "");
    assert_eq!(code, 2);
    assert!(err.contains("bad value for `listen` (environment variable LIAISON_LISTEN)"), "{err}");

    let file = db.data_dir.path().join("liaison.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nsesion_ttl_hours = 3\n").unwrap();
    let (code, _, err) = run(&db, &["--config", file.to_str().unwrap(), "serve"], &[], "");
    assert_eq!(code, 2);
    assert!(err.contains("unknown setting `sesion_ttl_hours` in the configuration file"), "{err}");

    std::fs::write(&file, "session_ttl_hours = \"soon\"\n").unwrap();
    let (code, _, err) = run(&db, &["migrate"], &[("LIAISON_CONFIG", file.to_str().unwrap())], "");
    assert_eq!(code, 2);
    assert!(err.contains("configuration error"), "{err}");

    std::fs::write(&file, "listen = [").unwrap();
    let (code, _, err) = run(&db, &["serve"], &[("LIAISON_CONFIG", file.to_str().unwrap())], "");
    assert_eq!(code, 2);
    assert!(err.contains("is not valid TOML"), "{err}");
}

#[tokio::test]
async fn a_config_file_is_read_and_migrate_is_idempotent() {
    for db in databases().await {
        let file = db.data_dir.path().join("liaison.toml");
        std::fs::write(&file, "log_format = \"json\"\n").unwrap();
        for _ in 0..2 {
            let (code, out, err) = run(&db, &["--config", file.to_str().unwrap(), "migrate"], &[], "");
            assert_eq!(code, 0, "{}: {err}", db.label());
            assert!(out.contains("database schema is up to date"), "{out}");
        }
    }
}

#[tokio::test]
async fn admin_create_adds_users_who_can_sign_in() {
    for db in databases().await {
        let label = db.label();
        let args =
            ["admin", "create", "--email", "Bob@Acme.example", "--name", "Bob", "--org", "Acme", "--role", "member"];
        let (code, _, err) = run(&db, &args, &[], "short\n");
        assert_ne!(code, 0);
        assert!(err.contains("password: Use at least 12 characters."), "{label}: {err}");
        let (code, _, err) = run(
            &db,
            &["admin", "create", "--email", "x", "--name", "X", "--org", "Acme"],
            &[],
            "long enough password\n",
        );
        assert_ne!(code, 0);
        assert!(err.contains("--email: Enter an email address like name@example.com."), "{err}");
        let (code, _, err) = run(
            &db,
            &["admin", "create", "--email", "x@acme.example", "--name", "X", "--org", "Acme", "--role", "owner"],
            &[],
            "long enough password\n",
        );
        assert_ne!(code, 0);
        assert!(err.contains("--role: use admin or member."), "{err}");

        let (code, out, err) = run(&db, &args, &[], "bobs long password\n");
        assert_eq!(code, 0, "{label}: {err}");
        assert!(out.contains("created member bob@acme.example"), "{out}");
        let (code, _, err) = run(&db, &args, &[], "bobs long password\n");
        assert_ne!(code, 0, "{label}: the same email twice");
        assert!(err.contains("already in use"), "{err}");

        let server = Server::start(&db);
        let client = server.client();
        // A user exists, so the setup page is closed.
        assert_eq!(client.rpc("setup_needed", &[]).await.json(), false);
        let r = setup(&client).await;
        assert_eq!(r.status, 409, "{label}: {}", r.body);
        let r = client.rpc("sign_in", &[("email", "bob@acme.example"), ("password", "bobs long password")]).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let me = client.me().await;
        assert_eq!((me["role"].as_str(), me["org_name"].as_str()), (Some("member"), Some("Acme")));
    }
}

#[tokio::test]
async fn catalog_validate_reports_each_problem_and_serve_refuses_a_bad_catalogue() {
    let db = sqlite().await;
    let (code, out, err) = run(&db, &["catalog", "validate"], &[], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("catalogue OK: "), "{out}");

    let file = db.data_dir.path().join("mine.toml");
    std::fs::write(
        &file,
        r#"
[[service]]
id = "intranet"
name = "Intranet"
auth_type = "oauth2"
grant_type = "client_credentials"
token_url = "http://intranet.example/token"
api_base_urls = []
docs_url = "https://intranet.example/docs"
"#,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (code, _, err) = run(&db, &["catalog", "validate", path], &[], "");
    assert_eq!(code, 1);
    assert!(err.contains("the catalogue has 2 problem(s)"), "{err}");
    assert!(err.contains("service `intranet`: token_url: \"http://intranet.example/token\": Use https://"), "{err}");
    assert!(err.contains("service `intranet`: api_base_urls: name at least one URL"), "{err}");

    // The same file, configured, stops the server from starting.
    let (code, _, err) = run(&db, &["serve"], &[("LIAISON_CATALOG_FILE", path), ("LIAISON_LISTEN", "127.0.0.1:0")], "");
    assert_eq!(code, 1);
    assert!(err.contains("the service catalogue has problems"), "{err}");

    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("http://", "https://")
            .replace("[]", "[\"https://api.intranet.example\"]"),
    )
    .unwrap();
    let (code, out, err) = run(&db, &["catalog", "validate"], &[("LIAISON_CATALOG_FILE", path)], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("including {path}")), "{out}");
}

/// A backup taken while the server serves, restored into a new data directory with the key file:
/// the restored Liaison calls the service with the same API token and the same sealed credential.
/// Every refusal says what to do, and changes nothing.
#[tokio::test]
async fn a_backup_taken_while_serving_restores_into_a_new_data_dir_and_every_connection_works() {
    use crate::faults::{Fault, FaultProvider};
    use serde_json::json;
    let fp = FaultProvider::start().await;
    fp.set_at("/v1/data", Fault::json(200, json!({ "ok": true })));
    let call = |server: &Server, token: &str| {
        let (url, token) = (format!("{}/api/v1/connections/keyed/proxy/v1/data", server.url), token.to_string());
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    let db = sqlite().await;
    let server = crate::api::start_liaison(&db);
    let token = crate::lifecycle::keyed_connection(&server.client(), &fp.base, "backed-up-secret-01", "backup").await;
    assert_eq!(call(&server, &token).await, 200);

    // Taken while the server runs.
    let file = db.data_dir.path().join("backup.db");
    let file_arg = file.to_str().unwrap();
    let (code, out, err) = run(&db, &["backup", file_arg], &[], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the keys are not in it"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let bytes = std::fs::read(&file).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("backed-up-secret-01"), "the credential is sealed in it");
    let (code, _, err) = run(&db, &["backup", file_arg], &[], "");
    assert_eq!(code, 1, "an existing file is never overwritten: {err}");
    assert!(err.contains("exists"), "{err}");
    drop(server);

    // Into a new data directory: refused without the key file, and nothing is left there.
    let fresh = sqlite().await;
    let (code, _, err) = run(&fresh, &["restore", file_arg], &[], "");
    assert_eq!(code, 1);
    assert!(err.contains("no key file"), "{err}");
    assert!(!fresh.data_dir.path().join("liaison.db").exists());
    // Not a Liaison database: refused.
    let junk = fresh.data_dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    std::fs::copy(db.data_dir.path().join("master.key"), fresh.data_dir.path().join("master.key")).unwrap();
    let (code, _, err) = run(&fresh, &["restore", junk.to_str().unwrap()], &[], "");
    assert_eq!(code, 1);
    assert!(err.contains("is not a Liaison backup"), "{err}");
    assert!(!fresh.data_dir.path().join("liaison.db").exists());

    // With its key file: restored, and the connection works with the same token.
    let (code, out, err) = run(&fresh, &["restore", file_arg], &[], "");
    assert_eq!(code, 0, "{out}{err}");
    let restored = crate::api::start_liaison(&fresh);
    assert_eq!(call(&restored, &token).await, 200);
    assert_eq!(fp.last_request().unwrap().header("x-key"), Some("backed-up-secret-01"));
    drop(restored);
    // A second restore over the restored database is refused, and changes nothing in it.
    let restored_db = fresh.data_dir.path().join("liaison.db");
    let before = std::fs::read(&restored_db).unwrap();
    let (code, _, err) = run(&fresh, &["restore", file_arg], &[], "");
    assert_eq!(code, 1);
    assert!(err.contains("restore into a data directory without a database"), "{err}");
    assert!(std::fs::read(&restored_db).unwrap() == before, "the database is as it was");
    // A database a server left with its -wal is refused the same way.
    let moved = fresh.data_dir.path().join("liaison.db.moved");
    std::fs::rename(fresh.data_dir.path().join("liaison.db"), &moved).unwrap();
    std::fs::write(fresh.data_dir.path().join("liaison.db-wal"), b"left by a server that died").unwrap();
    let (code, _, err) = run(&fresh, &["restore", file_arg], &[], "");
    assert_eq!(code, 1);
    assert!(err.contains("liaison.db-wal is there"), "{err}");
    assert!(!fresh.data_dir.path().join("liaison.db").exists());
    std::fs::remove_file(fresh.data_dir.path().join("liaison.db-wal")).unwrap();
    std::fs::rename(&moved, fresh.data_dir.path().join("liaison.db")).unwrap();

    // With another Liaison's keys, the restore says the secrets cannot be opened.
    let other = sqlite().await;
    // A Liaison of its own: a database and a key file of its own (made by `keys rotate`).
    let (code, out, err) = run(&other, &["keys", "rotate"], &[], "");
    assert_eq!(code, 0, "{out}{err}");
    std::fs::remove_file(other.data_dir.path().join("liaison.db")).unwrap();
    let _ = std::fs::remove_file(other.data_dir.path().join("liaison.db-wal"));
    let _ = std::fs::remove_file(other.data_dir.path().join("liaison.db-shm"));
    let (code, _, err) = run(&other, &["restore", file_arg], &[], "");
    assert_eq!(code, 1);
    assert!(err.contains("nothing was restored") && err.contains("is not the keys of the Liaison"), "{err}");
    let left: Vec<_> = std::fs::read_dir(other.data_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("liaison.db"))
        .collect();
    assert!(left.is_empty(), "a refused restore leaves nothing behind: {left:?}");
    // Neither does a backup that cannot be taken (PostgreSQL is told to use its own tools).
    let (code, _, err) = run(&db, &["backup", "/nonexistent-dir/backup.db"], &[], "");
    assert_eq!(code, 1, "{err}");
    assert!(!std::path::Path::new("/nonexistent-dir/backup.db.partial").exists());
    if let Some(pg) = postgres().await {
        let (code, _, err) = run(&pg, &["backup", file_arg], &[], "");
        assert_eq!(code, 1);
        assert!(err.contains("pg_dump"), "{err}");
    }
}
