#!/usr/bin/env bash
# The release archive's test (tools/test.sh runs it after the browser tests, packing their release
# build): unpacked into an empty directory outside the repository by another user (`nobody` when
# run as root), run with an empty PATH (no Rust, Node or compiler reachable): `doctor` on the
# example configuration, `admin create`, `serve`, /healthz, `doctor` again while it serves, and the
# sign-in page hydrated in Chromium (end2end/archive, Playwright, its own port); the shipped systemd
# unit verified (systemd-analyze) where systemd's tools are. DIST_SKIP_BUILD=0 builds the release
# first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source tools/env.sh
started=$(date +%s)

archive=$(DIST_SKIP_BUILD="${DIST_SKIP_BUILD:-1}" tools/dist.sh)
port="${ARCHIVE_PORT:-3300}"
work=$(mktemp -d /tmp/liaison-archive.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"
home="$work/home"
mkdir -m 0700 "$home" "$work/no-tools"
install -m 0644 "$archive" "$work/liaison.tar.gz"

# Another user when we may (root), in a directory of its own outside the repository, with nothing on
# PATH: what it runs is what the archive holds (the repository itself is not hidden from it).
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  chown nobody:nogroup "$home"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  who=nobody
else
  as_user=()
  who=$(id -un)
fi
# Unpacking needs tar and gzip; Liaison needs nothing on PATH.
"${as_user[@]}" env -i PATH=/usr/bin:/bin HOME="$home" tar -xzf "$work/liaison.tar.gz" -C "$home"
dir=$(echo "$home"/liaison-*)
# Each command execs the next (setpriv, env, liaison): the server's process id is the one started.
run=("${as_user[@]}" env -i PATH="$work/no-tools" HOME="$home" LIAISON_DATA_DIR="$home/data"
  LIAISON_SITE_ROOT="$dir/site" LIAISON_LISTEN="127.0.0.1:$port" LIAISON_PUBLIC_URL="http://127.0.0.1:$port"
  LIAISON_LOG=warn "$dir/liaison" --config "$dir/liaison.toml")
liaison() { "${run[@]}" "$@"; }
cd "$home"
echo "archive: $(basename "$archive") unpacked by $who into $dir"

# The shipped unit, pointed at this unpacked binary: valid, and as sandboxed as it was made
# (exposure 2.0 at most on systemd-analyze's scale; docs/operating.md gives the figure).
if command -v systemd-analyze > /dev/null; then
  sed "s#/opt/liaison/liaison #$dir/liaison #" "$dir/liaison.service" > "$work/liaison.service"
  systemd-analyze verify "$work/liaison.service"
  systemd-analyze security --offline=true --threshold=20 "$work/liaison.service" | tail -1
fi

echo "archive: liaison doctor (before the first start)"
liaison doctor
printf '%s\n' "correct horse battery staple" |
  liaison admin create --email ada@acme.example --name "Ada Admin" --org "Acme Robotics"
# Refuse a port some other server already holds: its answers would pass for ours.
if curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; then
  echo "archive: something already answers on port $port (ARCHIVE_PORT picks another)" >&2
  exit 1
fi
"${run[@]}" serve > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "archive: serve exited" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz"; echo
echo "archive: liaison doctor (while serving)"
liaison doctor

cd "$repo/end2end"
LIAISON_ARCHIVE_URL="http://127.0.0.1:$port" npx playwright test --config archive.config.ts

kill -TERM "$pid"
status=0; wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || { cat "$work/serve.log" >&2; echo "archive: serve exited with $status on SIGTERM" >&2; exit 1; }
echo "archive: passed in $(( $(date +%s) - started )) s"
