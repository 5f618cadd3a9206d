//! Liaison's user interface: the HTML shell, the router and the pages. Compiles to wasm (feature
//! `hydrate`) and to native code (feature `ssr`), where it also carries the `Backend` seam.

pub mod api;
pub mod authorise;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod components;
pub mod connection;
pub mod embed;
pub mod error;
pub mod model;
pub mod pages;
pub mod service;
pub mod time;
pub mod tokens;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content="Liaison keeps your organisation's connections to third-party services."/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page once the wasm has taken over: the browser tests wait for it. Gated on the
    // target, not the feature: `cargo test --workspace` unifies features, and an effect must never
    // run in the server.
    #[cfg(target_arch = "wasm32")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/liaison.css"/>
        <Title text="Liaison"/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path=api::HOME/> }/>
                <Route path=path!("/setup") view=pages::setup::SetupPage/>
                <Route path=path!("/login") view=pages::login::LoginPage/>
                <Route
                    path=path!("/settings/developer-space/connections")
                    view=pages::connections::ConnectionsPage
                />
                <Route path=path!("/settings/developer-space/connections/new") view=pages::new_connection::PickServicePage/>
                <Route
                    path=path!("/settings/developer-space/connections/new/:kind/:id")
                    view=pages::new_connection::NewConnectionPage
                />
                <Route path=path!("/settings/developer-space/connections/:link") view=pages::details::DetailsPage/>
                <Route path=path!("/settings/developer-space/services/new") view=pages::new_service::NewServicePage/>
                <Route path=path!("/settings/developer-space/api-tokens") view=pages::tokens::ApiTokensPage/>
            </Routes>
        </Router>
    }
}
