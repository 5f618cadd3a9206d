//! Settings › Developer Space › Webhooks (admins): the endpoints that hear of the organisation's
//! connections (created, authorised, needing re-authorisation, refresh failed or recovered,
//! revoked, enabled, deleted, a person's grant added or removed), each signed with its own secret,
//! shown once when it is made or rotated; a test event per endpoint; and the delivery log with
//! each attempt's status and latency. A lazy page: none of it is in the main module.

use super::chrome::{signed_in, Chrome};
use super::{field_error, FormAlert};
use crate::api::{
    create_webhook_endpoint, delete_webhook_endpoint, rotate_webhook_secret, send_test_webhook, webhook_deliveries,
    webhook_endpoints,
};
use crate::components::copy::CopyButton;
use crate::components::dialog::ConfirmDialog;
use crate::components::form::{hydrated, Submit};
use crate::components::table::TableHead;
use crate::error::AppError;
use crate::model::Viewer;
use crate::time::format_utc;
use crate::webhooks::{DeliveryView, EndpointView, NewEndpointSecret};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    signed_in(|viewer| view! { <Webhooks viewer=viewer/> })
}

#[component]
fn Webhooks(viewer: Viewer) -> impl IntoView {
    let create = Submit::new();
    let ready = hydrated();
    let act = Submit::new();
    // Bumped by each change (and each test event sent), to list again.
    let changed = RwSignal::new(0u32);
    let endpoints = crate::api::resource(move || changed.get(), |_| webhook_endpoints());
    let log = crate::api::resource(move || changed.get(), |_| webhook_deliveries());
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let shown = RwSignal::new(None::<NewEndpointSecret>);
    let sent = RwSignal::new(None::<String>);
    let error: Signal<Option<AppError>> = create.error.into();
    let url_error = field_error(error, "url");
    let asking = RwSignal::new(false);
    let target = RwSignal::new(None::<EndpointView>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        shown.set(None);
        create.run(create_webhook_endpoint(url.get_untracked(), description.get_untracked()), move |created| {
            url.set(String::new());
            description.set(String::new());
            shown.set(Some(created));
            changed.update(|n| *n += 1);
        });
    };
    let actions = Actions { act, changed, shown, sent, asking, target };
    view! {
        <Chrome viewer=viewer current="webhooks">
            <div class="page-head">
                <h1>"Webhooks"</h1>
            </div>
            <p class="lead">
                "Liaison tells your systems when a connection changes: it POSTs a JSON event to each endpoint, signed in the "
                <code>"Liaison-Signature"</code>
                " header with the endpoint's secret, and tries again for a day until the endpoint answers 2xx."
            </p>
            <form method="post" class="form form-inline" novalidate on:submit=on_submit>
                <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                <div class="field" class:field-invalid=move || url_error.get().is_some()>
                    <label for="field-webhook-url">"Endpoint URL"</label>
                    <p class="field-hint" id="field-webhook-url-hint">"An https URL of your system, e.g. https://console.example.com/liaison-events."</p>
                    <input
                        id="field-webhook-url"
                        name="url"
                        type="url"
                        autocomplete="off"
                        bind:value=url
                        aria-invalid=move || url_error.get().is_some().to_string()
                        aria-describedby=move || {
                            if url_error.get().is_some() {
                                "field-webhook-url-hint field-webhook-url-error"
                            } else {
                                "field-webhook-url-hint"
                            }
                        }
                    />
                    <p class="field-error" id="field-webhook-url-error" role="alert" hidden=move || url_error.get().is_none()>
                        {move || url_error.get().unwrap_or_default()}
                    </p>
                </div>
                <div class="field">
                    <label for="field-webhook-description">"Description"</label>
                    <input id="field-webhook-description" name="description" type="text" autocomplete="off" bind:value=description/>
                </div>
                <button type="submit" class="button button-primary" disabled=move || create.pending.get() || !ready.get()>
                    {move || if create.pending.get() { "Adding…" } else { "Add endpoint" }}
                </button>
            </form>
            {move || shown.get().map(|s| view! { <ShownSecret shown=s/> })}
            <FormAlert error=act.error/>
            <p class="alert alert-info" role="status" hidden=move || sent.get().is_none()>
                {move || sent.get().map(|id| format!("Test event {id} queued: it shows in the delivery log below once sent."))}
            </p>
            <h2>"Endpoints"</h2>
            <Transition fallback=|| view! { <p>"Loading endpoints…"</p> }>
                {move || Suspend::new(async move {
                    match endpoints.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! {
                            <div class="empty">
                                <h2>"No webhook endpoints yet"</h2>
                                <p>"Add the URL where your system should hear of connection changes."</p>
                            </div>
                        }),
                        Ok(list) => EitherOf3::B(view! { <EndpointTable endpoints=list actions=actions/> }),
                        Err(e) => EitherOf3::C(view! { <div class="alert alert-error" role="alert">{e.message}</div> }),
                    }
                })}
            </Transition>
            <h2>"Delivery log"</h2>
            <Transition fallback=|| view! { <p>"Loading the delivery log…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(rows) if rows.is_empty() => Either::Left(view! { <p>"Nothing delivered yet."</p> }),
                        Ok(rows) => Either::Right(Either::Left(view! { <DeliveryTable rows=rows/> })),
                        Err(e) => Either::Right(Either::Right(view! { <div class="alert alert-error" role="alert">{e.message}</div> })),
                    }
                })}
            </Transition>
            <button type="button" class="button button-quiet" on:click=move |_| changed.update(|n| *n += 1)>
                "Refresh the log"
            </button>
            <ConfirmDialog
                open=asking
                title=Signal::derive(move || format!("Delete the endpoint {}?", target.get().map(|t| t.url).unwrap_or_default()))
                text=Signal::derive(|| "It receives no more events, and its delivery log is deleted with it. This cannot be undone.".to_string())
                confirm="Yes, Delete"
                on_confirm=Callback::new(move |_| {
                    if let Some(t) = target.get_untracked() {
                        act.run(delete_webhook_endpoint(t.id), move |()| changed.update(|n| *n += 1));
                    }
                })
            />
        </Chrome>
    }
}

/// What a row's buttons change.
#[derive(Clone, Copy)]
struct Actions {
    act: Submit,
    changed: RwSignal<u32>,
    shown: RwSignal<Option<NewEndpointSecret>>,
    sent: RwSignal<Option<String>>,
    asking: RwSignal<bool>,
    target: RwSignal<Option<EndpointView>>,
}

#[component]
fn ShownSecret(shown: NewEndpointSecret) -> impl IntoView {
    view! {
        <section class="new-token" aria-labelledby="new-secret-title">
            <h2 id="new-secret-title">"Copy the signing secret of " {shown.endpoint.url.clone()} " now"</h2>
            <p>"This is the only time Liaison shows it. Your system checks each event's signature with it; if you lose it, rotate it."</p>
            <div class="token-value">
                <code data-testid="new-webhook-secret">{shown.secret.clone()}</code>
                <CopyButton text=shown.secret.clone() label="Copy secret"/>
            </div>
        </section>
    }
}

#[component]
fn EndpointTable(endpoints: Vec<EndpointView>, actions: Actions) -> impl IntoView {
    let Actions { act, changed, shown, sent, asking, target } = actions;
    view! {
        <table class="table">
            <TableHead caption="Webhook endpoints" columns={&["URL", "Added", "Secret"]} actions="Actions"/>
            <tbody>
                {endpoints
                    .into_iter()
                    .map(|e| {
                        let (id, row) = (e.id, e.clone());
                        let secret = match (e.rotated_at, e.previous_secret_until) {
                            (_, Some(until)) => format!("Rotated; the previous one signs too until {}", format_utc(until)),
                            (Some(at), None) => format!("Rotated {}", format_utc(at)),
                            (None, None) => "Set when added".to_string(),
                        };
                        view! {
                            <tr>
                                <th scope="row">
                                    <code>{e.url.clone()}</code>
                                    {(!e.description.is_empty()).then(|| view! { <div class="muted">{e.description.clone()}</div> })}
                                </th>
                                <td>{format_utc(e.created_at)}" by "{e.created_by.clone()}</td>
                                <td>{secret}</td>
                                <td class="actions">
                                    <button type="button" class="button" aria-label=format!("Send a test event to {}", e.url) on:click=move |_| {
                                        sent.set(None);
                                        act.run(send_test_webhook(id), move |event| {
                                            sent.set(Some(event));
                                            changed.update(|n| *n += 1);
                                        });
                                    }>"Send test event"</button>
                                    <button type="button" class="button button-quiet" aria-label=format!("Rotate the secret of {}", e.url) on:click=move |_| {
                                        act.run(rotate_webhook_secret(id), move |s| {
                                            shown.set(Some(s));
                                            changed.update(|n| *n += 1);
                                        });
                                    }>"Rotate secret"</button>
                                    <button type="button" class="button button-quiet" aria-label=format!("Delete {}", e.url) on:click=move |_| {
                                        target.set(Some(row.clone()));
                                        asking.set(true);
                                    }>"Delete"</button>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn DeliveryTable(rows: Vec<DeliveryView>) -> impl IntoView {
    view! {
        <table class="table" data-testid="webhook-deliveries">
            <TableHead caption="Latest delivery attempts, newest first" columns={&["When", "Event", "Attempt", "Status", "Latency"]}/>
            <tbody>
                {rows
                    .into_iter()
                    .map(|d| {
                        let status = match (d.status, &d.error) {
                            (Some(s), _) => s.to_string(),
                            (None, Some(e)) => e.clone(),
                            (None, None) => "No answer".into(),
                        };
                        let badge = if d.delivered { "badge badge-connected" } else { "badge badge-error" };
                        view! {
                            <tr>
                                <td>{format_utc(d.at)}</td>
                                <th scope="row"><code>{d.event_type.clone()}</code><div class="muted"><code>{d.event_id.clone()}</code></div></th>
                                <td>{d.attempt}</td>
                                <td><span class=badge>{if d.delivered { "Delivered" } else { "Failed" }}</span>" "{status}</td>
                                <td>{format!("{} ms", d.latency_ms)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
