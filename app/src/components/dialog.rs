//! A confirmation dialog on the browser's own modal `<dialog>`: it traps focus, closes on Escape,
//! and gives focus back to what had it when it opened.

use leptos::prelude::*;

/// Asks before something that cannot be undone. Opens while `open` is true.
#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    /// The heading (also the dialog's accessible name).
    title: Signal<String>,
    /// What will happen.
    text: Signal<String>,
    /// The label of the confirming button, e.g. "Revoke" or "Yes, Delete".
    confirm: &'static str,
    /// Runs when the person confirms (the dialog closes first).
    on_confirm: Callback<()>,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move |_| {
        let want = open.get();
        #[cfg(target_arch = "wasm32")]
        if let Some(d) = dialog.get() {
            if want && !d.open() {
                let _ = d.show_modal();
            } else if !want && d.open() {
                d.close();
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (want, dialog);
    });
    let id = format!("dialog-{}", confirm.to_lowercase().replace(|c: char| !c.is_alphanumeric(), "-"));
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    view! {
        <dialog
            node_ref=dialog
            class="dialog"
            aria-labelledby=labelled_by
            on:close=move |_| open.set(false)
        >
            <h2 id=title_id>{move || title.get()}</h2>
            <p>{move || text.get()}</p>
            <div class="dialog-actions">
                <button type="button" class="button" autofocus on:click=move |_| open.set(false)>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="button button-danger"
                    on:click=move |_| {
                        open.set(false);
                        on_confirm.run(());
                    }
                >
                    {confirm}
                </button>
            </div>
        </dialog>
    }
}
