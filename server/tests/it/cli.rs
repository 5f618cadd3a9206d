//! The command line: configuration errors, `migrate`, `admin create`.

use crate::harness::*;
use std::io::Write;
use std::process::Stdio;

fn run(db: &Db, args: &[&str], env: &[(&str, &str)], stdin: &str) -> (i32, String, String) {
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
