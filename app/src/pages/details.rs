//! Connection details: status, service, scopes, who authorised it and when, when the token
//! expires (never the token), the person's own grant for login-user connections, its actions
//! (Reconnect, Edit, Revoke or Enable, Delete: the list's own dialogs), its recent calls from the
//! call log, its metadata (read-only: scripts and the admin API set it), its reconnect links
//! (admins), and code that calls the service through the connection from a script.

use super::chrome::{signed_in, Chrome};
use super::connection_actions::{ActionDialogs, Actions};
use super::connections::{connect_now, status_badge, Notice, NoticeBanner};
use super::reconnect_links::ReconnectLinks;
use crate::api::{connection, connection_calls};
use crate::authorise::{AuthBanner, Authoriser};
use crate::calls::CallView;
use crate::components::copy::CopyButton;
use crate::components::table::TableHead;
use crate::components::tabs::Tabs;
use crate::connection::{ConnectionDetails, ConnectionRow, ConnectionStatus};
use crate::model::{Role, Viewer};
use crate::reconnect::NewReconnectLink;
use crate::time::format_utc;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn DetailsPage() -> impl IntoView {
    signed_in(|viewer| view! { <Details viewer=viewer/> })
}

/// The code that calls `GET <path>` through the connection, per language.
pub fn snippet(lang: &str, proxy_url: &str) -> String {
    let url = format!("{proxy_url}<path>");
    match lang {
        "curl" => format!("curl -H \"Authorization: Bearer $LIAISON_TOKEN\" \\\n  \"{url}\""),
        "javascript" => format!(
            "const res = await fetch(\"{url}\", {{\n  headers: {{ Authorization: `Bearer ${{process.env.LIAISON_TOKEN}}` }},\n}});\nconst data = await res.json();"
        ),
        "python" => format!(
            "import os, requests\n\nres = requests.get(\n    \"{url}\",\n    headers={{\"Authorization\": f\"Bearer {{os.environ['LIAISON_TOKEN']}}\"}},\n)\nres.raise_for_status()\ndata = res.json()"
        ),
        _ => format!(
            "let token = std::env::var(\"LIAISON_TOKEN\")?;\nlet data: serde_json::Value = reqwest::Client::new()\n    .get(\"{url}\")\n    .bearer_auth(token)\n    .send()\n    .await?\n    .error_for_status()?\n    .json()\n    .await?;"
        ),
    }
}

#[component]
fn Details(viewer: Viewer) -> impl IntoView {
    let admin = viewer.role == Role::Admin;
    let params = use_params_map();
    let link = move || params.get().get("link").unwrap_or_default();
    let auth = Authoriser::new();
    let notice = RwSignal::new(None::<Notice>);
    let changed = RwSignal::new(0u32);
    let details = crate::api::resource(move || (link(), changed.get(), auth.finished.get()), |(l, _, _)| connection(l));
    // Deleted: its page is gone, so back to the list, which says so.
    let navigate = use_navigate();
    let back = Callback::new(move |row: ConnectionRow| {
        navigate(&format!("{}?deleted={}", crate::api::HOME, row.link_name), Default::default())
    });
    let act = Actions::new(auth, notice, changed).leaving_on_delete(back);
    let shown_link = RwSignal::new(None);
    view! {
        <Chrome viewer=viewer current="connections">
            <AuthBanner auth=auth/>
            <NoticeBanner notice=notice/>
            <Transition fallback=|| view! { <p>"Loading the connection…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Ok(d) => Either::Left(view! { <DetailsView d=d act=act admin=admin shown_link=shown_link/> }),
                        Err(e) => Either::Right(view! {
                            <div class="alert alert-error" role="alert">{e.message}" "<a href=crate::api::HOME>"Back to Connections"</a></div>
                        }),
                    }
                })}
            </Transition>
            <ActionDialogs act=act/>
        </Chrome>
    }
}

#[component]
fn DetailsView(
    d: ConnectionDetails,
    act: Actions,
    admin: bool,
    shown_link: RwSignal<Option<NewReconnectLink>>,
) -> impl IntoView {
    let Actions { auth, notice, changed, .. } = act;
    let row = d.row.clone();
    // Each button aims the dialogs at this connection as it is now, as a list row's buttons do.
    let aim = {
        let row = row.clone();
        move || act.target.set(Some(row.clone()))
    };
    let (aim_edit, aim_revoke, aim_delete) = (aim.clone(), aim.clone(), aim);
    let link = row.link_name.clone();
    let lang = RwSignal::new("curl");
    let proxy_url = d.proxy_url.clone();
    let code = Signal::derive(move || snippet(lang.get(), &proxy_url));
    let can_connect = row.can_manage || (row.per_user && !row.internal);
    let connect_label = match (row.per_user, row.status, d.grant.is_some()) {
        (true, _, true) => "Reconnect my account",
        (true, _, false) => "Connect my account",
        (false, ConnectionStatus::Revoked, _) => "Enable",
        (false, ConnectionStatus::Connected, _) => "Reconnect",
        _ => "Connect",
    };
    let grant = d.grant.clone();
    view! {
        <div class="page-head">
            <h1>{row.name.clone()}</h1>
            <a class="button" href=crate::api::HOME>"Back to Connections"</a>
        </div>
        <dl class="facts">
            <dt>"Status"</dt>
            <dd>
                {status_badge(row.status, row.status_reason.clone())}
                {row.status_reason.clone().map(|r| view! { <span class="muted">" "{r}</span> })}
            </dd>
            <dt>"Link name"</dt><dd><code>{link.clone()}</code></dd>
            <dt>"Service"</dt><dd>{row.service_name.clone()}</dd>
            <dt>"Scopes"</dt>
            <dd>
                {if d.scopes.is_empty() {
                    Either::Left(view! { <span class="muted">"None"</span> })
                } else {
                    Either::Right(view! { <ul class="inline-list">{d.scopes.iter().map(|s| view! { <li title=s.name.clone()>{s.display.clone()}</li> }).collect_view()}</ul> })
                }}
            </dd>
            <dt>"Created"</dt><dd>{format!("{} by {}", format_utc(row.created_at), row.created_by)}</dd>
            <dt>"Last used"</dt><dd>{row.last_used_at.map(format_utc).unwrap_or_else(|| "Never".into())}</dd>
            <dt>"Metadata"</dt>
            <dd>
                {if d.metadata.is_empty() {
                    Either::Left(view! { <span class="muted">"None set (scripts and the admin API can set it)."</span> })
                } else {
                    Either::Right(view! { <pre class="metadata" data-testid="metadata"><code>{d.metadata.clone()}</code></pre> })
                }}
            </dd>
            {row.per_user.then(|| view! {
                <dt>"Credentials"</dt>
                <dd>{format!("Each person's own account ({} connected so far)", d.user_grants)}</dd>
            })}
            <dt>{if row.per_user { "Your account" } else { "Authorised" }}</dt>
            <dd>
                {match grant {
                    Some(g) => Either::Left(view! {
                        <span>{format!("by {} on {}", g.authorised_by, format_utc(g.authorised_at))}</span>
                        <br/>
                        <span class="muted">{match g.expires_at {
                            Some(e) => format!("The access token expires {}{}.", format_utc(e), if g.has_refresh_token { "; Liaison refreshes it before then" } else { "" }),
                            None => "The credential does not expire.".to_string(),
                        }}</span>
                    }),
                    None => Either::Right(view! { <span class="muted">"Not authorised yet."</span> }),
                }}
            </dd>
        </dl>
        <p class="detail-actions">
            {can_connect.then(|| {
                let link = link.clone();
                view! {
                    <button type="button" class="button button-primary" on:click=move |_| connect_now(link.clone(), auth, notice, changed)>
                        {connect_label}
                    </button>
                }
            })}
            {row.can_manage.then(|| view! {
                <button type="button" class="button" on:click=move |_| { aim_edit(); act.editing.set(true); }>"Edit"</button>
                {(row.status != ConnectionStatus::Revoked).then(|| view! {
                    <button type="button" class="button" on:click=move |_| { aim_revoke(); act.asking_revoke.set(true); }>"Revoke"</button>
                })}
                <button type="button" class="button button-danger" on:click=move |_| { aim_delete(); act.asking_delete.set(true); }>"Delete"</button>
            })}
        </p>
        {(admin && !row.internal).then(|| {
            let needs_reauth = row.status == ConnectionStatus::NeedsReauth;
            view! { <ReconnectLinks link=link.clone() needs_reauth=needs_reauth shown=shown_link/> }
        })}
        <RecentCalls link=link.clone() changed=changed/>
        <section class="snippets" aria-labelledby="snippets-title">
            <h2 id="snippets-title">"Use it from a script"</h2>
            <p class="field-hint">"Send an API token (Settings › Developer Space › API tokens); Liaison adds the connection's credential. Replace <path> with the API path."</p>
            <Tabs label="Languages" selected=lang tabs=vec![("curl", "curl"), ("javascript", "JavaScript"), ("python", "Python"), ("rust", "Rust")]/>
            <div id=move || format!("panel-{}", lang.get()) role="tabpanel" aria-labelledby=move || format!("tab-{}", lang.get()) class="snippet">
                <pre><code data-testid="snippet">{move || code.get()}</code></pre>
                <CopyButton text=code label="Copy code"/>
            </div>
        </section>
    }
}

/// The connection's most recent calls through the scripts' API, newest first; failures marked in
/// words and with an icon, not by colour alone.
#[component]
fn RecentCalls(link: String, changed: RwSignal<u32>) -> impl IntoView {
    let calls = crate::api::resource(move || (link.clone(), changed.get()), |(l, _)| connection_calls(l));
    view! {
        <section class="calls" aria-labelledby="calls-title">
            <h2 id="calls-title">"Recent calls"</h2>
            <Transition fallback=|| view! { <p>"Loading the calls…"</p> }>
                {move || Suspend::new(async move {
                    match calls.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! { <p class="muted">"No calls through this connection yet."</p> }),
                        Ok(list) => EitherOf3::B(view! { <CallTable calls=list/> }),
                        Err(e) => EitherOf3::C(view! { <p class="alert alert-error" role="alert">{e.message}</p> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CallTable(calls: Vec<CallView>) -> impl IntoView {
    view! {
        <table class="table table-calls">
            <TableHead caption="Recent calls, newest first" columns={&["Time", "Caller", "Method", "Host", "Status", "Latency"]}/>
            <tbody>
                {calls.into_iter().map(|c| {
                    let failed = c.failed();
                    view! {
                        <tr class:call-failed=failed>
                            <td>{format_utc(c.at)}</td>
                            <td>{c.caller.clone()}</td>
                            <td><code>{c.method.clone()}</code></td>
                            <td>{c.host.clone()}</td>
                            <td>
                                {failed.then(|| view! { <span class="badge badge-error">"Failed"</span>" " })}
                                {c.outcome()}
                                {c.retried().map(|r| view! { " "<span class="muted">{format!("({r})")}</span> })}
                            </td>
                            <td>{format!("{} ms", c.latency_ms)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn every_snippet_calls_the_proxy_url_with_a_bearer_token() {
        let base = "https://liaison.example/api/v1/connections/acme/proxy/";
        for lang in ["curl", "javascript", "python", "rust"] {
            let s = snippet(lang, base);
            assert!(s.contains("https://liaison.example/api/v1/connections/acme/proxy/<path>"), "{lang}: {s}");
            assert!(s.contains("LIAISON_TOKEN") && s.contains("Bearer") || s.contains("bearer_auth"), "{lang}: {s}");
        }
        assert!(snippet("curl", base).starts_with("curl -H \"Authorization: Bearer $LIAISON_TOKEN\""));
    }
}
