"""Monitor shards on Dask against real servers on 127.0.0.1: a LocalCluster of 2 worker processes
gives the rows of a local run (lab endpoints with different failures, certificate files, a
refused port), the inventory is streamed (a bounded number of shards in flight), a worker killed
mid-run costs no target its row and duplicates none (Dask re-runs its shard), the state records
each target once, the CLI with --dask local:2 --jsonl, and without ``distributed`` one error
line with the install hint.

One LocalCluster for the module (tests connect to its scheduler address, tcp://127.0.0.1:PORT)
and one started by the CLI test itself: each costs seconds, so few are started."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from certdoctor import policy  # noqa: E402
from certdoctor.monitor import dask as on_dask  # noqa: E402
from certdoctor.monitor.config import Defaults, endpoint  # noqa: E402
from certdoctor.monitor.run import monitor  # noqa: E402
from certdoctor.monitor.shard import ShardOptions, _main_hidden  # noqa: E402
from support import hostile  # noqa: E402
from support.procs import descendants, wait_gone  # noqa: E402
from support.fleet import SCENARIOS, lab_fleet, monitor_on_stall, sorted_rows as _sorted  # noqa: E402
from support.pki import TestCA, pem  # noqa: E402
from support.servers import closed_port, server_context  # noqa: E402



@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes (one thread each), its scheduler on 127.0.0.1:0,
    and a synchronous client to it (the tests' view: which worker runs what)."""
    import logging

    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": policy.MONITOR_DASK_ALLOWED_FAILURES}), \
            _main_hidden():
        lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      scheduler_port=0, dashboard_address=None, silence_logs=logging.ERROR,
                                      scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    try:
        client = distributed.Client(lc)
        try:
            client.wait_for_workers(2, timeout=60)
            yield lc.scheduler_address, client
        finally:
            client.close()
    finally:
        lc.close()


def _fleet(lab, tmp_path, copies: int = 3):
    return lab_fleet(lab, tmp_path, copies, files_ca="Dask Files")


def test_rows_on_dask_are_those_of_a_local_run(lab, tmp_path, cluster, monkeypatch):
    address, _ = cluster
    monkeypatch.setattr(policy, "MONITOR_DASK_SHARD_TARGETS", 4)  # 18 endpoints: 5 shards
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    specs = _fleet(lab, tmp_path)
    alone = monitor(specs, now=now, concurrency=6, workers=1)
    on = monitor(specs, now=now, concurrency=6, dask=address)
    assert len(alone) == len(on) == 3 * (len(SCENARIOS) + 1 + 2)
    assert _sorted(on) == _sorted(alone)  # every field but the elapsed time: target, status, reason, findings …
    by = {r.origin.split("#")[0]: r for r in on}
    assert by["good"].status == "ok" and by["good"].verified is True  # the name resolved on the worker
    assert by["missing_intermediate"].reason == "CHAIN_INCOMPLETE"
    assert by["expired_leaf"].status == "critical" and by["refused"].reason == "CONNECTION_REFUSED"
    assert [f.code.value for f in by["self_signed"].findings] == [f.code.value for f in
                                                                   {r.origin.split("#")[0]: r for r in alone}[
                                                                       "self_signed"].findings]


def test_the_inventory_is_streamed_a_bounded_number_of_shards_in_flight(cluster, monkeypatch):
    address, client = cluster
    monkeypatch.setattr(policy, "MONITOR_DASK_SHARD_TARGETS", 3)
    port = closed_port()
    pulled = {"n": 0, "at_first_row": None}

    def counted():
        for i in range(90):
            pulled["n"] += 1
            yield endpoint(f"127.0.0.1:{port}", Defaults(timeout=2.0), origin=f"n{i}")

    runners: list = []

    async def go():
        out = []
        async for row in on_dask.rows(counted(), dask=address, options=ShardOptions.here(concurrency=3),
                                      runners=runners):
            if pulled["at_first_row"] is None:
                pulled["at_first_row"] = pulled["n"]
            out.append(row)
        return out

    rows = asyncio.run(go())
    assert sorted(r.origin for r in rows) == sorted(f"n{i}" for i in range(90))
    assert {r.reason for r in rows} == {"CONNECTION_REFUSED"}
    runner = runners[0]
    limit = policy.MONITOR_DASK_SHARDS_PER_WORKER * 2  # two workers
    assert runner.limit == limit  # the scheduler was asked how many workers it has
    assert runner.shards == 30 and runner.in_flight_max == limit and runner.dropped == 0
    assert pulled["at_first_row"] <= limit * 3  # never the whole stream: K shards of 3
    assert runner.started == runner.finished == 90


def test_a_worker_killed_mid_run_costs_no_target_its_row(tmp_path, servers, cluster, monkeypatch):
    address, client = cluster
    monkeypatch.setattr(policy, "MONITOR_DASK_SHARD_TARGETS", 4)
    ca = TestCA("Dask Kill")
    leaf = ca.intermediate().issue_cert("127.0.0.1")
    good = servers.tls(server_context(pem(leaf.cert, leaf.chain[1]), leaf.key))
    stall = servers.tcp(hostile.stall)
    (tmp_path / "ca.pem").write_bytes(pem(ca.cert))
    d = Defaults(ca_file=str(tmp_path / "ca.pem"), timeout=4.0)
    # shard 0: four targets that stall (each ends as TIMEOUT after ~5 s); shards 1-5: good ones
    specs = ([endpoint(f"127.0.0.1:{stall.port}", d, origin=f"stall{i}") for i in range(4)]
             + [endpoint(f"127.0.0.1:{good.port}", d, origin=f"good{i}") for i in range(20)])
    runners: list = []
    killed: dict = {}

    def kill_the_worker_of_shard_0(runner) -> None:
        key = runner.key(0)
        for worker, keys in client.processing().items():
            if key in keys:
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                killed.update(worker=worker, pid=pid)
                return

    async def go():
        out = []
        async for row in on_dask.rows(iter(specs), dask=address, options=ShardOptions.here(concurrency=4),
                                      runners=runners):
            if not killed and row.origin.startswith("good"):
                kill_the_worker_of_shard_0(runners[0])  # shard 0 still stalls: not done yet
            out.append(row)
        return out

    rows = asyncio.run(go())
    assert killed, "shard 0 was not running on a worker when the first good row came"
    assert sorted(r.origin for r in rows) == sorted(s.origin for s in specs)  # one row each: none lost, none twice
    by = {r.origin: r for r in rows}
    # shard 0 was re-run on a worker that lived: real rows (the stall's TIMEOUT), not error rows
    assert all(by[f"stall{i}"].reason == "TIMEOUT" and by[f"stall{i}"].status == "unknown" for i in range(4)), \
        {o: (r.status, r.error) for o, r in by.items() if o.startswith("stall")}
    assert all(r.status == "ok" for o, r in by.items() if o.startswith("good")), {r.error for r in rows}
    assert runners[0].failed == 0 and runners[0].dropped == 0
    client.wait_for_workers(2, timeout=60)  # the nanny replaced the killed worker
    assert killed["worker"] not in client.scheduler_info()["workers"] or \
        client.run(os.getpid, workers=[killed["worker"]])[killed["worker"]] != killed["pid"]


def test_state_records_each_target_once_on_dask(lab, tmp_path, cluster, monkeypatch):
    from certdoctor.monitor import changes as C
    from certdoctor.monitor.hooks import RunReport
    from certdoctor.monitor.state import State

    address, _ = cluster
    monkeypatch.setattr(policy, "MONITOR_DASK_SHARD_TARGETS", 2)
    specs = _fleet(lab, tmp_path, copies=1)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with State.open(tmp_path / "state.sqlite") as state:
        report = RunReport()
        first = monitor(specs, now=now, concurrency=4, dask=address, state=state, report=report)
        assert len(first) == len(SCENARIOS) + 1 + 2
        for row in first:
            assert [t.kind for t in row.transitions].count(C.NEW_TARGET) == 1, (row.target, row.transitions)
        assert report.targets == len(first) and report.transitions == sum(len(r.transitions) for r in first)
        again = monitor(specs, now=now, concurrency=4, dask=address, state=state, report=RunReport())
        assert all(r.transitions == () for r in again), {r.target: r.transitions for r in again}
        assert [r["targets"] for r in state.runs()][-2:] == [len(first), len(first)]


def test_dask_excludes_workers_and_checks_its_value():
    from certdoctor.errors import UsageError

    with pytest.raises(UsageError, match="--workers 2"):
        monitor([endpoint("127.0.0.1:1")], dask="local:2", workers=2)
    with pytest.raises(UsageError, match="neither"):
        monitor([endpoint("127.0.0.1:1")], dask="http://scheduler")


def test_cli_with_dask_local_2(lab, tmp_path, capsys):
    from support.cli import run_cli_captured

    targets = tmp_path / "targets.txt"
    names = [lab.endpoint(sid).url for sid in SCENARIOS] * 2
    targets.write_text("\n".join(names) + "\n")
    base = ["monitor", "--targets", str(targets), "--ca-file", str(lab.ca_file), "--no-state", "--jsonl"]
    code_d, out_d, err_d = run_cli_captured(base + ["--dask", "local:2"], capsys)
    code_1, out_1, err_1 = run_cli_captured(base + ["--workers", "1"], capsys)
    assert code_d == code_1 == 2, (err_d, err_1)  # critical: the failing scenarios
    assert err_d == err_1 == ""  # the cluster's start and stop write nothing

    def strip(rows):
        # the clock is not pinned on the command line (the evidence says "now = …"): what the
        # run decided, not when
        return sorted((r["target"], r["origin"], r["status"], r["reason"], r["verified"], r["address"],
                       tuple((f["code"], f["severity"], f["who"]) for f in r["findings"]),
                       tuple(c["fingerprint_sha256"] for c in r["certificates"]))
                      for r in rows)

    rows_d = [json.loads(line) for line in out_d.splitlines()]
    assert len(rows_d) == len(names)
    assert strip(rows_d) == strip([json.loads(line) for line in out_1.splitlines()])


def test_without_distributed_one_error_and_the_install_hint(tmp_path):
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2] / "src"), env.get("PYTHONPATH", "")])
    code = ("import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
            "from certdoctor.cli import main; main()")
    state = tmp_path / "state.sqlite"
    proc = subprocess.run([sys.executable, "-c", code, "monitor", "127.0.0.1:1", "--dask", "local:2",
                           "--state", str(state)], env=env, capture_output=True, text=True, timeout=120)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 3, proc.stderr  # monitor's usage exit (Nagios UNKNOWN)
    assert len(lines) == 2 and lines[0].startswith("error: --dask needs the 'distributed' package"), lines
    assert lines[1] == "hint: pip install 'certdoctor[dask]'"
    assert proc.stdout == "" and not state.exists()  # refused before the state recorded a run
    # the library says the same
    lib = ("import sys; sys.modules['distributed'] = None\n"
           "from certdoctor.errors import UsageError\nfrom certdoctor.monitor.run import monitor\n"
           "from certdoctor.monitor.config import endpoint\n"
           "try:\n    monitor([endpoint('127.0.0.1:1')], dask='local:2')\n"
           "except UsageError as e:\n    print(e.hint)")
    out = subprocess.run([sys.executable, "-c", lib], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "pip install 'certdoctor[dask]'", out.stderr


def test_ctrl_c_stops_the_cli_and_its_local_cluster(tmp_path, servers):
    import time

    stall = servers.tcp(hostile.stall)
    proc = monitor_on_stall(tmp_path, stall.port, 8, "--dask", "local:2", timeout=60)
    everything: list[int] = []
    try:
        end = time.monotonic() + 90
        # the two worker processes (their nannies live in the CLI's process) and multiprocessing's
        # resource tracker: up
        while time.monotonic() < end and proc.poll() is None and len(descendants(proc.pid)) < 3:
            time.sleep(0.2)
        time.sleep(1.0)  # (not a timing assertion: lets the shard reach the stalling server)
        everything = descendants(proc.pid)
        assert len(everything) >= 3, (everything, proc.poll())
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2 and b"error: aborted" in err, err[-2000:]
    assert out == b""  # no row: every target was still stalling
    assert wait_gone(everything, 20.0) == []


def test_no_scheduler_at_the_address_is_one_error(capsys, monkeypatch):
    from support.cli import run_cli_captured

    monkeypatch.setattr(policy, "MONITOR_DASK_CONNECT_SECONDS", 2.0)
    port = closed_port()
    code, out, err = run_cli_captured(["monitor", "127.0.0.1:1", "--dask", f"tcp://127.0.0.1:{port}",
                                       "--no-state"], capsys)
    lines = err.splitlines()
    assert code == 3 and out == "", err
    assert len(lines) == 2 and lines[0].startswith(f"error: --dask: no Dask scheduler answered at tcp://127.0.0.1:{port}")
    assert lines[1].startswith("hint: Start one (dask scheduler; dask worker ADDRESS)")
