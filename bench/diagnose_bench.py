"""Benchmark driver for bench/diagnose.sh (issue 13): certdoctor diagnose against openssl s_client,
sslyze --certinfo and check_tls_certs, on the same nginx endpoints, on loopback and through a
latency relay (bench/latency_relay.py: 25 ms each way, 50 ms RTT) in front of the TLS endpoints
and of the AIA/CRL HTTP server alike.

Endpoints (one nginx, worker_processes 1; a private root and intermediate; SAN bench.test,
localhost, 127.0.0.1):

* ``good``  leaf + intermediate, no AIA/CRL/OCSP URL in the leaf;
* ``aia``   the leaf alone; its AIA caIssuers URL serves the intermediate (DER);
* ``crl``   leaf + intermediate; the leaf's CRL distribution point serves the intermediate's CRL.

Each endpoint exists twice: for loopback its URLs name nginx's HTTP port, for the relay the
relay's port in front of it (the certificates are made after the relay listens). Every tool runs
RUNS times as a fresh process, the tools interleaved round by round (the load of a shared
machine falls on all alike); per run the wall time, the CPU time (user + sys of the child and
its children, ``wait4``) and the peak RSS. Medians are printed, and the ratios the issue sets
targets for. Beside them, what bounds them, measured in the same run: a Python process that runs
``requests.get`` once and nothing else (diagnose's verdict is that run; no diagnosis that makes
it can take less wall time), and the verdict's libraries imported alone (the CPU floor). No
assertion: figures only.

    python bench/diagnose_bench.py [RUNS]     (bench/diagnose.sh sets the environment)

Environment: ``CERTDOCTOR`` (the certdoctor command, default beside this Python), ``SSLYZE``,
``CHECK_TLS_CERTS`` (paths; a tool that is missing is reported, not fatal), ``DELAY`` (one-way,
seconds; 0.025).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent / "tests")]

NAME = "bench.test"
FLOOR = "import requests, cryptography.x509 (+verification)"
ENDPOINTS = ("good", "aia", "crl")
CLEAN = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT", "HTTPS_PROXY",
         "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "CERTDOCTOR_SEQUENTIAL")


#: a Python process that runs the real client once and nothing else (the floor of the wall ratios:
#: diagnose's verdict is this run, made with the same library)
REQUESTS_ALONE = ("import sys, requests\n"
                  "with requests.get(sys.argv[1], verify=sys.argv[2], timeout=10, stream=True, "
                  "allow_redirects=False) as r:\n"
                  "    sys.exit(0 if r.status_code < 500 else 1)")


def free_ports(n: int) -> list[int]:
    """``n`` ports free now (nginx cannot listen on port 0 and tell us which it got)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def build(work: Path, http_bases: dict[str, str]) -> None:
    """The PKI (one root, one intermediate; leaves per endpoint and mode) and the served files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from support.pki import NO_URLS, TestCA, pem

    root = TestCA("Bench Diagnose Root", **NO_URLS)
    inter = root.intermediate("Bench Diagnose Intermediate", **NO_URLS)
    (work / "root.pem").write_bytes(pem(root.cert))
    www = work / "www"
    www.mkdir()
    (www / "inter.der").write_bytes(inter.cert.public_bytes(serialization.Encoding.DER))
    now = dt.datetime.now(dt.timezone.utc)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(inter.cert.subject)
           .last_update(now - dt.timedelta(hours=1)).next_update(now + dt.timedelta(days=7))
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(12345)
                                    .revocation_date(now - dt.timedelta(days=1)).build())
           .sign(inter.key, hashes.SHA256()))
    (www / "inter.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    names = (NAME, "localhost", "127.0.0.1")
    for mode, base in http_bases.items():
        leaves = {
            "good": (inter.issue_cert(*names, cn=NAME, aia_url=None, crl_url=None, ocsp_url=None), True),
            "aia": (inter.issue_cert(*names, cn=NAME, aia_url=f"{base}/inter.der", crl_url=None, ocsp_url=None),
                    False),
            "crl": (inter.issue_cert(*names, cn=NAME, aia_url=None, crl_url=f"{base}/inter.crl", ocsp_url=None),
                    True),
        }
        for ep, (leaf, with_inter) in leaves.items():
            (work / f"{ep}-{mode}.pem").write_bytes(pem(leaf.cert, inter.cert) if with_inter else pem(leaf.cert))
            (work / f"{ep}-{mode}.key").write_bytes(leaf.key_pem())


def nginx_conf(work: Path, tls: dict[str, int], http_port: int) -> Path:
    temp = work / "temp"
    temp.mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""
    servers = "".join(
        f"    server {{\n        listen 127.0.0.1:{port} ssl;\n        server_name _;\n"
        f"        ssl_certificate {work / (key + '.pem')};\n        ssl_certificate_key {work / (key + '.key')};\n"
        '        location / { return 200 "ok\\n"; }\n    }\n'
        for key, port in tls.items())
    conf = work / "nginx.conf"
    conf.write_text(
        "daemon off;\nmaster_process on;\nworker_processes 1;\n" + user
        + f"pid {work / 'nginx.pid'};\nerror_log {work / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n    access_log off;\n"
        + "".join(f"    {k}_temp_path {temp / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + servers
        + f"    server {{\n        listen 127.0.0.1:{http_port};\n        root {work / 'www'};\n    }}\n}}\n")
    return conf


def wait_port(port: int, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_once(cmd: list[str], env: dict) -> tuple[float, float, float, int]:
    """(wall s, CPU s of the child and its waited-for children, peak RSS MB, exit code).

    The peak RSS comes from GNU time's ``%M`` (the command's own): ``wait4``'s ``ru_maxrss`` of a
    child forked from this process counts this process's pages at the fork (Linux keeps the
    high-water mark across ``exec``), ~40 MB once the PKI is built. GNU time is small and exits
    with the command's code; its own CPU (~1 ms) is in the CPU figure of every tool alike."""
    out = None
    if GNU_TIME:
        fd, out = tempfile.mkstemp(prefix="certdoctor-bench-time.")
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%M", "-o", out, *cmd]
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    rss = ru.ru_maxrss / 1024
    if out:
        try:
            rss = int(Path(out).read_text().split()[-1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        os.unlink(out)
    return wall, ru.ru_utime + ru.ru_stime, rss, p.returncode


def measure(cmds: dict[str, tuple[list[str], dict]], runs: int) -> dict[str, dict]:
    """Every command ``runs`` times, interleaved round by round; one warm-up round first (page cache)."""
    samples: dict[str, list] = {k: [] for k in cmds}
    for k, (cmd, env) in cmds.items():
        run_once(cmd, env)
    for _ in range(runs):
        for k, (cmd, env) in cmds.items():
            samples[k].append(run_once(cmd, env))
    out = {}
    for k, s in samples.items():
        out[k] = {"wall": statistics.median(x[0] for x in s), "cpu": statistics.median(x[1] for x in s),
                  "rss": max(x[2] for x in s), "rc": sorted({x[3] for x in s}), "min": min(x[0] for x in s)}
    return out


def tool(env_name: str, *candidates: str) -> str | None:
    given = os.environ.get(env_name)
    for c in ([given] if given else []) + list(candidates):
        if c and (os.access(c, os.X_OK) or shutil.which(c)):
            return c if os.access(c, os.X_OK) else shutil.which(c)
    return None


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    delay = float(os.environ.get("DELAY", "0.025"))
    certdoctor = tool("CERTDOCTOR", str(Path(sys.executable).parent / "certdoctor"), "certdoctor")
    sslyze = tool("SSLYZE", "/tmp/bench-venv/bin/sslyze", str(HERE.parent / ".bench-venv/bin/sslyze"), "sslyze")
    ctc = tool("CHECK_TLS_CERTS", "/tmp/bench-venv-ctc/bin/check_tls_certs", "check_tls_certs")
    nginx = tool("NGINX", "nginx", "/usr/sbin/nginx")
    if not certdoctor or not nginx:
        print(f"needs certdoctor ({certdoctor}) and nginx ({nginx})", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    work = Path(tempfile.mkdtemp(prefix="certdoctor-diagnose-bench."))
    procs: list[subprocess.Popen] = []
    try:
        ports = free_ports(len(ENDPOINTS) * 2 + 1)
        http_port = ports.pop()
        tls = {f"{ep}-{mode}": ports.pop() for mode in ("loop", "relay") for ep in ENDPOINTS}
        relay_targets = [tls[f"{ep}-relay"] for ep in ENDPOINTS] + [http_port]
        relay = subprocess.Popen([sys.executable, str(HERE / "latency_relay.py"), "--delay", str(delay),
                                  *map(str, relay_targets)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(relay)
        relay_ports = list(map(int, relay.stdout.readline().split()))
        front = dict(zip([f"{ep}-relay" for ep in ENDPOINTS] + ["http"], relay_ports))
        build(work, {"loop": f"http://127.0.0.1:{http_port}", "relay": f"http://127.0.0.1:{front['http']}"})
        conf = nginx_conf(work, tls, http_port)
        ng = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work), "-e", str(work / "error.log")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ng)
        for p in [*tls.values(), http_port]:
            wait_port(p)
        root = str(work / "root.pem")
        ctc_env = dict(env, SSL_CERT_FILE=root)
        results: dict[str, dict] = {}
        for mode in ("loop", "relay"):
            cmds: dict[str, tuple[list[str], dict]] = {}
            for ep in ENDPOINTS:
                port = tls[f"{ep}-{mode}"] if mode == "loop" else front[f"{ep}-relay"]
                diag = [certdoctor, "diagnose", f"https://{NAME}:{port}/", "--ca-file", root, "--resolve",
                        f"{NAME}:127.0.0.1", "--no-cache", "--json"]
                cmds[f"diagnose {ep}"] = (diag, env)
                cmds[f"diagnose sequential {ep}"] = (diag, dict(env, CERTDOCTOR_SEQUENTIAL="1"))
                if ep == "good":  # the real client alone, as a script runs it: what no diagnosis can undercut
                    cmds["requests.get alone good"] = ([sys.executable, "-c", REQUESTS_ALONE,
                                                        f"https://127.0.0.1:{port}/", root], env)
                cmds[f"openssl {ep}"] = (["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", NAME,
                                          "-showcerts", "-CAfile", root], env)
                if sslyze:
                    cmds[f"sslyze {ep}"] = ([sslyze, "--certinfo", "--certinfo_ca_file", root,
                                             f"{NAME}:{port}{{127.0.0.1}}"], env)
                if ctc:
                    cmds[f"check_tls_certs {ep}"] = ([ctc, f"localhost:{port}"], ctc_env)
            print(f"measuring {mode} ({len(cmds)} commands x {runs} runs) ...", file=sys.stderr, flush=True)
            results[mode] = measure(cmds, runs)
        startup = measure({"certdoctor --version": ([certdoctor, "--version"], env),
                           "python -c pass": ([sys.executable, "-c", "pass"], env)}, max(runs, 15))
        # what bounds the CPU ratio: the libraries the verdict itself needs, imported and nothing
        # else (the real client is requests; the path and the checks are cryptography's)
        # (diagnose --json imports no click: cli/fast.py)
        floors = {"import requests": "import requests",
                  FLOOR: "import requests, cryptography.x509, cryptography.x509.verification"}
        if ctc:
            ctc_py = str(Path(ctc).parent / "python")
            floors_ctc = {"check_tls_certs' imports (OpenSSL.SSL, click)": ([ctc_py, "-c", "import OpenSSL.SSL, click"],
                                                                            env)}
        else:
            floors_ctc = {}
        floor = measure({**{k: ([sys.executable, "-c", v], env) for k, v in floors.items()}, **floors_ctc}, runs)
    finally:
        for p in reversed(procs):
            if p.stdin:
                p.stdin.close()
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    report(results, startup, floor, runs, delay, bool(sslyze), bool(ctc))
    return 0


def report(results: dict, startup: dict, floor: dict, runs: int, delay: float, have_sslyze: bool,
           have_ctc: bool) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"certdoctor diagnose vs openssl s_client / sslyze --certinfo / check_tls_certs; {runs} runs each, "
          f"medians; {os.cpu_count()} CPUs, load average {load}")
    print("(CPU = user+sys of the process and its children; RSS = the largest peak of any run; rc = exit codes)")
    for mode, res in results.items():
        title = "loopback" if mode == "loop" else f"through the latency relay ({delay * 1000:g} ms each way, " \
                                                   f"{2 * delay * 1000:g} ms RTT)"
        print(f"\n{title}")
        print(f"  {'command':34s} {'wall ms':>8s} {'min':>7s} {'CPU ms':>7s} {'RSS MB':>7s}  rc")
        for k, r in res.items():
            print(f"  {k:34s} {r['wall'] * 1000:8.1f} {r['min'] * 1000:7.1f} {r['cpu'] * 1000:7.1f} "
                  f"{r['rss']:7.1f}  {','.join(map(str, r['rc']))}")
    print("\nimports alone (what bounds the CPU ratio)")
    for k, r in floor.items():
        print(f"  {k:58s} CPU {r['cpu'] * 1000:7.1f} ms  wall {r['wall'] * 1000:7.1f} ms")
    print("\nratios (target in brackets)")
    for ep in ENDPOINTS:
        lo, re_ = results["loop"], results["relay"]
        d_lo, d_re = lo[f"diagnose {ep}"], re_[f"diagnose {ep}"]
        parts = []
        if have_sslyze:
            parts.append(f"loopback wall / sslyze {d_lo['wall'] / lo[f'sslyze {ep}']['wall']:.2f}x [<= 0.3]")
        if have_ctc:
            parts.append(f"loopback CPU / check_tls_certs {d_lo['cpu'] / lo[f'check_tls_certs {ep}']['cpu']:.2f}x "
                         "[<= 1.2]")
        if have_sslyze:
            parts.append(f"relay wall / sslyze {d_re['wall'] / re_[f'sslyze {ep}']['wall']:.2f}x [<= 0.35]")
        parts.append(f"relay wall / openssl {d_re['wall'] / re_[f'openssl {ep}']['wall']:.2f}x [<= 4]")
        parts.append(f"relay sequential / overlapped "
                     f"{re_[f'diagnose sequential {ep}']['wall'] / d_re['wall']:.2f}x")
        print(f"  {ep:5s} " + "; ".join(parts))
    for mode, res in results.items():
        alone = res.get("requests.get alone good")
        if alone and have_sslyze:
            where = "loopback" if mode == "loop" else "relay"
            print(f"  bound: requests.get alone ({where}) / sslyze {alone['wall'] / res['sslyze good']['wall']:.2f}x, "
                  f"diagnose good / requests.get alone {res['diagnose good']['wall'] / alone['wall']:.2f}x")
    v, p = startup["certdoctor --version"], startup["python -c pass"]
    print(f"  certdoctor --version {v['wall'] * 1000:.1f} ms / python -c pass {p['wall'] * 1000:.1f} ms "
          f"= {v['wall'] / p['wall']:.2f}x [<= 2]")
    if have_ctc:
        lib = floor[FLOOR]["cpu"]
        print(f"  the verdict's libraries alone / check_tls_certs CPU (good, loopback): "
              f"{lib / results['loop']['check_tls_certs good']['cpu']:.2f}x (the floor of the CPU ratio)")
    rss = max(r["rss"] for mode in results.values() for k, r in mode.items() if k.startswith("diagnose"))
    print(f"  peak RSS of certdoctor diagnose: {rss:.1f} MB [<= 50]")
    if not have_sslyze:
        print("  (sslyze not available: no sslyze ratio)")
    if not have_ctc:
        print("  (check_tls_certs not available: no CPU ratio)")


if __name__ == "__main__":
    sys.exit(main())
