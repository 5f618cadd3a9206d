#!/usr/bin/env bash
# Builds Liaison (release) and runs it on the embedded SQLite default at http://127.0.0.1:3000.
# Data lives in ./data unless LIAISON_DATA_DIR (or a config file) says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
# Liaison compiles (tools/prebuild.py) while setup installs cargo-leptos, which then finds it built.
tools/setup.sh -- python3 tools/prebuild.py
export LIAISON_DATA_DIR="${LIAISON_DATA_DIR:-$PWD/data}"
exec cargo leptos serve --release --split --precompress
