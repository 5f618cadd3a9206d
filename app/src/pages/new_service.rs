//! Create New Service: the redirect URL to register with the provider first, then the custom
//! service form with every field of a service and the quirk knobs (`service_form.rs`), optionally
//! pre-filled from an issuer's metadata. Create Service saves it and continues straight into its
//! first connection.

use super::chrome::{signed_in, Chrome};
use super::service_form::{Fields, ServiceFields};
use crate::api::{create_service, discover_service, reserve_callback};
use crate::components::copy::CopyButton;
use crate::connection::NewServiceKey;
use crate::error::AppError;
use crate::model::Viewer;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

#[component]
pub fn NewServicePage() -> impl IntoView {
    signed_in(|viewer| view! { <NewService viewer=viewer/> })
}

/// The alert above a form whose save failed: its message, or a pointer to the fields' messages.
pub fn form_alert(error: RwSignal<Option<AppError>>) -> impl Fn() -> Option<AnyView> + Copy {
    move || {
        error.get().map(|e| {
            let text = if e.fields.is_empty() {
                e.message
            } else {
                "Some fields need a change: see the messages below them. Nothing was saved.".into()
            };
            view! { <div class="alert alert-error" role="alert">{text}</div> }.into_any()
        })
    }
}

#[component]
fn NewService(viewer: Viewer) -> impl IntoView {
    let f = Fields::default();
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let ready = crate::components::form::hydrated();
    let issuer = RwSignal::new(String::new());
    // The redirect URL of the service this form makes, given by the server as the form opens in the
    // browser: the provider asks for it before it gives the client ID and secret. (Asked for from
    // the browser, not as a resource in the page as served: that costs the main module 13 KB.)
    let given = RwSignal::new(None::<Result<NewServiceKey, AppError>>);
    Effect::new(move |_| {
        spawn_local(async move {
            let answer = reserve_callback().await;
            // The page may be gone by now: then nobody reads it.
            let _ = given.try_set(Some(answer));
        });
    });
    let discovered = RwSignal::new(None::<Result<(), String>>);
    let navigate = use_navigate();
    let field =
        move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name).map(str::to_string)));
    let discover = move |_| {
        discovered.set(None);
        spawn_local(async move {
            match discover_service(issuer.get_untracked()).await {
                Ok(form) => {
                    f.fill(form);
                    discovered.set(Some(Ok(())));
                }
                Err(e) => discovered.set(Some(Err(e.message))),
            }
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let mut form = f.form();
        form.callback_key = given.get_untracked().and_then(Result::ok).map(|g| g.key).unwrap_or_default();
        let navigate = navigate.clone();
        spawn_local(async move {
            let r = create_service(form).await;
            busy.set(false);
            match r {
                Ok(id) => {
                    navigate(&format!("/settings/developer-space/connections/new/custom/{id}"), Default::default())
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <Chrome viewer=viewer current="connections">
            <div class="page-head">
                <h1>"Create New Service"</h1>
                <a class="button" href="/settings/developer-space/connections/new">"Cancel"</a>
            </div>
            <Show when=move || f.code()>
                <section class="redirect" aria-labelledby="redirect-title">
                    <h2 id="redirect-title">"Redirect URL"</h2>
                    <p class="field-hint">"Register this redirect URL with the provider when you create the OAuth client, then enter the client ID and secret it gives you below."</p>
                    {move || match given.get() {
                        None => EitherOf3::A(view! { <p>"Getting the redirect URL…"</p> }),
                        Some(Ok(g)) => EitherOf3::B(view! {
                            <div class="copy-line">
                                <code data-testid="redirect-url">{g.callback_url.clone()}</code>
                                <CopyButton text=g.callback_url label="Copy redirect URL"/>
                            </div>
                        }),
                        Some(Err(e)) => EitherOf3::C(view! { <p class="alert alert-error" role="alert">{e.message}</p> }),
                    }}
                    <p class="field-error" role="alert" hidden=move || field("callback_key").get().is_none()>
                        {move || field("callback_key").get().unwrap_or_default()}
                    </p>
                </section>
            </Show>
            <section class="discover" aria-labelledby="discover-title">
                <h2 id="discover-title">"Fill in from the provider"</h2>
                <p class="field-hint">"Providers that publish OAuth metadata (RFC 8414 or OpenID Connect discovery) can fill in the URLs, scopes and PKCE for you."</p>
                <div class="form-inline">
                    <div class="field">
                        <label for="service-issuer">"Issuer URL"</label>
                        <input id="service-issuer" type="url" bind:value=issuer placeholder="https://login.example.com"/>
                    </div>
                    <button type="button" class="button" on:click=discover>"Fill in"</button>
                </div>
                {move || discovered.get().map(|r| match r {
                    Ok(()) => Either::Left(view! { <p class="alert alert-success" role="status">"Filled in from the provider's metadata. Check the fields, then add the client ID and secret."</p> }),
                    Err(m) => Either::Right(view! { <p class="alert alert-error" role="alert">{m}</p> }),
                })}
            </section>
            <form method="post" class="form form-wide" novalidate on:submit=submit>
                {form_alert(error)}
                <ServiceFields f=f field=field/>
                <div class="form-actions">
                    <button type="submit" class="button button-primary" disabled=move || busy.get() || !ready.get()>
                        {move || if busy.get() { "Creating…" } else { "Create Service" }}
                    </button>
                </div>
            </form>
        </Chrome>
    }
}
