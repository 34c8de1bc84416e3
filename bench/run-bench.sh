#!/usr/bin/env bash
# npm run bench [-- --quick]: the benchmarks, in the same private keyring and
# PostgreSQL the tests use (the encrypted cache's key comes from a real
# keychain; the backend runs on SQLite and PostgreSQL side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run -s build:renderer >/dev/null
scratch=$(mktemp -d -t clinician-bench-XXXXXX)
source test/with-postgres.sh
trap 'stop_private_postgres; rm -rf "$scratch"' EXIT
start_private_postgres
mkdir -p "$scratch/home" "$scratch/data" "$scratch/runtime"
chmod 700 "$scratch/runtime"
export HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime"
export CLINICIAN_TEST_ROOT="$PWD"
dbus-run-session -- bash test/with-keyring.sh node --import tsx bench/run-all.ts "$@" 2> >(grep -v 'fd limit' >&2)
