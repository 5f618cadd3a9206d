//! Sign-in with email and password.

use super::{field_error, FormAlert};
use crate::api::SignIn;
use crate::components::field::Field;
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <main class="centered">
            <div class="card">
                <h1>"Sign in to Liaison"</h1>
                <ActionForm action=action attr:class="form" attr:novalidate=true>
                    <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                    <Field name="email" label="Email" kind="email" autocomplete="username" error=field_error(error, "email")/>
                    <Field name="password" label="Password" kind="password" autocomplete="current-password"
                        error=field_error(error, "password")/>
                    <button type="submit" class="button button-primary" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
