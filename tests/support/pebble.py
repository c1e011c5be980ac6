"""A real ACME server for the tests: Debian's ``pebble`` and ``pebble-challtestsrv`` on 127.0.0.1.

    >>> with run_pebble(tmp_path / "pebble", http_port=port) as pb:      # doctest: +SKIP
    ...     session = AcmeSession.open(pb.directory_url, ca_file=pb.ca_file, ...)
    ...     roots = pb.roots_pem()                                        # what it issues under

``run_pebble`` makes a listener certificate with :class:`support.pki.TestCA` (the Debian package
ships none: its ``test/certs`` are repacked out), writes pebble's JSON config into ``tmpdir``, and
starts two processes, each in a process group of its own:

* ``pebble-challtestsrv`` with only its DNS server and management API (both on free ports); its
  default A answer is 127.0.0.1 and the AAAA answer is switched off, so every name the tests ask
  for resolves to the loopback address certdoctor's http-01 server listens on;
* ``pebble`` on free ports (ACME and management), ``-dnsserver`` pointing at challtestsrv and
  ``httpPort`` set to ``http_port`` (where the test's http-01 responder listens: pebble's VA
  connects to ``<name>:<httpPort>``).

Environment given to pebble (``env`` adds or overrides):

* ``PEBBLE_VA_NOSLEEP=1``: the VA validates at once instead of sleeping 0-15 s first;
* ``PEBBLE_WFE_NONCEREJECT=0``: no nonce is rejected at random (by default 5 % are, which acme
  retries, but a test must not depend on luck);
* ``PEBBLE_AUTHZREUSE=0``: pebble reuses a valid authorization for a new order of the same
  account and name with this probability (default 50 %). The tests want every order to go through
  a real validation (a wrong token must fail every time), so reuse is off; a test of the "valid
  authorizations are skipped" path sets it to 100.

Ports are free when probed (``closed_port``); Go cannot report what port 0 became, so a lost bind
race ("address already in use" in the log) is retried with fresh ports, like ``support.nginx``.
Start is bounded (``START_TIMEOUT``); the error holds both logs. Both groups are SIGKILLed in
``finally`` (pebble keeps all state in memory: there is nothing to shut down gracefully), and
:meth:`Pebble.stop` does that early for a test of "the ACME server went away mid-order".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.pki import NO_URLS, NOW, TestCA
from support.servers import closed_port

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
START_TIMEOUT = 10.0  # seconds until both listen (pebble starts in well under a second here)
PORT_ATTEMPTS = 4  # a probed port can be taken before the Go process binds it
MGMT_TIMEOUT = 5.0  # seconds for one management API request

DEFAULT_ENV = {
    "PEBBLE_VA_NOSLEEP": "1",
    "PEBBLE_WFE_NONCEREJECT": "0",
    "PEBBLE_AUTHZREUSE": "0",
}


class PebbleError(RuntimeError):
    """pebble or challtestsrv did not start (the message holds their logs)."""


def _read(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill(proc: subprocess.Popen | None) -> None:
    """SIGKILL ``proc``'s process group (it leads its own) and reap it."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5.0)
    deadline = time.monotonic() + 3.0
    while _alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    out = open(log, "wb")
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    finally:
        out.close()


def _wait(procs: list[tuple[subprocess.Popen, int]], logs: list[Path], deadline: float) -> str | None:
    """Wait until every port accepts; None, or why not."""
    while time.monotonic() < deadline:
        for proc, _port in procs:
            if proc.poll() is not None:
                return f"{Path(proc.args[0]).name} exited with {proc.returncode}"
        if all(_accepts(port) for _proc, port in procs):
            return None
        time.sleep(0.03)
    return f"not listening within {START_TIMEOUT} s"


def _in_use(text: str) -> bool:
    return "address already in use" in text.lower()


@dataclass
class Pebble:
    """A running pebble: its directory, the CA file that verifies its listener, its management."""

    directory_url: str
    ca_file: str  # the listener's CA (PEM): give it to the ACME client (TLS stays verified)
    management_url: str  # pebble's management API (roots, intermediates, cert status)
    challtestsrv_url: str  # challtestsrv's management API (/set-txt, /clear-txt, ...)
    dns_address: str  # challtestsrv's DNS server, host:port
    port: int  # the ACME listener's port
    http_port: int  # where pebble's VA connects for http-01
    workdir: Path
    _procs: list = field(default_factory=list, repr=False)

    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def management_get(self, path: str) -> bytes:
        """GET ``path`` from pebble's management API (TLS, verified with ``ca_file``)."""
        with urllib.request.urlopen(self.management_url + path, timeout=MGMT_TIMEOUT,
                                    context=self._ssl()) as resp:
            return resp.read()

    def roots_pem(self) -> bytes:
        """The issuing root of this run (pebble makes a new one on every start)."""
        return self.management_get("/roots/0")

    def intermediates_pem(self) -> bytes:
        return self.management_get("/intermediates/0")

    def challtestsrv_post(self, path: str, payload: dict) -> None:
        """POST JSON to challtestsrv's management API (``/set-txt``, ``/clear-txt``...)."""
        req = urllib.request.Request(self.challtestsrv_url + path, data=json.dumps(payload).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=MGMT_TIMEOUT) as resp:
            resp.read()

    def log(self) -> str:
        return _read(self.workdir / "pebble.log") + _read(self.workdir / "challtestsrv.log")

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    def stop(self) -> None:
        """Kill pebble and challtestsrv now (safe to call twice)."""
        procs, self._procs = self._procs, []
        for proc in procs:
            _kill(proc)


def listener_ca(workdir: Path) -> tuple[str, str, str]:
    """A test CA and a ``localhost``/127.0.0.1 certificate from it; (ca_file, cert_file, key_file)."""
    ca = TestCA("Pebble Listener Test Root", **NO_URLS)
    leaf = ca.issue_cert("localhost", "127.0.0.1", not_after=NOW + dt.timedelta(days=30))
    ca_file, cert_file, key_file = workdir / "listener-ca.pem", workdir / "listener.pem", workdir / "listener.key"
    ca_file.write_bytes(ca.cert_pem())
    cert_file.write_bytes(leaf.cert.public_bytes(serialization.Encoding.PEM) + ca.cert_pem())
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(leaf.key_pem())
    return str(ca_file), str(cert_file), str(key_file)


def _start_retrying(name: str, launch, deadline: float) -> tuple[subprocess.Popen, tuple[int, ...]]:
    """``launch()`` -> ``(proc, ports, log, context)``, until ``proc`` listens on every port: a
    port taken between picking it and binding it (another test, another run) is retried with
    new ports; any other failure raises, with ``context`` and the log."""
    why = "not started"
    for _attempt in range(PORT_ATTEMPTS):
        proc, ports, log, context = launch()
        why = _wait([(proc, port) for port in ports], [log], deadline)
        if why is None:
            return proc, ports
        text = _read(log)
        _kill(proc)
        if _in_use(text) and time.monotonic() < deadline:
            continue
        raise PebbleError(f"{name}: {why}\n{context}log:\n{text}")
    raise PebbleError(f"{name}: no free ports after {PORT_ATTEMPTS} attempts: {why}")


def _start_challtestsrv(workdir: Path, deadline: float) -> tuple[subprocess.Popen, int, int]:
    def launch():
        dns_port, mgmt_port = closed_port(), closed_port()
        log = workdir / "challtestsrv.log"
        proc = _spawn([CHALLTESTSRV, "-dns01", f"127.0.0.1:{dns_port}", "-management",
                       f"127.0.0.1:{mgmt_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                       "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], log)
        # the DNS server is UDP+TCP; the TCP side accepting means it is bound
        return proc, (mgmt_port, dns_port), log, ""

    proc, (mgmt_port, dns_port) = _start_retrying("pebble-challtestsrv", launch, deadline)
    return proc, dns_port, mgmt_port


def _start_pebble(workdir: Path, http_port: int, dns_port: int, cert_file: str, key_file: str,
                  env: dict[str, str], deadline: float,
                  eab_keys: dict[str, str] | None = None) -> tuple[subprocess.Popen, int, int]:
    def launch():
        port, mgmt_port = closed_port(), closed_port()
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{mgmt_port}",
            "certificate": cert_file,
            "privateKey": key_file,
            "httpPort": int(http_port),
            "tlsPort": closed_port(),  # tls-alpn-01 is not used: a port nobody answers on
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab_keys),
        }}
        if eab_keys:
            config["pebble"]["externalAccountMACKeys"] = dict(eab_keys)
        conf = workdir / "pebble-config.json"
        conf.write_text(json.dumps(config, indent=2))
        log = workdir / "pebble.log"
        proc = _spawn([PEBBLE, "-config", str(conf), "-dnsserver", f"127.0.0.1:{dns_port}"], log, env)
        return proc, (port, mgmt_port), log, f"config: {json.dumps(config)}\n"

    proc, (port, mgmt_port) = _start_retrying("pebble", launch, deadline)
    return proc, port, mgmt_port


@contextlib.contextmanager
def run_pebble(tmpdir, *, http_port: int, env: dict[str, str] | None = None,
               eab_keys: dict[str, str] | None = None) -> Iterator[Pebble]:
    """Start challtestsrv and pebble (see the module docstring); yield a :class:`Pebble`; always
    kill both. ``env`` adds to (or overrides) :data:`DEFAULT_ENV` for pebble. ``eab_keys``
    (key id -> base64url HMAC key) makes External Account Binding required."""
    for binary in (PEBBLE, CHALLTESTSRV):
        if not os.access(binary, os.X_OK):
            raise PebbleError(f"{binary} is not installed (scripts/ensure-tools.sh installs pebble)")
    workdir = Path(tmpdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = listener_ca(workdir)
    penv = dict(os.environ)
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                 "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        penv.pop(name, None)
    penv.update(DEFAULT_ENV)
    penv.update(env or {})
    deadline = time.monotonic() + START_TIMEOUT
    procs: list[subprocess.Popen] = []
    pb: Pebble | None = None
    try:
        chall, dns_port, chall_mgmt = _start_challtestsrv(workdir, deadline)
        procs.append(chall)
        peb, port, mgmt = _start_pebble(workdir, http_port, dns_port, cert_file, key_file, penv, deadline,
                                        eab_keys)
        procs.append(peb)
        pb = Pebble(directory_url=f"https://127.0.0.1:{port}/dir", ca_file=ca_file,
                    management_url=f"https://127.0.0.1:{mgmt}", challtestsrv_url=f"http://127.0.0.1:{chall_mgmt}",
                    dns_address=f"127.0.0.1:{dns_port}", port=port, http_port=int(http_port), workdir=workdir,
                    _procs=list(procs))
        yield pb
    finally:
        if pb is not None:
            pb.stop()
        for proc in procs:
            _kill(proc)


def cert_chain_verifies(fullchain_pem: bytes, roots_pem: bytes, name: str) -> None:
    """Verify ``fullchain_pem`` (leaf first) up to ``roots_pem`` for ``name`` with cryptography's
    verifier; raises on failure (pebble's leaves last 5 years, so 'now' is inside their validity)."""
    from cryptography.x509.verification import PolicyBuilder, Store

    certs = x509.load_pem_x509_certificates(fullchain_pem)
    store = Store(x509.load_pem_x509_certificates(roots_pem))
    verifier = PolicyBuilder().store(store).build_server_verifier(x509.DNSName(name))
    verifier.verify(certs[0], certs[1:])


__all__ = ["run_pebble", "Pebble", "PebbleError", "DEFAULT_ENV", "listener_ca", "cert_chain_verifies"]
