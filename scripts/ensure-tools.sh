#!/usr/bin/env bash
# Installs the Debian tools the tests need when they are missing (CI starts from a bare machine).
set -euo pipefail
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]}: install them (apt-get install -y ${need[*]}) or run as root" >&2
    exit 1
  fi
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # nginx's package starts a system service on port 80; the tests run their own nginx
  (command -v systemctl >/dev/null && systemctl stop nginx 2>/dev/null) || true
  (service nginx stop >/dev/null 2>&1) || true
fi
