#!/usr/bin/env bash
# certdoctor diagnose vs openssl s_client -showcerts, sslyze --certinfo and check_tls_certs on the
# same nginx endpoints (a good chain; a missing intermediate served by AIA; a chain with a CRL),
# on loopback and through a latency relay (25 ms each way) in front of the TLS endpoints and the
# AIA/CRL server alike; medians of wall time, CPU time and peak RSS, the ratios of issue 13, and
# certdoctor --version vs python -c pass. Driver: bench/diagnose_bench.py (its docstring says how).
# Usage: bash bench/diagnose.sh [RUNS]   (from the repo root, after `make venv`)
#   PYTHON=.venv/bin/python BENCH_VENV=/tmp/bench-venv CTC_VENV=/tmp/bench-venv-ctc DELAY=0.025
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || { echo "run 'make venv' first (or set PYTHON)" >&2; exit 2; }
VENV=${BENCH_VENV:-/tmp/bench-venv}
CTC_VENV=${CTC_VENV:-/tmp/bench-venv-ctc}
# sslyze and check_tls_certs pin their own cryptography/pyOpenSSL: a venv each, never the project's.
# check_tls_certs 0.12.0 (its latest) calls X509.get_extension, gone from pyOpenSSL >= 24.3.
if [ ! -x "$VENV/bin/sslyze" ]; then
  ( timeout 600 python3 -m venv "$VENV" && timeout 600 "$VENV/bin/pip" install -q sslyze ) >/dev/null 2>&1 \
    || echo "note: sslyze could not be installed into $VENV (no sslyze ratio)"
fi
if [ ! -x "$CTC_VENV/bin/check_tls_certs" ]; then
  ( timeout 600 python3 -m venv "$CTC_VENV" && timeout 600 "$CTC_VENV/bin/pip" install -q check_tls_certs "pyopenssl<24.3" ) \
    >/dev/null 2>&1 || echo "note: check_tls_certs could not be installed into $CTC_VENV (no CPU ratio)"
fi
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "needs nginx (scripts/ensure-tools.sh)" >&2; exit 2; }
# `make venv` compiles the package's bytecode; an editable src/ written since is compiled here
# (the machines set PYTHONDONTWRITEBYTECODE, which stops writing .pyc, not reading them).
"$PY" -m compileall -q src >/dev/null
export SSLYZE="$VENV/bin/sslyze" CHECK_TLS_CERTS="$CTC_VENV/bin/check_tls_certs"
export CERTDOCTOR=${CERTDOCTOR:-$(dirname "$PY")/certdoctor}
exec env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR -u PIP_CERT \
  PYTHONPATH="$PWD/src" "$PY" bench/diagnose_bench.py "${1:-7}"
