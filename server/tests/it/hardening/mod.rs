//! Hardening (issue 7): hostile tenants, hostile addresses, secrets at rest and in transit, crashes,
//! and sign-in abuse — each shown by a test that would fail if Liaison did not keep the promise
//! (SECURITY.md lists them).

mod call_log;
mod callback_keys;
mod crash;
mod custody;
mod embed;
mod members;
mod provision;
mod proxy;
mod raw_http;
mod rotation;
mod secrets;
mod sessions;
mod slow_clients;
mod ssrf;
mod starts;
mod tenancy;

use crate::harness::*;
use crate::lifecycle::sqlite_rows;
use sqlx::{Column, Row};

/// Every row `sql` returns, each as one line `col=value|…` (NULL for null, blobs as lossy UTF-8),
/// in the order given.
pub async fn dump(db: &Db, sql: &str) -> Vec<String> {
    sqlite_rows(db, sql)
        .await
        .iter()
        .map(|r| {
            r.columns()
                .iter()
                .map(|c| {
                    let i = c.ordinal();
                    let v = if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                        v.map(|v| v.to_string())
                    } else if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                        v
                    } else if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
                        v.map(|v| v.to_string())
                    } else {
                        // Blobs (the search index's own tables): scanned as text too.
                        r.try_get::<Option<Vec<u8>>, _>(i).unwrap().map(|v| String::from_utf8_lossy(&v).into_owned())
                    };
                    format!("{}={}", c.name(), v.as_deref().unwrap_or("NULL"))
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Waits until the call log (written in the background, in order) holds every call made so far:
/// a call with `token` to a link that does not exist is logged after them, so once its row is
/// there, so are theirs. The marker row is in `token`'s organisation, link name `call_log_marker`.
pub async fn call_log_written(db: &Db, server: &Server, token: &str) {
    let sql = "SELECT COUNT(*) AS n FROM api_calls WHERE link_name = 'call_log_marker'";
    let markers = || async { sqlite_rows(db, sql).await[0].get::<i64, _>("n") };
    let before = markers().await;
    assert_eq!(server.proxy_get(token, "call_log_marker", "x").await.0, 404, "the marker call");
    eventually("the call log written", || async { (markers().await > before).then_some(()) }).await;
}

/// Adds a user with the command line (`liaison admin create`), creating the organisation if it
/// does not exist yet, and signs them in with a browser of their own.
pub async fn cli_user(db: &Db, server: &Server, email: &str, org: &str, role: &str, password: &str) -> Client {
    let file = db.data_dir.path().join(format!("{email}.password"));
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let out = db
        .command()
        .args(["admin", "create", "--email", email, "--name", "CLI User", "--org", org, "--role", role])
        .args(["--password-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(&file).unwrap();
    let client = server.client();
    let r = client.rpc("sign_in", &[("email", email), ("password", password)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me = client.me().await;
    assert_eq!((me["role"].as_str(), me["org_name"].as_str()), (Some(role), Some(org)), "{me}");
    client
}
