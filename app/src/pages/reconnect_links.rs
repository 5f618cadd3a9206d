//! A connection's reconnect links, on its details page (admins): make a single-use link that lets
//! one person of the organisation authorise the connection again (or add their own account to a
//! connection with each person's own), its URL shown once, to copy and send; see the links made
//! for the connection and revoke one not used yet.

use super::{field_error, FormAlert};
use crate::api::{create_reconnect_link, members, reconnect_links, revoke_reconnect_link};
use crate::components::copy::CopyButton;
use crate::components::form::{hydrated, Submit};
use crate::components::table::TableHead;
use crate::error::{AppError, FieldError};
use crate::members::MemberView;
use crate::reconnect::{LinkState, NewReconnectLink, ReconnectLinkView, DEFAULT_MINUTES};
use crate::time::format_utc;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

/// The validities offered, in minutes, with their words.
const VALIDITIES: &[(i64, &str)] =
    &[(60, "1 hour"), (DEFAULT_MINUTES, "1 day"), (3 * 24 * 60, "3 days"), (7 * 24 * 60, "7 days")];

/// `shown` holds a new link's URL: owned by the page, so that the details being read again (after
/// any action on the page) do not take it away before it is copied.
#[component]
pub fn ReconnectLinks(link: String, needs_reauth: bool, shown: RwSignal<Option<NewReconnectLink>>) -> impl IntoView {
    let act = Submit::new();
    let changed = RwSignal::new(0u32);
    let listed = {
        let link = link.clone();
        crate::api::resource(move || (link.clone(), changed.get()), |(l, _)| reconnect_links(l))
    };
    let people = crate::api::resource(|| (), |_| members());
    // A link just made shows here only on its own connection's page.
    let here = link.clone();
    let lead = if needs_reauth {
        "This connection needs authorising again. If someone else should do it, make them a link: "
    } else {
        "To have someone else authorise this connection (or add their own account), make them a link: "
    };
    view! {
        <section class="reconnect-links" aria-labelledby="reconnect-title">
            <h2 id="reconnect-title">"Reconnect links"</h2>
            <p class="field-hint">
                {lead}
                "it works once, for that person only, once they are signed in, until it expires. Send it to them yourself."
            </p>
            <Transition fallback=|| view! { <p>"Loading the people…"</p> }>
                {move || {
                    let link = link.clone();
                    Suspend::new(async move {
                        match people.await {
                            Ok(people) => Either::Left(view! { <NewLinkForm link=link people=people shown=shown changed=changed/> }),
                            Err(e) => Either::Right(view! { <div class="alert alert-error" role="alert">{e.message}</div> }),
                        }
                    })
                }}
            </Transition>
            {move || shown.get().filter(|s| s.link.link_name == here).map(|s| view! { <ShownLink shown=s/> })}
            <FormAlert error=act.error/>
            <Transition fallback=|| view! { <p>"Loading the links…"</p> }>
                {move || Suspend::new(async move {
                    match listed.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! { <p class="muted">"No reconnect links for this connection."</p> }),
                        Ok(list) => EitherOf3::B(view! { <LinkTable links=list act=act changed=changed/> }),
                        Err(e) => EitherOf3::C(view! { <div class="alert alert-error" role="alert">{e.message}</div> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn NewLinkForm(
    link: String,
    people: Vec<MemberView>,
    shown: RwSignal<Option<NewReconnectLink>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let create = Submit::new();
    let ready = hydrated();
    let person = RwSignal::new(String::new());
    let minutes = RwSignal::new(DEFAULT_MINUTES.to_string());
    let error: Signal<Option<AppError>> = create.error.into();
    let person_error = field_error(error, "user_id");
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        shown.set(None);
        let Ok(user_id) = person.get_untracked().parse::<i64>() else {
            let message = "Choose the person the link is for.".to_string();
            create.error.set(Some(AppError::validation(vec![FieldError { field: "user_id".into(), message }])));
            return;
        };
        let minutes = minutes.get_untracked().parse::<i64>().unwrap_or(DEFAULT_MINUTES);
        create.run(create_reconnect_link(link.clone(), user_id, minutes), move |made| {
            person.set(String::new());
            shown.set(Some(made));
            changed.update(|n| *n += 1);
        });
    };
    view! {
        <form method="post" class="form form-inline" novalidate on:submit=on_submit>
            <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
            <div class="field" class:field-invalid=move || person_error.get().is_some()>
                <label for="field-reconnect-person">"Person"</label>
                <select
                    id="field-reconnect-person"
                    name="user_id"
                    on:change=move |ev| person.set(event_target_value(&ev))
                    aria-invalid=move || person_error.get().is_some().to_string()
                    aria-describedby="field-reconnect-person-error"
                >
                    <option value="" selected=move || person.get().is_empty()>"Choose a person"</option>
                    {people
                        .into_iter()
                        .map(|p| {
                            let value = p.user_id.to_string();
                            let is = value.clone();
                            view! { <option value=value selected=move || person.get() == is>{format!("{} ({})", p.name, p.email)}</option> }
                        })
                        .collect_view()}
                </select>
                <p class="field-error" id="field-reconnect-person-error" role="alert" hidden=move || person_error.get().is_none()>
                    {move || person_error.get().unwrap_or_default()}
                </p>
            </div>
            <div class="field">
                <label for="field-reconnect-validity">"Valid for"</label>
                <select id="field-reconnect-validity" name="minutes" on:change=move |ev| minutes.set(event_target_value(&ev))>
                    {VALIDITIES
                        .iter()
                        .map(|(m, words)| {
                            let value = m.to_string();
                            let is = value.clone();
                            view! { <option value=value selected=move || minutes.get() == is>{*words}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <button type="submit" class="button" disabled=move || create.pending.get() || !ready.get()>
                {move || if create.pending.get() { "Making the link…" } else { "Make a reconnect link" }}
            </button>
        </form>
    }
}

#[component]
fn ShownLink(shown: NewReconnectLink) -> impl IntoView {
    view! {
        <section class="new-token" aria-labelledby="new-link-title">
            <h3 id="new-link-title">"Copy the link for " {shown.link.person.clone()} " now"</h3>
            <p>{format!(
                "This is the only time Liaison shows it. It works once, for {} only, until {}. If you lose it, revoke it and make another.",
                shown.link.person,
                format_utc(shown.link.expires_at)
            )}</p>
            <div class="token-value">
                <code data-testid="new-reconnect-link">{shown.url.clone()}</code>
                <CopyButton text=shown.url.clone() label="Copy link"/>
            </div>
        </section>
    }
}

#[component]
fn LinkTable(links: Vec<ReconnectLinkView>, act: Submit, changed: RwSignal<u32>) -> impl IntoView {
    view! {
        <table class="table" data-testid="reconnect-links">
            <TableHead caption="Reconnect links of this connection, newest first" columns={&["For", "Made", "Expires", "State"]} actions="Actions"/>
            <tbody>
                {links
                    .into_iter()
                    .map(|l| {
                        let id = l.id;
                        let state = match (l.state, l.used_at, l.revoked_at) {
                            (LinkState::Used, Some(at), _) | (LinkState::Revoked, _, Some(at)) => {
                                format!("{} {}", l.state.label(), format_utc(at))
                            }
                            (s, _, _) => s.label().to_string(),
                        };
                        view! {
                            <tr>
                                <th scope="row">{l.person.clone()}</th>
                                <td>{format_utc(l.created_at)}" by "{l.created_by.clone()}</td>
                                <td>{format_utc(l.expires_at)}</td>
                                <td>{state}</td>
                                <td class="actions">
                                    {(l.state == LinkState::Usable).then(|| view! {
                                        <button type="button" class="button button-quiet" aria-label=format!("Revoke the link for {}", l.person)
                                            on:click=move |_| act.run(revoke_reconnect_link(id), move |()| changed.update(|n| *n += 1))>
                                            "Revoke"
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
