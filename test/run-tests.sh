#!/usr/bin/env bash
# npm test: lint (the import table), typecheck, build the renderer, then every
# test under node's test runner inside a private D-Bus session with a fresh,
# unlocked gnome-keyring in a throwaway HOME. The keyring password is random
# per run and never printed; nothing touches the real user's keychain.
set -euo pipefail
cd "$(dirname "$0")/.."

# The whole run happens inside a network namespace of its own (lo plus a veth
# pair with test addresses), so the media tests' Janus, coturn, backends and
# Chromium can use a real interface (Janus ignores loopback for media) and no
# packet of any test can leave the machine. test/support/test-network.sh makes it.
if [ -z "${CLINICIAN_TEST_NETNS:-}" ]; then
  exec bash test/support/test-network.sh bash test/run-tests.sh "$@"
fi

# CLINICIAN_TEST_ONLY=1 skips lint, typecheck and the build (for a quick
# run of a few test files while working; npm test and CI never set it).
if [ -z "${CLINICIAN_TEST_ONLY:-}" ]; then
  npm run -s lint
  npm run -s typecheck
  npm run -s build:renderer >/dev/null
fi

for tool in dbus-run-session gnome-keyring-daemon chromium runuser; do
  command -v "$tool" >/dev/null || { echo "npm test needs $tool (see README: what the tests need)" >&2; exit 1; }
done

scratch=$(mktemp -d -t clinician-test-XXXXXX)
# The cache store's worker, bundled from this tree as the app bundles it
# (build/bundle-electron.mjs), beside node_modules so its native modules
# resolve: every test's store runs it (store-client.ts reads
# CLINICIAN_STORE_WORKER_BUNDLE under tsx only; the app never does). A worker
# started from the TypeScript source pays tsx's loader at each open (four
# cache-heavy files took 119 s that way, 99 s bundled); cache-store.test.ts
# still starts that one.
bundle="$PWD/node_modules/.cache/clinician-tests/run-$$"
trap 'if command -v stop_private_postgres >/dev/null; then stop_private_postgres; fi; rm -rf "$scratch" "$bundle"' EXIT
CLINICIAN_ELECTRON_OUTDIR="$bundle" node build/bundle-electron.mjs
export CLINICIAN_STORE_WORKER_BUNDLE="$bundle/cache-store-worker.cjs"
mkdir -p "$scratch/home" "$scratch/data" "$scratch/runtime" "$scratch/tmp"
chmod 700 "$scratch/runtime"
export HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime" TMPDIR="$scratch/tmp"
export CLINICIAN_TEST_ROOT="$PWD"
# The backends' security logs go to a file, not among the test results.
export CLINICIAN_SECURITY_LOG="$scratch/security.log"

# A private PostgreSQL on loopback for the backend tests, with a random
# password; it stops when the tests end.
source test/with-postgres.sh
start_private_postgres

# The slowest files start first (their times in a CI run of 2026-11-27, most
# over a minute), then the rest by name: a long file started last would run
# alone at the end while the other slots sit idle. (`node
# --test` sorts the files it is given by name, so test/support/ordered-runner.mjs
# hands them to node:test's run() in this order.)
slow_first="test/sync-crash.test.ts test/undo-window.test.ts test/media/consult-attacks.test.ts test/browser/passkey.browser.test.ts test/audit-chain.test.ts test/demo.test.ts test/crash-import.test.ts test/cache-rollback.test.ts"
all=$(find test -name '*.test.ts' | sort)
files=$(for f in $slow_first; do grep -xF "$f" <<< "$all" || true; done; grep -vxF -f <(tr ' ' '\n' <<< "$slow_first") <<< "$all")
if [ "$#" -gt 0 ]; then files="$*"; fi

# Files run CLINICIAN_TEST_CONCURRENCY at a time (default 3 on CI's two
# cores: most of a file's time is spent waiting on the processes it starts,
# not on a core; on 2026-11-28 three at a time took npm test from 1,397 s to
# 948 s, the files' summed times unchanged at about 2,450 s). No file may
# hang the run: one that takes longer than 10 minutes fails (the runner's
# timeout bounds each file as a whole; the slowest takes about 2 under load),
# and a file whose tests are over exits even if it left a handle open. The
# results go to stdout (spec reporter); after them, the slowest files and the
# wall time go to stderr.
concurrency=${CLINICIAN_TEST_CONCURRENCY:-3}
# shellcheck disable=SC2086
dbus-run-session --dbus-daemon="$PWD/test/support/quiet-dbus-daemon.sh" -- bash test/with-keyring.sh \
  node --import tsx test/support/ordered-runner.mjs "$concurrency" $files
