"""The one threaded test server: every TLS, TCP and plain-HTTP server a test starts is this one.

    with tls_server(leaf) as srv:                      # TLS with leaf.chain_pem() and leaf.key
        probe("127.0.0.1", srv.port)
        srv.received()                                 # the bytes the client sent after the handshake
    with tls_server(leaf, client_ca=ca) as srv:        # a client certificate is required (mTLS)
    with tls_server(ctx, handler=reply(b"ok")) as srv: # an ssl.SSLContext of your own; answer requests
    with http_server({"/crl/a.crl": der}) as web:      # plain HTTP routes (CRL, AIA, OCSP answers)
        web.url_for("/crl/a.crl"); web.hits["/crl/a.crl"]; web.received().requestline
    with tcp_server(handler) as srv:                   # raw TCP: ``handler(conn, srv)`` per connection
    with tcp_server(connect_proxy()) as proxy:         # a CONNECT proxy; ``proxy.records``: the targets

Every server listens on 127.0.0.1, port 0, accepts in one thread and serves each connection in a
thread of its own (TLS: the handshake happens there too, so a stuck client never blocks another).
``stop()`` is always reached (the context manager's ``finally``): it closes the listener, shuts
every open connection down and joins every thread it started. A thread left behind, or a handler
that raised something other than a socket/TLS error, fails the test that owned the server.

The recorder: a handler calls ``srv.record(x)``; ``srv.records`` is everything recorded, in order;
``srv.received(timeout)`` waits for the next record not yet returned. ``drain`` (the TLS default)
records one ``bytes`` per completed handshake (``b""``: the client sent nothing), ``reply`` records
the request head it answered, the HTTP mode records one :class:`Request` per request.
"""

from __future__ import annotations

import contextlib
import http.server
import select
import socket
import ssl
import tempfile
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

HOST = "127.0.0.1"
Handler = Callable[[socket.socket, "Server"], None]

_LIVE: set["Server"] = set()  # started and not yet stopped (the session check reads it)
_LIVE_LOCK = threading.Lock()


def live_servers() -> list["Server"]:
    """Servers started and not stopped yet."""
    with _LIVE_LOCK:
        return list(_LIVE)


# --------------------------------------------------------------------------- TLS contexts

def _pem_of(value) -> bytes:
    """PEM bytes from an ``Issued``/``TestCA`` (its chain), certificates, PEM bytes or a path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (str, Path)):
        return Path(value).read_bytes()
    if isinstance(value, x509.Certificate):
        return value.public_bytes(serialization.Encoding.PEM)
    if hasattr(value, "chain_pem"):
        return value.chain_pem()
    if hasattr(value, "cert_pem"):
        return value.cert_pem()
    return b"".join(_pem_of(v) for v in value)


def _key_pem_of(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    if isinstance(key, (str, Path)):
        return Path(key).read_bytes()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def server_context(cert, key=None, *, client_ca=None, client_cert: str = "required", min_version=None,
                   max_version=None, ciphers: str | None = None, alpn: list[str] | None = None) -> ssl.SSLContext:
    """A server ``SSLContext`` for ``cert`` (an ``Issued``: its chain and key; or a chain as PEM
    bytes/certificates/path with ``key``). ``client_ca`` (certificates, a ``TestCA``, PEM or a
    path) asks for a client certificate: ``client_cert="required"`` or ``"optional"``."""
    if key is None:
        key = cert.key  # an Issued
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="certdoctor-srv-") as d:  # load_cert_chain reads files only
        chain_file, key_file = Path(d) / "chain.pem", Path(d) / "key.pem"
        chain_file.write_bytes(_pem_of(cert))
        key_file.write_bytes(_key_pem_of(key))
        ctx.load_cert_chain(chain_file, key_file)
    with warnings.catch_warnings():  # TLS 1.0 and weak ciphers are what some tests are about
        warnings.simplefilter("ignore", DeprecationWarning)
        if ciphers:
            ctx.set_ciphers(ciphers)
        if min_version:
            ctx.minimum_version = min_version
        if max_version:
            ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if client_ca is not None:
        if client_cert not in ("required", "optional"):
            raise ValueError(f"client_cert is 'required' or 'optional', not {client_cert!r}")
        ctx.verify_mode = ssl.CERT_REQUIRED if client_cert == "required" else ssl.CERT_OPTIONAL
        ctx.load_verify_locations(cadata=_pem_of(client_ca).decode())
    return ctx


# --------------------------------------------------------------------------- the server

@dataclass(frozen=True)
class Request:
    """One request the HTTP mode answered."""

    method: str
    path: str
    requestline: str
    headers: dict
    body: bytes


class Server:
    """127.0.0.1:0; ``handler(conn, server)`` per connection (after the handshake when ``tls``).

    ``routes`` (instead of a handler) is the plain-HTTP mode: a path maps to ``bytes`` (200),
    ``(status, headers, body)`` or ``fn(request_handler)`` (a ``BaseHTTPRequestHandler`` to write
    anything, a hostile answer included); the longest matching path prefix wins, else 404.
    """

    host = HOST

    def __init__(self, handler: Handler | None = None, *, tls: ssl.SSLContext | None = None,
                 routes: dict | None = None, timeout: float = 5.0) -> None:
        if handler is not None and routes is not None:
            raise ValueError("a handler or routes, not both")
        self.tls = tls
        self.routes: dict[str, Any] = routes if routes is not None else {}
        self.handler: Handler = handler or (_serve_http if routes is not None else drain)
        self.timeout = timeout
        self.hits: Counter[str] = Counter()
        self.records: list = []
        self.errors: list[BaseException] = []           # what handlers raised besides socket errors
        self.handshake_errors: list[BaseException] = []  # TLS handshakes that failed (clients refusing)
        self.stopping = threading.Event()
        self._cond = threading.Condition()
        self._next = 0
        self._conns: set = set()
        self._threads: list[threading.Thread] = []
        self._sock = socket.create_server((HOST, 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept_loop, name=f"test-server:{self.port}", daemon=True)
        self._started = False

    # addresses
    @property
    def base(self) -> str:
        """``scheme://127.0.0.1:PORT`` (a proxy URL, or the base of routes)."""
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/"

    def url_for(self, path: str) -> str:
        return self.base + path

    # the recorder
    def record(self, item) -> None:
        with self._cond:
            self.records.append(item)
            self._cond.notify_all()

    def received(self, timeout: float = 5.0):
        """The next record not returned yet, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._next >= len(self.records):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the server on port {self.port} recorded nothing new in {timeout} s")
                self._cond.wait(left)
            item = self.records[self._next]
            self._next += 1
            return item

    # life cycle
    def start(self) -> "Server":
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._started = True
        self._accepter.start()
        return self

    def __enter__(self) -> "Server":
        return self if self._started else self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop(check=exc_type is None)

    def stop(self, *, check: bool = True) -> None:
        """Close the listener and every connection, join every thread; with ``check``, raise if a
        thread is left behind or a handler failed."""
        self.stopping.set()
        if self._started:
            self._accepter.join(5)
        self._sock.close()
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            _shutdown(c)
        deadline = time.monotonic() + 5
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))
        with _LIVE_LOCK:
            _LIVE.discard(self)
        left = [t.name for t in [self._accepter, *self._threads] if t.is_alive()]
        if check and left:
            raise AssertionError(f"test server on port {self.port}: threads still running after stop: {left}")
        if check and self.errors:
            raise AssertionError(f"test server on port {self.port}: a handler failed: {self.errors[0]!r}") \
                from self.errors[0]

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            if self.stopping.is_set():
                conn.close()
                return
            t = threading.Thread(target=self._serve, args=(conn,), name=f"test-server:{self.port}:conn",
                                 daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _track(self, old, new) -> None:
        with self._cond:
            self._conns.discard(old)
            if new is not None:
                self._conns.add(new)

    def _serve(self, conn: socket.socket) -> None:
        self._track(None, conn)
        try:
            conn.settimeout(self.timeout)
            if self.tls is not None:
                tls = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
                self._track(conn, tls)
                conn = tls
                if self.stopping.is_set():
                    return
                try:
                    conn.do_handshake()
                except (ssl.SSLError, OSError) as exc:
                    self.handshake_errors.append(exc)
                    return
            self.handler(conn, self)
        except (OSError, ssl.SSLError):
            pass  # a client hanging up mid-way, or stop() shutting the connection down
        except Exception as exc:  # a bug in a handler: reported by stop()
            self.errors.append(exc)
        finally:
            self._track(conn, None)
            with contextlib.suppress(OSError):
                conn.close()


def _shutdown(sock) -> None:
    # the plain socket call: SSLSocket.shutdown() would drop the TLS object under a reading thread
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextlib.contextmanager
def serve(handler: Handler | None = None, *, tls: ssl.SSLContext | None = None, routes: dict | None = None,
          timeout: float = 5.0) -> Iterator[Server]:
    srv = Server(handler, tls=tls, routes=routes, timeout=timeout).start()
    ok = False
    try:
        yield srv
        ok = True
    finally:
        srv.stop(check=ok)


def tls_server(cert, key=None, *, handler: Handler | None = None, timeout: float = 5.0, **ctx_kw):
    """A TLS server for ``cert`` (an ``Issued``, a chain with ``key``, or a ready ``SSLContext``);
    ``ctx_kw`` go to :func:`server_context` (``client_ca=``, ``max_version=``, ``alpn=``...)."""
    ctx = cert if isinstance(cert, ssl.SSLContext) else server_context(cert, key, **ctx_kw)
    return serve(handler or drain, tls=ctx, timeout=timeout)


def tcp_server(handler: Handler, *, timeout: float = 5.0):
    """A plain TCP server: ``handler(conn, srv)`` gets the raw socket."""
    return serve(handler, timeout=timeout)


def http_server(routes: dict | None = None, *, tls: ssl.SSLContext | None = None, timeout: float = 5.0):
    """The plain-HTTP mode (HTTPS with ``tls``): ``routes`` as in :class:`Server`."""
    return serve(routes={} if routes is None else routes, tls=tls, timeout=timeout)


class ServerGroup(contextlib.ExitStack):
    """Several servers for one test, all stopped when the group ends (the ``servers`` fixture)."""

    def tls(self, *args, **kw) -> Server:
        return self.enter_context(tls_server(*args, **kw))

    def tcp(self, *args, **kw) -> Server:
        return self.enter_context(tcp_server(*args, **kw))

    def http(self, *args, **kw) -> Server:
        return self.enter_context(http_server(*args, **kw))


def closed_port() -> int:
    """A port nobody listens on (bound, then closed): connecting to it is refused."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- handlers

def drain(conn, srv: Server) -> None:
    """Read until the client is done (EOF or the timeout); record every byte it sent."""
    got = b""
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
    except (OSError, ssl.SSLError):
        pass
    srv.record(got)


def read_head(conn) -> bytes:
    """Bytes up to the end of an HTTP request head (or whatever came before EOF)."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = conn.recv(4096)
        if not chunk:
            break
        got += chunk
    return got


def reply(body: bytes = b"ok", status: str = "200 OK") -> Handler:
    """Read a request head and record it (``b""``: nothing came); answer it when one came."""
    def handle(conn, srv: Server) -> None:
        try:
            got = read_head(conn)
        except (OSError, ssl.SSLError):
            got = b""
        srv.record(got)
        if got:
            conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                         + body)
    return handle


def counting(arrived: "threading.Event | None" = None) -> Handler:
    """A TLS handler recording every completed handshake: ``b""`` for a connection that sent
    nothing (a probe, a staple handshake), the request head for a real client, which is
    answered 200 with a Date header; ``arrived`` is set when a request came."""
    from email.utils import formatdate

    def handle(conn, srv: Server) -> None:
        try:
            got = read_head(conn)
        except OSError:
            got = b""
        srv.record(got)
        if got:
            if arrived is not None:
                arrived.set()
            conn.sendall(b"HTTP/1.1 200 OK\r\nDate: " + formatdate(usegmt=True).encode()
                         + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    return handle


def read_proxy_request(conn, srv: Server) -> tuple[str, str, str, int] | None:
    """A proxy's request line: ``(method, target, host, port)``, the target recorded; ``None``
    when the head is incomplete, or malformed (then answered 400)."""
    head = read_head(conn)
    if b"\r\n\r\n" not in head:
        return None
    try:
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        host, _, port = target.rpartition(":")
        port_no = int(port)
    except ValueError:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        return None
    srv.record(target)
    return method, target, host, port_no


def connect_proxy(allow=("127.0.0.1", "localhost"), refuse: int | None = None) -> Handler:
    """A CONNECT proxy that relays to 127.0.0.1 for the hosts in ``allow`` (``refuse``: answer
    that status to every request instead). Records every target asked for."""
    def handle(conn, srv: Server) -> None:
        request = read_proxy_request(conn, srv)
        if request is None:
            return
        method, _, host, port_no = request
        if refuse or method != "CONNECT" or host not in allow:
            conn.sendall(f"HTTP/1.1 {refuse or 403} Forbidden\r\nContent-Length: 0\r\n\r\n".encode())
            return
        with socket.create_connection((HOST, port_no), timeout=srv.timeout) as up:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            relay(conn, up, srv.stopping)
    return handle


def relay(down, up, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes or the server stops."""
    while not stopping.is_set():
        pending = isinstance(down, ssl.SSLSocket) and down.pending()
        ready = [down] if pending else select.select([down, up], [], [], 0.2)[0]
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (up if s is down else down).sendall(data)


class _RouteHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802
        self._route(b"")

    def do_HEAD(self) -> None:  # noqa: N802
        self._route(b"")

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        self._route(self.rfile.read(n))

    def _route(self, body: bytes) -> None:
        srv: Server = self.server  # type: ignore[assignment]
        path = self.path.split("?")[0]
        match = max((r for r in srv.routes if path == r or path.startswith(r.rstrip("/") + "/")),
                    key=len, default=None)
        with srv._cond:
            srv.hits[match or path] += 1
        srv.record(Request(self.command, self.path, self.requestline, dict(self.headers), body))
        if match is None:
            self.send_error(404)
            return
        value = srv.routes[match]
        if callable(value):
            value(self)
            return
        status, headers, data = value if isinstance(value, tuple) else (200, {}, value)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def _serve_http(conn, srv: Server) -> None:
    _RouteHandler(conn, (HOST, 0), srv)
