//! Settings › Developer Space › Connections: the organisation's connections, in two tabs.

use crate::api::{me, SignOut};
use crate::components::tabs::Tabs;
use crate::model::{Role, Viewer};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| me());
    view! {
        <Suspense fallback=|| view! { <main class="centered"><p>"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(v)) => view! { <SignedIn viewer=v/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! {
                        <main class="centered"><div class="alert alert-error" role="alert">{e.message}</div></main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignedIn(viewer: Viewer) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let tab = RwSignal::new("mine");
    let role = match viewer.role {
        Role::Admin => "Admin",
        Role::Member => "Member",
    };
    view! {
        <header class="topbar">
            <span class="brand">"Liaison"</span>
            <span class="org">{viewer.org_name.clone()}</span>
            <span class="spacer"></span>
            <span class="who">{viewer.name.clone()}" · "{role}</span>
            <ActionForm action=sign_out>
                <button type="submit" class="button button-quiet">"Sign out"</button>
            </ActionForm>
        </header>
        <main class="page">
            <nav aria-label="Breadcrumb" class="breadcrumb">
                <ol>
                    <li>"Settings"</li>
                    <li>"Developer Space"</li>
                    <li aria-current="page">"Connections"</li>
                </ol>
            </nav>
            <div class="page-head">
                <h1>"Connections"</h1>
                <button
                    type="button"
                    class="button button-primary"
                    disabled
                    title="Services can be picked once the service catalogue is installed."
                >
                    "+ New Connection"
                </button>
            </div>
            <Tabs
                label="Connection lists"
                selected=tab
                tabs=vec![("mine", "My Connections"), ("internal", "Internal Connections")]
            />
            <EmptyPanel
                id="mine"
                selected=tab
                title="No connections yet"
                text="Connections that you and your colleagues create appear here. Scripts call a third-party API \
                      through a connection by naming its link name."
            />
            <EmptyPanel
                id="internal"
                selected=tab
                title="No internal connections"
                text="Built-in integrations create internal connections through the admin API. They are listed here \
                      and cannot be edited or deleted."
            />
        </main>
    }
}

/// A tab panel showing an empty state.
#[component]
fn EmptyPanel(
    id: &'static str,
    selected: RwSignal<&'static str>,
    title: &'static str,
    text: &'static str,
) -> impl IntoView {
    view! {
        <section
            id=format!("panel-{id}")
            role="tabpanel"
            aria-labelledby=format!("tab-{id}")
            hidden=move || selected.get() != id
            class="panel"
        >
            <div class="empty">
                <h2>{title}</h2>
                <p>{text}</p>
            </div>
        </section>
    }
}
