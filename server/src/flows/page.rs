//! The popup's page: what the start and callback routes answer with when they do not redirect. It
//! tells the opener the result (postMessage to Liaison's own origin only) and closes itself;
//! without an opener (the flow ran in the tab because the popup was blocked) it goes back to the
//! Connections page, which says the connection is connected.

use app::connection::FlowStatus;
use app::error::AppError;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

/// Liaison's public origin, `scheme://host[:port]`: the only window the popup's page talks to.
#[derive(Clone)]
pub struct PublicOrigin(pub Arc<str>);

pub fn failed(link: &str, code: &str, message: &str) -> FlowStatus {
    FlowStatus::Failed { link_name: link.into(), code: code.into(), message: message.into() }
}

/// The page for a flow that ended in `e`, with the HTTP status and the stable name of its code.
pub fn error_page(origin: &PublicOrigin, link: &str, e: crate::error::Error) -> Response {
    let e: AppError = e.into();
    page(crate::error::status(e.code), origin, &failed(link, super::code_name(e.code), &e.message))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The page in the popup. The message goes to the opener only if it is Liaison's own origin.
pub fn page(status: StatusCode, origin: &PublicOrigin, result: &FlowStatus) -> Response {
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
