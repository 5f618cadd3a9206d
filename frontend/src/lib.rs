//! The hydrate entry point: cargo-leptos builds this crate to wasm, and the page's script calls
//! `hydrate()` to bring the server-rendered HTML to life.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Release builds abort on a panic without running any hook (panic = "immediate-abort"), so
    // the hook that prints panics to the console is in debug builds only.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    // hydrate_lazy, not hydrate_body: lazy routes (app's `lazy_page!`) hydrate once their chunk
    // has loaded.
    leptos::mount::hydrate_lazy(app::App);
}
