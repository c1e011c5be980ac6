#!/usr/bin/env bash
# Installs the Debian tools the tests need when they are missing (CI starts from a bare machine):
#   openssl, nginx (nginx-light), prometheus (prometheus + promtool: the alert-rule tests and the
#   real Prometheus server of tests/support/prometheus.py), faketime (runs a command at another time),
#   pebble + pebble-challtestsrv (the ACME test server of tests/support/pebble.py; one Debian package),
#   chromium (the HTML report's browser tests, tests/support/chromium.py: headless, DevTools over a pipe).
# Idempotent: nothing is installed, updated or stopped when every tool is already there.
set -euo pipefail
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
# one Debian package gives both binaries; either missing means (re)install it
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || need+=(prometheus)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
{ command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1; } || need+=(pebble)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]}: install them (apt-get install -y --no-install-recommends ${need[*]}) or run as root" >&2
    exit 1
  fi
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # the packages start system services (nginx on port 80, prometheus on 0.0.0.0:9090); the tests
  # run their own on 127.0.0.1 with free ports, so stop and disable the system ones
  for svc in nginx prometheus; do
    case " ${need[*]} " in
      *" $svc "* | *" $svc-light "*) ;;
      *) continue ;;
    esac
    if command -v systemctl >/dev/null 2>&1; then
      systemctl stop "$svc" >/dev/null 2>&1 || true
      if [ "$svc" = prometheus ]; then systemctl disable "$svc" >/dev/null 2>&1 || true; fi
    fi
    (service "$svc" stop >/dev/null 2>&1) || true
  done
fi
