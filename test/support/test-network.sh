#!/usr/bin/env bash
# Runs a command inside a private network namespace made for the test run:
# lo up, and a veth pair carrying test addresses (media side 10.231.0.1,
# client side 10.231.0.2; /24, no route out), exported as
# CLINICIAN_MEDIA_ADDRESS and CLINICIAN_CLIENT_ADDRESS. As root it uses
# `unshare --net`; as a developer `unshare --net --map-root-user`, then drops
# back to the developer's own uid inside, so files and PostgreSQL behave as
# outside. Nothing in the namespace can reach another machine.
# Must never touch the host's network configuration.
set -euo pipefail

media_address=10.231.0.1
client_address=10.231.0.2

if [ "${CLINICIAN_TEST_NETNS:-}" = "setup" ]; then
  # Inside the new namespace, as (mapped) root: bring up the test network.
  ip link set lo up
  ip link add clin-media type veth peer name clin-client
  ip addr add "$media_address/24" dev clin-media
  ip addr add "$client_address/24" dev clin-client
  ip link set clin-media up
  ip link set clin-client up
  export CLINICIAN_TEST_NETNS=1 CLINICIAN_MEDIA_ADDRESS="$media_address" CLINICIAN_CLIENT_ADDRESS="$client_address"
  if [ "${CLINICIAN_TEST_UID:-0}" != 0 ]; then
    # A developer: become their own uid again (a nested user namespace; the network stays).
    exec unshare --user --map-user="$CLINICIAN_TEST_UID" --map-group="$CLINICIAN_TEST_GID" -- "$@"
  fi
  exec "$@"
fi

for tool in unshare ip; do
  command -v "$tool" >/dev/null || { echo "the tests need $tool (Debian packages util-linux and iproute2)" >&2; exit 1; }
done
if [ "$(id -u)" = 0 ]; then
  unshare_args=(--net)
else
  unshare_args=(--net --map-root-user)
fi
if ! unshare "${unshare_args[@]}" true 2>/dev/null; then
  echo "the tests run in a private network namespace: 'unshare ${unshare_args[*]}' is not permitted here." >&2
  echo "Run them as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0)." >&2
  exit 1
fi
export CLINICIAN_TEST_NETNS=setup CLINICIAN_TEST_UID="$(id -u)" CLINICIAN_TEST_GID="$(id -g)"
exec unshare "${unshare_args[@]}" -- bash "$0" "$@"
