#!/usr/bin/env bash
# Times `certdoctor diagnose` on a lab endpoint beside `openssl s_client -showcerts` and, where
# installed (or installable), `sslyze --certinfo`, and prints ratios (median of several runs).
# Usage: bash bench/diagnose.sh [RUNS]   (from the repo root, after `make venv`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "run 'make venv' first" >&2; exit 2; }
if ! .venv/bin/sslyze --help >/dev/null 2>&1; then
  echo "(installing sslyze into .venv for the comparison; skipped if unavailable)"
  .venv/bin/pip install -q sslyze >/dev/null 2>&1 || echo "(sslyze could not be installed: compared with openssl only)"
fi
exec env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR "$PY" bench/diagnose_bench.py "${1:-7}"
