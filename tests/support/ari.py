"""An RFC 9773 (ARI) front for pebble 2.4, which has no ``renewalInfo``: a real TLS reverse proxy.

    >>> with run_pebble(tmp, http_port=srv.port) as pb, run_ari_proxy(pb) as ari:        # doctest: +SKIP
    ...     ari.set_window(cert_id, start, end, retry_after=3600, explanation_url="https://ca.test/why")
    ...     session = AcmeSession.open(ari.directory_url, ca_file=ari.ca_file, ...)
    ...     ari.orders[-1]["replaces"]                     # what the client sent in newOrder
    ...     ari.fail_next("newOrder", "429", retry_after=120)

Why a proxy and not acme2certifier: acme2certifier 0.46.3 (PyPI) does implement renewalInfo,
but it needs ten packages this project does not have (jwcrypto, dnspython, python-dateutil,
pysocks, xmltodict, pyasn1(-modules), requests_pkcs12, pyyaml, werkzeug), a database handler
(its WSGI mode keeps SQLite) and a CA handler of its own; its window is a percentage of the
lifetime (``renewalthreshold_pctg``), not what a test sets, and it injects no faults. The rule
is no new dependencies, so the tests keep pebble (the real ACME server) and add the one thing
it lacks in front of it.

What the proxy does (thread-based, 127.0.0.1, a free port, stopped in ``finally``):

* forwards every request to pebble over verified TLS with the JWS body untouched and the
  ``Host`` header kept, so pebble's JWS ``url`` check and the URLs it builds see the proxy; any
  absolute pebble URL left in a body or a ``Location``/``Link`` header is rewritten to the
  proxy's origin, so the client talks only to the proxy;
* adds ``renewalInfo`` (and ``meta.profiles`` when a test sets them) to the directory;
* answers ``GET /renewal-info/<CertID>`` with the window the test set for it (or the default
  window), ``Retry-After`` and ``explanationURL``; 404 for a CertID it knows nothing of;
* records every newOrder payload (the base64url JSON inside the JWS: read, not verified) in
  :attr:`AriProxy.orders`;
* answers ``409 alreadyReplaced`` to a newOrder whose ``replaces`` names a CertID an earlier
  order already replaced (RFC 9773 §5);
* injects faults on request (:meth:`AriProxy.fail_next`): ``429`` rateLimited + Retry-After,
  ``503``, a ``stall`` (no answer for a bounded time, then the connection is closed), a
  ``huge`` answer, or a ``drip`` (a byte at a time, for a bounded time).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

from support.pebble import Pebble

RENEWAL_INFO_PATH = "/renewal-info"
MAX_BODY = 2 * 1024 * 1024  # bytes of a request or an upstream answer the proxy reads
UPSTREAM_TIMEOUT = 15.0  # seconds for pebble to answer one forwarded request
STALL_MAX = 30.0  # the longest a stall fault may hold a request
HUGE_BYTES = 3 * 1024 * 1024  # a "huge" fault's body (more than any bound the client keeps)
DRIP_SECONDS = 0.2  # a "drip" fault's pause between two bytes
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length"}
ENDPOINTS = {"/dir": "directory", "/order-plz": "newOrder", "/sign-me-up": "newAccount", "/nonce-plz": "newNonce"}


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Window:
    start: dt.datetime
    end: dt.datetime
    retry_after: int | None = None
    explanation_url: str | None = None
    body: bytes | None = None  # a raw answer instead (a test of bad renewalInfo)
    status: int = 200


@dataclass
class Fault:
    kind: str  # "429" | "503" | "stall"
    count: int
    retry_after: int | None = None
    stall: float = 5.0


def decode_jws_payload(body: bytes) -> dict | None:
    """The JSON payload of a flattened JWS (base64url, not verified), or None (POST-as-GET, junk)."""
    try:
        jws = json.loads(body)
        raw = jws["payload"]
        if not raw:
            return None
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, KeyError, TypeError):
        return None


class AriProxy:
    """The proxy's state: what tests set (windows, faults, profiles) and what it saw (orders)."""

    def __init__(self, pebble: Pebble) -> None:
        self.pebble = pebble
        self.upstream = ("127.0.0.1", pebble.port)
        self.upstream_origin = f"https://127.0.0.1:{pebble.port}"
        self.ca_file = pebble.ca_file  # the proxy serves pebble's listener certificate: same CA
        self.ari = True  # False: the directory carries no renewalInfo (a CA without ARI)
        self.profiles: dict[str, str] | None = None
        self.windows: dict[str, Window] = {}
        self.default_window: Window | None = None
        self.orders: list[dict] = []  # newOrder payloads, in order
        self.replaced: set[str] = set()
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.server: _Server | None = None
        self.thread: threading.Thread | None = None
        self.origin = ""

    # ----------------------------------------------------------------- test controls

    @property
    def directory_url(self) -> str:
        return f"{self.origin}/dir"

    def set_window(self, cert_id: str, start: dt.datetime, end: dt.datetime, *, retry_after: int | None = None,
                   explanation_url: str | None = None) -> None:
        with self._lock:
            self.windows[cert_id] = Window(start, end, retry_after, explanation_url)

    def set_raw_renewal_info(self, cert_id: str, body: bytes, *, status: int = 200,
                             retry_after: int | None = None) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        with self._lock:
            self.windows[cert_id] = Window(now, now, retry_after, None, body=body, status=status)

    def fail_next(self, endpoint: str, kind: str, *, count: int = 1, retry_after: int | None = None,
                  stall: float = 5.0) -> None:
        """The next ``count`` requests to ``endpoint`` ("newOrder", "directory", "newAccount",
        "renewalInfo", or "any") get fault ``kind``: "429" (rateLimited + Retry-After), "503",
        "stall" (held for ``stall`` seconds, at most STALL_MAX, then the connection closed),
        "huge" (a 200 of HUGE_BYTES) or "drip" (a 200 whose body comes a byte every DRIP_SECONDS,
        for at most ``stall`` seconds)."""
        if kind not in ("429", "503", "stall", "huge", "drip"):
            raise ValueError(kind)
        with self._lock:
            self._faults.setdefault(endpoint, []).append(Fault(kind, count, retry_after, min(stall, STALL_MAX)))

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for key in (endpoint, "any"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.count -= 1
                    if fault.count <= 0:
                        queue.pop(0)
                    return fault
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    # ----------------------------------------------------------------- upstream

    def _ssl_upstream(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def rewrite(self, data: bytes) -> bytes:
        return data.replace(self.upstream_origin.encode(), self.origin.encode())

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPSConnection(*self.upstream, timeout=UPSTREAM_TIMEOUT, context=self._ssl_upstream())
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                if name.lower() not in HOP_BY_HOP:
                    conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read(MAX_BODY + 1)
            if len(data) > MAX_BODY:
                raise OSError("upstream answer too large")
            out_headers = []
            for name, value in resp.getheaders():
                if name.lower() in HOP_BY_HOP:
                    continue
                if name.lower() in ("location", "link"):
                    value = value.replace(self.upstream_origin, self.origin)
                out_headers.append((name, value))
            return resp.status, out_headers, self.rewrite(data)
        finally:
            conn.close()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> "AriProxy":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.pebble.workdir / "listener.pem"), str(self.pebble.workdir / "listener.key"))
        self.server = _Server(("127.0.0.1", 0), self, ctx)
        self.origin = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="ari-proxy", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(5.0)
            assert not self.thread.is_alive(), "ARI proxy thread did not stop"
        self.server = self.thread = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True

    def __init__(self, address, proxy: AriProxy, ctx: ssl.SSLContext) -> None:
        self.proxy = proxy
        self.ctx = ctx
        super().__init__(address, _Handler)

    def get_request(self):
        sock, addr = super().get_request()
        sock.settimeout(10.0)
        # the handshake runs in the request's thread (on its first read), not in the accept loop
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # quiet: tests read .requests instead
        pass

    def _send(self, status: int, body: bytes, headers=(), content_type: str | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.proxy._record(self.command, self.path, status)

    def _problem(self, status: int, typ: str, detail: str, retry_after: int | None = None) -> None:
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        body = json.dumps({"type": f"urn:ietf:params:acme:error:{typ}", "detail": detail, "status": status}).encode()
        self._send(status, body, headers, "application/problem+json")

    def _handle(self) -> None:
        proxy = self.server.proxy
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, b"too large\n", content_type="text/plain")
            return
        body = self.rfile.read(length) if length else b""
        endpoint = ENDPOINTS.get(path, "renewalInfo" if path.startswith(RENEWAL_INFO_PATH + "/") else "other")
        fault = proxy._take_fault(endpoint)
        if fault is not None:
            if fault.kind == "429":
                self._problem(429, "rateLimited", "too many new orders recently (injected by the test)",
                              fault.retry_after)
                return
            if fault.kind == "503":
                headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
                self._send(503, b"service unavailable (injected)\n", headers, "text/plain")
                return
            if fault.kind == "huge":
                self._send(200, b"{" + b" " * HUGE_BYTES + b"}", content_type="application/json")
                return
            if fault.kind == "drip":
                self._drip(fault.stall)
                return
            proxy._stop.wait(fault.stall)  # stall: no answer at all, then the connection goes
            proxy._record(self.command, self.path, 0)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if endpoint == "renewalInfo" and self.command == "GET":
            self._renewal_info(path[len(RENEWAL_INFO_PATH) + 1:])
            return
        replaces = None
        if endpoint == "newOrder" and self.command == "POST":
            payload = decode_jws_payload(body)
            with proxy._lock:
                proxy.orders.append(payload if payload is not None else {})
            replaces = (payload or {}).get("replaces")
            if replaces is not None and replaces in proxy.replaced:
                self._problem(409, "alreadyReplaced", f"the certificate {replaces} has already been replaced")
                return
        headers = {k: v for k, v in self.headers.items()}
        try:
            status, out_headers, data = proxy.forward(self.command, self.path, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            self._send(502, f"pebble unreachable: {exc}\n".encode(), content_type="text/plain")
            return
        if endpoint == "directory" and status == 200:
            data = self._directory(data)
        if replaces is not None and status == 201:
            with proxy._lock:
                proxy.replaced.add(replaces)
        self._send(status, data, out_headers)

    def _drip(self, seconds: float) -> None:
        """A 200 that promises 10 kB and sends a byte every DRIP_SECONDS for ``seconds``."""
        proxy = self.server.proxy
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "10000")
        self.end_headers()
        self.close_connection = True
        end = threading.Event()
        timer = threading.Timer(seconds, end.set)
        timer.start()
        try:
            while not end.is_set() and not proxy._stop.wait(DRIP_SECONDS):
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            pass
        finally:
            timer.cancel()
        proxy._record(self.command, self.path, 200)

    def _directory(self, data: bytes) -> bytes:
        proxy = self.server.proxy
        d = json.loads(data)
        if proxy.ari:
            d["renewalInfo"] = proxy.origin + RENEWAL_INFO_PATH
        if proxy.profiles is not None:
            d.setdefault("meta", {})["profiles"] = proxy.profiles
        return json.dumps(d, indent=2).encode()

    def _renewal_info(self, certid: str) -> None:
        proxy = self.server.proxy
        with proxy._lock:
            window = proxy.windows.get(certid) or proxy.default_window
        if window is None:
            self._problem(404, "malformed", f"no certificate with CertID {certid}")
            return
        headers = [("Retry-After", str(window.retry_after))] if window.retry_after is not None else []
        if window.body is not None:
            self._send(window.status, window.body, headers, "application/json")
            return
        doc: dict = {"suggestedWindow": {"start": _rfc3339(window.start), "end": _rfc3339(window.end)}}
        if window.explanation_url:
            doc["explanationURL"] = window.explanation_url
        self._send(200, json.dumps(doc).encode(), headers, "application/json")

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()


@contextlib.contextmanager
def run_ari_proxy(pebble: Pebble) -> Iterator[AriProxy]:
    """Start the proxy in front of ``pebble``; yield it; always stop it."""
    proxy = AriProxy(pebble)
    try:
        yield proxy.start()
    finally:
        proxy.stop()


__all__ = ["AriProxy", "run_ari_proxy", "decode_jws_payload", "Window", "RENEWAL_INFO_PATH"]
