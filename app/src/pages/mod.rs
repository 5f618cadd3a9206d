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
