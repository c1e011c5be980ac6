"""``certdoctor monitor --serve HOST:PORT --interval S``: the monitor as a Prometheus exporter.

    >>> ex = Exporter(lambda: specs, Defaults(), interval=300)           # doctest: +SKIP
    >>> serve(ex, "127.0.0.1", 9219)        # until SIGTERM/SIGINT      # doctest: +SKIP

* ``GET /metrics``: the metrics (docs/MONITOR-METRICS.md) of the latest *complete* fleet run
  (a run in progress never shows half a fleet), plus the exporter's own
  ``certdoctor_monitor_last_run_timestamp_seconds``, ``_run_duration_seconds`` and ``_targets``.
  A background thread runs the fleet every ``interval`` seconds (start to start; a run longer
  than the interval is followed by the next at once). Before the first run has ended only the
  self-metrics (without values) are there. A run that fails (``fleet()`` raising: a ``--targets``
  file gone) is one line on stderr and the previous snapshot stays; its age shows in
  ``last_run_timestamp_seconds``.
* ``GET /probe?target=URL[&servername=NAME]``: one endpoint checked now, with the run's defaults
  (``--ca-file``, ``--client``, ``--timeout`` …), answered with its metrics, as
  blackbox_exporter's ``/probe``; the probe's timeout is the defaults' and, when Prometheus sends
  ``X-Prometheus-Scrape-Timeout-Seconds``, within that minus
  :data:`~certdoctor.policy.MONITOR_DEADLINE_MARGIN_SECONDS`. Only endpoints: a file path is not
  a ``/probe`` target (an HTTP client must not read this machine's files). A missing or bad
  ``target`` is 400 with one line of text; more than
  :data:`~certdoctor.policy.MONITOR_PROBE_CONCURRENCY` probes at once wait
  :data:`~certdoctor.policy.MONITOR_PROBE_QUEUE_SECONDS`, then get 503.
* ``GET /``: a short page naming both; anything else 404. Content negotiation (OpenMetrics when
  the scraper asks) is prometheus_client's.

Binding is only where asked (default :data:`~certdoctor.policy.MONITOR_SERVE_DEFAULT`, loopback);
port 0 takes a free port, and the address really bound is printed on stderr. SIGTERM and SIGINT
stop it cleanly: the listener closes, a running fleet run is cancelled, the process exits 0.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import sys
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Callable, Iterable

from certdoctor import policy
from certdoctor.errors import CertdoctorError, UsageError
from certdoctor.monitor import metrics as M

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.config import Defaults, TargetSpec


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` (port 0: any free port) as ``(host, port)``; a UsageError else."""
    from certdoctor.net.target import parse_listen as parse

    return parse(text, "--serve", f"Give HOST:PORT, e.g. --serve {policy.MONITOR_SERVE_DEFAULT} (or [::1]:9219).",
                 "Name the address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for every interface "
                 "(think twice).")


class Exporter:
    """The state of one exporter: the fleet (``fleet()`` gives a fresh iterable of targets for
    each run), the defaults of ``/probe`` and the latest snapshot."""

    def __init__(self, fleet: "Callable[[], Iterable[TargetSpec]]", defaults: "Defaults", *,
                 interval: float = policy.MONITOR_SERVE_INTERVAL_SECONDS,
                 concurrency: int = policy.MONITOR_CONCURRENCY, allow_private_fetch: bool = False,
                 log: Callable[[str], None] | None = None, state=None) -> None:
        self.fleet = fleet
        #: the open :class:`~certdoctor.monitor.state.State` of the fleet runs (``None``: none kept):
        #: transitions, webhooks and ``certdoctor_cert_change_timestamp_seconds`` come from it.
        #: ``/probe`` never records in it (an on-demand probe is not a fleet run).
        self.state = state
        self.defaults = defaults
        self.interval = max(policy.MONITOR_SERVE_INTERVAL_MIN_SECONDS, float(interval))
        self.concurrency = concurrency
        self.allow_private_fetch = allow_private_fetch
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        # (families, last_run, duration, targets, rendered bodies): published whole, one assignment
        self._snapshot: tuple = (M.families(()), None, None, None, {})
        self.runs = 0
        self._probes = threading.BoundedSemaphore(policy.MONITOR_PROBE_CONCURRENCY)
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    # ----------------------------------------------------------------------- /metrics
    @property
    def last_run(self) -> float | None:
        """When the latest complete fleet run ended (Unix seconds; ``None`` before the first)."""
        return self._snapshot[1]

    def metrics(self) -> list:
        """The latest complete snapshot and the self-metrics (read under no lock: the snapshot is
        one reference, swapped whole by the refresher)."""
        fams, last, took, n, _ = self._snapshot
        return list(fams) + M.self_families(last_run=last, duration=took, targets=n)

    def metrics_body(self, accept: str | None) -> tuple[bytes, str]:
        """``/metrics``' body and content type, rendered once per snapshot and format (a 10,000
        target fleet is ~15 MB of text: rendering it on every scrape would cost seconds)."""
        from prometheus_client.exposition import choose_encoder

        snapshot = self._snapshot
        fams, last, took, n, cache = snapshot
        _, content_type = choose_encoder(accept or "")
        if content_type not in cache:
            cache[content_type] = M.exposition(
                list(fams) + M.self_families(last_run=last, duration=took, targets=n), accept)
        return cache[content_type]

    async def run_once(self) -> None:
        """One fleet run; publishes its snapshot only when it completes."""
        from certdoctor.monitor.hooks import RunReport
        from certdoctor.monitor.run import run_monitor
        from certdoctor.net.resolve import allowing_private_fetch

        m0 = time.monotonic()
        fams = M.Families()
        n = 0
        report = RunReport()
        with allowing_private_fetch(self.allow_private_fetch):
            async for row in run_monitor(self.fleet(), concurrency=self.concurrency, state=self.state,
                                         report=report, workers=1):  # one process: docs/MONITOR.md "Workers"
                fams.add(row)
                n += 1
        for e in report.webhook_errors:  # URLs already redacted
            self.log(f"warning: webhook {e.webhook}: {e.kind} of {e.target} not delivered ({e.tries} tries): {e.error}")
        for e in report.state_errors:
            self.log(f"warning: state {report.state_path}: {e}")
        built = fams.build()
        self._snapshot = (built, time.time(), round(time.monotonic() - m0, 6), n, {})
        self.runs += 1

    async def refresh_forever(self) -> None:
        """Run the fleet every ``interval`` seconds (start to start) until cancelled."""
        while not self._stopping.is_set():
            start = time.monotonic()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except (CertdoctorError, OSError) as exc:
                self.log(f"certdoctor monitor: fleet run failed, keeping the previous results: "
                         f"{getattr(exc, 'message', None) or exc}")
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the exporter; say it
                self.log(f"certdoctor monitor: fleet run failed (a bug), keeping the previous results: "
                         f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - start)))

    def refresher(self) -> None:
        """The background thread's body: :meth:`refresh_forever` on its own event loop."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self.refresh_forever())
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())  # getaddrinfo's threads
            loop.close()

    def stop(self) -> None:
        """Cancel the refresher (thread-safe; a run in progress is cancelled, its targets closed)."""
        self._stopping.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass

    # ----------------------------------------------------------------------- /probe
    def probe(self, target: str, servername: str | None = None, scrape_timeout: float | None = None) -> list:
        """The metric families of one endpoint checked now (raises UsageError for a bad target)."""
        from dataclasses import replace

        from certdoctor.monitor.config import endpoint
        from certdoctor.monitor.run import monitor
        from certdoctor.net.resolve import allowing_private_fetch

        spec = endpoint(target, self.defaults, "probe", servername=servername or None)
        if scrape_timeout is not None:
            bound = scrape_timeout - policy.MONITOR_DEADLINE_MARGIN_SECONDS
            spec = replace(spec, timeout=max(policy.TIMEOUT_MIN_SECONDS, min(spec.timeout, bound)))
        with allowing_private_fetch(self.allow_private_fetch):
            rows = monitor([spec], concurrency=1)
        return M.families(rows)


INDEX = b"""<html><head><title>certdoctor monitor</title></head><body>
<h1>certdoctor monitor</h1>
<p><a href="/metrics">/metrics</a>: the fleet's latest results.</p>
<p>/probe?target=host:port: one endpoint checked now.</p>
</body></html>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    """``/metrics``, ``/probe``, ``/``; 404 for the rest. The exporter is the server's ``exporter``."""

    server_version = "certdoctor-monitor"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        exporter: Exporter = self.server.exporter  # type: ignore[attr-defined]
        if url.path == "/metrics":
            body, ctype = exporter.metrics_body(self.headers.get("Accept"))
            self._answer(200, body, ctype)
        elif url.path == "/probe":
            self._probe(exporter, urllib.parse.parse_qs(url.query))
        elif url.path == "/":
            self._answer(200, INDEX, "text/html; charset=utf-8")
        else:
            self._answer(404, b"not found: try /metrics or /probe?target=host:port\n")

    def _probe(self, exporter: Exporter, params: dict[str, list[str]]) -> None:
        targets = params.get("target") or []
        if len(targets) != 1 or not targets[0].strip():
            self._answer(400, b"/probe needs exactly one target parameter: /probe?target=host:port\n")
            return
        servername = (params.get("servername") or [None])[0]
        scrape_timeout = None
        header = self.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        if header:
            try:
                scrape_timeout = float(header)
            except ValueError:
                scrape_timeout = None
        if not exporter._probes.acquire(timeout=policy.MONITOR_PROBE_QUEUE_SECONDS):
            self._answer(503, b"too many probes at once; try again\n")
            return
        try:
            fams = exporter.probe(targets[0], servername, scrape_timeout)
        except CertdoctorError as exc:
            from certdoctor._text import safe

            self._answer(400, (safe(f"bad target: {exc.message}") + "\n").encode())
            return
        finally:
            exporter._probes.release()
        body, ctype = M.exposition(fams, self.headers.get("Accept"))
        self._answer(200, body, ctype)

    def _answer(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet: Prometheus scrapes every few seconds
        return


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], exporter: Exporter) -> None:
        self.exporter = exporter
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(address, Handler)


def bind(exporter: Exporter, host: str, port: int) -> Server:
    """The listening server (not serving yet); a UsageError when the address cannot be bound."""
    try:
        return Server((host, port), exporter)
    except socket.gaierror as exc:
        raise UsageError(f"--serve {host}:{port}: {host!r} is not an address of this machine ({exc.strerror})",
                         "Give an IP address or a name that resolves, e.g. 127.0.0.1.") from None
    except OSError as exc:
        raise UsageError(f"--serve {host}:{port}: cannot listen there: {exc.strerror or exc}",
                         "Pick another port (or stop what listens there), or an address of this machine.") from None


def serve(exporter: Exporter, server: Server, *, install_signals: bool = True) -> int:
    """Serve until SIGTERM/SIGINT (or :meth:`Exporter.stop` from elsewhere); 0 on a clean stop."""
    import signal

    stop = threading.Event()
    previous = {}
    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    web = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="monitor-http",
                           daemon=True)
    refresher = threading.Thread(target=exporter.refresher, name="monitor-refresh", daemon=True)
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    try:
        web.start()
        refresher.start()
        exporter.log(f"certdoctor monitor: serving http://{shown}:{port}/metrics and /probe?target=… "
                     f"(fleet every {exporter.interval:g} s)")
        while not stop.wait(0.2) and not exporter._stopping.is_set():
            pass
    finally:
        exporter.stop()
        server.shutdown()
        server.server_close()
        refresher.join(policy.MONITOR_SHUTDOWN_SECONDS)
        web.join(policy.MONITOR_SHUTDOWN_SECONDS)
        for sig, old in previous.items():
            signal.signal(sig, old)
    return 0


__all__ = ["Exporter", "Handler", "Server", "bind", "serve", "parse_listen"]
