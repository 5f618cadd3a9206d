//! Secret custody: every secret at rest is sealed with AES-256-GCM under a key from the key ring,
//! with the table, column and row id as associated data, so a ciphertext copied to another row or
//! column does not open. Each sealed value names its format version and key id:
//! `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
//!
//! The key ring is a list of 256-bit keys, the first one active. A key's id is the first 8 bytes
//! of its SHA-256 in hex, so ids need no bookkeeping. Keys come from `master_key` (base64, one key
//! or several separated by commas, active first) or from a key file with one base64 key per line;
//! in the embedded default the key file is made on first run with mode 0600.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use zeroize::Zeroizing;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A secret in memory: never printed, wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A database column that holds sealed secrets. No other column may: the vault seals for these
/// only, and key rotation walks [`SecretColumn::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretColumn {
    ServiceClientSecret,
    ConnectionClientSecret,
    GrantAccessToken,
    GrantRefreshToken,
    FlowPkceVerifier,
    WebhookSecret,
    WebhookPreviousSecret,
}

impl SecretColumn {
    /// Every sealed column.
    pub const ALL: [SecretColumn; 7] = [
        SecretColumn::ServiceClientSecret,
        SecretColumn::ConnectionClientSecret,
        SecretColumn::GrantAccessToken,
        SecretColumn::GrantRefreshToken,
        SecretColumn::FlowPkceVerifier,
        SecretColumn::WebhookSecret,
        SecretColumn::WebhookPreviousSecret,
    ];

    /// The table and the column, as the database (and the associated data) name them.
    pub fn table_column(self) -> (&'static str, &'static str) {
        match self {
            SecretColumn::ServiceClientSecret => ("services", "client_secret"),
            SecretColumn::ConnectionClientSecret => ("connections", "client_secret"),
            SecretColumn::GrantAccessToken => ("grants", "access_token"),
            SecretColumn::GrantRefreshToken => ("grants", "refresh_token"),
            SecretColumn::FlowPkceVerifier => ("oauth_flows", "pkce_verifier"),
            SecretColumn::WebhookSecret => ("webhook_endpoints", "secret"),
            SecretColumn::WebhookPreviousSecret => ("webhook_endpoints", "previous_secret"),
        }
    }

    /// The column of that table and name, if it is a sealed one.
    pub fn named(table: &str, column: &str) -> Option<SecretColumn> {
        SecretColumn::ALL.into_iter().find(|c| c.table_column() == (table, column))
    }

    /// This column in one row: where a value is sealed and opened.
    pub const fn at(self, row: i64) -> Slot {
        Slot { column: self, row }
    }
}

/// Where a sealed value lives: it opens only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub column: SecretColumn,
    pub row: i64,
}

impl Slot {
    /// `liaison/v1/<table>/<column>/<row>/<key id>`: the bytes every sealed value is bound to.
    fn associated_data(&self, key_id: &str) -> Vec<u8> {
        let (table, column) = self.column.table_column();
        format!("liaison/{VERSION}/{table}/{column}/{}/{key_id}", self.row).into_bytes()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("a stored secret is not in Liaison's sealed format")]
    Malformed,
    #[error(
        "a stored secret was sealed with key {0}, which is not in the key ring: restore that key \
         (master_key or the key file) to read it"
    )]
    UnknownKey(String),
    #[error(
        "a stored secret could not be decrypted: it was altered, moved from another row, or the key \
         with its id is not the one it was sealed with"
    )]
    Undecryptable,
    #[error("a secret is too large to seal")]
    TooLarge,
    #[error("the key ring is empty or holds a key that is not 32 bytes of base64: {0}")]
    BadKey(String),
    #[error("the key file {path}: {message}")]
    KeyFile { path: String, message: String },
}

#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256Gcm,
    material: Zeroizing<[u8; 32]>,
}

/// The keys Liaison seals and opens secrets with; the first is active.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("key_ids", &self.key_ids()).finish()
    }
}

/// The id of a key: the first 8 bytes of its SHA-256, in hex.
fn key_id(material: &[u8; 32]) -> String {
    Sha256::digest(material)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl KeyRing {
    pub fn from_keys(materials: Vec<Zeroizing<[u8; 32]>>) -> Result<KeyRing, VaultError> {
        if materials.is_empty() {
            return Err(VaultError::BadKey("no key".into()));
        }
        let keys = materials
            .into_iter()
            .map(|material| Key { id: key_id(&material), cipher: Aes256Gcm::new((&*material).into()), material })
            .collect();
        Ok(KeyRing { keys })
    }

    /// Parses base64 keys separated by commas or new lines, active first. Blank lines and lines
    /// starting with `#` are ignored.
    pub fn parse(text: &str) -> Result<KeyRing, VaultError> {
        let mut materials = Vec::new();
        for (i, item) in text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(item)
                    .or_else(|_| URL_SAFE_NO_PAD.decode(item))
                    .map_err(|_| VaultError::BadKey(format!("key {} is not base64", i + 1)))?,
            );
            let material: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::BadKey(format!("key {} is {} bytes, not 32", i + 1, bytes.len())))?;
            materials.push(Zeroizing::new(material));
        }
        Self::from_keys(materials)
    }

    /// A ring with one fresh random key.
    pub fn generate() -> KeyRing {
        let mut material = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut *material);
        KeyRing { keys: vec![] }.with_new_active_key(material)
    }

    /// This ring with `material` as the new active key (the others kept, for reading).
    pub fn with_new_active_key(self, material: Zeroizing<[u8; 32]>) -> KeyRing {
        let mut keys = vec![Key { id: key_id(&material), cipher: Aes256Gcm::new((&*material).into()), material }];
        keys.extend(self.keys);
        KeyRing { keys }
    }

    /// This ring without the keys whose ids are not in `keep` (the active key always stays).
    pub fn retain(self, keep: &[String]) -> KeyRing {
        let active = self.active_id().to_string();
        KeyRing { keys: self.keys.into_iter().filter(|k| k.id == active || keep.contains(&k.id)).collect() }
    }

    /// This ring with key `id` made active (moved first), when it holds it; else unchanged.
    pub fn prefer(mut self, id: &str) -> KeyRing {
        if let Some(at) = self.keys.iter().position(|k| k.id == id) {
            let key = self.keys.remove(at);
            self.keys.insert(0, key);
        }
        self
    }

    pub fn contains(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    pub fn active_id(&self) -> &str {
        // A ring is never empty: every constructor checks it.
        self.keys.first().map(|k| k.id.as_str()).unwrap_or_default()
    }

    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The ring as key-file text: one base64 key per line, active first.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::from(
            "# Liaison's key ring: one base64 AES-256 key per line, the active key first. Keep it secret.\n",
        ));
        for k in &self.keys {
            out.push_str(&STANDARD.encode(*k.material));
            out.push('\n');
        }
        out
    }

    /// Seals `plaintext` for `slot` under the active key.
    pub fn seal(&self, slot: Slot, plaintext: &str) -> Result<String, VaultError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = slot.associated_data(&key.id);
        // Encryption fails only for inputs beyond 64 GiB.
        let sealed = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: &aad })
            .map_err(|_| VaultError::TooLarge)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(format!("{VERSION}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(blob)))
    }

    /// Opens a sealed value, only in the slot it was sealed for.
    pub fn open(&self, slot: Slot, sealed: &str) -> Result<Secret, VaultError> {
        let (id, blob) = split(sealed)?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| VaultError::UnknownKey(id.to_string()))?;
        let blob = URL_SAFE_NO_PAD.decode(blob).map_err(|_| VaultError::Malformed)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let aad = slot.associated_data(id);
        let plain = Zeroizing::new(
            key.cipher
                .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
                .map_err(|_| VaultError::Undecryptable)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| VaultError::Undecryptable)?;
        Ok(Secret::new(text))
    }

    /// Whether a sealed value is under a key other than the active one (rotation re-seals it).
    pub fn needs_reseal(&self, sealed: &str) -> Result<bool, VaultError> {
        Ok(split(sealed)?.0 != self.active_id())
    }

    /// The key id named by a sealed value.
    pub fn key_id_of(sealed: &str) -> Result<&str, VaultError> {
        Ok(split(sealed)?.0)
    }
}

fn split(sealed: &str) -> Result<(&str, &str), VaultError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(id), Some(blob)) if id.len() == 16 && !blob.is_empty() => Ok((id, blob)),
        _ => Err(VaultError::Malformed),
    }
}

/// Reads the key file, or creates it (mode 0600) with one fresh key when it does not exist.
pub fn load_or_create_key_file(path: &Path) -> Result<KeyRing, VaultError> {
    match read_key_file(path) {
        Err(VaultError::KeyFile { message, .. }) if message == NOT_FOUND => {
            let ring = KeyRing::generate();
            write_key_file(path, &ring)?;
            tracing::info!(path = %path.display(), key_id = ring.active_id(), "created a new key file");
            Ok(ring)
        }
        other => other,
    }
}

const NOT_FOUND: &str = "does not exist";

/// Reads the key file (never creates it: a running server re-reads it after a rotation).
pub fn read_key_file(path: &Path) -> Result<KeyRing, VaultError> {
    let err = |message: String| VaultError::KeyFile { path: path.display().to_string(), message };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_private(path).map_err(err)?;
            KeyRing::parse(&text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(err(NOT_FOUND.into())),
        Err(e) => Err(err(e.to_string())),
    }
}

/// Replaces the key file atomically (write to a temporary file with mode 0600, then rename).
pub fn write_key_file(path: &Path, ring: &KeyRing) -> Result<(), VaultError> {
    use std::io::Write;
    let err = |message: String| VaultError::KeyFile { path: path.display().to_string(), message };
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| err(e.to_string()))?;
    file.write_all(ring.to_file_text().as_bytes()).map_err(|e| err(e.to_string()))?;
    file.sync_all().map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
    // The rename itself must reach the disk before any secret is re-sealed under the new key:
    // after a power loss the old file (without that key) must not come back.
    #[cfg(unix)]
    if let Some(dir) = path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!("is readable by other users (mode {:o}); run chmod 600 on it", mode & 0o777));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
