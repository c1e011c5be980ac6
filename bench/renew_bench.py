"""certdoctor renew vs certbot against the same pebble: time to issue one certificate and to renew
ten, and how each behaves on the same faults.

    PYTHONPATH=src:tests python bench/renew_bench.py CERTBOT   # bench/renew.sh installs certbot

Everything on 127.0.0.1: Debian's pebble + pebble-challtestsrv (tests/support/pebble.py: free ports,
a listener certificate made here, every order validated for real), the RFC 9773 front of
tests/support/ari.py where a fault needs it (429), a real nginx (tests/support/nginx.py) serving
the lineage, whose ``nginx -s reload`` is the deploy hook. Both tools use http-01 with their own
challenge server on the port pebble validates (certbot: ``--standalone``), a certbot-like lineage
(certdoctor: ``install = { lineage = … }``) and the same CA file for pebble's listener.
Timings: wall (perf_counter) and CPU (the child's rusage: user + sys) of the command, one run each
(pebble validates at once: PEBBLE_VA_NOSLEEP). Faults: one fresh pebble + nginx world per tool and
fault; the table says whether the old certificate is still installed (live/ unchanged) and still
served (nginx's leaf), the tool's exit code and its first error line. No assertion: this prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509

from support.nginx import nginx_binary, run_nginx
from support.pebble import run_pebble
from support.servers import closed_port

from certdoctor.renew.deploy import served_fingerprint
from certdoctor.model import fingerprint_sha256

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
CLEAN = {k: v for k, v in os.environ.items()
         if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT")}


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> tuple[int, str, float, float]:
    """(exit code, stdout+stderr, wall s, CPU s) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env or CLEAN, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.returncode, p.stdout + p.stderr, wall, cpu


def leaf_fp(path: Path) -> str | None:
    try:
        return fingerprint_sha256(x509.load_pem_x509_certificate(path.read_bytes()))
    except (OSError, ValueError):
        return None


def first_error(out: str) -> str:
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("error:") or "Error" in s or "error" in s.lower() and ("fail" in s.lower() or ":" in s):
            return s[:150]
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:150]


class Certdoctor:
    name = "certdoctor"

    def __init__(self, work: Path, directory: str, ca_file: str, http_port: int):
        self.work, self.directory, self.ca_file, self.http_port = work, directory, ca_file, http_port
        self.lineage = work / "lineage"
        self.n = 0

    def live(self, cert: str) -> Path:
        return self.lineage / "live" / cert

    def _config(self, names, hook=None, verify=None, port=None) -> str:
        self.n += 1
        path = self.work / f"renew{self.n}.toml"
        lines = [f"state = {json.dumps(str(self.work / 'state' / 'renew.sqlite'))}"]
        for cert in names:
            lines += ["[[certificate]]", f'name = "{cert}"', f'domains = ["{cert}", "www.{cert}"]',
                      f"directory = {json.dumps(self.directory)}", f"ca_file = {json.dumps(self.ca_file)}",
                      f'challenge = {{ type = "http-01", listen = "127.0.0.1:{port or self.http_port}" }}',
                      f"install = {{ lineage = {json.dumps(str(self.lineage))} }}",
                      "timeouts = { order = 60, verify = 10, hook = 20 }"]
            if hook is not None:
                lines.append(f"deploy_hook = {json.dumps(hook)}")
            if verify is not None:
                lines += [f'verify = ["127.0.0.1:{verify}"]', f'servername = "{cert}"']
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    def issue(self, names, **kw):
        return run([PY, "-m", "certdoctor", "renew", "--config", self._config(names, **kw)])

    def renew(self, names, *, hook=None, verify=None, port=None, extra=()):
        return run([PY, "-m", "certdoctor", "renew", "--config",
                    self._config(names, hook=hook, verify=verify, port=port), "--force", *extra])


class Certbot:
    name = "certbot"

    def __init__(self, work: Path, directory: str, ca_file: str, http_port: int, binary: str):
        self.work, self.directory, self.http_port, self.binary = work, directory, http_port, binary
        self.env = dict(CLEAN, REQUESTS_CA_BUNDLE=ca_file)
        self.dirs = ["--config-dir", str(work / "c"), "--work-dir", str(work / "w"), "--logs-dir", str(work / "l")]

    def live(self, cert: str) -> Path:
        return self.work / "c" / "live" / cert

    def _common(self, port=None):
        return [*self.dirs, "--non-interactive", "--server", self.directory,
                "--http-01-port", str(port or self.http_port), "--http-01-address", "127.0.0.1"]

    def issue(self, names, **_kw):
        rc, out, wall, cpu = 0, "", 0.0, 0.0
        for cert in names:  # certbot: one lineage per certonly run
            r = run([self.binary, "certonly", "--standalone", *self._common(), "--agree-tos",
                     "--register-unsafely-without-email", "--cert-name", cert, "-d", cert, "-d", f"www.{cert}"],
                    env=self.env)
            rc, out, wall, cpu = max(rc, r[0]), out + r[1], wall + r[2], cpu + r[3]
        return rc, out, wall, cpu

    def renew(self, names, *, hook=None, verify=None, port=None, extra=()):
        argv = [self.binary, "renew", *self._common(port), "--force-renewal", "--no-random-sleep-on-renew"]
        if len(names) == 1:
            argv += ["--cert-name", names[0]]
        if hook is not None:
            argv += ["--deploy-hook", shlex.join(hook)]
        return run(argv, env=self.env)


def timings(certbot_bin: str) -> list[tuple[str, str, float, float, int]]:
    rows = []
    names = [f"c{i}.bench.test" for i in range(10)]
    for make in ("certdoctor", "certbot"):
        with tempfile.TemporaryDirectory(prefix=f"renew-bench-{make}-") as d:
            work = Path(d)
            port = closed_port()
            with run_pebble(work / "pebble", http_port=port) as pb:
                tool = (Certdoctor(work, pb.directory_url, pb.ca_file, port) if make == "certdoctor"
                        else Certbot(work, pb.directory_url, pb.ca_file, port, certbot_bin))
                rc, out, wall, cpu = tool.issue(names[:1])
                rows.append((make, "issue 1 (2 names, new account)", wall, cpu, rc))
                if rc:
                    print(f"{make} issue failed:\n{out[-800:]}")
                    continue
                rc, out, wall, cpu = tool.issue(names[1:])
                rows.append((make, "issue 9 more", wall, cpu, rc))
                rc, out, wall, cpu = tool.renew(names)
                rows.append((make, "renew 10 (forced)", wall, cpu, rc))
                if rc:
                    print(f"{make} renew failed:\n{out[-800:]}")
    return rows


FAULTS = ("ACME server down", "challenge unreachable", "429 rateLimited + Retry-After",
          "deploy hook exits 1", "nginx not reloaded (hook does nothing)",
          "hook exits 1, --rollback-on-fail", "nginx not reloaded, --rollback-on-fail")


def fault_row(make: str, fault: str, certbot_bin: str) -> dict:
    cert = "f.bench.test"
    with tempfile.TemporaryDirectory(prefix="renew-fault-") as d, contextlib.ExitStack() as stack:
        work = Path(d)
        port = closed_port()
        pb = stack.enter_context(run_pebble(work / "pebble", http_port=port))
        directory = pb.directory_url
        proxy = None
        if fault.startswith("429"):
            from support.ari import run_ari_proxy

            proxy = stack.enter_context(run_ari_proxy(pb))
            directory = proxy.directory_url
        tool = (Certdoctor(work, directory, pb.ca_file, port) if make == "certdoctor"
                else Certbot(work, directory, pb.ca_file, port, certbot_bin))
        rc, out, _w, _c = tool.issue([cert])
        if rc:
            return {"fault": fault, "tool": make, "setup": f"first issue failed: {first_error(out)}"}
        live = tool.live(cert)
        host, nport = stack.enter_context(run_nginx(work / "nginx", live / "fullchain.pem", live / "privkey.pem"))
        prefix = work / "nginx"
        reload = [nginx_binary(), "-s", "reload", "-c", str(prefix / "nginx.conf"), "-p", str(prefix),
                  "-e", str(prefix / "error.log")]
        old = leaf_fp(live / "cert.pem")
        hook, extra, cport = reload, (), None
        if fault == "ACME server down":
            pb.stop()
        elif fault == "challenge unreachable":
            cport = closed_port()  # the tool's challenge server listens where pebble does not look
        elif proxy is not None:
            proxy.fail_next("newOrder", "429", count=10, retry_after=3600)
        elif "exits 1" in fault:
            hook = ["sh", "-c", "echo reload refused >&2; exit 1"]
        elif "not reloaded" in fault:
            hook = ["true"]
        if "rollback" in fault:
            if make == "certbot":
                return {"fault": fault, "tool": make, "na": "no such option"}
            extra = ("--rollback-on-fail",)
        rc, out, _w, _c = tool.renew([cert], hook=hook, verify=nport if make == "certdoctor" else None,
                                     port=cport, extra=extra)
        installed = leaf_fp(live / "cert.pem")
        served, _why = served_fingerprint("127.0.0.1", nport, cert, 5.0)
        return {"fault": fault, "tool": make, "exit": rc,
                "installed": "old" if installed == old else ("new" if installed else "none"),
                "served": "old" if served == old else ("new" if served == installed else "other/none"),
                "error": first_error(out) if rc else (first_error(out) if "error" in out.lower() else "(none)")}


def main(certbot_bin: str) -> int:
    print("## time to issue and renew (one run each; wall s, CPU s of the command)")
    rows = timings(certbot_bin)
    print(f"| tool | step | wall s | CPU s | exit |\n|---|---|---|---|---|")
    for make, step, wall, cpu, rc in rows:
        print(f"| {make} | {step} | {wall:.2f} | {cpu:.2f} | {rc} |")
    by = {(m, s): (w, c) for m, s, w, c, _ in rows}
    for step in ("issue 1 (2 names, new account)", "renew 10 (forced)"):
        if ("certdoctor", step) in by and ("certbot", step) in by:
            (wa, ca), (wb, cb) = by[("certdoctor", step)], by[("certbot", step)]
            print(f"ratio certdoctor/certbot, {step}: wall {wa / wb:.2f}x, CPU {ca / cb:.2f}x")
    print("\n## faults (a fresh pebble + nginx per cell; old certificate issued by the same tool first)")
    print("| fault | tool | exit | installed leaf | served leaf | first error line |\n|---|---|---|---|---|---|")
    for fault in FAULTS:
        for make in ("certdoctor", "certbot"):
            r = fault_row(make, fault, certbot_bin)
            if "na" in r:
                print(f"| {fault} | {make} | n/a ({r['na']}) | | | |")
            elif "setup" in r:
                print(f"| {fault} | {make} | setup failed | | | {r['setup']} |")
            else:
                err = r["error"].replace("|", "\\|")
                print(f"| {fault} | {make} | {r['exit']} | {r['installed']} | {r['served']} | {err} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "certbot"))
