//! The custom service form's fields, shared by Create New Service and the Custom Services tab's
//! edit dialog: every field of a service as signals, the form they make, and their inputs, the
//! scopes as rows (Scope Name, Scope Display Name) with Add scope and a remove button per row.

use crate::components::field::{described_by, FieldFrame, TextInput};
use crate::components::icons::DeleteIcon;
use crate::model::Password;
use crate::service::{Scope, ServiceForm};
use leptos::either::Either;
use leptos::prelude::*;

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

/// One scope row: its inputs' values, and a key that stays the row's while rows come and go.
#[derive(Clone, Copy)]
pub struct ScopeRow {
    key: u32,
    name: RwSignal<String>,
    display: RwSignal<String>,
}

impl ScopeRow {
    fn new(key: u32, name: &str, display: &str) -> ScopeRow {
        ScopeRow { key, name: RwSignal::new(name.to_string()), display: RwSignal::new(display.to_string()) }
    }
}

/// The scope rows a list of scopes makes (one empty row for none, ready to type in), keyed from
/// `next` on: the rows' `<For>` keeps a row's inputs by its key, so rows made to replace others
/// (filled in from the provider) must not reuse theirs. The same on the server and in the browser.
fn scope_rows(scopes: &[Scope], next: StoredValue<u32>) -> Vec<ScopeRow> {
    let key = || {
        let k = next.get_value();
        next.set_value(k + 1);
        k
    };
    let rows: Vec<ScopeRow> = scopes.iter().map(|s| ScopeRow::new(key(), &s.name, &s.display)).collect();
    if rows.is_empty() {
        vec![ScopeRow::new(key(), "", "")]
    } else {
        rows
    }
}

/// Every field of the form, as signals.
#[derive(Clone, Copy)]
pub struct Fields {
    pub name: RwSignal<String>,
    pub auth_type: RwSignal<String>,
    pub grant_type: RwSignal<String>,
    pub client_id: RwSignal<String>,
    pub client_secret: RwSignal<String>,
    authorize_url: RwSignal<String>,
    token_url: RwSignal<String>,
    refresh_url: RwSignal<String>,
    revoke_url: RwSignal<String>,
    api_base_urls: RwSignal<String>,
    scopes: RwSignal<Vec<ScopeRow>>,
    /// The key of the next scope row.
    next_row: StoredValue<u32>,
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
    refresh_idle_days: RwSignal<String>,
}

impl Default for Fields {
    /// The fields of a new service.
    fn default() -> Fields {
        Fields::of(&ServiceForm {
            auth_type: "oauth2".into(),
            grant_type: "authorization_code".into(),
            scope_delimiter: "space".into(),
            pkce: true,
            client_auth: "header".into(),
            token_request: "form".into(),
            param_type: "header".into(),
            ..ServiceForm::default()
        })
    }
}

impl Fields {
    /// The fields filled from a form (an existing service's, to edit it).
    pub fn of(f: &ServiceForm) -> Fields {
        let s = |v: &str| RwSignal::new(v.to_string());
        let next_row = StoredValue::new(0);
        Fields {
            name: s(&f.name),
            auth_type: s(&f.auth_type),
            grant_type: s(&f.grant_type),
            client_id: s(&f.client_id),
            client_secret: s(""),
            authorize_url: s(&f.authorize_url),
            token_url: s(&f.token_url),
            refresh_url: s(&f.refresh_url),
            revoke_url: s(&f.revoke_url),
            api_base_urls: s(&f.api_base_urls.join("\n")),
            scopes: RwSignal::new(scope_rows(&f.scopes, next_row)),
            next_row,
            scope_delimiter: s(&f.scope_delimiter),
            pkce: RwSignal::new(f.pkce),
            client_auth: s(&f.client_auth),
            token_request: s(&f.token_request),
            param_type: s(&f.param_type),
            header_name: s(&f.header_name),
            header_prefix: s(&f.header_prefix),
            query_param: s(&f.query_param),
            token_path: s(&f.token_path),
            error_in_200: RwSignal::new(f.error_in_200),
            extra_authorize_params: s(&params_to_text(&f.extra_authorize_params)),
            extra_token_params: s(&params_to_text(&f.extra_token_params)),
            refresh_idle_days: s(&f.refresh_idle_days),
        }
    }

    pub fn form(&self) -> ServiceForm {
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
            scopes: self
                .scopes
                .get_untracked()
                .iter()
                .map(|r| Scope { name: r.name.get_untracked(), display: r.display.get_untracked() })
                .collect(),
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
            refresh_idle_days: self.refresh_idle_days.get_untracked(),
        }
    }

    /// Fills the fields from a discovered form, keeping what the person typed where it is empty there.
    pub fn fill(&self, f: ServiceForm) {
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
            self.scopes.set(scope_rows(&f.scopes, self.next_row));
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

    /// OAuth 2.0 with the authorization code grant: the service has a redirect URL.
    pub fn code(&self) -> bool {
        self.auth_type.get() == "oauth2" && self.grant_type.get() == "authorization_code"
    }
}

/// Every input of the form. `field` gives the message of a field from the last answer;
/// `secret_hint` is the client secret's hint (editing: empty keeps the stored one).
#[component]
pub fn ServiceFields(
    f: Fields,
    field: impl Fn(&'static str) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
    #[prop(optional)] secret_hint: Option<&'static str>,
) -> impl IntoView {
    let oauth = move || f.auth_type.get() == "oauth2";
    let code = move || f.code();
    view! {
        <TextInput id="service-name" label="Service name" value=f.name error=field("name")/>
        <Choice id="auth_type" label="Authentication type" value=f.auth_type error=field("auth_type")
            options=&[("oauth2", "OAuth 2.0"), ("api_key", "API key"), ("basic", "Basic")]/>
        <Show when=oauth>
            <Choice id="grant_type" label="Grant type" value=f.grant_type error=field("grant_type")
                options=&[("authorization_code", "Authorization code"), ("client_credentials", "Client credentials")]/>
            <TextInput id="service-client_id" label="Client ID" value=f.client_id error=field("client_id")/>
            {match secret_hint {
                Some(hint) => Either::Left(view! {
                    <TextInput id="service-client_secret" label="Client secret" kind="password" value=f.client_secret error=field("client_secret") hint=hint/>
                }),
                None => Either::Right(view! {
                    <TextInput id="service-client_secret" label="Client secret" kind="password" value=f.client_secret error=field("client_secret")/>
                }),
            }}
            <Show when=code>
                <TextInput id="service-authorize_url" label="Authorise URL" value=f.authorize_url error=field("authorize_url")/>
            </Show>
            <TextInput id="service-token_url" label="Access token URL" value=f.token_url error=field("token_url")/>
            <TextInput id="service-refresh_url" label="Refresh token URL" value=f.refresh_url error=field("refresh_url") hint="Leave empty to refresh at the access token URL."/>
            <TextInput id="service-revoke_url" label="Revoke URL" value=f.revoke_url error=field("revoke_url") hint="Optional (RFC 7009); used on revoke and delete."/>
            <ScopeRows rows=f.scopes next=f.next_row error=field("scopes")/>
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
                <Show when=code>
                    <TextInput id="service-refresh_idle_days" label="Refresh token idle lifetime (days)" value=f.refresh_idle_days error=field("refresh_idle_days") hint="If the provider lets an unused refresh token lapse, after how many days; Liaison refreshes an idle grant before then. Empty if it does not."/>
                </Show>
            </details>
        </Show>
    }
}

/// The scopes a connection may ask for, a row each: the name the provider knows and the words
/// people see, with Add scope and a remove button per row. The server's message for the scopes is
/// under them.
#[component]
fn ScopeRows(rows: RwSignal<Vec<ScopeRow>>, next: StoredValue<u32>, error: Signal<Option<String>>) -> impl IntoView {
    let add = move |_| {
        let key = next.get_value();
        next.set_value(key + 1);
        rows.update(|v| v.push(ScopeRow::new(key, "", "")));
    };
    let described = described_by("service-scopes", true, error);
    view! {
        <fieldset class="field scope-rows" class:field-invalid=move || error.get().is_some() aria-describedby=described>
            <legend>"Scopes"</legend>
            <p class="field-hint" id="service-scopes-hint">"The scopes a connection may ask for: the name the provider knows, and the words people see."</p>
            <For each=move || rows.get() key=|r| r.key let:r>
                <div class="scope-row">
                    <div class="field">
                        <label for=format!("scope-name-{}", r.key)>"Scope Name"</label>
                        <input id=format!("scope-name-{}", r.key) type="text" autocomplete="off" bind:value=r.name/>
                    </div>
                    <div class="field">
                        <label for=format!("scope-display-{}", r.key)>"Scope Display Name"</label>
                        <input id=format!("scope-display-{}", r.key) type="text" autocomplete="off" bind:value=r.display/>
                    </div>
                    <button type="button" class="icon-button" title="Remove"
                        aria-label=move || match r.name.get().trim() {
                            "" => "Remove this empty scope".to_string(),
                            name => format!("Remove scope {name}"),
                        }
                        on:click=move |_| rows.update(|v| v.retain(|x| x.key != r.key))>
                        <DeleteIcon/>
                    </button>
                </div>
            </For>
            <button type="button" class="button" on:click=add>"Add scope"</button>
            <p class="field-error" id="service-scopes-error" role="alert" hidden=move || error.get().is_none()>
                {move || error.get().unwrap_or_default()}
            </p>
        </fieldset>
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
    fn params_round_trip_through_their_text() {
        let params = params_from_text("access_type=offline\nprompt = consent\nflag");
        assert_eq!(params_to_text(&params), "access_type=offline\nprompt=consent\nflag=");
        assert_eq!(lines(" https://a.example \n\nhttps://b.example"), ["https://a.example", "https://b.example"]);
    }
}
