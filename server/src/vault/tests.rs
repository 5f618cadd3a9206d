//! Tests of the vault: sealing in place, rotation, the key text and file, nothing printed.

use super::*;
use proptest::prelude::*;

const SLOT: Slot = SecretColumn::GrantRefreshToken.at(7);

#[test]
fn seals_and_opens_in_place() {
    let ring = KeyRing::generate();
    let sealed = ring.seal(SLOT, "tok-123").unwrap();
    assert!(sealed.starts_with(&format!("v1.{}.", ring.active_id())), "{sealed}");
    assert!(!sealed.contains("tok-123"));
    assert_eq!(ring.open(SLOT, &sealed).unwrap().expose(), "tok-123");
    assert_ne!(ring.seal(SLOT, "tok-123").unwrap(), sealed, "fresh nonce every time");
}

#[test]
fn a_moved_or_altered_ciphertext_does_not_open() {
    let ring = KeyRing::generate();
    let sealed = ring.seal(SLOT, "tok-123").unwrap();
    let elsewhere = SecretColumn::ALL.iter().filter(|c| **c != SLOT.column).map(|c| c.at(SLOT.row));
    for other in std::iter::once(Slot { row: 8, ..SLOT }).chain(elsewhere) {
        assert_eq!(ring.open(other, &sealed), Err(VaultError::Undecryptable), "{other:?}");
    }
    // One bit of the tag flipped, and the text still well-formed base64 (changing the last
    // character instead could leave stray padding bits: Malformed, not Undecryptable).
    let (head, body) = sealed.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
    assert_eq!(ring.open(SLOT, &tampered), Err(VaultError::Undecryptable));
    assert_eq!(ring.open(SLOT, "plain text"), Err(VaultError::Malformed));
    assert_eq!(ring.open(SLOT, "v1.0011223344556677.AAAA"), Err(VaultError::UnknownKey("0011223344556677".into())));
}

/// Before the slots were typed, each call site spelled out its table and column
/// (`Slot { table: "grants", column: "access_token", row }`): values sealed then must still open.
/// Sealed outside Liaison (Python's `cryptography` AES-GCM, key 32 × 0x03, nonce 12 × 0x05,
/// associated data `liaison/v1/grants/access_token/42/<key id>`).
#[test]
fn a_value_sealed_with_the_spelled_out_slot_opens_in_the_typed_one() {
    let ring = KeyRing::from_keys(vec![Zeroizing::new([3u8; 32])]).unwrap();
    assert_eq!(ring.active_id(), "648aa5c579fb30f3");
    let sealed = "v1.648aa5c579fb30f3.BQUFBQUFBQUFBQUFeU67ScG5dDPPej48lsBveC-n1ObxMf41VIc";
    assert_eq!(ring.open(SecretColumn::GrantAccessToken.at(42), sealed).unwrap().expose(), "old-secret");
    assert_eq!(ring.open(SecretColumn::GrantRefreshToken.at(42), sealed), Err(VaultError::Undecryptable));
    assert_eq!(ring.open(SecretColumn::GrantAccessToken.at(43), sealed), Err(VaultError::Undecryptable));
}

/// Every typed column binds to the table and column names it had when they were spelled out.
#[test]
fn each_column_is_bound_to_the_names_it_always_had() {
    let spelled = [
        (SecretColumn::ServiceClientSecret, "services", "client_secret"),
        (SecretColumn::ConnectionClientSecret, "connections", "client_secret"),
        (SecretColumn::GrantAccessToken, "grants", "access_token"),
        (SecretColumn::GrantRefreshToken, "grants", "refresh_token"),
        (SecretColumn::FlowPkceVerifier, "oauth_flows", "pkce_verifier"),
        (SecretColumn::WebhookSecret, "webhook_endpoints", "secret"),
        (SecretColumn::WebhookPreviousSecret, "webhook_endpoints", "previous_secret"),
    ];
    assert_eq!(spelled.map(|(c, _, _)| c), SecretColumn::ALL);
    for (column, table, name) in spelled {
        let aad = column.at(-5).associated_data("00112233aabbccdd");
        assert_eq!(aad, format!("liaison/v1/{table}/{name}/-5/00112233aabbccdd").into_bytes());
    }
}

#[test]
fn rotation_keeps_old_keys_for_reading_until_retired() {
    let old = KeyRing::generate();
    let old_id = old.active_id().to_string();
    let sealed = old.seal(SLOT, "s").unwrap();
    let ring = old.with_new_active_key(Zeroizing::new([9u8; 32]));
    assert_ne!(ring.active_id(), old_id);
    assert!(ring.needs_reseal(&sealed).unwrap());
    let resealed = ring.seal(SLOT, ring.open(SLOT, &sealed).unwrap().expose()).unwrap();
    assert!(!ring.needs_reseal(&resealed).unwrap());
    let ring = ring.retain(&[]);
    assert_eq!(ring.key_ids().len(), 1);
    assert!(matches!(ring.open(SLOT, &sealed), Err(VaultError::UnknownKey(id)) if id == old_id));
    assert_eq!(ring.open(SLOT, &resealed).unwrap().expose(), "s");
}

#[test]
fn key_text_round_trips_and_bad_keys_are_named() {
    let ring = KeyRing::generate().with_new_active_key(Zeroizing::new([1u8; 32]));
    let again = KeyRing::parse(&ring.to_file_text()).unwrap();
    assert_eq!(again.key_ids(), ring.key_ids());
    let env_form = format!("{},{}", STANDARD.encode([1u8; 32]), STANDARD.encode([2u8; 32]));
    assert_eq!(KeyRing::parse(&env_form).unwrap().key_ids().len(), 2);
    assert_eq!(KeyRing::parse("").unwrap_err(), VaultError::BadKey("no key".into()));
    assert_eq!(KeyRing::parse("!!!").unwrap_err(), VaultError::BadKey("key 1 is not base64".into()));
    assert_eq!(
        KeyRing::parse(&STANDARD.encode([0u8; 16])).unwrap_err(),
        VaultError::BadKey("key 1 is 16 bytes, not 32".into())
    );
}

#[test]
fn secrets_never_print() {
    let s = Secret::new("hunter2");
    assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    let ring = KeyRing::generate();
    assert!(!format!("{ring:?}").contains(&STANDARD.encode(*ring.keys[0].material)));
}

#[test]
fn the_key_file_is_created_private_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let ring = load_or_create_key_file(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = load_or_create_key_file(&path).unwrap();
        assert_eq!(again.key_ids(), ring.key_ids());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create_key_file(&path).unwrap_err().to_string();
        assert!(e.contains("is readable by other users (mode 644)"), "{e}");
    }
}

proptest! {
    #[test]
    fn any_secret_round_trips_only_in_its_slot(
        plain in ".{0,200}",
        column in 0..SecretColumn::ALL.len(),
        row in any::<i64>(),
        other in any::<i64>(),
    ) {
        let ring = KeyRing::generate();
        let slot = SecretColumn::ALL[column].at(row);
        let sealed = ring.seal(slot, &plain).unwrap();
        let opened = ring.open(slot, &sealed).unwrap();
        prop_assert_eq!(opened.expose(), plain.as_str());
        prop_assume!(other != row);
        prop_assert_eq!(ring.open(Slot { row: other, ..slot }, &sealed), Err(VaultError::Undecryptable));
    }

    #[test]
    fn a_ciphertext_opens_in_no_other_slot_and_not_once_altered(
        plain in ".{0,64}",
        row in any::<i64>(),
        (column, other_column) in (0..SecretColumn::ALL.len(), 0..SecretColumn::ALL.len()),
        at in any::<prop::sample::Index>(),
        shift in 1usize..64,
    ) {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let ring = KeyRing::generate();
        let slot = SecretColumn::ALL[column].at(row);
        let sealed = ring.seal(slot, &plain).unwrap();
        if other_column != column {
            let moved = SecretColumn::ALL[other_column].at(row);
            prop_assert!(ring.open(moved, &sealed).is_err());
        }
        // Any one character of the payload changed: it never opens (to this or anything else).
        let start = sealed.rfind('.').unwrap() + 1;
        let i = start + at.index(sealed.len() - start);
        let mut altered = sealed.clone().into_bytes();
        let pos = ALPHABET.iter().position(|c| *c == altered[i]).unwrap();
        altered[i] = ALPHABET[(pos + shift) % ALPHABET.len()];
        prop_assert!(ring.open(slot, std::str::from_utf8(&altered).unwrap()).is_err());
        // Under a newer key, the old ciphertext still opens in its slot only.
        let newer = ring.with_new_active_key(zeroize::Zeroizing::new([7u8; 32]));
        let opened = newer.open(slot, &sealed).unwrap();
        prop_assert_eq!(opened.expose(), plain.as_str());
        let next_row = Slot { row: row.wrapping_add(1), ..slot };
        prop_assert_eq!(newer.open(next_row, &sealed), Err(VaultError::Undecryptable));
    }
}
