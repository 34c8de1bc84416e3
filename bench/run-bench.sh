#!/usr/bin/env bash
# npm run bench [-- --quick]: the benchmarks, in the same private keyring and
# PostgreSQL the tests use (the encrypted cache's key comes from a real
# keychain; the backend runs on SQLite and PostgreSQL side by side), with the
# backend before issue 8 measured beside the current one.
set -euo pipefail
cd "$(dirname "$0")/.."
# Inside the same private network namespace the tests use (lo + a veth pair
# with test addresses, CLINICIAN_MEDIA_ADDRESS): the consultation bench runs
# Janus and coturn there, and nothing leaves the machine.
if [ -z "${CLINICIAN_TEST_NETNS:-}" ]; then
  exec bash test/support/test-network.sh bash bench/run-bench.sh "$@"
fi
npm run -s build:renderer >/dev/null
# The store workers bundled as the app bundles its own (bench/scale-workload.ts starts them).
node bench/bundle-workers.mjs "$PWD/.tmp/bench-workers" >/dev/null
export BENCH_STORE_WORKERS="$PWD/.tmp/bench-workers"

# The backend before issue 8, compared with this one in the same run: a git
# worktree of that commit under .tmp/ (gitignored), sharing node_modules. The
# benchmarks import its server modules from there (bench/backend-versions.ts).
baseline_commit=709912e
baseline="$PWD/.tmp/bench-baseline"
if want=$(git rev-parse --verify -q "$baseline_commit^{commit}"); then
  if [ "$(git -C "$baseline" rev-parse -q --verify HEAD 2>/dev/null)" != "$want" ]; then
    git worktree remove --force "$baseline" 2>/dev/null || rm -rf "$baseline"
    git worktree prune
    mkdir -p .tmp
    git worktree add --detach "$baseline" "$want" >/dev/null 2>&1
  fi
  ln -sfn "$PWD/node_modules" "$baseline/node_modules"
  export BENCH_BASELINE_ROOT="$baseline"
else
  echo "bench: commit $baseline_commit is not in this clone; measuring the current backend only" >&2
fi
scratch=$(mktemp -d -t clinician-bench-XXXXXX)
source test/with-postgres.sh
trap 'stop_private_postgres; rm -rf "$scratch"' EXIT
start_private_postgres
mkdir -p "$scratch/home" "$scratch/data" "$scratch/runtime"
chmod 700 "$scratch/runtime"
export HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime"
export CLINICIAN_TEST_ROOT="$PWD"
dbus-run-session --dbus-daemon="$PWD/test/support/quiet-dbus-daemon.sh" -- bash test/with-keyring.sh node --import tsx bench/run-all.ts "$@"
