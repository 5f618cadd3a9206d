//! The query of `/oauth/callback/{key}` as axum hands it to Liaison, and the ticket check of the
//! polling page: never a panic; an accepted ticket is 16 to 64 URL-safe characters.
#![no_main]

use axum::extract::Query;
use libfuzzer_sys::fuzz_target;
use server::flows::{check_ticket, CallbackQuery};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(uri) = format!("/oauth/callback/c-1?{text}").parse::<axum::http::Uri>() {
        if let Ok(Query(q)) = Query::<CallbackQuery>::try_from_uri(&uri) {
            let _ = q.state.as_deref().map(server::auth::session::token_hash);
            let _ = (q.code.map(|c| c.len()), q.error, q.error_description);
        }
    }
    if check_ticket(text).is_ok() {
        assert!((16..=64).contains(&text.len()), "ticket of length {}", text.len());
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{text:?}");
    }
});
