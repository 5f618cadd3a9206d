#!/usr/bin/env bash
# `make dist`: the release archive, target/dist/liaison-<version>-linux-x86_64.tar.gz (and its
# .sha256): the liaison binary, the built site, the example configuration and systemd unit
# (dist/), the catalogue and the documentation. It runs on a machine with no Rust, Node or
# compiler (docs/operating.md). DIST_SKIP_BUILD=1 packs the release build already there (tools/test.sh
# packs the one its browser tests built); prints the archive's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh

if [ "${DIST_SKIP_BUILD:-}" != 1 ]; then
  tools/setup.sh >&2
  cargo leptos build --release --split --precompress >&2
fi

bin="$CARGO_TARGET_DIR/release/liaison"
site="${DIST_SITE:-target/site}"
for need in "$bin" "$site/pkg/liaison.wasm" "$site/pkg/liaison.js" "$site/pkg/liaison.css"; do
  [ -e "$need" ] || { echo "dist: $need is missing: run without DIST_SKIP_BUILD=1" >&2; exit 1; }
done
version=$("$bin" --version | awk '{print $2}')
name="liaison-$version"
out=target/dist
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/catalog" "$root/docs"
install -m 0755 "$bin" "$root/liaison"
cp -R "$site" "$root/site"
install -m 0644 dist/liaison.toml dist/liaison.service "$root/"
install -m 0644 server/catalog/predefined.toml "$root/catalog/"
install -m 0644 README.md SECURITY.md BENCHMARKS.md "$root/"
install -m 0644 docs/*.md "$root/docs/"
# The user guide's pictures (taken by the browser tests; tools/test.sh checks they are this run's).
mkdir -p "$root/docs/images"
install -m 0644 docs/images/*.png "$root/docs/images/"
# Readable by everyone, owned by no one in particular: it is unpacked as another user.
chmod -R u=rwX,go=rX "$root"

mkdir -p "$out"
archive="$out/$name-linux-x86_64.tar.gz"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}" \
  -C "$stage" -czf "$archive" "$name"
(cd "$out" && sha256sum "$(basename "$archive")" > "$(basename "$archive").sha256")
echo "dist: $(du -h "$archive" | cut -f1) $archive" >&2
echo "$archive"
