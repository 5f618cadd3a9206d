//! Settings › Developer Space › Connections: the organisation's connections in two tabs, with
//! search, a status filter and paging (all on the server), each row's actions on hover or focus,
//! and the dialogs for editing, revoking and deleting.

use super::chrome::{signed_in, Chrome};
use crate::api::{connection, connections, services, update_connection};
use crate::authorise::{AuthBanner, Authoriser, Popup};
use crate::components::banner::{banner_view, Banner, Tone};
use crate::components::dialog::{ConfirmDialog, Modal};
use crate::components::icons::{DeleteIcon, EditIcon};
use crate::components::tabs::Tabs;
use crate::connection::{ConnectOutcome, ConnectionForm, ConnectionQuery, ConnectionRow, ConnectionStatus, ServiceRef};
use crate::error::AppError;
use crate::model::Viewer;
use crate::service::Scope;
use crate::time::format_utc;
use leptos::either::{Either, EitherOf3, EitherOf4};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;

const PER_PAGE: u32 = 25;

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    signed_in(|viewer| view! { <List viewer=viewer/> })
}

/// The outcome of the last action, for the banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Busy(String),
    Done(String),
    Failed(String),
}

impl Notice {
    fn banner(self) -> Banner {
        let (tone, text, dismissable) = match self {
            Notice::Busy(text) => (Tone::Info, text, false),
            Notice::Done(text) => (Tone::Success, text, true),
            Notice::Failed(text) => (Tone::Error, text, true),
        };
        Banner { tone, text, link: None, dismissable }
    }
}

#[component]
pub fn NoticeBanner(notice: RwSignal<Option<Notice>>) -> impl IntoView {
    banner_view(Signal::derive(move || notice.get().map(Notice::banner)), Callback::new(move |_| notice.set(None)))
}

/// Connect, Enable or Reconnect: at once, or through the popup (opened in the click).
pub fn connect_now(link: String, auth: Authoriser, notice: RwSignal<Option<Notice>>, changed: RwSignal<u32>) {
    let popup = Popup::open();
    notice.set(Some(Notice::Busy(format!("Connecting “{link}”…"))));
    spawn_local(connect_flow(link, popup, auth, notice, changed));
}

/// Connects `link` with what it has, and follows up in `popup` where the provider must be asked.
/// A lazy function: the code that asks the server, decodes its answer and runs the popup's flow
/// is fetched with the first click that needs it, not with the list.
#[leptos::lazy]
async fn connect_flow(
    link: String,
    popup: Popup,
    auth: Authoriser,
    notice: RwSignal<Option<Notice>>,
    changed: RwSignal<u32>,
) {
    match crate::api::connect(link.clone(), ConnectionForm::default()).await {
        Ok(ConnectOutcome::Authorize { start_url }) => {
            notice.set(None);
            auth.begin(popup, link, &start_url);
        }
        Ok(ConnectOutcome::Connected) => {
            popup.close();
            crate::embed::notify(crate::embed::Event::Authorised, &link);
            notice.set(Some(Notice::Done(format!("“{link}” is connected."))));
            changed.update(|n| *n += 1);
        }
        Err(e) => {
            popup.close();
            notice.set(Some(Notice::Failed(e.message)));
            changed.update(|n| *n += 1);
        }
    }
}

/// Revoke or delete: what the confirmation dialog asked about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Revoke,
    Delete,
}

/// Revokes or deletes `t`, then says how it went. A lazy function: fetched with the first
/// confirmation, not with the list.
#[leptos::lazy]
async fn end_connection(t: ConnectionRow, ending: Ending, notice: RwSignal<Option<Notice>>, changed: RwSignal<u32>) {
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
            Notice::Done(format!("“{}” is deleted.", t.name))
        }
        (Err(e), _) => Notice::Failed(e.message),
    }));
    changed.update(|n| *n += 1);
}

#[component]
fn List(viewer: Viewer) -> impl IntoView {
    let tab = RwSignal::new("mine");
    let search = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let page = RwSignal::new(0u32);
    let changed = RwSignal::new(0u32);
    let auth = Authoriser::new();
    let notice = RwSignal::new(None::<Notice>);
    // Back from an authorisation that ran in this tab (the popup was blocked).
    let query_map = use_query_map();
    if let Some(link) = query_map.get_untracked().get("authorised") {
        notice.set(Some(Notice::Done(format!("“{link}” is connected."))));
    }
    // New filters start at the first page.
    Effect::new(move |_| {
        tab.track();
        search.track();
        status.track();
        page.set(0);
    });
    let rows = crate::api::resource(
        move || {
            let q = ConnectionQuery {
                internal: tab.get() == "internal",
                search: search.get(),
                status: ConnectionStatus::parse(&status.get()),
                page: page.get(),
                per_page: PER_PAGE,
            };
            (q, changed.get(), auth.finished.get())
        },
        |(q, _, _)| connections(q),
    );

    // The row an action is about.
    let target = RwSignal::new(None::<ConnectionRow>);
    let asking_revoke = RwSignal::new(false);
    let asking_delete = RwSignal::new(false);
    let editing = RwSignal::new(false);
    let act = Actions { target, asking_revoke, asking_delete, editing, auth, notice, changed };
    let target_name = move || target.get().map(|t| t.name).unwrap_or_default();

    let end = move |ending: Ending| {
        Callback::new(move |_| {
            let Some(t) = target.get_untracked() else { return };
            let busy = match ending {
                Ending::Revoke => "Revoking",
                Ending::Delete => "Deleting",
            };
            notice.set(Some(Notice::Busy(format!("{busy} “{}”…", t.name))));
            spawn_local(end_connection(t, ending, notice, changed));
        })
    };

    view! {
        <Chrome viewer=viewer current="connections">
            <div class="page-head">
                <h1>"Connections"</h1>
                <a class="button button-primary" href="/settings/developer-space/connections/new">"+ New Connection"</a>
            </div>
            <AuthBanner auth=auth/>
            <NoticeBanner notice=notice/>
            <Tabs
                label="Connection lists"
                selected=tab
                tabs=vec![("mine", "My Connections"), ("internal", "Internal Connections")]
            />
            <section id=move || format!("panel-{}", tab.get()) role="tabpanel" aria-labelledby=move || format!("tab-{}", tab.get()) class="panel">
                <div class="toolbar" role="search">
                    <label class="visually-hidden" for="connection-search">"Search connections"</label>
                    <input
                        id="connection-search"
                        type="search"
                        placeholder="Search by name, link name or service"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                    <label class="visually-hidden" for="connection-status">"Status"</label>
                    <select id="connection-status" on:change=move |ev| status.set(event_target_value(&ev))>
                        <option value="">"All statuses"</option>
                        {ConnectionStatus::ALL
                            .iter()
                            .map(|s| view! { <option value=s.as_str()>{s.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <Transition fallback=|| view! { <p>"Loading connections…"</p> }>
                    {move || Suspend::new(async move {
                        match rows.await {
                            Ok(p) if p.rows.is_empty() => EitherOf3::A(empty_state(tab.get_untracked() == "internal", !search.get_untracked().is_empty() || !status.get_untracked().is_empty())),
                            Ok(p) => {
                                let total = p.total;
                                let first = i64::from(p.page) * i64::from(p.per_page);
                                let last = (first + p.rows.len() as i64).min(total);
                                let more = last < total;
                                EitherOf3::B(view! {
                                    <ConnectionTable rows=p.rows act=act/>
                                    <nav class="pager" aria-label="Pages">
                                        <span>{format!("{}–{} of {}", first + 1, last, total)}</span>
                                        <button type="button" class="button" disabled=p.page == 0 on:click=move |_| page.update(|n| *n = n.saturating_sub(1))>"Previous"</button>
                                        <button type="button" class="button" disabled=!more on:click=move |_| page.update(|n| *n += 1)>"Next"</button>
                                    </nav>
                                })
                            }
                            Err(e) => EitherOf3::C(view! { <div class="alert alert-error" role="alert">{e.message}</div> }),
                        }
                    })}
                </Transition>
            </section>
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
            {move || editing.get().then(|| Suspend::new(edit_dialog(editing, target, notice, changed)))}
        </Chrome>
    }
}

fn empty_state(internal: bool, filtered: bool) -> impl IntoView {
    let (title, text) = match (internal, filtered) {
        (_, true) => ("No matching connections", "No connection matches the search and the status filter."),
        (false, false) => (
            "No connections yet",
            "Connections that you and your colleagues create appear here. Scripts call a third-party API through a connection by naming its link name.",
        ),
        (true, false) => (
            "No internal connections",
            "Built-in integrations create internal connections through the admin API. They are listed here and cannot be edited or deleted.",
        ),
    };
    view! {
        <div class="empty">
            <h2>{title}</h2>
            <p>{text}</p>
        </div>
    }
}

/// What the row buttons change.
#[derive(Clone, Copy)]
struct Actions {
    target: RwSignal<Option<ConnectionRow>>,
    asking_revoke: RwSignal<bool>,
    asking_delete: RwSignal<bool>,
    editing: RwSignal<bool>,
    auth: Authoriser,
    notice: RwSignal<Option<Notice>>,
    changed: RwSignal<u32>,
}

pub fn status_badge(status: ConnectionStatus, reason: Option<String>) -> impl IntoView {
    let class = format!("badge badge-{}", status.as_str().replace('_', "-"));
    view! { <span class=class title=reason>{status.label()}</span> }
}

#[component]
fn ConnectionTable(rows: Vec<ConnectionRow>, act: Actions) -> impl IntoView {
    view! {
        <table class="table table-connections">
            <caption class="visually-hidden">"Connections"</caption>
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Link name"</th>
                    <th scope="col">"Service"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Created by"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| view! { <Row r=r act=act/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Row(r: ConnectionRow, act: Actions) -> impl IntoView {
    let href = format!("/settings/developer-space/connections/{}", r.link_name);
    let enable = matches!(r.status, ConnectionStatus::Revoked);
    let reconnect =
        matches!(r.status, ConnectionStatus::NotConnected | ConnectionStatus::NeedsReauth | ConnectionStatus::Error);
    let pick = {
        let r = r.clone();
        move || act.target.set(Some(r.clone()))
    };
    let actions = if r.can_manage {
        let (p1, p2, p3) = (pick.clone(), pick.clone(), pick.clone());
        let link = r.link_name.clone();
        let name = r.name.clone();
        EitherOf4::A(view! {
            <div class="row-actions">
                <button type="button" class="icon-button" aria-label=format!("Edit {name}") title="Edit" on:click=move |_| { p1(); act.editing.set(true); }>
                    <EditIcon/>
                </button>
                {if enable || reconnect {
                    let link = link.clone();
                    let label = if enable { "Enable" } else { "Connect" };
                    Either::Left(view! {
                        <button type="button" class="button button-quiet" aria-label=format!("{label} {name}") on:click=move |_| {
                            p2();
                            connect_now(link.clone(), act.auth, act.notice, act.changed);
                        }>{label}</button>
                    })
                } else {
                    Either::Right(view! {
                        <button type="button" class="button button-quiet" aria-label=format!("Revoke {name}") on:click=move |_| { p2(); act.asking_revoke.set(true); }>
                            "Revoke"
                        </button>
                    })
                }}
                <button type="button" class="icon-button icon-danger" aria-label=format!("Delete {name}") title="Delete" on:click=move |_| { p3(); act.asking_delete.set(true); }>
                    <DeleteIcon/>
                </button>
            </div>
        })
    } else if r.internal {
        EitherOf4::B(view! { <span class="muted">"Managed by its integration"</span> })
    } else if r.per_user {
        let link = r.link_name.clone();
        let name = r.name.clone();
        EitherOf4::C(view! {
            <div class="row-actions">
                <button type="button" class="button button-quiet" aria-label=format!("Connect my account to {name}") on:click=move |_| {
                    pick();
                    connect_now(link.clone(), act.auth, act.notice, act.changed);
                }>"Connect my account"</button>
            </div>
        })
    } else {
        EitherOf4::D(())
    };
    view! {
        <tr class="row-hoverable">
            <th scope="row"><a href=href>{r.name.clone()}</a></th>
            <td><code>{r.link_name.clone()}</code></td>
            <td>{r.service_name.clone()}</td>
            <td>{status_badge(r.status, r.status_reason.clone())}</td>
            <td>{r.created_by.clone()}</td>
            <td>{format_utc(r.created_at)}</td>
            <td class="actions">{actions}</td>
        </tr>
    }
}

/// What the edit dialog shows when it opens: the scopes the connection has, and the scopes it can
/// choose from (the service's, and any chosen earlier that the service no longer lists). A lazy
/// function: the code that fetches and decodes a connection's details and the services, which the
/// details and new-connection pages share, stays out of the main wasm module until an edit.
#[leptos::lazy]
async fn edit_choices(link_name: String, service: ServiceRef) -> Result<(Vec<String>, Vec<Scope>), AppError> {
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

/// The edit dialog, as a lazy function (see [`EditDialog`]).
#[leptos::lazy]
fn edit_dialog(
    open: RwSignal<bool>,
    target: RwSignal<Option<ConnectionRow>>,
    notice: RwSignal<Option<Notice>>,
    changed: RwSignal<u32>,
) -> AnyView {
    view! { <EditDialog open=open target=target notice=notice changed=changed/> }.into_any()
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
            <form class="form" novalidate on:submit=save>
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
