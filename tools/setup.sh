#!/usr/bin/env bash
# Installs what building (and, with `test`, testing) Liaison needs on a fresh machine of the
# project's kind, and does nothing for what is already there. Versions measured to work with Rust
# 1.95: cargo-leptos 0.3.10 (0.3.11 needs rustc 1.96), wasm-bindgen-cli = the wasm-bindgen in
# Cargo.lock, wasm-opt from npm's binaryen (never Debian's binaryen 108: hydration breaks silently),
# Debian's chromium for Playwright.
#   tools/setup.sh [test] [-- COMMAND...]
#     test      also Chromium (PostgreSQL: tools/postgres.sh)
#     COMMAND   run while the slow installs go on (tools/run.sh and tools/test.sh pass
#               tools/prebuild.py, which compiles Liaison meanwhile)
# On a fresh machine the slow parts are compiling cargo-leptos and wasm-bindgen-cli: they build side
# by side, in the background, with a lighter profile than their own (cargo-leptos asks for fat LTO
# in one codegen unit; how fast the tools run hardly matters: the site they assemble is the same),
# next to the npm packages and COMMAND. Logs: $CARGO_TARGET_DIR/setup-logs/. Figures: README.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh

want_test=
if [ "${1:-}" = test ]; then want_test=1; shift; fi
if [ "${1:-}" = -- ]; then shift; fi

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
# tools/prebuild.py reads Cargo.toml with Python's tomllib (3.11 and later).
if ! python3 -c 'import tomllib' 2>/dev/null; then
  say "installing Python 3 (3.11 or later)"
  apt_install python3
fi
if ! command -v npm >/dev/null 2>&1; then
  say "installing Node.js and npm"
  apt_install nodejs npm
fi
if [ -n "$want_test" ] && ! command -v chromium >/dev/null 2>&1; then
  say "installing Debian's chromium"
  apt_install chromium
fi

logs="$CARGO_TARGET_DIR/setup-logs"
mkdir -p "$logs"
# One setup at a time (make run and make test started together would build the same tool in the
# same directory and remove it under each other).
exec 9>"$logs/.lock"
if ! flock -n 9; then
  say "another tools/setup.sh is running; waiting for it"
  flock 9
fi
jobs_started=()
# Runs "$@" in the background, its output in $logs/$1.log.
background() {
  local name=$1; shift
  ( started=$SECONDS; status=0; "$@" || status=$?
    echo "[$name: exit $status after $((SECONDS - started)) s; its CPU time (times: shell, children) follows]"
    times; exit $status ) > "$logs/$name.log" 2>&1 &
  jobs_started+=("$name:$!")
}

# A tool compiled without optimisation (but for the brotli compressor cargo-leptos precompresses the
# site with, which would take minutes instead of seconds), in a build directory of its own (two
# cargo builds sharing one directory would wait for each other), removed once it is installed.
install_tool() {
  local build="$CARGO_TARGET_DIR/tools/$1"; shift
  CARGO_TARGET_DIR="$build" CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_DEBUG=0 \
    cargo install --config 'profile.release.package.brotli.opt-level=3' \
    --config 'profile.release.package.brotli-decompressor.opt-level=3' "$@" || return
  rm -rf "$build"
}

if ! cargo leptos --version 2>/dev/null | grep -q '0\.3\.10'; then
  say "installing cargo-leptos 0.3.10 in the background (about 10 minutes on 2 cores)"
  background cargo-leptos install_tool cargo-leptos cargo-leptos --version 0.3.10 --locked
fi
wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb\$"; then
  say "installing wasm-bindgen-cli $wb (must match Cargo.lock) in the background"
  # Not --locked: that fails to build here. No default features: those are TLS for the test
  # runner's downloads, which Liaison does not use.
  background wasm-bindgen-cli install_tool wasm-bindgen-cli wasm-bindgen-cli --version "$wb" --no-default-features
fi
# Before any test: the integration tests (cargo test) start oidc-provider from end2end/node_modules.
if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -f end2end/node_modules/oidc-provider/package.json ] \
  || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing end2end/ npm packages (Playwright, binaryen's wasm-opt, oidc-provider) in the background"
  background npm bash -c 'cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund'
fi

status=0
if [ $# -gt 0 ]; then
  if [ ${#jobs_started[@]} -gt 0 ]; then say "meanwhile: $*"; fi
  started=$SECONDS
  "$@" || status=$?
  say "$*: exit $status after $((SECONDS - started)) s"
fi
for job in "${jobs_started[@]}"; do
  name=${job%%:*}
  if wait "${job##*:}"; then
    say "$name: installed ($(grep -F "[$name: exit" "$logs/$name.log"))"
  else
    echo "installing $name failed; the end of $logs/$name.log:" >&2
    tail -n 30 "$logs/$name.log" >&2
    status=1
  fi
done
exit "$status"
