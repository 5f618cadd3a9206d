#!/usr/bin/env bash
# Starts this machine's PostgreSQL for the test suite (installing it from Debian if missing), makes
# a `liaison` role that may create databases, drops databases left by earlier test runs, and prints
# the TEST_DATABASE_URL the tests use. Needs root (as on the project's machines).
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
read -r ver port status < <(pg_lsclusters -h | awk '$2 == "main" { print $1, $3, $4; exit }') || true
if [ -z "${ver:-}" ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_createcluster "$ver" main >&2
  read -r ver port status < <(pg_lsclusters -h | awk '$2 == "main" { print $1, $3, $4; exit }')
fi
if [ "$status" != "online" ]; then
  pg_ctlcluster "$ver" main start >&2
fi

psql_admin() { su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -tAq $*"; }
for _ in $(seq 1 30); do psql_admin "-c 'SELECT 1'" >/dev/null 2>&1 && break; sleep 0.5; done
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = 'liaison'\"")" != "1" ]; then
  psql_admin "-c \"CREATE ROLE liaison LOGIN PASSWORD 'liaison' CREATEDB\"" >&2
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = 'liaison_test'\"")" != "1" ]; then
  psql_admin "-c \"CREATE DATABASE liaison_test OWNER liaison\"" >&2
fi
# Databases made by earlier runs (each test makes its own, named liaison_t<hex>).
for db in $(psql_admin "-c \"SELECT datname FROM pg_database WHERE datname ~ '^liaison_t[0-9a-f]{16}\$'\""); do
  psql_admin "-c 'DROP DATABASE IF EXISTS $db'" >&2
done
echo "postgres://liaison:liaison@127.0.0.1:$port/liaison_test"
