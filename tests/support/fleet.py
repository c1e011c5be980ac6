"""A small mixed fleet for the tests that compare a sharded run (process shards, Dask) with a
one-process run: lab endpoints with different failures (by name: the lab's ``.lab.test``
override must reach the workers), a refused port and certificate files, each several times."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from certdoctor.monitor.config import Defaults, endpoint, source
from support.pki import TestCA, pem
from support.servers import closed_port

SCENARIOS = ("good", "missing_intermediate", "expired_leaf", "self_signed", "hostname_mismatch")


def comparable(row):
    """The row without what differs between two runs of the same check (its duration)."""
    return dataclasses.replace(row, elapsed=0.0)


def sorted_rows(rows):
    """Rows in a stable order (completion order differs between runs), durations zeroed."""
    return sorted(map(comparable, rows), key=lambda r: (r.target, r.origin))


def lab_fleet(lab, tmp_path, copies: int = 3, *, files_ca: str = "Fleet Files") -> list:
    """``copies`` times: every SCENARIOS endpoint of ``lab``, a refused port, and a glob of two
    certificate files (one valid, one expired in 2021) written into ``tmp_path``."""
    defaults = Defaults(ca_file=str(lab.ca_file), timeout=5.0)
    root = TestCA(files_ca)
    (tmp_path / "leaf.pem").write_bytes(pem(root.issue_cert("files.example").cert))
    old = TestCA("Old", not_before=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
                 not_after=dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc))
    (tmp_path / "old.pem").write_bytes(pem(old.cert))
    refused = closed_port()
    specs = []
    for c in range(copies):
        specs += [endpoint(lab.endpoint(sid).url, defaults, origin=f"{sid}#{c}") for sid in SCENARIOS]
        specs.append(endpoint(f"127.0.0.1:{refused}", defaults, origin=f"refused#{c}"))
        specs.append(source(str(tmp_path / "*.pem"), defaults, origin=f"files#{c}"))
    return specs


def monitor_on_stall(tmp_path, port: int, count: int, *options: str, timeout: int,
                     output=subprocess.PIPE) -> subprocess.Popen:
    """``certdoctor monitor`` as a terminal starts it (its own process group), on ``count``
    targets of the stalling server on ``port`` (``--no-state --jsonl --timeout``, then
    ``options``): for the tests that stop it (Ctrl-C, SIGKILL) while its children still work."""
    targets = tmp_path / "targets.txt"
    targets.write_text("".join(f"127.0.0.1:{port}\n" for _ in range(count)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2] / "src"), env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-c", "from certdoctor.cli import main; main()", "monitor",
                             "--targets", str(targets), *options, "--no-state", "--jsonl", "--timeout", str(timeout)],
                            env=env, stdout=output, stderr=output, start_new_session=True)

