"""Dask shards: ``run_monitor(..., dask="local:2" | "tcp://HOST:PORT")`` checks the fleet on a
Dask cluster (``certdoctor monitor --dask``; docs/SCALE.md).

    coordinator: target stream -> shards of MONITOR_DASK_SHARD_TARGETS endpoints (in inventory order)
                 -> client.submit(run_batch, shard, options)   at most K shards in flight
    worker:      run_batch: the same asyncio Engine as a local run, over its shard -> its rows
    coordinator: <- as_completed: a shard's rows -> hooks (state, webhooks, cert_file), progress, output

What stays in the coordinator (:func:`certdoctor.monitor.run.run_monitor`): the target stream,
the state file, the webhooks, progress and the output, exactly as in a local run: the rows pass
through the same hooks. A worker only judges, with :func:`certdoctor.monitor.shard.run_batch`
(the entry point process shards use too) and the run's :class:`~certdoctor.monitor.shard.ShardOptions`
(``environ``, ``now``, the ``--resolve`` overrides, ``--allow-private-fetch``, the revocation
cache directory). Not sent: the coordinator's own ``os.environ`` (``process_env``): a Dask
worker is a shared, long-lived process whose environment is its own; what the checks read of
an environment (trust variables, proxies) is ``environ``, which does travel.

Shards are deterministic: the endpoints of the expanded inventory are numbered in its order
(0, 1, 2 …, files and bad entries not counted), and endpoint ``i`` is in shard
``i // MONITOR_DASK_SHARD_TARGETS``: the same inventory gives the same shards, run after run.
Certificate files and bad entries are judged in the coordinator (a file is read where the
inventory names it, not on some worker's disk; no network, ~1 ms each).

Bounds: the inventory is streamed; a shard is cut from it only when there is room for one more
in flight (K = :data:`~certdoctor.policy.MONITOR_DASK_SHARDS_PER_WORKER` per worker, at most
:data:`~certdoctor.policy.MONITOR_DASK_MAX_SHARDS_IN_FLIGHT`). Per shard in flight the
coordinator keeps its specs (to match its rows, and to give them error rows if it fails) and
its Dask future: at most ``K * MONITOR_DASK_SHARD_TARGETS`` specs, whatever the fleet's size.

Losses: a shard whose task raised is re-run (``retries=``
:data:`~certdoctor.policy.MONITOR_DASK_RETRIES`); one whose worker died is re-run on another
by the scheduler (``--dask local``: up to :data:`~certdoctor.policy.MONITOR_DASK_ALLOWED_FAILURES`
workers lost). A shard's rows come back once, whole, when it completes; they are matched to its
specs by ``(kind, target, origin)``, the key the hooks use: a row whose target has had its row
already (or that is not the shard's) is dropped and counted (``dropped``), a target of the shard
left without one gets an error row, and a shard that fails for good gives every target of it an
error row. So every target has exactly one row.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as _dt
import itertools
import re
import time
import uuid
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Iterator

from certdoctor import policy
from certdoctor.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.config import TargetSpec
    from certdoctor.monitor.result import Row
    from certdoctor.monitor.shard import ShardOptions

LOCAL = "local"
INSTALL_HINT = "pip install 'certdoctor[dask]'"
_ADDRESS = re.compile(r"^(?:(?:tcp|tls)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


# --------------------------------------------------------------------------- the option

@dataclasses.dataclass(frozen=True)
class Where:
    """A parsed ``--dask``: ``local`` with ``workers`` processes, or a scheduler ``address``."""

    address: str | None = None
    workers: int | None = None

    @property
    def local(self) -> bool:
        return self.address is None


def parse(value: str) -> Where:
    """``local`` (one worker per available core, at most MONITOR_MAX_WORKERS), ``local:N``, or a
    scheduler address ``tcp://HOST:PORT`` / ``tls://HOST:PORT`` / ``HOST:PORT``;
    :class:`~certdoctor.errors.UsageError` otherwise."""
    from certdoctor.monitor.shard import auto_workers

    text = str(value).strip()
    hint = (f"e.g. --dask local:2 (a LocalCluster of 2 worker processes) or --dask tcp://SCHEDULER:8786; "
            f"N from 1 to {policy.MONITOR_MAX_WORKERS}.")
    if text.lower() == LOCAL:
        return Where(workers=auto_workers())
    if text.lower().startswith(LOCAL + ":"):
        n = text[len(LOCAL) + 1:]
        if n.isdigit() and 1 <= int(n) <= policy.MONITOR_MAX_WORKERS:
            return Where(workers=int(n))
        raise UsageError(f"--dask {text!r}: the number of local workers must be from 1 to "
                         f"{policy.MONITOR_MAX_WORKERS}", hint)
    if _ADDRESS.match(text) and 0 < int(text.rsplit(":", 1)[1]) < 65536:
        return Where(address=text if "://" in text else f"tcp://{text}")
    raise UsageError(f"--dask {text!r} is neither 'local[:N]' nor a scheduler address", hint)


def require():
    """The ``distributed`` module, or a UsageError with the install hint (an optional extra)."""
    try:
        import distributed
    except ImportError as exc:
        raise UsageError(f"--dask needs the 'distributed' package, which is not installed ({exc})",
                         INSTALL_HINT) from None
    return distributed


def check(value: str, workers: "int | str | None" = None) -> Where:
    """``--dask``'s value parsed, ``distributed`` importable and no ``--workers`` above 1 (the
    Dask workers are the processes): before a run records anything."""
    where = parse(value)
    if workers not in (None, "auto", 1):
        raise UsageError(f"--dask and --workers {workers} both say which processes check the targets",
                         "Drop --workers (the Dask workers check them; --dask local:N for N local processes).")
    require()
    return where


# --------------------------------------------------------------------------- the worker's side

def run_shard(specs: "list[TargetSpec]", options: "ShardOptions") -> "list[Row]":
    """A shard's task on a Dask worker: :func:`certdoctor.monitor.shard.run_batch`, the rows of
    ``specs`` by the same asyncio engine as a local run."""
    from certdoctor.monitor.shard import run_batch

    return run_batch(specs, options)


# --------------------------------------------------------------------------- the coordinator

def key_of_spec(spec: "TargetSpec") -> tuple:
    return (spec.kind, spec.input, spec.origin)


def key_of_row(row: "Row") -> tuple:
    return (row.kind, row.target, row.origin)


class Shard:
    """One shard in flight: its number, its specs (waiting for their rows, by key), its future."""

    __slots__ = ("index", "first", "waiting", "future", "size")

    def __init__(self, index: int, first: int, specs: "list[TargetSpec]") -> None:
        self.index, self.first, self.size = index, first, len(specs)
        self.waiting: dict[tuple, collections.deque] = {}
        for spec in specs:
            self.waiting.setdefault(key_of_spec(spec), collections.deque()).append(spec)
        self.future = None

    def take(self, row: "Row") -> bool:
        """True when ``row`` is the first for one of this shard's targets (and marks it done)."""
        specs = self.waiting.get(key_of_row(row))
        if not specs:
            return False
        specs.popleft()
        if not specs:
            del self.waiting[key_of_row(row)]
        return True

    def left(self) -> "list[TargetSpec]":
        """The targets still without a row (all of them, and forgotten)."""
        out = [spec for specs in self.waiting.values() for spec in specs]
        self.waiting.clear()
        return out

    def describe(self) -> str:
        return f"shard {self.index} (endpoints {self.first}-{self.first + self.size - 1} of the inventory)"


def deliver(shard: Shard, rows: "Iterable[Row]", now: _dt.datetime | None) -> "tuple[list[Row], int]":
    """``(rows, dropped)``: a completed shard's rows, one per target of it: the first row of each
    target kept, any other dropped (counted), an error row for a target without one."""
    from certdoctor.monitor import result as R
    from certdoctor.monitor.engine import error_row

    out, dropped = [], 0
    for row in rows:
        if shard.take(row):
            out.append(row)
        else:
            dropped += 1
    missing = shard.left()
    if missing:
        text = f"the Dask {shard.describe()} returned no row for this target: not checked"
        out += [error_row(spec, _clock(now), time.monotonic(), R.ERROR, text) for spec in missing]
    return out, dropped


def failed(shard: Shard, error: BaseException | str, now: _dt.datetime | None) -> "list[Row]":
    """Every target of a shard that failed for good: an error row saying why."""
    from certdoctor.monitor import result as R
    from certdoctor.monitor.engine import error_row

    why = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = (f"the Dask {shard.describe()} failed for good ({why}; re-run up to {policy.MONITOR_DASK_RETRIES} "
            "times after an error, and on another worker for each lost one): not checked; check it alone "
            "(certdoctor monitor TARGET)")
    return [error_row(spec, _clock(now), time.monotonic(), R.ERROR, text) for spec in shard.left()]


def _clock(now: _dt.datetime | None) -> _dt.datetime:
    return now or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


@contextlib.asynccontextmanager
async def connected(where: Where):
    """An asynchronous :class:`distributed.Client` on this event loop: to a LocalCluster started
    here (``threads_per_worker=1, processes=True``) and closed at the end, or to a scheduler."""
    distributed = require()
    import logging

    import dask

    cluster = None
    try:
        if where.local:
            from certdoctor.monitor.shard import _main_hidden

            with dask.config.set({"distributed.scheduler.allowed-failures": policy.MONITOR_DASK_ALLOWED_FAILURES}), \
                    _main_hidden():  # the spawned nannies must not re-run the caller's script
                cluster = await distributed.LocalCluster(
                    n_workers=where.workers, threads_per_worker=1, processes=True, asynchronous=True,
                    host="127.0.0.1", scheduler_port=0, dashboard_address=None, silence_logs=logging.ERROR,
                    # no dashboard; the scheduler's HTTP routes (/health …) on a free port, not 8787
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
            client = await distributed.Client(cluster, asynchronous=True)
        else:
            try:
                client = await distributed.Client(where.address, asynchronous=True,
                                                  timeout=policy.MONITOR_DASK_CONNECT_SECONDS)
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--dask: no Dask scheduler answered at {where.address} ({exc})",
                                 "Start one (dask scheduler; dask worker ADDRESS) or use --dask local:N.") from None
        try:
            try:
                await client.wait_for_workers(1, timeout=policy.MONITOR_DASK_CONNECT_SECONDS)
            except TimeoutError:
                raise UsageError(f"--dask: the scheduler at {where.address or 'local'} has no worker "
                                 f"after {policy.MONITOR_DASK_CONNECT_SECONDS:g} s",
                                 "Start workers (dask worker ADDRESS), then run again.") from None
            yield client
        finally:
            await client.close()
    finally:
        if cluster is not None:
            await cluster.close()


class DaskShards:
    """One run's shards on a Dask cluster; :meth:`rows` yields one row per spec (already
    expanded). ``started``/``finished``: targets pulled and rows yielded (the progress bar);
    ``shards``: shards submitted; ``dropped``: second rows dropped; ``failed``: shards that
    failed for good; ``local_rows``: rows made in the coordinator (files, bad entries)."""

    def __init__(self, where: Where, options: "ShardOptions", *, shard_targets: int | None = None) -> None:
        self.where = where
        self.options = dataclasses.replace(options, process_env={})  # see the module's docstring
        self.shard_targets = max(1, int(shard_targets or policy.MONITOR_DASK_SHARD_TARGETS))
        self.token = uuid.uuid4().hex[:12]
        self.started = self.finished = 0
        self.shards = self.dropped = self.failed = self.local_rows = 0
        self.in_flight_max = 0
        self.limit = 0  # K, once connected
        self.client = None  # while the run goes (tests: which worker runs which shard)

    def key(self, index: int) -> str:
        """The Dask key of shard ``index`` in this run."""
        return f"certdoctor-monitor-shard-{self.token}-{index}"

    async def _limit(self, client) -> int:
        """K: shards in flight, MONITOR_DASK_SHARDS_PER_WORKER per worker the scheduler has now."""
        if self.where.local:
            workers = self.where.workers or 1
        else:  # an asynchronous client's scheduler_info() caches no workers: ask the scheduler
            identity = await client.scheduler.identity(n_workers=-1)
            workers = len(identity.get("workers", {})) or 1
        return max(1, min(policy.MONITOR_DASK_SHARDS_PER_WORKER * workers, policy.MONITOR_DASK_MAX_SHARDS_IN_FLIGHT))

    async def rows(self, specs: "Iterable[TargetSpec]") -> "AsyncIterator[Row]":
        from certdoctor.monitor.config import ENDPOINT

        distributed = require()
        source: Iterator = iter(specs)
        local = self.options.engine()  # files and bad entries: judged here
        numbered = itertools.count()  # shard i holds endpoints i*S .. i*S+S-1 of the inventory
        async with connected(self.where) as client:
            self.client = client
            limit = self.limit = await self._limit(client)
            flying: dict[str, Shard] = {}
            done = distributed.as_completed(with_results=False)
            exhausted = False
            local_out: list = []

            batch: list = []  # the shard being cut (at most shard_targets specs)

            def cut() -> "tuple[Shard, list] | None":
                """The next whole shard from the stream, or None (stream ended, or files to judge
                first: they go to ``local_out``, at most shard_targets of them at a time)."""
                nonlocal exhausted, batch
                while len(batch) < self.shard_targets and len(local_out) < self.shard_targets:
                    try:
                        spec = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    self.started += 1
                    (batch if spec.kind == ENDPOINT and not spec.error else local_out).append(spec)
                if not batch or (len(batch) < self.shard_targets and not exhausted):
                    return None
                index = next(numbered)
                whole, batch = batch, []
                return Shard(index, index * self.shard_targets, whole), whole

            async def top_up() -> "AsyncIterator[Row]":
                while len(flying) < limit and (not exhausted or batch or local_out):
                    cutting = cut()
                    while local_out:
                        row = await local.row(local_out.pop(0))
                        self.local_rows += 1
                        yield row
                    if cutting is None:
                        continue
                    shard, whole = cutting
                    key = self.key(shard.index)
                    shard.future = client.submit(run_shard, whole, self.options, key=key,
                                                 pure=False, retries=policy.MONITOR_DASK_RETRIES)
                    flying[key] = shard
                    done.add(shard.future)
                    self.shards += 1
                    self.in_flight_max = max(self.in_flight_max, len(flying))

            try:
                async for row in top_up():
                    self.finished += 1
                    yield row
                while flying:
                    future = await _next(done)
                    shard = flying.pop(future.key)
                    if future.status == "finished":
                        try:
                            result = await future.result()
                        except Exception as exc:  # noqa: BLE001 - lost between done and here
                            out = failed(shard, exc, self.options.now)
                        else:
                            out, dropped = deliver(shard, result, self.options.now)
                            self.dropped += dropped
                    else:  # "error" (raised past its retries, or KilledWorker), "cancelled", "lost"
                        exc = await _exception(future) if future.status == "error" else None
                        self.failed += 1
                        out = failed(shard, exc if exc is not None else f"the task was {future.status}",
                                     self.options.now)
                    future.release()
                    for row in out:
                        self.finished += 1
                        yield row
                    async for row in top_up():
                        self.finished += 1
                        yield row
            finally:
                pending = [s.future for s in flying.values() if s.future is not None]
                if pending:
                    with contextlib.suppress(Exception):
                        await client.cancel(pending)
                self.client = None


async def _next(done):
    """The next completed future of ``as_completed`` (an async iterator in an asynchronous client)."""
    return await done.__anext__()


async def _exception(future):
    try:
        return await future.exception()
    except Exception as exc:  # noqa: BLE001 - lost meanwhile: that is the reason then
        return exc


async def rows(specs: "Iterable[TargetSpec]", *, dask: str, options: "ShardOptions",
               runners: "list[DaskShards] | None" = None,
               shard_targets: int | None = None) -> "AsyncIterator[Row]":
    """One row per spec (already expanded: the hooks expand them), checked on the Dask cluster
    ``dask`` (``local[:N]`` or a scheduler address), in completion order. ``runners``, when
    given, receives the :class:`DaskShards` (its counts; the client while the run goes)."""
    runner = DaskShards(parse(dask), options, shard_targets=shard_targets)
    if runners is not None:
        runners.append(runner)
    async for row in runner.rows(specs):
        yield row


__all__ = ["Where", "parse", "check", "require", "run_shard", "Shard", "deliver", "failed", "connected",
           "DaskShards", "rows", "LOCAL", "INSTALL_HINT"]
