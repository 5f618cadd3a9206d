//! Personal API tokens: what a script presents to the scripts' API (`Authorization: Bearer …`).

use crate::model::DisplayName;
use serde::{Deserialize, Serialize};

/// The start of every token, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "lsn_";

/// A token as listed: never the token itself, only its first characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// When the token stops working (None: never).
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A token just created: the only time its value is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub view: ApiTokenView,
    pub token: String,
}

/// The name a person gives a token ("Nightly sync").
pub fn parse_token_name(raw: &str) -> Result<DisplayName, String> {
    DisplayName::parse(raw, "a name for the token")
}

/// The expiries offered on the create form, in days (no choice: the token never expires).
pub const EXPIRY_DAYS: &[u32] = &[7, 30, 90, 365];

/// The longest expiry a token may be given, in days (ten years).
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// Checks the expiry asked for a new token: none (never), or 1 to [`MAX_EXPIRY_DAYS`] days.
pub fn parse_expiry_days(days: Option<u32>) -> Result<Option<u32>, String> {
    match days {
        Some(d) if d == 0 || d > MAX_EXPIRY_DAYS => {
            Err(format!("A token expires after 1 to {MAX_EXPIRY_DAYS} days, or never."))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_follow_the_display_name_rules() {
        assert_eq!(parse_token_name("  Nightly sync ").map(|n| n.as_str().to_string()), Ok("Nightly sync".into()));
        assert_eq!(parse_token_name("   ").unwrap_err(), "Enter a name for the token.");
        assert_eq!(parse_token_name(&"x".repeat(101)).unwrap_err(), "A name for the token has at most 100 characters.");
    }

    #[test]
    fn expiries_are_a_day_to_ten_years_or_never() {
        assert_eq!(parse_expiry_days(None), Ok(None));
        assert_eq!(parse_expiry_days(Some(1)), Ok(Some(1)));
        assert_eq!(parse_expiry_days(Some(3650)), Ok(Some(3650)));
        for bad in [0, 3651, u32::MAX] {
            assert_eq!(parse_expiry_days(Some(bad)).unwrap_err(), "A token expires after 1 to 3650 days, or never.");
        }
        assert!(EXPIRY_DAYS.iter().all(|d| parse_expiry_days(Some(*d)).is_ok()));
    }
}
