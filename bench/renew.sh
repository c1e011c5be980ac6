#!/usr/bin/env bash
# certdoctor renew vs certbot, against the same local pebble: time to issue one certificate and to
# renew ten, and each tool on the same faults (a table). One run; never a timing assertion.
#   bench/renew.sh            (after `make venv`; certbot goes into its own venv, CERTBOT_VENV)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
VENV=${CERTBOT_VENV:-/tmp/bench-venv-certbot}
./scripts/ensure-tools.sh  # pebble, nginx
if [ ! -x "$VENV/bin/certbot" ]; then
  ( timeout 600 python3 -m venv "$VENV" && timeout 600 "$VENV/bin/pip" install -q certbot ) \
    || { echo "note: pip could not install certbot into $VENV"; exit 1; }
fi
echo "certbot: $("$VENV/bin/certbot" --version 2>&1)  certdoctor: $("$PY" -m certdoctor --version)  pebble: $(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo '?')"
exec env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR -u PIP_CERT \
  PYTHONPATH=src:tests "$PY" bench/renew_bench.py "$VENV/bin/certbot"
