# Sourced by the tools: one shared cargo target directory (builds are slow on 2 cores, so the
# README commands and CI reuse it), and npm's wasm-opt first on PATH.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/liaison-target}"
export PATH="$top/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
