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

/// Room for cargo-leptos's wasm splitter to lay out the constant data (`.rodata`). The splitter
/// gives each wasm chunk the constants only it uses, packed anew with each module's start aligned
/// to eight bytes; when that packing comes out even one byte longer than the linker's layout, it
/// gives up and puts every constant of every page into the main module (42 KB more of it, and
/// over the main module's 200 KB budget, after an unrelated change once). These bytes are kept by
/// the linker (`#[used]`) and used by no code, so the splitter leaves them out of every module:
/// its packing always has this much room. tools/test.sh checks that lazy pages' words stay out of
/// the main module.
#[cfg(target_arch = "wasm32")]
#[used]
static SPLIT_SLACK: [u8; 1024] = [0xA5; 1024];
