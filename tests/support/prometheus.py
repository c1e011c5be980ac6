"""A real Prometheus server for the tests (Debian's ``prometheus``), and the ``promtool`` lookup.

    >>> with run_prometheus(tmp_path / "prom", [f"127.0.0.1:{port}"]) as prom:   # doctest: +SKIP
    ...     prom.wait_for('certdoctor_probe_success{target="x"}')             # scraped at least once
    ...     prom.query('certdoctor_cert_not_after_timestamp_seconds{position="0"}')
    [{'metric': {...}, 'value': [1764590000.123, '1800000000']}]

``run_prometheus`` writes a scrape config (job ``certdoctor``, ``scrape_interval`` 1s, the given
``host:port`` targets, optional ``metrics_path``/``params`` for a ``/probe`` endpoint and optional
rule files evaluated every second), starts ``prometheus`` on 127.0.0.1 with a free port and its
storage in ``workdir`` (``--web.enable-lifecycle`` stays off: nobody can stop or reload it over
HTTP), waits (bounded) until ``GET /-/ready`` answers 200, and stops it in ``finally``: SIGTERM,
then SIGKILL of its process group after a bounded wait. If it does not start, the error holds the
tail of its log (``workdir/prometheus.log``).

``Prometheus.query(expr)`` is the HTTP API's ``/api/v1/query``: the ``result`` list of an instant
query (a vector: ``[{"metric": {...}, "value": [ts, "text"]}]``). ``wait_for`` polls a query until
it returns something (bounded), ``alerts()`` is ``/api/v1/alerts``, ``targets()`` the active
scrape targets with their health and last error.

``require(tool)`` finds ``prometheus`` or ``promtool``; when missing it skips the test, except on
CI (``CI`` set and not ``false``/``0``), where a missing tool is a failure: scripts/ensure-tools.sh
installs both (Debian package ``prometheus``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

from support.servers import HOST, closed_port

START_TIMEOUT = 60.0  # seconds until /-/ready must answer 200 (TSDB start-up; a loaded CI machine)
STOP_TIMEOUT = 10.0  # seconds of graceful shutdown (SIGTERM) before SIGKILL
HTTP_TIMEOUT = 5.0  # seconds for one API request
WAIT_TIMEOUT = 20.0  # default bound of wait_for (scrapes every second)
PORT_ATTEMPTS = 3  # a free port can be taken between our probe bind and prometheus' bind


class PrometheusError(RuntimeError):
    """prometheus did not start, or its API answered an error."""


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def binary(tool: str) -> str | None:
    """``prometheus`` or ``promtool`` on PATH (or in /usr/bin), else ``None``."""
    found = shutil.which(tool)
    if found:
        return found
    path = f"/usr/bin/{tool}"
    return path if os.access(path, os.X_OK) else None


def require(tool: str) -> str:
    """The tool's path; skip the test when it is missing, fail instead on CI."""
    found = binary(tool)
    if found is None:
        reason = f"{tool} is not installed (Debian package prometheus; run scripts/ensure-tools.sh as root)"
        if on_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def _yaml_str(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(text))


def write_config(workdir: Path, targets: Iterable[str], *, scrape_interval: str = "1s",
                 metrics_path: str = "/metrics", params: dict[str, list[str]] | None = None,
                 rule_files: Iterable[Path] = (), job: str = "certdoctor") -> Path:
    """Write ``workdir/prometheus.yml``: one job scraping ``targets`` (``host:port``); return its path."""
    targets = list(targets)
    lines = [
        "global:",
        f"  scrape_interval: {scrape_interval}",
        f"  scrape_timeout: {scrape_interval}",
        f"  evaluation_interval: {scrape_interval}",
    ]
    rules = [str(Path(r).absolute()) for r in rule_files]
    if rules:
        lines.append("rule_files:")
        lines += [f"  - {_yaml_str(r)}" for r in rules]
    lines += [
        "scrape_configs:",
        f"  - job_name: {_yaml_str(job)}",
        f"    metrics_path: {_yaml_str(metrics_path)}",
    ]
    if params:
        lines.append("    params:")
        for key, values in params.items():
            lines.append(f"      {_yaml_str(key)}: [{', '.join(_yaml_str(v) for v in values)}]")
    lines += [
        "    static_configs:",
        f"      - targets: [{', '.join(_yaml_str(t) for t in targets)}]",
    ]
    path = workdir / "prometheus.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Prometheus:
    """A running server: ``url`` is ``http://127.0.0.1:PORT``."""

    port: int
    workdir: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log(self, limit: int = 4000) -> str:
        try:
            return (self.workdir / "prometheus.log").read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, bytes]:
        """``GET path`` on the server, no proxy: (status, body). Errors with a body are answers too."""
        url = self.url + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=HTTP_TIMEOUT) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def api(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The ``data`` of an ``/api/v1/...`` answer; ``PrometheusError`` for an error answer."""
        status, body = self.get(path, params)
        try:
            doc = json.loads(body)
        except ValueError:
            raise PrometheusError(f"{path}: HTTP {status}, not JSON: {body[:200]!r}") from None
        if doc.get("status") != "success":
            raise PrometheusError(f"{path}: HTTP {status}: {doc.get('errorType')}: {doc.get('error')}")
        return doc["data"]

    def query(self, expr: str, at: float | None = None) -> list:
        """An instant query: the result list (for a scalar or string: ``[ts, "value"]``)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        return self.api("/api/v1/query", params)["result"]

    def wait_for(self, expr: str, timeout: float = WAIT_TIMEOUT) -> list:
        """Poll ``query(expr)`` until it returns a non-empty vector; the result. Bounded."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise PrometheusError(f"{expr!r} still empty after {timeout:.0f}s; targets: {self.targets()}")
            time.sleep(0.2)

    def targets(self) -> list[dict]:
        """The active scrape targets: scrapeUrl, health, lastError of each."""
        return [{k: t.get(k) for k in ("scrapeUrl", "health", "lastError")}
                for t in self.api("/api/v1/targets")["activeTargets"]]

    def alerts(self) -> list[dict]:
        """``/api/v1/alerts``: every pending or firing alert (labels, annotations, state, value)."""
        return self.api("/api/v1/alerts")["alerts"]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    # prometheus starts no children, but whatever shares its group goes too
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start(exe: str, config: Path, workdir: Path, port: int) -> subprocess.Popen:
    log = open(workdir / "prometheus.log", "wb")  # one attempt's log: the error shown is its own
    try:
        return subprocess.Popen(
            [exe, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address={HOST}:{port}", "--log.level=info"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
            start_new_session=True)  # its own group: killpg reaches it and nothing of ours
    finally:
        log.close()


def _wait_ready(prom: Prometheus) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if prom.process.poll() is not None:
            raise PrometheusError(f"prometheus exited with {prom.process.returncode}:\n{prom.log()}")
        try:
            status, _ = prom.get("/-/ready")
            if status == 200:
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise PrometheusError(f"prometheus not ready after {START_TIMEOUT:.0f}s:\n{prom.log()}")
        time.sleep(0.1)


@contextlib.contextmanager
def run_prometheus(workdir: Path, targets: Iterable[str], **config_kw) -> Iterator[Prometheus]:
    """Start prometheus scraping ``targets`` (``host:port``; see :func:`write_config` for the
    options), yield it once ready, stop it in ``finally``. Skips (fails on CI) without prometheus."""
    exe = require("prometheus")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir, targets, **config_kw)
    check = subprocess.run([binary("promtool") or "promtool", "check", "config", str(config)],
                           capture_output=True, text=True, timeout=30) if binary("promtool") else None
    if check is not None and check.returncode != 0:
        raise PrometheusError(f"promtool check config {config}:\n{check.stdout}{check.stderr}")
    for attempt in range(PORT_ATTEMPTS):
        port = closed_port()
        proc = _start(exe, config, workdir, port)
        prom = Prometheus(port=port, workdir=workdir, process=proc)
        try:
            try:
                _wait_ready(prom)
            except PrometheusError:
                if proc.poll() is not None and "address already in use" in prom.log() \
                        and attempt + 1 < PORT_ATTEMPTS:
                    continue  # someone took the port between closed_port() and prometheus' bind
                raise
            yield prom
            return
        finally:
            _stop(proc)
    raise PrometheusError(f"no free port in {PORT_ATTEMPTS} attempts:\n{prom.log()}")  # pragma: no cover
