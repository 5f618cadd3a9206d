//! A token endpoint's answer, as Liaison reads it: never a panic, and no message that repeats a
//! secret Liaison sent (the client secret, the refresh token) or the access token it received.
#![no_main]

use libfuzzer_sys::fuzz_target;

const SENT: &str = "sent-secret-Zq9";
const TYPES: &[&str] = &["application/json", "application/x-www-form-urlencoded", "text/plain", "text/html", ""];

fuzz_target!(|data: &[u8]| {
    let Some((&head, body)) = data.split_first() else { return };
    let status = [200u16, 201, 400, 401, 429, 500, 302][usize::from(head & 7) % 7];
    let content_type = TYPES[usize::from(head >> 3) % TYPES.len()];
    let nested = vec!["authed_user".to_string(), "access_token".to_string()];
    let paths: [&[String]; 2] = [&[], &nested];
    for path in paths {
        for error_in_200 in [false, true] {
            match server::credentials::token::parse_answer(status, content_type, body, path, error_in_200, &[SENT]) {
                Ok(tokens) => {
                    assert!((200..300).contains(&status), "tokens from HTTP {status}");
                    assert!(!tokens.access_token.expose().is_empty());
                    // The secret fields never print, whatever they hold.
                    assert_eq!(format!("{:?}", tokens.access_token), "[redacted]");
                    let refresh = format!("{:?}", tokens.refresh_token);
                    assert!(refresh == "None" || refresh == "Some([redacted])", "{refresh}");
                }
                Err(e) => {
                    let message = e.to_string();
                    assert!(!message.contains(SENT), "a sent secret in a message: {message}");
                    assert!(message.chars().count() < 1000, "an unbounded message");
                }
            }
        }
    }
});
