use super::*;

fn grant(expires_at: Option<i64>, updated_at: i64) -> GrantRecord {
    GrantRecord {
        id: 1,
        user_key: 0,
        access_token: None,
        refresh_token: None,
        username: None,
        expires_at,
        granted_scopes: None,
        authorised_by_name: String::new(),
        authorised_at: 0,
        updated_at,
        version: 0,
        lease_until: None,
        refresh_failures: 0,
        retry_at: None,
        custody: None,
    }
}

#[test]
fn due_a_minute_before_expiry_or_at_half_a_short_lifetime() {
    // One hour tokens: due from 60 s before expiry.
    let g = grant(Some(3_600_000), 0);
    assert!(!due(&g, 3_539_999));
    assert!(due(&g, 3_540_000));
    // Ten second tokens: due at half their lifetime.
    let g = grant(Some(10_000), 0);
    assert!(!due(&g, 4_999));
    assert!(due(&g, 5_000));
    // No expiry: never due.
    assert!(!due(&grant(None, 0), i64::MAX));
}

#[test]
fn backoff_doubles_and_is_capped() {
    assert_eq!(backoff_ms(0), 1_000);
    assert_eq!(backoff_ms(1), 2_000);
    assert_eq!(backoff_ms(5), 32_000);
    assert_eq!(backoff_ms(8), 256_000);
    assert_eq!(backoff_ms(50), 256_000);
    assert_eq!(backoff_ms(-3), 1_000);
}
