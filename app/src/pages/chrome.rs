//! What every signed-in page has: the top bar (organisation, person, sign out), the breadcrumb and
//! the Developer Space navigation; and the wait for who is signed in.

use crate::api::{me, SignOut};
use crate::model::{Role, Viewer};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Redirect;

/// The pages of Developer Space: (id, label, path).
const SECTIONS: &[(&str, &str, &str)] = &[
    ("connections", "Connections", "/settings/developer-space/connections"),
    ("api-tokens", "API tokens", "/settings/developer-space/api-tokens"),
];

/// Renders `page` for the signed-in person; sends everyone else to sign in.
pub fn signed_in<F, V>(page: F) -> impl IntoView
where
    F: Fn(Viewer) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let viewer = crate::api::resource(|| (), |_| me());
    view! {
        <Suspense fallback=|| view! { <main class="centered"><p>"Loading…"</p></main> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) => EitherOf3::A(page(v)),
                        Ok(None) => EitherOf3::B(view! { <Redirect path="/login"/> }),
                        Err(e) => EitherOf3::C(view! {
                            <main class="centered"><div class="alert alert-error" role="alert">{e.message}</div></main>
                        }),
                    }
                })
            }}
        </Suspense>
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
