//! A labelled form field with its error message, wired for screen readers.

use leptos::prelude::*;

/// One labelled input. `error` holds the message for this field, if the last submit produced one.
#[component]
pub fn Field(
    /// The input's `name` (and the base of its id).
    name: &'static str,
    /// The visible label.
    label: &'static str,
    /// The input type: text, email, password…
    #[prop(default = "text")]
    kind: &'static str,
    /// The `autocomplete` hint.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// The message to show under the field.
    #[prop(into)]
    error: Signal<Option<String>>,
    /// A hint shown under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = described_by(&id, hint.is_some(), error);
    view! {
        <div class="field" class:field-invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="field-hint" id=hint_id.clone()>{h}</p> })}
            <input
                id=id.clone()
                name=name
                type=kind
                autocomplete=autocomplete
                required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=move || Some(described()).filter(|d| !d.is_empty())
            />
            <p class="field-error" id=error_id.clone() role="alert" hidden=move || error.get().is_none()>
                {move || error.get().unwrap_or_default()}
            </p>
        </div>
    }
}

/// The `aria-describedby` of input `id`: its hint (`{id}-hint`, if it has one) and its error
/// (`{id}-error`, while there is one).
pub fn described_by(
    id: &str,
    hint: bool,
    error: Signal<Option<String>>,
) -> impl Fn() -> String + Send + Sync + 'static {
    let (h, e) = (format!("{id}-hint"), format!("{id}-error"));
    move || {
        let mut ids = Vec::new();
        if hint {
            ids.push(h.clone());
        }
        if error.get().is_some() {
            ids.push(e.clone());
        }
        ids.join(" ")
    }
}

/// A labelled control with its hint and its error message; the control is the child, with id `id`.
#[component]
pub fn FieldFrame<C: IntoView + 'static>(
    #[prop(into)] id: String,
    label: &'static str,
    error: Signal<Option<String>>,
    hint: Option<&'static str>,
    children: TypedChildren<C>,
) -> impl IntoView {
    let children = children.into_inner();
    view! {
        <div class="field" class:field-invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="field-hint" id=format!("{id}-hint")>{h}</p> })}
            {children()}
            <p class="field-error" id=format!("{id}-error") role="alert" hidden=move || error.get().is_none()>
                {move || error.get().unwrap_or_default()}
            </p>
        </div>
    }
}

/// A text input bound to `value` (controlled forms that submit with a server function call).
#[component]
pub fn TextInput(
    #[prop(into)] id: String,
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let described = described_by(&id, hint.is_some(), error);
    view! {
        <FieldFrame id=id.clone() label=label error=error hint=hint>
            <input id=id.clone() type=kind autocomplete="off" bind:value=value
                aria-invalid=move || error.get().is_some().to_string() aria-describedby=described/>
        </FieldFrame>
    }
}
