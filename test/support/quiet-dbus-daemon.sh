#!/usr/bin/env bash
# The test session's dbus-daemon (dbus-run-session --dbus-daemon=this), with
# its standard output and error on /dev/null instead of the test run's. Every
# service the bus starts on demand (Chromium makes it start
# at-spi-bus-launcher) inherits these: a service that outlives the run must
# never hold CI's output open, or CI waits for it forever. The bus address
# still reaches dbus-run-session on the descriptor it names.
exec dbus-daemon "$@" >/dev/null 2>&1
