#!/usr/bin/env bash
# npm run bench [-- --quick]: the benchmarks, in the same private keyring
# session the tests use (the encrypted cache's key comes from a real keychain).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d -t clinician-bench-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/data" "$scratch/runtime"
chmod 700 "$scratch/runtime"
export HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime"
exec dbus-run-session -- bash test/with-keyring.sh node --import tsx bench/cache-bench.ts "$@" 2> >(grep -v 'fd limit' >&2)
