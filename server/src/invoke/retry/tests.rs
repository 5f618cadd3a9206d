//! The retry policy: what a call may ask for, which methods and answers are retried, and how long
//! an answer's `Retry-After` or reset header asks to wait.

use super::*;
use axum::http::HeaderValue;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000;

#[test]
fn retry_after_is_seconds_or_an_http_date() {
    assert_eq!(retry_after("7", NOW), Some(Duration::from_secs(7)));
    assert_eq!(retry_after(" 0 ", NOW), Some(Duration::ZERO));
    assert_eq!(retry_after("Thu, 01 Jan 2026 00:00:30 GMT", NOW), Some(Duration::from_secs(30)));
    // The two obsolete forms RFC 9110 still asks recipients to read.
    assert_eq!(retry_after("Thursday, 01-Jan-26 00:01:00 GMT", NOW), Some(Duration::from_secs(60)));
    assert_eq!(retry_after("Thu Jan  1 00:00:05 2026", NOW), Some(Duration::from_secs(5)));
    assert_eq!(retry_after("Wed, 31 Dec 2025 23:00:00 GMT", NOW), Some(Duration::ZERO), "a date gone by: no wait");
    assert_eq!(
        retry_after("99999999999999999999999", NOW),
        Some(Duration::from_secs(u64::MAX)),
        "huge: past any limit"
    );
    for junk in ["", "-5", "1.5", "soon", "Thu, 01 Jan 2026"] {
        assert_eq!(retry_after(junk, NOW), None, "{junk:?}");
    }
}

#[test]
fn retry_after_wins_over_the_services_reset_header() {
    let github = RetryDefaults {
        default: 3,
        reset_header: Some("x-ratelimit-reset".into()),
        reset_format: ResetFormat::UnixSeconds,
    };
    let reset = ((NOW / 1000) + 42).to_string();
    let both = headers(&[("retry-after", "5"), ("x-ratelimit-reset", &reset)]);
    assert_eq!(asked_wait(&both, 429, Some(&github), NOW), Some(Duration::from_secs(5)));
    let only_reset = headers(&[("x-ratelimit-reset", &reset)]);
    assert_eq!(asked_wait(&only_reset, 429, Some(&github), NOW), Some(Duration::from_secs(42)));
    assert_eq!(asked_wait(&only_reset, 429, None, NOW), None, "a service without defaults reads only Retry-After");
    for outage in [502, 503, 504] {
        assert_eq!(
            asked_wait(&only_reset, outage, Some(&github), NOW),
            None,
            "{outage}: the reset header is the rate limit's"
        );
        assert_eq!(
            asked_wait(&both, outage, Some(&github), NOW),
            Some(Duration::from_secs(5)),
            "{outage}: Retry-After still"
        );
    }
    let discord = RetryDefaults {
        default: 2,
        reset_header: Some("x-ratelimit-reset-after".into()),
        reset_format: ResetFormat::Seconds,
    };
    let after = headers(&[("x-ratelimit-reset-after", "1.25")]);
    assert_eq!(asked_wait(&after, 429, Some(&discord), NOW), Some(Duration::from_millis(1250)));
    let junk = headers(&[("retry-after", "soon"), ("x-ratelimit-reset-after", "-3")]);
    assert_eq!(asked_wait(&junk, 429, Some(&discord), NOW), None);
}

#[test]
fn only_idempotent_methods_are_retried_unless_the_caller_says_so() {
    let ask = Ask { retries: Some(Asked::Count(3)), non_idempotent: false };
    for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::PUT, Method::DELETE] {
        assert_eq!(ask.retries(&m, None).unwrap(), 3, "{m}");
    }
    for m in [Method::POST, Method::PATCH] {
        assert_eq!(ask.retries(&m, None).unwrap(), 0, "{m} not retried without the opt-in");
        let opted = Ask { non_idempotent: true, ..ask };
        assert_eq!(opted.retries(&m, None).unwrap(), 3, "{m} retried when asked");
    }
    assert_eq!(Ask::default().retries(&Method::GET, None).unwrap(), 0, "nothing asked, nothing retried");
}

#[test]
fn default_is_the_services_number_or_two_and_more_than_five_is_refused() {
    let ask = Ask { retries: Some(Asked::Default(DefaultWord::Default)), non_idempotent: false };
    assert_eq!(ask.retries(&Method::GET, None).unwrap(), DEFAULT_RETRIES);
    let slack = RetryDefaults { default: 4, reset_header: None, reset_format: ResetFormat::Seconds };
    assert_eq!(ask.retries(&Method::GET, Some(&slack)).unwrap(), 4);
    let five = Ask { retries: Some(Asked::Count(5)), non_idempotent: false };
    assert_eq!(five.retries(&Method::GET, None).unwrap(), 5);
    for n in [6, 300, u64::MAX] {
        let e = Ask { retries: Some(Asked::Count(n)), non_idempotent: false }.retries(&Method::GET, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{n}");
    }
}

#[test]
fn the_headers_are_read_strictly() {
    let ask =
        Ask::from_headers(&headers(&[("liaison-retries", " 2 "), ("liaison-retry-non-idempotent", "TRUE")])).unwrap();
    assert_eq!(ask, Ask { retries: Some(Asked::Count(2)), non_idempotent: true });
    let ask = Ask::from_headers(&headers(&[("liaison-retries", "Default")])).unwrap();
    assert_eq!(ask.retries, Some(Asked::Default(DefaultWord::Default)));
    assert_eq!(Ask::from_headers(&HeaderMap::new()).unwrap(), Ask::default());
    for bad in [("liaison-retries", "three"), ("liaison-retries", "-1"), ("liaison-retry-non-idempotent", "yes")] {
        let e = Ask::from_headers(&headers(&[bad])).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad:?}");
    }
}

#[test]
fn invoke_takes_a_number_or_the_word_default() {
    assert_eq!(serde_json::from_str::<Asked>("3").unwrap(), Asked::Count(3));
    assert_eq!(serde_json::from_str::<Asked>("\"default\"").unwrap(), Asked::Default(DefaultWord::Default));
    for bad in ["-1", "1.5", "\"three\"", "true"] {
        assert!(serde_json::from_str::<Asked>(bad).is_err(), "{bad}");
    }
}

#[test]
fn only_overload_and_gateway_answers_are_retried() {
    for s in [429, 502, 503, 504] {
        assert!(retryable(s), "{s}");
    }
    for s in [200, 301, 400, 401, 403, 404, 409, 500, 501, 505] {
        assert!(!retryable(s), "{s}");
    }
}

#[test]
fn the_back_off_doubles_within_its_cap_and_jitters_in_the_upper_half() {
    assert_eq!(backoff(1, 1.0), Duration::from_millis(500));
    assert_eq!(backoff(1, 0.0), Duration::from_millis(250));
    assert_eq!(backoff(2, 1.0), Duration::from_secs(1));
    assert_eq!(backoff(3, 0.5), Duration::from_millis(1500));
    assert_eq!(backoff(10, 1.0), BACKOFF_MAX);
    assert_eq!(backoff(u32::MAX, 2.0), BACKOFF_MAX, "capped, whatever the inputs");
}
