"""The asyncio twin of :func:`certdoctor.net.probe.probe`: one handshake, no thread per target.

    >>> result = await aprobe("example.org", 443, timeout=5)          # doctest: +SKIP
    >>> result.failure is None, len(result.chain_der)                 # doctest: +SKIP
    (True, 3)

The same sans-I/O state machine as the probe: an ``ssl.SSLObject`` over two ``ssl.MemoryBIO``
(verification off, ``CERT_NONE``, from :func:`certdoctor.net.probe._context`, the one place it is
set), fed by ``asyncio.open_connection`` streams instead of a blocking socket. What is shared with
the probe, so that both say the same thing about the same server:

* the context (built once, shared by every handshake), the chain reader (``get_unverified_chain``, private ``_sslobj`` on 3.11), the
  record readers (``_Flight``, ``_Framer``) and the byte cap (``max_bytes``: a 10 MB "chain"
  stops at :data:`certdoctor.policy.PROBE_MAX_BYTES`);
* every failure's wording: DNS and connect failures (``_dns_failure``/``_connect_failure``), the
  proxy's (``_proxy_finding``) and the handshake's (``_classify``);
* the result, a :class:`~certdoctor.net.probe.ProbeResult`.

``timeout`` bounds the whole probe (DNS, connect, proxy CONNECT, handshake and the TLS 1.3
post-handshake wait) on the loop's clock. Two things leave the loop, each bounded by the same
deadline and run in the loop's default executor (a small pool, not a thread per target): the
resolver (``loop.getaddrinfo``, which calls ``socket.getaddrinfo`` at call time, so
``--resolve`` and the lab's overrides apply), and the legacy retry that tells an old-TLS or
cipher-mismatch server apart (rare, synchronous, from the probe). No OCSP staple is asked for
(the stdlib cannot; the monitor checks revocation from CRLs).

Nothing is ever sent but the handshake; the connection is closed (aborted) right after it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import TYPE_CHECKING, Any

from certdoctor.net import probe as _p
from certdoctor.net.probe import ProbeResult

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.probe import _Outcome, _Target


_timeout = getattr(asyncio, "timeout", None)  # 3.11+


async def _bounded(aw: Any, left: float) -> Any:
    """``await aw`` within ``left`` seconds (``TimeoutError`` past it): ``asyncio.timeout`` where
    there is one, which does not wrap each read and write of a handshake in a task of its own as
    ``wait_for`` does on 3.11 (12 tasks a target); ``wait_for`` before 3.11."""
    if _timeout is None:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(aw, left)
    async with _timeout(left):
        return await aw


class _AWire(_p._Count):
    """An asyncio stream pair whose every wait is bounded and whose reads are counted (the
    probe's ``_Wire``, awaited)."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float,
                 limit: int) -> None:
        super().__init__(deadline, limit)
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        try:
            await _bounded(self.writer.drain(), self._left())
        except TimeoutError as exc:
            raise _p._Deadline() from exc

    async def recv(self, until: float | None = None) -> bytes:
        data = self._pending()
        if data is None:
            try:
                data = await _bounded(self.reader.read(self._room()), self._left(until))
            except TimeoutError as exc:
                raise _p._Deadline() from exc
        return self._counted(data)

    def close(self) -> None:
        try:
            self.writer.transport.abort()  # no wait for a peer that may never read
        except Exception:  # pragma: no cover - closing is best effort
            pass


async def _resolve(host: str, port: int, deadline: float) -> list[tuple]:
    import socket

    loop = asyncio.get_running_loop()
    if _p._is_ip(host):
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    left = deadline - time.monotonic()
    if left <= 0:
        raise _p._Deadline()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), left)
    except TimeoutError:
        raise _p._Deadline() from None
    seen, out = set(), []
    for info in infos:
        if info[4] not in seen:
            seen.add(info[4])
            out.append(info)
    return out


async def _connect(infos: list[tuple], port: int, deadline: float, limit: int) -> tuple[_AWire, str]:
    """Connect to the first address that answers (the probe's share rule); the last error is raised."""
    last: BaseException | None = None
    for n, info in enumerate(infos):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        share = left if n == len(infos) - 1 else max(left / (len(infos) - n), min(left, 2.0))
        addr = str(info[4][0])
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(addr, info[4][1]), share)
        except BaseException as exc:  # noqa: BLE001 - tried in turn, the last one is reported
            if not isinstance(exc, Exception):
                raise
            last = exc
            continue
        return _AWire(reader, writer, deadline, limit), addr
    if last is None or isinstance(last, TimeoutError) and time.monotonic() >= deadline:
        raise _p._Deadline()
    raise last


async def _direct(t: "_Target", deadline: float) -> tuple[_AWire, str]:
    host = t.address or t.host
    try:
        infos = await _resolve(host, t.port, deadline)
    except Exception as exc:  # noqa: BLE001
        failure = _p._dns_failure(t, None if isinstance(exc, _p._Deadline) else exc)
        if failure is None:
            raise
        raise _p._Fail(failure) from None
    try:
        return await _connect(infos, t.port, deadline, t.max_bytes)
    except Exception as exc:  # noqa: BLE001
        failure = _p._connect_failure(t, None if isinstance(exc, _p._Deadline) else exc,
                                      [info[4][0] for info in infos])
        if failure is None:
            raise
        raise _p._Fail(failure) from None


async def _via_proxy(t: "_Target", deadline: float) -> tuple[_AWire, str | None]:
    """HTTP CONNECT through ``t.proxy`` (net/proxy's request and reply parser, the probe's findings)."""
    import socket

    from certdoctor.net.proxy import HEADER_LIMIT, connect_request, parse_connect_reply
    from certdoctor.net.proxy import authority as proxy_authority

    px = _p._parse_proxy(t)
    where = px.where
    if px.scheme == "https":
        loop = asyncio.get_running_loop()
        finding = await loop.run_in_executor(None, _p._https_proxy_finding, t, px.host, px.port, deadline)
        raise _p._Fail(finding)
    try:
        infos = await _resolve(px.host, px.port, deadline)
        wire, paddr = await _connect(infos, px.port, deadline, t.max_bytes)
    except (_p._Deadline, TimeoutError):
        raise _p._Fail(_p._proxy_finding(t, f"the proxy {where} did not accept a connection within "
                                            f"{t.timeout:g} s", "error: timed out")) from None
    except socket.gaierror as exc:
        raise _p._Fail(_p._proxy_finding(t, f"the proxy host {px.host} does not resolve",
                                         f"error: socket.gaierror: {_p._err_text(exc)}")) from exc
    except OSError as exc:
        raise _p._Fail(_p._proxy_finding(t, f"the proxy {where} could not be reached",
                                         f"error: {type(exc).__name__}: {_p._err_text(exc)}")) from exc
    target = t.address or t.host
    try:
        request = connect_request(px, target, t.port, "certdoctor-probe")
    except UnicodeError as exc:
        wire.close()
        raise _p._Fail(_p._proxy_finding(t, f"{target!r} cannot be named in CONNECT", f"error: {exc}",
                                         paddr)) from None
    try:
        await wire.send(request)
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            if len(buf) > HEADER_LIMIT:
                raise _p._Fail(_p._proxy_finding(t, f"the proxy {where} sent more than 64 KiB of headers "
                                                    "in reply to CONNECT", "error: header limit exceeded", paddr))
            data = await wire.recv()
            if not data:
                raise _p._Fail(_p._proxy_finding(t, f"the proxy {where} closed the connection in reply to "
                                                    "CONNECT", "error: EOF before a status line", paddr))
            buf += data
    except _p._Fail:
        wire.close()
        raise
    except (_p._Deadline, _p._TooMuch, OSError) as exc:
        wire.close()
        what = "did not answer CONNECT in time" if isinstance(exc, _p._Deadline) else "failed during CONNECT"
        raise _p._Fail(_p._proxy_finding(t, f"the proxy {where} {what}",
                                         f"error: {type(exc).__name__}: {_p._err_text(exc)}", paddr)) from None
    reply = parse_connect_reply(bytes(buf))
    parts = reply.status_line.split(None, 2)
    if not reply.ok:
        wire.close()
        if not reply.status_line.startswith("HTTP/"):
            summary = f"the proxy {where} did not answer CONNECT with HTTP"
        elif len(parts) >= 2 and parts[1] == "407":
            summary = f"the proxy {where} requires authentication (407)"
        else:
            summary = f"the proxy {where} refused to CONNECT to {proxy_authority(target, t.port)}"
        raise _p._Fail(_p._proxy_finding(t, summary, f"proxy answered: {reply.status_line[:200]!r}", paddr,
                                         status=parts[1] if len(parts) >= 2 else None))
    wire.head.clear()
    wire.received = 0
    wire.pending += reply.rest
    return wire, None if not t.address else t.address


@functools.lru_cache(maxsize=1)
def _context() -> Any:
    """The probe's context (:func:`certdoctor.net.probe._context`), built once and shared by every
    handshake: building one costs ~0.3-0.6 ms, more than the rest of the client's side of a
    handshake but its crypto. It is only read after it is built (no session is resumed: each
    ``wrap_bio`` starts a full handshake)."""
    return _p._context(False)


async def _attempt(t: "_Target", deadline: float) -> "_Outcome":
    """Connect (direct or through the proxy) and run one handshake. Never raises for the network."""
    import ssl

    out = _p._Outcome()
    try:
        wire, addr = await (_via_proxy(t, deadline) if t.proxy else _direct(t, deadline))
    except _p._Fail as exc:
        out.error = exc
        return out
    except Exception as exc:  # noqa: BLE001 - every outcome is data (classified as a failed handshake)
        out.error = exc
        return out
    out.wire, out.address = wire, addr  # type: ignore[assignment]
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        obj = _context().wrap_bio(incoming, outgoing, server_hostname=t.servername or None)
        hs = _p._Handshake(out, obj, incoming, outgoing)
        while (data := hs.step()) is not None:
            if data:
                await wire.send(data)
                hs.sent()
            hs.received(await wire.recv())
        if data := hs.finished():
            await wire.send(data)
    except Exception as exc:  # noqa: BLE001 - every outcome is data
        out.error = exc
        return out
    out.chain = _p._chain(obj)
    out.version = obj.version()
    cipher = obj.cipher()
    out.cipher = cipher[0] if cipher else None
    out.alpn = obj.selected_alpn_protocol()
    if out.version == "TLSv1.3":
        await _after_handshake(out, wire, obj, incoming)
    return out


async def _after_handshake(out: "_Outcome", wire: _AWire, obj: Any, incoming: Any) -> None:
    """The probe's TLS 1.3 wait (``_after_handshake``), awaited: read only, at most
    ``POST_HANDSHAKE_WAIT``; tickets end it, an alert or a close means mutual TLS."""
    wait = _p._AfterHandshake(out, obj, incoming)
    while True:
        try:
            data = await wire.recv(until=wait.end)
        except (_p._Deadline, _p._TooMuch, OSError) as exc:
            wait.failed(exc)
            return
        if wait.received(data):
            return


async def aprobe(host: str, port: int = 443, *, servername: str | None = None, address: str | None = None,
                 proxy: str | None = None, timeout: float = _p.DEFAULT_TIMEOUT,
                 max_bytes: int = _p.DEFAULT_MAX_BYTES) -> ProbeResult:
    """One TLS handshake with ``host:port`` on the running loop; the arguments and the result are
    :func:`certdoctor.net.probe.probe`'s (no ``ocsp``). Network failures never raise: they are
    the result's ``failure``. Bad arguments raise ``UsageError``."""
    started = time.monotonic()
    t = _p._target(host, port, servername, address, proxy, timeout, max_bytes)
    deadline = started + t.timeout
    first = await _attempt(t, deadline)
    try:
        reason = _p._reason(first.error)
        if first.phase == "handshake" and (reason in _p._VERSION_REASONS or reason in _p._HANDSHAKE_FAILURE_REASONS):
            # may make the probe's (synchronous) legacy retry: off the loop, within the same deadline
            loop = asyncio.get_running_loop()
            failure, used = await loop.run_in_executor(None, _p._classify, t, first, deadline)
        else:
            failure, used = _p._classify(t, first, deadline)
    finally:
        if first.wire is not None:
            first.wire.close()
    cert_req: bool | None = None
    if used.flight.hs_types and used.version != "TLSv1.3":
        cert_req = used.flight.certificate_request
    elif failure is not None and failure.code is _p.Code.CLIENT_CERT_REQUIRED:
        cert_req = True
    wire = first.wire
    return ProbeResult(
        host=t.host, port=t.port, servername=t.servername, address=used.address or first.address,
        chain_der=used.chain, tls_version=used.version, cipher=used.cipher, alpn=used.alpn,
        ocsp_staple=None, failure=failure, elapsed=round(time.monotonic() - started, 6),
        proxy=_p.redact(t.proxy) if t.proxy else None, client_cert_requested=cert_req,
        ocsp_requested=False, bytes_received=wire.received if wire else 0,
    )


__all__ = ["aprobe"]
