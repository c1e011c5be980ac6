"""Quick monitor benchmark: N targets (default 1,000) against one local nginx, every chain verified.

    PYTHONPATH=src:tests python bench/monitor_quick.py [N] [CONCURRENCY] [WORKERS]

Starts nginx on 127.0.0.1 (tests/support/nginx.py: a free port, everything in a temp dir, one worker with
worker_connections 4096, so the monitor's default concurrency of 200 fits; stopped in finally)
with a leaf + intermediate from the test PKI, runs ``run_monitor`` over N
copies of the endpoint (rows consumed and dropped, as the CLI's --jsonl does) with WORKERS
(default ``auto``, as the CLI: monitor/shard.py) and prints the worker processes used,
targets/s, CPU seconds per target and peak RSS (VmHWM) summed over this process and the
monitor's (the forkserver and its workers; nginx not counted), sampled from /proc every 20 ms
by bench/proctree.py's reader (a process's last <= 20 ms of CPU is lost; shared pages count
once per process). Every row must be
``ok`` (the chain verified against the test root), else the run fails. bench/monitor.sh compares
the monitor with other tools on many ports. One endpoint repeated: every target after the first
of each second reuses its judgement (see monitor/engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import tempfile
import time
from pathlib import Path


def _hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class _Tree:
    """Samples the python processes under this one (the monitor's forkserver and workers)."""

    def __init__(self) -> None:
        import threading

        self.seen: dict[int, tuple[float, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import os

        from proctree import _descendants, _sample

        me = os.getpid()
        while not self._stop.wait(0.02):
            for pid in _descendants(me):
                try:
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                except OSError:
                    continue
                if pid == me or not comm.startswith("python"):
                    continue
                s = _sample(pid)
                if s is not None:
                    old = self.seen.get(pid, (0.0, 0))
                    self.seen[pid] = (max(s[0], old[0]), max(s[1], old[1]))

    def stop(self) -> tuple[float, int, int]:
        self._stop.set()
        self._thread.join()
        return sum(c for c, _ in self.seen.values()), sum(h for _, h in self.seen.values()), len(self.seen)


@contextlib.contextmanager
def bench_nginx(tmp: Path):
    """nginx on 127.0.0.1 serving a leaf for 127.0.0.1 + its intermediate under a private root
    (written to ``tmp/ca.pem``); yields the port. One worker with worker_connections 4096 (the
    monitor's default concurrency of 200 fits); stopped on exit. Shared with bench/dask_scale.py."""
    from support.nginx import run_nginx
    from support.pki import TestCA, pem

    ca = TestCA("Bench Root")
    leaf = ca.intermediate("Bench Inter").issue_cert("127.0.0.1")
    (tmp / "chain.pem").write_bytes(pem(leaf.cert, leaf.chain[1]))
    (tmp / "key.pem").write_bytes(leaf.key_pem())
    (tmp / "ca.pem").write_bytes(pem(ca.cert))
    with run_nginx(tmp / "nginx", tmp / "chain.pem", tmp / "key.pem", worker_connections=4096) as (_host, port):
        yield port


def main(n: int = 1000, concurrency: int = 200, workers: str = "auto") -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from certdoctor.monitor.config import Defaults, endpoint
    from certdoctor.monitor.run import run_monitor

    with tempfile.TemporaryDirectory(prefix="certdoctor-bench-") as d, bench_nginx(Path(d)) as port:
        tmp = Path(d)
        defaults = Defaults(ca_file=str(tmp / "ca.pem"), timeout=10.0)
        specs = (endpoint(f"127.0.0.1:{port}", defaults) for _ in range(n))
        statuses: dict[str, int] = {}
        errors: list = []
        used: list = []

        def progress(started, finished) -> None:
            if not used:
                import multiprocessing

                used.append(len(multiprocessing.active_children()) or 1)

        async def go() -> None:
            async for row in run_monitor(specs, concurrency=concurrency, workers=workers, progress=progress):
                statuses[row.status] = statuses.get(row.status, 0) + 1
                if row.status != "ok" and len(errors) < 3:
                    errors.append((row.reason, row.error))

        before = _hwm_kib()
        tree = _Tree()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        asyncio.run(go())
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        tree_cpu, tree_kib, procs = tree.stop()
    print(f"targets: {n}  concurrency: {concurrency}  workers: {workers} -> {used[0] if used else '?'} process(es)"
          f"  statuses: {statuses}")
    for e in errors:
        print("  not ok:", e)
    total = cpu + tree_cpu
    print(f"wall: {wall:.2f} s  targets/s: {n / wall:.1f}  cpu s/target (all processes): {total / n * 1000:.2f} ms"
          f" (parent {cpu / n * 1000:.2f} ms)")
    print(f"peak RSS (VmHWM) summed over {procs + 1} process(es): {(_hwm_kib() + tree_kib) / 1024:.1f} MiB "
          f"(parent {_hwm_kib() / 1024:.1f} MiB; before the run: {before / 1024:.1f} MiB)")
    return 0 if statuses.get("ok", 0) == n else 1


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*args, *sys.argv[3:4]))
