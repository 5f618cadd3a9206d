//! The UI's icons, drawn inline as SVG in the text's colour: no font on the machine is needed to
//! show them. They are decoration only (hidden from assistive technology): the button that holds
//! one carries the accessible name.

use leptos::prelude::*;

/// A 16 px stroked icon from one SVG path.
fn icon(path: &'static str) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"
            fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <path d=path/>
        </svg>
    }
}

/// A pencil: edit.
#[component]
pub fn EditIcon() -> impl IntoView {
    icon("M4 20h4L19 9l-4-4L4 16z M13 7l4 4")
}

/// A waste bin: delete.
#[component]
pub fn DeleteIcon() -> impl IntoView {
    icon("M4 7h16 M9 7V4h6v3 M6 7l1 13h10l1-13 M10 11v6 M14 11v6")
}
