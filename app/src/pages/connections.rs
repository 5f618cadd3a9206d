//! Settings › Developer Space › Connections: the organisation's connections, in two tabs.

use super::chrome::{signed_in, Chrome};
use crate::components::tabs::Tabs;
use crate::model::Viewer;
use leptos::prelude::*;

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    signed_in(|viewer| view! { <SignedIn viewer=viewer/> })
}

#[component]
fn SignedIn(viewer: Viewer) -> impl IntoView {
    let tab = RwSignal::new("mine");
    view! {
        <Chrome viewer=viewer current="connections">
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
        </Chrome>
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
