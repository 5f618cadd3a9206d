//! Signing: each endpoint's secret (`whsec_` and 43 URL-safe characters, made here, shown once)
//! signs `<unix seconds>.<body>` with HMAC-SHA256; the header `Liaison-Signature:
//! t=<unix seconds>,v1=<hex>` carries one `v1` per secret still signing (two during a rotation).
//! [`verify`] is what a receiver does, for the tests and as the reference of the README's examples.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "Liaison-Signature";

/// A new signing secret.
pub fn new_secret() -> String {
    format!("whsec_{}", crate::auth::session::new_token())
}

/// The hex HMAC-SHA256 of `<t>.<body>` under `secret` (the whole secret, prefix included).
pub fn hmac_hex(secret: &str, t: i64, body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else { return String::new() };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    let mut out = String::with_capacity(64);
    for b in m.finalize().into_bytes() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// The header's value for `body` sent at `t` (Unix seconds), signed by each of `secrets`.
pub fn header_value<S: AsRef<str>>(secrets: &[S], t: i64, body: &[u8]) -> String {
    let mut v = format!("t={t}");
    for s in secrets {
        v.push_str(",v1=");
        v.push_str(&hmac_hex(s.as_ref(), t, body));
    }
    v
}

/// Whether `header` signs `body` with `secret`, at a time at most `tolerance_secs` from `now_secs`.
pub fn verify(secret: &str, header: &str, body: &[u8], now_secs: i64, tolerance_secs: i64) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now_secs - t).abs() > tolerance_secs {
        return false;
    }
    let expected = hmac_hex(secret, t, body);
    sigs.iter()
        .any(|s| s.len() == expected.len() && s.bytes().zip(expected.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_is_not_printed_by_debug() {
        let secret = new_secret();
        let endpoint = app::webhooks::EndpointView {
            id: 1,
            url: "https://hooks.example/in".into(),
            description: String::new(),
            created_by: "ada".into(),
            created_at: 0,
            rotated_at: None,
            previous_secret_until: None,
        };
        let shown = format!("{:?}", app::webhooks::NewEndpointSecret { endpoint, secret: secret.clone() });
        assert!(!shown.contains(&secret[6..]) && shown.contains("hooks.example"), "{shown}");
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_a_dot_and_the_body() {
        // printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac 'whsec_test'
        let expected = "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91";
        assert_eq!(hmac_hex("whsec_test", 1_700_000_000, b"{}"), expected);
        assert_eq!(header_value(&["whsec_test"], 1_700_000_000, b"{}"), format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn a_receiver_accepts_either_secret_during_a_rotation_and_nothing_else() {
        let (old, new) = (new_secret(), new_secret());
        assert!(old.starts_with("whsec_") && old.len() == 6 + 43 && old != new);
        let body = br#"{"type":"webhook.test"}"#;
        let header = header_value(&[&new, &old], 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1=") && header.matches("v1=").count() == 2, "{header}");
        assert!(verify(&new, &header, body, 1_700_000_010, 300));
        assert!(verify(&old, &header, body, 1_700_000_010, 300));
        assert!(!verify(&new_secret(), &header, body, 1_700_000_010, 300), "another secret");
        assert!(!verify(&new, &header, br#"{"type":"webhook.tesT"}"#, 1_700_000_010, 300), "another body");
        assert!(!verify(&new, &header, body, 1_700_000_400, 300), "too old");
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert!(!verify(&new, &moved, body, 1_700_000_010, 300), "the time is signed too");
    }
}
