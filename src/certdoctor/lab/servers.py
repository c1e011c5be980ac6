"""The lab's servers: scenario TLS endpoints, a plain-HTTP "TLS" port, a staller, the helper
HTTP server (AIA, CRL, OCSP, hostile routes) and an intercepting CONNECT proxy.

One acceptor thread watches every listening socket (``selectors``); each accepted connection
gets a short-lived thread. Every blocking call has a timeout, every read is bounded, and
:meth:`ServerGroup.stop` shuts down every socket (which wakes any thread blocked on it), joins
every thread and closes everything it opened. Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import email.utils
import itertools
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence, Union

LOOPBACK = "127.0.0.1"
CONN_TIMEOUT = 5.0  # per blocking socket operation
HEAD_LIMIT = 64 * 1024  # request line + headers
BODY_LIMIT = 1024 * 1024  # request bodies (OCSP POSTs are tiny)
HOLD_MAX = 60.0  # longest a stall/drip connection is held open
DRAIN_MAX = 1.0  # how long we read what the peer still sends before closing (avoids RSTs)
MAX_CONNECTIONS = 128
BIG_BODY = 10 * 1024 * 1024

RouteResult = tuple[int, Union[Mapping[str, str], Sequence[tuple[str, str]]], bytes]
RouteHandler = Callable[[str, str, bytes], RouteResult]

_REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error",
            502: "Bad Gateway"}


# --------------------------------------------------------------------------- connections

@dataclass(eq=False)
class Conn:
    """A tracked connection: the socket (replaced by its TLS wrapper) and its thread."""

    sock: socket.socket
    label: str
    thread: threading.Thread | None = None
    closed: bool = False


class ServerGroup:
    """Listening sockets plus one acceptor thread and per-connection threads.

    ``listen(handler, label)`` binds 127.0.0.1:0 and returns the port; ``handler(conn, group)``
    runs in its own thread for each connection and must close ``conn.sock`` (it is closed for
    it anyway). ``stopping`` is set by :meth:`stop`.
    """

    def __init__(self, name: str = "lab") -> None:
        self.name = name
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._listeners: dict[socket.socket, tuple[Callable, str]] = {}
        self._conns: set[Conn] = set()
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._counter = itertools.count(1)
        self.rejected = 0

    # -- setup -----------------------------------------------------------------------------
    def listen(self, handler: Callable[[Conn, "ServerGroup"], None], label: str) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((LOOPBACK, 0))
            sock.listen(64)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self._listeners[sock] = (handler, label)
            if self._selector is not None:
                self._selector.register(sock, selectors.EVENT_READ)
        return sock.getsockname()[1]

    def start(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        with self._lock:
            for sock in self._listeners:
                self._selector.register(sock, selectors.EVENT_READ)
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"certdoctor-{self.name}-acceptor")
        self._acceptor.start()

    # -- the acceptor ------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._selector is not None
        while not self.stopping.is_set():
            try:
                events = self._selector.select(timeout=1.0)
            except OSError:  # pragma: no cover - selector closed under us
                return
            for key, _ in events:
                if key.fileobj is self._wake_r:
                    return
                listener = key.fileobj
                for _ in range(64):  # bounded burst per wake-up
                    try:
                        sock, _addr = listener.accept()  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    handler, label = self._listeners.get(listener, (None, "?"))  # type: ignore[arg-type]
                    if handler is None:
                        sock.close()
                        continue
                    self._spawn(sock, handler, label)

    def _spawn(self, sock: socket.socket, handler: Callable, label: str) -> None:
        sock.settimeout(CONN_TIMEOUT)
        conn = Conn(sock, label)
        with self._lock:
            if self.stopping.is_set() or len(self._conns) >= MAX_CONNECTIONS:
                self.rejected += 1
                sock.close()
                return
            self._conns.add(conn)
        t = threading.Thread(target=self._run, args=(conn, handler), daemon=True,
                             name=f"certdoctor-{self.name}-{label}-{next(self._counter)}")
        conn.thread = t
        t.start()

    def _run(self, conn: Conn, handler: Callable) -> None:
        try:
            handler(conn, self)
        except Exception:
            pass  # a broken client must never take the lab down
        finally:
            _close(conn.sock)
            conn.closed = True
            with self._lock:
                self._conns.discard(conn)

    # -- teardown ---------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, wake and join every thread, close every socket. Idempotent."""
        self.stopping.set()
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        if self._acceptor is not None:
            self._acceptor.join(timeout)
        with self._lock:
            listeners = list(self._listeners)
            self._listeners.clear()
            conns = list(self._conns)
        if self._selector is not None:
            try:
                self._selector.close()
            except Exception:  # pragma: no cover
                pass
        for sock in listeners:
            _close(sock)
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                _close(s)
        # wake every connection thread blocked in recv/send/handshake
        for c in conns:
            _shutdown(c.sock)
        deadline = time.monotonic() + timeout
        for c in conns:
            if c.thread is not None:
                c.thread.join(max(0.0, deadline - time.monotonic()))
        for c in conns:  # whatever is left (a thread that did not finish in time)
            _close(c.sock)
        self._acceptor = None

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        with self._lock:
            ts = [c.thread for c in self._conns if c.thread is not None]
        if self._acceptor is not None:
            ts.append(self._acceptor)
        return tuple(ts)


def _shutdown(sock: socket.socket) -> None:
    try:
        # the plain socket method: SSLSocket.shutdown would also drop its SSL object,
        # which the connection's own thread may be using right now
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _close(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.close()
    except OSError:
        pass


# --------------------------------------------------------------------------- HTTP bits

def http_date() -> str:
    return email.utils.formatdate(usegmt=True)


def response(status: int, body: bytes = b"", headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
             *, content_type: str = "text/plain; charset=utf-8", length: int | None = None) -> bytes:
    """A complete HTTP/1.1 response head (+ body) with Date, Content-Length, Connection: close."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    names = {k.lower() for k, _ in items}
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines.append(f"Date: {http_date()}")
    lines.append("Server: certdoctor-lab")
    if "content-type" not in names and (body or length):
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    lines.append("Connection: close")
    for k, v in items:
        if k.lower() in ("content-length", "connection", "date"):
            continue
        if "\r" in k or "\n" in k or "\r" in str(v) or "\n" in str(v):
            continue  # no header injection from route handlers
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


def read_head(sock: socket.socket, stopping: threading.Event, limit: int = HEAD_LIMIT,
              timeout: float = CONN_TIMEOUT) -> tuple[bytes, bytes] | None:
    """Read up to the blank line. ``(head, rest)``, or ``None`` if the peer sent nothing usable
    (closed, timed out, or over ``limit``)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        if stopping.is_set() or len(buf) > limit or time.monotonic() > deadline:
            return None
        try:
            chunk = sock.recv(4096)
        except (OSError, ssl.SSLError):
            return None
        if not chunk:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def parse_request(head: bytes) -> Request | None:
    try:
        text = head.decode("latin-1")
    except Exception:  # pragma: no cover
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:101]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(parts[0].upper(), parts[1], parts[2], headers)


def read_request(sock: socket.socket, stopping: threading.Event) -> Request | None:
    got = read_head(sock, stopping)
    if got is None:
        return None
    head, rest = got
    req = parse_request(head)
    if req is None:
        return None
    try:
        length = int(req.headers.get("content-length", "0") or 0)
    except ValueError:
        length = -1
    if length < 0 or length > BODY_LIMIT:
        req.body = b""
        req.headers["x-lab-body-error"] = "bad or too large Content-Length"
        return req
    body = rest
    deadline = time.monotonic() + CONN_TIMEOUT
    while len(body) < length and not stopping.is_set() and time.monotonic() < deadline:
        try:
            chunk = sock.recv(min(65536, length - len(body)))
        except (OSError, ssl.SSLError):
            break
        if not chunk:
            break
        body += chunk
    req.body = body[:length]
    return req


def finish(sock: socket.socket, stopping: threading.Event, max_wait: float = DRAIN_MAX) -> None:
    """Half-close and read what the peer still sends, so closing does not reset the
    connection (an RST can destroy a TLS alert or a response the peer has not read yet)."""
    try:
        sock.shutdown(socket.SHUT_WR)  # on an SSLSocket this also drops to the raw socket
    except (OSError, ValueError):
        return
    hold(sock, stopping, max_wait)


def hold(sock: socket.socket, stopping: threading.Event, max_wait: float) -> None:
    """Read and discard until the peer closes, ``max_wait`` passes or the lab stops."""
    deadline = time.monotonic() + max_wait
    try:
        sock.settimeout(0.2)
    except OSError:
        return
    while not stopping.is_set() and time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError, ValueError):
            return
        if not data:
            return


def send_all(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except (OSError, ssl.SSLError, ValueError):
        return False


# --------------------------------------------------------------------------- scenario servers

def server_handshake(ctx: ssl.SSLContext, conn: Conn, group: ServerGroup) -> ssl.SSLSocket | None:
    """The server side of a TLS handshake on ``conn``'s socket (``conn.sock`` becomes the TLS
    socket, so that stopping the lab closes it); ``None`` when the handshake failed."""
    try:
        tls = ctx.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
    except (OSError, ssl.SSLError):
        return None
    conn.sock = tls
    try:
        tls.do_handshake()
    except (OSError, ssl.SSLError, ValueError):
        # the client refused our certificate, or we refused its (missing) one: our alert
        # is already written; half-close and drain so it is not lost to an RST
        finish(tls, group.stopping)
        return None
    return tls


def tls_handler(ctx: ssl.SSLContext, scenario: str) -> Callable[[Conn, ServerGroup], None]:
    """Handshake with ``ctx``; answer one request with ``200 OK`` naming the scenario."""
    body = f"certdoctor lab: scenario {scenario}\n".encode()

    def handle(conn: Conn, group: ServerGroup) -> None:
        tls = server_handshake(ctx, conn, group)
        if tls is None:
            return
        req = read_request(tls, group.stopping)
        if req is None:  # a probe: handshake, then close without a request
            return
        send_all(tls, response(200, body))
        finish(tls, group.stopping)

    return handle


def plain_http_handler(scenario: str) -> Callable[[Conn, ServerGroup], None]:
    """Plain HTTP on a port clients think is TLS: a ClientHello gets ``400 Bad Request``."""
    ok_body = f"certdoctor lab: scenario {scenario} (plain HTTP)\n".encode()
    bad_body = b"400 Bad Request: this port speaks plain HTTP, not TLS.\n"

    def handle(conn: Conn, group: ServerGroup) -> None:
        sock = conn.sock
        try:
            first = sock.recv(HEAD_LIMIT)
        except OSError:
            return
        if not first:
            return
        word = first.split(b" ", 1)[0]
        if word in (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS"):
            send_all(sock, response(200, ok_body))
        else:
            send_all(sock, response(400, bad_body))
        finish(sock, group.stopping)

    return handle


def stall_handler(conn: Conn, group: ServerGroup) -> None:
    """Accept and say nothing until the client gives up (or HOLD_MAX, or stop)."""
    hold(conn.sock, group.stopping, HOLD_MAX)


# --------------------------------------------------------------------------- helper HTTP server

class HelperHTTP:
    """Plain HTTP on 127.0.0.1 for AIA, CRLs, OCSP and the hostile routes.

    Routes match the path (query ignored) exactly, or as the longest registered prefix
    followed by ``/`` (so ``/ocsp`` also gets ``/ocsp/<base64 request>``). A handler is
    ``handler(method, path, body) -> (status, headers, body)``; ``path`` keeps the query.
    """

    HOSTILE = ("/hostile/redirect-loop", "/hostile/big", "/hostile/stall", "/hostile/slow-drip")

    def __init__(self) -> None:
        self._routes: dict[str, RouteHandler] = {}
        self._lock = threading.Lock()

    def add_route(self, path: str, handler: RouteHandler) -> None:
        if not path.startswith("/"):
            raise ValueError(f"route {path!r} must start with '/'")
        with self._lock:
            self._routes[path.rstrip("/") or "/"] = handler

    def add_static(self, path: str, content_type: str, body_fn: Callable[[], bytes]) -> None:
        def handler(method: str, _path: str, _body: bytes) -> RouteResult:
            return 200, {"Content-Type": content_type}, body_fn()
        self.add_route(path, handler)

    def route_for(self, path: str) -> RouteHandler | None:
        with self._lock:
            routes = dict(self._routes)
        if path in routes:
            return routes[path]
        best = None
        for prefix in routes:
            if prefix != "/" and path.startswith(prefix + "/"):
                if best is None or len(prefix) > len(best):
                    best = prefix
        return routes[best] if best else None

    def __call__(self, conn: Conn, group: ServerGroup) -> None:
        sock = conn.sock
        req = read_request(sock, group.stopping)
        if req is None:
            return
        path = req.path
        if path in self.HOSTILE:
            self._hostile(sock, group, path)
            return
        if req.headers.get("x-lab-body-error"):
            send_all(sock, response(413, b"request body too large\n"))
            finish(sock, group.stopping)
            return
        handler = self.route_for(path)
        if handler is None:
            send_all(sock, response(404, f"no route for {path}\n".encode()))
        else:
            try:
                status, headers, body = handler(req.method, req.target, req.body)
            except Exception as exc:  # a broken route handler is a 500, not a dead lab
                status, headers, body = 500, {}, f"route handler failed: {exc!r}\n".encode()
            if req.method == "HEAD":
                send_all(sock, response(status, b"", headers, length=len(body)))
            else:
                send_all(sock, response(status, body, headers))
        finish(sock, group.stopping)

    def _hostile(self, sock: socket.socket, group: ServerGroup, path: str) -> None:
        stop = group.stopping
        if path == "/hostile/redirect-loop":
            send_all(sock, response(302, b"", {"Location": "/hostile/redirect-loop"}))
            finish(sock, stop)
        elif path == "/hostile/big":
            # 10 MB, streamed: a fetcher must give up after its own limit
            if not send_all(sock, response(200, b"", {"Content-Type": "application/octet-stream"},
                                           length=BIG_BODY)):
                return
            chunk = b"\0" * 65536
            sent = 0
            while sent < BIG_BODY and not stop.is_set():
                if not send_all(sock, chunk[: BIG_BODY - sent]):
                    return
                sent += len(chunk)
            finish(sock, stop)
        elif path == "/hostile/stall":
            # headers promise a body that never comes
            if send_all(sock, response(200, b"", {"Content-Type": "application/pkix-cert"},
                                       length=4096)):
                hold(sock, stop, HOLD_MAX)
        elif path == "/hostile/slow-drip":
            n = int(HOLD_MAX)
            if not send_all(sock, response(200, b"", {"Content-Type": "application/pkix-cert"},
                                           length=n)):
                return
            for _ in range(n):
                if not send_all(sock, b"."):
                    return
                if stop.wait(1.0):
                    return
            finish(sock, stop)


# --------------------------------------------------------------------------- intercepting proxy

MintFn = Callable[[str], ssl.SSLContext]


class InterceptingProxy:
    """An HTTP proxy that intercepts TLS like a corporate middlebox.

    ``CONNECT host:port`` gets ``200 Connection established``; the proxy then does the TLS
    handshake itself with a leaf minted for ``host`` (by ``mint(host)``, signed by its own
    root, sent as leaf + root), reads the request and answers it itself. It never connects
    anywhere. Absolute-form ``GET http://…`` requests are answered the same way, in clear.
    """

    def __init__(self, mint: MintFn) -> None:
        self._mint = mint

    def __call__(self, conn: Conn, group: ServerGroup) -> None:
        sock = conn.sock
        req = read_request(sock, group.stopping)
        if req is None:
            return
        if req.method != "CONNECT":
            host = req.target
            body = f"certdoctor lab intercepting proxy answered {host} itself\n".encode()
            send_all(sock, response(200, body))
            finish(sock, group.stopping)
            return
        host = _connect_host(req.target)
        if host is None:
            send_all(sock, response(400, b"bad CONNECT target\n"))
            finish(sock, group.stopping)
            return
        try:
            ctx = self._mint(host)
        except Exception:
            send_all(sock, response(502, b"could not mint a certificate\n"))
            finish(sock, group.stopping)
            return
        if not send_all(sock, b"HTTP/1.1 200 Connection established\r\n\r\n"):
            return
        tls = server_handshake(ctx, conn, group)
        if tls is None:
            return
        inner = read_request(tls, group.stopping)
        if inner is None:
            return
        body = (f"certdoctor lab intercepting proxy: intercepted {host} "
                f"({inner.method} {inner.target})\n").encode()
        send_all(tls, response(200, body, {"Via": "1.1 certdoctor-lab-intercept"}))
        finish(tls, group.stopping)


def _connect_host(target: str) -> str | None:
    """``host`` from ``host:port`` / ``[v6]:port``; ``None`` if it is not a sane name."""
    if target.startswith("["):
        host, sep, rest = target[1:].partition("]")
        if not sep:
            return None
    else:
        host, _, _ = target.rpartition(":") if ":" in target else (target, "", "")
    host = host.strip().rstrip(".").lower()
    if not host or len(host) > 253:
        return None
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-._:*")
    if not set(host) <= allowed:
        return None
    return host


__all__ = [
    "Conn",
    "ServerGroup",
    "HelperHTTP",
    "InterceptingProxy",
    "Request",
    "tls_handler",
    "plain_http_handler",
    "stall_handler",
    "response",
    "read_request",
]
