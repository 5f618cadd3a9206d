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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_follow_the_display_name_rules() {
        assert_eq!(parse_token_name("  Nightly sync ").map(|n| n.as_str().to_string()), Ok("Nightly sync".into()));
        assert_eq!(parse_token_name("   ").unwrap_err(), "Enter a name for the token.");
        assert_eq!(parse_token_name(&"x".repeat(101)).unwrap_err(), "A name for the token has at most 100 characters.");
    }
}
