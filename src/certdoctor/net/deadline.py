"""One deadline for a whole command: ``--timeout`` bounds the run, not each read.

A :class:`Deadline` is created once per command (the CLI, or the library stage when no command
made one) and every network step asks it: a socket operation gets ``min(per-op, remaining)``
(:meth:`Deadline.op`), every loop that talks to a server checks :meth:`Deadline.check` inside the
loop, and HTTP responses (status line, headers and body alike) are read through
:func:`bounded_response`, whose reads each get only the time that is left — a server that drips
its headers one byte a second is cut off at the deadline, not after a per-read timeout per byte.

The deadline of the running command is ambient (a context variable, :func:`current`), so the
stages that call one another (``fix`` = diagnose + proofs) share it without each signature
carrying it; a stage given its own ``timeout`` uses the earlier of the two (:func:`within`).

    >>> with within(3.0) as d:          # doctest: +SKIP
    ...     sock.settimeout(d.op(10.0))  # at most what is left of the 3 s
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import socket
import threading
import time
from typing import Callable, Iterator

from certdoctor.errors import FetchError

_CURRENT: contextvars.ContextVar["Deadline | None"] = contextvars.ContextVar("certdoctor_deadline", default=None)


class Deadline:
    """``seconds`` from now on the monotonic clock; ``budget`` is what the user gave."""

    __slots__ = ("start", "end", "budget")

    def __init__(self, seconds: float, *, start: float | None = None) -> None:
        self.start = time.monotonic() if start is None else start
        self.budget = float(seconds)
        self.end = self.start + self.budget

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def op(self, per_op: float | None = None, *, floor: float = 0.0) -> float:
        """The timeout for one socket operation: ``per_op`` capped by what is left (at least ``floor``)."""
        left = self.remaining()
        return max(floor, left if per_op is None else min(per_op, left))

    def sub(self, seconds: float) -> "Deadline":
        """A deadline ``seconds`` from now, never later than this one (a step's own budget): this
        one itself when it ends first (its messages then name the command's budget)."""
        now = time.monotonic()
        if self.end <= now + seconds:
            return self
        return Deadline(max(0.0, seconds), start=now)

    def message(self, what: str) -> str:
        return (f"{what} took longer than its {self.budget:g} s budget (--timeout): stopped after "
                f"{self.elapsed():.1f} s")

    def check(self, what: str) -> None:
        """Raise :class:`DeadlineExceeded` when no time is left."""
        if self.expired:
            raise DeadlineExceeded(self.message(what), HINT)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Deadline(budget={self.budget:g}, remaining={self.remaining():.3f})"


HINT = "The server is too slow or stalls on purpose; a larger --timeout gives it more time."


class DeadlineExceeded(FetchError):
    """The command's time budget is spent."""


def current() -> Deadline | None:
    """The deadline of the running command (``None`` outside one)."""
    return _CURRENT.get()


@contextlib.contextmanager
def within(seconds: float | None) -> Iterator[Deadline]:
    """Run the block under a deadline ``seconds`` from now, or the running one if that ends first
    (``None``: the running one, or none at all — then an unbounded-looking 1e9 s)."""
    outer = _CURRENT.get()
    if seconds is None:
        d = outer if outer is not None else Deadline(1e9)
    else:
        d = Deadline(seconds)
        if outer is not None and outer.end <= d.end:
            d = outer
    token = _CURRENT.set(d)
    try:
        yield d
    finally:
        _CURRENT.reset(token)


def effective(deadline: "Deadline | None", seconds: float) -> Deadline:
    """``deadline`` if given, else the running one capped at ``seconds`` from now, else a new one."""
    if deadline is not None:
        return deadline
    outer = _CURRENT.get()
    return outer.sub(seconds) if outer is not None else Deadline(seconds)


# --------------------------------------------------------------------------- bounded HTTP reads

class _DeadlineIO(io.RawIOBase):
    """A socket's reads, each given only the time left before the deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline, per_read: float | None) -> None:
        self._sock = sock
        self._deadline = deadline
        self._per_read = per_read

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        left = self._deadline.op(self._per_read)
        if left <= 0:
            raise socket.timeout("the deadline passed")
        self._sock.settimeout(left)
        return self._sock.recv_into(buf)


class _Reader:
    """What ``http.client.HTTPResponse`` wants of a socket: ``makefile``."""

    def __init__(self, sock: socket.socket, deadline: Deadline, per_read: float | None) -> None:
        self._io = _DeadlineIO(sock, deadline, per_read)

    def makefile(self, mode: str = "rb", *args, **kwargs):
        return io.BufferedReader(self._io)


def bounded_response(sock: socket.socket, deadline: Deadline, *, method: str = "GET",
                     per_read: float | None = None):
    """An ``http.client.HTTPResponse`` on ``sock`` whose every read (status line, headers, body)
    ends by ``deadline``; ``begin()`` has been called."""
    import http.client

    resp = http.client.HTTPResponse(_Reader(sock, deadline, per_read), method=method)  # type: ignore[arg-type]
    resp.begin()
    return resp


# --------------------------------------------------------------------------- a watchdog for code we do not drive

class SocketWatch:
    """Sockets opened by a library we call (requests, httpx, urllib) through our SSL context,
    shut down when the deadline passes, so a server dripping its answer cannot keep the call."""

    def __init__(self) -> None:
        self._socks: list = []
        self._lock = threading.Lock()
        self.fired = False

    def add(self, sock) -> None:
        with self._lock:
            if self.fired:
                _shutdown(sock)
            self._socks.append(sock)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            socks = list(self._socks)
        for s in socks:
            _shutdown(s)

    def context(self, ctx):
        """``ctx`` (an ``ssl.SSLContext``), whose TLS sockets are registered here as they are made."""
        watch = self
        maker = socket_maker(ctx)
        base = getattr(maker, "sslsocket_class", None)
        if not isinstance(base, type):  # a context that makes its sockets otherwise
            return ctx

        class _Watched(base):  # type: ignore[misc, valid-type]
            @classmethod
            def _create(cls, sock, *args, **kwargs):
                watch.add(sock)
                return super()._create(sock, *args, **kwargs)

        try:
            maker.sslsocket_class = _Watched
        except (AttributeError, TypeError):
            pass  # the worker thread is still abandoned at the deadline
        return ctx


def socket_maker(ctx):
    """The ``ssl.SSLContext`` whose ``sslsocket_class``/``sslobject_class`` really make ``ctx``'s
    TLS sockets: ``ctx`` itself, or for a ``truststore.SSLContext`` the context it wraps (it
    hands every ``wrap_socket``/``wrap_bio`` to that one and ignores its own classes)."""
    inner = getattr(ctx, "_ctx", None)
    if type(ctx).__module__.startswith("truststore") and inner is not None and hasattr(inner, "sslsocket_class"):
        return inner
    return ctx


def _shutdown(sock) -> None:
    with contextlib.suppress(OSError, ValueError, TypeError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Job:
    """``fn()`` run in a daemon thread started now, in a copy of this context (so it sees the
    running command's :class:`Deadline`); :meth:`result` waits and returns its value or raises
    what it raised. The one way certdoctor runs blocking work beside other work (gather's
    overlapping steps, revocation's downloads started ahead, :func:`run_bounded`)."""

    __slots__ = ("_thread", "_box")

    def __init__(self, fn: Callable[[], object], name: str = "certdoctor-job") -> None:
        self._box: dict = {}
        ctx = contextvars.copy_context()
        box = self._box

        def work() -> None:
            try:
                box["value"] = ctx.run(fn)
            except BaseException as exc:  # handed back to the caller
                box["error"] = exc

        self._thread = threading.Thread(target=work, name=name, daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait at most ``timeout`` seconds (``None``: until it ends); whether it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def outcome(self) -> tuple[object, BaseException | None]:
        """``(value, error)`` of an ended job."""
        return self._box.get("value"), self._box.get("error")

    def result(self):
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box.get("value")


def run_bounded(fn: Callable[[], object], deadline: Deadline, watch: SocketWatch | None = None):
    """Call ``fn`` in a worker thread and wait for it until ``deadline``. Returns ``(done, value,
    error)``; when time runs out, ``watch``'s sockets are shut down (the call then fails fast)
    and ``done`` is False whatever it returns after."""
    job = Job(fn, "certdoctor-bounded")
    if not job.join(deadline.remaining()):
        if watch is not None:
            watch.fire()
        job.join(0.5)  # let it unwind after its sockets are gone (daemon: never waited for more)
        return False, None, None
    value, error = job.outcome()
    return True, value, error


# --------------------------------------------------------------------------- a step on another core

#: how long a forked step's parent waits past the deadline for the child's answer: the child's
#: own work ends at the deadline (it is bounded as in a thread); this is its unwinding
FORK_GRACE_SECONDS = 1.0
#: the largest answer a forked step may send back (a ClientOutcome is a few hundred bytes)
FORK_MAX_BYTES = 1 << 20


def can_fork() -> bool:
    """Whether :class:`ForkJob` may run here: Linux, and this process runs one thread (a fork
    copies only the calling thread: a lock another thread held would stay held in the child)."""
    import sys

    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


class ChildLost(FetchError):
    """A forked step that ended without an answer (killed, or past its deadline)."""


class ForkJob:
    """``fn()`` run in a child process forked now, its value (or the exception it raised) sent
    back pickled over a pipe; :meth:`result` waits for it until ``deadline`` (+ a grace of
    :data:`FORK_GRACE_SECONDS`), then kills the child and raises :class:`ChildLost`.

    Why a process and not a :class:`Job`: two threads of one interpreter take turns (the GIL, and
    the import lock while a library is imported), so on two cores a thread importing ``requests``
    while another imports ``cryptography`` saves no time; a forked child runs on the other core.
    Only where :func:`can_fork` says so (the caller runs a :class:`Job` otherwise). The child sees
    this process as it was at the fork (the deadline, ``--resolve``, the trust already worked out),
    writes nothing to standard output or error, runs no ``atexit`` handler and leaves with
    ``os._exit``. The answer comes from a fork of this very process: unpickling it trusts no one
    else. :meth:`cancel` (or a second :meth:`result`) never leaves a child behind."""

    __slots__ = ("_pid", "_fd", "_deadline", "_name", "_done")

    def __init__(self, fn: Callable[[], object], deadline: Deadline, name: str = "certdoctor-fork") -> None:
        import pickle

        self._deadline, self._name, self._done = deadline, name, None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (its work is measured through the parent)
            code = 0
            try:
                os.close(read)
                try:
                    payload = pickle.dumps((True, fn()))
                except BaseException as exc:  # noqa: BLE001 - handed back to the parent
                    try:
                        payload = pickle.dumps((False, exc))
                    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
                        payload = pickle.dumps((False, ChildLost(f"{name}: {type(exc).__name__}: {exc}")))
                view = memoryview(payload)
                while view:
                    view = view[os.write(write, view):]
            except BaseException:  # noqa: BLE001 - the parent sees no answer
                code = 1
            finally:
                os._exit(code)
        os.close(write)
        self._pid, self._fd = pid, read

    def result(self):
        """The child's value, or what it raised (:class:`ChildLost` when it gave no answer)."""
        if self._done is None:
            self._done = self._collect()
        ok, value = self._done
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        """Kill the child if it still runs, and reap it (nothing is left behind)."""
        if self._done is None:
            self._done = (False, ChildLost(f"{self._name}: cancelled"))
            self._reap(kill=True)

    def _collect(self) -> tuple[bool, object]:
        import pickle
        import select

        chunks: list[bytes] = []
        size = 0
        end = time.monotonic() + max(0.0, self._deadline.remaining()) + FORK_GRACE_SECONDS
        complete = False
        try:
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([self._fd], [], [], left)
                if not ready:
                    break
                data = os.read(self._fd, 65536)
                if not data:
                    complete = True
                    break
                size += len(data)
                if size > FORK_MAX_BYTES:
                    return False, ChildLost(f"{self._name}: its answer was larger than {FORK_MAX_BYTES} bytes "
                                            "(too large)")
                chunks.append(data)
        finally:
            self._reap(kill=not complete)
        if not complete:
            return False, ChildLost(self._deadline.message(self._name), HINT)
        try:
            return pickle.loads(b"".join(chunks))
        except Exception:  # noqa: BLE001 - killed half-way through its answer, or none at all
            return False, ChildLost(f"{self._name}: the child ended without an answer")

    def _reap(self, *, kill: bool) -> None:
        import signal

        with contextlib.suppress(OSError):
            os.close(self._fd)
        if kill:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self._pid, 0)


# --------------------------------------------------------------------------- a child process (the real pip)

def start_process(argv, **popen_kw):
    """``subprocess.Popen(argv)`` in a process group of its own (a new session), output captured,
    so :func:`finish_process` can kill it and everything it started at the deadline."""
    import subprocess

    popen_kw.setdefault("stdout", subprocess.PIPE)
    popen_kw.setdefault("stderr", subprocess.PIPE)
    popen_kw.setdefault("stdin", subprocess.DEVNULL)
    if os.name == "posix":
        popen_kw.setdefault("start_new_session", True)
    return subprocess.Popen(argv, **popen_kw)


def finish_process(proc, deadline: Deadline) -> tuple[bool, str, str, int | None]:
    """Wait for ``proc`` (from :func:`start_process`) until ``deadline``. Returns ``(done, stdout,
    stderr, returncode)``; when time runs out the whole process group is killed (SIGKILL: a child
    dripping a server's answer gets no grace) and ``done`` is False."""
    import subprocess

    try:
        out, err = proc.communicate(timeout=deadline.remaining())
        return True, _text(out), _text(err), proc.returncode
    except subprocess.TimeoutExpired:
        pass
    kill_group(proc)
    try:
        out, err = proc.communicate(timeout=1.0)
    except subprocess.TimeoutExpired:  # a grandchild that left the group holds the pipes: stop reading
        out = err = b""
        with contextlib.suppress(OSError, ValueError):
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
    return False, _text(out), _text(err), proc.returncode


def kill_group(proc) -> None:
    """SIGKILL ``proc``'s process group (it leads its own: :func:`start_process`), then ``proc``."""
    import signal

    if os.name == "posix":
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


def _text(data) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


__all__ = ["Deadline", "DeadlineExceeded", "current", "within", "effective", "bounded_response",
           "SocketWatch", "socket_maker", "Job", "ForkJob", "ChildLost", "can_fork", "run_bounded", "start_process",
           "finish_process", "kill_group", "HINT"]
