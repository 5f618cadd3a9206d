//! Liaison's user interface: the HTML shell, the router and the pages. Compiles to wasm (feature
//! `hydrate`) and to native code (feature `ssr`), where it also carries the `Backend` seam.

pub mod api;
pub mod authorise;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod calls;
pub mod components;
pub mod connection;
pub mod embed;
pub mod error;
mod lazy;
pub mod members;
pub mod model;
pub mod pages;
pub mod reconnect;
pub mod service;
pub mod time;
pub mod tokens;
pub mod webhooks;

use leptos::prelude::*;
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, Lazy, LazyRoute,
};

/// The `frame-ancestors` directive the server configured (its embedding consoles), provided as
/// context so every page's Content-Security-Policy carries it.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone)]
pub struct FrameAncestors(pub String);

/// Whether the server has a theme for embedded pages (`embed_theme`): they then link
/// [`THEME_CSS`].
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Copy)]
pub struct EmbedTheme(pub bool);

/// Where the embedded pages' theme is served.
pub const THEME_CSS: &str = "/theme.css";

/// The page's Content-Security-Policy: scripts only from Liaison itself or inline with this
/// response's nonce (the hydration scripts carry it), WebAssembly allowed, nothing else inline.
#[cfg(feature = "ssr")]
pub fn content_security_policy(nonce: &str, frame_ancestors: &str, dev: bool) -> String {
    // The development server reloads the page over a websocket on another port.
    let connect = if dev { "'self' ws://127.0.0.1:* ws://localhost:*" } else { "'self'" };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         {frame_ancestors}"
    )
}

#[cfg(feature = "ssr")]
fn set_content_security_policy(options: &LeptosOptions) {
    let Some(nonce) = leptos::nonce::use_nonce() else { return };
    let frame_ancestors =
        use_context::<FrameAncestors>().map(|f| f.0).unwrap_or_else(|| "frame-ancestors 'self'".to_string());
    let csp = content_security_policy(&nonce.to_string(), &frame_ancestors, options.env == leptos::config::Env::DEV);
    if let (Some(res), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&csp)) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The tab's icon: two links of a chain on the accent colour, as a data: URL.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E\
%3Crect width='32' height='32' rx='7' fill='%231f5fd1'/%3E\
%3Cpath d='M13 19l6-6M12 15l-2 2a4 4 0 0 0 6 6l2-2M20 17l2-2a4 4 0 0 0-6-6l-2 2' fill='none' stroke='%23fff' \
stroke-width='2.5' stroke-linecap='round'/%3E%3C/svg%3E";

/// Marks each fetch of a wasm chunk as handled where it starts. The chunk loader that
/// `cargo leptos --split` writes starts a page's own fetch beside its dependencies' and, when a
/// dependency fails first, never awaits it: with the network down its rejection would be an
/// uncaught error in the console. The loader still sees every failure (it awaits what it uses),
/// and the page tells it in words (`fallible_lazy!`).
const CHUNK_FETCH_GUARD: &str = "(()=>{const f=window.fetch;window.fetch=function(){const p=f.apply(window,arguments);\
const u=arguments[0];if(/\\/pkg\\/[^?#]*\\.wasm(?:[?#]|$)/.test(String(u instanceof Request?u.url:u)))p.catch(()=>{});return p}})()";

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy(&options);
    // The signed-in person, for the browser to read before it hydrates (no secret: what every
    // page shows of them anyway).
    #[cfg(feature = "ssr")]
    let viewer = serde_json::to_string(&pages::chrome::PageViewer::current().0).unwrap_or_else(|_| "null".into());
    #[cfg(not(feature = "ssr"))]
    let viewer = "null".to_string();
    // An embedded page links the configured theme, after Liaison's own stylesheet so it wins.
    #[cfg(feature = "ssr")]
    let themed = use_context::<EmbedTheme>().is_some_and(|t| t.0)
        && pages::chrome::PageViewer::current().0.is_some_and(|v| v.embed_origin.is_some());
    #[cfg(not(feature = "ssr"))]
    let themed = false;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name=pages::chrome::VIEWER_META content=viewer/>
                <meta name="description" content="Liaison keeps your organisation's connections to third-party services."/>
                <AutoReload options=options.clone()/>
                <script nonce=leptos::nonce::use_nonce() inner_html=CHUNK_FETCH_GUARD></script>
                <HydrationScripts options/>
                // The title and the stylesheet are the same on every page: written here, in the
                // server's part of the document, they need no code in the wasm.
                <title>"Liaison"</title>
                <link rel="stylesheet" id="leptos" href="/pkg/liaison.css"/>
                {themed.then(|| view! { <link rel="stylesheet" href=THEME_CSS/> })}
                // The icon inline (the CSP's img-src allows data:): no request, so no 404 for
                // /favicon.ico in any page's console.
                <link rel="icon" type="image/svg+xml" href=FAVICON/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_context(pages::chrome::PageViewer::current());
    // A server function that redirects (sign-in, setup) has changed who is signed in: the page
    // loads anew rather than routing in place, so nothing of the last session stays in it. Set
    // before the router's own hook, which it then leaves alone.
    #[cfg(target_arch = "wasm32")]
    let _ = leptos::server_fn::redirect::set_redirect_hook(|to: &str| {
        let _ = window().location().assign(to);
    });
    view! {
        <Router>
            <Routes fallback=|| {
                mark_hydrated();
                pages::NotFound()
            }>
                <Route path=path!("/") view=|| view! { <Redirect path=api::HOME/> }/>
                <Route path=path!("/setup") view={Lazy::<SetupRoute>::new()}/>
                <Route path=path!("/login") view=|| {
                    mark_hydrated();
                    pages::login::LoginPage()
                }/>
                <Route path=path!("/settings/developer-space/connections") view=|| {
                    mark_hydrated();
                    pages::connections::ConnectionsPage()
                }/>
                <Route path=path!("/settings/developer-space/connections/new") view={Lazy::<PickServiceRoute>::new()}/>
                <Route
                    path=path!("/settings/developer-space/connections/new/:kind/:id")
                    view={Lazy::<NewConnectionRoute>::new()}
                />
                <Route path=path!("/settings/developer-space/connections/:link") view={Lazy::<DetailsRoute>::new()}/>
                <Route path=path!("/settings/developer-space/services/new") view={Lazy::<NewServiceRoute>::new()}/>
                <Route path=path!("/settings/developer-space/api-tokens") view={Lazy::<ApiTokensRoute>::new()}/>
                <Route path=path!("/settings/developer-space/members") view={Lazy::<MembersRoute>::new()}/>
                <Route path=path!("/settings/developer-space/webhooks") view={Lazy::<WebhooksRoute>::new()}/>
            </Routes>
        </Router>
    }
}

/// Marks the page once the wasm has taken over the route's view: the browser tests wait for it,
/// and `pages::first_hydration` reads it (no mark yet: the first page is being hydrated), so every
/// route's view must call it, as a lazy route's view hydrates only once its chunk is loaded.
/// Gated on the target, not the feature: `cargo test --workspace` unifies features, and an effect
/// must never run in the server.
pub(crate) fn mark_hydrated() {
    #[cfg(target_arch = "wasm32")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// A page as a lazy route: `cargo leptos build --split` puts its code in wasm chunks of its own,
/// fetched only where it is shown (before hydration on a first visit). The Connections list and
/// the sign-in page, where people land, stay in the main module. The page's code is a
/// `fallible_lazy!` function, not leptos's `#[lazy_route]`: a chunk that cannot be fetched (the
/// network is down, the server was updated meanwhile) shows [`pages::Unreachable`] where
/// `#[lazy_route]` would abort the whole wasm module, and the next visit fetches it again.
macro_rules! lazy_page {
    ($route:ident, $split:ident, $page:path) => {
        pub struct $route;

        mod $split {
            use super::*;

            crate::lazy::fallible_lazy! {
                $split,
                pub fn page_view() -> Result<AnyView, error::AppError> {
                    mark_hydrated();
                    Ok($page().into_any())
                }
            }
        }

        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn view(_this: Self) -> AnyView {
                match $split::page_view().await {
                    Ok(page) => page,
                    Err(e) => pages::unreachable_page(e).await,
                }
            }

            /// The router fetches the page's code while it loads the page's data; a chunk that
            /// cannot be fetched is told by `view`, which tries again. While the page is being
            /// hydrated, the router would go on without the page (and find its placeholder
            /// missing): it is told here, and the router waits (see `pages::unreachable_page`).
            async fn preload() {
                #[cfg(target_arch = "wasm32")]
                if let Err(e) = $split::__wasm_split_preload_page_view().await {
                    if pages::first_hydration() {
                        let _ = pages::unreachable_page(e.into()).await;
                    }
                }
            }
        }
    };
}

lazy_page!(SetupRoute, setup_page, pages::setup::SetupPage);
lazy_page!(PickServiceRoute, pick_service_page, pages::new_connection::PickServicePage);
lazy_page!(NewConnectionRoute, new_connection_page, pages::new_connection::NewConnectionPage);
lazy_page!(DetailsRoute, details_page, pages::details::DetailsPage);
lazy_page!(NewServiceRoute, new_service_page, pages::new_service::NewServicePage);
lazy_page!(ApiTokensRoute, api_tokens_page, pages::tokens::ApiTokensPage);
lazy_page!(MembersRoute, members_page, pages::members::MembersPage);
lazy_page!(WebhooksRoute, webhooks_page, pages::webhooks::WebhooksPage);

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::content_security_policy;

    #[test]
    fn the_policy_allows_only_nonced_inline_scripts_and_the_configured_framers() {
        let csp = content_security_policy("abc123", "frame-ancestors 'self' https://console.example.com", false);
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.ends_with("frame-ancestors 'self' https://console.example.com"), "{csp}");
        assert!(csp.contains("connect-src 'self';"), "{csp}");
        assert!(content_security_policy("n", "frame-ancestors 'self'", true).contains("ws://127.0.0.1:*"));
    }
}
