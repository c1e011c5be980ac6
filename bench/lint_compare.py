"""Benchmark driver for bench/lint.sh: certdoctor lint beside ``bandit -t B501,B323``.

1. The true-positive corpus (tests/lint_corpus/bad, every expected finding marked with
   ``# expect: CODE``): which expected findings each tool reports. bandit's B501 (requests/httpx
   call with verify=False) stands for VERIFY_FALSE, VERIFY_FALSE_ATTR and VERIFY_FALSE_FLOW,
   B323 (ssl._create_unverified_context) for UNVERIFIED_CONTEXT; a bandit result counts for an
   expected finding when it is on the same line with a matching test. Expected findings of
   other codes are outside what B501/B323 look for and are listed as such.
2. A large real tree: files scanned, findings per code/test, and wall time (median of RUNS
   runs, each a fresh process, output to JSON). certdoctor runs with its default worker count
   and with ``-j 1`` (bandit is single-process).

No assertion: figures only.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CERTDOCTOR = [str(BIN / "certdoctor"), "lint", "--json"]
BANDIT = [os.environ.get("CERTDOCTOR_BANDIT") or str(BIN / "bandit"), "-q", "-t", "B501,B323", "-f", "json"]
COVERS = {  # bandit test -> the certdoctor codes it is looking for
    "B501": {"VERIFY_FALSE", "VERIFY_FALSE_ATTR", "VERIFY_FALSE_FLOW"},
    "B323": {"UNVERIFIED_CONTEXT"},
}
IN_SCOPE = set().union(*COVERS.values())
EXPECT = re.compile(r"#\s*expect:\s*([A-Z_, ]+)\s*$")


def run_json(cmd: list[str]) -> tuple[dict, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd[:3])}… exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), elapsed


def expected(path: Path) -> set[tuple[int, str]]:
    out = set()
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        m = EXPECT.search(line)
        if m:
            out.update((lineno, c.strip()) for c in m.group(1).split(",") if c.strip())
    return out


def corpus(corpus_dir: Path) -> None:
    files = sorted(corpus_dir.glob("*.pysrc"))
    cd, _ = run_json([*CERTDOCTOR, *map(str, files)])
    bd, _ = run_json([*BANDIT, *map(str, files)])
    cd_hits = {(Path(f["location"]["path"]).name, f["location"]["line"], f["code"]) for f in cd["findings"]}
    bd_hits = collections.defaultdict(set)  # (file, line) -> bandit tests
    for r in bd["results"]:
        bd_hits[(Path(r["filename"]).name, r["line_number"])].add(r["test_id"])

    print("== True-positive corpus:", corpus_dir, f"({len(files)} files)")
    total = collections.Counter()
    bandit_only, bandit_extra = [], []
    for path in files:
        want = expected(path)
        name = path.name
        in_scope = {(ln, c) for ln, c in want if c in IN_SCOPE}
        cd_found = {(ln, c) for ln, c in want if (name, ln, c) in cd_hits}
        bd_found = {(ln, c) for ln, c in want
                    if any(c in COVERS.get(t, ()) for t in bd_hits.get((name, ln), ()))}
        total.update(expected=len(want), in_scope=len(in_scope), certdoctor=len(cd_found),
                     bandit=len(bd_found), bandit_in_scope=len(bd_found & in_scope),
                     certdoctor_in_scope=len(cd_found & in_scope))
        print(f"\n{name}: {len(want)} expected ({len(in_scope)} in B501/B323's scope)")
        print(f"  certdoctor finds {len(cd_found)}/{len(want)}"
              + (f"; misses {sorted(want - cd_found)}" if want - cd_found else ""))
        print(f"  bandit finds     {len(bd_found)}/{len(want)}: {sorted(bd_found)}")
        missed = sorted(in_scope - bd_found)
        if missed:
            print(f"  bandit misses (in its scope): {missed}")
        out_of_scope = sorted(want - in_scope)
        if out_of_scope:
            print(f"  beyond B501/B323 ({len(out_of_scope)}): "
                  + ", ".join(f"{ln}:{c}" for ln, c in out_of_scope))
        bandit_only += [(name, ln, c) for ln, c in bd_found - cd_found]
        wanted_lines = {ln for ln, _ in want}
        bandit_extra += [(name, ln, sorted(t)) for (fn, ln), t in sorted(bd_hits.items())
                         if fn == name and ln not in wanted_lines]
    print(f"\nTotal: {total['expected']} expected findings; certdoctor {total['certdoctor']}, "
          f"bandit {total['bandit']} (of the {total['in_scope']} in B501/B323's scope: "
          f"bandit {total['bandit_in_scope']}, certdoctor {total['certdoctor_in_scope']})")
    print(f"Found by bandit but not certdoctor: {bandit_only or 'none'}")
    print(f"bandit results on lines not marked # expect (suppressed lines for certdoctor): "
          f"{bandit_extra or 'none'}")


def tree(root: Path, runs: int) -> None:
    n_py = sum(1 for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    print(f"\n== Large tree: {root} ({n_py} *.py files)")
    timings: dict[str, list[float]] = collections.defaultdict(list)
    docs: dict[str, dict] = {}
    commands = {
        "certdoctor": [*CERTDOCTOR, str(root)],
        "certdoctor -j1": [*CERTDOCTOR, "-j", "1", str(root)],
        "bandit": [*BANDIT, "-r", str(root)],
    }
    for i in range(runs):
        for name, cmd in commands.items():
            doc, elapsed = run_json(cmd)
            timings[name].append(elapsed)
            docs[name] = doc
            print(f"  run {i + 1}: {name:<15} {elapsed:7.2f} s", flush=True)
    cd, bd = docs["certdoctor"], docs["bandit"]
    bandit_files = [k for k in bd["metrics"] if k != "_totals"]
    by_test = collections.Counter(r["test_id"] for r in bd["results"])
    print(f"\ncertdoctor: {cd['files_scanned']} files scanned, {len(cd['findings'])} findings "
          f"{dict(cd['counts'])}, {len(cd['notes'])} notes, {cd['suppressed']} suppressed")
    print(f"bandit:     {len(bandit_files)} files scanned, {len(bd['results'])} findings "
          f"{dict(by_test)}, {len(bd['errors'])} errors")
    cd_lines = {(os.path.realpath(f["location"]["path"]), f["location"]["line"]) for f in cd["findings"]}
    bd_lines = [(os.path.realpath(r["filename"]), r["line_number"], r["test_id"])
                for r in bd["results"]]
    agreed = [b for b in bd_lines if b[:2] in cd_lines]
    print(f"bandit findings that certdoctor also reports (same file and line): "
          f"{len(agreed)}/{len(bd_lines)}")
    for b in bd_lines:
        if b[:2] not in cd_lines:
            print(f"  only bandit: {b}")
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(f"\nwall time, median of {runs}: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()))
    for name in ("certdoctor", "certdoctor -j1"):
        print(f"ratio {name}/bandit = {med[name] / med['bandit']:.4f} "
              f"({med['bandit'] / med[name]:.1f}x bandit's speed)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print("bandit:", subprocess.run([BANDIT[0], "--version"], capture_output=True,
                                    text=True).stdout.splitlines()[0])
    print("python:", sys.version.split()[0], f"cores: {os.cpu_count()}")
    corpus(args.corpus)
    tree(args.tree, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
