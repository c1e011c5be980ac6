"""renew/record: the flock run lock (a second holder fails at once naming the pid; a dead
holder's lock file never blocks) and the SQLite attempt record (every attempt, its outcome, the
next attempt after a Retry-After; --check opens it read-only and never creates it)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from certdoctor.errors import UsageError
from certdoctor.renew import record as R

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_a_second_lock_fails_at_once_naming_the_holder(tmp_path):
    state = tmp_path / "renew.sqlite"
    with R.Lock.acquire(state) as lock:
        assert lock.path == tmp_path / "renew.sqlite.lock"
        assert stat.S_IMODE(os.stat(lock.path).st_mode) == 0o600
        with pytest.raises(R.Locked) as info:
            R.Lock.acquire(state)
        assert f"pid {os.getpid()} holds the lock {lock.path}" in info.value.message
        assert info.value.exit_code == 1 and "Wait" in info.value.hint
    with R.Lock.acquire(state):  # released: the next run gets it
        pass


def test_a_lock_held_by_another_process_names_its_pid_and_dies_with_it(tmp_path):
    state = tmp_path / "renew.sqlite"
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from certdoctor.renew.record import Lock; "
            "l = Lock.acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)")
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    proc = subprocess.Popen([sys.executable, "-c", code, str(state), src], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"held"
        with pytest.raises(R.Locked, match=f"pid {proc.pid} holds"):
            R.Lock.acquire(state)
    finally:
        proc.kill()
        proc.wait(10)
    assert (tmp_path / "renew.sqlite.lock").exists()  # the file stays, the lock went with the process
    with R.Lock.acquire(state):
        pass


def test_every_attempt_is_recorded_with_its_outcome(tmp_path):
    path = tmp_path / "renew.sqlite"
    with R.Record.open(path) as rec:
        assert rec.last("web") is None and rec.not_before("web") is None
        a = rec.begin("web", old_fingerprint="AA:BB", reason="due inside the ARI window", now=T0)
        assert rec.last("web").outcome == R.INTERRUPTED and rec.last("web").finished is None
        later = T0 + dt.timedelta(hours=2)
        rec.finish(a, outcome=R.FAILED, error_kind="rate_limited", error_text="ACME rate limited: too many",
                   transient=True, retry_after=3600.0, next_attempt=later, now=T0 + dt.timedelta(seconds=5))
        last = rec.last("web")
        assert (last.outcome, last.error_kind, last.transient, last.retry_after) == (R.FAILED, "rate_limited", True, 3600.0)
        assert last.started == T0 and last.finished == T0 + dt.timedelta(seconds=5)
        assert last.old_fingerprint == "AA:BB" and last.failed and rec.not_before("web") == later
        assert last.as_json()["next_attempt"].startswith("2026-12-01T14:00:00")
        b = rec.begin("web", old_fingerprint="AA:BB", now=later)
        rec.finish(b, outcome=R.RENEWED, new_fingerprint="CC:DD")
        assert rec.not_before("web") is None and [x.outcome for x in rec.attempts("web")] == [R.FAILED, R.RENEWED]
        assert rec.last("other") is None
        with pytest.raises(ValueError):
            rec.finish(b, outcome="maybe")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with R.Record.open(path, create=False) as ro:  # --check: read-only
        assert ro.last("web").new_fingerprint == "CC:DD"
        with pytest.raises(sqlite3.OperationalError):
            ro.begin("web", old_fingerprint=None)


def test_check_never_creates_the_record(tmp_path):
    path = tmp_path / "none" / "renew.sqlite"
    assert R.state_path(path, create=False) == path and not path.parent.exists()
    path.parent.mkdir()
    with R.Record.open(path, create=False) as rec:
        assert rec.last("web") is None and rec.ari("web") is None
    assert not path.exists()


def test_the_ari_answer_is_kept(tmp_path):
    class Info:
        start, end = T0, T0 + dt.timedelta(days=2)
        explanation_url, retry_after = "https://ca.example/why", 21600.0

    with R.Record.open(tmp_path / "r.sqlite") as rec:
        rec.save_ari("web", "a.b", Info(), now=T0)
        got = rec.ari("web")
    assert (got.cert_id, got.start, got.end, got.explanation_url, got.retry_after) == \
        ("a.b", T0, T0 + dt.timedelta(days=2), "https://ca.example/why", 21600.0)


def test_a_foreign_file_is_refused_not_altered(tmp_path):
    other = tmp_path / "monitor.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('application', 'certdoctor-monitor')")
    db.commit()
    db.close()
    before = other.read_bytes()
    with pytest.raises(UsageError, match="not certdoctor renew's"):
        R.Record.open(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a database\n" * 50)
    with pytest.raises(UsageError, match="is not a certdoctor renew record"):
        R.Record.open(text)
    assert other.read_bytes() == before and text.read_text().startswith("hello")
    with pytest.raises(UsageError, match="is a directory"):
        R.state_path(tmp_path)
