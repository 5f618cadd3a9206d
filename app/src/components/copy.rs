//! A button that copies a text to the clipboard and says so.

use leptos::prelude::*;

#[component]
pub fn CopyButton(
    /// What is copied.
    #[prop(into)]
    text: Signal<String>,
    /// The button's accessible label, e.g. "Copy token".
    label: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| write_clipboard(text.get_untracked(), copied);
    view! {
        <button type="button" class="button" aria-label=label on:click=copy>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
        <span class="visually-hidden" aria-live="polite">{move || if copied.get() { "Copied to the clipboard." } else { "" }}</span>
    }
}

/// Writes `value` to the clipboard, then sets `copied`. Never inlined: the promise's glue it calls
/// must sit in the main wasm module (wasm-split keeps every caller of wasm-bindgen's casts there),
/// and inlined into a page's view it would take the whole view there with it.
#[inline(never)]
fn write_clipboard(value: String, copied: RwSignal<bool>) {
    #[cfg(target_arch = "wasm32")]
    {
        let promise = window().navigator().clipboard().write_text(&value);
        leptos::task::spawn_local(async move {
            if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
                copied.set(true);
            }
        });
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (value, copied);
}
