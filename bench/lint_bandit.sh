#!/usr/bin/env bash
# certdoctor lint beside bandit on the pinned wheel corpus of tests/data/lint_corpus/MANIFEST.json
# (45 wheels, 8,595 *.py, unpacked once into $CERTDOCTOR_BENCH_DIR, default /tmp/certdoctor-bench-wheels).
# bandit runs its TLS tests only (B501 verify=False, B502-B504 weak protocols, B323 unverified
# context), installed into /tmp/bandit-venv. Prints files, findings of each, and the wall-time
# ratio (median of RUNS runs, default 3); no assertion, the figures are for reading.
# Usage: bash bench/lint_bandit.sh [RUNS]   (from the repo root; needs the wheels in .cache/lint-corpus
# -- scripts/fetch-lint-corpus.py -- and PyPI once for bandit)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${CERTDOCTOR_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
BVENV=${BANDIT_VENV:-/tmp/bandit-venv}
if ! "$BVENV/bin/bandit" --version >/dev/null 2>&1; then
  echo "(installing bandit into $BVENV)"
  python3 -m venv "$BVENV"
  "$BVENV/bin/pip" install -q bandit
fi
WORK=${CERTDOCTOR_BENCH_DIR:-/tmp/certdoctor-bench-wheels}
exec env PYTHONPATH=src "$PY" - "$WORK" "$BVENV/bin/bandit" "${1:-3}" <<'PYEOF'
import json, statistics, subprocess, sys, time, zipfile
from pathlib import Path

work, bandit, runs = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
manifest = json.loads(Path("tests/data/lint_corpus/MANIFEST.json").read_text())
stamp = work / ".certdoctor-bench"
want = "\n".join(w["sha256"] for w in manifest["wheels"])
if not stamp.is_file() or stamp.read_text() != want:
    print(f"(unpacking {len(manifest['wheels'])} wheels into {work})")
    subprocess.run(["rm", "-rf", str(work)], check=True)
    for w in manifest["wheels"]:
        with zipfile.ZipFile(Path(".cache/lint-corpus") / w["filename"]) as z:
            for name in z.namelist():
                if name.endswith(".py"):
                    z.extract(name, work / w["name"])
    stamp.write_text(want)
files = sum(1 for _ in work.rglob("*.py"))

def timed(cmd):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        out = p.stdout
    return statistics.median(times), out

cd_cmd = [sys.executable, "-m", "certdoctor", "lint", "--json", str(work)]
cd_1 = cd_cmd[:4] + ["-j", "1"] + cd_cmd[4:]
bd_cmd = [bandit, "-q", "-r", "-t", "B501,B502,B503,B504,B323", "-f", "json", str(work)]
t_cd, out = timed(cd_cmd)
doc = json.loads(out)
t_cd1, _ = timed(cd_1)
t_bd, out = timed(bd_cmd)
bd = json.loads(out)["results"]
print(f"corpus: {files} files of {len(manifest['wheels'])} wheels; median of {runs} runs")
print(f"certdoctor lint: {len(doc['findings'])} findings, {len(doc['hygiene'])} hygiene notes, "
      f"{t_cd:.2f} s (-j 1: {t_cd1:.2f} s)")
by_test = {}
for r in bd:
    by_test[r["test_id"]] = by_test.get(r["test_id"], 0) + 1
print(f"bandit B501-B504,B323: {len(bd)} results {dict(sorted(by_test.items()))}, {t_bd:.2f} s")
print(f"time ratio bandit/certdoctor: {t_bd / t_cd:.1f}x (single process: {t_bd / t_cd1:.1f}x); "
      f"findings ratio bandit/certdoctor: {len(bd) / max(1, len(doc['findings'])):.2f}")
strict = sum(e["true"] for e in manifest["expected"])
print(f"certdoctor's findings judged true (MANIFEST, strict): {strict}/{len(manifest['expected'])}")
PYEOF
