//! Dialogs on the browser's own modal `<dialog>`: they trap focus, close on Escape, and give
//! focus back to what had it when they opened. Opening one focuses its first focusable element.

use leptos::prelude::*;

/// A modal dialog, open while `open` is true; `title` is its heading and accessible name.
#[component]
pub fn Modal<C: IntoView + 'static>(
    open: RwSignal<bool>,
    #[prop(into)] title: Signal<String>,
    id: &'static str,
    children: TypedChildren<C>,
) -> impl IntoView {
    let children = children.into_inner();
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
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    view! {
        <dialog node_ref=dialog id=id class="dialog" aria-labelledby=labelled_by on:close=move |_| open.set(false)>
            <h2 id=title_id>{move || title.get()}</h2>
            {children()}
        </dialog>
    }
}

/// Asks before something that cannot be undone.
#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    #[prop(into)] title: Signal<String>,
    /// What will happen.
    #[prop(into)]
    text: Signal<String>,
    /// The label of the confirming button, e.g. "Revoke" or "Yes, Delete".
    confirm: &'static str,
    /// Runs when the person confirms (the dialog closes first).
    on_confirm: Callback<()>,
) -> impl IntoView {
    let id = match confirm {
        "Revoke" => "dialog-revoke",
        "Yes, Delete" => "dialog-delete",
        _ => "dialog-confirm",
    };
    view! {
        <Modal open=open title=title id=id>
            <p>{move || text.get()}</p>
            // No `autofocus`: showModal focuses the first focusable element, Cancel, by itself,
            // and Chromium refuses (and logs) `autofocus` inside a console's cross-origin frame.
            <div class="dialog-actions">
                <button type="button" class="button" on:click=move |_| open.set(false)>
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
        </Modal>
    }
}
