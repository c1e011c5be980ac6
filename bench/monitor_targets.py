"""Helpers of bench/monitor.sh: the PKI and nginx config, the target lists, the blackbox driver,
a process's CPU and peak memory, and the report.

    python bench/monitor_targets.py setup DIR PORTS          # PKI + nginx.conf on PORTS free ports
    python bench/monitor_targets.py targets DIR N            # DIR/N.targets: localhost:PORT lines
    python bench/monitor_targets.py blackbox URL FILE C      # drive /probe at concurrency C
    python bench/monitor_targets.py proc PID                 # "utime+stime_s vmhwm_kib" of PID
    python bench/monitor_targets.py sslyze_ok JSON           # servers sslyze verified (CA file + name)
    python bench/monitor_targets.py report RESULTS.tsv       # the table and the ratios

Every target is unique: ``localhost:PORT`` for as many ports as the largest run has targets
(check_tls_certs keys its results by the target text, so a repeated target would be checked once;
its ``NAME|ADDRESS`` form cannot carry a port, and its name check wants the certificate's names to
be exactly the target's: hence one name, ``localhost``, which resolves to 127.0.0.1 here, and one
port per target). The leaf (SAN ``DNS:localhost``) comes with an intermediate under a private root.
The ports are taken below the kernel's ephemeral range, so the clients' own ports do not collide.
A run with more targets than ports (the 100,000-target memory run) repeats them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent / "tests")]

#: nginx: one worker (the client needs the other core of the 2 here) and room for every
#: listening socket (one per port) plus the concurrency, so no ClientHello is dropped
WORKER_CONNECTIONS = 16384
WORKER_RLIMIT_NOFILE = 40000


def setup(directory: str, ports: int) -> None:
    from support.pki import TestCA, pem

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca = TestCA("Bench Root")
    leaf = ca.intermediate("Bench Inter").issue_cert("localhost")
    (d / "chain.pem").write_bytes(pem(leaf.cert, leaf.chain[1]))
    (d / "key.pem").write_bytes(leaf.key_pem())
    (d / "ca.pem").write_bytes(pem(ca.cert))
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    chosen: list[int] = []
    port = max(1024, low - ports - 2000)
    while len(chosen) < ports and port < low:  # free now (nginx cannot listen on port 0 and tell us)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                pass
            else:
                chosen.append(port)
        port += 1
    (d / "ports").write_text("\n".join(map(str, chosen)) + "\n")
    temp = d / "temp"
    temp.mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    listens = "".join(f"        listen 127.0.0.1:{p} ssl;\n" for p in chosen)
    (d / "nginx.conf").write_text(
        "daemon off;\nmaster_process on;\nworker_processes 1;\n" + user
        + f"worker_rlimit_nofile {WORKER_RLIMIT_NOFILE};\n"
        f"pid {d / 'nginx.pid'};\nerror_log {d / 'error.log'} warn;\n"
        f"events {{ worker_connections {WORKER_CONNECTIONS}; }}\n"
        "http {\n    access_log off;\n"
        + "".join(f"    {k}_temp_path {temp / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + "    server {\n" + listens
        + "        server_name _;\n"
        f"        ssl_certificate {d / 'chain.pem'};\n        ssl_certificate_key {d / 'key.pem'};\n"
        '        location / { return 200 "ok\\n"; }\n    }\n}\n')
    print(f"{len(chosen)} ports, {chosen[0]}..{chosen[-1]}")


def targets(directory: str, n: int) -> None:
    d = Path(directory)
    ports = [int(p) for p in (d / "ports").read_text().split()]
    with open(d / f"{n}.targets", "w") as f:
        f.writelines(f"localhost:{ports[i % len(ports)]}\n" for i in range(n))


async def _blackbox(base: str, lines: list[str], concurrency: int) -> tuple[int, int]:
    from urllib.parse import quote, urlsplit

    u = urlsplit(base)
    queue = iter(lines)
    ok = bad = 0

    async def worker() -> None:
        nonlocal ok, bad
        for target in queue:
            reader, writer = await asyncio.open_connection(u.hostname, u.port)
            writer.write(f"GET /probe?module=tls_verify&target={quote(target)} HTTP/1.0\r\n"
                         f"Host: {u.netloc}\r\n\r\n".encode())
            body = await reader.read()
            writer.close()
            if b"\nprobe_success 1" in body:
                ok += 1
            else:
                bad += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, bad


def blackbox(base: str, path: str, concurrency: int) -> int:
    lines = Path(path).read_text().split()
    t0 = time.perf_counter()
    ok, bad = asyncio.run(_blackbox(base, lines, concurrency))
    print(f"probe_success 1: {ok}  0: {bad}  driver wall {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return 0 if bad == 0 else 1


def proc(pid: int) -> None:
    """CPU seconds (user + system, children waited for included) and VmHWM (KiB) of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = sum(int(x) for x in fields[11:15]) / ticks  # utime stime cutime cstime
    hwm = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmHWM:"))
    print(f"{cpu:.2f} {hwm}")


def sslyze_ok(path: str) -> None:
    """How many servers of sslyze's JSON verified against --certinfo_ca_file with a matching name."""
    import json

    doc = json.loads(Path(path).read_text())
    ok = 0
    for server in doc.get("server_scan_results", []):
        info = ((server.get("scan_result") or {}).get("certificate_info") or {}).get("result") or {}
        for dep in info.get("certificate_deployments", []):
            # sslyze 6 names the --certinfo_ca_file store "Supplied CA file"; its validation
            # (cryptography's verifier) includes the server name; older sslyze had a separate flag
            custom = [r for r in dep.get("path_validation_results", [])
                      if (r.get("trust_store") or {}).get("name", "") in ("Supplied CA file", "Custom --certinfo_ca_file")]
            if dep.get("leaf_certificate_subject_matches_hostname", True) is not False and any(
                    r.get("was_validation_successful") for r in custom):
                ok += 1
                break
    print(ok)


def report(path: str) -> None:
    """RESULTS.tsv rows: tool  targets  ok  wall_s  cpu_s  peak_kib  note."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            tool, n, ok, wall, cpu, kib, *note = line.split("\t")
            rows.append((tool, int(n), int(ok), float(wall), float(cpu), int(kib), " ".join(note)))
    print(f"{'tool':<28}{'targets':>8}{'ok':>8}{'wall s':>9}{'targets/s':>11}{'CPU ms/target':>15}"
          f"{'peak RSS MB':>13}  note")
    for tool, n, ok, wall, cpu, kib, note in rows:
        print(f"{tool:<28}{n:>8}{ok:>8}{wall:>9.2f}{n / wall:>11.1f}{cpu / n * 1000:>15.2f}{kib / 1024:>13.1f}"
              f"  {note}")
    ours = {n: r for r in rows for n in [r[1]] if r[0] == "certdoctor monitor"}
    print("\nratios, certdoctor monitor / anchor (rate: >1 is faster; CPU and memory: <1 is less)")
    for tool, n, ok, wall, cpu, kib, note in rows:
        if tool.startswith("certdoctor") or n not in ours:
            continue
        _, _, _, cw, cc, ck, _ = ours[n]
        print(f"  vs {tool:<24} at {n:>6}: rate {(n / cw) / (n / wall):5.2f}x  CPU/target {cc / cpu:5.2f}x  "
              f"peak RSS {ck / kib:5.2f}x")
    mem = {r[1]: r[5] for r in rows if r[0] == "certdoctor monitor"}
    if 1000 in mem and 100000 in mem:
        print(f"\ncertdoctor peak RSS: {mem[1000] / 1024:.1f} MB at 1,000, {mem[100000] / 1024:.1f} MB at 100,000 "
              f"targets: {mem[100000] / mem[1000]:.2f}x (target: <= 1.5x)")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "setup":
        setup(args[0], int(args[1]))
    elif cmd == "targets":
        for n in args[1:]:
            targets(args[0], int(n))
    elif cmd == "blackbox":
        sys.exit(blackbox(args[0], args[1], int(args[2])))
    elif cmd == "proc":
        proc(int(args[0]))
    elif cmd == "sslyze_ok":
        sslyze_ok(args[0])
    elif cmd == "report":
        report(args[0])
    else:
        sys.exit(f"unknown command {cmd}")
