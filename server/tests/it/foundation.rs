//! The foundation over HTTP: health, first-run setup, sign-in and sign-out, sessions that survive
//! a restart, the same-origin rule, and the page guard, on every database.

use crate::harness::*;

#[tokio::test]
async fn health_endpoint_reports_the_database() {
    for db in databases().await {
        let server = Server::start(&db);
        let r = server.client().get("/healthz").await;
        assert_eq!(r.status, 200, "{}", db.label());
        assert_eq!(r.json()["status"], "ok");
    }
}

#[tokio::test]
async fn the_embedded_default_creates_its_private_data_directory_on_first_run() {
    let db = sqlite().await;
    let dir = db.data_dir.path().join("fresh");
    assert!(!dir.exists());
    let server = Server::start_with(&db, &[("LIAISON_DATA_DIR", dir.to_str().unwrap())]);
    assert!(dir.join("liaison.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "data directory mode {mode:o}");
    }
    let mode = sqlite_journal_mode(&dir.join("liaison.db")).await;
    assert_eq!(mode, "wal");
    drop(server);
}

async fn sqlite_journal_mode(file: &std::path::Path) -> String {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", file.display());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap()
}

#[tokio::test]
async fn setup_then_sign_out_then_sign_in_on_every_database() {
    for db in databases().await {
        let label = db.label();
        let server = Server::start(&db);
        let client = server.client();

        // Nobody exists yet: every page leads to setup.
        for path in ["/", "/login", "/settings/developer-space/connections"] {
            let r = client.get(path).await;
            assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/setup"), "{label} {path}");
        }
        assert_eq!(client.get("/setup").await.status, 200);
        assert_eq!(client.rpc("setup_needed", &[]).await.json(), true);
        assert_eq!(client.me().await, serde_json::Value::Null);

        // Invalid fields: 422 with a message per field, nothing saved.
        let bad = client
            .rpc(
                "setup",
                &[
                    ("org_name", " "),
                    ("name", "Ada"),
                    ("email", "nope"),
                    ("password", "short"),
                    ("password_confirm", "short"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422, "{label}: {}", bad.body);
        let fields: Vec<_> =
            bad.json()["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
        assert_eq!(fields, ["org_name", "email", "password"]);
        assert_eq!(client.rpc("setup_needed", &[]).await.json(), true, "{label}: nothing saved");

        let r = setup(&client).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        let cookie = r.set_cookie().unwrap();
        assert!(cookie.starts_with("liaison_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
        let me = client.me().await;
        assert_eq!(me["email"], ADMIN_EMAIL);
        assert_eq!(me["role"], "admin");
        assert_eq!(me["org_name"], "Acme");

        // The setup page and function are closed for good.
        assert_eq!(client.get("/setup").await.headers["location"], "/settings/developer-space/connections");
        let again = server.client();
        let r = setup(&again).await;
        assert_eq!(r.status, 409, "{label}: {}", r.body);
        assert_eq!(r.json()["code"], "setup_complete");
        assert_eq!(again.get("/setup").await.headers["location"], "/login");

        // The signed-in page renders.
        let page = client.get("/settings/developer-space/connections").await;
        assert_eq!(page.status, 200);
        for text in ["My Connections", "Internal Connections", "+ New Connection", "No connections yet"] {
            assert!(page.body.contains(text), "{label}: page lacks {text}");
        }
        // Its head says who is signed in, for the browser to read as it hydrates.
        let viewer = page_viewer(&page.body);
        assert_eq!((viewer["email"].as_str(), viewer["role"].as_str()), (Some(ADMIN_EMAIL), Some("admin")), "{label}");
        assert_eq!(viewer["org_name"], "Acme");
        // Sign-out is a plain form: it works with or without the wasm.
        assert!(page.body.contains(r#"<form method="post" action="/rpc/sign_out">"#), "{label}: no sign-out form");

        // Sign out ends the session on the server, not only in the browser.
        let old_cookie = client.cookie.lock().unwrap().clone();
        let r = client.rpc("sign_out", &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.set_cookie().unwrap().contains("Max-Age=0"));
        assert_eq!(client.me().await, serde_json::Value::Null);
        *client.cookie.lock().unwrap() = old_cookie;
        assert_eq!(client.me().await, serde_json::Value::Null, "{label}: the old cookie is dead");
        *client.cookie.lock().unwrap() = None;
        assert_eq!(client.get("/settings/developer-space/connections").await.headers["location"], "/login");
        let login = client.get("/login").await;
        assert_eq!(page_viewer(&login.body), serde_json::Value::Null, "{label}");
        // Before the wasm has loaded, the sign-in form still posts to its server function.
        assert!(login.body.contains(r#"<form method="post" action="/rpc/sign_in""#), "{label}: {}", login.body);

        // Wrong password and unknown email get the same answer.
        for (email, password) in [(ADMIN_EMAIL, "not the password"), ("bob@acme.example", ADMIN_PASSWORD), ("", "")] {
            let r = client.rpc("sign_in", &[("email", email), ("password", password)]).await;
            assert_eq!(r.status, 401, "{label} {email}: {}", r.body);
            assert_eq!(r.json()["code"], "invalid_credentials");
            assert_eq!(
                r.json()["message"],
                "That email and password do not match an account. Check them and try again."
            );
            assert!(r.set_cookie().is_none());
        }
        let r = client.rpc("sign_in", &[("email", " ADA@acme.example "), ("password", ADMIN_PASSWORD)]).await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(client.me().await["name"], "Ada Admin");
        assert!(!server.log().contains(ADMIN_PASSWORD), "{label}: the password reached the log");
    }
}

#[tokio::test]
async fn sessions_survive_a_server_restart() {
    for db in databases().await {
        let first = Server::start(&db);
        let client = first.client();
        assert_eq!(setup(&client).await.status, 200);
        let status = first.stop();
        assert!(status.success(), "{}: graceful shutdown exits 0, got {status}", db.label());

        let second = Server::start(&db);
        let client = client.with_base(&second.url);
        assert_eq!(client.me().await["email"], ADMIN_EMAIL, "{}", db.label());
        assert!(second.log().contains("listening on"));
    }
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused() {
    let db = sqlite().await;
    let server = Server::start(&db);
    let client = server.client();
    let origin = server.url.clone();
    let creds = [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)];
    let refused = [
        vec![("origin", "http://evil.example")],
        vec![("sec-fetch-site", "cross-site"), ("origin", "http://evil.example")],
        vec![("sec-fetch-site", "same-site"), ("origin", origin.as_str())],
        vec![("origin", "null")],
        vec![],
    ];
    for headers in refused {
        let r = client
            .rpc_with(
                "setup",
                &[
                    ("org_name", "Evil"),
                    ("name", "E"),
                    ("email", "e@evil.example"),
                    ("password", ADMIN_PASSWORD),
                    ("password_confirm", ADMIN_PASSWORD),
                ],
                &headers,
            )
            .await;
        assert_eq!(r.status, 403, "{headers:?}: {}", r.body);
        assert_eq!(r.json()["code"], "cross_origin_refused");
        let r = client.rpc_with("sign_in", &creds, &headers).await;
        assert_eq!(r.status, 403, "{headers:?}");
    }
    assert_eq!(client.rpc("setup_needed", &[]).await.json(), true, "the refused setup changed nothing");
    // The same calls from the same origin go through.
    assert_eq!(client.rpc_with("sign_in", &creds, &[("origin", origin.as_str())]).await.status, 401);
    assert_eq!(client.rpc_with("sign_in", &creds, &[("sec-fetch-site", "same-origin")]).await.status, 401);
}

#[tokio::test]
async fn behind_https_the_cookie_is_secure_and_host_prefixed() {
    let db = sqlite().await;
    let server = Server::start_with(&db, &[("LIAISON_PUBLIC_URL", "https://liaison.example")]);
    let client = server.client();
    let r = client
        .rpc_with(
            "setup",
            &[
                ("org_name", "Acme"),
                ("name", "Ada"),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
            &[("origin", "https://liaison.example")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.set_cookie().unwrap();
    assert!(cookie.starts_with("__Host-liaison_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    // With a public URL configured, the Host header is not trusted for the origin check.
    let r = client.rpc_with("sign_out", &[], &[("origin", server.url.as_str())]).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn unknown_pages_are_404_and_security_headers_are_set() {
    let db = sqlite().await;
    let server = Server::start(&db);
    let client = server.client();
    let r = client.get("/no/such/page").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Page not found"));
    let r = client.get("/setup").await;
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["referrer-policy"], "same-origin");
    // Pages: scripts only with this response's nonce, which the inline hydration script carries.
    let csp = r.headers["content-security-policy"].to_str().unwrap().to_string();
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).unwrap_or_default().to_string();
    assert!(nonce.len() >= 16, "{csp}");
    assert!(csp.starts_with("default-src 'self'; script-src 'self' 'nonce-"), "{csp}");
    assert!(csp.ends_with("frame-ancestors 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(r.body.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the nonce");
    let again = client.get("/setup").await.headers["content-security-policy"].to_str().unwrap().to_string();
    assert_ne!(again, csp, "a new nonce for every response");
    // Other answers (the API, the health check) keep the plain frame-ancestors policy.
    assert_eq!(client.get("/healthz").await.headers["content-security-policy"], "frame-ancestors 'self'");
}

#[tokio::test]
async fn server_rendered_pages_are_not_cached_and_static_files_keep_their_own_caching() {
    let db = sqlite().await;
    let site = db.data_dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/liaison.css"), "main { margin: 0 }\n").unwrap();
    let server = Server::start_with(&db, &[("LIAISON_SITE_ROOT", site.to_str().unwrap())]);
    let client = server.client();
    let cache = |r: &Reply| r.headers.get("cache-control").map(|v| v.to_str().unwrap().to_string());
    let page = |r: &Reply| r.headers["content-type"].to_str().unwrap().starts_with("text/html");
    for path in ["/setup", "/no/such/page"] {
        let r = client.get(path).await;
        assert!(page(&r), "{path}");
        assert_eq!(cache(&r).as_deref(), Some("private, no-store"), "{path}");
    }
    // A signed-in page: the person's own data.
    assert_eq!(setup(&client).await.status, 200);
    let r = client.get("/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(page(&r) && r.body.contains(ADMIN_EMAIL), "{}", r.body);
    assert_eq!(cache(&r).as_deref(), Some("private, no-store"));
    // The site's static files, and answers with a caching rule of their own, are left alone.
    let r = client.get("/pkg/liaison.css").await;
    assert_eq!((r.status, r.body.as_str()), (200, "main { margin: 0 }\n"));
    assert_ne!(cache(&r).as_deref(), Some("private, no-store"));
    assert_eq!(cache(&client.get("/theme.css").await).as_deref(), Some("no-cache"));
}

/// The `<meta name="liaison-viewer">` of a page, parsed.
fn page_viewer(html: &str) -> serde_json::Value {
    let start = r#"<meta name="liaison-viewer" content=""#;
    let from = html.find(start).unwrap_or_else(|| panic!("no viewer meta in {html}")) + start.len();
    let raw = &html[from..from + html[from..].find('"').unwrap()];
    let json = raw
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}
