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
pub mod service_form;
pub mod setup;
pub mod tokens;

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

/// What a lazy page shows when its code could not be fetched. Routed to, [`Unreachable`] in its
/// place. On a first visit the page is being hydrated, over the server's rendering of the real
/// page, which another view would not match (a mismatch aborts the wasm): the server's page stays,
/// without its code, and a banner is put above it by hand.
pub fn unreachable_view(error: AppError) -> AnyView {
    let hydrating = Owner::current_shared_context().is_some_and(|c| c.during_hydration());
    if !hydrating {
        return view! { <Unreachable error=error/> }.into_any();
    }
    #[cfg(target_arch = "wasm32")]
    {
        unreachable_banner(&error.message);
        // Gone with the page: the router's next page is not this one.
        on_cleanup(|| {
            if let Ok(Some(banner)) = document().query_selector(".page-unreachable") {
                banner.remove();
            }
        });
    }
    ().into_any()
}

/// The banner of [`unreachable_view`] on a page being hydrated: the message, and Try again,
/// which loads the address anew (past the router).
#[cfg(target_arch = "wasm32")]
fn unreachable_banner(message: &str) {
    let doc = document();
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
    let _ = body.insert_before(&banner, body.first_child().as_ref());
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
