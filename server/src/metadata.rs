//! Connection metadata: a small JSON object per connection (the provider's account id, a region, a
//! tenant's name) that the admin API and scripts read and set, and its details page shows. It is
//! never a place for a secret: it is shown to everyone who may see the connection, so keys named
//! like a credential are refused. Checked whole before anything is saved: a JSON object of at most
//! [`MAX_BYTES`], nested at most [`MAX_DEPTH`] deep; a refused one leaves the stored one as it was.
//! Each change is in the audit log (who, which connection; never the values).

use crate::error::Result;
use crate::infra::Infra;
use crate::store::connections::ConnectionRecord;
use crate::store::{audit, sql};
use app::error::{AppError, ErrorCode};
use serde_json::Value;
use sqlx::Row;

/// The largest metadata object, in bytes as sent.
pub const MAX_BYTES: usize = 4 * 1024;
/// How deep objects and lists may nest (the object itself is level 1).
pub const MAX_DEPTH: usize = 4;
/// Keys refused at any level, compared as lowercase letters and digits only (`clientSecret`,
/// `client-secret` and `client_secret` are one): these names themselves…
const CREDENTIAL_KEYS: &[&str] = &["password", "passwd", "pwd", "pass", "secret", "token", "idtoken", "authorization"];
/// … and any name ending so: where a secret would go (`token_type`, `tokens_left` are fine).
const CREDENTIAL_ENDINGS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "privatekey",
    "apikey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "bearertoken",
    "sessiontoken",
    "idtoken",
    "secretaccesskey",
];

/// Whether a metadata key names a credential.
fn credential_key(key: &str) -> bool {
    let plain: String = key.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    CREDENTIAL_KEYS.contains(&plain.as_str()) || CREDENTIAL_ENDINGS.iter().any(|e| plain.ends_with(e))
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::Validation, message)
}

/// Checks metadata as sent and returns its compact JSON text.
pub fn check(raw: &[u8]) -> std::result::Result<String, AppError> {
    if raw.len() > MAX_BYTES {
        return Err(invalid(format!("The metadata is {} bytes; it may be at most {MAX_BYTES}.", raw.len())));
    }
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        invalid(format!("The metadata is not valid JSON ({e}). Send an object, like {{\"account_id\": \"12345\"}}."))
    })?;
    if !value.is_object() {
        return Err(invalid("The metadata must be a JSON object, like {\"account_id\": \"12345\"}."));
    }
    check_value(&value, 1)?;
    Ok(value.to_string())
}

fn check_value(v: &Value, depth: usize) -> std::result::Result<(), AppError> {
    let nested = matches!(v, Value::Object(_) | Value::Array(_));
    if nested && depth > MAX_DEPTH {
        return Err(invalid(format!("The metadata nests more than {MAX_DEPTH} levels deep. Keep it flat.")));
    }
    match v {
        Value::String(text) => hidden(text)?,
        Value::Object(map) => {
            for (key, inner) in map {
                hidden(key)?;
                if credential_key(key) {
                    return Err(invalid(format!(
                        "The metadata key {key:?} names a credential. Metadata is shown to everyone who can see the connection: keep secrets out of it (Liaison holds the connection's credential itself)."
                    )));
                }
                check_value(inner, depth + 1)?;
            }
        }
        Value::Array(list) => {
            for inner in list {
                check_value(inner, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Refuses text with the invisible formatting characters names refuse (directional overrides,
/// zero-width spaces…): the details page shows the metadata.
fn hidden(text: &str) -> std::result::Result<(), AppError> {
    if text.chars().any(app::model::is_format_character) {
        return Err(invalid(
            "The metadata cannot contain invisible formatting characters (such as right-to-left marks or zero-width spaces).",
        ));
    }
    Ok(())
}

/// A connection's metadata (`{}` when none was set).
pub async fn read(infra: &Infra, c: &ConnectionRecord) -> Result<Value> {
    let row = sql!("SELECT metadata FROM connections WHERE id = $1 AND org_id = $2", c.id, c.org_id)
        .fetch_optional(&infra.store.pool)
        .await?;
    let text: String = row.map(|r| r.get("metadata")).unwrap_or_default();
    Ok(serde_json::from_str(&text).unwrap_or_else(|_| Value::Object(Default::default())))
}

/// Metadata as the details page shows it: indented JSON, empty for an empty object.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Object(map) if map.is_empty() => String::new(),
        v => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

/// Replaces a connection's metadata with `raw` (checked first), as `actor`, in the audit log.
pub async fn write(infra: &Infra, c: &ConnectionRecord, raw: &[u8], actor: &str) -> Result<Value> {
    let text = check(raw)?;
    let now = infra.clock.now_ms();
    let mut tx = infra.store.begin().await?;
    let done =
        sql!("UPDATE connections SET metadata = $1 WHERE id = $2 AND org_id = $3", text.as_str(), c.id, c.org_id)
            .execute(&mut *tx)
            .await?;
    // Deleted since it was looked up: nothing saved, nothing to record.
    if done.rows_affected() == 0 {
        return Err(AppError::new(ErrorCode::NotFound, "There is no connection with that link name.").into());
    }
    audit::By::new(Some(c.org_id), actor, now).record(&mut *tx, "connection.metadata", &c.link_name, None).await?;
    tx.commit().await?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> String {
        check(raw.as_bytes()).unwrap_err().message
    }

    #[test]
    fn an_object_is_kept_compact() {
        let kept = check(br#"{ "account_id": "123", "region": "eu", "n": [1, 2] }"#).unwrap();
        assert!(!kept.contains(' '), "{kept}");
        assert_eq!(serde_json::from_str::<Value>(&kept).unwrap()["n"][1], 2);
        assert_eq!(check(b"{}").unwrap(), "{}");
        let deep = r#"{"a": {"b": {"c": [1]}}}"#;
        assert!(check(deep.as_bytes()).is_ok(), "four levels");
    }

    #[test]
    fn anything_else_is_refused_with_a_sentence() {
        assert!(refused("[1, 2]").contains("must be a JSON object"));
        assert!(refused("\"text\"").contains("must be a JSON object"));
        assert!(refused("{\"a\": ").contains("not valid JSON"));
        assert!(refused(r#"{"a": {"b": {"c": {"d": {"e": 1}}}}}"#).contains("more than 4 levels"));
        assert!(refused(r#"{"a": [[[[1]]]]}"#).contains("more than 4 levels"));
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_BYTES));
        assert!(refused(&big).contains("at most 4096"));
        for key in [
            "password",
            "API-Key",
            "client_secret",
            "Access_Token",
            "token",
            "clientSecret",
            "accessToken",
            "refreshToken",
            "privateKey",
            "authToken",
            "bearer_token",
            "session_token",
            "aws_secret_access_key",
            "x_api_key",
            "pwd",
            "pass",
        ] {
            let raw = format!("{{\"ok\": 1, \"nested\": {{\"{key}\": \"x\"}}}}");
            assert!(refused(&raw).contains("names a credential"), "{key}");
        }
        let fine = br#"{"token_type": "bearer", "tokens_left": 3, "tokenType": "x", "bypass": 1, "account_id": 2}"#;
        assert!(check(fine).is_ok(), "only the names themselves");
        for raw in [r#"{"a": "pay\u202Eexe"}"#, r#"{"ac\u200Bcount": 1}"#, r#"{"a": ["\uFEFF"]}"#] {
            assert!(refused(raw).contains("invisible formatting characters"), "{raw}");
        }
        assert!(
            check(r#"{"name": "می\u200Cخواهم", "k": "क्\u200Dष"}"#.as_bytes()).is_ok(),
            "joiners are letters' business"
        );
    }
}
