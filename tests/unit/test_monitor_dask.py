"""monitor/dask.py without a cluster: ``--dask``'s values, and how a shard's rows become one row
per target (the first kept, a second dropped, a missing one an error row, a failed shard an
error row for each of its targets)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.monitor import dask as on_dask
from certdoctor.monitor.config import Defaults, endpoint
from certdoctor.monitor.engine import error_row

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, where", [
    ("local:2", on_dask.Where(workers=2)),
    (" LOCAL:1 ", on_dask.Where(workers=1)),
    (f"local:{policy.MONITOR_MAX_WORKERS}", on_dask.Where(workers=policy.MONITOR_MAX_WORKERS)),
    ("tcp://127.0.0.1:8786", on_dask.Where(address="tcp://127.0.0.1:8786")),
    ("scheduler.example:8786", on_dask.Where(address="tcp://scheduler.example:8786")),
    ("tls://[::1]:8786", on_dask.Where(address="tls://[::1]:8786")),
])
def test_parse(value, where):
    assert on_dask.parse(value) == where


def test_local_alone_is_one_worker_per_core():
    from certdoctor.monitor.shard import auto_workers

    assert on_dask.parse("local") == on_dask.Where(workers=auto_workers())


@pytest.mark.parametrize("value", ["local:0", f"local:{policy.MONITOR_MAX_WORKERS + 1}", "local:x", "local:",
                                   "http://h:1", "tcp://h", "h:0", "h:99999", "", "tcp://h:1/path", "a b:1"])
def test_parse_refuses(value):
    with pytest.raises(UsageError) as info:
        on_dask.parse(value)
    assert info.value.hint and "--dask local:2" in info.value.hint


def test_check_refuses_workers_above_one():
    with pytest.raises(UsageError, match="--workers 3"):
        on_dask.check("local:2", 3)


def _specs(n: int, first: int = 0):
    return [endpoint(f"127.0.0.1:{1000 + i}", Defaults(timeout=1.0), origin=f"o{i}") for i in range(first, first + n)]


def _row(spec, status="ok"):
    return dataclasses.replace(error_row(spec, NOW, 0.0, "unknown", "x"), status=status, error=None)


def test_deliver_keeps_the_first_row_of_each_target_and_drops_a_second():
    specs = _specs(3) + _specs(1)  # the same target twice in the shard: two rows expected
    shard = on_dask.Shard(7, 14, specs)
    rows = [_row(specs[0]), _row(specs[0], "critical"), _row(specs[1]), _row(specs[2]), _row(specs[3]),
            _row(_specs(1, first=50)[0])]  # o0 three times (two targets), one not of this shard
    out, dropped = on_dask.deliver(shard, rows, NOW)
    assert [(r.origin, r.status) for r in out] == [("o0", "ok"), ("o0", "critical"), ("o1", "ok"), ("o2", "ok")]
    assert dropped == 2 and shard.left() == []


def test_deliver_gives_a_target_without_a_row_an_error_row():
    specs = _specs(3)
    shard = on_dask.Shard(1, 3, specs)
    out, dropped = on_dask.deliver(shard, [_row(specs[1])], NOW)
    assert dropped == 0 and [r.origin for r in out] == ["o1", "o0", "o2"]
    assert [r.status for r in out] == ["ok", "error", "error"]
    assert "shard 1 (endpoints 3-5 of the inventory) returned no row" in out[1].error
    assert out[1].checked_at == NOW and out[1].host == "127.0.0.1" and out[1].port == 1000


def test_a_failed_shard_gives_each_of_its_targets_an_error_row():
    specs = _specs(4)
    shard = on_dask.Shard(0, 0, specs)
    out = on_dask.failed(shard, RuntimeError("KilledWorker: boom"), NOW)
    assert sorted(r.origin for r in out) == ["o0", "o1", "o2", "o3"]
    assert {r.status for r in out} == {"error"}
    assert all("shard 0 (endpoints 0-3" in r.error and "RuntimeError: KilledWorker: boom" in r.error for r in out)
    assert on_dask.failed(shard, "again", NOW) == []  # the shard's targets had their rows: none twice
