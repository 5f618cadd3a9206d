//! Forms that post to a server function. Sign-in and setup are a plain POST to the function's URL,
//! so they work before the wasm has loaded; the other forms wait for it ([`hydrated`]). Once
//! hydrated, the page handles the submit itself and shows the answer's errors in place.
//! (`ActionForm` does the same, but decodes the form into the function's arguments with serde_qs:
//! code the pages do not need, since they name each field.)

use crate::error::AppError;
use leptos::prelude::*;
use std::future::Future;

/// The fields of a submitted form, by name. Taking them stops the browser's own submit.
pub struct Submitted {
    #[cfg(target_arch = "wasm32")]
    data: Option<web_sys::FormData>,
}

impl Submitted {
    pub fn of(ev: &leptos::ev::SubmitEvent) -> Submitted {
        ev.prevent_default();
        #[cfg(target_arch = "wasm32")]
        {
            use leptos::wasm_bindgen::JsCast;
            let form = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok());
            Submitted { data: form.and_then(|f| web_sys::FormData::new_with_form(&f).ok()) }
        }
        #[cfg(not(target_arch = "wasm32"))]
        Submitted {}
    }

    /// The value of field `name` ("" when the form has none).
    pub fn field(&self, name: &str) -> String {
        #[cfg(target_arch = "wasm32")]
        if let Some(data) = &self.data {
            return data.get(name).as_string().unwrap_or_default();
        }
        let _ = name;
        String::new()
    }
}

/// False until the page is hydrated (its submit handlers attached), then true. The submit button
/// of a form the page handles itself stays disabled while it is false: before hydration the
/// browser would send the form on its own, to the page's address (which takes no POST), its named
/// fields in the body. Those forms say `method="post"` too, so that nothing a form holds (a
/// webhook's URL may carry a token) can land in an address, its history or a log line. Gated on
/// the target, as `crate::mark_hydrated` is: the server always renders the button disabled.
pub fn hydrated() -> ReadSignal<bool> {
    let (ready, set_ready) = signal(false);
    #[cfg(target_arch = "wasm32")]
    Effect::new(move |_| set_ready.set(true));
    #[cfg(not(target_arch = "wasm32"))]
    let _ = set_ready;
    ready
}

/// Where a form's last submit stands: running, and the error it answered with.
#[derive(Clone, Copy)]
pub struct Submit {
    pub pending: RwSignal<bool>,
    pub error: RwSignal<Option<AppError>>,
}

impl Default for Submit {
    fn default() -> Self {
        Self::new()
    }
}

impl Submit {
    pub fn new() -> Submit {
        Submit { pending: RwSignal::new(false), error: RwSignal::new(None) }
    }

    /// Runs the server function call `call` (unless one is still running), then `done` with its
    /// answer; an error stays for the form to show. (Where the server redirects, that moves the
    /// page on.)
    pub fn run<T: 'static>(
        self,
        call: impl Future<Output = Result<T, AppError>> + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        if self.pending.get_untracked() {
            return;
        }
        self.pending.set(true);
        leptos::task::spawn_local(async move {
            let result = call.await;
            self.pending.set(false);
            match result {
                Ok(value) => {
                    self.error.set(None);
                    done(value);
                }
                Err(e) => self.error.set(Some(e)),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    /// Every form a page handles itself says `method="post"`, and one without an `action` of its
    /// own (which would work before hydration) keeps its submit button disabled until hydration:
    /// before it, the browser would send the form by itself, as a GET with its fields in the
    /// address, when it has no method. The edit dialog opens only on a click, so after hydration.
    #[test]
    fn page_forms_post_and_wait_for_hydration() {
        let pages = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pages");
        let mut wrong = Vec::new();
        for entry in std::fs::read_dir(&pages).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for line in text.lines().filter(|l| l.contains("<form ") && l.contains("on:submit")) {
                if !line.contains(r#"method="post""#) {
                    wrong.push(format!("{name}: no method=\"post\": {}", line.trim()));
                }
                let gated = line.contains("action=") || text.contains("hydrated()") || name == "connection_actions.rs";
                if !gated {
                    wrong.push(format!("{name}: its submit does not wait for hydration (form::hydrated)"));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
