# Sourced by the tools: one shared cargo target directory (builds are slow on 2 cores, so the
# README commands and CI reuse it), and npm's wasm-opt first on PATH.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/liaison-target}"
export PATH="$top/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Leptos bakes LEPTOS_OUTPUT_NAME into the server at compile time (it names the wasm file the pages
# load; unset, `liaison_bg.wasm`, which the site does not have). cargo-leptos sets it; plain cargo
# builds of the server (the tests, the bench's bench-release build) get the same value here, so
# every build in the shared target directory agrees and none silently breaks hydration.
export LEPTOS_OUTPUT_NAME=liaison
# The wasm module is built with unstable cargo and rustc flags for size (`lib-cargo-args` in
# Cargo.toml: the standard library rebuilt for size, panics that abort at once, no source
# locations), which the stable toolchain accepts only with this. It turns on no feature by
# itself: the code compiles on plain stable, and the native builds are the same with or without it.
export RUSTC_BOOTSTRAP=1
