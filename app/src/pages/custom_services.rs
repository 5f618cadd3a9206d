//! The Custom Services tab's actions: each of the organisation's custom services with Edit and
//! Delete (admins). Delete asks first ("Yes, Delete") and shows the server's reason when it
//! refuses (connections use the service). Edit opens the service's form in a dialog; before it
//! saves an edit that moves the service's endpoints, the dialog names the connections that will
//! need a new authorisation, as the server works it out (`service_edit_impact`).

use super::connections::Notice;
use super::new_service::form_alert;
use super::service_form::{Fields, ServiceFields};
use crate::api::{custom_service, delete_service, service_edit_impact, update_service};
use crate::components::dialog::{ConfirmDialog, Modal};
use crate::components::icons::{DeleteIcon, EditIcon};
use crate::connection::EditImpact;
use crate::error::AppError;
use crate::service::ServiceForm;
use leptos::either::Either;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// A custom service an action is aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: i64,
    pub name: String,
}

/// What the tab's buttons change: the service an action is about, and which dialog is open.
#[derive(Clone, Copy)]
pub struct Aim {
    target: RwSignal<Option<Target>>,
    editing: RwSignal<bool>,
    deleting: RwSignal<bool>,
}

impl Default for Aim {
    fn default() -> Aim {
        Aim { target: RwSignal::new(None), editing: RwSignal::new(false), deleting: RwSignal::new(false) }
    }
}

/// The Edit and Delete buttons of one custom service.
#[component]
pub fn ServiceActions(target: Target, aim: Aim) -> impl IntoView {
    let (edit, delete) = (target.clone(), target.clone());
    view! {
        <span class="service-actions">
            <button type="button" class="icon-button" title="Edit" aria-label=format!("Edit {}", target.name)
                on:click=move |_| { aim.target.set(Some(edit.clone())); aim.editing.set(true); }>
                <EditIcon/>
            </button>
            <button type="button" class="icon-button" title="Delete" aria-label=format!("Delete {}", target.name)
                on:click=move |_| { aim.target.set(Some(delete.clone())); aim.deleting.set(true); }>
                <DeleteIcon/>
            </button>
        </span>
    }
}

/// The dialogs of the tab, one edit and one delete, aimed by `aim`.
#[component]
pub fn ServiceDialogs(aim: Aim, notice: RwSignal<Option<Notice>>, changed: RwSignal<u32>) -> impl IntoView {
    let name = move || aim.target.get().map(|t| t.name).unwrap_or_default();
    let on_delete = Callback::new(move |_| {
        let Some(t) = aim.target.get_untracked() else { return };
        spawn_local(async move {
            notice.set(Some(match delete_service(t.id).await {
                Ok(()) => {
                    changed.update(|n| *n += 1);
                    Notice::Done(format!("“{}” is deleted.", t.name))
                }
                Err(e) => Notice::Failed(e.message),
            }));
        });
    });
    view! {
        <ConfirmDialog
            open=aim.deleting
            title=Signal::derive(move || format!("Delete “{}”?", name()))
            text=Signal::derive(move || format!("“{}” and its client secret will be gone for good. A service that connections use cannot be deleted.", name()))
            confirm="Yes, Delete"
            on_confirm=on_delete
        />
        <Modal open=aim.editing title=Signal::derive(move || format!("Edit “{}”", name())) id="dialog-edit-service">
            // The form is built each time the dialog opens, for the service it opens on.
            {move || aim.editing.get().then(|| aim.target.get_untracked()).flatten().map(|t| view! {
                <EditService target=t open=aim.editing notice=notice changed=changed/>
            })}
        </Modal>
    }
}

/// The edit dialog's body: the service's form once it has arrived, and Update.
#[component]
fn EditService(
    target: Target,
    open: RwSignal<bool>,
    notice: RwSignal<Option<Notice>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let id = target.id;
    let loaded = crate::api::resource(move || id, custom_service);
    view! {
        <Transition fallback=|| view! { <p>"Loading the service…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(view) => Either::Left(view! { <EditForm id=id view=view open=open notice=notice changed=changed/> }),
                    Err(e) => Either::Right(view! { <p class="alert alert-error" role="alert">{e.message}</p> }),
                }
            })}
        </Transition>
    }
}

#[component]
fn EditForm(
    id: i64,
    view: crate::connection::CustomServiceView,
    open: RwSignal<bool>,
    notice: RwSignal<Option<Notice>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let f = Fields::of(&view.form());
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let ready = crate::components::form::hydrated();
    // What saving would cost, as the server says, once asked: shown before the save goes ahead.
    let impact = RwSignal::new(None::<(ServiceForm, Vec<String>)>);
    let field =
        move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name).map(str::to_string)));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = f.form();
        // Confirmed: the warning was shown for exactly this form.
        let confirmed = impact.get_untracked().is_some_and(|(warned, _)| warned == form);
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            if !confirmed {
                match service_edit_impact(id, form.clone()).await {
                    Ok(EditImpact { reauthorise }) if !reauthorise.is_empty() => {
                        busy.set(false);
                        impact.set(Some((form, reauthorise)));
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        busy.set(false);
                        error.set(Some(e));
                        return;
                    }
                }
            }
            let name = form.name.clone();
            let r = update_service(id, form).await;
            busy.set(false);
            match r {
                Ok(()) => {
                    open.set(false);
                    changed.update(|n| *n += 1);
                    notice.set(Some(Notice::Done(format!("“{}” is updated.", name.trim()))));
                }
                Err(e) => {
                    impact.set(None);
                    error.set(Some(e));
                }
            }
        });
    };
    let warning = move || {
        impact.get().map(|(_, names)| {
            view! {
                <div class="alert alert-warning" role="alert">
                    <p>"This edit changes where the service's secrets go. These connections will need a new authorisation:"</p>
                    <ul>{names.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                    <p>"Press Yes, Update to save anyway."</p>
                </div>
            }
        })
    };
    let secret_hint = if view.client_secret_set {
        "Leave empty to keep the stored secret; changing an endpoint or the client ID needs it again."
    } else {
        "Needed for the client credentials grant and by most providers."
    };
    view! {
        <form method="post" class="form" novalidate on:submit=submit>
            {form_alert(error)}
            <p class="field-hint">"Redirect URL: "<code>{view.callback_url.clone()}</code></p>
            <ServiceFields f=f field=field secret_hint=secret_hint/>
            {warning}
            <div class="dialog-actions">
                <button type="button" class="button" on:click=move |_| open.set(false)>"Cancel"</button>
                <button type="submit" class="button button-primary" disabled=move || busy.get() || !ready.get()>
                    {move || if impact.with(Option::is_some) { "Yes, Update" } else { "Update" }}
                </button>
            </div>
        </form>
    }
}
