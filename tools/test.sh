#!/usr/bin/env bash
# The whole test suite: formatting and lints, unit tests, integration tests on SQLite and
# PostgreSQL, and the Playwright tests in headless Chromium against a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
# The release build the browser tests use compiles while setup installs the tools (tools/prebuild.py).
tools/setup.sh test -- python3 tools/prebuild.py

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  step "starting PostgreSQL"
  TEST_DATABASE_URL=$(tools/postgres.sh)
  export TEST_DATABASE_URL
fi

step "rustfmt"
cargo fmt --all --check
step "no import cycle between the server's modules (tools/module-graph.py)"
python3 tools/module-graph.py > /dev/null || python3 tools/module-graph.py
step "every browser test imports the suite's watched test (end2end/tests/helpers.ts)"
if grep -nE '^import \{[^}]*\} from "@playwright/test"' end2end/tests/*.spec.ts; then
  echo "a spec imports from @playwright/test directly: import test and expect from ./helpers (types: import type)" >&2
  exit 1
fi
step "clippy (server side, and the wasm side)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p app -p frontend --features app/hydrate --target wasm32-unknown-unknown --locked -- -D warnings
step "unit and integration tests (SQLite and PostgreSQL)"
# frontend/ is left out so that features do not unify: the server binary the integration tests
# spawn is then built exactly as it ships (ssr only, no hydrate). frontend has no tests of its own.
cargo test --workspace --exclude frontend --locked
step "browser tests (release build, Playwright, headless Chromium)"
e2e_started=$(date +%s)
e2e_data=$(mktemp -d)
trap 'rm -rf "$e2e_data"' EXIT
# The browser flows run against a local oidc-provider (http, loopback): test-only settings.
LIAISON_DATA_DIR="$e2e_data/data" LIAISON_ALLOW_HTTP_URLS=true LIAISON_ALLOW_PRIVATE_NETWORK=true \
  LIAISON_ADMIN_TOKEN=e2e-admin-token-0123456789abcdef0123 LIAISON_EMBED_ORIGINS=http://localhost:3200 \
  LIAISON_EMBED_SECRET=e2e-embed-secret-0123456789abcdef0123 \
  LIAISON_EMBED_THEME="accent=#0b6e4f; accent_text=#ffffff; radius=4px; font=serif; scheme=light" \
  CARGO_TERM_COLOR=never cargo leptos end-to-end --release --split --precompress 2>&1 | tee "$e2e_data/e2e.log"
step "cargo-leptos compiled nothing that tools/prebuild.py had compiled (they build the same way)"
if grep -E '^\s*Compiling (server|app|frontend) ' "$e2e_data/e2e.log"; then
  echo "cargo-leptos rebuilt what tools/prebuild.py built: its commands no longer match cargo-leptos's (python3 tools/prebuild.py --print), or a source file changed during the run" >&2
  exit 1
fi
step "every picture docs/user-guide.md shows was taken by this run's browser tests"
for picture in $(grep -o 'images/[a-z0-9-]*\.png' docs/user-guide.md | sort -u); do
  if [ ! -f "docs/$picture" ] || [ "$(stat -c %Y "docs/$picture")" -lt "$e2e_started" ]; then
    echo "docs/user-guide.md shows docs/$picture, which this run's browser tests did not take" >&2
    exit 1
  fi
done
step "the main wasm module holds no words of the lazy pages (frontend/src/lib.rs, SPLIT_SLACK)"
# wasm-split gives each chunk its own constants, unless its packing of them comes out longer than
# the linker's: then every page's words land in the main module (42 KB once). Each phrase below is
# a lazy page's own; it must be in some chunk, and not in liaison.wasm.
test -s target/site/pkg/liaison.wasm
# The chunks this build's loader names (a stale file left from an earlier build proves nothing).
mapfile -t chunks < <(grep -oh '\./[A-Za-z0-9_]*\.wasm' target/site/pkg/__wasm_split.*.js | sort -u | sed 's|^\./|target/site/pkg/|')
[ "${#chunks[@]}" -gt 0 ]
for words in "No API tokens yet" "Create New Service" "They are signed out of every browser at once"; do
  if ! grep -rqF "$words" app/src/pages || ! grep -lqF "$words" "${chunks[@]}"; then
    echo "no wasm chunk holds \"$words\": pick a phrase that a lazy page still shows" >&2
    exit 1
  fi
  if grep -qF "$words" target/site/pkg/liaison.wasm; then
    echo "the main wasm module holds \"$words\", a lazy page's words: wasm-split put the pages' constants in it" >&2
    exit 1
  fi
done
step "the release archive: unpacked and run as another user, sign-in hydrated (tools/dist-test.sh)"
# Packs the release build the browser tests just made (no second build).
tools/dist-test.sh
