//! First-run setup: creates the organisation and its first admin. Open only while no user exists.

use super::{field_error, FormAlert};
use crate::api::{setup_needed, CreateFirstAdmin};
use crate::components::field::Field;
use leptos::either::Either;
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn SetupPage() -> impl IntoView {
    let action = ServerAction::<CreateFirstAdmin>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let needed = crate::api::resource(|| (), |_| setup_needed());
    view! {
        <main class="centered">
            <div class="card">
                <h1>"Welcome to Liaison"</h1>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match needed.await {
                            Ok(false) => Either::Left(view! {
                                <p>"Setup is complete."</p>
                                <a class="button" href="/login">"Sign in"</a>
                            }),
                            _ => Either::Right(view! {
                                <p class="lead">"Create your organisation and its first administrator."</p>
                                <ActionForm action=action attr:class="form" attr:novalidate=true>
                                    <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                                    <Field name="org_name" label="Organisation name" autocomplete="organization" error=field_error(error, "org_name")/>
                                    <Field name="name" label="Your name" autocomplete="name" error=field_error(error, "name")/>
                                    <Field name="email" label="Email" kind="email" autocomplete="email" error=field_error(error, "email")/>
                                    <Field name="password" label="Password" kind="password" autocomplete="new-password"
                                        hint="At least 12 characters." error=field_error(error, "password")/>
                                    <Field name="password_confirm" label="Confirm password" kind="password" autocomplete="new-password"
                                        error=field_error(error, "password_confirm")/>
                                    <button type="submit" class="button button-primary" disabled=move || action.pending().get()>
                                        {move || if action.pending().get() { "Creating…" } else { "Create organisation" }}
                                    </button>
                                </ActionForm>
                            }),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}
