"""Run a command and measure its whole process tree: wall, CPU and peak RSS summed over every process.

    python bench/proctree.py OUT -- CMD [ARG...]     # writes "wall cpu_seconds peak_kib processes" to OUT

GNU time's %M is the peak RSS of one process, and its CPU counts only the children the command
waited for: the monitor's worker processes are children of multiprocessing's forkserver (which
nobody waits for), so neither figure sees them. This polls /proc every 20 ms for every
descendant of the command (through /proc/PID/task/*/children) and keeps, per process, its last
utime+stime (/proc/PID/stat) and its VmHWM (/proc/PID/status, the kernel's own peak); the
figures are the sums over all processes seen (the command itself included). A process's CPU in
its last <= 20 ms is lost (negligible over a run of seconds). The RSS sum counts pages shared
between processes (the forkserver's preloaded modules, copy-on-write) once per process: it is an
upper bound of the memory used. The command's exit code is this script's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def _sample(pid: int) -> tuple[float, int] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)
        hwm = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        return cpu, hwm
    except (OSError, IndexError, ValueError):
        return None


def main(argv: list[str]) -> int:
    out, cmd = argv[0], argv[argv.index("--") + 1:]
    seen: dict[int, tuple[float, int]] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    while True:
        for pid in _descendants(proc.pid):
            s = _sample(pid)
            if s is not None:
                cpu, hwm = s
                old = seen.get(pid, (0.0, 0))
                seen[pid] = (max(cpu, old[0]), max(hwm, old[1]))
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    cpu = sum(c for c, _ in seen.values())
    kib = sum(h for _, h in seen.values())
    with open(out, "w") as f:
        f.write(f"{wall:.2f} {cpu:.2f} {kib} {len(seen)}\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
