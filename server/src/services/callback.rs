//! A service's redirect URL, `{public_url}oauth/callback/{key}`, and where its key comes from.
//! Each service has its own key (Liaison's defence against mix-up attacks). A predefined service's
//! is `p-{catalogue id}`. A custom service's is minted when an admin opens the Create New Service
//! form, so the form shows the redirect URL to register with the provider before anything is
//! typed; the form carries it back and the service takes it at create. A key is given to one
//! organisation, is taken by one service, ever, and a form cannot carry another organisation's
//! key, one no form was given, or one a service already has (services made before the keys had
//! `c-{id}`, kept by migration 0011).

use super::{require_admin, Services, ADMINS_ONLY};
use crate::error::{Error, Result};
use crate::store::{callback_keys, services};
use app::connection::NewServiceKey;
use app::model::Viewer;
use base64::Engine as _;
use rand::RngCore as _;

/// How long a form's key waits to be taken: a form left open for a week is still good.
pub const KEY_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The message of a key that is not one this organisation was given (or no longer is).
pub const KEY_NOT_GIVEN: &str =
    "This redirect URL was not given to this form, or it expired. Reload the form for a new one.";

/// A new key: `s-` and 128 random bits, URL-safe.
fn mint() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("s-{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `key` has the shape of a minted key (and so is none of `p-…` or `c-…`).
fn well_formed(key: &str) -> bool {
    key.len() == 24
        && key.starts_with("s-")
        && key[2..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Services {
    /// The redirect URI of the service with this callback key.
    pub fn callback_url(&self, key: &str) -> String {
        format!("{}oauth/callback/{key}", self.infra.public_url)
    }

    /// A new key for a Create New Service form (admins), given to the viewer's organisation.
    pub async fn new_service_key(&self, viewer: &Viewer) -> Result<NewServiceKey> {
        require_admin(viewer, ADMINS_ONLY)?;
        let now = self.infra.clock.now_ms();
        callback_keys::prune(&self.infra.store.pool, now).await?;
        let key = mint();
        let mut tx = self.infra.store.begin().await?;
        callback_keys::give(&mut tx, &key, viewer.org_id, now + KEY_TTL_MS).await?;
        tx.commit().await?;
        Ok(NewServiceKey { callback_url: self.callback_url(&key), key })
    }

    /// The key a new service takes, inside its create transaction: the form's, if this
    /// organisation was given it and no service has it (it is no longer given then), else a
    /// field error; a form without one (a script's) gets a new key.
    pub(super) async fn take_key(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        viewer: &Viewer,
        form_key: &str,
    ) -> Result<String> {
        let key = form_key.trim();
        if key.is_empty() {
            return Ok(mint());
        }
        if !well_formed(key) {
            return Err(Error::Field { field: "callback_key", message: KEY_NOT_GIVEN.into() });
        }
        if services::key_taken(&mut **tx, key).await? {
            return Err(Error::Field { field: "callback_key", message: services::KEY_TAKEN.into() });
        }
        if !callback_keys::take(&mut **tx, key, viewer.org_id, self.infra.clock.now_ms()).await? {
            return Err(Error::Field { field: "callback_key", message: KEY_NOT_GIVEN.into() });
        }
        Ok(key.to_string())
    }
}

/// A predefined service's callback key.
pub fn predefined_key(catalog_id: &str) -> String {
    format!("p-{catalog_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_are_well_formed_and_nothing_else_is() {
        let (a, b) = (mint(), mint());
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b), "{a} {b}");
        for other in ["c-1", "p-github", "", "s-", "s-short", &format!("{}/", &a[..23]), &format!("x{}", &a[1..])] {
            assert!(!well_formed(other), "{other}");
        }
    }
}
