//! Sign-in with email and password; afterwards the Connections page, or the reconnect link the
//! person opened signed out (`?next=`, which the sign-in function checks).

use super::{field_error, FormAlert};
use crate::api::{sign_in, SignIn};
use crate::components::field::Field;
use crate::components::form::{Submit, Submitted};
use crate::error::AppError;
use crate::model::Password;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn LoginPage() -> impl IntoView {
    let submit = Submit::new();
    // Kept as given: the sign-in function decides whether it may lead there.
    let next = leptos_router::hooks::use_query_map().get_untracked().get("next");
    let error: Signal<Option<AppError>> = submit.error.into();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        let form = Submitted::of(&ev);
        let next = Some(form.field("next")).filter(|n| !n.is_empty());
        submit.run(sign_in_now(form.field("email"), Password::new(form.field("password")), next), |()| ());
    };
    view! {
        <main class="centered">
            <div class="card">
                <h1>"Sign in to Liaison"</h1>
                <form method="post" action=SignIn::PATH class="form" novalidate on:submit=on_submit>
                    <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                    {next.map(|n| view! { <input type="hidden" name="next" value=n/> })}
                    <Field name="email" label="Email" kind="email" autocomplete="username" error=field_error(error, "email")/>
                    <Field name="password" label="Password" kind="password" autocomplete="current-password"
                        error=field_error(error, "password")/>
                    <button type="submit" class="button button-primary" disabled=move || submit.pending.get()>
                        {move || if submit.pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </form>
            </div>
        </main>
    }
}

crate::lazy::fallible_lazy! {
    sign_in_now_split,
    /// Signs in. A lazy function: the call's code, with the form encoding the sign-in function
    /// takes (it also takes the plain POST made before the wasm has loaded), is fetched with the
    /// first submit, not with every page of the main module.
    fn sign_in_now(email: String, password: Password, next: Option<String>) -> Result<(), AppError> {
        sign_in(email, password, next).await
    }
}
