//! The types that cross the wire between the browser and the server: views and form values.
//! No secret is ever part of a view. Parsing here is shared by the browser (instant feedback) and
//! the server (the check that counts): an invalid value cannot be constructed.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A user's role in their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// Who is signed in: what the pages may show about the current user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Signed in by a host console that embeds Liaison: its origin (the page then has no chrome
    /// of its own and tells the host what happens). None for ordinary sign-ins.
    #[serde(default)]
    pub embed_origin: Option<String>,
}

/// A password as typed. Its `Debug` never shows the value, so it cannot slip into a log line.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// Shortest password accepted for a new account.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A lower-cased email address: one `@`, a non-empty local part, a dotted domain, no spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err("Enter an email address.".into());
        }
        if s.chars().count() > 254 {
            return Err("An email address has at most 254 characters.".into());
        }
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if valid {
            Ok(Self(s))
        } else {
            Err("Enter an email address like name@example.com.".into())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's or an organisation's display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str, what: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(format!("Enter {what}."));
        }
        if s.chars().count() > 100 {
            return Err(format!("{} has at most 100 characters.", capitalise(what)));
        }
        if s.chars().any(char::is_control) {
            return Err(format!("{} cannot contain control characters.", capitalise(what)));
        }
        if s.chars().any(is_format_character) {
            return Err(format!(
                "{} cannot contain invisible formatting characters (such as right-to-left marks or zero-width spaces).",
                capitalise(what)
            ));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Unicode format characters (category Cf) that hide or reorder text where a name is shown:
/// soft hyphen, the zero-width space, directional marks, embeddings, overrides and isolates,
/// invisible operators, the byte order mark. The zero-width joiner and non-joiner (U+200C, U+200D)
/// are not among them: Persian and Indic names and emoji sequences are written with them.
pub fn is_format_character(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{200B}'
            | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

fn capitalise(s: &str) -> String {
    let s = s.strip_prefix("the ").or_else(|| s.strip_prefix("your ")).unwrap_or(s);
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Checks the length of a new password.
pub fn check_new_password(password: &Password) -> Result<(), String> {
    let n = password.expose().chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!("Use at least {MIN_PASSWORD_CHARS} characters."));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!("Use at most {MAX_PASSWORD_CHARS} characters."));
    }
    Ok(())
}

/// Checks that the confirmation repeats the password.
pub fn check_confirmation(password: &Password, confirm: &Password) -> Result<(), String> {
    if password == confirm {
        Ok(())
    } else {
        Err("The two passwords do not match.".into())
    }
}

/// The first-run form, parsed: every field valid or a message for each one that is not.
#[derive(Debug, Clone)]
pub struct SetupForm {
    pub org_name: DisplayName,
    pub name: DisplayName,
    pub email: EmailAddress,
    pub password: Password,
}

impl SetupForm {
    pub fn parse(
        org_name: &str,
        name: &str,
        email: &str,
        password: Password,
        password_confirm: &Password,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut note = |field: &str, r: Result<(), String>| {
            if let Err(message) = r {
                errors.push(FieldError { field: field.into(), message });
            }
        };
        let org = DisplayName::parse(org_name, "the organisation's name");
        let person = DisplayName::parse(name, "your name");
        let mail = EmailAddress::parse(email);
        note("org_name", org.as_ref().map(|_| ()).map_err(Clone::clone));
        note("name", person.as_ref().map(|_| ()).map_err(Clone::clone));
        note("email", mail.as_ref().map(|_| ()).map_err(Clone::clone));
        note("password", check_new_password(&password));
        note("password_confirm", check_confirmation(&password, password_confirm));
        match (org, person, mail) {
            (Ok(org_name), Ok(name), Ok(email)) if errors.is_empty() => Ok(Self { org_name, name, email, password }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules_and_messages() {
        assert_eq!(EmailAddress::parse(" Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        assert_eq!(EmailAddress::parse("").unwrap_err(), "Enter an email address.");
        for bad in ["ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@b@c.com", "a@.com"] {
            assert_eq!(EmailAddress::parse(bad).unwrap_err(), "Enter an email address like name@example.com.", "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long).unwrap_err(), "An email address has at most 254 characters.");
    }

    #[test]
    fn display_name_rules_and_messages() {
        assert_eq!(DisplayName::parse("  Acme  ", "the organisation's name").unwrap().as_str(), "Acme");
        assert_eq!(DisplayName::parse("   ", "your name").unwrap_err(), "Enter your name.");
        assert_eq!(
            DisplayName::parse(&"x".repeat(101), "the organisation's name").unwrap_err(),
            "Organisation's name has at most 100 characters."
        );
        assert_eq!(DisplayName::parse("a\u{7}b", "your name").unwrap_err(), "Name cannot contain control characters.");
    }

    #[test]
    fn a_display_name_cannot_hide_or_reorder_text_with_format_characters() {
        let refused = "Name cannot contain invisible formatting characters (such as right-to-left marks or \
                       zero-width spaces).";
        for c in [
            '\u{00AD}', '\u{200B}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202C}', '\u{202E}', '\u{2060}', '\u{2064}',
            '\u{2066}', '\u{2069}', '\u{FEFF}',
        ] {
            let name = format!("Ada{c}gnirts");
            assert_eq!(DisplayName::parse(&name, "your name").unwrap_err(), refused, "U+{:04X}", c as u32);
        }
        // Letters of every script, and their neighbours outside the ranges, are names.
        // The joiners write Persian and Indic names and emoji sequences.
        for ok in ["Zoë Ørsted", "محمد", "李雷", "Ada\u{2010}Lovelace", "Ada\u{2070}", "می\u{200C}خواهم", "क्\u{200D}ष"]
        {
            assert!(DisplayName::parse(ok, "your name").is_ok(), "{ok}");
        }
    }

    #[test]
    fn password_rules_and_messages() {
        let p = |s: &str| Password::new(s);
        assert_eq!(check_new_password(&p("short")).unwrap_err(), "Use at least 12 characters.");
        assert_eq!(
            check_confirmation(&p("correct horse battery"), &p("correct horse battery!")).unwrap_err(),
            "The two passwords do not match."
        );
        assert_eq!(check_new_password(&p(&"x".repeat(257))).unwrap_err(), "Use at most 256 characters.");
        assert!(check_new_password(&p("correct horse battery")).is_ok());
        assert!(check_confirmation(&p("correct horse battery"), &p("correct horse battery")).is_ok());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::new("hunter2hunter2");
        assert_eq!(format!("{p:?}"), "Password([redacted])");
    }

    #[test]
    fn setup_form_reports_every_bad_field_at_once() {
        let errs = SetupForm::parse("", "Ada", "nope", Password::new("short"), &Password::new("shorter")).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["org_name", "email", "password", "password_confirm"]);
    }

    #[test]
    fn role_round_trip() {
        for r in [Role::Admin, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("owner"), None);
    }
}
