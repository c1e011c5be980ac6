"""Capture what a TLS server presents: one handshake, no verification, no application data.

    >>> from certdoctor.net.probe import probe, probe_many, fetch_chain
    >>> result = probe("example.org")                        # doctest: +SKIP
    >>> result.failure is None, result.tls_version, result.alpn   # doctest: +SKIP
    (True, 'TLSv1.3', 'h2')
    >>> [c.subject.rfc4514_string() for c in result.certificates()]   # doctest: +SKIP
    >>> results = probe_many(["a.example:443", ("b.example", 8443)], concurrency=64)  # doctest: +SKIP

**This is the only module of certdoctor that turns certificate verification off**
(``CERT_NONE``). It does so for one purpose: to *read* the chain a server presents even
when that chain does not verify, because that chain is what certdoctor diagnoses. Nothing
is ever sent through the connection: no HTTP request, no byte of application data; the
connection is closed right after the handshake (and, in TLS 1.3, a short bounded wait for
the server's post-handshake messages, during which we only *read*).

Why the stdlib ``ssl`` (through a memory BIO) and not pyOpenSSL for the handshake:

* it is the same OpenSSL build, the same defaults (TLS ≥ 1.2, ``@SECLEVEL=2`` ciphers) and
  the same error text (``[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:N)``) as
  the requests/httpx/urllib/pip that the user runs; pyOpenSSL links cryptography's own
  OpenSSL (4.x here, against the system 3.0), so it would negotiate and word errors
  differently from the client being diagnosed, and it pins ``cryptography`` to a narrow
  range;
* a memory BIO puts every byte through our hands: each wait has a deadline, the bytes read
  are capped (a hostile 10 MB "chain" stops at ``max_bytes``), and the server's plaintext
  handshake records can be read, which tells TLS 1.2 mutual TLS (a ``CertificateRequest``
  was sent) from a cipher mismatch without a second guess;
* the chain comes from ``get_unverified_chain()``: public on Python ≥ 3.13, the private
  ``SSLObject._sslobj.get_unverified_chain()`` on 3.10–3.12 (it exists there; only its
  name is private), with the leaf alone as the last fallback.

The one thing the stdlib cannot do is ask for a stapled OCSP response (it has no
``status_request`` API). ``probe(..., ocsp=True)`` therefore runs one extra handshake with
pyOpenSSL *only to read the staple*, when pyOpenSSL is installed (optional dependency);
``ocsp_staple`` is ``None`` when nothing was stapled or it was not asked for
(``ocsp_requested`` says which).

No global state: each probe builds its own context and socket, so probes can run in
thousands of threads at once (``probe_many`` uses a thread pool).
"""

from __future__ import annotations


import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from certdoctor import policy
from certdoctor.errors import InputError, NetworkError, UsageError
from certdoctor.model import Actor, Code, Finding, Severity
from certdoctor.net.proxy import HEADER_LIMIT, redact
from certdoctor.net.proxy import authority as proxy_authority

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.proxy import Proxy
    import socket
    import ssl

    from cryptography import x509

DEFAULT_TIMEOUT = policy.TIMEOUT_SECONDS
DEFAULT_MAX_BYTES = policy.PROBE_MAX_BYTES  # 1 MiB: real chains are < 20 KiB; OpenSSL itself stops at 100 KiB
POST_HANDSHAKE_WAIT = 0.5  # upper bound of the TLS 1.3 wait for a certificate_required alert
ALPN_OFFER = ("h2", "http/1.1")
_HEAD_KEEP = 64  # first bytes of the answer kept as evidence for NOT_TLS

# OpenSSL reason codes (``SSLError.reason``) grouped by what they mean for the user.
_VERSION_REASONS = frozenset({
    "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW", "WRONG_SSL_VERSION", "UNKNOWN_PROTOCOL", "TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
})
_HANDSHAKE_FAILURE_REASONS = frozenset({
    "SSLV3_ALERT_HANDSHAKE_FAILURE", "NO_SHARED_CIPHER", "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM", "NO_SHARED_SIGNATURE_ALGORITHMS",
    "NO_SHARED_GROUPS", "WRONG_CIPHER_RETURNED",
})
_CLIENT_CERT_REASONS = frozenset({
    "TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE", "TLSV1_ALERT_ACCESS_DENIED",
})
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST",
                              "PACKET_LENGTH_TOO_LONG", "RECORD_LENGTH_MISMATCH"})

_HS_SERVER_HELLO = 2
_HS_CERTIFICATE_REQUEST = 13


# --------------------------------------------------------------------------- result

@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one handshake showed.

    ``chain_der`` is the chain exactly as the server sent it (order kept, leaf first as
    sent; empty when no handshake got that far). ``tls_version``/``cipher``/``alpn`` are
    ``None`` when unknown. When ``failure`` is ``TLS_VERSION`` or ``CIPHER_MISMATCH`` and
    the server accepted a second handshake with legacy settings (TLS 1.0+, ``@SECLEVEL=0``),
    the chain, version and cipher come from that handshake: they show what the server
    speaks, which Python's default client refuses.

    ``address`` is the IP address of the server connected to (``None`` when unknown, e.g.
    through a proxy that resolved the name itself). ``proxy`` is the proxy URL without
    credentials. ``client_cert_requested`` is ``True`` when a TLS 1.2 server sent a
    CertificateRequest, ``False`` when it did not, ``None`` when it can't be seen (TLS 1.3
    encrypts it; a failed TLS 1.3 client-certificate check sets ``failure`` instead).
    ``ocsp_staple`` is the DER OCSP response the server stapled, ``None`` if none was
    stapled or ``ocsp_requested`` is ``False`` (see :func:`probe`). ``failure`` is ``None``
    when the handshake worked; otherwise one ``Finding`` with severity ERROR.
    """

    host: str
    port: int
    servername: str | None
    address: str | None
    chain_der: tuple[bytes, ...] = field(default=(), repr=False)
    tls_version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    ocsp_staple: bytes | None = field(default=None, repr=False)
    failure: Finding | None = None
    elapsed: float = 0.0
    proxy: str | None = None
    client_cert_requested: bool | None = None
    ocsp_requested: bool = False
    bytes_received: int = 0

    @property
    def ok(self) -> bool:
        """``True`` when the handshake completed and nothing failed."""
        return self.failure is None

    def certificates(self) -> "tuple[x509.Certificate, ...]":
        """The presented chain parsed by ``cryptography``, in the order sent.

        Raises ``InputError`` naming the host and position when one cannot be parsed.
        """
        from cryptography import x509

        out = []
        for i, der in enumerate(self.chain_der):
            try:
                out.append(x509.load_der_x509_certificate(der))
            except Exception as exc:
                from certdoctor.x509.load import unsupported_part

                part = unsupported_part(der)
                if part is not None:  # OpenSSL reads it: name the part, never "malformed"
                    raise InputError(
                        f"certificate #{i} presented by {self.host}:{self.port}: {part[0]}",
                        "Its operator must have it reissued. `openssl s_client -connect "
                        f"{self.host}:{self.port} -showcerts` shows the chain, and `openssl x509 -noout -text` "
                        "the fields of each certificate.",
                    ) from exc
                raise InputError(
                    f"certificate #{i} presented by {self.host}:{self.port} cannot be parsed: {exc}",
                    "the server sends a malformed certificate; its operator must replace it",
                ) from exc
        return tuple(out)


# --------------------------------------------------------------------------- internals

class _Fail(Exception):
    """Internal: carries the finding that ends a probe."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.summary)
        self.finding = finding


class _TooMuch(Exception):
    """Internal: the peer sent more than the byte cap."""


class _Deadline(Exception):
    """Internal: a bounded wait ran out."""


@dataclass(slots=True)
class _Target:
    host: str
    port: int
    servername: str | None
    address: str | None
    proxy: str | None  # as given (may hold credentials; never printed)
    timeout: float
    max_bytes: int

    def evidence(self, *extra: str, address: str | None = None) -> tuple[str, ...]:
        lines = [f"host: {self.host}", f"port: {self.port}"]
        addr = address or self.address
        if addr:
            lines.append(f"address: {addr}")
        lines.append(f"servername (SNI): {self.servername or '(none sent)'}")
        if self.proxy:
            lines.append(f"proxy: {redact(self.proxy)}")
        lines.extend(e for e in extra if e)
        return tuple(lines)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _finding(code: Code, summary: str, *, explanation: str = "", evidence: tuple[str, ...] = (),
             fix: str = "", who: Actor = Actor.NOBODY) -> Finding:
    return Finding(code=code, severity=Severity.ERROR, summary=summary, explanation=explanation,
                   evidence=evidence, fix=fix, who=who)


def _err_text(exc: BaseException) -> str:
    """The text a user sees for an exception: ``SSLError`` keeps its ``[SSL: X] …`` form."""
    text = str(exc)
    if not text:
        text = type(exc).__name__
    return text


class _Count:
    """What a wire (the socket ``_Wire``, asyncio's ``aprobe._AWire``) keeps, without I/O: the
    deadline every wait is bounded by, the bytes received against ``limit``, the first
    ``_HEAD_KEEP`` of them (to tell what answered) and bytes handed back (``pending``)."""

    __slots__ = ("deadline", "limit", "received", "head", "pending")

    def __init__(self, deadline: float, limit: int) -> None:
        self.deadline = deadline
        self.limit = limit
        self.received = 0
        self.head = bytearray()
        self.pending = bytearray()

    def _left(self, until: float | None = None) -> float:
        end = self.deadline if until is None else min(self.deadline, until)
        left = end - time.monotonic()
        if left <= 0:
            raise _Deadline()
        return left

    def _room(self) -> int:
        """How much the next read may ask for (one byte past the limit, to notice it)."""
        return min(65536, self.limit - self.received + 1)

    def _pending(self) -> bytes | None:
        if not self.pending:
            return None
        data = bytes(self.pending)
        self.pending.clear()
        return data

    def _counted(self, data: bytes) -> bytes:
        self.received += len(data)
        if len(self.head) < _HEAD_KEEP:
            self.head += data[: _HEAD_KEEP - len(self.head)]
        if self.received > self.limit:
            raise _TooMuch()
        return data


class _Wire(_Count):
    """A connected socket whose every wait is bounded and whose reads are counted."""

    __slots__ = ("sock",)

    def __init__(self, sock: "socket.socket", deadline: float, limit: int) -> None:
        super().__init__(deadline, limit)
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.settimeout(self._left())
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise _Deadline() from exc

    def recv(self, until: float | None = None) -> bytes:
        data = self._pending()
        if data is None:
            self.sock.settimeout(self._left(until))
            try:
                data = self.sock.recv(self._room())
            except TimeoutError as exc:
                raise _Deadline() from exc
        return self._counted(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass


class _Flight:
    """Reads the server's plaintext records: is it TLS at all, which handshake messages came.

    Stops at the first non-handshake record (ChangeCipherSpec, encrypted data, an alert):
    after that everything is encrypted. In TLS 1.2 the server's whole first flight
    (ServerHello … CertificateRequest, ServerHelloDone) is plaintext; in TLS 1.3 only the
    ServerHello is.
    """

    __slots__ = ("buf", "active", "not_tls", "hs_types", "alert", "_hdr", "_skip")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.active = True
        self.not_tls: bool | None = None
        self.hs_types: list[int] = []
        self.alert: tuple[int, int] | None = None
        self._hdr = bytearray()
        self._skip = 0

    def feed(self, data: bytes) -> None:
        if not self.active or not data:
            return
        self.buf += data
        while self.active and len(self.buf) >= 5:
            ctype, major = self.buf[0], self.buf[1]
            length = int.from_bytes(self.buf[3:5], "big")
            if self.not_tls is None:
                self.not_tls = not (20 <= ctype <= 24 and major == 3 and length <= 18432)
                if self.not_tls:
                    self.active = False
                    break
            if len(self.buf) < 5 + length:
                break
            payload = bytes(self.buf[5 : 5 + length])
            del self.buf[: 5 + length]
            if ctype == 22:
                self._handshake(payload)
            elif ctype == 21 and len(payload) >= 2:
                self.alert = (payload[0], payload[1])
                self.active = False
            else:
                self.active = False
        if not self.active:
            self.buf.clear()

    def _handshake(self, payload: bytes) -> None:
        i = 0
        n = len(payload)
        while i < n:
            if self._skip:
                take = min(self._skip, n - i)
                self._skip -= take
                i += take
                continue
            take = min(4 - len(self._hdr), n - i)
            self._hdr += payload[i : i + take]
            i += take
            if len(self._hdr) == 4:
                if len(self.hs_types) < 32:
                    self.hs_types.append(self._hdr[0])
                self._skip = int.from_bytes(self._hdr[1:4], "big")
                self._hdr.clear()

    @property
    def server_hello(self) -> bool:
        return _HS_SERVER_HELLO in self.hs_types

    @property
    def certificate_request(self) -> bool:
        return _HS_CERTIFICATE_REQUEST in self.hs_types


class _Framer:
    """Counts complete TLS records in a byte stream (post-handshake: all encrypted)."""

    __slots__ = ("hdr", "need", "records")

    def __init__(self) -> None:
        self.hdr = bytearray()
        self.need = 0
        self.records = 0

    def feed(self, data: bytes) -> bool:
        """Feed bytes; ``True`` when the stream ends exactly on a record boundary."""
        i, n = 0, len(data)
        while i < n:
            if self.need:
                take = min(self.need, n - i)
                self.need -= take
                i += take
                if not self.need:
                    self.records += 1
                continue
            take = min(5 - len(self.hdr), n - i)
            self.hdr += data[i : i + take]
            i += take
            if len(self.hdr) == 5:
                self.need = int.from_bytes(self.hdr[3:5], "big")
                self.hdr.clear()
                if not self.need:
                    self.records += 1
        return not self.need and not self.hdr


@dataclass(slots=True)
class _Outcome:
    """One TLS attempt: what came back, and how it ended."""

    wire: _Wire | None = None
    address: str | None = None
    chain: tuple[bytes, ...] = ()
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    error: BaseException | None = None
    phase: str = "handshake"  # "handshake" or "after-handshake"
    after: str | None = None  # TLS 1.3 wait: "alert", "eof", "reset", "closed", "ticket", "data", "quiet"
    flight: _Flight = field(default_factory=_Flight)
    rtt: float | None = None


# --------------------------------------------------------------------------- connecting

def _resolve(host: str, port: int, deadline: float) -> list[tuple]:
    """``getaddrinfo`` with a deadline: it runs in a daemon thread we stop waiting for.

    The lookup goes through ``socket.getaddrinfo`` at call time, so in-process overrides
    (``certdoctor.net.resolve``, the lab's ``resolving()``) apply; the context is copied in case
    an override is a context variable.
    """
    import contextvars
    import socket
    import threading

    if _is_ip(host):
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["v"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["e"] = exc
        finally:
            done.set()

    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(work,), daemon=True, name="certdoctor-resolve").start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise _Deadline()
    if "e" in box:
        raise box["e"]
    seen, out = set(), []
    for info in box["v"]:
        if info[4] not in seen:
            seen.add(info[4])
            out.append(info)
    return out


def _connect(infos: list[tuple], deadline: float) -> tuple["socket.socket", str]:
    """Connect to the first address that answers; the last error is raised."""
    import socket

    last: BaseException | None = None
    for n, (family, type_, proto, _cn, sockaddr) in enumerate(infos):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        share = left if n == len(infos) - 1 else max(left / (len(infos) - n), min(left, 2.0))
        sock = socket.socket(family, type_, proto)
        try:
            sock.settimeout(share)
            sock.connect(sockaddr)
        except BaseException as exc:
            sock.close()
            last = exc
            continue
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover
            pass
        return sock, str(sockaddr[0])
    if last is None:
        raise _Deadline()
    raise last


def _direct(t: _Target, deadline: float) -> tuple[_Wire, str]:
    """A TCP connection to the target (or ``t.address``); failures become findings."""
    host = t.address or t.host
    try:
        infos = _resolve(host, t.port, deadline)
    except Exception as exc:  # noqa: BLE001 - classified (a resolver timeout, gaierror, UnicodeError)
        failure = _dns_failure(t, None if isinstance(exc, _Deadline) else exc)
        if failure is None:
            raise
        raise _Fail(failure) from None
    try:
        sock, addr = _connect(infos, deadline)
    except Exception as exc:  # noqa: BLE001
        failure = _connect_failure(t, None if isinstance(exc, _Deadline) else exc,
                                   [info[4][0] for info in infos])
        if failure is None:
            raise
        raise _Fail(failure) from None
    return _Wire(sock, deadline, t.max_bytes), addr


def _dns_failure(t: _Target, exc: BaseException | None) -> Finding | None:
    """The finding of a name that did not resolve (``exc``), or did not in time (``None``);
    ``None`` for an exception that is not a resolver's (the caller re-raises it). Shared by the
    async driver (:mod:`certdoctor.net.aprobe`)."""
    import socket

    host = t.address or t.host
    if exc is None:
        return _finding(
            Code.DNS_FAILURE, f"resolving {t.host} took longer than {t.timeout:g} s",
            explanation="The system resolver did not answer in time, so no connection was tried.",
            evidence=t.evidence(f"error: no answer from the resolver within {t.timeout:g} s"),
            fix="Check the DNS servers this machine uses (VPN, /etc/resolv.conf); to test a server "
                "by IP, pass address= (CLI: --resolve HOST:ADDR).",
            who=Actor.NETWORK_ADMIN)
    if isinstance(exc, (socket.gaierror, UnicodeError)):
        return _finding(
            Code.DNS_FAILURE, f"{host} does not resolve to an address",
            explanation=f"The system resolver could not find {host} ({_err_text(exc)}). "
                        "No connection, and no TLS, was tried.",
            evidence=t.evidence(f"error: {type(exc).__name__}: {_err_text(exc)}"),
            fix="Check the spelling of the host name. For an internal name, check the VPN and the "
                "DNS servers configured; to test a server by IP, pass address= (CLI: --resolve HOST:ADDR).",
            who=Actor.CLIENT_USER)
    return None


def _connect_failure(t: _Target, exc: BaseException | None, addrs: list[str]) -> Finding | None:
    """The finding of a TCP connect that failed with ``exc`` (``None``: the deadline ran out) to
    one of ``addrs`` (the addresses tried, in order); ``None`` for an exception that is not a
    connect failure (the caller re-raises it). Shared by the async driver."""
    if exc is None:
        return _timeout_connect(t, None)
    if isinstance(exc, TimeoutError):
        return _timeout_connect(t, addrs[0] if addrs else None)
    if isinstance(exc, ConnectionRefusedError):
        addr = addrs[-1] if addrs else (t.address or t.host)
        return _finding(
            Code.CONNECTION_REFUSED, f"{t.host}:{t.port} refused the connection: nothing listens there",
            explanation=f"The TCP connection to {addr} port {t.port} was actively refused: no service "
                        "accepts connections on that port, or a firewall rejects them.",
            evidence=t.evidence(f"error: ConnectionRefusedError: {_err_text(exc)}", address=addr),
            fix=f"Check the port (HTTPS is 443). If {t.port} is right, the server operator must start "
                "the service or open the port in the firewall.",
            who=Actor.SERVER_OPERATOR)
    if isinstance(exc, OSError):
        addr = addrs[-1] if addrs else None
        return _finding(
            Code.CONNECT_FAILED, f"no TCP connection to {t.host}:{t.port}",
            explanation=f"Connecting failed with {type(exc).__name__}: {_err_text(exc)} "
                        "(no route, network unreachable, or the address is not usable here).",
            evidence=t.evidence(f"error: {type(exc).__name__}: {_err_text(exc)}", address=addr),
            fix="Check the network path: VPN, routes, firewall; if this network needs a proxy, "
                "pass proxy= (or set HTTPS_PROXY).",
            who=Actor.NETWORK_ADMIN)
    return None


def _timeout_connect(t: _Target, addr: str | None) -> Finding:
    return _finding(
        Code.TIMEOUT, f"no TCP connection to {t.host}:{t.port} within {t.timeout:g} s",
        explanation="The connection attempt was never answered: a firewall dropping packets, a "
                    "wrong address, or a host that is down.",
        evidence=t.evidence(f"error: connect timed out after {t.timeout:g} s", address=addr),
        fix="Check the network path (VPN, firewall). If this network only reaches the Internet "
            "through a proxy, pass proxy= (or set HTTPS_PROXY).",
        who=Actor.NETWORK_ADMIN)


_PROXY_SCHEME_EXPLANATION = (
    "The scheme of a proxy URL describes the hop to the proxy, not to the target. Most proxies "
    "(Squid, corporate gateways) take plain-HTTP CONNECT requests, so their URL is http://. Since "
    "urllib3 1.26, an https:// proxy URL makes requests/pip start TLS to the proxy itself, which "
    "fails with: requests.exceptions.ProxyError: … (Caused by ProxyError('Unable to connect to "
    "proxy. Your proxy appears to only use HTTP and not HTTPS, try changing your proxy URL to be "
    "HTTP. …', SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:N)')))); "
    "httpx says httpx.ConnectError: [SSL: WRONG_VERSION_NUMBER] wrong version number."
)


def _parse_proxy(t: _Target) -> "Proxy":
    from certdoctor.net.proxy import parse_proxy

    return parse_proxy(t.proxy or "")


def _via_proxy(t: _Target, deadline: float) -> tuple[_Wire, str | None]:
    """HTTP CONNECT through ``t.proxy``; returns a wire positioned at the tunnel's start."""
    import socket

    from certdoctor.net.proxy import connect_request, parse_connect_reply

    px = _parse_proxy(t)
    phost, pport, where = px.host, px.port, px.where
    if px.scheme == "https":
        raise _Fail(_https_proxy_finding(t, phost, pport, deadline))
    try:
        infos = _resolve(phost, pport, deadline)
        sock, paddr = _connect(infos, deadline)
    except (_Deadline, TimeoutError):
        raise _Fail(_proxy_finding(t, f"the proxy {where} did not accept a connection within {t.timeout:g} s",
                                   "error: timed out")) from None
    except socket.gaierror as exc:
        raise _Fail(_proxy_finding(t, f"the proxy host {phost} does not resolve",
                                   f"error: socket.gaierror: {_err_text(exc)}")) from exc
    except OSError as exc:
        raise _Fail(_proxy_finding(t, f"the proxy {where} could not be reached",
                                   f"error: {type(exc).__name__}: {_err_text(exc)}")) from exc
    wire = _Wire(sock, deadline, t.max_bytes)
    target = t.address or t.host
    try:
        request = connect_request(px, target, t.port, "certdoctor-probe")
    except UnicodeError as exc:
        wire.close()
        raise _Fail(_proxy_finding(t, f"{target!r} cannot be named in CONNECT", f"error: {exc}", paddr)) from None
    authority = proxy_authority(target, t.port)
    try:
        wire.send(request)
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            if len(buf) > HEADER_LIMIT:
                raise _Fail(_proxy_finding(t, f"the proxy {where} sent more than 64 KiB of headers "
                                              "in reply to CONNECT", "error: header limit exceeded", paddr))
            data = wire.recv()
            if not data:
                raise _Fail(_proxy_finding(t, f"the proxy {where} closed the connection in reply to CONNECT",
                                           "error: EOF before a status line", paddr))
            buf += data
    except _Fail:
        wire.close()
        raise
    except (_Deadline, _TooMuch, OSError) as exc:
        wire.close()
        what = "did not answer CONNECT in time" if isinstance(exc, _Deadline) else "failed during CONNECT"
        raise _Fail(_proxy_finding(t, f"the proxy {where} {what}",
                                   f"error: {type(exc).__name__}: {_err_text(exc)}", paddr)) from None
    reply = parse_connect_reply(bytes(buf))
    status_line, rest, ok = reply.status_line, reply.rest, reply.ok
    parts = status_line.split(None, 2)
    if not ok:
        wire.close()
        if not status_line.startswith("HTTP/"):
            summary = f"the proxy {where} did not answer CONNECT with HTTP"
        elif len(parts) >= 2 and parts[1] == "407":
            summary = f"the proxy {where} requires authentication (407)"
        else:
            summary = f"the proxy {where} refused to CONNECT to {authority}"
        raise _Fail(_proxy_finding(t, summary, f"proxy answered: {status_line[:200]!r}", paddr,
                                   status=parts[1] if len(parts) >= 2 else None))
    wire.head.clear()
    wire.received = 0
    wire.pending += rest  # tunnel bytes that came with the headers: counted when served
    return wire, None if not t.address else t.address


def _proxy_finding(t: _Target, summary: str, detail: str, proxy_address: str | None = None, *,
                   status: str | None = None) -> Finding:
    if status == "407":
        fix = ("Give the proxy credentials (http://USER:PASS@proxy:port, URL-encoded), or ask the "
               "network admin which authentication the proxy expects.")
    elif status in ("403", "405"):
        fix = ("The proxy policy forbids tunnelling to this host or port: ask the network admin to "
               "allow it, or check that you are using the right proxy.")
    else:
        fix = ("Check the proxy URL and port (HTTPS_PROXY / proxies=) and that the proxy is up; "
               "the network admin runs it.")
    return _finding(Code.PROXY_ERROR, summary,
                    explanation="The target was never reached: the failure is between this machine "
                                "and the proxy, before any TLS with the target.",
                    evidence=t.evidence(detail, f"proxy address: {proxy_address}" if proxy_address else ""),
                    fix=fix, who=Actor.NETWORK_ADMIN)


def _https_proxy_finding(t: _Target, phost: str, pport: int, deadline: float) -> Finding:
    """``https://`` proxy URL: explain PROXY_SCHEME_HTTPS, checking whether the proxy speaks TLS."""
    extra = "the proxy was not checked"
    probe_t = _Target(phost, pport, None if _is_ip(phost) else phost, None, None,
                      t.timeout, t.max_bytes)
    out = _attempt(probe_t, deadline, legacy=False, post_wait=False)
    if out.wire is not None:
        out.wire.close()
    if isinstance(out.error, _Fail):
        extra = f"the proxy could not be reached: {out.error.finding.summary}"
    elif out.error is not None and (out.flight.not_tls or getattr(out.error, "reason", None) in _NOT_TLS_REASONS):
        extra = (f"the proxy {phost}:{pport} answered a TLS ClientHello in plain text "
                 f"({_err_text(out.error)}): it is an HTTP proxy, so its URL must be http://")
    elif out.error is None:
        extra = (f"the proxy {phost}:{pport} does speak TLS ({out.version}); certdoctor's probe only "
                 "tunnels through plain-HTTP proxies")
    else:
        extra = f"a TLS handshake with the proxy failed: {_err_text(out.error)}"
    return _finding(
        Code.PROXY_ERROR, f"the proxy URL uses https:// ({redact(t.proxy or '')})",
        explanation=_PROXY_SCHEME_EXPLANATION,
        evidence=t.evidence(f"check: {extra}"),
        fix=f"Use HTTPS_PROXY=http://{phost}:{pport} (proxies={{'https': 'http://{phost}:{pport}'}}): "
            "the scheme describes the hop to the proxy. Keep https:// only for a proxy that really "
            "terminates TLS itself, and then trust its certificate.",
        who=Actor.CLIENT_USER)


# --------------------------------------------------------------------------- TLS

def _context(legacy: bool) -> "ssl.SSLContext":
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # Python's client defaults: TLS >= 1.2, SECLEVEL 2
    # CERT_NONE: the one place certdoctor allows it. We must read the chain the server
    # presents even when it does not verify (that is what we diagnose), and we send no
    # application data over this connection, so nothing is exposed to an impostor.
    ctx.check_hostname = False  # certdoctor: ignore[CHECK_HOSTNAME_OFF]
    ctx.verify_mode = ssl.CERT_NONE  # certdoctor: ignore[CERT_NONE]
    ctx.set_alpn_protocols(list(ALPN_OFFER))
    if legacy:
        # Only to learn what a server that refuses Python's defaults does speak.
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.set_ciphers("ALL:@SECLEVEL=0")  # certdoctor: ignore[WEAK_CIPHERS]
    return ctx


def _chain(obj: "ssl.SSLObject") -> tuple[bytes, ...]:
    import ssl

    getter = getattr(obj, "get_unverified_chain", None)  # public on 3.13+
    chain = None
    if getter is not None:
        chain = getter()
    else:
        inner = getattr(obj, "_sslobj", None)
        private = getattr(inner, "get_unverified_chain", None)  # 3.10-3.12
        if private is not None:
            chain = private()
    if chain:
        out = []
        for c in chain:
            if isinstance(c, (bytes, bytearray)):
                out.append(bytes(c))
            else:
                import _ssl

                out.append(c.public_bytes(_ssl.ENCODING_DER))
        return tuple(out)
    try:
        leaf = obj.getpeercert(binary_form=True)
    except (ValueError, ssl.SSLError):  # pragma: no cover
        leaf = None
    return (leaf,) if leaf else ()


def _attempt(t: _Target, deadline: float, *, legacy: bool, post_wait: bool = True) -> _Outcome:
    """Connect (direct or through the proxy) and run one handshake. Never raises for the network."""
    import ssl

    out = _Outcome()
    try:
        if t.proxy:
            wire, addr = _via_proxy(t, deadline)
        else:
            wire, addr = _direct(t, deadline)
    except _Fail as exc:
        out.error = exc
        return out
    out.wire, out.address = wire, addr
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        obj = _context(legacy).wrap_bio(incoming, outgoing, server_hostname=t.servername or None)
        hs = _Handshake(out, obj, incoming, outgoing)
        while (data := hs.step()) is not None:
            if data:
                wire.send(data)
                hs.sent()
            hs.received(wire.recv())
        if data := hs.finished():
            wire.send(data)
    except BaseException as exc:  # noqa: BLE001 - every outcome is data
        if not isinstance(exc, Exception):
            raise
        out.error = exc
        return out
    out.chain = _chain(obj)
    out.version = obj.version()
    cipher = obj.cipher()
    out.cipher = cipher[0] if cipher else None
    out.alpn = obj.selected_alpn_protocol()
    if post_wait and out.version == "TLSv1.3":
        _after_handshake(out, wire, obj, incoming)
    return out


class _Handshake:
    """The client handshake over memory BIOs without I/O, shared by :func:`probe` and the
    asyncio :mod:`certdoctor.net.aprobe`: :meth:`step` gives the bytes to send (``None`` once
    the handshake is done); send them, call :meth:`sent`, hand the next read to
    :meth:`received`; at the end send :meth:`finished` (our Finished). Records the round trip
    and the server's plaintext flight on ``out``."""

    def __init__(self, out: "_Outcome", obj: Any, incoming: Any, outgoing: Any) -> None:
        self.out, self.obj, self.incoming, self.outgoing = out, obj, incoming, outgoing
        self.sent_at: float | None = None

    def step(self) -> bytes | None:
        import ssl

        try:
            self.obj.do_handshake()
            return None
        except ssl.SSLWantReadError:
            return self.outgoing.read()

    def sent(self) -> None:
        if self.sent_at is None:
            self.sent_at = time.monotonic()

    def received(self, data: bytes) -> None:
        out = self.out
        if out.rtt is None and self.sent_at is not None:
            out.rtt = time.monotonic() - self.sent_at
        out.flight.feed(data)
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()

    def finished(self) -> bytes:
        return self.outgoing.read()


def _after_handshake(out: _Outcome, wire: _Wire, obj: "ssl.SSLObject", incoming: "ssl.MemoryBIO") -> None:
    """TLS 1.3: a server that wants a client certificate says so *after* our handshake is done.

    We only read, for at most ``POST_HANDSHAKE_WAIT`` seconds (less on a fast link): a
    ``certificate required`` alert or a close means mutual TLS; session tickets (whole
    records that carry no application data) mean the server accepted us, and end the wait.
    """
    wait = _AfterHandshake(out, obj, incoming)
    while True:
        try:
            data = wire.recv(until=wait.end)
        except (_Deadline, _TooMuch, OSError) as exc:
            wait.failed(exc)
            return
        if wait.received(data):
            return


class _AfterHandshake:
    """The TLS 1.3 post-handshake wait without I/O, shared by :func:`probe` and the asyncio
    :mod:`certdoctor.net.aprobe`: read until :attr:`end`, hand each read's bytes to
    :meth:`received` (``True``: done) or its error to :meth:`failed`; ``out.after`` (with
    ``out.error`` and ``out.phase``) then says what the server did."""

    def __init__(self, out: "_Outcome", obj: Any, incoming: Any) -> None:
        rtt = out.rtt or 0.05
        self.end = time.monotonic() + min(POST_HANDSHAKE_WAIT, max(0.25, 4 * rtt))
        self.out, self.obj, self.incoming, self.framer = out, obj, incoming, _Framer()

    def failed(self, exc: BaseException) -> None:
        """A read that ended the wait: a reset is mutual-TLS evidence; the deadline, too much data
        or any other socket error only stops reading (the handshake itself went through)."""
        if isinstance(exc, ConnectionResetError):
            self.out.after, self.out.error, self.out.phase = "reset", exc, "after-handshake"
        else:
            self.out.after = "quiet"

    def received(self, data: bytes) -> bool:
        import ssl

        out = self.out
        boundary = self.framer.feed(data)
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()
        try:
            got = self.obj.read(16384)
        except ssl.SSLWantReadError:
            if data and boundary and self.framer.records:
                out.after = "ticket"
                return True
            if not data:
                out.after, out.phase = "eof", "after-handshake"
                out.error = EOFError("the server closed the connection right after the handshake")
                return True
            return False
        except ssl.SSLZeroReturnError as exc:
            out.after, out.error, out.phase = "closed", exc, "after-handshake"
            return True
        except ssl.SSLEOFError as exc:
            out.after, out.error, out.phase = "eof", exc, "after-handshake"
            return True
        except ssl.SSLError as exc:
            out.after, out.error, out.phase = "alert", exc, "after-handshake"
            return True
        out.after = "data" if got else "closed"
        return True


def _staple(t: _Target, deadline: float) -> bytes | None:
    """One more handshake, with pyOpenSSL, only to ask for and read a stapled OCSP response.

    ``None`` when pyOpenSSL is missing, nothing was stapled, or the handshake failed (the
    main probe already reported why).
    """
    try:
        from OpenSSL import SSL
    except ImportError:
        return None
    try:
        wire, _addr = (_via_proxy if t.proxy else _direct)(t, deadline)
    except _Fail:
        return None
    box: list[bytes] = []
    try:
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        # VERIFY_NONE (CERT_NONE) for the same reason as the main probe: we read, we send nothing.
        ctx.set_verify(SSL.VERIFY_NONE)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)

        def on_ocsp(_conn: Any, data: bytes, _user: Any) -> bool:
            box.append(bytes(data))
            return True

        ctx.set_ocsp_client_callback(on_ocsp)
        conn = SSL.Connection(ctx, None)
        conn.set_connect_state()
        if t.servername:
            conn.set_tlsext_host_name(t.servername.encode("idna"))
        conn.request_ocsp()
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                pass
            _flush_pyopenssl(conn, wire)
            data = wire.recv()
            if data:
                conn.bio_write(data)
            else:
                conn.bio_shutdown()
    except Exception:  # noqa: BLE001 - the staple is best effort
        pass
    finally:
        wire.close()
    return box[0] if box and box[0] else None


def _flush_pyopenssl(conn: Any, wire: _Wire) -> None:
    from OpenSSL import SSL

    while True:
        try:
            chunk = conn.bio_read(65536)
        except SSL.WantReadError:
            return
        if not chunk:
            return
        wire.send(chunk)


# --------------------------------------------------------------------------- classification

def _reason(exc: BaseException | None) -> str | None:
    return getattr(exc, "reason", None) if exc is not None else None


def _classify(t: _Target, first: _Outcome, deadline: float) -> tuple[Finding | None, _Outcome]:
    """Turn the first attempt (and, when needed, one legacy retry) into a finding."""
    import ssl

    exc = first.error
    if exc is None:
        return None, first
    if isinstance(exc, _Fail):
        return exc.finding, first
    addr = first.address
    wire = first.wire
    got = wire.received if wire else 0
    text = _err_text(exc)
    err = f"error: {type(exc).__name__}: {text}" if not isinstance(exc, ssl.SSLError) else f"error: {text}"
    ev = lambda *x: t.evidence(*x, address=addr)  # noqa: E731
    reason = _reason(exc)
    flight = first.flight

    if first.phase == "after-handshake":
        if first.after == "alert" and reason not in _CLIENT_CERT_REASONS and reason not in _HANDSHAKE_FAILURE_REASONS:
            return _finding(
                Code.CONNECT_FAILED, f"{t.host}:{t.port} ended the connection right after the TLS handshake",
                explanation=f"The handshake completed ({first.version}), then the server sent: {text}.",
                evidence=ev(err, f"tls version: {first.version}"),
                fix="The server operator must look at why it rejects the connection (its logs name the "
                    "alert).", who=Actor.SERVER_OPERATOR), first
        hedge = ""
        if first.after != "alert":
            hedge = (" It closed the connection without an alert right after the handshake, before any "
                     "request; that is how a TLS 1.3 server requiring a client certificate behaves when "
                     "its alert is lost to the connection reset.")
        return _client_cert(t, first, ev(err or f"error: {first.after}", f"tls version: {first.version}"),
                            tls13=True, text=text, hedge=hedge), first

    if isinstance(exc, _TooMuch):
        return _finding(
            Code.CONNECT_FAILED, f"{t.host}:{t.port} sent more than {t.max_bytes} bytes during the handshake",
            explanation="certdoctor stops reading after that many bytes: no real certificate chain is that "
                        "large (OpenSSL itself refuses a certificate message over 100 KiB).",
            evidence=ev(f"error: more than {t.max_bytes} bytes received"),
            fix="This is not a normal TLS server; check the host and port.", who=Actor.SERVER_OPERATOR), first

    if isinstance(exc, _Deadline):
        if got == 0:
            summary = f"{t.host}:{t.port} accepted the connection but never answered the TLS ClientHello"
            explanation = (f"No byte came back within {t.timeout:g} s. A plain-HTTP server waiting for a "
                           "request line does this, as does a stalled server or a middlebox that drops TLS.")
            fix = ("Check that this port speaks TLS (use http:// if it is plain HTTP). If it should, the "
                   "server operator must look at the server; the network admin at filtering middleboxes.")
        else:
            summary = f"the TLS handshake with {t.host}:{t.port} stalled after {got} bytes"
            explanation = f"The server started answering, then sent nothing more within {t.timeout:g} s."
            fix = "The server operator must look at the server (overloaded, or a broken TLS terminator)."
        return _finding(Code.TIMEOUT, summary, explanation=explanation,
                        evidence=ev(f"error: handshake timed out after {t.timeout:g} s",
                                    f"bytes received: {got}"),
                        fix=fix, who=Actor.SERVER_OPERATOR), first

    head = bytes(wire.head) if wire else b""
    if flight.not_tls or (reason in _NOT_TLS_REASONS and not flight.hs_types):
        return _not_tls(t, head, err, ev), first

    if reason in _CLIENT_CERT_REASONS or (reason in _HANDSHAKE_FAILURE_REASONS and flight.certificate_request):
        return _client_cert(t, first, ev(err, "server sent: CertificateRequest" if flight.certificate_request else ""),
                            tls13=reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED", text=text), first

    if reason in _VERSION_REASONS or (reason in _HANDSHAKE_FAILURE_REASONS and not flight.server_hello):
        retry = _attempt(t, deadline, legacy=True, post_wait=False)
        if retry.wire is not None:
            retry.wire.close()
        legacy_ok = retry.error is None
        legacy_line = (f"legacy retry: the server completed a handshake with {retry.version} / {retry.cipher} "
                       "when TLS 1.0+ and all ciphers (@SECLEVEL=0) were offered") if legacy_ok else (
            f"legacy retry (TLS 1.0+, all ciphers): {_err_text(retry.error) if not isinstance(retry.error, _Fail) else retry.error.finding.summary}")
        use = retry if legacy_ok else first
        old_version = legacy_ok and retry.version in ("TLSv1", "TLSv1.1", "SSLv3")
        if reason in _VERSION_REASONS or old_version:
            return _tls_version(t, text, ev(err, legacy_line), retry if legacy_ok else None), use
        if legacy_ok or reason in _HANDSHAKE_FAILURE_REASONS:
            return _cipher_mismatch(t, text, ev(err, legacy_line), retry if legacy_ok else None), use

    if reason in ("TLSV1_UNRECOGNIZED_NAME", "TLSV1_ALERT_UNRECOGNIZED_NAME", "TLSV112_ALERT_UNRECOGNIZED_NAME"):
        return _finding(
            Code.CONNECT_FAILED, f"{t.host}:{t.port} does not serve the name {t.servername!r}",
            explanation=f"The server rejected the server name (SNI) in the ClientHello: {text}.",
            evidence=ev(err), fix="Check the host name; to reach a virtual host by IP, pass servername=.",
            who=Actor.CLIENT_USER), first

    if isinstance(exc, (ssl.SSLEOFError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)) or (
            isinstance(exc, ssl.SSLError) and "EOF" in text):
        if got == 0:
            summary = f"{t.host}:{t.port} closed the connection without answering the TLS ClientHello"
            explanation = ("The server (or something in between) hung up on the ClientHello: a firewall or "
                           "SNI filter, a service that does not speak TLS, or one that refuses this server name.")
        else:
            summary = f"{t.host}:{t.port} closed the connection during the TLS handshake"
            explanation = f"The connection ended after {got} bytes of handshake: {text}."
        return _finding(Code.CONNECT_FAILED, summary, explanation=explanation,
                        evidence=ev(err, f"bytes received: {got}"),
                        fix="Check host, port and server name; if they are right, the server operator (or "
                            "the network admin, for a filtering middlebox) must look at why it drops TLS.",
                        who=Actor.SERVER_OPERATOR), first

    return _finding(
        Code.CONNECT_FAILED, f"the TLS handshake with {t.host}:{t.port} failed",
        explanation=f"The handshake ended with: {text}. This happened before any certificate check "
                    "(the probe does not verify), so it is not a trust problem.",
        evidence=ev(err, f"bytes received: {got}"),
        fix="The server operator must look at the server's TLS configuration; the error names the cause.",
        who=Actor.SERVER_OPERATOR), first


def _not_tls(t: _Target, head: bytes, err: str, ev: Any) -> Finding:
    if head.startswith(b"HTTP/"):
        first_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        return _finding(
            Code.NOT_TLS, f"{t.host}:{t.port} speaks plain HTTP, not TLS",
            explanation=f"The server answered the TLS ClientHello with an HTTP response ({first_line!r}). "
                        "Every Python client reports this as [SSL: WRONG_VERSION_NUMBER] wrong version "
                        "number; it is not a certificate problem.",
            evidence=ev(err, f"first bytes: {head!r}"),
            fix=f"Use http:// for port {t.port}, or the server's TLS port (usually 443).",
            who=Actor.CLIENT_USER)
    return _finding(
        Code.NOT_TLS, f"{t.host}:{t.port} does not speak TLS",
        explanation="The server answered the TLS ClientHello with bytes that are not a TLS record "
                    f"({head[:32]!r}): another protocol listens on this port. Python clients report "
                    "this as [SSL: WRONG_VERSION_NUMBER] wrong version number.",
        evidence=ev(err, f"first bytes: {head!r}"),
        fix="Check the port: the TLS service is elsewhere (HTTPS is usually 443).",
        who=Actor.CLIENT_USER)


def _client_cert(t: _Target, out: _Outcome, evidence: tuple[str, ...], *, tls13: bool, text: str,
                 hedge: str = "") -> Finding:
    if tls13:
        explanation = ("The TLS 1.3 handshake completed, then the server rejected the connection because no "
                       f"client certificate was presented ({text}). In TLS 1.3 this surfaces at the first "
                       "read, so clients report it in two ways: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 "
                       "alert certificate required, or (when the alert is lost) EOF occurred in violation of "
                       "protocol." + hedge)
    else:
        explanation = ("The server asked for a client certificate (its CertificateRequest was seen) and, "
                       f"when none came, ended the handshake with {text}. That alert has the same text as a "
                       "cipher mismatch; the CertificateRequest is what tells them apart.")
    return _finding(
        Code.CLIENT_CERT_REQUIRED, f"{t.host}:{t.port} requires a client certificate (mutual TLS)",
        explanation=explanation, evidence=evidence,
        fix="Present your client certificate and key: requests cert=('client.pem', 'client.key'); httpx "
            "ctx = ssl.create_default_context(); ctx.load_cert_chain('client.pem', 'client.key') and "
            "verify=ctx; pip --client-cert client.pem (certificate and key in one PEM). Ask the server "
            "operator which CA must have issued it.",
        who=Actor.CLIENT_USER)


def _tls_version(t: _Target, text: str, evidence: tuple[str, ...], legacy: _Outcome | None) -> Finding:
    spoke = f" With legacy versions allowed it negotiated {legacy.version} ({legacy.cipher})." if legacy else ""
    return _finding(
        Code.TLS_VERSION, f"{t.host}:{t.port} does not speak TLS 1.2 or 1.3, the versions Python allows",
        explanation="Python >= 3.10 clients require TLS 1.2 or newer (minimum_version = TLSv1_2, OpenSSL "
                    f"security level 2); the server answered {text}.{spoke}",
        evidence=evidence,
        fix="The server operator must enable TLS 1.2 and 1.3. For one unpatchable appliance only: a dedicated "
            "context with ctx.minimum_version = ssl.TLSVersion.TLSv1 and ctx.set_ciphers('DEFAULT:@SECLEVEL=0') "
            "used for that host alone, never the global default.",
        who=Actor.SERVER_OPERATOR)


def _cipher_mismatch(t: _Target, text: str, evidence: tuple[str, ...], legacy: _Outcome | None) -> Finding:
    if legacy:
        detail = (f" When legacy suites were offered it chose {legacy.cipher} over {legacy.version}, which "
                  "Python's defaults do not offer (no RSA key exchange, no SHA-1 MACs, security level 2).")
    else:
        detail = (" It refused a legacy offer too, so the shared parameter missing may be another one "
                  "(signature algorithm, key-exchange group) or the server name sent "
                  f"({t.servername or 'none'}).")
    return _finding(
        Code.CIPHER_MISMATCH, f"{t.host}:{t.port} and Python share no cipher suite",
        explanation=f"The server rejected the ClientHello before choosing a cipher ({text}).{detail} The same "
                    "alert text appears when a TLS 1.2 server requires a client certificate; no "
                    "CertificateRequest was seen here.",
        evidence=evidence,
        fix="The server operator must enable ECDHE suites with AES-GCM or ChaCha20 (e.g. Mozilla's "
            "'intermediate' configuration). Client side, for that one host only, a dedicated SSLContext with "
            "ctx.set_ciphers(...) naming the server's suite, mounted through an adapter; never lower the "
            "global default.",
        who=Actor.SERVER_OPERATOR)


# --------------------------------------------------------------------------- public API

def _target(host: str, port: int, servername: str | None, address: str | None, proxy: str | None,
            timeout: float, max_bytes: int) -> _Target:
    if not isinstance(host, str) or not host.strip():
        raise UsageError("probe needs a host name or address", "pass e.g. probe('example.org', 443)")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise UsageError(f"port {port!r} for {host} is not a number", "use 1-65535") from None
    if not 0 < port < 65536:
        raise UsageError(f"port {port} for {host} is out of range", "use 1-65535")
    if address is not None:
        address = address.strip("[]")
        if not _is_ip(address):
            raise UsageError(f"address {address!r} for {host} is not an IP address",
                             "pass the IP to connect to, e.g. address='192.0.2.10'")
    if servername is None:
        servername = None if _is_ip(host) else host.rstrip(".")
    elif not servername:
        servername = None
    if servername:
        try:
            servername.encode("idna")
        except UnicodeError as exc:
            raise UsageError(f"server name {servername!r} is not a valid host name: {exc}",
                             "pass a DNS name as servername=") from exc
    if not timeout or timeout <= 0:
        raise UsageError(f"timeout {timeout!r} must be a positive number of seconds", "e.g. timeout=10")
    t = _Target(host, port, servername, address, proxy or None, float(timeout), int(max_bytes))
    if t.proxy:
        _parse_proxy(t)  # a malformed proxy URL is a UsageError before any connection
    return t


def probe(host: str, port: int = 443, *, servername: str | None = None, address: str | None = None,
          proxy: str | None = None, timeout: float = DEFAULT_TIMEOUT, ocsp: bool = False,
          max_bytes: int = DEFAULT_MAX_BYTES) -> ProbeResult:
    """One TLS handshake with ``host:port``; the presented chain even when it does not verify.

    ``servername`` is the SNI (default ``host``; none for an IP; ``""`` sends none).
    ``address`` connects to that IP instead of resolving ``host`` (through a proxy, it is
    the CONNECT target). ``proxy`` is an ``http://[user:pass@]host:port`` proxy tunnelled
    with CONNECT. ``timeout`` bounds the whole probe (DNS, connect, CONNECT, handshake and
    the ≤ 0.5 s TLS 1.3 post-handshake wait); ``max_bytes`` caps the bytes read from the
    server. ``ocsp=True`` adds one pyOpenSSL handshake to read a stapled OCSP response.

    Network failures never raise: they are the result's ``failure``. Bad arguments raise
    ``UsageError``.

        >>> r = probe("127.0.0.1", 1)                       # doctest: +SKIP
        >>> r.failure.code
        <Code.CONNECTION_REFUSED: 'CONNECTION_REFUSED'>
    """
    started = time.monotonic()
    t = _target(host, port, servername, address, proxy, timeout, max_bytes)
    deadline = started + t.timeout
    from certdoctor.net.deadline import current

    command = current()  # never beyond the running command's whole-run deadline (--timeout)
    if command is not None:
        deadline = min(deadline, max(started + 0.05, command.end))
    first = _attempt(t, deadline, legacy=False)
    try:
        failure, used = _classify(t, first, deadline)
    finally:
        if first.wire is not None:
            first.wire.close()
    staple = None
    if ocsp and first.error is None:
        staple = _staple(t, deadline)
    cert_req: bool | None = None
    if used.flight.hs_types and used.version != "TLSv1.3":
        cert_req = used.flight.certificate_request
    elif failure is not None and failure.code is Code.CLIENT_CERT_REQUIRED:
        cert_req = True
    wire = first.wire
    return ProbeResult(
        host=t.host, port=t.port, servername=t.servername,
        address=used.address or first.address,
        chain_der=used.chain, tls_version=used.version, cipher=used.cipher, alpn=used.alpn,
        ocsp_staple=staple, failure=failure, elapsed=round(time.monotonic() - started, 6),
        proxy=redact(t.proxy) if t.proxy else None, client_cert_requested=cert_req,
        ocsp_requested=bool(ocsp), bytes_received=wire.received if wire else 0,
    )


def fetch_staple(host: str, port: int = 443, *, servername: str | None = None, address: str | None = None,
                 proxy: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
    """The OCSP response ``host:port`` staples (DER), from one pyOpenSSL handshake of its own;
    ``None`` when nothing was stapled, pyOpenSSL is missing or the handshake failed. This is
    the extra handshake of ``probe(..., ocsp=True)``, for a caller that decides after the probe
    whether it is worth it (:func:`certdoctor.gather.gather`: only when the leaf names an OCSP
    responder, or the caller asks). ``timeout`` bounds it, within the running command's deadline."""
    started = time.monotonic()
    t = _target(host, port, servername, address, proxy, timeout, DEFAULT_MAX_BYTES)
    deadline = started + t.timeout
    from certdoctor.net.deadline import current

    command = current()
    if command is not None:
        deadline = min(deadline, max(started + 0.05, command.end))
    return _staple(t, deadline)


def _target_kwargs(item: Any) -> dict[str, Any]:
    """``"host"``, ``"host:port"``, ``"https://host:port/…"``, ``(host, port)`` or a mapping."""
    if isinstance(item, Mapping):
        if "host" not in item:
            raise UsageError(f"target {dict(item)!r} has no 'host'", "give host (and port) for each target")
        return dict(item)
    if isinstance(item, (tuple, list)):
        if not 1 <= len(item) <= 2:
            raise UsageError(f"target {item!r} is not (host, port)", "give (host, port) pairs")
        return {"host": item[0], "port": item[1] if len(item) == 2 else 443}
    if isinstance(item, str):
        from certdoctor.net.target import parse_target

        t = parse_target(item)  # a bad port, scheme or host name is a UsageError naming the item
        return {"host": t.host, "port": t.port}
    raise UsageError(f"target {item!r} is not a host, host:port, URL or (host, port)",
                     "give targets as 'host:port' strings or (host, port) tuples")


def probe_many(targets: Iterable[Any], concurrency: int = 32, **kw: Any) -> tuple[ProbeResult, ...]:
    """Probe many endpoints at once (a thread pool); results in input order.

    ``targets`` items are ``"host"``, ``"host:port"``, ``"https://host:port/"``,
    ``(host, port)`` or mappings of :func:`probe` arguments (which override ``kw``). Every
    target is checked before the first connection, so a bad one raises ``UsageError`` up
    front; afterwards one endpoint's failure never affects another's.

        >>> results = probe_many(["a.example", "b.example:8443"], concurrency=64, timeout=5)  # doctest: +SKIP
    """
    from concurrent.futures import ThreadPoolExecutor

    jobs = []
    for item in targets:
        args = {**kw, **_target_kwargs(item)}
        _target(args["host"], args.get("port", 443), args.get("servername"), args.get("address"),
                args.get("proxy"), args.get("timeout", DEFAULT_TIMEOUT), args.get("max_bytes", DEFAULT_MAX_BYTES))
        jobs.append(args)
    if not jobs:
        return ()
    workers = max(1, min(int(concurrency), len(jobs)))
    if workers == 1:
        return tuple(probe(**args) for args in jobs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="certdoctor-probe") as pool:
        return tuple(pool.map(lambda a: probe(**a), jobs))


def fetch_chain(host: str, port: int = 443, **kw: Any) -> "tuple[x509.Certificate, ...]":
    """The presented chain as ``cryptography`` certificates, or ``NetworkError``.

    Takes :func:`probe`'s keyword arguments. A chain captured despite a failure (a TLS 1.3
    server that then demands a client certificate) is still returned; ``NetworkError`` is
    raised when no certificate could be read, with the finding's summary and fix.

        >>> chain = fetch_chain("example.org")              # doctest: +SKIP
    """
    result = probe(host, port, **kw)
    if result.chain_der:
        return result.certificates()
    f = result.failure
    if f is None:  # pragma: no cover - a completed handshake always has a leaf
        raise NetworkError(f"{host}:{port} presented no certificate", "the server must send its chain")
    detail = next((e for e in f.evidence if e.startswith("error:")), "")
    message = f"{f.summary}" + (f" ({detail[7:]})" if detail else "")
    raise NetworkError(message, f.fix or None)


__all__ = [
    "ProbeResult",
    "probe",
    "probe_many",
    "fetch_chain",
    "fetch_staple",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_BYTES",
    "POST_HANDSHAKE_WAIT",
    "ALPN_OFFER",
]
