//! One module per screen.

pub mod chrome;
pub mod connection_actions;
pub mod connections;
pub mod custom_services;
pub mod details;
pub mod login;
pub mod members;
pub mod new_connection;
pub mod new_service;
pub mod reconnect_links;
pub mod service_form;
pub mod setup;
pub mod tokens;
pub mod webhooks;

use crate::error::AppError;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
        opts.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="centered">
            <div class="card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <a class="button" href=crate::api::HOME>"Go to Connections"</a>
            </div>
        </main>
    }
}

/// A page whose code could not be fetched (the network is down, or the server was updated and no
/// longer has it). Try again loads the address anew, past the router, once the network is back.
#[component]
pub fn Unreachable(error: AppError) -> impl IntoView {
    let here = leptos_router::hooks::use_location();
    let href = move || format!("{}{}", here.pathname.get(), here.search.get());
    view! {
        <main class="centered">
            <div class="card">
                <h1>"This page could not be loaded"</h1>
                <p class="alert alert-error" role="alert">{error.message}</p>
                <a class="button button-primary" rel="external" href=href>"Try again"</a>
                " "
                <a class="button" href=crate::api::HOME>"Go to Connections"</a>
            </div>
        </main>
    }
}

/// What a lazy page shows when its code could not be fetched: [`Unreachable`] in its place. On a
/// first visit the page is being hydrated, over the server's rendering of the real page, which no
/// other view would match (a mismatch aborts the wasm): the server's page then stays as it came,
/// without its code, a banner above it says why and offers to load it again, and this page's
/// hydration never ends (nothing else of it can run without its code).
pub async fn unreachable_page(error: AppError) -> AnyView {
    if first_hydration() {
        // The page's links load pages anew (see the banner), so the router never leaves this
        // page: the banner needs no removing.
        #[cfg(target_arch = "wasm32")]
        unreachable_banner(&error.message);
        std::future::pending::<()>().await;
    }
    crate::mark_hydrated();
    view! { <Unreachable error=error/> }.into_any()
}

/// Whether the page is being hydrated: no page has been marked hydrated yet in this document
/// (see `mark_hydrated`).
pub fn first_hydration() -> bool {
    #[cfg(target_arch = "wasm32")]
    return document().body().is_some_and(|b| !b.has_attribute("data-hydrated"));
    #[cfg(not(target_arch = "wasm32"))]
    false
}

/// The banner of [`unreachable_page`] on a page being hydrated: the message, and Try again, which
/// loads the address anew; the page's links load theirs anew too. The page is marked as done
/// with, as far as it goes.
#[cfg(target_arch = "wasm32")]
fn unreachable_banner(message: &str) {
    let doc = document();
    if doc.query_selector(".page-unreachable").ok().flatten().is_some() {
        return;
    }
    let (Ok(banner), Ok(again), Some(body)) = (doc.create_element("div"), doc.create_element("a"), doc.body()) else {
        return;
    };
    let here = window().location().href().unwrap_or_default();
    let _ = banner.set_attribute("class", "alert alert-error page-unreachable");
    let _ = banner.set_attribute("role", "alert");
    banner.set_text_content(Some(&format!("This page could not be loaded. {message} ")));
    for (k, v) in [("class", "button"), ("rel", "external"), ("href", here.as_str())] {
        let _ = again.set_attribute(k, v);
    }
    again.set_text_content(Some("Try again"));
    let _ = banner.append_child(&again);
    // Inside the page's main landmark, at its top, where there is one.
    let within =
        doc.query_selector("main").ok().flatten().map(web_sys::Node::from).unwrap_or_else(|| body.clone().into());
    let _ = within.insert_before(&banner, within.first_child().as_ref());
    // The router cannot move to another page while this one waits: its links load pages anew.
    while let Ok(Some(link)) = doc.query_selector("a[href]:not([rel~=external])") {
        if link.set_attribute("rel", "external").is_err() {
            break;
        }
    }
    // As far as this page goes, its client side is done: the tests wait for this mark, and
    // `first_hydration` reads it.
    let _ = body.set_attribute("data-hydrated", "true");
}

/// The banner for an error that belongs to no single field.
#[component]
pub fn FormAlert(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <div class="alert alert-error" role="alert" hidden=move || error.get().is_none()>
            {move || error.get().map(|e| e.message)}
        </div>
    }
}

/// The message of a field from the last result of an action, if it failed on that field.
pub fn field_error(error: Signal<Option<AppError>>, field: &'static str) -> Signal<Option<String>> {
    Signal::derive(move || error.get().and_then(|e| e.field(field).map(str::to_string)))
}
