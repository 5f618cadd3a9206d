//! The authorisation popup, from the page's side: a window opened in the click itself (so no
//! popup blocker stops it), sent to Liaison's start URL once the server has said where; the
//! result learnt from the callback page's postMessage (Liaison's own origin only) and, whatever
//! happens to the popup or its opener, from polling the flow record by its ticket.

use crate::api::authorisation_status;
use crate::components::banner::{banner_view, Banner, Tone};
use crate::connection::FlowStatus;
use leptos::prelude::*;

/// Where an authorisation stands, for the page to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthState {
    Idle,
    /// The popup is open at the provider.
    Waiting {
        link: String,
    },
    /// The browser blocked the popup: the same flow can run in this tab.
    Blocked {
        link: String,
        url: String,
    },
    Connected {
        link: String,
    },
    Failed {
        link: String,
        message: String,
    },
}

/// A window opened for the flow (None where the browser refused, or on the server).
#[derive(Clone)]
pub struct Popup {
    #[cfg(target_arch = "wasm32")]
    window: Option<web_sys::Window>,
}

impl Popup {
    /// Opens an empty window. Call it in the click handler itself.
    pub fn open() -> Popup {
        #[cfg(target_arch = "wasm32")]
        {
            let window = window()
                .open_with_url_and_target_and_features("about:blank", "liaison-authorise", "popup,width=560,height=720")
                .ok()
                .flatten();
            Popup { window }
        }
        #[cfg(not(target_arch = "wasm32"))]
        Popup {}
    }

    /// Sends the window to `url`; false when there is no window.
    fn go(&self, url: &str) -> bool {
        #[cfg(target_arch = "wasm32")]
        if let Some(w) = &self.window {
            return w.location().set_href(url).is_ok();
        }
        let _ = url;
        false
    }

    /// Closes it (the action failed before the flow started).
    pub fn close(&self) {
        #[cfg(target_arch = "wasm32")]
        if let Some(w) = &self.window {
            let _ = w.close();
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn is_closed(&self) -> bool {
        #[cfg(target_arch = "wasm32")]
        if let Some(w) = &self.window {
            return w.closed().unwrap_or(true);
        }
        true
    }
}

/// 32 random URL-safe characters.
pub fn new_ticket() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    #[cfg_attr(not(target_arch = "wasm32"), allow(unused_mut))]
    let mut bytes = [0u8; 32];
    #[cfg(target_arch = "wasm32")]
    if let Ok(crypto) = window().crypto() {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// Runs authorisations for a page and tells it how they end.
#[derive(Clone, Copy)]
pub struct Authoriser {
    pub state: RwSignal<AuthState>,
    /// Bumped when an authorisation ends (the page refetches what it shows).
    pub finished: RwSignal<u32>,
    ticket: RwSignal<Option<String>>,
}

impl Default for Authoriser {
    fn default() -> Self {
        Self::new()
    }
}

impl Authoriser {
    pub fn new() -> Authoriser {
        let a = Authoriser {
            state: RwSignal::new(AuthState::Idle),
            finished: RwSignal::new(0),
            ticket: RwSignal::new(None),
        };
        // The callback page's message: check the flow at once (the server is the source of truth).
        #[cfg(target_arch = "wasm32")]
        {
            let handle = window_event_listener(leptos::ev::message, move |ev| {
                let own = window().location().origin().ok();
                let ours = own.as_deref() == Some(ev.origin().as_str());
                let is_oauth = js_sys::Reflect::get(&ev.data(), &"type".into())
                    .ok()
                    .and_then(|t| t.as_string())
                    .is_some_and(|t| t == "liaison:oauth");
                if ours && is_oauth {
                    if let Some(ticket) = a.ticket.get_untracked() {
                        leptos::task::spawn_local(check(a, ticket, false));
                    }
                }
            });
            on_cleanup(move || handle.remove());
        }
        a
    }

    /// Starts the flow of `link` at `start_url` in `popup` (opened in the click).
    pub fn begin(self, popup: Popup, link: String, start_url: &str) {
        let ticket = new_ticket();
        // The start URL the server gave carries its one-time nonce; the ticket is added to it.
        let sep = if start_url.contains('?') { '&' } else { '?' };
        let url = format!("{start_url}{sep}ticket={ticket}");
        self.ticket.set(Some(ticket.clone()));
        if !popup.go(&url) {
            self.state.set(AuthState::Blocked { link, url });
            return;
        }
        self.state.set(AuthState::Waiting { link });
        #[cfg(target_arch = "wasm32")]
        {
            // Poll until the flow ends; a closed popup with a flow still pending ends it too.
            let closed_polls = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let handle = StoredValue::new_local(None::<IntervalHandle>);
            let interval = set_interval_with_handle(
                move || {
                    if !matches!(self.state.get_untracked(), AuthState::Waiting { .. })
                        || self.ticket.get_untracked().as_deref() != Some(ticket.as_str())
                    {
                        if let Some(h) = handle.get_value() {
                            h.clear();
                        }
                        return;
                    }
                    let gone = popup.is_closed();
                    if gone {
                        closed_polls.set(closed_polls.get() + 1);
                    }
                    leptos::task::spawn_local(check(self, ticket.clone(), gone && closed_polls.get() >= 2));
                },
                std::time::Duration::from_millis(1000),
            )
            .ok();
            handle.set_value(interval);
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = popup;
    }

    /// Forgets the last result (the message was read).
    pub fn dismiss(self) {
        self.state.set(AuthState::Idle);
    }
}

/// Asks the server how the flow with `ticket` stands, and ends it there; `give_up` ends a pending
/// flow whose popup is gone. A lazy function: the code that asks the server and decodes its answer
/// is fetched with the page's first authorisation, not with every page.
#[leptos::lazy]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn check(auth: Authoriser, ticket: String, give_up: bool) {
    let link = match auth.state.get_untracked() {
        AuthState::Waiting { link } => link,
        _ => return,
    };
    let next = match authorisation_status(ticket.clone()).await {
        Ok(FlowStatus::Connected { .. }) => {
            crate::embed::notify(crate::embed::Event::Authorised, &link);
            Some(AuthState::Connected { link })
        }
        Ok(FlowStatus::Failed { message, .. }) => Some(AuthState::Failed { link, message }),
        Ok(FlowStatus::Pending) | Err(_) if give_up => Some(AuthState::Failed {
            link,
            message: "The authorisation window was closed before access was granted. Nothing was saved; connect again when you are ready.".into(),
        }),
        _ => None,
    };
    if let Some(next) = next {
        // Only the flow still being waited for may end.
        if auth.ticket.get_untracked().as_deref() == Some(ticket.as_str())
            && matches!(auth.state.get_untracked(), AuthState::Waiting { .. })
        {
            auth.state.set(next);
            auth.finished.update(|n| *n += 1);
        }
    }
}

impl AuthState {
    /// What the banner says of it (nothing while no authorisation runs).
    fn banner(self) -> Option<Banner> {
        let (tone, text, link, dismissable) = match self {
            AuthState::Idle => return None,
            AuthState::Waiting { link } => (
                Tone::Info,
                format!("Waiting for you to grant access to “{link}” in the authorisation window…"),
                None,
                false,
            ),
            AuthState::Blocked { link, url } => (
                Tone::Warning,
                format!("Your browser blocked the authorisation window for “{link}”. "),
                Some((url, "Continue in this tab", " — you come back here when access is granted.")),
                false,
            ),
            AuthState::Connected { link } => (Tone::Success, format!("“{link}” is connected."), None, true),
            AuthState::Failed { link, message } => {
                (Tone::Error, format!("“{link}” was not connected: {message}"), None, true)
            }
        };
        Some(Banner { tone, text, link, dismissable })
    }
}

/// The banner that says how the last authorisation went.
#[component]
pub fn AuthBanner(auth: Authoriser) -> impl IntoView {
    banner_view(Signal::derive(move || auth.state.get().banner()), Callback::new(move |_| auth.dismiss()))
}
