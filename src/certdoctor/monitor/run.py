"""``run_monitor``: the one library call behind ``certdoctor monitor``.

    >>> from certdoctor.monitor.run import run_monitor
    >>> from certdoctor.monitor.config import endpoint
    >>> async def main():
    ...     async for row in run_monitor([endpoint("example.org")]):
    ...         print(row.target, row.status, row.days_left)
    >>> asyncio.run(main())                                  # doctest: +SKIP
    example.org ok 61

``targets`` is any iterable of :class:`~certdoctor.monitor.config.TargetSpec` (a list, or the
generator of :func:`~certdoctor.monitor.config.stream_targets`: it is pulled lazily, at most
``concurrency`` ahead of the rows already out). Rows come as targets complete and are not kept:
memory follows the concurrency, not the number of targets. :func:`monitor` is the same,
synchronous, collecting the rows (small fleets, scripts, tests).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Mapping

from certdoctor import policy
from certdoctor.monitor.hooks import RunReport

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.config import TargetSpec
    from certdoctor.monitor.state import State
    from certdoctor.monitor.result import Row
    from certdoctor.net.fetch import FetchCache


async def run_monitor(targets: "Iterable[TargetSpec]", *, concurrency: int = policy.MONITOR_CONCURRENCY,
                      now: _dt.datetime | None = None, environ: Mapping[str, str] | None = None,
                      cache: "FetchCache | None" = None, progress=None, state: "State | None" = None,
                      webhooks: "Iterable[str]" = (), report: "RunReport | None" = None,
                      webhook_drain: float | None = None,
                      workers: "int | str" = "auto", dask: str | None = None) -> "AsyncIterator[Row]":
    """An async iterator of one :class:`~certdoctor.monitor.result.Row` per target (files and
    globs expanded), in completion order. ``progress(started, finished)`` is called after each
    row (the CLI's progress bar).

    ``state`` (an open :class:`~certdoctor.monitor.state.State`): each row is recorded in it and
    carries its ``transitions``. ``webhooks`` (the run's URLs; a target adds its own): one event
    per transition, sent in the background (:mod:`certdoctor.monitor.alerts`). ``report``
    receives what is not a row: webhook and state errors, counts (read it after the loop).

    ``workers``: child processes checking the targets (:mod:`certdoctor.monitor.shard`): ``1``
    none (this process), ``N``, or ``"auto"``: one process for a fleet below
    :data:`~certdoctor.policy.MONITOR_SHARD_MIN_TARGETS`, else one per available core (at most
    :data:`~certdoctor.policy.MONITOR_MAX_WORKERS`). The rows are the same either way; the
    state, webhooks and progress stay here.

    ``dask``: check the endpoints on a Dask cluster instead (:mod:`certdoctor.monitor.dask`):
    ``"local[:N]"`` or a scheduler address; excludes ``workers`` above 1."""
    import contextlib

    from certdoctor.monitor import shard
    from certdoctor.monitor.engine import Engine
    from certdoctor.monitor.hooks import Hooks

    workers = shard.parse_workers(workers)  # a bad value fails before the state records a run
    if dask is not None:  # monitor/dask.py: the one hook (a bad value fails before the state records a run)
        from certdoctor.monitor import dask as on_dask

        on_dask.check(dask, workers)
    hooks = Hooks(state, tuple(webhooks), report if report is not None else RunReport(), webhook_drain)
    try:
        n, specs = shard.decide(1 if dask is not None else workers, hooks.track(targets), concurrency)
        if dask is not None:
            runners: list = []
            options = shard.ShardOptions.here(concurrency=concurrency, now=now, environ=environ, cache=cache)
            source, counts = on_dask.rows(specs, dask=dask, options=options, runners=runners), runners
        elif n <= 1:
            engine = Engine(concurrency=concurrency, now=now, environ=environ, cache=cache)
            source, counts = engine.rows(specs), engine
        else:
            runners: list = []
            options = shard.ShardOptions.here(concurrency=concurrency, now=now, environ=environ, cache=cache)
            source = shard.rows(specs, workers=n, options=options, shards=runners)
            counts = runners
        async with contextlib.aclosing(source) as rows:
            async for row in rows:
                row = hooks.after(row)
                if progress is not None:
                    c = counts if not isinstance(counts, list) else counts[0]
                    progress(c.started, c.finished)
                yield row
    finally:
        hooks.close()


def monitor(targets: "Iterable[TargetSpec]", **kw) -> "list[Row]":
    """:func:`run_monitor` run to the end on a fresh event loop; the rows in completion order."""
    import asyncio

    async def collect() -> list:
        return [row async for row in run_monitor(targets, **kw)]

    return asyncio.run(collect())


__all__ = ["run_monitor", "monitor", "RunReport"]
