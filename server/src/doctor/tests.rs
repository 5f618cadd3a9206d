//! The doctor's pure checks, each failing case and the line it prints.

use super::*;
use crate::config::Config;

fn config(env: &[(&str, &str)]) -> Config {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::load_from(None, &env).unwrap()
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-embed";

#[test]
fn lines_read_level_check_and_what_to_do() {
    assert_eq!(Line::fail("key file", "x. Run y").to_string(), "FAIL  key file: x. Run y");
    assert_eq!(Line::warn("dns", "z").to_string(), "warn  dns: z");
    assert_eq!(Line::ok("site", "w").to_string(), "ok    site: w");
}

#[test]
fn public_url_against_the_cookies() {
    assert_eq!(public_url(&config(&[])).level, Level::Ok, "loopback without public_url");
    let open = public_url(&config(&[("LIAISON_LISTEN", "0.0.0.0:8080")]));
    assert_eq!(open.level, Level::Warn);
    assert!(open.message.contains("set public_url to its https:// address"), "{open}");
    let plain = public_url(&config(&[("LIAISON_PUBLIC_URL", "http://liaison.example.com")]));
    assert_eq!(plain.level, Level::Warn);
    assert!(plain.message.contains("cannot be Secure"), "{plain}");
    let tls = public_url(&config(&[("LIAISON_PUBLIC_URL", "https://liaison.example.com")]));
    assert_eq!(tls.level, Level::Ok);
    assert!(tls.message.contains("Secure, __Host- prefixed"), "{tls}");
    assert_eq!(public_url(&config(&[("LIAISON_PUBLIC_URL", "http://localhost:3000")])).level, Level::Ok);
}

#[test]
fn embedding_needs_https_and_never_shows_its_secret() {
    assert_eq!(embedding(&config(&[])).level, Level::Ok);
    let env = [("LIAISON_EMBED_ORIGINS", "https://console.example.com"), ("LIAISON_EMBED_SECRET", SECRET)];
    let plain = embedding(&config(&[env[0], env[1], ("LIAISON_PUBLIC_URL", "http://liaison.example.com")]));
    assert_eq!(plain.level, Level::Fail);
    assert!(plain.message.contains("Set public_url to Liaison's https:// address"), "{plain}");
    let good = embedding(&config(&[env[0], env[1], ("LIAISON_PUBLIC_URL", "https://liaison.example.com")]));
    assert_eq!(good.level, Level::Ok, "{good}");
    assert!(good.message.contains("https://console.example.com") && !good.message.contains(SECRET), "{good}");
    let console = embedding(&config(&[
        ("LIAISON_EMBED_ORIGINS", "http://console.example.com"),
        ("LIAISON_PUBLIC_URL", "https://liaison.example.com"),
    ]));
    assert_eq!(console.level, Level::Warn);
    assert!(console.message.contains("Use its https:// origin"), "{console}");
}

#[test]
fn embedding_on_this_machine_needs_no_public_url_and_elsewhere_does() {
    let env = [("LIAISON_EMBED_ORIGINS", "http://localhost:3200"), ("LIAISON_EMBED_SECRET", SECRET)];
    assert_eq!(embedding(&config(&env)).level, Level::Ok, "loopback, as the browser tests run");
    let open = embedding(&config(&[env[0], env[1], ("LIAISON_LISTEN", "0.0.0.0:8080")]));
    assert_eq!(open.level, Level::Fail, "{open}");
}

#[test]
fn metrics_off_the_loopback_are_warned_about_in_one_sentence() {
    assert_eq!(metrics_listen(&config(&[])).level, Level::Ok);
    assert_eq!(metrics_listen(&config(&[("LIAISON_METRICS_LISTEN", "127.0.0.1:9100")])).level, Level::Ok);
    let open = metrics_listen(&config(&[("LIAISON_METRICS_LISTEN", "0.0.0.0:9100")]));
    assert_eq!(open.level, Level::Warn);
    assert!(open.message.contains("anyone who reaches it reads the counts."), "{open}");
}

#[test]
fn the_key_file_is_private_to_its_owner() {
    let path = std::path::Path::new("/srv/liaison/master.key");
    let open = key_file_mode(path, 0o100644, 1000, 1000);
    assert_eq!(open.level, Level::Fail);
    assert!(open.message.contains("mode 0644") && open.message.contains("chmod 600 /srv/liaison/master.key"), "{open}");
    assert_eq!(key_file_mode(path, 0o100640, 1000, 1000).level, Level::Fail, "group-readable");
    let other = key_file_mode(path, 0o100600, 0, 1000);
    assert_eq!(other.level, Level::Warn);
    assert!(other.message.contains("belongs to user 0"), "{other}");
    assert_eq!(key_file_mode(path, 0o100600, 1000, 1000).level, Level::Ok);
}

#[test]
fn a_site_without_its_wasm_fails() {
    let dir = tempfile::tempdir().unwrap();
    let line = site(dir.path());
    assert_eq!(line.level, Level::Fail);
    assert!(line.message.contains("pkg/liaison.wasm or pkg/liaison.js or pkg/liaison.css"), "{line}");
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("pkg/liaison.wasm"), b"").unwrap();
    std::fs::write(dir.path().join("pkg/liaison.js"), b"").unwrap();
    assert_eq!(site(dir.path()).level, Level::Fail, "no style");
    std::fs::write(dir.path().join("pkg/liaison.css"), b"").unwrap();
    assert_eq!(site(dir.path()).level, Level::Ok);
}

#[test]
fn migrations_newer_changed_unfinished_and_pending() {
    let (a, b): (&[u8], &[u8]) = (b"aaaa", b"bbbb");
    let known = [(1, a), (2, b)];
    let all = compare_migrations(&known, &[(1, a.to_vec(), true), (2, b.to_vec(), true)]);
    assert_eq!(all.level, Level::Ok, "{all}");
    let pending = compare_migrations(&known, &[(1, a.to_vec(), true)]);
    assert_eq!(pending.level, Level::Warn);
    assert!(pending.message.contains("1 of 2 to apply"), "{pending}");
    let newer = compare_migrations(&known, &[(1, a.to_vec(), true), (2, b.to_vec(), true), (3, vec![], true)]);
    assert_eq!(newer.level, Level::Fail);
    assert!(newer.message.contains("migration(s) 3 that this Liaison does not know"), "{newer}");
    let changed = compare_migrations(&known, &[(1, b.to_vec(), true)]);
    assert_eq!(changed.level, Level::Fail);
    assert!(changed.message.contains("migration 1 in the database differs"), "{changed}");
    let half = compare_migrations(&known, &[(1, a.to_vec(), false)]);
    assert_eq!(half.level, Level::Fail);
    assert!(half.message.contains("migration 1 started and did not finish"), "{half}");
}

#[test]
fn metrics_off_the_loopback_warns() {
    assert_eq!(checks::metrics_listen(&config(&[])).level, Level::Ok);
    assert_eq!(checks::metrics_listen(&config(&[("LIAISON_METRICS_LISTEN", "127.0.0.1:9090")])).level, Level::Ok);
    let open = checks::metrics_listen(&config(&[("LIAISON_METRICS_LISTEN", "0.0.0.0:9090")]));
    assert_eq!(open.level, Level::Warn);
    assert!(open.message.contains("has no authentication"), "{open}");
}
