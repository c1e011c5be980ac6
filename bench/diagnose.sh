#!/usr/bin/env bash
# Times `certdoctor diagnose` on a lab endpoint beside `openssl s_client -showcerts` and, where
# installed (or installable), `sslyze --certinfo`, and prints ratios (median of several runs).
# Usage: bash bench/diagnose.sh [RUNS]   (from the repo root, after `make venv`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "run 'make venv' first" >&2; exit 2; }
# sslyze pins its own cryptography: it gets a venv of its own, never the project's.
if ! .bench-venv/bin/sslyze --help >/dev/null 2>&1; then
  echo "(installing sslyze into .bench-venv for the comparison; skipped if unavailable)"
  { python3 -m venv .bench-venv && .bench-venv/bin/pip install -q sslyze; } >/dev/null 2>&1 \
    || echo "(sslyze could not be installed: compared with openssl only)"
fi
export CERTDOCTOR_SSLYZE="$PWD/.bench-venv/bin/sslyze"
# A pip install compiles bytecode; this machine sets PYTHONDONTWRITEBYTECODE, so compile once
# here, or every run would measure the compiler instead of certdoctor.
"$PY" -m compileall -q src >/dev/null
exec env -u PYTHONDONTWRITEBYTECODE -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR "$PY" bench/diagnose_bench.py "${1:-7}"
