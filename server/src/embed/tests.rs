//! Embedded sign-in tokens: signing, verifying, their id, the frame check and the cookie.

use super::*;

const SECRET: &str = "embed-secret-for-unit-tests-0123456789";

fn embed() -> Embed {
    Embed::new(vec!["https://console.example.com".into()], Some(SECRET.into()))
}

fn claims(exp: i64) -> Claims {
    Claims {
        sub: "ada@acme.example".into(),
        origin: "https://console.example.com".into(),
        exp,
        jti: None,
        name: None,
        role: None,
        org: None,
    }
}

#[test]
fn a_signed_token_verifies_until_it_expires() {
    let t = sign(SECRET, &claims(1_000 + 60));
    assert_eq!(embed().verify(&t, 1_000), Ok(claims(1_060)));
    assert_eq!(embed().verify(&t, 1_060), Err("the token has expired"));
}

#[test]
fn forged_long_lived_foreign_and_malformed_tokens_are_refused() {
    let good = sign(SECRET, &claims(1_060));
    let (payload, _) = good.split_once('.').unwrap();
    assert_eq!(
        embed().verify(&sign("another-secret-of-sufficient-length-000", &claims(1_060)), 1_000),
        Err("the token's signature does not match")
    );
    // The claims changed after signing.
    let other = b64().encode(serde_json::to_vec(&Claims { sub: "eve@evil.example".into(), ..claims(1_060) }).unwrap());
    assert_eq!(
        embed().verify(&format!("{other}.{}", good.split_once('.').unwrap().1), 1_000),
        Err("the token's signature does not match")
    );
    assert_eq!(
        embed().verify(&sign(SECRET, &claims(1_000 + 331)), 1_000),
        Err("the token lives too long (at most 5 minutes)")
    );
    let foreign = Claims { origin: "https://evil.example".into(), ..claims(1_060) };
    assert_eq!(embed().verify(&sign(SECRET, &foreign), 1_000), Err("the token's origin is not one of embed_origins"));
    assert_eq!(embed().verify(payload, 1_000), Err("the token is malformed"));
    assert_eq!(embed().verify("a.b!", 1_000), Err("the token is malformed"));
    assert_eq!(Embed::default().verify(&good, 1_000), Err("embedded sign-in is not configured on this Liaison"));
}

#[test]
fn frame_ancestors_and_the_cookie() {
    assert_eq!(embed().frame_ancestors(), "frame-ancestors 'self' https://console.example.com");
    assert_eq!(Embed::default().frame_ancestors(), "frame-ancestors 'self'");
    assert_eq!(
        embed().cookie("t", 60),
        "__Host-liaison_embed=t; Max-Age=60; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
    );
}

#[test]
fn a_token_without_a_jti_still_verifies_and_its_id_is_its_signed_part() {
    // The format of tokens made before `jti` existed is unchanged, and they still verify.
    let old = format!(
        "{}.",
        b64().encode(br#"{"sub":"ada@acme.example","origin":"https://console.example.com","exp":1060}"#)
    );
    let old = format!("{old}{}", b64().encode(mac(SECRET, old.trim_end_matches('.')).unwrap()));
    assert_eq!(old, sign(SECRET, &claims(1_060)));
    assert_eq!(embed().verify(&old, 1_000), Ok(claims(1_060)));
    // The id: the same for the same token, different for another jti or expiry, whatever
    // the signature part says.
    let with = |jti: &str| sign(SECRET, &Claims { jti: Some(jti.into()), ..claims(1_060) });
    assert_eq!(embed().verify(&with("a1"), 1_000).unwrap().jti.as_deref(), Some("a1"));
    assert_eq!(Embed::token_id(&with("a1")), Embed::token_id(&with("a1")));
    assert_ne!(Embed::token_id(&with("a1")), Embed::token_id(&with("a2")));
    assert_ne!(Embed::token_id(&old), Embed::token_id(&sign(SECRET, &claims(1_061))));
    assert_eq!(Embed::token_id(&old), Embed::token_id(&format!("{}.x", old.split_once('.').unwrap().0)));
    assert_eq!(Embed::token_id(&old).len(), 64, "a SHA-256, never the token itself");
}

#[test]
fn only_a_frame_load_or_a_browser_that_does_not_say_is_let_through() {
    let with = |dest: Option<&str>| {
        let mut h = HeaderMap::new();
        if let Some(d) = dest {
            h.insert("sec-fetch-dest", d.parse().unwrap());
        }
        framed(&h)
    };
    assert!(with(Some("iframe")));
    assert!(with(None), "old browsers send no Sec-Fetch-Dest");
    for dest in ["document", "frame", "embed", "object", "empty", "image", ""] {
        assert!(!with(Some(dest)), "{dest}");
    }
}

#[test]
fn a_console_whose_clock_is_up_to_thirty_seconds_ahead_is_not_refused() {
    // The console made the token 5 minutes ahead of its own clock, which runs ahead of Liaison's.
    for ahead in [1, 29, 30] {
        let exp = 1_000 + MAX_TOKEN_LIFETIME + ahead;
        assert_eq!(embed().verify(&sign(SECRET, &claims(exp)), 1_000), Ok(claims(exp)), "{ahead} s ahead");
    }
    assert_eq!(
        embed().verify(&sign(SECRET, &claims(1_000 + MAX_TOKEN_LIFETIME + 31)), 1_000),
        Err("the token lives too long (at most 5 minutes)")
    );
}
