#!/usr/bin/env bash
# certdoctor lint beside bandit -t B501,B323 (its verify=False and unverified-context checks):
#  1. the true-positive corpus tests/lint_corpus/bad: which marked findings each tool reports;
#  2. a large real tree installed from PyPI (pinned, no dependencies): ansible-core,
#     openstacksdk, keystoneauth1 and docker, ~2,200 *.py files of TLS-heavy client code:
#     files scanned, findings, and wall time (median of RUNS runs, default 3) as a ratio.
# Usage: bash bench/lint.sh [RUNS]   (from the repo root, after `make venv`; needs PyPI)
# The tree is kept in $CERTDOCTOR_BENCH_DIR (default /tmp/certdoctor-bench-lint) for reruns.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
[ -x "$VENV/bin/certdoctor" ] || { echo "run 'make venv' first" >&2; exit 2; }
# bandit gets a venv of its own (.bench-venv): the project's venv stays what pyproject says
BANDIT=.bench-venv/bin/bandit
if ! "$BANDIT" --version >/dev/null 2>&1; then
  echo "(installing bandit into .bench-venv for the comparison)"
  [ -x .bench-venv/bin/pip ] || python3 -m venv .bench-venv
  .bench-venv/bin/pip install -q bandit
fi
export CERTDOCTOR_BANDIT="$PWD/$BANDIT"
WORK=${CERTDOCTOR_BENCH_DIR:-/tmp/certdoctor-bench-lint}
TREE=$WORK/tree
PKGS="ansible-core==2.19.14 openstacksdk==4.22.0 keystoneauth1==5.18.1 docker==7.2.0"
if [ "$(cat "$TREE/.certdoctor-bench" 2>/dev/null)" != "$PKGS" ]; then
  echo "(installing the benchmark tree into $TREE: $PKGS)"
  rm -rf "$TREE"
  "$VENV/bin/pip" install -q --no-deps --no-compile --target "$TREE" $PKGS
  echo "$PKGS" > "$TREE/.certdoctor-bench"
fi
echo "tree: $PKGS"
exec "$VENV/bin/python" bench/lint_compare.py --tree "$TREE" --corpus tests/lint_corpus/bad \
  --runs "${1:-3}"
