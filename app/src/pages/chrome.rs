//! What every signed-in page has: the top bar (organisation, person, sign out), the breadcrumb and
//! the Developer Space navigation; and who is signed in, as the page was served.

use crate::api::SignOut;
use crate::model::{Role, Viewer};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Redirect;

/// The pages of Developer Space: (id, label, path).
const SECTIONS: &[(&str, &str, &str)] = &[
    ("connections", "Connections", "/settings/developer-space/connections"),
    ("api-tokens", "API tokens", "/settings/developer-space/api-tokens"),
    ("members", "Members", "/settings/developer-space/members"),
    ("webhooks", "Webhooks", "/settings/developer-space/webhooks"),
];

/// Who is signed in, as the page was served. The server takes it from the request; it writes it
/// into the page's head (`<meta name="liaison-viewer">`, see [`crate::shell`]), where the browser
/// reads it back. Sign-in, sign-out and setup load the page anew (see [`crate::App`]), so the
/// value never outlives the session it describes.
#[derive(Debug, Clone)]
pub struct PageViewer(pub Option<Viewer>);

/// The `name` of the head's `<meta>` that carries the [`PageViewer`].
pub const VIEWER_META: &str = "liaison-viewer";

impl PageViewer {
    /// The signed-in person of this request (server) or of this page (browser).
    pub fn current() -> PageViewer {
        #[cfg(feature = "ssr")]
        return PageViewer(crate::api::request_viewer());
        #[cfg(all(not(feature = "ssr"), target_arch = "wasm32"))]
        return PageViewer(Self::from_page());
        #[cfg(all(not(feature = "ssr"), not(target_arch = "wasm32")))]
        PageViewer(None)
    }

    /// What the server wrote into the page ("null" when nobody is signed in). Decoded from bytes,
    /// as server functions' answers are: `from_str` would add a second JSON reader to the wasm
    /// (about 15 KB before compression) for this one value.
    #[cfg(target_arch = "wasm32")]
    fn from_page() -> Option<Viewer> {
        let meta = document().query_selector(&format!("meta[name={VIEWER_META}]")).ok().flatten()?;
        serde_json::from_slice(meta.get_attribute("content")?.as_bytes()).ok().flatten()
    }
}

/// Renders `page` for the signed-in person; sends everyone else to sign in.
pub fn signed_in<V: IntoView + 'static>(page: impl FnOnce(Viewer) -> V) -> impl IntoView {
    match use_context::<PageViewer>().and_then(|v| v.0) {
        Some(v) => Either::Left(page(v)),
        None => Either::Right(view! { <Redirect path="/login"/> }),
    }
}

/// The frame of a Developer Space page.
#[component]
pub fn Chrome<C: IntoView + 'static>(
    viewer: Viewer,
    current: &'static str,
    children: TypedChildren<C>,
) -> impl IntoView {
    let children = children.into_inner();
    let admin = viewer.role == Role::Admin;
    let role = match viewer.role {
        Role::Admin => "Admin",
        Role::Member => "Member",
    };
    let label = SECTIONS.iter().find(|(id, _, _)| *id == current).map(|(_, l, _)| *l).unwrap_or_default();
    crate::embed::set_host(viewer.embed_origin.clone());
    if viewer.embed_origin.is_some() {
        // Inside a host console: its chrome, not ours.
        return Either::Left(view! { <main class="page page-embedded">{children()}</main> });
    }
    Either::Right(view! {
        <header class="topbar">
            <span class="brand">"Liaison"</span>
            <span class="org">{viewer.org_name.clone()}</span>
            <span class="spacer"></span>
            <span class="who">{viewer.name.clone()}" · "{role}</span>
            // A plain POST and a full page load: the server clears the session and sends the browser
            // to sign in, with nothing of the signed-in page left behind in this tab.
            <form method="post" action=SignOut::PATH>
                <button type="submit" class="button button-quiet">"Sign out"</button>
            </form>
        </header>
        <main class="page">
            <nav aria-label="Breadcrumb" class="breadcrumb">
                <ol>
                    <li>"Settings"</li>
                    <li>"Developer Space"</li>
                    <li aria-current="page">{label}</li>
                </ol>
            </nav>
            <nav aria-label="Developer Space" class="subnav">
                {SECTIONS
                    .iter()
                    // Members and Webhooks are for admins.
                    .filter(move |(id, _, _)| !matches!(*id, "members" | "webhooks") || admin)
                    .map(|(id, text, href)| {
                        let here = *id == current;
                        view! {
                            <a href=*href class="subnav-link" aria-current=here.then_some("page")>
                                {*text}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
            {children()}
        </main>
    })
}
