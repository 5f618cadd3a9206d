//! The two browser-facing OAuth routes: `/oauth/start/{link}` (opened in the popup) and
//! `/oauth/callback/{service key}` (where the provider sends the browser back), which answers
//! with a small page that tells the opener the result (postMessage to Liaison's own origin only)
//! and closes itself. Without an opener (the flow ran in the tab because the popup was blocked)
//! it goes back to the Connections page, which says the connection is connected.

use super::{code_name, CallbackQuery, Flows};
use app::backend::RequestIdentity;
use app::connection::FlowStatus;
use app::error::{AppError, ErrorCode};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use std::sync::Arc;

#[derive(Debug, serde::Deserialize)]
pub struct StartQuery {
    pub ticket: Option<String>,
    /// The start link's one-time nonce, issued by the Connect call to this browser session.
    pub n: Option<String>,
}

/// Liaison's public origin, `scheme://host[:port]`: the only window the popup's page talks to.
#[derive(Clone)]
pub struct PublicOrigin(pub Arc<str>);

/// A page load of the start URL: signed in, from Liaison's own pages (or typed in the address
/// bar), never from another site, with the one-time nonce the Connect call gave this session.
pub async fn start(
    State(flows): State<Arc<Flows>>,
    State(origin): State<PublicOrigin>,
    Extension(identity): Extension<RequestIdentity>,
    Path(link_name): Path<String>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("none");
    if !matches!(site, "same-origin" | "none") {
        return page(
            StatusCode::FORBIDDEN,
            &origin,
            &failed(
                &link_name,
                ErrorCode::FlowInvalid.as_str(),
                "An authorisation can only be started from Liaison's own pages.",
            ),
        );
    }
    let (Some(viewer), Some(session)) = (identity.viewer, identity.session) else {
        return Redirect::to("/login").into_response();
    };
    match flows.start_flow(&viewer, &session.0, &link_name, q.ticket.as_deref(), q.n.as_deref()).await {
        Ok(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url), (header::CACHE_CONTROL, "no-store".into())])
            .into_response(),
        Err(e) => {
            let e: AppError = e.into();
            page(crate::error::status(e.code), &origin, &failed(&link_name, code_name(e.code), &e.message))
        }
    }
}

fn failed(link: &str, code: &str, message: &str) -> FlowStatus {
    FlowStatus::Failed { link_name: link.into(), code: code.into(), message: message.into() }
}

pub async fn callback(
    State(flows): State<Arc<Flows>>,
    State(origin): State<PublicOrigin>,
    Extension(identity): Extension<RequestIdentity>,
    Path(key): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let session = identity.session.as_ref().map(|s| s.0.as_str());
    match flows.finish_flow(&key, &q, session).await {
        Ok(status @ FlowStatus::Connected { .. }) => page(StatusCode::OK, &origin, &status),
        Ok(status) => page(StatusCode::BAD_REQUEST, &origin, &status),
        Err(e) => {
            let e: AppError = e.into();
            let status = crate::error::status(e.code);
            page(status, &origin, &failed("", code_name(e.code), &e.message))
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The page in the popup. The message goes to the opener only if it is Liaison's own origin.
fn page(status: StatusCode, origin: &PublicOrigin, result: &FlowStatus) -> Response {
    let (title, text) = match result {
        FlowStatus::Connected { .. } => ("Connected", "Access was granted. This window closes by itself.".to_string()),
        FlowStatus::Failed { message, .. } => ("Not connected", message.clone()),
        FlowStatus::Pending => ("Waiting", "The authorisation is still in progress.".to_string()),
    };
    let message = serde_json::json!({ "type": "liaison:oauth", "result": result }).to_string();
    let nonce = crate::auth::session::new_token();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Liaison</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>{title}</h1><p id=\"result\" data-result=\"{data}\">{text}</p>\
         <p><a href=\"{home}\">Back to Connections</a></p></main>\
         <script nonce=\"{nonce}\">(function(){{var m={message};var o=window.opener;\
         if(o){{try{{o.postMessage(m,{origin});}}catch(e){{}}\
         if(m.result.state===\"connected\"){{window.close();}}}}\
         else if(m.result.state===\"connected\"){{location.replace({home_js}+\"?authorised=\"+encodeURIComponent(m.result.link_name));}}}})();</script></body></html>",
        data = escape(&serde_json::to_string(result).unwrap_or_default()),
        text = escape(&text),
        home = app::api::HOME,
        home_js = serde_json::Value::String(app::api::HOME.into()),
        nonce = nonce,
        message = message.replace('<', "\\u003c"),
        origin = serde_json::Value::String(origin.0.to_string()),
    );
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    (status, [(header::CACHE_CONTROL, "no-store".to_string()), (header::CONTENT_SECURITY_POLICY, csp)], Html(body))
        .into_response()
}
