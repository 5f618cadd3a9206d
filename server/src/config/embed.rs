//! The embedding settings, checked together: the consoles' origins, the key their tokens are
//! signed with, whom a console may bring that Liaison does not know yet, and the embedded pages'
//! theme.

use super::{ConfigError, Origins};

/// Which people a console may bring that Liaison does not know yet (`embed_provision_users`,
/// `embed_provision_admins`). Nobody by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Provision {
    pub users: bool,
    pub admins: bool,
}

/// The embedding settings as given.
pub(super) struct Raw {
    pub origins: Option<String>,
    pub secret: Option<String>,
    pub provision_users: Option<bool>,
    pub provision_admins: Option<bool>,
    pub theme: Option<toml::Value>,
}

/// The embedding settings, valid together.
pub(super) struct Embedding {
    pub origins: Vec<String>,
    pub secret: Option<String>,
    pub provision: Provision,
    pub theme: Option<crate::theme::Theme>,
}

pub(super) fn validate(raw: Raw, given: &Origins) -> Result<Embedding, ConfigError> {
    let bad = |key: &str, message: String| ConfigError::Invalid {
        key: key.into(),
        origin: given.get(key).cloned().unwrap_or_else(|| "default".into()),
        message,
    };
    let mut origins = Vec::new();
    for item in raw.origins.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let origin = url::Url::parse(item)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o == item.trim_end_matches('/'))
            .ok_or_else(|| {
                bad(
                    "embed_origins",
                    format!("{item:?} is not an origin like https://console.example.com (scheme, host and port only)"),
                )
            })?;
        origins.push(origin);
    }
    let secret = raw.secret.filter(|t| !t.trim().is_empty()).map(|t| t.trim().to_string());
    if secret.as_ref().is_some_and(|t| t.chars().count() < 32) {
        return Err(bad("embed_secret", "use at least 32 characters (e.g. `openssl rand -hex 32`)".into()));
    }
    if secret.is_some() && origins.is_empty() {
        return Err(bad("embed_secret", "set embed_origins too: embedded sign-in needs the consoles' origins".into()));
    }
    let provision =
        Provision { users: raw.provision_users.unwrap_or(false), admins: raw.provision_admins.unwrap_or(false) };
    if provision.admins && !provision.users {
        return Err(bad(
            "embed_provision_admins",
            "set embed_provision_users too: a console may create admins only where it may create people".into(),
        ));
    }
    if provision.users && secret.is_none() {
        return Err(bad(
            "embed_provision_users",
            "set embed_secret too: people arrive from a console only through its signed tokens".into(),
        ));
    }
    let theme = match raw.theme {
        None => None,
        Some(toml::Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => Some(crate::theme::Theme::parse(&v).map_err(|m| bad("embed_theme", m))?),
    };
    if theme.is_some() && secret.is_none() {
        return Err(bad("embed_theme", "set embed_secret too: the theme is for embedded pages only".into()));
    }
    Ok(Embedding { origins, secret, provision, theme })
}
