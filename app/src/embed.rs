//! Inside a host console's iframe: the page tells the host what happened, by `postMessage` to the
//! host's origin only (the one its embedded sign-in was issued for).

use std::cell::RefCell;

thread_local! {
    static HOST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Remembers the host's origin (None outside an iframe sign-in).
pub fn set_host(origin: Option<String>) {
    HOST.with(|h| *h.borrow_mut() = origin);
}

pub fn host() -> Option<String> {
    HOST.with(|h| h.borrow().clone())
}

/// What the host hears about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Created,
    Authorised,
    Revoked,
    Deleted,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Created => "connection.created",
            Event::Authorised => "connection.authorised",
            Event::Revoked => "connection.revoked",
            Event::Deleted => "connection.deleted",
        }
    }
}

/// Posts `{type: "liaison:event", event, link_name}` to the host, if there is one.
pub fn notify(event: Event, link_name: &str) {
    let Some(origin) = host() else { return };
    #[cfg(target_arch = "wasm32")]
    {
        use leptos::prelude::window;
        let msg = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&msg, &"type".into(), &"liaison:event".into());
        let _ = js_sys::Reflect::set(&msg, &"event".into(), &event.name().into());
        let _ = js_sys::Reflect::set(&msg, &"link_name".into(), &link_name.into());
        if let Ok(Some(parent)) = window().parent() {
            let _ = parent.post_message(&msg, &origin);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (origin, event, link_name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_stable() {
        let names: Vec<&str> =
            [Event::Created, Event::Authorised, Event::Revoked, Event::Deleted].map(Event::name).to_vec();
        assert_eq!(names, ["connection.created", "connection.authorised", "connection.revoked", "connection.deleted"]);
        set_host(Some("https://console.example.com".into()));
        assert_eq!(host().as_deref(), Some("https://console.example.com"));
        set_host(None);
        assert_eq!(host(), None);
    }
}
