//! A table's head: its caption (read by screen readers only) and its column headers, with a last
//! column of a row's buttons named for screen readers only.

use leptos::prelude::*;

#[component]
pub fn TableHead(
    /// What the table lists.
    caption: &'static str,
    /// The columns' headers, in order.
    columns: &'static [&'static str],
    /// The name of a last column that holds a row's buttons, if the table has one.
    #[prop(optional)]
    actions: Option<&'static str>,
) -> impl IntoView {
    view! {
        <caption class="visually-hidden">{caption}</caption>
        <thead>
            <tr>
                {columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}
                {actions.map(|a| view! { <th scope="col"><span class="visually-hidden">{a}</span></th> })}
            </tr>
        </thead>
    }
}
