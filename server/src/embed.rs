//! Embedding: a host console shows Liaison in an iframe. The host signs its user in with a
//! short-lived token signed with `embed_secret` (HMAC-SHA256), opened at `/embed/start?token=…`;
//! the session then remembers the host's origin, which must be one of `embed_origins`: the page
//! drops its own chrome and posts its events to that origin only. The session cookie of an
//! embedded sign-in is `SameSite=None; Secure; Partitioned`, so it works inside a cross-site
//! iframe (and only there: it is keyed to the embedding site), and `__Host-` prefixed (Secure,
//! `Path=/`, no `Domain`: no sibling host can plant or shadow it). `/embed/start` answers only a
//! frame load (`Sec-Fetch-Dest: iframe`, where the browser sends it), and a token signs someone
//! in once: the SHA-256 of its signed part is remembered in the database until five minutes after
//! it expires (so an instance whose clock is behind still finds it used). The
//! token may also name the person's display name, role and organisation, which Liaison uses to
//! create a person it does not know, when the operator allows it (`crate::auth::embedded`).

use crate::auth::embedded::{Arrival, Embedded, Provision};
use crate::auth::session;
use crate::auth::sessions::Sessions;
use app::error::ErrorCode;
use app::model::{DisplayName, EmailAddress, Role};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::Arc;

/// Tokens may live at most this long (seconds).
pub const MAX_TOKEN_LIFETIME: i64 = 300;
// The store remembers a used token for one token lifetime past its expiry (its own constant: the
// store imports nothing of the areas).
const _: () = assert!(crate::store::embed_tokens::KEEP_PAST_EXPIRY_MS == MAX_TOKEN_LIFETIME * 1000);

/// How far ahead of Liaison's a console's clock may run (seconds): a token made for the longest
/// lifetime by its clock is still taken.
pub const CLOCK_LEEWAY: i64 = 30;

/// The cookie of embedded sessions (`__Host-`: Secure, `Path=/`, no `Domain`).
pub const COOKIE: &str = "__Host-liaison_embed";

#[derive(Clone, Default)]
pub struct Embed {
    pub origins: Vec<String>,
    secret: Option<String>,
    /// Whom a console may bring that Liaison does not know yet.
    pub provision: Provision,
    /// The embedded pages' stylesheet (`embed_theme`, `/theme.css`), if one is configured.
    pub theme_css: Option<Arc<str>>,
}

impl std::fmt::Debug for Embed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embed")
            .field("origins", &self.origins)
            .field("secret", &self.secret.as_ref().map(|_| "[set]"))
            .field("provision", &self.provision)
            .finish()
    }
}

/// What a host vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's email address: a person of Liaison, or one it may create (`embed_provision_users`).
    pub sub: String,
    /// The host's origin (one of `embed_origins`).
    pub origin: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// A unique id (any string; a random one is best). Optional, but a token is usable once, and
    /// two tokens with the same claims are the same token: without it, a console can mint only
    /// one token per person, origin and expiry second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The person's display name: used only when Liaison creates them (else their email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `admin` or `member`: used only when Liaison creates them (else member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The name of the person's organisation in Liaison: where a new person is created, and for
    /// a known one, checked (a person of another organisation is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

fn mac(secret: &str, payload: &str) -> Option<Vec<u8>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(payload.as_bytes());
    Some(m.finalize().into_bytes().to_vec())
}

/// `base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part))`.
pub fn sign(secret: &str, claims: &Claims) -> String {
    let payload = b64().encode(serde_json::to_vec(claims).unwrap_or_default());
    let sig = mac(secret, &payload).map(|m| b64().encode(m)).unwrap_or_default();
    format!("{payload}.{sig}")
}

impl Embed {
    pub fn new(origins: Vec<String>, secret: Option<String>) -> Embed {
        Embed { origins, secret, provision: Provision::default(), theme_css: None }
    }

    /// Lets consoles bring people Liaison does not know yet.
    pub fn provisioning(self, provision: Provision) -> Embed {
        Embed { provision, ..self }
    }

    /// Themes the embedded pages.
    pub fn themed(self, theme: Option<&crate::theme::Theme>) -> Embed {
        Embed { theme_css: theme.map(|t| t.css().into()), ..self }
    }

    /// The `frame-ancestors` directive: Liaison itself and the configured hosts.
    pub fn frame_ancestors(&self) -> String {
        let mut v = vec!["frame-ancestors 'self'".to_string()];
        v.extend(self.origins.iter().cloned());
        v.join(" ")
    }

    /// Checks a token: signature (constant time), lifetime, origin. The reasons name no secret.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, &'static str> {
        let secret = self.secret.as_deref().ok_or("embedded sign-in is not configured on this Liaison")?;
        let (payload, sig) = token.split_once('.').ok_or("the token is malformed")?;
        let sig = b64().decode(sig).map_err(|_| "the token is malformed")?;
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map_err(|_| "the token is malformed")?;
        m.update(payload.as_bytes());
        m.verify_slice(&sig).map_err(|_| "the token's signature does not match")?;
        let claims: Claims = b64()
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the token's claims are malformed")?;
        if claims.exp <= now_secs {
            return Err("the token has expired");
        }
        if claims.exp > now_secs + MAX_TOKEN_LIFETIME + CLOCK_LEEWAY {
            return Err("the token lives too long (at most 5 minutes)");
        }
        if !self.origins.contains(&claims.origin) {
            return Err("the token's origin is not one of embed_origins");
        }
        Ok(claims)
    }

    /// What identifies a (verified) token to remember it was used: the SHA-256 of its signed part.
    pub fn token_id(token: &str) -> String {
        session::token_hash(token.split_once('.').map_or(token, |(payload, _)| payload))
    }

    pub fn cookie(&self, token: &str, max_age_secs: u64) -> String {
        format!("{COOKIE}={token}; Max-Age={max_age_secs}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned")
    }
}

/// Why a person known in another organisation, or not at all, is not signed in.
const NO_ACCOUNT: &str = "there is no Liaison account for this person here; ask an admin to add one";

#[derive(Deserialize)]
pub struct StartQuery {
    token: Option<String>,
}

fn refused(frame_ancestors: &str, reason: &str) -> Response {
    refused_with(ErrorCode::Unauthenticated, frame_ancestors, reason)
}

fn refused_with(code: ErrorCode, frame_ancestors: &str, reason: &str) -> Response {
    let (status, code) = (crate::error::status(code), code.as_str());
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not signed in · Liaison</title></head>\
         <body><main data-result=\"{{&quot;code&quot;:&quot;{code}&quot;}}\"><h1>Not signed in</h1>\
         <p>Liaison could not sign you in from this console: {}.</p></main></body></html>",
        reason.replace('&', "&amp;").replace('<', "&lt;")
    );
    // Shown inside the console's iframe: framed by the same consoles as every page.
    let csp = format!("default-src 'none'; base-uri 'none'; form-action 'none'; {frame_ancestors}");
    (status, [(header::CACHE_CONTROL, "no-store".to_string()), (header::CONTENT_SECURITY_POLICY, csp)], Html(body))
        .into_response()
}

/// True unless the browser says the page is loaded as something other than an iframe (a browser
/// that sends no `Sec-Fetch-Dest` is let through).
pub fn framed(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-dest").is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"iframe"))
}

/// A token's claims, checked and normalised for [`Arrival`].
struct Checked {
    email: String,
    origin: String,
    token_id: String,
    expires_at: i64,
    name: Option<String>,
    role: Option<Role>,
    org: Option<String>,
}

impl Checked {
    fn as_arrival(&self) -> Arrival<'_> {
        Arrival {
            email: &self.email,
            origin: &self.origin,
            token_id: &self.token_id,
            expires_at: self.expires_at,
            name: self.name.as_deref(),
            role: self.role,
            org: self.org.as_deref(),
        }
    }
}

/// The person a verified token names, its optional claims checked strictly: a claim that is
/// present must be valid (the reason says which), even when it would not be used.
fn arrival(claims: &Claims, token: &str) -> Result<Checked, String> {
    let email = EmailAddress::parse(&claims.sub).map_err(|_| "the token's sub is not an email address".to_string())?;
    let name = match &claims.name {
        None => None,
        Some(n) => Some(DisplayName::parse(n, "a name").map_err(|m| format!("the token's name is not usable: {m}"))?),
    };
    let role = match claims.role.as_deref() {
        None => None,
        Some(r) => Some(Role::parse(r).ok_or("the token's role is neither admin nor member")?),
    };
    let org = match &claims.org {
        None => None,
        Some(o) => Some(
            DisplayName::parse(o, "an organisation name").map_err(|m| format!("the token's org is not usable: {m}"))?,
        ),
    };
    Ok(Checked {
        email: email.as_str().to_string(),
        origin: claims.origin.clone(),
        token_id: Embed::token_id(token),
        expires_at: claims.exp.saturating_mul(1000),
        name: name.map(|n| n.as_str().to_string()),
        role,
        org: org.map(|o| o.as_str().to_string()),
    })
}

/// `GET /embed/start?token=…`: signs the host's user in, then shows the Connections page.
pub async fn start(
    State(embed): State<Arc<Embed>>,
    State(sessions): State<Arc<Sessions>>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    if !framed(&headers) {
        tracing::warn!("embedded sign-in refused: not loaded in a frame");
        return refused_with(
            ErrorCode::Forbidden,
            &embed.frame_ancestors(),
            "the embedded sign-in works only inside the console's frame; open Liaison itself to sign in here",
        );
    }
    let token = q.token.as_deref().unwrap_or_default();
    let claims = match embed.verify(token, sessions.clock.now_ms() / 1000) {
        Ok(c) => c,
        Err(reason) => {
            tracing::warn!(reason, "embedded sign-in refused");
            return refused(&embed.frame_ancestors(), reason);
        }
    };
    let arrival = match arrival(&claims, token) {
        Ok(a) => a,
        Err(reason) => {
            tracing::warn!(reason = %reason, "embedded sign-in refused");
            return refused(&embed.frame_ancestors(), &reason);
        }
    };
    let removed;
    let reason = match sessions.start_embedded(arrival.as_arrival(), embed.provision).await {
        Ok(Embedded::Started { session_token }) => {
            return (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, embed.cookie(&session_token, sessions.cookies.max_age_secs)),
                    (header::LOCATION, app::api::HOME.to_string()),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
            )
                .into_response()
        }
        // The same words for a person of another organisation and an unknown one: the page must
        // not tell which emails Liaison knows. The log tells them apart.
        Ok(Embedded::UnknownPerson) => {
            tracing::warn!(origin = %arrival.origin, "embedded sign-in refused: unknown person");
            NO_ACCOUNT
        }
        Ok(Embedded::OtherOrganisation) => NO_ACCOUNT,
        Ok(Embedded::Replayed) => {
            "this sign-in token was used before; the console must make a new one for each sign-in"
        }
        Ok(Embedded::UnknownOrganisation) => "the organisation the token names does not exist in Liaison",
        Ok(Embedded::NoOrganisation) => {
            "the token names no organisation (org), which this Liaison needs to sign anyone in from a console"
        }
        Ok(Embedded::AdminNotAllowed) => {
            "this Liaison does not create admins from a console (embed_provision_admins is off); ask an admin to add this person"
        }
        Ok(Embedded::RemovedByAdmin { org }) => {
            removed = format!("an admin of {org} removed this person; ask them to add you back");
            removed.as_str()
        }
        Err(e) => {
            tracing::error!(error = %e, "embedded sign-in failed");
            "something went wrong; try again"
        }
    };
    refused(&embed.frame_ancestors(), reason)
}

#[cfg(test)]
mod tests;
