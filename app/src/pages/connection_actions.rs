//! The actions on one connection, for the list's rows and the details page alike: what their
//! buttons aim at (`Actions`), the dialogs that ask before Revoke and Delete and the Edit dialog
//! (name and scopes), and the lazy code behind them, fetched with the first use.

use super::connections::Notice;
use crate::api::{connection, services, update_connection};
use crate::authorise::Authoriser;
use crate::components::dialog::{ConfirmDialog, Modal};
use crate::connection::{ConnectionRow, ServiceRef};
use crate::error::AppError;
use crate::service::Scope;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// What a connection's action buttons change (a row's, or the details page's).
#[derive(Clone, Copy)]
pub struct Actions {
    /// The connection an action is about.
    pub target: RwSignal<Option<ConnectionRow>>,
    pub asking_revoke: RwSignal<bool>,
    pub asking_delete: RwSignal<bool>,
    pub editing: RwSignal<bool>,
    pub auth: Authoriser,
    pub notice: RwSignal<Option<Notice>>,
    pub changed: RwSignal<u32>,
    /// Where a deleted connection's page goes (the details page: back to the list, which says
    /// so); the list stays and tells it in its own banner.
    pub on_deleted: Option<Callback<ConnectionRow>>,
}

impl Actions {
    pub fn new(auth: Authoriser, notice: RwSignal<Option<Notice>>, changed: RwSignal<u32>) -> Actions {
        let no = || RwSignal::new(false);
        Actions {
            target: RwSignal::new(None),
            asking_revoke: no(),
            asking_delete: no(),
            editing: no(),
            auth,
            notice,
            changed,
            on_deleted: None,
        }
    }

    /// These actions on a page that shows one connection: once it is deleted, `leave` runs.
    pub fn leaving_on_delete(self, leave: Callback<ConnectionRow>) -> Actions {
        Actions { on_deleted: Some(leave), ..self }
    }
}

/// The dialogs behind a connection's actions (Edit, Revoke, Delete), for the list's rows and the
/// details page alike, aimed at `act.target`.
#[component]
pub fn ActionDialogs(act: Actions) -> impl IntoView {
    let Actions { target, asking_revoke, asking_delete, editing, notice, changed, on_deleted, .. } = act;
    let target_name = move || target.get().map(|t| t.name).unwrap_or_default();
    let end = move |ending: Ending| {
        Callback::new(move |_| {
            let Some(t) = target.get_untracked() else { return };
            let busy = match ending {
                Ending::Revoke => "Revoking",
                Ending::Delete => "Deleting",
            };
            notice.set(Some(Notice::Busy(format!("{busy} “{}”…", t.name))));
            spawn_local(async move {
                if let Err(e) = end_connection(t, ending, notice, changed, on_deleted).await {
                    notice.set(Some(Notice::Failed(e.message)));
                }
            });
        })
    };
    view! {
        <ConfirmDialog
            open=asking_revoke
            title=Signal::derive(move || format!("Revoke “{}”?", target_name()))
            text="Its tokens are revoked at the provider where it allows it, and erased here. Scripts that use it are refused until someone enables it again."
            confirm="Revoke"
            on_confirm=end(Ending::Revoke)
        />
        <ConfirmDialog
            open=asking_delete
            title=Signal::derive(move || format!("Delete “{}”?", target_name()))
            text="Its tokens are revoked at the provider where possible, then the connection and every grant are gone. Scripts that use its link name stop working. This cannot be undone."
            confirm="Yes, Delete"
            on_confirm=end(Ending::Delete)
        />
        // Mounted while open, from a chunk of its own: editing is rare, the list is not.
        {move || editing.get().then(|| Suspend::new(async move {
            match edit_dialog(editing, target, notice, changed).await {
                Ok(dialog) => dialog,
                Err(e) => {
                    editing.set(false);
                    notice.set(Some(Notice::Failed(e.message)));
                    ().into_any()
                }
            }
        }))}
    }
}

/// Revoke or delete: what the confirmation dialog asked about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Revoke,
    Delete,
}

crate::lazy::fallible_lazy! {
    end_connection_split,
    /// Revokes or deletes `t`, then says how it went. A lazy function: fetched with the first
    /// confirmation, not with the list.
    fn end_connection(
        t: ConnectionRow,
        ending: Ending,
        notice: RwSignal<Option<Notice>>,
        changed: RwSignal<u32>,
        on_deleted: Option<Callback<ConnectionRow>>,
    ) -> Result<(), AppError> {
        let r = match ending {
            Ending::Revoke => crate::api::revoke_connection(t.link_name.clone()).await,
            Ending::Delete => crate::api::delete_connection(t.link_name.clone()).await,
        };
        notice.set(Some(match (r, ending) {
            (Ok(()), Ending::Revoke) => {
                crate::embed::notify(crate::embed::Event::Revoked, &t.link_name);
                Notice::Done(format!(
                    "“{}” is revoked. Scripts using it get “connection revoked” until it is enabled again.",
                    t.name
                ))
            }
            (Ok(()), Ending::Delete) => {
                crate::embed::notify(crate::embed::Event::Deleted, &t.link_name);
                if let Some(leave) = on_deleted {
                    leave.run(t);
                    return Ok(());
                }
                Notice::Done(format!("“{}” is deleted.", t.name))
            }
            (Err(e), _) => Notice::Failed(e.message),
        }));
        changed.update(|n| *n += 1);
        Ok(())
    }
}

crate::lazy::fallible_lazy! {
    edit_choices_split,
    /// What the edit dialog shows when it opens: the scopes the connection has, and the scopes it can
    /// choose from (the service's, and any chosen earlier that the service no longer lists). A lazy
    /// function: the code that fetches and decodes a connection's details and the services, which the
    /// details and new-connection pages share, stays out of the main wasm module until an edit (a
    /// chunk that cannot be fetched is the call's `Err`, told in the dialog).
    fn edit_choices(link_name: String, service: ServiceRef) -> Result<(Vec<String>, Vec<Scope>), AppError> {
        let (details, all) = (connection(link_name).await, services().await);
        let (details, all) = (details?, all?);
        let chosen = details.scopes.iter().map(|s| s.name.clone()).collect();
        let mut scopes = all.into_iter().find(|s| s.service == service).map(|s| s.scopes).unwrap_or_default();
        for s in details.scopes {
            if !scopes.iter().any(|x| x.name == s.name) {
                scopes.push(s);
            }
        }
        Ok((chosen, scopes))
    }
}

crate::lazy::fallible_lazy! {
    edit_dialog_split,
    /// The edit dialog, as a lazy function (see [`EditDialog`]).
    fn edit_dialog(
        open: RwSignal<bool>,
        target: RwSignal<Option<ConnectionRow>>,
        notice: RwSignal<Option<Notice>>,
        changed: RwSignal<u32>,
    ) -> Result<AnyView, AppError> {
        Ok(view! { <EditDialog open=open target=target notice=notice changed=changed/> }.into_any())
    }
}

/// Edit: the name and the scopes (of the service's scopes). Changed scopes apply at the next
/// authorisation.
#[component]
fn EditDialog(
    open: RwSignal<bool>,
    target: RwSignal<Option<ConnectionRow>>,
    notice: RwSignal<Option<Notice>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<String>::new());
    let offered = RwSignal::new(Vec::<Scope>::new());
    let error = RwSignal::new(None::<AppError>);
    let saving = RwSignal::new(false);
    // The connection whose scopes the dialog holds now: Update waits for them, so a quick rename
    // can never send another connection's scopes, or none, and cost the authorisation.
    let loaded = RwSignal::new(None::<String>);
    // Load what the dialog shows each time it opens.
    Effect::new(move |_| {
        if !open.get() {
            return;
        }
        let Some(t) = target.get_untracked() else { return };
        name.set(t.name.clone());
        error.set(None);
        loaded.set(None);
        chosen.set(Vec::new());
        offered.set(Vec::new());
        spawn_local(async move {
            let answer = edit_choices(t.link_name.clone(), t.service.clone()).await;
            // A late answer for a dialog opened since on another connection is not this one's.
            if target.try_with_untracked(|now| now.as_ref().map(|n| n.link_name == t.link_name)) != Some(Some(true)) {
                return;
            }
            match answer {
                Ok((now, scopes)) => {
                    chosen.set(now);
                    offered.set(scopes);
                    loaded.set(Some(t.link_name));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    });
    let ready =
        move || target.with(|t| t.as_ref().map(|t| t.link_name.clone())) == loaded.get() && loaded.get().is_some();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(t) = target.get_untracked() else { return };
        if loaded.get_untracked().as_deref() != Some(t.link_name.as_str()) {
            return;
        }
        saving.set(true);
        // Read before the await: the page may be gone when the answer comes (writes are then
        // dropped; a read would trap).
        let new_name = name.get_untracked();
        let scopes = chosen.get_untracked();
        spawn_local(async move {
            let r = update_connection(t.link_name.clone(), new_name.clone(), scopes).await;
            saving.set(false);
            match r {
                Ok(()) => {
                    open.set(false);
                    notice.set(Some(Notice::Done(format!("“{new_name}” is updated."))));
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let name_error = move || error.get().and_then(|e| e.field("name").map(str::to_string));
    let scopes_error = move || error.get().and_then(|e| e.field("scopes").map(str::to_string));
    let general = move || error.get().filter(|e| e.fields.is_empty()).map(|e| e.message);
    view! {
        <Modal open=open title=Signal::derive(move || format!("Edit “{}”", target.get().map(|t| t.name).unwrap_or_default())) id="dialog-edit">
            <form method="post" class="form" novalidate on:submit=save>
                <p class="field-hint">"The link name and the service stay as they are. Changed scopes apply at the next authorisation."</p>
                {move || general().map(|m| view! { <div class="alert alert-error" role="alert">{m}</div> })}
                <div class="field" class:field-invalid=move || name_error().is_some()>
                    <label for="edit-name">"Connection Name"</label>
                    <input id="edit-name" type="text" bind:value=name aria-invalid=move || name_error().is_some().to_string() aria-describedby="edit-name-error"/>
                    <p class="field-error" id="edit-name-error" role="alert" hidden=move || name_error().is_none()>{name_error}</p>
                </div>
                <fieldset class="field scopes" aria-describedby="edit-scopes-error">
                    <legend>"Scope"</legend>
                    // Rebuilt when the dialog opens (a keyed <For> would add its diffing code to the wasm).
                    {move || offered.get().into_iter().map(|s| {
                            let n = s.name.clone();
                            let n2 = s.name.clone();
                            view! {
                                <label class="check">
                                    <input
                                        type="checkbox"
                                        prop:checked=move || chosen.get().contains(&n)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            chosen.update(|c| {
                                                c.retain(|x| *x != n2);
                                                if on {
                                                    c.push(n2.clone());
                                                }
                                            });
                                        }
                                    />
                                    {s.display.clone()}
                                    <code class="muted">{s.name.clone()}</code>
                                </label>
                            }
                        }).collect_view()}
                    <p class="field-error" id="edit-scopes-error" role="alert" hidden=move || scopes_error().is_none()>{scopes_error}</p>
                </fieldset>
                <div class="dialog-actions">
                    <button type="button" class="button" on:click=move |_| open.set(false)>"Cancel"</button>
                    <button type="submit" class="button button-primary" disabled=move || saving.get() || !ready()>
                        {move || if saving.get() { "Updating…" } else { "Update" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
