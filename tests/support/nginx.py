"""A real nginx for the tests: one TLS server on 127.0.0.1, everything it writes in a temp dir.

    >>> with run_nginx(tmp_path / "nginx", chain_pem, key_pem) as (host, port):   # doctest: +SKIP
    ...     requests.get(f"https://name.lab.test:{port}/", verify=ca_file)

``run_nginx`` writes a minimal ``nginx.conf`` (pid, logs and every temp path under ``tmpdir``, so
it runs as root without touching /var), listens on a free 127.0.0.1 port, waits (bounded) until
the port accepts, and stops nginx in ``finally``: SIGQUIT (graceful), then SIGKILL of its process
group after a bounded wait, then checks that no process of that group is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

from support.servers import closed_port

START_TIMEOUT = 5.0  # seconds until the port must accept
STOP_TIMEOUT = 3.0  # seconds of graceful shutdown before SIGKILL
PORT_ATTEMPTS = 3  # a free port can be taken between our probe bind and nginx's bind


def nginx_binary() -> str | None:
    """The nginx executable (PATH, then /usr/sbin/nginx), or ``None`` when not installed."""
    found = shutil.which("nginx")
    if found:
        return found
    if os.access("/usr/sbin/nginx", os.X_OK):
        return "/usr/sbin/nginx"
    return None


class NginxError(RuntimeError):
    """nginx did not start (the message holds ``nginx -t`` and the error log)."""


def _q(path: str | os.PathLike[str]) -> str:
    """A path as an nginx string literal."""
    text = str(Path(path).absolute())  # nginx resolves relative paths against its prefix
    if any(c in text for c in '"\\\n'):
        raise ValueError(f"unusable path for nginx.conf: {text!r}")
    return f'"{text}"'


def write_conf(tmpdir: Path, port: int, cert_chain_path, key_path, *, stapling_file=None,
               extra_conf: str = "", worker_connections: int = 64) -> Path:
    """Write ``tmpdir/nginx.conf`` for one TLS server on 127.0.0.1:``port``; return its path.
    ``worker_connections``: nginx's per-worker connection limit (64 by default; a benchmark at
    concurrency 200 needs more, else nginx drops ClientHellos)."""
    temp = tmpdir / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    stapling = ""
    if stapling_file is not None:
        # a static DER OCSP response: nginx staples it as is, no resolver, no responder
        stapling = f"        ssl_stapling on;\n        ssl_stapling_file {_q(stapling_file)};\n"
    user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    conf = (
        "daemon off;\n"
        "master_process on;\n"
        "worker_processes 1;\n"
        f"{user}"
        f"pid {_q(tmpdir / 'nginx.pid')};\n"
        f"error_log {_q(tmpdir / 'error.log')} info;\n"
        f"events {{ worker_connections {int(worker_connections)}; }}\n"
        "http {\n"
        f"    access_log {_q(tmpdir / 'access.log')};\n"
        f"    client_body_temp_path {_q(temp / 'client_body')};\n"
        f"    proxy_temp_path {_q(temp / 'proxy')};\n"
        f"    fastcgi_temp_path {_q(temp / 'fastcgi')};\n"
        f"    uwsgi_temp_path {_q(temp / 'uwsgi')};\n"
        f"    scgi_temp_path {_q(temp / 'scgi')};\n"
        "    server {\n"
        f"        listen 127.0.0.1:{port} ssl;\n"
        "        server_name _;\n"
        f"        ssl_certificate {_q(cert_chain_path)};\n"
        f"        ssl_certificate_key {_q(key_path)};\n"
        f"{stapling}"
        f"{extra_conf}\n"
        '        location / { return 200 "ok\\n"; }\n'
        "    }\n"
        "}\n"
    )
    path = tmpdir / "nginx.conf"
    path.write_text(conf)
    return path


def _read(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def _config_test(binary: str, conf: Path, prefix: Path) -> str:
    try:
        proc = subprocess.run([binary, "-t", "-c", str(conf), "-p", str(prefix), "-e", "stderr"],
                              capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nginx -t could not run: {exc}"
    return f"nginx -t (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - only if the id was reused by someone else
        return False
    return True


def _stop(proc: subprocess.Popen, pgid: int) -> None:
    """SIGQUIT (graceful), then SIGKILL of the group; raise if a process of it survives."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None or _group_alive(pgid):
        # only the group nginx was started in (start_new_session): its master and its workers
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            raise NginxError(f"nginx process group {pgid} still alive after SIGKILL")
        time.sleep(0.02)


def _start(binary: str, tmpdir: Path, port: int, cert_chain_path, key_path, stapling_file,
           extra_conf: str, worker_connections: int = 64) -> tuple[subprocess.Popen, str | None]:
    """Start nginx on ``port``; return (process, None) once it accepts, or (process, why) if not."""
    conf = write_conf(tmpdir, port, cert_chain_path, key_path, stapling_file=stapling_file,
                      extra_conf=extra_conf, worker_connections=worker_connections)
    pid_file = tmpdir / "nginx.pid"
    for stale in (pid_file, tmpdir / "error.log"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    out = open(tmpdir / "nginx.out", "wb")
    try:
        proc = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(tmpdir), "-e", str(tmpdir / "error.log")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    finally:
        out.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc, f"nginx exited with {proc.returncode}"
        # the pid file is written after the listening socket is bound: a port that accepts
        # before it could belong to someone else who took it in the race
        if pid_file.exists():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return proc, None
            except OSError:
                pass
        time.sleep(0.02)
    return proc, f"127.0.0.1:{port} did not accept within {START_TIMEOUT} s"


@contextlib.contextmanager
def run_nginx(tmpdir, cert_chain_path, key_path, *, stapling_file=None,
              extra_conf: str = "", worker_connections: int = 64) -> Iterator[tuple[str, int]]:
    """Serve ``cert_chain_path`` (PEM, sent exactly in that order) with ``key_path`` through nginx
    on 127.0.0.1; yield ``(host, port)``. ``stapling_file``: a DER OCSP response to staple.
    ``extra_conf`` goes into the ``server`` block; ``worker_connections`` is nginx's (64).
    Raises :class:`NginxError` (with ``nginx -t`` output and the error log) when nginx cannot
    start; always stops it."""
    binary = nginx_binary()
    if binary is None:
        raise NginxError("nginx is not installed (not in PATH, no /usr/sbin/nginx)")
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    why = "not started"
    for _attempt in range(PORT_ATTEMPTS):
        port = closed_port()  # free a moment ago: nginx cannot listen on port 0 and tell us
        proc, why = _start(binary, tmpdir, port, cert_chain_path, key_path, stapling_file,
                           extra_conf, worker_connections)
        pgid = proc.pid  # start_new_session: the master leads its own process group
        if why is None:
            break
        log = _read(tmpdir / "error.log") + _read(tmpdir / "nginx.out")
        _stop(proc, pgid)
        if "Address already in use" in log:
            continue  # someone took the port between our probe and nginx's bind: another one
        raise NginxError(f"{why}\n{_config_test(binary, tmpdir / 'nginx.conf', tmpdir)}\n"
                         f"error log:\n{log}")
    else:
        raise NginxError(f"no free port after {PORT_ATTEMPTS} attempts: {why}")
    try:
        yield "127.0.0.1", port
    finally:
        _stop(proc, pgid)


__all__ = ["run_nginx", "nginx_binary", "write_conf", "NginxError"]
