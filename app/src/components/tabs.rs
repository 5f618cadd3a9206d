//! An accessible tab list (WAI-ARIA tabs pattern): arrow keys move between tabs, the selected tab
//! is the only one in the tab order, and switching happens in the browser without a page load.

use leptos::prelude::*;

/// A row of tabs bound to `selected`. Each tab is `(id, label)`; panels are rendered by the caller
/// with `id = "panel-{id}"` and `aria-labelledby = "tab-{id}"`.
#[component]
pub fn Tabs(
    tabs: Vec<(&'static str, &'static str)>,
    selected: RwSignal<&'static str>,
    /// The accessible name of the tab list.
    label: &'static str,
) -> impl IntoView {
    let ids: Vec<&'static str> = tabs.iter().map(|(id, _)| *id).collect();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let Some(pos) = ids.iter().position(|id| *id == selected.get_untracked()) else {
            return;
        };
        let next = match ev.key().as_str() {
            "ArrowRight" => (pos + 1) % ids.len(),
            "ArrowLeft" => (pos + ids.len() - 1) % ids.len(),
            "Home" => 0,
            "End" => ids.len() - 1,
            _ => return,
        };
        ev.prevent_default();
        selected.set(ids[next]);
        focus_tab(ids[next]);
    };
    view! {
        <div class="tabs" role="tablist" aria-label=label on:keydown=on_key>
            {tabs
                .into_iter()
                .map(|(id, text)| {
                    let is_selected = move || selected.get() == id;
                    view! {
                        <button
                            type="button"
                            role="tab"
                            class="tab"
                            id=format!("tab-{id}")
                            aria-controls=format!("panel-{id}")
                            aria-selected=move || is_selected().to_string()
                            tabindex=move || if is_selected() { "0" } else { "-1" }
                            on:click=move |_| selected.set(id)
                        >
                            {text}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

#[cfg(target_arch = "wasm32")]
fn focus_tab(id: &str) {
    if let Some(el) = document().get_element_by_id(&format!("tab-{id}")) {
        use leptos::wasm_bindgen::JsCast;
        if let Ok(el) = el.dyn_into::<leptos::web_sys::HtmlElement>() {
            let _ = el.focus();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn focus_tab(_id: &str) {}
