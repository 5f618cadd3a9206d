#!/usr/bin/env bash
# `make bench`: builds the release binaries (the site with cargo-leptos, the server with the
# bench-release profile), then runs tools/bench/bench.mjs, which prints one table and writes
# BENCHMARKS.md. Needs wrk and nginx (Debian packages, installed here when missing), Node.js,
# Debian's chromium, PostgreSQL at BENCH_DATABASE_URL (its role may CREATE DATABASE) and
# end2end/node_modules (oidc-provider). Takes about ten minutes on two cores with warm builds.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v chromium >/dev/null || missing+=(chromium)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [ ! -d end2end/node_modules/oidc-provider ]; then
  step "npm ci in end2end/ (oidc-provider)"
  (cd end2end && npm ci --no-audit --no-fund)
fi
if [ ! -d tools/bench/node_modules/lighthouse ]; then
  step "npm ci in tools/bench/ (Lighthouse)"
  (cd tools/bench && npm ci --no-audit --no-fund)
fi

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  step "building the site (cargo leptos build --release --split --precompress --frontend-only)"
  cargo leptos build --release --split --precompress --frontend-only --cargo-locked
  step "building the server (cargo build -p server --profile bench-release)"
  cargo build -p server --profile bench-release --locked
fi

export LIAISON_BIN="$CARGO_TARGET_DIR/bench-release/liaison"
export SITE_ROOT="$PWD/target/site"
export BENCH_DATABASE_URL="${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-postgres://liaison:liaison@127.0.0.1:5432/liaison_test}}"
step "running the benchmarks (tools/bench/bench.mjs)"
exec node tools/bench/bench.mjs
