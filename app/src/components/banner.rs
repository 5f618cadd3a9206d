//! The banners that say how an action or an authorisation went: one view for every kind, so the
//! wasm holds one copy of its code.

use leptos::prelude::*;

/// How a banner reads to the eye and to a screen reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Success,
    Warning,
    Error,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Info => "alert alert-info",
            Tone::Success => "alert alert-success",
            Tone::Warning => "alert alert-warning",
            Tone::Error => "alert alert-error",
        }
    }

    /// Progress and success are told politely (`status`); warnings and failures at once (`alert`).
    fn role(self) -> &'static str {
        match self {
            Tone::Info | Tone::Success => "status",
            Tone::Warning | Tone::Error => "alert",
        }
    }
}

/// What a banner says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub tone: Tone,
    pub text: String,
    /// A link to follow after the text: its address, its words, and the words after it.
    pub link: Option<(String, &'static str, &'static str)>,
    /// Whether it has a Dismiss button.
    pub dismissable: bool,
}

/// Shows `banner` while it holds one; its Dismiss button runs `dismiss`.
pub fn banner_view(banner: Signal<Option<Banner>>, dismiss: Callback<()>) -> impl IntoView {
    move || {
        banner.get().map(|b| {
            view! {
                <div class=b.tone.class() role=b.tone.role()>
                    {b.text}
                    {b.link.map(|(href, label, after)| view! { <a href=href rel="external">{label}</a>{after} })}
                    {b.dismissable.then(|| view! {
                        <button type="button" class="button button-quiet" on:click=move |_| dismiss.run(())>"Dismiss"</button>
                    })}
                </div>
            }
        })
    }
}
