//! What a catalogue entry documents of its provider's rate limits (`[service.retries]`), for the
//! scripts' API's retries (`crate::invoke::retry`): the retries a call asking for the service's
//! `default` gets, and the header that says when the limit resets. Checked like every field.

use serde::Deserialize;

/// The most retries a call may ask for, and a catalogue entry may give.
pub const MAX_RETRIES: u8 = 5;

/// A catalogue entry's documented rate limits (`[service.retries]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryDefaults {
    /// The retries a call gets when it asks for the service's `default`.
    pub default: u8,
    /// A header saying when the limit resets, read when an answer has no `Retry-After`.
    pub reset_header: Option<String>,
    pub reset_format: ResetFormat,
}

/// How a reset header counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetFormat {
    /// Unix time in seconds (GitHub's `x-ratelimit-reset`).
    UnixSeconds,
    /// Seconds from now (Discord's `x-ratelimit-reset-after`).
    Seconds,
}

impl ResetFormat {
    pub const NAMES: &'static [&'static str] = &["unix_seconds", "seconds"];

    pub fn parse(s: &str) -> Option<ResetFormat> {
        match s {
            "unix_seconds" => Some(ResetFormat::UnixSeconds),
            "seconds" => Some(ResetFormat::Seconds),
            _ => None,
        }
    }
}

/// `[service.retries]`: what the provider documents of its rate limits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetries {
    default: i64,
    #[serde(default)]
    reset_header: Option<String>,
    #[serde(default)]
    reset_format: Option<String>,
}

impl super::Check {
    pub(super) fn retries(&mut self, raw: &RawRetries) -> Option<RetryDefaults> {
        let default = u8::try_from(raw.default).ok().filter(|n| (1..=MAX_RETRIES).contains(n));
        if default.is_none() {
            self.fail("retries.default", format!("{} is not a number of retries from 1 to {MAX_RETRIES}", raw.default));
        }
        if let Some(h) = raw.reset_header.as_deref().filter(|h| !super::is_token(h)) {
            self.fail("retries.reset_header", format!("{h:?} is not a valid header name"));
        }
        let reset_format = match (&raw.reset_header, raw.reset_format.as_deref()) {
            (Some(_), Some(f)) => self.choice("retries.reset_format", f, ResetFormat::parse, ResetFormat::NAMES),
            (Some(_), None) => {
                self.fail(
                    "retries.reset_format",
                    format!("is required with reset_header: one of {}", ResetFormat::NAMES.join(", ")),
                );
                None
            }
            (None, Some(_)) => {
                self.fail("retries.reset_format", "is only for a reset_header".into());
                None
            }
            (None, None) => Some(ResetFormat::Seconds),
        };
        Some(RetryDefaults {
            default: default?,
            reset_header: raw.reset_header.as_ref().map(|h| h.to_ascii_lowercase()),
            reset_format: reset_format?,
        })
    }
}
