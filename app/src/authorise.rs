//! The authorisation popup, from the page's side: a window opened in the click itself (so no
//! popup blocker stops it), sent to Liaison's start URL once the server has said where; the
//! result learnt from the callback page's postMessage (Liaison's own origin only) and, whatever
//! happens to the popup or its opener, from polling the flow record by its ticket. The listener
//! and the poll end with the page that started them: a callback that comes late finds the page's
//! signals gone and does nothing (a disposed signal read would trap the wasm).

use crate::api::authorisation_status;
use crate::components::banner::{banner_view, Banner, Tone};
use crate::connection::FlowStatus;
use crate::error::AppError;
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
    /// The poll of the flow being waited for, cleared when it ends or the page goes.
    #[cfg(target_arch = "wasm32")]
    poll: StoredValue<Option<IntervalHandle>>,
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
            #[cfg(target_arch = "wasm32")]
            poll: StoredValue::new(None),
        };
        // The callback page's message: check the flow at once (the server is the source of truth).
        #[cfg(target_arch = "wasm32")]
        {
            // The page goes: its poll stops (the cleanups run before its signals are disposed).
            on_cleanup(move || a.stop_polling());
            let handle = window_event_listener(leptos::ev::message, move |ev| {
                let own = window().location().origin().ok();
                let ours = own.as_deref() == Some(ev.origin().as_str());
                let is_oauth = js_sys::Reflect::get(&ev.data(), &"type".into())
                    .ok()
                    .and_then(|t| t.as_string())
                    .is_some_and(|t| t == "liaison:oauth");
                if ours && is_oauth {
                    if let Some(Some(ticket)) = a.ticket.try_get_untracked() {
                        leptos::task::spawn_local(async move {
                            let _ = check(a, ticket, false).await;
                        });
                    }
                }
            });
            on_cleanup(move || handle.remove());
        }
        a
    }

    /// Starts the flow of `link` at `start_url` in `popup` (opened in the click). Called after an
    /// await: where the page has gone meanwhile, the popup closes and nothing starts.
    pub fn begin(self, popup: Popup, link: String, start_url: &str) {
        if self.state.is_disposed() {
            popup.close();
            return;
        }
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
            // Poll until the flow ends; a closed popup with a flow still pending ends it too. One
            // poll at a time: a new flow replaces the last one's.
            self.stop_polling();
            let closed_polls = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let own = std::rc::Rc::new(std::cell::Cell::new(None::<IntervalHandle>));
            let own_handle = own.clone();
            let interval = set_interval_with_handle(
                move || {
                    // The page is gone, or the flow is over or replaced: this poll ends.
                    let waiting = matches!(self.state.try_get_untracked(), Some(AuthState::Waiting { .. }));
                    let current = self.ticket.try_with_untracked(|t| t.as_deref() == Some(ticket.as_str()));
                    if !waiting || current != Some(true) {
                        if let Some(h) = own_handle.take() {
                            h.clear();
                        }
                        return;
                    }
                    let gone = popup.is_closed();
                    if gone {
                        closed_polls.set(closed_polls.get() + 1);
                    }
                    let give_up = gone && closed_polls.get() >= 2;
                    let ticket = ticket.clone();
                    leptos::task::spawn_local(async move {
                        // The check's code could not be fetched: the next poll asks again, but the
                        // flow of a closed popup ends now, in words, not waiting on the network.
                        if check(self, ticket.clone(), give_up).await.is_err() && give_up {
                            self.fail(&ticket);
                        }
                    });
                },
                std::time::Duration::from_millis(1000),
            )
            .ok();
            own.set(interval);
            self.poll.set_value(interval);
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = popup;
    }

    /// Stops the poll of the flow being waited for, if one runs.
    #[cfg(target_arch = "wasm32")]
    fn stop_polling(self) {
        if let Some(Some(h)) = self.poll.try_update_value(Option::take) {
            h.clear();
        }
    }

    /// Ends the flow with `ticket`, if it is still the one waited for, as one whose outcome could
    /// not be learned (the popup is closed, the network gone): it may have been connected.
    #[cfg(target_arch = "wasm32")]
    fn fail(self, ticket: &str) {
        let current = self.ticket.try_with_untracked(|t| t.as_deref() == Some(ticket)) == Some(true);
        if let (true, Some(AuthState::Waiting { link })) = (current, self.state.try_get_untracked()) {
            let message = format!(
                "Liaison could not be reached to learn whether “{link}” was connected. Reload the page when the network is back."
            );
            self.state.set(AuthState::Failed { link, message });
            self.finished.update(|n| *n += 1);
        }
    }

    /// Forgets the last result (the message was read).
    pub fn dismiss(self) {
        self.state.set(AuthState::Idle);
    }
}

crate::lazy::fallible_lazy! {
    check_split,
    /// Asks the server how the flow with `ticket` stands, and ends it there; `give_up` ends a pending
    /// flow whose popup is gone. A lazy function: the code that asks the server and decodes its answer
    /// is fetched with the page's first authorisation, not with every page.
    /// A chunk that cannot be fetched is its `Err`: the next poll asks again.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn check(auth: Authoriser, ticket: String, give_up: bool) -> Result<(), AppError> {
        // The page may have gone meanwhile (its signals with it): then there is nothing to tell.
        let link = match auth.state.try_get_untracked() {
            Some(AuthState::Waiting { link }) => link,
            _ => return Ok(()),
        };
        let next = match authorisation_status(ticket.clone()).await {
            Ok(FlowStatus::Connected { .. }) => Some(AuthState::Connected { link }),
            Ok(FlowStatus::Failed { message, .. }) => Some(AuthState::Failed { link, message }),
            Ok(FlowStatus::Pending) | Err(_) if give_up => Some(AuthState::Failed {
                link,
                message: "The authorisation window was closed before access was granted. Nothing was saved; connect again when you are ready.".into(),
            }),
            _ => None,
        };
        if let Some(next) = next {
            // Only the flow still being waited for may end.
            if auth.ticket.try_with_untracked(|t| t.as_deref() == Some(ticket.as_str())) == Some(true)
                && matches!(auth.state.try_get_untracked(), Some(AuthState::Waiting { .. }))
            {
                // Told once: the poll and the popup's message may both bring the news.
                if let AuthState::Connected { link } = &next {
                    crate::embed::notify(crate::embed::Event::Authorised, link);
                }
                auth.state.set(next);
                auth.finished.update(|n| *n += 1);
            }
        }
        Ok(())
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
