//! First-run setup: creates the organisation and its first admin. Open only while no user exists.

use super::{field_error, FormAlert};
use crate::api::{create_first_admin, setup_needed, CreateFirstAdmin};
use crate::components::field::Field;
use crate::components::form::{Submit, Submitted};
use crate::error::AppError;
use crate::model::Password;
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn SetupPage() -> impl IntoView {
    let submit = Submit::new();
    let error: Signal<Option<AppError>> = submit.error.into();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        let form = Submitted::of(&ev);
        submit.run(
            create_first_admin(
                form.field("org_name"),
                form.field("name"),
                form.field("email"),
                Password::new(form.field("password")),
                Password::new(form.field("password_confirm")),
            ),
            |()| (),
        );
    };
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
                                <form method="post" action=CreateFirstAdmin::PATH class="form" novalidate on:submit=on_submit>
                                    <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                                    <Field name="org_name" label="Organisation name" autocomplete="organization" error=field_error(error, "org_name")/>
                                    <Field name="name" label="Your name" autocomplete="name" error=field_error(error, "name")/>
                                    <Field name="email" label="Email" kind="email" autocomplete="email" error=field_error(error, "email")/>
                                    <Field name="password" label="Password" kind="password" autocomplete="new-password"
                                        hint="At least 12 characters." error=field_error(error, "password")/>
                                    <Field name="password_confirm" label="Confirm password" kind="password" autocomplete="new-password"
                                        error=field_error(error, "password_confirm")/>
                                    <button type="submit" class="button button-primary" disabled=move || submit.pending.get()>
                                        {move || if submit.pending.get() { "Creating…" } else { "Create organisation" }}
                                    </button>
                                </form>
                            }),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}
