//! Settings › Developer Space › Connections: the organisation's connections in two tabs, with
//! search, a status filter and paging (all on the server), and each row's actions on hover or
//! focus (their dialogs: `connection_actions.rs`).

use super::chrome::{signed_in, Chrome};
use super::connection_actions::{ActionDialogs, Actions};
use crate::api::connections;
use crate::authorise::{AuthBanner, Authoriser, Popup};
use crate::components::banner::{banner_view, Banner, Tone};
use crate::components::icons::{DeleteIcon, EditIcon};
use crate::components::table::TableHead;
use crate::components::tabs::Tabs;
use crate::connection::{ConnectOutcome, ConnectionForm, ConnectionQuery, ConnectionRow, ConnectionStatus};
use crate::error::AppError;
use crate::model::Viewer;
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
    spawn_local(async move {
        // Its code could not be fetched: said, and the next click tries again.
        if let Err(e) = connect_flow(link, popup.clone(), auth, notice, changed).await {
            popup.close();
            notice.set(Some(Notice::Failed(e.message)));
        }
    });
}

crate::lazy::fallible_lazy! {
    connect_flow_split,
    /// Connects `link` with what it has, and follows up in `popup` where the provider must be asked.
    /// A lazy function: the code that asks the server, decodes its answer and runs the popup's flow
    /// is fetched with the first click that needs it, not with the list.
    fn connect_flow(
        link: String,
        popup: Popup,
        auth: Authoriser,
        notice: RwSignal<Option<Notice>>,
        changed: RwSignal<u32>,
    ) -> Result<(), AppError> {
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
        Ok(())
    }
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
    // Back from an authorisation that ran in this tab (the popup was blocked), or from the
    // details page of a connection just deleted.
    // Only a link name is told: a crafted address cannot put sentences in the banner.
    let query = use_query_map().get_untracked();
    let link = |key| query.get(key).filter(|l| is_link_name(l));
    if let Some(link) = link("authorised") {
        notice.set(Some(Notice::Done(format!("“{link}” is connected."))));
    } else if let Some(link) = link("deleted") {
        notice.set(Some(Notice::Done(format!("“{link}” is deleted."))));
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

    let act = Actions::new(auth, notice, changed);

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
            <ActionDialogs act=act/>
        </Chrome>
    }
}

/// Whether `s` has a link name's shape (`LinkName::parse` without its messages, which the main
/// wasm module does without).
fn is_link_name(s: &str) -> bool {
    s.len() <= crate::connection::MAX_LINK_NAME
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
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

pub fn status_badge(status: ConnectionStatus, reason: Option<String>) -> impl IntoView {
    let class = format!("badge badge-{}", status.as_str().replace('_', "-"));
    view! { <span class=class title=reason>{status.label()}</span> }
}

#[component]
fn ConnectionTable(rows: Vec<ConnectionRow>, act: Actions) -> impl IntoView {
    view! {
        <table class="table table-connections">
            <TableHead caption="Connections" columns={&["Name", "Link name", "Service", "Status", "Created by", "Created"]} actions="Actions"/>
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

#[cfg(test)]
mod tests {
    use super::is_link_name;
    use crate::connection::LinkName;

    #[test]
    fn a_link_name_in_the_address_has_the_shape_link_name_parse_accepts() {
        let (longest, long) = ("a".repeat(64), "a".repeat(65));
        for s in
            ["crm", "acme_crm_2", "x", "", "Crm", "2fa", "_x", "a b", " crm", "“x” is", "a-b", "é", &longest, &long]
        {
            assert_eq!(is_link_name(s), LinkName::parse(s).is_ok() && s == s.trim(), "{s:?}");
        }
    }
}
