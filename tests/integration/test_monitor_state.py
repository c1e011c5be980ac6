"""The monitor's state file against real TLS servers whose certificate is swapped between runs:
the right transitions, none on a repeat run; NOT_DEPLOYED for a cert_file newer than what is
served; a run killed with SIGKILL leaves a consistent file; two concurrent runs on one file
both complete without corrupting it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certdoctor.monitor.config import Defaults, endpoint
from certdoctor.monitor.run import RunReport, monitor
from certdoctor.monitor.state import State
from support.pki import NOW, TestCA, pem, self_signed
from support.servers import server_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pki(tmp_path):
    root = TestCA("State Root")
    inter = root.intermediate("State Inter")
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))
    return root, inter, str(ca)


def kinds(row) -> list[str]:
    return [t.kind for t in row.transitions]


def run_once(st, srv, ca, **kw):
    report = RunReport()
    [row] = monitor([endpoint(f"127.0.0.1:{srv.port}", Defaults(ca_file=ca), **kw)], state=st, report=report)
    assert not report.state_errors
    return row


def test_swapped_certificates_give_their_transitions_and_a_repeat_run_none(tmp_path, servers, pki):
    root, inter, ca = pki
    leaf = inter.issue_cert("127.0.0.1")
    srv = servers.tls(leaf)
    with State.open(tmp_path / "state.sqlite") as st:
        first = run_once(st, srv, ca)
        assert first.status == "ok" and kinds(first) == ["new_target"] and first.leaf_changed_at is None
        assert kinds(run_once(st, srv, ca)) == []  # a repeat run reports nothing

        # renewal with the same key
        srv.tls = server_context(inter.issue_cert("127.0.0.1", key=leaf.key, not_after=NOW + dt.timedelta(days=80)))
        renewed = run_once(st, srv, ca)
        assert kinds(renewed) == ["leaf_renewed"], renewed.transitions
        t = renewed.transitions[0]
        assert t.old == first.leaf.fingerprint_sha256 and t.new == renewed.leaf.fingerprint_sha256
        assert renewed.leaf_changed_at is not None
        again = run_once(st, srv, ca)
        assert kinds(again) == [] and again.leaf_changed_at == renewed.leaf_changed_at

        # a new key, same issuer and chain
        srv.tls = server_context(inter.issue_cert("127.0.0.1"))
        assert kinds(run_once(st, srv, ca)) == ["leaf_rekeyed"]

        # a new issuer (another intermediate of the same root): leaf, issuer and chain change
        other = root.intermediate("State Other Inter")
        srv.tls = server_context(other.issue_cert("127.0.0.1"))
        row = run_once(st, srv, ca)
        assert kinds(row) == ["leaf_rekeyed", "issuer_changed", "chain_changed"] and row.status == "ok"
        assert "State Other Inter" in row.transitions[1].new

        # verification starts failing (a self-signed leaf), then is restored
        srv.tls = server_context(self_signed("127.0.0.1"))
        bad = run_once(st, srv, ca)
        assert bad.status == "critical" and bad.verified is False
        got = kinds(bad)
        assert got[:2] == ["status_changed", "verification_failed"], got
        assert bad.transitions[0].old == "ok" and bad.transitions[0].new == "critical"
        assert "leaf_rekeyed" in got and "chain_changed" in got
        added = [t.new for t in bad.transitions if t.kind == "finding_added"]
        assert bad.reason in added
        assert kinds(run_once(st, srv, ca)) == []
        srv.tls = server_context(other.issue_cert("127.0.0.1"))
        good = run_once(st, srv, ca)
        got = kinds(good)
        assert got[:2] == ["status_changed", "verification_restored"], got
        assert bad.reason in [t.old for t in good.transitions if t.kind == "finding_cleared"]
        key = next(iter(k for (k,) in st._db.execute("SELECT key FROM targets")))
        history = [h["kind"] for h in st.history(key)]
        assert history[0] == "new_target" and history.count("leaf_renewed") == 1 and "verification_restored" in history
        assert [r["finished_at"] is not None for r in st.runs()] == [True] * 9


def test_warning_to_critical_as_the_days_pass(tmp_path, servers, pki):
    _, inter, ca = pki
    srv = servers.tls(inter.issue_cert("127.0.0.1", not_after=NOW + dt.timedelta(days=20)))
    with State.open(tmp_path / "s.sqlite") as st:
        def at(days):
            [row] = monitor([endpoint(f"127.0.0.1:{srv.port}", Defaults(ca_file=ca, warn_days=30, crit_days=7))],
                            state=st, now=NOW + dt.timedelta(days=days))
            return row
        assert at(0).status == "warning"
        assert kinds(at(1)) == []  # a day less is no transition
        row = at(15)
        assert row.status == "critical" and kinds(row) == ["status_changed"]
        assert (row.transitions[0].old, row.transitions[0].new) == ("warning", "critical")


def test_an_outage_keeps_what_was_known(tmp_path, servers, pki):
    """Unreachable: the status change and the connection finding are reported, and the state
    keeps the last known certificates and chain findings (none 'clears' while nothing answered;
    a new leaf after the outage is covered by tests/unit/test_monitor_changes.py)."""

    _, inter, ca = pki
    srv = servers.tls(inter.issue_cert("127.0.0.1", not_after=NOW + dt.timedelta(days=10)))
    key_spec = dict(address="127.0.0.1")
    with State.open(tmp_path / "s.sqlite") as st:
        run_once(st, srv, ca, **key_spec)
        port = srv.port
        srv.stop()
        [down] = monitor([endpoint(f"127.0.0.1:{port}", Defaults(ca_file=ca), address="127.0.0.1")], state=st)
        assert down.status == "unknown"
        assert kinds(down) == ["status_changed", "finding_added"]  # CONNECTION_REFUSED; EXPIRING_SOON kept
        assert down.transitions[1].new == "CONNECTION_REFUSED"
        previous = st.previous(next(k for (k,) in st._db.execute("SELECT key FROM targets")))
        assert previous["certificates"] and "EXPIRING_SOON" in previous["findings"]


def test_not_deployed_when_the_cert_file_is_newer_than_what_is_served(tmp_path, servers, pki):
    _, inter, ca = pki
    old = inter.issue_cert("127.0.0.1", not_before=NOW - dt.timedelta(days=60), not_after=NOW + dt.timedelta(days=29))
    new = inter.issue_cert("127.0.0.1", key=old.key, not_before=NOW - dt.timedelta(days=1),
                           not_after=NOW + dt.timedelta(days=89))
    srv = servers.tls(old)
    live = tmp_path / "fullchain.pem"
    target = f"127.0.0.1:{srv.port}"

    def row_for(cert_file):
        [row] = monitor([endpoint(target, Defaults(ca_file=ca, warn_days=20), cert_file=str(cert_file))])
        return row

    live.write_bytes(new.chain_pem())
    row = row_for(live)
    assert row.status == "warning" and row.reason == "NOT_DEPLOYED" and row.verified is True
    [f] = [f for f in row.findings if f.code.value == "NOT_DEPLOYED"]
    assert f.rule == "newer_file_not_served" and f.who.value == "server-operator" and "reload" in f.fix
    assert any(new.cert.serial_number and "file leaf" in e for e in f.evidence) and "the same" in f.evidence[-1]
    # the file holds what is served: nothing to say; an older file: nothing either
    live.write_bytes(old.chain_pem())
    assert row_for(live).status == "ok"
    srv.tls = server_context(new)
    assert row_for(live).status == "ok"
    # unreadable: deployment cannot be confirmed
    row = row_for(tmp_path / "missing.pem")
    assert row.reason == "NOT_DEPLOYED" and row.findings[-1].rule == "cert_file_unreadable"


def test_cert_file_in_the_toml_config(tmp_path, servers, pki, capsys):
    from support.cli import run_cli_captured

    _, inter, ca = pki
    old = inter.issue_cert("127.0.0.1", not_before=NOW - dt.timedelta(days=60), not_after=NOW + dt.timedelta(days=60))
    new = inter.issue_cert("127.0.0.1", not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=89))
    srv = servers.tls(old)
    (tmp_path / "live.pem").write_bytes(new.chain_pem())
    conf = tmp_path / "m.toml"
    conf.write_text(f'[[endpoint]]\ntarget = "127.0.0.1:{srv.port}"\ncert_file = "{tmp_path / "live.pem"}"\n')
    rc, out, err = run_cli_captured(["monitor", "--config", str(conf), "--ca-file", ca, "--json",
                                     "--state", str(tmp_path / "st.sqlite")], capsys)
    doc = json.loads(out)
    assert rc == 1, err
    [row] = doc["rows"]
    assert row["reason"] == "NOT_DEPLOYED" and "key: a new one" in row["findings"][-1]["evidence"][-1]
    assert [t["kind"] for t in row["transitions"]] == ["new_target"]
    assert doc["state"]["path"] == str(tmp_path / "st.sqlite") and doc["webhook_errors"] == []


# --------------------------------------------------------------------------- crash and concurrency

def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "certdoctor", "monitor", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def _targets(tmp_path, port: int, n: int) -> Path:
    f = tmp_path / "targets.txt"
    f.write_text("".join(f"https://127.0.0.1:{port}/t{i}\n" for i in range(n)))
    return f


def _consistent(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for (snap,) in db.execute("SELECT snapshot FROM targets"):
        doc = json.loads(snap)
        assert doc["status"] and doc["certificates"]
    return db


def test_a_run_killed_mid_way_leaves_a_consistent_state(tmp_path, servers, pki):
    _, inter, ca = pki
    srv = servers.tls(inter.issue_cert("127.0.0.1"))
    state = tmp_path / "state.sqlite"
    targets = _targets(tmp_path, srv.port, 150)
    first = subprocess.run(_cli("--targets", str(targets), "--ca-file", ca, "--state", str(state), "--jsonl"),
                           env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 150
    # the second run changes every leaf; it is killed once some rows are in
    srv.tls = server_context(inter.issue_cert("127.0.0.1"))
    proc = subprocess.Popen(_cli("--targets", str(targets), "--ca-file", ca, "--state", str(state), "--jsonl",
                                 "--concurrency", "2"), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        reader = sqlite3.connect(state, timeout=30)
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline:
            done = reader.execute("SELECT count(*) FROM targets WHERE run_id = 2").fetchone()[0]
            if done >= 10:
                break
            time.sleep(0.02)
        reader.close()
        assert done >= 10, "the second run never got going"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    db = _consistent(state)
    per_run = dict(db.execute("SELECT run_id, count(*) FROM targets GROUP BY run_id"))
    assert per_run.get(1, 0) > 0 and per_run.get(2, 0) >= 10 and sum(per_run.values()) == 150
    runs = db.execute("SELECT id, finished_at, targets FROM runs ORDER BY id").fetchall()
    assert runs[0][0] == 1 and runs[0][1] is not None and runs[0][2] == 150  # the previous run intact
    assert runs[1][0] == 2 and runs[1][1] is None  # the killed one never finished
    renewed = db.execute("SELECT count(DISTINCT key) FROM history WHERE kind = 'leaf_rekeyed'").fetchone()[0]
    assert renewed == per_run[2]  # every row of run 2 was written whole: snapshot and history together
    db.close()
    # the next run opens it and finishes the change for the rest, and only for the rest
    with State.open(state) as st:
        rows = monitor([endpoint(f"https://127.0.0.1:{srv.port}/t{i}", Defaults(ca_file=ca)) for i in range(150)],
                       state=st)
    changed = [r for r in rows if r.transitions]
    assert len(changed) == per_run[1] and all(kinds(r) == ["leaf_rekeyed"] for r in changed)


def test_two_concurrent_runs_on_one_state_file(tmp_path, servers, pki):
    _, inter, ca = pki
    srv = servers.tls(inter.issue_cert("127.0.0.1"))
    state = tmp_path / "state.sqlite"
    targets = _targets(tmp_path, srv.port, 80)
    args = _cli("--targets", str(targets), "--ca-file", ca, "--state", str(state), "--jsonl", "--concurrency", "4")
    procs = [subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "warning: state" not in err, err
        outs.append([json.loads(line) for line in out.splitlines()])
    assert [len(o) for o in outs] == [80, 80]
    # each target was first seen by exactly one of the two runs: the read and the write of a row
    # are one transaction, the other run saw its result
    firsts: dict[str, int] = {}
    for rows in outs:
        for r in rows:
            assert all(t["kind"] == "new_target" for t in r["transitions"]), r["transitions"]
            firsts[r["target"]] = firsts.get(r["target"], 0) + len(r["transitions"])
    assert set(firsts.values()) == {1} and len(firsts) == 80
    db = _consistent(state)
    assert db.execute("SELECT count(*) FROM targets").fetchone()[0] == 80
    assert [r[0] is not None for r in db.execute("SELECT finished_at FROM runs")] == [True, True]
    db.close()


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path, capsys):
    from support.cli import run_cli_captured

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    rc, out, err = run_cli_captured(["monitor", "example.invalid", "--state", str(junk)], capsys)
    assert rc == 3 and err.startswith("error: --state") and "hint:" in err and out == ""
    assert junk.read_bytes() == b"this is not sqlite" * 100
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    rc, out, err = run_cli_captured(["monitor", "example.invalid", "--state", str(other)], capsys)
    assert rc == 3 and "something else" in err
