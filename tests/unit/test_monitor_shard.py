"""monitor/shard.py without processes or sockets: how many workers, the bounded peek, the
concurrency split, what a child is sent (picklable, the resolve overrides and private-fetch
setting of the parent), run_batch (the pure entry point) on certificate files, the text of a
dead worker's row, and --workers on the command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import pytest

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.monitor import shard
from certdoctor.monitor.config import Defaults, endpoint, source
from support.pki import TestCA, pem

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)  # the test PKI's certificates start now


@pytest.mark.parametrize("value, expected", [(None, "auto"), ("auto", "auto"), (" AUTO ", "auto"), ("1", 1),
                                             (3, 3), (str(policy.MONITOR_MAX_WORKERS), policy.MONITOR_MAX_WORKERS)])
def test_parse_workers(value, expected):
    assert shard.parse_workers(value) == expected


@pytest.mark.parametrize("value", ["0", 0, "-2", "two", "", str(policy.MONITOR_MAX_WORKERS + 1), True, "1.5"])
def test_parse_workers_refuses_with_a_hint(value):
    with pytest.raises(UsageError) as info:
        shard.parse_workers(value)
    assert "--workers" in info.value.message and info.value.hint


def _counted(n: int, pulled: list):
    for i in range(n):
        pulled.append(i)
        yield endpoint(f"host{i}.example:443", Defaults())


def test_auto_below_the_threshold_is_one_process_and_keeps_every_spec(monkeypatch):
    monkeypatch.setattr(policy, "MONITOR_SHARD_MIN_TARGETS", 10)
    pulled: list = []
    n, specs = shard.decide("auto", _counted(9, pulled), 200)
    assert n == 1
    assert [s.input for s in specs] == [f"host{i}.example:443" for i in range(9)]


def test_auto_peeks_only_the_threshold_then_uses_the_cores(monkeypatch):
    monkeypatch.setattr(policy, "MONITOR_SHARD_MIN_TARGETS", 10)
    monkeypatch.setattr(shard, "available_cores", lambda: 3)
    pulled: list = []
    n, specs = shard.decide("auto", _counted(1000, pulled), 200)
    assert n == 3
    assert len(pulled) == 10  # bounded peek: the stream was not read further to decide
    assert [s.input for s in specs][:12] == [f"host{i}.example:443" for i in range(12)]
    assert len(pulled) == 1000


def test_auto_is_capped_by_max_workers_and_any_count_by_the_concurrency(monkeypatch):
    monkeypatch.setattr(policy, "MONITOR_SHARD_MIN_TARGETS", 1)
    monkeypatch.setattr(shard, "available_cores", lambda: 64)
    assert shard.decide("auto", _counted(5, []), 200)[0] == policy.MONITOR_MAX_WORKERS
    assert shard.decide(8, _counted(5, []), 3)[0] == 3
    assert shard.decide(1, _counted(5, []), 3)[0] == 1


@pytest.mark.parametrize("concurrency, n", [(200, 2), (7, 3), (2, 2), (1, 1), (5, 5), (201, 4)])
def test_split_shares_the_concurrency(concurrency, n):
    shares = shard.split(concurrency, n)
    assert len(shares) == n and sum(shares) == concurrency and min(shares) >= 1
    assert max(shares) - min(shares) <= 1


def test_options_carry_the_parents_overrides_private_fetch_and_environment_and_pickle():
    from certdoctor.net.resolve import active, allowing_private_fetch, override

    before = tuple((o.exact, o.suffixes) for o in active())  # (a session's lab may have its own)
    with override({"a.example": "127.0.0.2"}, suffixes={"lab.test": "127.0.0.3"}), allowing_private_fetch(True):
        opts = shard.ShardOptions.here(concurrency=10, now=NOW, environ={"HTTPS_PROXY": "http://p:3128"})
    assert opts.resolve == (*before, ({"a.example": "127.0.0.2"}, {"lab.test": "127.0.0.3"}))
    assert opts.allow_private_fetch is True and opts.now == NOW and opts.concurrency == 10
    assert opts.environ == {"HTTPS_PROXY": "http://p:3128"}
    back = pickle.loads(pickle.dumps(opts))
    assert back == opts
    # without an environ the child reads the parent's environment, not its own
    import os

    plain = shard.ShardOptions.here()
    assert plain.environ == dict(os.environ) == plain.process_env
    assert plain.resolve == before and plain.allow_private_fetch is False


def test_applied_installs_the_overrides_and_removes_them():
    from certdoctor.net.resolve import lookup, private_fetch_allowed

    opts = shard.ShardOptions(resolve=(({"x.example": "127.0.0.9"}, {"lab.test": "127.0.0.8"}),),
                              allow_private_fetch=True)
    assert lookup("x.example") is None
    with opts.applied():
        assert lookup("x.example") == "127.0.0.9" and lookup("good.lab.test") == "127.0.0.8"
        assert private_fetch_allowed() is True
    assert lookup("x.example") is None and private_fetch_allowed() is False


def _files(tmp_path):
    root = TestCA("Shard Root")
    good = root.issue_cert("good.example")
    old = TestCA("Old", not_before=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
                 not_after=dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc))
    (tmp_path / "good.pem").write_bytes(pem(good.cert))
    (tmp_path / "old.pem").write_bytes(pem(old.cert))
    (tmp_path / "both.pem").write_bytes(pem(good.cert, old.cert))
    return [source(str(tmp_path / "*.pem"), Defaults())]


def _key(row):
    return dataclasses.replace(row, elapsed=0.0)


def test_run_batch_is_the_engines_rows(tmp_path):
    import asyncio

    from certdoctor.monitor.engine import Engine

    specs = _files(tmp_path)
    rows = shard.run_batch(specs, shard.ShardOptions(concurrency=4, now=NOW))

    async def direct():
        return [r async for r in Engine(concurrency=4, now=NOW).rows(specs)]

    alone = asyncio.run(direct())
    assert len(rows) == 3
    assert sorted(map(_key, rows), key=lambda r: r.target) == sorted(map(_key, alone), key=lambda r: r.target)
    assert {r.target.rsplit("/", 1)[1]: r.status for r in rows} == {"good.pem": "ok", "old.pem": "critical",
                                                                    "both.pem": "critical"}
    # picklable both ways: what a Dask worker would be sent and send back
    assert pickle.loads(pickle.dumps((shard.run_batch, specs))) == (shard.run_batch, specs)
    assert [_key(r) for r in pickle.loads(pickle.dumps(rows))] == [_key(r) for r in rows]


@pytest.mark.parametrize("exitcode, words", [(-9, "killed by SIGKILL"), (3, "exited with code 3"),
                                             (None, "stopped answering")])
def test_died_text_says_what_happened_and_what_to_do(exitcode, words):
    text = shard.died_text(4242, exitcode)
    assert "worker process 4242" in text and words in text
    assert "not re-run" in text and "--workers 1" in text


@pytest.mark.parametrize("value", ["0", "lots", str(policy.MONITOR_MAX_WORKERS + 1)])
def test_cli_bad_workers_is_exit_3_with_error_and_hint(tmp_path, capsys, value):
    from support.cli import run_cli_captured

    code, out, err = run_cli_captured(["monitor", str(tmp_path), "--no-state", "--workers", value], capsys)
    assert code == 3
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: --workers") and lines[1].startswith("hint: ")


def test_cli_serve_refuses_workers_above_one(capsys):
    from support.cli import run_cli_captured

    code, out, err = run_cli_captured(["monitor", "--serve", "127.0.0.1:0", "--no-state", "--workers", "2"], capsys)
    assert code == 3 and "--serve checks its fleet in one process" in err
