"""Process shards: ``run_monitor(..., workers=N)`` checks the fleet in N child processes.

One Python process is CPU-bound on a fleet (the handshake, the evidence and the judgement are
all CPU: wall time == CPU time), so the monitor uses every core by running the same asyncio
:class:`~certdoctor.monitor.engine.Engine` in N children, each over the targets it is fed:

    parent: target stream -> [(id, spec) batches] -> child 1..N (Engine.row per spec, concurrency/N each)
    parent: <- [(id, row) batches] <- children;  hooks (state, webhooks, cert_file), progress, rendering

What stays single is in the parent (:func:`certdoctor.monitor.run.run_monitor`): the target
stream, the state file and its transitions, the webhooks, progress and the output. A child
only judges: its rows are the one-process run's rows (the same Engine code, the same options).

Bounds. Both directions are bounded: a child never holds more than its share of the
concurrency plus :data:`~certdoctor.policy.MONITOR_SHARD_BATCH` specs (the parent sends more only
as rows come back), and a child sends its rows as they complete, so the parent holds at most
``concurrency + N * batch`` specs in flight whatever the fleet's size.

Start method: ``forkserver`` where the platform has it (Linux; ``spawn`` elsewhere), never
``fork``. The parent may have threads (the webhook senders, the exporter's HTTP server, rich's
progress refresh) and a running event loop: a forked child inherits them mid-state (a lock
another thread held stays held forever in the child, the loop's selector and self-pipe are
shared). ``spawn`` is safe but re-imports certdoctor and cryptography in every child;
``forkserver`` forks each child from a clean single-threaded server that preloaded the engine's
modules (:data:`PRELOAD`) once. What a child must know is sent explicitly
(:class:`ShardOptions`), never inherited: the environment the trust and proxies are read from
(``environ``, else the parent's ``os.environ`` at the start of the run), ``now``, the
``--resolve`` overrides active in the parent (:func:`certdoctor.net.resolve.active`),
``--allow-private-fetch``, the revocation cache; the proxy settings travel inside each
:class:`~certdoctor.monitor.config.TargetSpec`.

A child that dies (killed, out of memory, a crash in a C extension): each target it had in
flight gets a row with status ``error`` saying so (:func:`died_text`) and is **not** re-run: a
target that kills its worker would kill the next one too, and each target has exactly one row.
Targets not yet sent go to the other children; the dead one is replaced (up to
:data:`~certdoctor.policy.MONITOR_SHARD_RESTARTS` times a run), and when no worker is left the
remaining targets get that error row too. The run goes on either way.

Stopping: when the rows' consumer stops (a closed generator, Ctrl-C: KeyboardInterrupt or a
cancelled task), the parent terminates the children and reaps them (SIGTERM, then SIGKILL after
:data:`~certdoctor.policy.MONITOR_SHARD_STOP_SECONDS`); children ignore SIGINT (the terminal
sends it to the whole process group: the parent decides), and a child whose parent vanished
(its pipe closed) exits by itself: no orphans.

:func:`run_batch` is the pure, picklable entry point (no process of its own): "these specs with
these options -> their rows", for running the same shards elsewhere (issue 14: Dask workers).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as _dt
import itertools
import os
import time
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Iterator, Mapping

from certdoctor import policy

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.config import TargetSpec
    from certdoctor.monitor.result import Row
    from certdoctor.net.fetch import FetchCache

#: what the forkserver imports once, so that every child starts with the engine's modules loaded
PRELOAD = ("certdoctor.monitor.shard", "certdoctor.monitor.engine", "certdoctor.diagnose", "certdoctor.checks",
           "certdoctor.evidence", "certdoctor.net.aprobe", "certdoctor.trust.effective", "certdoctor.x509.path")

AUTO = "auto"


# --------------------------------------------------------------------------- how many

def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def auto_workers() -> int:
    """``workers="auto"`` for a large fleet: one child per available core, at most
    :data:`~certdoctor.policy.MONITOR_MAX_WORKERS`."""
    return max(1, min(available_cores(), policy.MONITOR_MAX_WORKERS))


def parse_workers(value: "int | str | None") -> "int | str":
    """``auto``/``None`` -> ``"auto"``; else a whole number from 1 to MONITOR_MAX_WORKERS
    (:class:`~certdoctor.errors.UsageError` otherwise)."""
    from certdoctor.errors import UsageError

    if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
        return AUTO
    try:
        n = int(str(value).strip(), 10) if not isinstance(value, int) or isinstance(value, bool) else value
    except ValueError:
        n = None
    if isinstance(value, bool) or n is None or not 1 <= n <= policy.MONITOR_MAX_WORKERS:
        raise UsageError(f"--workers must be 'auto' or a number from 1 to {policy.MONITOR_MAX_WORKERS}, not "
                         f"{value!r}", "e.g. --workers auto (one process per core for large fleets) or --workers 1.")
    return n


def decide(workers: "int | str | None", specs: "Iterable[TargetSpec]",
           concurrency: int) -> "tuple[int, Iterator[TargetSpec]]":
    """``(processes, specs)``: how many child processes to check ``specs`` with (1: none, the
    run stays in this process) and the same specs as an iterator. ``auto`` peeks at most
    :data:`~certdoctor.policy.MONITOR_SHARD_MIN_TARGETS` specs (bounded: never the whole
    stream): a fleet that ends before is checked in one process (starting children costs more
    than it saves), a larger one by :func:`auto_workers`. Never more children than
    ``concurrency`` (each needs one slot)."""
    workers = parse_workers(workers)
    source = iter(specs)
    if workers == AUTO:
        head = list(itertools.islice(source, policy.MONITOR_SHARD_MIN_TARGETS))
        n = 1 if len(head) < policy.MONITOR_SHARD_MIN_TARGETS else auto_workers()
        source = itertools.chain(head, source)
    else:
        n = int(workers)
    return max(1, min(n, int(concurrency))), source


def split(concurrency: int, n: int) -> list[int]:
    """``concurrency`` shared by ``n`` children as evenly as it goes (each at least 1)."""
    concurrency = max(int(concurrency), n)
    return [concurrency // n + (1 if i < concurrency % n else 0) for i in range(n)]


# --------------------------------------------------------------------------- what a child needs

@dataclasses.dataclass(frozen=True)
class ShardOptions:
    """Everything a shard needs from the run that is not in its specs; picklable.

    ``environ``: the environment the trust and proxies are read from (run_monitor's, else this
    process's at the start of the run); ``process_env``: this process's ``os.environ`` (a child
    takes it as its own, so that what reads ``os.environ`` directly reads the parent's);
    ``resolve``: the ``--resolve`` overrides active here, ``(names, suffixes)`` each, oldest
    first; ``allow_private_fetch``: ``--allow-private-fetch``; ``cache_dir``: the revocation
    download cache (``None``: the user's cache dir)."""

    concurrency: int = policy.MONITOR_CONCURRENCY
    now: _dt.datetime | None = None
    environ: Mapping[str, str] | None = None
    process_env: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    resolve: tuple[tuple[Mapping[str, str], Mapping[str, str]], ...] = ()
    allow_private_fetch: bool = False
    cache_dir: str | None = None

    @classmethod
    def here(cls, *, concurrency: int = policy.MONITOR_CONCURRENCY, now: _dt.datetime | None = None,
             environ: Mapping[str, str] | None = None, cache: "FetchCache | None" = None) -> "ShardOptions":
        """The options of a run started in this process now (its overrides, its private-fetch
        setting, its environment)."""
        from certdoctor.net.resolve import active, private_fetch_allowed

        env = dict(os.environ)
        return cls(concurrency=int(concurrency), now=now, environ=dict(environ) if environ is not None else env,
                   process_env=env, resolve=tuple((dict(o.exact), dict(o.suffixes)) for o in active()),
                   allow_private_fetch=private_fetch_allowed(),
                   cache_dir=str(cache.directory) if cache is not None else None)

    def with_concurrency(self, concurrency: int) -> "ShardOptions":
        return dataclasses.replace(self, concurrency=int(concurrency))

    def engine(self):
        """A fresh :class:`~certdoctor.monitor.engine.Engine` with these options."""
        from certdoctor.monitor.engine import Engine
        from certdoctor.net.fetch import FetchCache

        return Engine(concurrency=self.concurrency, now=self.now, environ=self.environ,
                      cache=FetchCache(self.cache_dir) if self.cache_dir is not None else None)

    def applied(self):
        """A context manager: the overrides installed and private fetch set for the block (and
        removed after it)."""
        from certdoctor.net.resolve import Override, allowing_private_fetch

        stack = contextlib.ExitStack()
        for names, suffixes in self.resolve:
            stack.enter_context(Override(names, suffixes))
        stack.enter_context(allowing_private_fetch(self.allow_private_fetch))
        return stack


def run_batch(specs: "Iterable[TargetSpec]", options: ShardOptions) -> "list[Row]":
    """The rows of ``specs`` (files and globs expanded) checked with ``options``, in completion
    order: a shard's whole job as one pure, picklable call (no child process, no state, no
    hooks; the caller keeps those). Runs its own event loop: call it where none is running
    (a worker thread or process)."""
    async def collect() -> list:
        engine = options.engine()
        return [row async for row in engine.rows(specs)]

    with options.applied():
        return asyncio.run(collect())


def died_text(pid: int | None, exitcode: int | None) -> str:
    """The ``error`` of a target whose worker process died while checking it."""
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
    elif exitcode is not None:
        how = f"exited with code {exitcode}"
    else:
        how = "stopped answering"
    return (f"the monitor's worker process {pid} {how} while this target was being checked; the target was "
            "not re-run (one that kills its worker would kill the next), the run's other targets were not "
            "affected: check it alone (certdoctor monitor TARGET --workers 1)")


# --------------------------------------------------------------------------- the child

def _child_main(conn, options: ShardOptions) -> None:
    """A worker process: ``(id, spec)`` batches in, ``(id, row)`` batches out, until ``None``
    (or the parent's end of the pipe closes)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    os.environ.clear()
    os.environ.update(options.process_env)
    try:
        with options.applied():
            asyncio.run(_child_loop(conn, options))
    except (BrokenPipeError, EOFError, ConnectionResetError):  # the parent is gone: nothing to tell
        pass
    finally:
        conn.close()


_GONE = object()  # the reader's word for "the parent's end of the pipe closed"


async def _child_loop(conn, options: ShardOptions) -> None:
    import threading

    loop = asyncio.get_running_loop()
    inbox: collections.deque = collections.deque()
    outbox: list = []
    wake = asyncio.Event()
    ended = [False]

    gone = [False]

    def arrived(msg) -> None:
        if msg is _GONE:
            gone[0] = True
        elif msg is None:
            ended[0] = True
        else:
            inbox.extend(msg)
        wake.set()

    def reader() -> None:  # drains the pipe whatever the loop does: the parent's sends never block for long
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):  # the parent is gone (killed): stop now, nobody reads the rows
                msg = _GONE
            try:
                loop.call_soon_threadsafe(arrived, msg)
            except RuntimeError:  # the loop closed
                return
            if msg is None or msg is _GONE:
                return

    threading.Thread(target=reader, name="certdoctor-shard-reader", daemon=True).start()
    engine = options.engine()
    limit = engine.concurrency
    pending: set[asyncio.Task] = set()

    def finished(task: asyncio.Task, ident: int) -> None:
        pending.discard(task)
        if not task.cancelled():
            outbox.append((ident, task.result()))
        wake.set()

    try:
        while True:
            while inbox and len(pending) < limit:
                ident, spec = inbox.popleft()
                task = asyncio.ensure_future(engine.row(spec))
                pending.add(task)
                task.add_done_callback(lambda t, i=ident: finished(t, i))
            if outbox:
                batch, outbox[:] = list(outbox), []
                conn.send(batch)  # blocks while the parent is behind: back-pressure
            if gone[0] or (ended[0] and not pending and not inbox):
                return
            await wake.wait()
            wake.clear()
    finally:
        for task in list(pending):
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


# --------------------------------------------------------------------------- the parent

def _context():
    import multiprocessing

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(list(PRELOAD))
        _start_forkserver()
    return ctx


def _start_forkserver() -> None:
    """Start the forkserver (once per process) with this process's ``sys.path``.

    Python 3.11's forkserver ignores the ``sys_path`` it is handed: it would preload the modules
    from its own default path, which can hold *another* certdoctor (an installed one, where this
    process runs from a checkout whose ``src`` it put on sys.path), and every child would run
    that code. Its environment is this process's at its start, so ``PYTHONPATH`` says it."""
    import sys
    from multiprocessing import forkserver

    path = os.pathsep.join(p or os.getcwd() for p in sys.path)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = path
    try:
        forkserver.ensure_running()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@contextlib.contextmanager
def _main_hidden():
    """While a child starts: the caller's ``__main__`` is not named to it. multiprocessing would
    re-run the caller's script (or ``-m`` module) in every child (an unguarded script that calls
    run_monitor would start children forever); a shard needs nothing from ``__main__`` (its target
    and arguments are certdoctor's)."""
    import sys

    main = sys.modules.get("__main__")
    if main is None:  # pragma: no cover - embedded interpreters
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class _Child:
    __slots__ = ("process", "conn", "inflight", "alive", "concurrency")

    def __init__(self, process, conn, concurrency: int) -> None:
        self.process, self.conn, self.concurrency = process, conn, concurrency
        self.inflight: dict[int, tuple] = {}  # id -> (spec, clock, monotonic start)
        self.alive = True


class Shards:
    """N worker processes fed from one spec iterator; :meth:`rows` yields one row per spec.
    Used through :func:`rows`."""

    def __init__(self, workers: int, options: ShardOptions) -> None:
        self.workers = max(1, int(workers))
        self.options = options
        self.shares = split(options.concurrency, self.workers)
        self.started = 0
        self.finished = 0
        self.restarts = 0
        self.children: list[_Child] = []
        self._ctx = None
        self._ids = itertools.count()
        self._received: collections.deque = collections.deque()
        self._wake: asyncio.Event | None = None

    # -- processes
    def _start(self, share: int) -> _Child:
        if self._ctx is None:
            self._ctx = _context()
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_child_main, args=(child_end, self.options.with_concurrency(share)),
                                    name="certdoctor-monitor-shard", daemon=True)
        with _main_hidden():
            process.start()
        child_end.close()  # the child's death closes the pipe: EOF here
        child = _Child(process, parent_end, share)
        asyncio.get_running_loop().add_reader(parent_end.fileno(), self._readable, child)
        return child

    def _readable(self, child: _Child) -> None:
        try:
            batch = child.conn.recv()
        except (EOFError, OSError):
            batch = None
        self._received.append((child, batch))
        if batch is None:
            self._unwatch(child)
        assert self._wake is not None
        self._wake.set()

    def _unwatch(self, child: _Child) -> None:
        if child.alive:
            child.alive = False
            try:
                asyncio.get_running_loop().remove_reader(child.conn.fileno())
            except (OSError, ValueError, RuntimeError):  # pragma: no cover - already closed
                pass

    def pids(self) -> list[int]:
        """The process ids of the live workers (tests, diagnostics)."""
        return [c.process.pid for c in self.children if c.alive]

    def _stop(self) -> None:
        """Stop every child and reap it: SIGTERM, then SIGKILL after MONITOR_SHARD_STOP_SECONDS."""
        for child in self.children:
            self._unwatch(child)
            if child.process.is_alive():
                child.process.terminate()
        deadline = time.monotonic() + policy.MONITOR_SHARD_STOP_SECONDS
        for child in self.children:
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.is_alive():  # pragma: no cover - a child stuck in C code
                child.process.kill()
                child.process.join()
            child.conn.close()

    def _finish(self) -> None:
        """The normal end: every child told to stop (its loop ends, it exits), then reaped."""
        for child in self.children:
            if child.alive:
                try:
                    child.conn.send(None)
                except OSError:  # pragma: no cover - died just now
                    pass
        deadline = time.monotonic() + policy.MONITOR_SHARD_STOP_SECONDS
        for child in self.children:
            child.process.join(max(0.0, deadline - time.monotonic()))

    # -- the run
    def _window(self, child: _Child) -> int:
        return child.concurrency + min(policy.MONITOR_SHARD_BATCH, child.concurrency)

    def _feed(self, source: Iterator, child: _Child) -> bool:
        """Send ``child`` specs until its window is full; False when ``source`` is exhausted."""
        room = self._window(child) - len(child.inflight)
        if room <= 0:
            return True
        batch = []
        for spec in itertools.islice(source, room):
            ident = next(self._ids)
            clock = self.options.now or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
            child.inflight[ident] = (spec, clock, time.monotonic())
            batch.append((ident, spec))
        if batch:
            self.started += len(batch)
            try:
                child.conn.send(batch)
            except OSError:  # died between two reads: its EOF comes, its in-flight get their rows
                pass
        return len(batch) == room

    def _orphan_rows(self, child: _Child) -> list:
        from certdoctor.monitor import result as R
        from certdoctor.monitor.engine import error_row

        child.process.join(1.0)
        text = died_text(child.process.pid, child.process.exitcode)
        rows = [error_row(spec, clock, t0, R.ERROR, text) for spec, clock, t0 in child.inflight.values()]
        child.inflight.clear()
        return rows

    async def rows(self, specs: "Iterable[TargetSpec]") -> "AsyncIterator[Row]":
        self._wake = asyncio.Event()
        source = iter(specs)
        exhausted = False
        try:
            self.children = [self._start(share) for share in self.shares]
            while True:
                live = [c for c in self.children if c.alive]
                if not exhausted:
                    for child in live:
                        if not self._feed(source, child):
                            exhausted = True
                            break
                if not live and not exhausted:  # no worker left and no restart: the rest get error rows
                    from certdoctor.monitor import result as R
                    from certdoctor.monitor.engine import error_row

                    text = ("no worker process left (each one that died was replaced "
                            f"{policy.MONITOR_SHARD_RESTARTS} times): not checked")
                    for spec in source:
                        self.started += 1
                        now = self.options.now or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
                        self.finished += 1
                        yield error_row(spec, now, time.monotonic(), R.ERROR, text)
                    exhausted = True
                if exhausted and not any(c.inflight for c in self.children) and not self._received:
                    return
                if not self._received:
                    await self._wake.wait()
                    self._wake.clear()
                while self._received:
                    child, batch = self._received.popleft()
                    if batch is None:  # the child died (or closed its pipe): its in-flight targets
                        for row in self._orphan_rows(child):
                            self.finished += 1
                            yield row
                        if self.restarts < policy.MONITOR_SHARD_RESTARTS and not exhausted:
                            self.restarts += 1
                            self.children.append(self._start(child.concurrency))
                        continue
                    for ident, row in batch:
                        child.inflight.pop(ident, None)
                        self.finished += 1
                        yield row
        except BaseException:  # a closed generator (GeneratorExit), Ctrl-C, a cancelled task
            self._stop()
            raise
        finally:
            if any(c.process.is_alive() for c in self.children):
                self._finish()
                self._stop()


async def rows(specs: "Iterable[TargetSpec]", *, workers: int, options: ShardOptions,
               shards: "list[Shards] | None" = None) -> "AsyncIterator[Row]":
    """One row per spec (already expanded: the parent's hooks expand them), checked by
    ``workers`` child processes; in completion order. ``shards``, when given, receives the
    :class:`Shards` (its ``started``/``finished`` counts, :meth:`Shards.pids`)."""
    runner = Shards(workers, options)
    if shards is not None:
        shards.append(runner)
    async for row in runner.rows(specs):
        yield row


__all__ = ["ShardOptions", "Shards", "run_batch", "rows", "decide", "parse_workers", "auto_workers",
           "available_cores", "split", "died_text", "AUTO", "PRELOAD"]
