//! Create New Service: the custom service form with every field of SPEC §1 and the quirk knobs,
//! optionally pre-filled from an issuer's metadata. Create Service saves it and continues
//! straight into its first connection.

use super::chrome::{signed_in, Chrome};
use crate::api::{create_service, discover_service, reserve_callback};
use crate::components::copy::CopyButton;
use crate::components::field::{described_by, FieldFrame, TextInput};
use crate::error::AppError;
use crate::model::{Password, Viewer};
use crate::service::{Scope, ServiceForm};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

#[component]
pub fn NewServicePage() -> impl IntoView {
    signed_in(|viewer| view! { <NewService viewer=viewer/> })
}

/// Lines of `name = display` (or just `name`).
fn scopes_from_text(text: &str) -> Vec<Scope> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((n, d)) => Scope { name: n.trim().into(), display: d.trim().into() },
            None => Scope { name: l.into(), display: String::new() },
        })
        .collect()
}

fn scopes_to_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| {
            if s.display.is_empty() || s.display == s.name {
                s.name.clone()
            } else {
                format!("{} = {}", s.name, s.display)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lines of `key=value`.
fn params_from_text(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.trim().into(), v.trim().into()),
            None => (l.into(), String::new()),
        })
        .collect()
}

fn params_to_text(p: &[(String, String)]) -> String {
    p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// Every field of the form, as signals.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    auth_type: RwSignal<String>,
    grant_type: RwSignal<String>,
    client_id: RwSignal<String>,
    client_secret: RwSignal<String>,
    authorize_url: RwSignal<String>,
    token_url: RwSignal<String>,
    refresh_url: RwSignal<String>,
    revoke_url: RwSignal<String>,
    api_base_urls: RwSignal<String>,
    scopes: RwSignal<String>,
    scope_delimiter: RwSignal<String>,
    pkce: RwSignal<bool>,
    client_auth: RwSignal<String>,
    token_request: RwSignal<String>,
    param_type: RwSignal<String>,
    header_name: RwSignal<String>,
    header_prefix: RwSignal<String>,
    query_param: RwSignal<String>,
    token_path: RwSignal<String>,
    error_in_200: RwSignal<bool>,
    extra_authorize_params: RwSignal<String>,
    extra_token_params: RwSignal<String>,
}

impl Fields {
    fn new() -> Fields {
        let s = |v: &str| RwSignal::new(v.to_string());
        Fields {
            name: s(""),
            auth_type: s("oauth2"),
            grant_type: s("authorization_code"),
            client_id: s(""),
            client_secret: s(""),
            authorize_url: s(""),
            token_url: s(""),
            refresh_url: s(""),
            revoke_url: s(""),
            api_base_urls: s(""),
            scopes: s(""),
            scope_delimiter: s("space"),
            pkce: RwSignal::new(true),
            client_auth: s("header"),
            token_request: s("form"),
            param_type: s("header"),
            header_name: s(""),
            header_prefix: s(""),
            query_param: s(""),
            token_path: s(""),
            error_in_200: RwSignal::new(false),
            extra_authorize_params: s(""),
            extra_token_params: s(""),
        }
    }

    fn form(&self) -> ServiceForm {
        ServiceForm {
            callback_key: String::new(),
            name: self.name.get_untracked(),
            auth_type: self.auth_type.get_untracked(),
            grant_type: self.grant_type.get_untracked(),
            client_id: self.client_id.get_untracked(),
            client_secret: Password::new(self.client_secret.get_untracked()),
            authorize_url: self.authorize_url.get_untracked(),
            token_url: self.token_url.get_untracked(),
            refresh_url: self.refresh_url.get_untracked(),
            revoke_url: self.revoke_url.get_untracked(),
            api_base_urls: lines(&self.api_base_urls.get_untracked()),
            scopes: scopes_from_text(&self.scopes.get_untracked()),
            scope_delimiter: self.scope_delimiter.get_untracked(),
            pkce: self.pkce.get_untracked(),
            client_auth: self.client_auth.get_untracked(),
            token_request: self.token_request.get_untracked(),
            param_type: self.param_type.get_untracked(),
            header_name: self.header_name.get_untracked(),
            header_prefix: self.header_prefix.get_untracked(),
            query_param: self.query_param.get_untracked(),
            token_path: self.token_path.get_untracked(),
            error_in_200: self.error_in_200.get_untracked(),
            extra_authorize_params: params_from_text(&self.extra_authorize_params.get_untracked()),
            extra_token_params: params_from_text(&self.extra_token_params.get_untracked()),
        }
    }

    /// Fills the fields from a discovered form, keeping what the person typed where it is empty there.
    fn fill(&self, f: ServiceForm) {
        let keep = |sig: RwSignal<String>, v: String| {
            if !v.is_empty() {
                sig.set(v);
            }
        };
        keep(self.name, f.name);
        keep(self.authorize_url, f.authorize_url);
        keep(self.token_url, f.token_url);
        keep(self.refresh_url, f.refresh_url);
        keep(self.revoke_url, f.revoke_url);
        if !f.api_base_urls.is_empty() {
            self.api_base_urls.set(f.api_base_urls.join("\n"));
        }
        if !f.scopes.is_empty() {
            self.scopes.set(scopes_to_text(&f.scopes));
        }
        keep(self.client_auth, f.client_auth);
        keep(self.token_request, f.token_request);
        self.pkce.set(f.pkce);
        self.auth_type.set("oauth2".into());
        keep(self.grant_type, f.grant_type);
        if !f.extra_authorize_params.is_empty() {
            self.extra_authorize_params.set(params_to_text(&f.extra_authorize_params));
        }
    }
}

#[component]
fn NewService(viewer: Viewer) -> impl IntoView {
    let f = Fields::new();
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let issuer = RwSignal::new(String::new());
    // The redirect URL of the service this form makes, given by the server as the form opens (in
    // the page as served): the provider asks for it before it gives the client ID and secret.
    let given = crate::api::resource(|| (), |_| reserve_callback());
    let discovered = RwSignal::new(None::<Result<(), String>>);
    let navigate = use_navigate();
    let field =
        move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name).map(str::to_string)));
    let discover = move |_| {
        discovered.set(None);
        spawn_local(async move {
            match discover_service(issuer.get_untracked()).await {
                Ok(form) => {
                    f.fill(form);
                    discovered.set(Some(Ok(())));
                }
                Err(e) => discovered.set(Some(Err(e.message))),
            }
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let mut form = f.form();
        form.callback_key = given.get_untracked().and_then(Result::ok).map(|g| g.key).unwrap_or_default();
        let navigate = navigate.clone();
        spawn_local(async move {
            let r = create_service(form).await;
            busy.set(false);
            match r {
                Ok(id) => {
                    navigate(&format!("/settings/developer-space/connections/new/custom/{id}"), Default::default())
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let oauth = move || f.auth_type.get() == "oauth2";
    let code = move || oauth() && f.grant_type.get() == "authorization_code";
    let general = move || {
        error.get().map(|e| {
            let text = if e.fields.is_empty() {
                e.message
            } else {
                "Some fields need a change: see the messages below them. Nothing was saved.".into()
            };
            view! { <div class="alert alert-error" role="alert">{text}</div> }
        })
    };
    view! {
        <Chrome viewer=viewer current="connections">
            <div class="page-head">
                <h1>"Create New Service"</h1>
                <a class="button" href="/settings/developer-space/connections/new">"Cancel"</a>
            </div>
            <Show when=code>
                <section class="redirect" aria-labelledby="redirect-title">
                    <h2 id="redirect-title">"Redirect URL"</h2>
                    <p class="field-hint">"Register this redirect URL with the provider when you create the OAuth client, then enter the client ID and secret it gives you below."</p>
                    <Transition fallback=|| view! { <p>"Getting the redirect URL…"</p> }>
                        {move || Suspend::new(async move {
                            match given.await {
                                Ok(g) => Either::Left(view! {
                                    <div class="copy-line">
                                        <code data-testid="redirect-url">{g.callback_url.clone()}</code>
                                        <CopyButton text=g.callback_url label="Copy redirect URL"/>
                                    </div>
                                }),
                                Err(e) => Either::Right(view! { <p class="alert alert-error" role="alert">{e.message}</p> }),
                            }
                        })}
                    </Transition>
                    <p class="field-error" role="alert" hidden=move || field("callback_key").get().is_none()>
                        {move || field("callback_key").get().unwrap_or_default()}
                    </p>
                </section>
            </Show>
            <section class="discover" aria-labelledby="discover-title">
                <h2 id="discover-title">"Fill in from the provider"</h2>
                <p class="field-hint">"Providers that publish OAuth metadata (RFC 8414 or OpenID Connect discovery) can fill in the URLs, scopes and PKCE for you."</p>
                <div class="form-inline">
                    <div class="field">
                        <label for="service-issuer">"Issuer URL"</label>
                        <input id="service-issuer" type="url" bind:value=issuer placeholder="https://login.example.com"/>
                    </div>
                    <button type="button" class="button" on:click=discover>"Fill in"</button>
                </div>
                {move || discovered.get().map(|r| match r {
                    Ok(()) => Either::Left(view! { <p class="alert alert-success" role="status">"Filled in from the provider's metadata. Check the fields, then add the client ID and secret."</p> }),
                    Err(m) => Either::Right(view! { <p class="alert alert-error" role="alert">{m}</p> }),
                })}
            </section>
            <form class="form form-wide" novalidate on:submit=submit>
                {general}
                <TextInput id="service-name" label="Service name" value=f.name error=field("name")/>
                <Choice id="auth_type" label="Authentication type" value=f.auth_type error=field("auth_type")
                    options=&[("oauth2", "OAuth 2.0"), ("api_key", "API key"), ("basic", "Basic")]/>
                <Show when=oauth>
                    <Choice id="grant_type" label="Grant type" value=f.grant_type error=field("grant_type")
                        options=&[("authorization_code", "Authorization code"), ("client_credentials", "Client credentials")]/>
                    <TextInput id="service-client_id" label="Client ID" value=f.client_id error=field("client_id")/>
                    <TextInput id="service-client_secret" label="Client secret" kind="password" value=f.client_secret error=field("client_secret")/>
                    <Show when=code>
                        <TextInput id="service-authorize_url" label="Authorise URL" value=f.authorize_url error=field("authorize_url")/>
                    </Show>
                    <TextInput id="service-token_url" label="Access token URL" value=f.token_url error=field("token_url")/>
                    <TextInput id="service-refresh_url" label="Refresh token URL" value=f.refresh_url error=field("refresh_url") hint="Leave empty to refresh at the access token URL."/>
                    <TextInput id="service-revoke_url" label="Revoke URL" value=f.revoke_url error=field("revoke_url") hint="Optional (RFC 7009); used on revoke and delete."/>
                    <Area id="scopes" label="Scopes" value=f.scopes error=field("scopes") hint="One per line: scope = display name, e.g. repo = Read and write repositories."/>
                    <Choice id="scope_delimiter" label="Scope delimiter" value=f.scope_delimiter error=field("scope_delimiter")
                        options=&[("space", "Space"), ("comma", "Comma"), ("plus", "Plus")]/>
                    <Show when=code>
                        <Check id="pkce" label="PKCE (S256)" value=f.pkce hint="On by default; turn off only for providers that reject it."/>
                    </Show>
                </Show>
                <Area id="api_base_urls" label="API base URL(s)" value=f.api_base_urls error=field("api_base_urls") hint="One per line. Liaison sends the credential to these only."/>
                <Choice id="param_type" label="Param type" value=f.param_type error=field("param_type")
                    options=&[("header", "Request header"), ("query", "Query string parameter")]/>
                <Show when=move || f.param_type.get() == "header">
                    <TextInput id="service-header_name" label="Header name" value=f.header_name error=field("header_name") hint="Authorization unless the service wants another, e.g. X-API-Key."/>
                    <TextInput id="service-header_prefix" label="Header prefix" value=f.header_prefix error=field("header_prefix") hint="The word before the credential: Bearer for OAuth 2.0 unless the service says otherwise."/>
                </Show>
                <Show when=move || f.param_type.get() == "query">
                    <TextInput id="service-query_param" label="Query parameter" value=f.query_param error=field("query_param") hint="e.g. access_token"/>
                </Show>
                <Show when=oauth>
                    <details class="advanced">
                        <summary>"Provider quirks"</summary>
                        <Choice id="client_auth" label="Client authentication" value=f.client_auth error=field("client_auth")
                            options=&[("header", "HTTP Basic header"), ("body", "In the request body")]/>
                        <Choice id="token_request" label="Token request encoding" value=f.token_request error=field("token_request")
                            options=&[("form", "Form"), ("json", "JSON")]/>
                        <TextInput id="service-token_path" label="Access token path" value=f.token_path error=field("token_path") hint="Where the token is in the answer, e.g. data.access_token; empty for access_token."/>
                        <Check id="error_in_200" label="Errors come with HTTP 200" value=f.error_in_200 hint="As GitHub does."/>
                        <Area id="extra_authorize_params" label="Extra authorise parameters" value=f.extra_authorize_params error=field("extra_authorize_params") hint="One per line: key=value, e.g. access_type=offline."/>
                        <Area id="extra_token_params" label="Extra token parameters" value=f.extra_token_params error=field("extra_token_params") hint="One per line: key=value."/>
                    </details>
                </Show>
                <div class="form-actions">
                    <button type="submit" class="button button-primary" disabled=move || busy.get()>
                        {move || if busy.get() { "Creating…" } else { "Create Service" }}
                    </button>
                </div>
            </form>
        </Chrome>
    }
}

#[component]
fn Area(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    view! {
        <FieldFrame id=format!("service-{id}") label=label error=error hint=hint>
            <textarea id=format!("service-{id}") rows="3" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))
                aria-invalid=move || error.get().is_some().to_string() aria-describedby=described_by(&format!("service-{id}"), hint.is_some(), error)></textarea>
        </FieldFrame>
    }
}

#[component]
fn Choice(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    options: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    view! {
        <FieldFrame id=format!("service-{id}") label=label error=error hint=None>
            <select id=format!("service-{id}") on:change=move |ev| value.set(event_target_value(&ev))
                aria-invalid=move || error.get().is_some().to_string() aria-describedby=described_by(&format!("service-{id}"), false, error)>
                {options.iter().map(|(v, text)| view! { <option value=*v selected=move || value.get() == *v>{*text}</option> }).collect_view()}
            </select>
        </FieldFrame>
    }
}

#[component]
fn Check(
    id: &'static str,
    label: &'static str,
    value: RwSignal<bool>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label class="check">
                <input id=format!("service-{id}") type="checkbox" prop:checked=move || value.get()
                    on:change=move |ev| value.set(event_target_checked(&ev))/>
                {label}
            </label>
            {hint.map(|h| view! { <p class="field-hint">{h}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_params_round_trip_through_their_text() {
        let scopes = scopes_from_text(" repo = Read and write repositories \n\n user\n");
        assert_eq!(
            scopes,
            vec![
                Scope { name: "repo".into(), display: "Read and write repositories".into() },
                Scope { name: "user".into(), display: String::new() },
            ]
        );
        assert_eq!(scopes_to_text(&scopes), "repo = Read and write repositories\nuser");
        let params = params_from_text("access_type=offline\nprompt = consent\nflag");
        assert_eq!(params_to_text(&params), "access_type=offline\nprompt=consent\nflag=");
        assert_eq!(lines(" https://a.example \n\nhttps://b.example"), ["https://a.example", "https://b.example"]);
    }
}
