"""The figures of docs/SCALE.md: targets/s per worker process, the coordinator's CPU per row on
Dask, and the limits past the workers (state writes, the CRL cache, DNS), on this machine.

    PYTHONPATH=src:tests python bench/dask_scale.py [N] [CONCURRENCY] [DASK]     # 2000 200 local:2
    SHARD=250 ... (targets per Dask shard, default policy.MONITOR_DASK_SHARD_TARGETS: N must make
    several shards per worker for the workers to share it)

One nginx on 127.0.0.1 (tests/support/nginx.py: a free port, one worker, worker_connections
4096; stopped in finally) serving a leaf + intermediate of the test PKI; N copies of the
endpoint, each verified against the test root (every row must be ok). Measured, each printed
as one line:

  one process      run_monitor(workers=1): wall, targets/s, CPU ms/target of this process
                   (the engine's work: handshake, evidence, judgement; the judgement is reused
                   for one chain in one second, see monitor/engine.py); and with the reuse off
                   (MONITOR_JUDGEMENT_CACHE = 0: every target judged in full, a fleet of
                   distinct chains)
  dask start       an empty LocalCluster of DASK's workers: up and down (wall)
  dask             run_monitor(dask=DASK), rows rendered as --jsonl would and dropped: wall
                   (start included), targets/s, and the coordinator's CPU per row: this
                   process's CPU (the scheduler lives here with local:N, the rows are
                   unpickled here, the hooks and rendering run here) from the first row to the
                   last, per row after the first; with --state too (a fresh SQLite file)
  state            State.record: rows/s for N new targets, then N unchanged
  crl              a CRL of 10,000 and 100,000 entries: FetchCache.get + parse (the cost per
                   revocation target in each process; the cache holds bytes)
  dns              loop.getaddrinfo('localhost') at concurrency 200: lookups/s through the
                   default executor (its thread count is the bound: min(32, cores + 4))
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path


def _line(label: str, **figures) -> None:
    print(f"{label:<16}" + "  ".join(f"{k}: {v}" for k, v in figures.items()), flush=True)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def _consume(rows, statuses: dict, marks: list | None = None) -> None:
    """Count the rows, render each as --jsonl does; ``marks``: (CPU, rows) at the first row and
    at the last (what the coordinator spent while rows came, its start and stop left out)."""
    from certdoctor.render.monitor import jsonl

    count = 0
    async for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
        jsonl(row)
        count += 1
        if marks is not None:
            if not marks:
                marks.append((time.process_time(), count))
            marks[1:] = [(time.process_time(), count)]


def one_process(specs_of, n: int, concurrency: int, reuse: bool = True) -> None:
    from certdoctor import policy
    from certdoctor.monitor.run import run_monitor

    saved = policy.MONITOR_JUDGEMENT_CACHE
    if not reuse:
        policy.MONITOR_JUDGEMENT_CACHE = 0
    try:
        statuses: dict = {}
        cpu0, t0 = time.process_time(), time.perf_counter()
        asyncio.run(_consume(run_monitor(specs_of(n), concurrency=concurrency, workers=1), statuses))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        policy.MONITOR_JUDGEMENT_CACHE = saved
    _line("one process" + ("" if reuse else " (no reuse)"), targets=n, wall=f"{wall:.2f} s",
          targets_per_s=f"{n / wall:.0f}", cpu_ms_per_target=f"{cpu / n * 1000:.2f}", statuses=statuses)


def dask_start(dask: str) -> None:
    from certdoctor.monitor import dask as on_dask

    async def up_down() -> None:
        async with on_dask.connected(on_dask.parse(dask)):
            pass

    cpu0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(up_down())
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    _line("dask start", dask=dask, wall=f"{wall:.2f} s", coordinator_cpu=f"{cpu:.2f} s")


def on_dask_run(specs_of, n: int, concurrency: int, dask: str, state_dir: Path | None) -> None:
    from certdoctor import policy
    from certdoctor.monitor.run import run_monitor
    from certdoctor.monitor.state import State

    state = State.open(state_dir / "state.sqlite") if state_dir is not None else None
    try:
        statuses: dict = {}
        marks: list = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        asyncio.run(_consume(run_monitor(specs_of(n), concurrency=concurrency, dask=dask, state=state), statuses,
                             marks))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        if state is not None:
            state.close()
    (c_first, r_first), (c_last, r_last) = marks[0], marks[-1]
    per_row = (c_last - c_first) / max(1, r_last - r_first) * 1e6  # the first shard's rows excluded
    _line("dask" + (" + state" if state is not None else ""), dask=dask, targets=n, wall=f"{wall:.2f} s",
          targets_per_s=f"{n / wall:.0f}", coordinator_cpu=f"{cpu:.2f} s",
          coordinator_us_per_row=f"{per_row:.0f}", shard_targets=policy.MONITOR_DASK_SHARD_TARGETS,
          statuses=statuses)


def state_rate(rows: list, tmp: Path) -> None:
    from certdoctor.monitor import changes as C
    from certdoctor.monitor.state import State

    with State.open(tmp / "rate.sqlite") as state:
        for label in ("new targets", "unchanged"):
            run = state.begin_run()
            t0, c0 = time.perf_counter(), time.process_time()
            for i, row in enumerate(rows):
                state.record(C.identity("endpoint", f"{row.target}#{i}", row.servername, None), row, run)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            state.finish_run(run, targets=len(rows), transitions=0)
            _line("state", rows=len(rows), kind=label, rows_per_s=f"{len(rows) / wall:.0f}",
                  cpu_us_per_row=f"{cpu / len(rows) * 1e6:.0f}")


def coordinator_parts(rows: list) -> None:
    """What the coordinator does per row, each part alone: unpickle it (a shard's result is one
    pickled list), render it as --jsonl (CPU time)."""
    import pickle

    from certdoctor.render.monitor import jsonl

    blob = pickle.dumps(rows)
    t0 = time.process_time()
    for _ in range(5):
        pickle.loads(blob)
    unpickle = (time.process_time() - t0) / 5 / len(rows)
    t0 = time.process_time()
    for row in rows:
        jsonl(row)
    render = (time.process_time() - t0) / len(rows)
    _line("coordinator", rows=len(rows), bytes_per_row=len(blob) // len(rows),
          unpickle_us_per_row=f"{unpickle * 1e6:.0f}", jsonl_us_per_row=f"{render * 1e6:.0f}")


def crl_cost(tmp: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from certdoctor.net.fetch import FetchCache
    from support.pki import TestCA

    ca = TestCA("Bench CRL")
    now = dt.datetime.now(dt.timezone.utc)
    cache = FetchCache(tmp / "crl-cache")
    for entries in (10_000, 100_000):
        b = (x509.CertificateRevocationListBuilder().issuer_name(x509.Name([x509.NameAttribute(
            NameOID.COMMON_NAME, "Bench CRL")])).last_update(now).next_update(now + dt.timedelta(days=7)))
        for i in range(entries):
            b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(i + 1)
                                          .revocation_date(now).build())
        der = b.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        url = f"http://crl.bench.test/{entries}.crl"
        cache.put(url, der, expires=time.time() + 3600)
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            crl = x509.load_der_x509_crl(cache.get(url))
            crl.get_revoked_certificate_by_serial_number(entries + 7)
        each = (time.perf_counter() - t0) / reps
        _line("crl", entries=entries, size=f"{len(der) / 1e6:.1f} MB", ms_per_lookup=f"{each * 1000:.1f}")


def dns_rate(n: int = 5000, concurrency: int = 200) -> None:
    async def go() -> float:
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with sem:
                await loop.getaddrinfo("localhost", 443)

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - t0

    wall = asyncio.run(go())
    _line("dns", lookups=n, name="localhost (/etc/hosts)", lookups_per_s=f"{n / wall:.0f}",
          executor_threads=min(32, (os.cpu_count() or 1) + 4))


def main(n: int = 2000, concurrency: int = 200, dask: str = "local:2") -> int:
    from certdoctor import policy
    from certdoctor.monitor.config import Defaults, endpoint
    from certdoctor.monitor.run import monitor
    from monitor_quick import bench_nginx  # bench/: this script's own directory

    if os.environ.get("SHARD"):  # shards are cut in the coordinator: smaller ones for a small N
        policy.MONITOR_DASK_SHARD_TARGETS = int(os.environ["SHARD"])
    print(f"cores: {os.cpu_count()}  load average before: {_load()}  python: {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="certdoctor-dask-bench-") as d:
        tmp = Path(d)
        with bench_nginx(tmp) as port:
            defaults = Defaults(ca_file=str(tmp / "ca.pem"), timeout=30.0)

            def specs_of(k: int):
                return (endpoint(f"127.0.0.1:{port}", defaults, origin=f"n{i}") for i in range(k))

            one_process(specs_of, n, concurrency)
            one_process(specs_of, n, concurrency, reuse=False)
            dask_start(dask)
            on_dask_run(specs_of, n, concurrency, dask, None)
            on_dask_run(specs_of, n, concurrency, dask, tmp)
            rows = monitor(specs_of(min(n, 2000)), concurrency=concurrency, workers=1)
        coordinator_parts(rows)
        state_rate(rows, tmp)
        crl_cost(tmp)
        dns_rate()
    print(f"load average after: {_load()}", flush=True)
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(int(args[0]) if args else 2000, int(args[1]) if len(args) > 1 else 200,
                  args[2] if len(args) > 2 else "local:2"))
