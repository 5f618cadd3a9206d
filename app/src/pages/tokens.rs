//! Settings › Developer Space › API tokens: the personal tokens scripts use to call services
//! through Liaison. A new token is shown once, here, and never again.

use super::chrome::{signed_in, Chrome};
use super::{field_error, FormAlert};
use crate::api::{api_tokens, create_api_token, revoke_api_token};
use crate::components::copy::CopyButton;
use crate::components::dialog::ConfirmDialog;
use crate::components::form::{hydrated, Submit};
use crate::components::table::TableHead;
use crate::error::AppError;
use crate::model::Viewer;
use crate::time::format_utc;
use crate::tokens::{ApiTokenView, NewApiToken, EXPIRY_DAYS};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

#[component]
pub fn ApiTokensPage() -> impl IntoView {
    signed_in(|viewer| view! { <Tokens viewer=viewer/> })
}

#[component]
fn Tokens(viewer: Viewer) -> impl IntoView {
    let create = Submit::new();
    let ready = hydrated();
    let revoke = Submit::new();
    // Bumped by each change, to list the tokens again.
    let changed = RwSignal::new(0u32);
    let list = crate::api::resource(move || changed.get(), |_| api_tokens());
    let name = RwSignal::new(String::new());
    // Days, or "" for never.
    let expiry = RwSignal::new(String::new());
    let created = RwSignal::new(None::<NewApiToken>);
    let error: Signal<Option<AppError>> = create.error.into();
    let name_error = field_error(error, "name");
    let expiry_error = field_error(error, "expires_in_days");
    let asking = RwSignal::new(false);
    let target = RwSignal::new(None::<ApiTokenView>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        created.set(None);
        let days = expiry.get_untracked().parse::<u32>().ok();
        create.run(create_api_token(name.get_untracked(), days), move |token| {
            // A new token clears the form.
            name.set(String::new());
            created.set(Some(token));
            changed.update(|n| *n += 1);
        });
    };
    view! {
        <Chrome viewer=viewer current="api-tokens">
            <div class="page-head">
                <h1>"API tokens"</h1>
            </div>
            <p class="lead">
                "A script sends a token as " <code>"Authorization: Bearer <token>"</code>
                " to call a service through one of your organisation's connections. A token acts as you: keep it as secret as a password, and revoke it when it is no longer used."
            </p>
            <form method="post" class="form form-inline" novalidate on:submit=on_submit>
                <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                <div class="field" class:field-invalid=move || name_error.get().is_some()>
                    <label for="field-token-name">"Token name"</label>
                    <p class="field-hint" id="field-token-name-hint">"What will use it, e.g. Nightly sync."</p>
                    <input
                        id="field-token-name"
                        name="name"
                        type="text"
                        autocomplete="off"
                        bind:value=name
                        aria-invalid=move || name_error.get().is_some().to_string()
                        aria-describedby=move || {
                            if name_error.get().is_some() {
                                "field-token-name-hint field-token-name-error"
                            } else {
                                "field-token-name-hint"
                            }
                        }
                    />
                    <p class="field-error" id="field-token-name-error" role="alert" hidden=move || name_error.get().is_none()>
                        {move || name_error.get().unwrap_or_default()}
                    </p>
                </div>
                <div class="field" class:field-invalid=move || expiry_error.get().is_some()>
                    <label for="field-token-expiry">"Expires"</label>
                    <select
                        id="field-token-expiry"
                        name="expires_in_days"
                        on:change=move |ev| expiry.set(event_target_value(&ev))
                        aria-invalid=move || expiry_error.get().is_some().to_string()
                    >
                        <option value="" selected=move || expiry.get().is_empty()>"Never"</option>
                        {EXPIRY_DAYS
                            .iter()
                            .map(|d| {
                                let value = d.to_string();
                                let is = value.clone();
                                view! {
                                    <option value=value selected=move || expiry.get() == is>
                                        {expiry_label(*d)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <p class="field-error" role="alert" hidden=move || expiry_error.get().is_none()>
                        {move || expiry_error.get().unwrap_or_default()}
                    </p>
                </div>
                <button type="submit" class="button button-primary" disabled=move || create.pending.get() || !ready.get()>
                    {move || if create.pending.get() { "Creating…" } else { "Create token" }}
                </button>
            </form>
            {move || {
                created
                    .get()
                    .map(|t| {
                        view! {
                            <section class="new-token" aria-labelledby="new-token-title">
                                <h2 id="new-token-title">"Copy the token “"{t.view.name.clone()}"” now"</h2>
                                <p>"This is the only time Liaison shows it. If you lose it, revoke it and create another."</p>
                                <div class="token-value">
                                    <code data-testid="new-token">{t.token.clone()}</code>
                                    <CopyButton text=t.token.clone() label="Copy token"/>
                                </div>
                            </section>
                        }
                    })
            }}
            <FormAlert error=revoke.error/>
            <Transition fallback=|| view! { <p>"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(tokens) if tokens.is_empty() => EitherOf3::A(view! {
                            <div class="empty">
                                <h2>"No API tokens yet"</h2>
                                <p>"Create one for each script or system that calls services through Liaison."</p>
                            </div>
                        }),
                        Ok(tokens) => EitherOf3::B(view! { <TokenTable tokens=tokens asking=asking target=target/> }),
                        Err(e) => EitherOf3::C(view! { <div class="alert alert-error" role="alert">{e.message}</div> }),
                    }
                })}
            </Transition>
            <ConfirmDialog
                open=asking
                title=Signal::derive(move || {
                    format!("Revoke “{}”?", target.get().map(|t| t.name).unwrap_or_default())
                })
                text=Signal::derive(|| {
                    "Scripts that use this token will be refused from now on. This cannot be undone.".to_string()
                })
                confirm="Revoke"
                on_confirm=Callback::new(move |_| {
                    if let Some(t) = target.get_untracked() {
                        revoke.run(revoke_api_token(t.id), move |()| changed.update(|n| *n += 1));
                    }
                })
            />
        </Chrome>
    }
}

#[component]
fn TokenTable(
    tokens: Vec<ApiTokenView>,
    asking: RwSignal<bool>,
    target: RwSignal<Option<ApiTokenView>>,
) -> impl IntoView {
    view! {
        <table class="table">
            <TableHead caption="Your API tokens" columns={&["Name", "Token", "Created", "Last used", "Expires"]} actions="Status and actions"/>
            <tbody>
                {tokens
                    .into_iter()
                    .map(|t| {
                        let revoked = t.revoked_at;
                        let row = t.clone();
                        view! {
                            <tr class:row-muted=revoked.is_some()>
                                <th scope="row">{t.name.clone()}</th>
                                <td><code>{format!("{}…", t.prefix)}</code></td>
                                <td>{format_utc(t.created_at)}</td>
                                <td>{t.last_used_at.map(format_utc).unwrap_or_else(|| "Never".into())}</td>
                                <td>{t.expires_at.map(format_utc).unwrap_or_else(|| "Never".into())}</td>
                                <td class="actions">
                                    {match revoked {
                                        Some(at) => Either::Left(view! { <span class="badge badge-muted">"Revoked "{format_utc(at)}</span> }),
                                        None => Either::Right(view! {
                                            <button
                                                type="button"
                                                class="button button-quiet"
                                                aria-label=format!("Revoke {}", t.name)
                                                on:click=move |_| {
                                                    target.set(Some(row.clone()));
                                                    asking.set(true);
                                                }
                                            >
                                                "Revoke"
                                            </button>
                                        }),
                                    }}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// "7 days", "1 year": how an expiry choice reads on the form.
pub fn expiry_label(days: u32) -> String {
    match days {
        365 => "1 year".into(),
        d => format!("{d} days"),
    }
}
