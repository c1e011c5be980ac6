"""Process shards against real servers on 127.0.0.1: the rows of workers=2 are those of one
process (lab endpoints with different failures, certificate files, a refused port), the
``--resolve`` overrides and ``environ`` reach the children, a killed child's in-flight targets
get their rows and the run goes on, a closed generator and Ctrl-C leave no process behind,
the state records each target once, and the CLI with --workers 2 (--jsonl, --json, --nagios)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certdoctor import policy
from certdoctor.monitor import shard
from certdoctor.monitor.config import Defaults, endpoint
from certdoctor.monitor.run import monitor, run_monitor
from support import hostile
from support.procs import descendants, wait_gone
from support.fleet import SCENARIOS, lab_fleet, monitor_on_stall, sorted_rows as _sorted
from support.pki import TestCA, pem
from support.servers import closed_port, server_context



def _fleet(lab, tmp_path, copies: int = 3):
    return lab_fleet(lab, tmp_path, copies, files_ca="Shard Files")


def test_rows_of_two_workers_are_those_of_one_process(lab, tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    specs = _fleet(lab, tmp_path)
    alone = monitor(specs, now=now, concurrency=6, workers=1)
    sharded = monitor(specs, now=now, concurrency=6, workers=2)
    assert len(alone) == len(sharded) == 3 * (len(SCENARIOS) + 1 + 2)
    assert _sorted(sharded) == _sorted(alone)
    by = {r.origin.split("#")[0]: r for r in sharded}
    assert by["good"].status == "ok" and by["good"].verified is True  # the name resolved in the child
    assert by["missing_intermediate"].reason == "CHAIN_INCOMPLETE"
    assert by["expired_leaf"].status == "critical" and by["refused"].reason == "CONNECTION_REFUSED"


def test_resolve_override_and_environ_reach_the_children(tmp_path, servers):
    from certdoctor.net.resolve import override

    ca = TestCA("Shard Resolve")
    leaf = ca.intermediate().issue_cert("svc.shard.test")
    srv = servers.tls(server_context(pem(leaf.cert, leaf.chain[1]), leaf.key))
    (tmp_path / "ca.pem").write_bytes(pem(ca.cert))
    defaults = Defaults(ca_file=str(tmp_path / "ca.pem"), timeout=5.0)
    specs = [endpoint(f"svc.shard.test:{srv.port}", defaults, origin=f"n{i}") for i in range(6)]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with override({}, suffixes={"shard.test": "127.0.0.1"}):
        rows = monitor(specs, concurrency=4, workers=2, now=now)
    assert [r.status for r in rows] == ["ok"] * 6, {r.error for r in rows}
    assert {r.address for r in rows} == {"127.0.0.1"}
    # environ (run_monitor's, not the children's own): a proxy that refuses is everyone's row
    proxy = f"http://127.0.0.1:{closed_port()}"
    with override({}, suffixes={"shard.test": "127.0.0.1"}):
        via = monitor(specs, concurrency=4, workers=2, environ={"HTTPS_PROXY": proxy}, now=now)
        via_one = monitor(specs, concurrency=4, workers=1, environ={"HTTPS_PROXY": proxy}, now=now)
    assert {r.status for r in via} == {"unknown"} and _sorted(via) == _sorted(via_one)
    assert all("proxy" in (r.error or "").lower() for r in via), {r.error for r in via}


def _stall_and_good(servers, tmp_path, stalls: int, goods: int, timeout: float = 3.0):
    ca = TestCA("Shard Kill")
    leaf = ca.intermediate().issue_cert("127.0.0.1")
    good = servers.tls(server_context(pem(leaf.cert, leaf.chain[1]), leaf.key))
    stall = servers.tcp(hostile.stall)
    (tmp_path / "ca.pem").write_bytes(pem(ca.cert))
    d = Defaults(ca_file=str(tmp_path / "ca.pem"), timeout=timeout)
    return ([endpoint(f"127.0.0.1:{stall.port}", d, origin=f"stall{i}") for i in range(stalls)]
            + [endpoint(f"127.0.0.1:{good.port}", d, origin=f"good{i}") for i in range(goods)])


def test_a_killed_child_costs_only_its_in_flight_targets_their_check(tmp_path, servers):
    specs = _stall_and_good(servers, tmp_path, stalls=4, goods=30)
    # two children of concurrency 2 and a window of 4: the first holds the 4 stalled targets
    runner = shard.Shards(2, shard.ShardOptions.here(concurrency=4))
    killed: list[int] = []

    async def go():
        out = []
        async for row in runner.rows(iter(specs)):
            if not killed:
                killed.append(runner.children[0].process.pid)
                os.kill(killed[0], signal.SIGKILL)
            out.append(row)
        return out

    rows = asyncio.run(go())
    assert sorted(r.origin for r in rows) == sorted(s.origin for s in specs)  # one row each, none lost
    died = {r.origin: r for r in rows if r.error and "worker process" in r.error}
    assert set(died) == {"stall0", "stall1", "stall2", "stall3"}, {r.origin: r.error for r in rows}
    assert all(r.status == "error" and f"worker process {killed[0]}" in r.error and "SIGKILL" in r.error
               for r in died.values())
    assert all(r.status == "ok" for r in rows if r.origin.startswith("good")), {r.error for r in rows}
    assert runner.restarts == 1  # replaced; the run went on with it
    assert wait_gone([c.process.pid for c in runner.children]) == []


def test_closing_the_generator_stops_every_child(tmp_path, servers):
    specs = _stall_and_good(servers, tmp_path, stalls=8, goods=1, timeout=20.0)
    pids: list[int] = []

    async def go():
        agen = run_monitor(iter(specs[-1:] + specs[:-1]), concurrency=4, workers=2)
        row = await agen.__anext__()
        import multiprocessing

        pids.extend(p.pid for p in multiprocessing.active_children() if p.name == "certdoctor-monitor-shard")
        await agen.aclose()  # the stalled targets are still in flight
        return row

    row = asyncio.run(go())
    assert row.status == "ok" and len(pids) == 2
    assert wait_gone(pids, 10.0) == []


def test_ctrl_c_stops_the_cli_and_its_children(tmp_path, servers):
    stall = servers.tcp(hostile.stall)
    proc = monitor_on_stall(tmp_path, stall.port, 20, "--workers", "2", timeout=30)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and proc.poll() is None and len(descendants(proc.pid)) < 3:
            time.sleep(0.1)  # the forkserver and the two workers started
        time.sleep(0.5)  # (not a timing assertion: lets the targets reach the stalling server)
        everything = descendants(proc.pid)
        assert len(everything) >= 3, everything  # the forkserver and its two workers
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # click turns KeyboardInterrupt into Abort: cli/common.run's "error: aborted", exit 2
    assert proc.returncode == 2 and b"error: aborted" in err, err
    assert wait_gone(everything, 10.0) == []


def test_children_exit_when_the_parent_is_killed(tmp_path, servers):
    """SIGKILL leaves the parent no chance to stop anyone: the workers see their pipe close and
    exit, the forkserver sees its parent go: no orphan keeps checking."""
    stall = servers.tcp(hostile.stall)
    proc = monitor_on_stall(tmp_path, stall.port, 20, "--workers", "2", timeout=30, output=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and proc.poll() is None and len(descendants(proc.pid)) < 3:
            time.sleep(0.1)
        time.sleep(0.5)  # (not a timing assertion: lets the targets reach the stalling server)
        everything = descendants(proc.pid)
        assert len(everything) >= 3, everything
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert wait_gone(everything, 15.0) == []


def test_children_run_the_parents_certdoctor_when_it_is_on_sys_path_only(tmp_path):
    """A script that puts a checkout's src on sys.path itself (no PYTHONPATH): the forkserver
    and the workers import that certdoctor, not another one the interpreter may have installed."""
    src = Path(__file__).parents[2] / "src"
    cert = tmp_path / "c.pem"
    cert.write_bytes(pem(TestCA("Path Root").issue_cert("path.example").cert))
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(src)!r})\n"
        "import certdoctor\n"
        "from certdoctor.monitor.config import Defaults, source\n"
        "from certdoctor.monitor.run import monitor\n"
        f"rows = monitor([source({str(cert)!r}, Defaults())] * 4, workers=2, concurrency=4)\n"
        "print(certdoctor.__file__, sorted({r.status for r in rows}), sorted({r.error for r in rows}, key=str))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0].startswith(str(src)), done.stdout
    assert "['ok'] [None]" in done.stdout, (done.stdout, done.stderr[-2000:])


def test_state_records_each_target_once_when_sharded(lab, tmp_path):
    from certdoctor.monitor import changes as C
    from certdoctor.monitor.hooks import RunReport
    from certdoctor.monitor.state import State

    specs = _fleet(lab, tmp_path, copies=1)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with State.open(tmp_path / "state.sqlite") as state:
        report = RunReport()
        first = monitor(specs, now=now, concurrency=4, workers=2, state=state, report=report)
        assert len(first) == len(SCENARIOS) + 1 + 2
        for row in first:
            assert [t.kind for t in row.transitions].count(C.NEW_TARGET) == 1, (row.target, row.transitions)
        keys = {C.identity(r.kind, r.target if r.kind == "file" else s.input, s.servername, s.address)
                for r, s in zip(sorted(first, key=lambda r: r.origin), sorted(specs, key=lambda s: s.origin))
                if r.kind == "endpoint"}
        for key in keys:
            assert len(state.history(key)) == 1, key
        assert report.targets == len(first) and report.transitions == sum(len(r.transitions) for r in first)
        again = monitor(specs, now=now, concurrency=4, workers=2, state=state, report=RunReport())
        assert all(r.transitions == () for r in again), {r.target: r.transitions for r in again}
        assert [r["targets"] for r in state.runs()][-2:] == [len(first), len(first)]


def test_auto_peeks_a_bounded_number_of_specs_before_the_first_row(tmp_path, monkeypatch):
    from certdoctor.monitor.config import stream_targets

    monkeypatch.setattr(policy, "MONITOR_SHARD_MIN_TARGETS", 100)
    port = closed_port()
    path = tmp_path / "targets.txt"
    path.write_text("".join(f"127.0.0.1:{port}  # n{i}\n" for i in range(3000)))
    pulled = {"n": 0, "at_first_row": None}

    def counted():
        for spec in stream_targets(path, Defaults(timeout=2.0)):
            pulled["n"] += 1
            yield spec

    async def go():
        count = 0
        async for row in run_monitor(counted(), concurrency=10, workers="auto"):
            if pulled["at_first_row"] is None:
                pulled["at_first_row"] = pulled["n"]
            assert row.reason == "CONNECTION_REFUSED"
            count += 1
        return count

    assert asyncio.run(go()) == 3000
    workers = min(shard.auto_workers(), 10)
    # the peek, then at most each child's window (its share + MONITOR_SHARD_BATCH)
    assert pulled["at_first_row"] <= 100 + 10 + workers * policy.MONITOR_SHARD_BATCH


@pytest.mark.parametrize("fmt", ["--jsonl", "--json", "--nagios"])
def test_cli_with_two_workers(lab, tmp_path, capsys, fmt):
    from support.cli import run_cli_captured

    targets = tmp_path / "targets.txt"
    names = [lab.endpoint(sid).url for sid in SCENARIOS] * 2
    targets.write_text("\n".join(names) + "\n")
    base = ["monitor", "--targets", str(targets), "--ca-file", str(lab.ca_file), "--no-state", fmt]
    code2, out2, err2 = run_cli_captured(base + ["--workers", "2"], capsys)
    code1, out1, err1 = run_cli_captured(base + ["--workers", "1"], capsys)
    assert code2 == code1 == 2, (err2, err1)  # critical: the failing scenarios
    if fmt == "--jsonl":
        rows2 = [json.loads(line) for line in out2.splitlines()]
        rows1 = [json.loads(line) for line in out1.splitlines()]
        assert len(rows2) == len(names)

        def strip(rows):
            # the clock is not pinned on the command line (the rows' exact equality is
            # test_rows_of_two_workers_are_those_of_one_process's): what is not clock-dependent
            return sorted((r["target"], r["status"], r["reason"], r["verified"], r["days_left"] is None,
                           tuple(f["code"] for f in r["findings"]),
                           tuple(c["fingerprint_sha256"] for c in r["certificates"])) for r in rows)

        assert strip(rows2) == strip(rows1)
    elif fmt == "--json":
        doc2, doc1 = json.loads(out2), json.loads(out1)
        assert len(doc2["rows"]) == len(names)
        assert sorted(r["status"] for r in doc2["rows"]) == sorted(r["status"] for r in doc1["rows"])
    else:
        assert len(out2.splitlines()) == 1 and out2.startswith("CERTDOCTOR CRITICAL")
        assert out2.split(";")[0] == out1.split(";")[0]  # the counts (names come in completion order)
