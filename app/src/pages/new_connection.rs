//! New Connection: Pick Your Service (the catalogue, searchable, and the organisation's custom
//! services, with Edit and Delete for admins: `custom_services.rs`), then the connection form for that service, whose Create and Connect creates the
//! connection and runs its authorisation (popup, or at once without one).

use super::chrome::{signed_in, Chrome};
use super::connections::{Notice, NoticeBanner};
use super::custom_services::{Aim, ServiceActions, ServiceDialogs, Target};
use crate::api::{create_connection, services};
use crate::authorise::{AuthBanner, AuthState, Authoriser, Popup};
use crate::components::field::TextInput;
use crate::components::tabs::Tabs;
use crate::connection::{ConnectOutcome, ConnectionForm, LinkName, ServiceRef, ServiceSummary};
use crate::error::AppError;
use crate::model::{Password, Viewer};
use crate::service::{AuthType, GrantType};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};

pub const NEW: &str = "/settings/developer-space/connections/new";

fn form_path(s: &ServiceRef) -> String {
    match s {
        ServiceRef::Predefined(id) => format!("{NEW}/predefined/{id}"),
        ServiceRef::Custom(id) => format!("{NEW}/custom/{id}"),
    }
}

fn needs_popup(s: &ServiceSummary) -> bool {
    s.auth_type == AuthType::OAuth2 && s.grant_type == Some(GrantType::AuthorizationCode)
}

fn kind_label(s: &ServiceSummary) -> &'static str {
    match (s.auth_type, s.grant_type) {
        (AuthType::OAuth2, Some(GrantType::ClientCredentials)) => "OAuth 2.0 · client credentials",
        (AuthType::OAuth2, _) => "OAuth 2.0",
        (AuthType::ApiKey, _) => "API key",
        (AuthType::Basic, _) => "Basic",
    }
}

#[component]
pub fn PickServicePage() -> impl IntoView {
    signed_in(|viewer| view! { <Pick viewer=viewer/> })
}

#[component]
fn Pick(viewer: Viewer) -> impl IntoView {
    let tab = RwSignal::new("predefined");
    let search = RwSignal::new(String::new());
    // Bumped by an edit or a delete of a custom service: the list is read again.
    let changed = RwSignal::new(0u32);
    let all = crate::api::resource(move || changed.get(), |_| services());
    let is_admin = viewer.role == crate::model::Role::Admin;
    let notice = RwSignal::new(None::<Notice>);
    let aim = Aim::default();
    view! {
        <Chrome viewer=viewer current="connections">
            <NoticeBanner notice=notice/>
            <div class="page-head">
                <h1>"Pick Your Service"</h1>
                <a class="button" href=crate::api::HOME>"Cancel"</a>
            </div>
            <Tabs label="Kinds of service" selected=tab tabs=vec![("predefined", "Predefined Services"), ("custom", "Custom Services")]/>
            <section id=move || format!("panel-{}", tab.get()) role="tabpanel" aria-labelledby=move || format!("tab-{}", tab.get()) class="panel">
                <div class="toolbar" role="search">
                    <label class="visually-hidden" for="service-search">"Search services"</label>
                    <input id="service-search" type="search" placeholder="Search services" prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))/>
                    {move || (tab.get() == "custom" && is_admin).then(|| view! {
                        <a class="button button-primary" href="/settings/developer-space/services/new">"+ Create New Service"</a>
                    })}
                </div>
                <Transition fallback=|| view! { <p>"Loading services…"</p> }>
                    {move || Suspend::new(async move {
                        match all.await {
                            Ok(list) => {
                                let custom = tab.get() == "custom";
                                let needle = search.get().trim().to_lowercase();
                                let shown: Vec<ServiceSummary> = list
                                    .into_iter()
                                    .filter(|s| matches!(s.service, ServiceRef::Custom(_)) == custom)
                                    .filter(|s| needle.is_empty() || s.name.to_lowercase().contains(&needle))
                                    .collect();
                                if shown.is_empty() {
                                    let text = if custom && needle.is_empty() {
                                        "Your organisation has no custom services yet. Admins can create one for any OAuth 2.0, API key or Basic service."
                                    } else {
                                        "No service matches the search."
                                    };
                                    EitherOf3::A(view! { <div class="empty"><p>{text}</p></div> })
                                } else {
                                    EitherOf3::B(view! {
                                        <ul class="service-grid">
                                            {shown.into_iter().map(|s| {
                                                let actions = match &s.service {
                                                    ServiceRef::Custom(id) if is_admin => Some(Target { id: *id, name: s.name.clone() }),
                                                    _ => None,
                                                };
                                                let with_actions = actions.is_some();
                                                view! {
                                                    <li class:with-actions=with_actions>
                                                        <a class="service-card" href=form_path(&s.service)>
                                                            <span class="service-name">{s.name.clone()}</span>
                                                            <span class="muted">{kind_label(&s)}</span>
                                                        </a>
                                                        {actions.map(|t| view! { <ServiceActions target=t aim=aim/> })}
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                    })
                                }
                            }
                            Err(e) => EitherOf3::C(view! { <div class="alert alert-error" role="alert">{e.message}</div> }),
                        }
                    })}
                </Transition>
            </section>
            {is_admin.then(|| view! { <ServiceDialogs aim=aim notice=notice changed=changed/> })}
        </Chrome>
    }
}

#[component]
pub fn NewConnectionPage() -> impl IntoView {
    signed_in(|viewer| view! { <NewConnection viewer=viewer/> })
}

#[component]
fn NewConnection(viewer: Viewer) -> impl IntoView {
    let params = use_params_map();
    let wanted = move || {
        let p = params.get();
        match (p.get("kind").as_deref(), p.get("id")) {
            (Some("predefined"), Some(id)) => Some(ServiceRef::Predefined(id)),
            (Some("custom"), Some(id)) => id.parse().ok().map(ServiceRef::Custom),
            _ => None,
        }
    };
    let all = crate::api::resource(|| (), |_| services());
    view! {
        <Chrome viewer=viewer current="connections">
            <Transition fallback=|| view! { <p>"Loading the service…"</p> }>
                {move || Suspend::new(async move {
                    let found = match (all.await, wanted()) {
                        (Ok(list), Some(w)) => list.into_iter().find(|s| s.service == w),
                        _ => None,
                    };
                    match found {
                        Some(s) => Either::Left(view! { <ConnectionFormView service=s/> }),
                        None => Either::Right(view! {
                            <div class="alert alert-error" role="alert">
                                "There is no such service. "<a href=NEW>"Pick a service"</a>
                            </div>
                        }),
                    }
                })}
            </Transition>
        </Chrome>
    }
}

#[component]
fn ConnectionFormView(service: ServiceSummary) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let link = RwSignal::new(String::new());
    let link_touched = RwSignal::new(false);
    let chosen = RwSignal::new(Vec::<String>::new());
    let per_user = RwSignal::new(false);
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let api_key = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<AppError>);
    let created = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let ready = crate::components::form::hydrated();
    let auth = Authoriser::new();
    let navigate = use_navigate();
    // The link name follows the name until the person edits it.
    Effect::new(move |_| {
        let n = name.get();
        if !link_touched.get_untracked() {
            link.set(LinkName::derive(&n));
        }
    });
    // Granted: back to the list, which shows it Connected (no page load).
    {
        let navigate = navigate.clone();
        Effect::new(move |_| {
            if let AuthState::Connected { link } = auth.state.get() {
                navigate(&format!("{}?authorised={link}", crate::api::HOME), Default::default());
            }
        });
    }
    let field = move |f: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(f).map(str::to_string)));
    let popup = needs_popup(&service);
    let s = service.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let form = ConnectionForm {
            name: name.get_untracked(),
            link_name: link.get_untracked(),
            service: Some(s.service.clone()),
            scopes: chosen.get_untracked(),
            per_user: per_user.get_untracked(),
            client_id: client_id.get_untracked(),
            client_secret: Password::new(client_secret.get_untracked()),
            api_key: Password::new(api_key.get_untracked()),
            username: username.get_untracked(),
            password: Password::new(password.get_untracked()),
        };
        let window = popup.then(Popup::open);
        busy.set(true);
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            let result = create_connection(form).await;
            busy.set(false);
            match result {
                Ok((link, ConnectOutcome::Authorize { start_url })) => {
                    crate::embed::notify(crate::embed::Event::Created, &link);
                    created.set(Some(link.clone()));
                    match window {
                        Some(w) => auth.begin(w, link, &start_url),
                        None => auth.begin(Popup::open(), link, &start_url),
                    }
                }
                Ok((link, ConnectOutcome::Connected)) => {
                    if let Some(w) = window {
                        w.close();
                    }
                    crate::embed::notify(crate::embed::Event::Created, &link);
                    crate::embed::notify(crate::embed::Event::Authorised, &link);
                    navigate(&format!("{}?authorised={link}", crate::api::HOME), Default::default());
                }
                Err(e) => {
                    if let Some(w) = window {
                        w.close();
                    }
                    error.set(Some(e));
                }
            }
        });
    };
    let needs_client = service.needs_client;
    let auth_type = service.auth_type;
    let scopes = service.scopes.clone();
    let general = move || {
        error.get().filter(|e| e.fields.is_empty()).map(|e| {
            let text = if e.code == crate::error::ErrorCode::Validation {
                e.message
            } else {
                format!("The connection was created, but connecting failed: {} You can connect it again from the Connections list.", e.message)
            };
            view! { <div class="alert alert-error" role="alert">{text}</div> }
        })
    };
    view! {
        <div class="page-head">
            <h1>{format!("New {} connection", service.name)}</h1>
            <a class="button" href=NEW>"Back"</a>
        </div>
        <AuthBanner auth=auth/>
        {move || created.get().and_then(|l| matches!(auth.state.get(), AuthState::Failed { .. }).then(|| view! {
            <p>"“"{l}"” is in the "<a href=crate::api::HOME>"Connections list"</a>" as not connected; connect it from there when you are ready."</p>
        }))}
        <form method="post" class="form form-wide" novalidate on:submit=submit>
            {general}
            <TextInput id="connection-name" label="Connection Name" value=name error=field("name")/>
            <div on:input=move |_| link_touched.set(true)>
                <TextInput id="connection-link-name" label="Link name" value=link error=field("link_name")
                    hint="Scripts name the connection by it. Lower-case letters, digits and _; it cannot change later."/>
            </div>
            {(!scopes.is_empty()).then(|| view! {
                <fieldset class="field scopes">
                    <legend>"Scope"</legend>
                    {scopes.into_iter().map(|sc| {
                        let (n1, n2) = (sc.name.clone(), sc.name.clone());
                        view! {
                            <label class="check">
                                <input type="checkbox" prop:checked=move || chosen.get().contains(&n1)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        chosen.update(|c| { c.retain(|x| *x != n2); if on { c.push(n2.clone()); } });
                                    }/>
                                {sc.display.clone()}" "<code class="muted">{sc.name.clone()}</code>
                            </label>
                        }
                    }).collect_view()}
                    <p class="field-error" role="alert" hidden=move || field("scopes").get().is_none()>{move || field("scopes").get()}</p>
                </fieldset>
            })}
            {popup.then(|| view! {
                <label class="check">
                    <input type="checkbox" prop:checked=move || per_user.get() on:change=move |ev| per_user.set(event_target_checked(&ev))/>
                    "Use credentials of login user"
                    <span class="field-hint">" — each person connects their own account; scripts they run use it."</span>
                </label>
            })}
            {needs_client.then(|| view! {
                <TextInput id="connection-client-id" label="Client ID" value=client_id error=field("client_id")
                    hint="No OAuth client is configured for this service: enter the one you registered with the provider."/>
                <TextInput id="connection-client-secret" label="Client secret" kind="password" value=client_secret error=field("client_secret")/>
                <p class="field-hint">"Register this redirect URI with the provider: "<code>{service.callback_url.clone()}</code></p>
            })}
            {(auth_type == AuthType::ApiKey).then(|| view! {
                <TextInput id="connection-api-key" label="API key" kind="password" value=api_key error=field("api_key")/>
            })}
            {(auth_type == AuthType::Basic).then(|| view! {
                <TextInput id="connection-username" label="User name" value=username error=field("username")/>
                <TextInput id="connection-password" label="Password" kind="password" value=password error=field("password")/>
            })}
            <div class="form-actions">
                <button type="submit" class="button button-primary" disabled=move || busy.get() || !ready.get()>
                    {move || if busy.get() { "Creating…" } else { "Create and Connect" }}
                </button>
            </div>
        </form>
    }
}
