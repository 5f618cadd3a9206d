#!/usr/bin/env bash
# Installs what building (and, with `test`, testing) Liaison needs on a fresh machine of the
# project's kind, and does nothing for what is already there. Versions measured to work with Rust
# 1.95: cargo-leptos 0.3.10 (0.3.11 needs rustc 1.96), wasm-bindgen-cli = the wasm-bindgen in
# Cargo.lock, wasm-opt from npm's binaryen (never Debian's binaryen 108: hydration breaks silently),
# Debian's chromium for Playwright.
#   tools/setup.sh        build tools
#   tools/setup.sh test   build tools + Chromium + PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "Please install the Debian packages '$*' (or run this as root)." >&2
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The wasm build rebuilds the standard library from its source (`-Zbuild-std`, Cargo.toml).
if ! rustup component list --installed | grep -qx rust-src; then
  say "adding the rust-src component"
  rustup component add rust-src
fi

if ! cargo leptos --version 2>/dev/null | grep -q '0\.3\.10'; then
  say "installing cargo-leptos 0.3.10 (about 12 minutes on 2 cores)"
  cargo install cargo-leptos --version 0.3.10 --locked
fi

wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb\$"; then
  say "installing wasm-bindgen-cli $wb (must match Cargo.lock)"
  # Not --locked: that fails to build here.
  cargo install wasm-bindgen-cli --version "$wb"
fi

if ! command -v npm >/dev/null 2>&1; then
  say "installing Node.js and npm"
  apt_install nodejs npm
fi
# Before any test: the integration tests (cargo test) start oidc-provider from end2end/node_modules.
if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -f end2end/node_modules/oidc-provider/package.json ] \
  || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing end2end/ npm packages (Playwright, binaryen's wasm-opt, oidc-provider)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

if [ "${1:-}" = test ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Debian's chromium"
    apt_install chromium
  fi
fi
