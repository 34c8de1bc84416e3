#!/usr/bin/env bash
# Sourced by test/run-tests.sh and bench/run-bench.sh: starts a throwaway
# PostgreSQL cluster on 127.0.0.1 with a random password (never printed) and
# exports TEST_DATABASE_URL for it; stop_private_postgres removes it.
pg_root=""
pg_bin=""

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_private_postgres() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pg_bin" ]; then
    echo "the tests need PostgreSQL (Debian package postgresql); see README" >&2
    exit 1
  fi
  pg_root=$(mktemp -d /tmp/clinician-pg-XXXXXX)
  chmod 755 "$pg_root"
  local password port
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  printf '%s' "$password" > "$pg_root/pwfile"
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$pg_root"; fi
  as_postgres "$pg_bin/initdb" -D "$pg_root/data" -U clinician_test --pwfile="$pg_root/pwfile" -A scram-sha-256 >/dev/null
  rm -f "$pg_root/pwfile"
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  as_postgres "$pg_bin/pg_ctl" -D "$pg_root/data" -l "$pg_root/log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_root" start >/dev/null
  export TEST_DATABASE_URL="postgres://clinician_test:${password}@127.0.0.1:${port}/postgres"
}

stop_private_postgres() {
  if [ -n "$pg_root" ] && [ -d "$pg_root/data" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_root/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_root"
  fi
}
