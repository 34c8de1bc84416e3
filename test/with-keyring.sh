#!/usr/bin/env bash
# Inside a private D-Bus session: start gnome-keyring's Secret Service with a
# fresh login keyring unlocked by a random password, then run the command.
set -euo pipefail
password=$(head -c 32 /dev/urandom | base64)
printf '%s' "$password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
unset password
exec "$@"
