//! Session tokens and the cookie that carries them.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh session token (256 random bits, URL-safe base64).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// How the session cookie is written: `__Host-` prefixed and `Secure` when Liaison is served over
/// https; always `HttpOnly`, `SameSite=Lax`, `Path=/`.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub secure: bool,
    pub max_age_secs: u64,
}

impl CookieSettings {
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-liaison_session"
        } else {
            "liaison_session"
        }
    }

    pub fn set(&self, token: &str) -> String {
        format!("{}={token}; Max-Age={}{}", self.name(), self.max_age_secs, self.attributes())
    }

    pub fn clear(&self) -> String {
        format!("{}=; Max-Age=0{}", self.name(), self.attributes())
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "; Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "; Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// The session token in a `Cookie` request header, if there is one.
    pub fn read<'a>(&self, cookie_header: &'a str) -> Option<&'a str> {
        read_cookie(cookie_header, self.name())
    }
}

/// The value of cookie `name` in a `Cookie` request header, if set and not empty.
pub fn read_cookie<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn cookie_flags_follow_the_scheme() {
        let plain = CookieSettings { secure: false, max_age_secs: 60 };
        assert_eq!(plain.set("t"), "liaison_session=t; Max-Age=60; Path=/; HttpOnly; SameSite=Lax");
        let secure = CookieSettings { secure: true, max_age_secs: 60 };
        assert_eq!(secure.set("t"), "__Host-liaison_session=t; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(secure.clear(), "__Host-liaison_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure");
    }

    #[test]
    fn reads_its_own_cookie_only() {
        let c = CookieSettings { secure: false, max_age_secs: 60 };
        assert_eq!(c.read("a=1; liaison_session=tok; b=2"), Some("tok"));
        assert_eq!(c.read("xliaison_session=tok"), None);
        assert_eq!(c.read("liaison_session="), None);
        assert_eq!(c.read(""), None);
    }
}
