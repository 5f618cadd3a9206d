//! Embedded sign-in (issue 17): `/embed/start` signs someone in only inside a frame, once per
//! token (on any instance sharing the database), with a `__Host-` prefixed cookie.

use crate::harness::*;
use crate::lifecycle::sqlite_rows;
use serde_json::{json, Value};
use sqlx::Row;

pub const CONSOLE: &str = "https://console.example.com";
pub const EMBED_SECRET: &str = "embed-secret-for-integration-tests-0123456789";

/// `base64url(JSON) "." base64url(HMAC-SHA256(secret, first part))`, made here as a console's back
/// end would (independently of Liaison's own code).
pub fn mint(claims: Value) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(claims.to_string());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(EMBED_SECRET.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!("{payload}.{}", b64.encode(mac.finalize().into_bytes()))
}

pub fn now_secs() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// A fresh token for Ada, from the console.
fn token(jti: &str) -> String {
    mint(json!({ "sub": ADMIN_EMAIL, "origin": CONSOLE, "exp": now_secs() + 120, "jti": jti }))
}

fn embedding(db: &Db) -> Server {
    Server::start_with(db, &[("LIAISON_EMBED_ORIGINS", CONSOLE), ("LIAISON_EMBED_SECRET", EMBED_SECRET)])
}

/// Loads `/embed/start` in a new browser, as an iframe (`Some("iframe")`), a top-level page, or
/// with no `Sec-Fetch-Dest` at all (an older browser).
pub async fn embed_start(server: &Server, token: &str, dest: Option<&str>) -> (Client, Reply) {
    let client = server.client();
    let path = format!("/embed/start?token={token}");
    let r = match dest {
        Some(d) => client.send_get_with(&path, &[("sec-fetch-dest", d), ("sec-fetch-site", "cross-site")]).await,
        None => client.get(&path).await,
    };
    (client, r)
}

pub fn signed_in(client: &Client, r: &Reply, what: &str) {
    assert_eq!(r.status, 303, "{what}: {}", r.body);
    assert!(client.cookie.lock().unwrap().is_some(), "{what}");
}

async fn is_ada(client: &Client) -> bool {
    client.me().await["email"] == ADMIN_EMAIL
}

#[tokio::test]
async fn an_embed_token_signs_in_once_on_any_instance() {
    for db in databases().await {
        let label = db.label();
        let server = embedding(&db);
        assert_eq!(setup(&server.client()).await.status, 200);
        let t = token("console-load-1");
        let (first, r) = embed_start(&server, &t, Some("iframe")).await;
        signed_in(&first, &r, label);
        assert!(is_ada(&first).await, "{label}");

        // The same token again, from anyone's browser: nobody is signed in.
        for _ in 0..2 {
            let (replay, r) = embed_start(&server, &t, Some("iframe")).await;
            assert_eq!(r.status, 401, "{label}: {}", r.body);
            assert!(r.set_cookie().is_none() && r.body.contains("used before"), "{label}: {}", r.body);
            assert!(!is_ada(&replay).await, "{label}");
        }
        // Another instance on the same database knows it too (PostgreSQL runs several).
        if db.database_url.is_some() {
            let other = embedding(&db);
            let (replay, r) = embed_start(&other, &t, Some("iframe")).await;
            assert_eq!(r.status, 401, "{label}: {}", r.body);
            assert!(!is_ada(&replay).await, "{label}");
        }
        // A fresh token (another id) signs in again; the first session still works.
        let (second, r) = embed_start(&server, &token("console-load-2"), Some("iframe")).await;
        signed_in(&second, &r, label);
        assert!(is_ada(&second).await && is_ada(&first).await, "{label}");
        let n: i64 =
            sqlite_rows(&db, "SELECT COUNT(*) AS n FROM sessions WHERE embed_origin IS NOT NULL").await[0].get("n");
        assert_eq!(n, 2, "{label}: one session per token");
    }
}

#[tokio::test]
async fn the_embedded_sign_in_happens_only_in_a_frame() {
    let db = sqlite().await;
    let server = embedding(&db);
    assert_eq!(setup(&server.client()).await.status, 200);
    let t = token("top-level");
    for dest in ["document", "empty", "frame"] {
        let (client, r) = embed_start(&server, &t, Some(dest)).await;
        assert_eq!(r.status, 403, "{dest}: {}", r.body);
        assert!(r.set_cookie().is_none(), "{dest}");
        assert!(r.body.contains("only inside the console"), "{dest}: {}", r.body);
        assert!(!is_ada(&client).await, "{dest}");
    }
    // The same token in the frame still works (a refused load does not use it up), and a
    // browser that does not send Sec-Fetch-Dest is let through.
    let (client, r) = embed_start(&server, &t, Some("iframe")).await;
    signed_in(&client, &r, "iframe");
    let (client, r) = embed_start(&server, &token("old-browser"), None).await;
    signed_in(&client, &r, "no Sec-Fetch-Dest");
    assert!(is_ada(&client).await);
}

#[tokio::test]
async fn the_embedded_session_cookie_is_host_prefixed() {
    let db = sqlite().await;
    let server = embedding(&db);
    assert_eq!(setup(&server.client()).await.status, 200);
    let (client, r) = embed_start(&server, &token("cookie"), Some("iframe")).await;
    signed_in(&client, &r, "iframe");
    let cookie = r.set_cookie().unwrap();
    assert!(cookie.starts_with("__Host-liaison_embed="), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').skip(1).map(str::trim).collect();
    for needed in ["Path=/", "Secure", "HttpOnly", "SameSite=None", "Partitioned"] {
        assert!(attributes.contains(&needed), "{needed}: {cookie}");
    }
    assert!(!attributes.iter().any(|a| a.to_ascii_lowercase().starts_with("domain")), "{cookie}");
    assert!(is_ada(&client).await);
    // The session's token under the old, unprefixed name is not read any more.
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let old = server.client();
    *old.cookie.lock().unwrap() = Some(format!("liaison_embed={value}"));
    assert!(!is_ada(&old).await);
}

#[tokio::test]
async fn the_theme_is_served_as_a_stylesheet_and_linked_from_embedded_pages_only() {
    let db = sqlite().await;
    let theme = "accent=#0B6E4F; radius=4px; scheme=light";
    let server = Server::start_with(
        &db,
        &[("LIAISON_EMBED_ORIGINS", CONSOLE), ("LIAISON_EMBED_SECRET", EMBED_SECRET), ("LIAISON_EMBED_THEME", theme)],
    );
    let own = server.client();
    assert_eq!(setup(&own).await.status, 200);
    let r = server.client().get("/theme.css").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("content-type").unwrap(), "text/css; charset=utf-8");
    assert!(
        r.body.contains("  color-scheme: light;\n") && r.body.contains("  --liaison-accent: #0b6e4f;\n"),
        "{}",
        r.body
    );
    let link = r#"<link rel="stylesheet" href="/theme.css""#;
    let (embedded, r) = embed_start(&server, &token("themed"), Some("iframe")).await;
    signed_in(&embedded, &r, "iframe");
    let page = embedded.get(app::api::HOME).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(link), "{}", page.body);
    // The page's CSP allows it as it allows Liaison's own stylesheet: from Liaison, nothing inline.
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap().to_string();
    assert!(csp.contains("style-src 'self';") && !csp.contains("unsafe-inline"), "{csp}");
    // Liaison's own tab keeps its look.
    let page = own.get(app::api::HOME).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/pkg/liaison.css") && !page.body.contains("/theme.css"), "{}", page.body);
    drop(server);

    // Without a theme the stylesheet is empty, and no page links it.
    let server = embedding(&db);
    let r = server.client().get("/theme.css").await;
    assert_eq!((r.status, r.body.as_str()), (200, "/* No embed_theme is configured. */\n"));
    let (embedded, r) = embed_start(&server, &token("unthemed"), Some("iframe")).await;
    signed_in(&embedded, &r, "iframe");
    assert!(!embedded.get(app::api::HOME).await.body.contains("/theme.css"));
}
