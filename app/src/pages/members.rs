//! Settings › Developer Space › Members (admins): the organisation's people, their open sign-in
//! sessions and API tokens, and what an admin may do about them: end a person's sessions, revoke
//! one of their tokens, remove them. Each asks first. A lazy page: none of it is in the main module.

use super::chrome::{signed_in, Chrome};
use super::FormAlert;
use crate::api::{end_member_sessions, members, remove_member, revoke_member_token};
use crate::components::dialog::Modal;
use crate::components::form::Submit;
use crate::components::table::TableHead;
use crate::members::MemberView;
use crate::model::{Role, Viewer};
use crate::time::format_utc;
use crate::tokens::ApiTokenView;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub fn MembersPage() -> impl IntoView {
    signed_in(|viewer| view! { <Members viewer=viewer/> })
}

/// What the admin is asked to confirm.
#[derive(Debug, Clone)]
enum Ask {
    EndSessions(MemberView),
    Revoke(MemberView, ApiTokenView),
    Remove(MemberView),
}

impl Ask {
    fn title(&self) -> String {
        match self {
            Ask::EndSessions(m) => format!("End every session of {}?", m.name),
            Ask::Revoke(m, t) => format!("Revoke {}'s token “{}”?", m.name, t.name),
            Ask::Remove(m) => format!("Remove {} from the organisation?", m.name),
        }
    }

    fn text(&self) -> &'static str {
        match self {
            Ask::EndSessions(_) => "They are signed out of every browser at once and must sign in again. Their API tokens keep working.",
            Ask::Revoke(..) => "Scripts that use this token will be refused from now on. This cannot be undone.",
            Ask::Remove(_) => "Their API tokens stop working and their sessions end at once; their own grants on login-user connections are revoked at the provider and erased. Connections they created stay. This cannot be undone.",
        }
    }

    fn confirm(&self) -> &'static str {
        match self {
            Ask::EndSessions(_) => "End sessions",
            Ask::Revoke(..) => "Revoke",
            Ask::Remove(_) => "Remove",
        }
    }
}

#[component]
fn Members(viewer: Viewer) -> impl IntoView {
    let act = Submit::new();
    // Bumped by each change, to list the people again.
    let changed = RwSignal::new(0u32);
    let list = crate::api::resource(move || changed.get(), |_| members());
    let open = RwSignal::new(false);
    let ask = RwSignal::new(None::<Ask>);
    let confirm = move |_| {
        open.set(false);
        let done = move |()| changed.update(|n| *n += 1);
        match ask.get_untracked() {
            Some(Ask::EndSessions(m)) => act.run(end_member_sessions(m.user_id), done),
            Some(Ask::Revoke(m, t)) => act.run(revoke_member_token(m.user_id, t.id), done),
            Some(Ask::Remove(m)) => act.run(remove_member(m.user_id), done),
            None => {}
        }
    };
    let admin = viewer.role == Role::Admin;
    view! {
        <Chrome viewer=viewer current="members">
            <div class="page-head">
                <h1>"Members"</h1>
            </div>
            <p class="lead">
                "The people of your organisation, their open sessions and their API tokens. End a person's sessions or revoke a token that may have leaked; remove someone who has left."
            </p>
            <FormAlert error=act.error/>
            {if admin {
                Either::Left(view! {
                    <Transition fallback=|| view! { <p>"Loading members…"</p> }>
                        {move || Suspend::new(async move {
                            match list.await {
                                Ok(people) => Either::Left(view! { <MemberTable people=people open=open ask=ask/> }),
                                Err(e) => Either::Right(view! { <div class="alert alert-error" role="alert">{e.message}</div> }),
                            }
                        })}
                    </Transition>
                })
            } else {
                Either::Right(view! {
                    <div class="alert alert-error" role="alert">"Only admins can see and manage the organisation's members."</div>
                })
            }}
            <Modal open=open title=Signal::derive(move || ask.get().map(|a| a.title()).unwrap_or_default()) id="dialog-member">
                <p>{move || ask.get().map(|a| a.text()).unwrap_or_default()}</p>
                // Cancel is focused when the dialog opens: it comes first (no `autofocus`, which
                // Chromium refuses inside a console's cross-origin frame).
                <div class="dialog-actions">
                    <button type="button" class="button" on:click=move |_| open.set(false)>
                        "Cancel"
                    </button>
                    <button type="button" class="button button-danger" on:click=confirm>
                        {move || ask.get().map(|a| a.confirm()).unwrap_or_default()}
                    </button>
                </div>
            </Modal>
        </Chrome>
    }
}

#[component]
fn MemberTable(people: Vec<MemberView>, open: RwSignal<bool>, ask: RwSignal<Option<Ask>>) -> impl IntoView {
    let asking = Callback::new(move |a: Ask| {
        ask.set(Some(a));
        open.set(true);
    });
    view! {
        <table class="table">
            <TableHead caption="Members of your organisation" columns={&["Name", "Email", "Role", "Sessions", "API tokens"]} actions="Actions"/>
            <tbody>
                {people
                    .into_iter()
                    .map(|m| {
                        let (end, remove) = (m.clone(), m.clone());
                        let tokens = m.tokens.clone();
                        let owner = m.clone();
                        view! {
                            <tr>
                                <th scope="row">{m.name.clone()}{m.is_you.then_some(" (you)")}</th>
                                <td>{m.email.clone()}</td>
                                <td>{if m.role == Role::Admin { "Admin" } else { "Member" }}</td>
                                <td>{m.active_sessions}</td>
                                <td>
                                    <TokenList member=owner tokens=tokens ask=asking/>
                                </td>
                                <td class="actions">
                                    <button
                                        type="button"
                                        class="button button-quiet"
                                        aria-label=format!("End the sessions of {}", m.name)
                                        on:click=move |_| asking.run(Ask::EndSessions(end.clone()))
                                    >
                                        "End sessions"
                                    </button>
                                    {(!m.is_you).then(|| view! {
                                        <button
                                            type="button"
                                            class="button button-quiet"
                                            aria-label=format!("Remove {}", m.name)
                                            on:click=move |_| asking.run(Ask::Remove(remove.clone()))
                                        >
                                            "Remove"
                                        </button>
                                    })}
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
fn TokenList(member: MemberView, tokens: Vec<ApiTokenView>, ask: Callback<Ask>) -> impl IntoView {
    if tokens.is_empty() {
        return Either::Left(view! { <span>"None"</span> });
    }
    Either::Right(view! {
        <ul class="token-list">
            {tokens
                .into_iter()
                .map(|t| {
                    let expiry = t.expires_at.map(|at| format!(", expires {}", format_utc(at))).unwrap_or_default();
                    let used = t.last_used_at.map(|at| format!(", last used {}", format_utc(at))).unwrap_or_default();
                    let summary = format!("{}… created {}{used}{expiry}", t.prefix, format_utc(t.created_at));
                    let status = match t.revoked_at {
                        Some(at) => Either::Left(view! { <span class="badge badge-muted">"Revoked "{format_utc(at)}</span> }),
                        None => {
                            let (m, row) = (member.clone(), t.clone());
                            Either::Right(view! {
                                <button
                                    type="button"
                                    class="button button-quiet"
                                    aria-label=format!("Revoke {}", t.name)
                                    on:click=move |_| ask.run(Ask::Revoke(m.clone(), row.clone()))
                                >
                                    "Revoke"
                                </button>
                            })
                        }
                    };
                    view! {
                        <li>
                            <strong>{t.name.clone()}</strong>
                            " "
                            <code>{summary}</code>
                            " "
                            {status}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    })
}
