"""Benchmark driver for bench/diagnose.sh: ratios against openssl s_client and sslyze, one run.

Each command runs RUNS times as a fresh process against the same lab endpoint; the median wall
time is compared. Peak memory is the child's maximum RSS (getrusage). No assertion: figures only.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], runs: int, env=None, stdin=subprocess.DEVNULL) -> tuple[float, float, int]:
    times = []
    rc = 0
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
        rc = p.returncode
    return statistics.median(times), min(times), rc


def peak_rss_mb(cmd: list[str], env=None) -> float:
    # RUSAGE_CHILDREN is the max over all waited-for children, so measure in a fresh process
    code = ("import resource,subprocess,sys;subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,"
            "stderr=subprocess.DEVNULL);print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, env=env)
    return int(out.stdout.strip() or 0) / 1024


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    from certdoctor.lab import Lab

    venv_bin = Path(sys.executable).parent
    certdoctor = str(venv_bin / "certdoctor")
    with Lab(scenarios=["good"]) as lab:
        ep = lab.endpoint("good")
        env = dict(os.environ)
        spec = f"{ep.hostname}:127.0.0.1"
        diag = [certdoctor, "diagnose", ep.url, "--ca-file", str(lab.ca_file), "--resolve", spec,
                "--no-revocation", "--json"]
        ossl = ["openssl", "s_client", "-connect", f"127.0.0.1:{ep.port}", "-servername", ep.hostname,
                "-showcerts", "-CAfile", str(lab.ca_file)]
        rows = []
        d_med, d_min, d_rc = timed(diag, runs, env)
        o_med, o_min, _ = timed(ossl, runs, env)
        rows.append(("certdoctor diagnose", d_med, d_min))
        rows.append(("openssl s_client -showcerts", o_med, o_min))
        sslyze = os.environ.get("CERTDOCTOR_SSLYZE")
        if not (sslyze and os.access(sslyze, os.X_OK)):
            sslyze = shutil.which("sslyze")
        s_med = None
        if sslyze:
            cmd = [sslyze, "--certinfo", f"{ep.hostname}:{ep.port}{{127.0.0.1}}"]
            s_med, s_min, _ = timed(cmd, max(3, runs // 2), env)
            rows.append(("sslyze --certinfo", s_med, s_min))
        v_med, _, _ = timed([certdoctor, "--version"], runs, env)
        p_med, _, _ = timed([sys.executable, "-c", "pass"], runs, env)
        rss = peak_rss_mb(diag, env)

    print(f"runs per command: {runs} (median wall time; min in brackets); endpoint {ep.url}")
    for name, med, mn in rows:
        print(f"  {name:32s} {med * 1000:8.1f} ms  [{mn * 1000:.1f}]")
    print(f"  {'certdoctor --version':32s} {v_med * 1000:8.1f} ms")
    print(f"  {'python -c pass':32s} {p_med * 1000:8.1f} ms")
    print("ratios (target in brackets):")
    print(f"  diagnose / openssl s_client   = {d_med / o_med:6.2f}x  [<= 4x]")
    if s_med:
        print(f"  diagnose / sslyze --certinfo  = {d_med / s_med:6.2f}x  [<= 0.2x]")
        print(f"  sslyze / openssl s_client     = {s_med / o_med:6.2f}x")
    else:
        print("  sslyze not available: no sslyze ratio")
    print(f"  --version / python -c pass    = {v_med / p_med:6.2f}x  [<= 3x]")
    print(f"peak RSS of certdoctor diagnose: {rss:.1f} MB  [< 60 MB]")
    print(f"(diagnose exit code on the good endpoint: {d_rc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
