//! Reconnect links: an admin gives one member of the organisation a single-use link, valid for a
//! chosen time, that re-authorises one connection (or adds the member's own grant to a login-user
//! connection). Admins make, list and revoke them on a connection's details page (`*_as`, the
//! server functions) or through the admin API (`crate::admin::reconnect`). The token is shown
//! once, in the answer to the creation; only its SHA-256 is kept; links are removed 30 days after
//! they expire (`purge`, from the session sweeper).
//!
//! The member's journey: [`page`] (`GET /reconnect/{token}`); signed out, to `/login?next=…`,
//! whose sign-in leads back here (`app::api::sign_in`, which goes on only where
//! `app::reconnect::after_sign_in` allows); signed in as that member, a page (opening or reloading
//! it uses nothing) whose button goes to [`proceed`] (`…/continue`), where [`open`] uses the link
//! (once: of two concurrent uses one wins) and issues an ordinary start link of the popup flow
//! (`crate::flows::start`) in the same transaction; the tab follows it to the provider, and the
//! callback ends on the Connections page. Every refusal (unknown, expired, revoked, used,
//! someone else's, another organisation's) reads the same. Creation, use and revocation are
//! audited; the token never is.

use crate::actor::require_admin;
use crate::error::Result;
use crate::flows::request::FlowRequest;
use crate::flows::Flows;
use crate::infra::Infra;
use crate::store::audit::By;
use crate::store::connections as conns;
use crate::store::connections::ConnectionRecord;
use crate::store::reconnect_links::{self as links, Link, NewLink};
use app::error::{AppError, ErrorCode};
use app::model::Viewer;
use app::reconnect::{
    is_token, LinkState, NewReconnectLink, ReconnectLinkView, DEFAULT_MINUTES, MAX_MINUTES, MIN_MINUTES,
};
use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// What every link that cannot be used answers, whatever the reason.
pub const REFUSED: &str = "This reconnect link cannot be used: it may have expired, been used or revoked, or be meant \
                           for someone else. Ask an admin of your organisation for a new one.";

/// How long a link is kept after it expired (the audit log keeps what happened to it).
const KEEP_MS: i64 = 30 * 24 * 3600 * 1000;

/// What the people who manage links may do with them.
const WHAT: &str = "make, see or revoke reconnect links";

fn refused() -> crate::error::Error {
    AppError::new(ErrorCode::FlowInvalid, REFUSED).into()
}

fn view(l: Link, now: i64) -> ReconnectLinkView {
    ReconnectLinkView {
        state: LinkState::of(l.used_at, l.revoked_at, l.expires_at, now),
        id: l.id,
        link_name: l.link_name,
        user_id: l.user_id,
        person: l.email,
        created_by: l.created_by_name,
        created_at: l.created_at,
        expires_at: l.expires_at,
        used_at: l.used_at,
        revoked_at: l.revoked_at,
    }
}

/// The connection of that link name in the organisation, if links may be made for it (any but an
/// integration's internal connection).
async fn linkable(infra: &Infra, org_id: i64, link_name: &str) -> Result<ConnectionRecord> {
    match conns::by_link(&infra.store.pool, org_id, link_name).await? {
        Some(c) if !c.internal => Ok(c),
        _ => Err(AppError::new(ErrorCode::NotFound, "There is no connection with that link name.").into()),
    }
}

/// Creates a link for the person `user_id` of the organisation to re-authorise the connection
/// `link_name`, valid `minutes` (default a day, 10 minutes to 7 days).
pub async fn create(
    infra: &Infra,
    org_id: i64,
    link_name: &str,
    user_id: i64,
    minutes: Option<i64>,
    by: &str,
) -> Result<NewReconnectLink> {
    let minutes = minutes.unwrap_or(DEFAULT_MINUTES);
    if !(MIN_MINUTES..=MAX_MINUTES).contains(&minutes) {
        return Err(AppError::new(
            ErrorCode::Validation,
            format!("A reconnect link is valid from {MIN_MINUTES} minutes to {MAX_MINUTES} minutes (7 days)."),
        )
        .into());
    }
    let now = infra.clock.now_ms();
    let db = &infra.store.pool;
    let c = linkable(infra, org_id, link_name).await?;
    let Some(person) = crate::store::members::person(db, org_id, user_id, now).await? else {
        return Err(AppError::new(ErrorCode::NotFound, "There is no person with that id in this organisation.").into());
    };
    let token = crate::auth::session::new_token();
    let mut tx = infra.store.begin().await?;
    let id = links::create(
        &mut *tx,
        &NewLink {
            org_id,
            connection_id: c.id,
            user_id,
            token_hash: &crate::auth::session::token_hash(&token),
            created_by_name: by,
            created_at: now,
            expires_at: now + minutes * 60_000,
        },
    )
    .await?;
    let detail = format!("for {}, valid {minutes} minutes", person.email);
    By::new(Some(org_id), by, now).record(&mut *tx, "reconnect link created", &c.link_name, Some(&detail)).await?;
    let link = links::by_id(&mut *tx, org_id, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    tx.commit().await?;
    tracing::info!(org_id, link_id = id, "reconnect link created");
    Ok(NewReconnectLink { link: view(link, now), url: format!("{}reconnect/{token}", infra.public_url) })
}

/// The organisation's links (of one connection, when given), newest first, without their tokens.
pub async fn list(infra: &Infra, org_id: i64, link_name: Option<&str>) -> Result<Vec<ReconnectLinkView>> {
    let db = &infra.store.pool;
    let connection_id = match link_name {
        None => None,
        Some(l) => Some(linkable(infra, org_id, l).await?.id),
    };
    let now = infra.clock.now_ms();
    Ok(links::list(db, org_id, connection_id).await?.into_iter().map(|l| view(l, now)).collect())
}

/// Revokes a link of the organisation that is still usable (not used, revoked or expired).
pub async fn revoke(infra: &Infra, org_id: i64, id: i64, by: &str) -> Result<()> {
    let now = infra.clock.now_ms();
    let mut tx = infra.store.begin().await?;
    if !links::revoke(&mut *tx, org_id, id, now).await? {
        return Err(AppError::new(ErrorCode::NotFound, "There is no usable reconnect link with that id.").into());
    }
    By::new(Some(org_id), by, now).record(&mut *tx, "reconnect link revoked", &format!("link {id}"), None).await?;
    tx.commit().await?;
    Ok(())
}

/// [`list`] of one connection, for an admin of the organisation (the details page).
pub async fn list_as(infra: &Infra, viewer: &Viewer, link_name: &str) -> Result<Vec<ReconnectLinkView>> {
    require_admin(viewer, WHAT)?;
    list(infra, viewer.org_id, Some(link_name)).await
}

/// [`create`], by an admin of the organisation.
pub async fn create_as(
    infra: &Infra,
    viewer: &Viewer,
    link_name: &str,
    user_id: i64,
    minutes: i64,
) -> Result<NewReconnectLink> {
    require_admin(viewer, WHAT)?;
    create(infra, viewer.org_id, link_name, user_id, Some(minutes), &viewer.email).await
}

/// [`revoke`], by an admin of the organisation.
pub async fn revoke_as(infra: &Infra, viewer: &Viewer, id: i64) -> Result<()> {
    require_admin(viewer, WHAT)?;
    revoke(infra, viewer.org_id, id, &viewer.email).await
}

/// Removes links that expired more than 30 days before `now`.
pub async fn purge(store: &crate::store::Store, now: i64) -> Result<u64> {
    links::purge(&store.pool, now - KEEP_MS).await
}

/// The link of `token` and its connection, if `viewer` may use it now (nothing is changed).
async fn usable(infra: &Infra, viewer: &Viewer, token: &str) -> Result<(Link, ConnectionRecord)> {
    if !is_token(token) {
        return Err(refused());
    }
    let db = &infra.store.pool;
    let hash = crate::auth::session::token_hash(token);
    let Some(link) = links::by_token(db, viewer.org_id, &hash).await? else {
        tracing::warn!("reconnect link refused: unknown in this organisation");
        return Err(refused());
    };
    if link.user_id != viewer.user_id {
        tracing::warn!(link_id = link.id, "reconnect link refused: meant for someone else");
        return Err(refused());
    }
    if LinkState::of(link.used_at, link.revoked_at, link.expires_at, infra.clock.now_ms()) != LinkState::Usable {
        tracing::warn!(link_id = link.id, "reconnect link refused: used, revoked or expired");
        return Err(refused());
    }
    let Some(c) = conns::by_id(db, viewer.org_id, link.connection_id).await? else { return Err(refused()) };
    Ok((link, c))
}

/// Uses the link of `token` for `viewer` in the browser session `session_hash`: the start URL of
/// the connection's popup flow, with a nonce for this session.
pub async fn open(flows: &Flows, viewer: &Viewer, session_hash: &str, token: &str) -> Result<String> {
    let infra = &flows.infra;
    let (link, c) = usable(infra, viewer, token).await?;
    let now = infra.clock.now_ms();
    let mut tx = infra.store.begin().await?;
    if !links::take(&mut *tx, link.id, now).await? {
        tracing::warn!(link_id = link.id, "reconnect link refused: used, revoked or expired");
        return Err(refused());
    }
    By::new(Some(viewer.org_id), &viewer.email, now)
        .record(&mut *tx, "reconnect link used", &c.link_name, None)
        .await?;
    // In the same transaction: a link is never used up without its start link.
    let url = flows.issue_start_in(&mut tx, viewer.user_id, session_hash, &c, true).await?;
    tx.commit().await?;
    Ok(url)
}

/// Signed out: to sign-in, which leads back to the link (a token of any other shape is refused
/// anyway, so it goes to plain sign-in).
fn to_sign_in(token: &str) -> Response {
    let to = if is_token(token) { format!("/login?next=/reconnect/{token}") } else { "/login".to_string() };
    Redirect::to(&to).into_response()
}

/// `GET /reconnect/{token}`, from an email or a chat (another site, so no redirect straight into
/// the flow: `/oauth/start` only starts from Liaison's own pages). Signed in as the link's person:
/// a page whose button leads on to [`proceed`]; opening (or reloading) the page uses nothing.
pub async fn page(req: FlowRequest, Path(token): Path<String>) -> Response {
    let Some(viewer) = req.identity.viewer else { return to_sign_in(&token) };
    match usable(&req.flows.infra, &viewer, &token).await {
        Ok((_, c)) => html(
            StatusCode::OK,
            "Reconnect",
            &format!(
                "<p>Authorise <strong>{}</strong> again: the provider asks you to sign in and consent.</p>\
                 <p><a href=\"/reconnect/{}/continue\">Continue to the provider</a></p>",
                escape(&c.name),
                escape(&token)
            ),
        ),
        Err(e) => refusal(e),
    }
}

/// `GET /reconnect/{token}/continue`, the page's button: uses the link and sends this tab to the
/// start link of the flow; the flow ends on the Connections page. Only from Liaison's own page:
/// from anywhere else, back to that page, with nothing used.
pub async fn proceed(req: FlowRequest, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let (Some(viewer), Some(session)) = (req.identity.viewer, req.identity.session) else {
        return to_sign_in(&token);
    };
    let site = crate::auth::csrf::fetch_site(&headers).unwrap_or("none");
    if site != "same-origin" {
        return if is_token(&token) {
            Redirect::to(&format!("/reconnect/{token}")).into_response()
        } else {
            refusal(refused())
        };
    }
    match open(&req.flows, &viewer, &session.0, &token).await {
        Ok(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url), (header::CACHE_CONTROL, "no-store".into())])
            .into_response(),
        Err(e) => refusal(e),
    }
}

/// A refusal, in the page's words, with its code for the tests and the browser.
fn refusal(e: crate::error::Error) -> Response {
    let e: AppError = e.into();
    let data = serde_json::json!({ "code": e.code.as_str(), "message": e.message }).to_string();
    let body = format!(
        "<p id=\"result\" data-result=\"{}\">{}</p><p><a href=\"{}\">Back to Connections</a></p>",
        escape(&data),
        escape(&e.message),
        app::api::HOME
    );
    html(crate::error::status(e.code), "Not reconnected", &body)
}

/// A page of these routes: no script, no form, framed by nobody, never cached, no referrer.
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Liaison</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>"
    );
    let csp = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
