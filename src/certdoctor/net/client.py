"""Run the real client library (requests, httpx, urllib, pip's stack) against a URL with exactly
the trust certdoctor computed; its outcome is the verdict of a diagnosis.

Verification stays fully on: the context is the client's own (``EffectiveTrust.ssl_context``).

``servername`` (``--servername``, e.g. with an IP target) is honoured by every client the way
that library itself allows it: the connection goes to the URL's host, the TLS handshake sends
``servername`` as SNI (none for an IP) and the certificate is checked against it by OpenSSL
(``check_hostname`` stays on): requests/pip through a transport adapter that gives urllib3's
pools ``server_hostname``, httpx through its ``sni_hostname`` request extension (through a proxy,
where httpcore's tunnel ignores it, through the context's socket class), urllib through an
``HTTPSConnection`` subclass. The ``Host`` header names ``servername`` too, as it would if the
client connected by that name.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.model import CLIENTS

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.deadline import Deadline
    from certdoctor.trust.effective import EffectiveTrust


@dataclass(frozen=True, slots=True)
class ClientOutcome:
    """What the real client did with the effective trust: ``ok`` or the error it raised.

    ``http_date`` is the server's ``Date`` header (``None`` when the request failed or the
    server sent none); ``status`` the HTTP status (a redirect's own: none is followed).
    ``not_run``: why the client was not run at all (``"pin mismatch"``: the server failed
    ``--pin``, so it is sent no request); then ``ok`` is false and there is no verdict.
    """

    client: str
    ok: bool
    error: str | None
    error_type: str | None
    status: int | None
    http_date: _dt.datetime | None
    elapsed: float
    not_run: str | None = None

    @classmethod
    def skipped(cls, client: str, reason: str) -> "ClientOutcome":
        """The outcome of a client that was deliberately not run, and why."""
        return cls(client, False, None, None, None, None, 0.0, reason)


def run_client(
    client: str,
    url: str,
    trust: "EffectiveTrust",
    *,
    python: str | None = None,
    proxy: str | None = None,
    timeout: float = policy.TIMEOUT_SECONDS,
    servername: str | None = None,
    deadline: "Deadline | None" = None,
    pins: "Iterable[str] | None" = None,
) -> ClientOutcome:
    """Run the real client library against ``url`` with exactly the effective trust.

    Verification stays fully on: the context is the client's own (``trust.ssl_context``).
    ``servername`` (when it differs from the URL's host) is sent as SNI and is the name the
    certificate is checked against, while the connection still goes to the URL's host.
    The response body is not read beyond the headers. No client follows a redirect (requests
    and pip ``allow_redirects=False``, httpx ``follow_redirects=False``, urllib an opener whose
    redirect handler follows nothing): a 3xx is a TLS success whose ``status`` is recorded, and
    no other host, nor plain http, is ever asked.

    The whole run (connect, handshake, reading the headers) ends by ``deadline`` (default: the
    running command's, capped at ``timeout`` from now): the library's own ``timeout`` bounds each
    read only, so the run is a worker thread waited for until the deadline, whose TLS sockets
    are then shut down; the outcome then says how long it ran and what the budget was.

    ``pins`` (SPKI pins, ``sha256/B64`` or bare base64, as ``--pin`` takes them): the client's own
    connection is checked right after its handshake, before a byte of the request is sent — a
    server that showed a pinned key to the probe and another to this connection gets no request;
    the outcome is then ``not_run`` (``"pin mismatch on the real client's connection"``) and its
    ``error`` names the keys presented. requests, pip's stack, httpx and urllib all make their TLS
    connections through the context handed to them, whose socket and object classes do the check;
    the real ``pip`` process (``fix --client pip``) cannot be checked so (it is not run with pins).
    """
    from certdoctor.net.deadline import SocketWatch, effective, run_bounded

    d = effective(deadline, timeout)
    start = time.monotonic()
    watch = SocketWatch()
    wanted = frozenset(p.strip().split("/", 1)[-1] for p in pins) if pins else frozenset()

    def work() -> ClientOutcome:
        return _run_client(client, url, trust, python=python, proxy=proxy, timeout=max(0.05, d.op(timeout)),
                           servername=servername, watch=watch, pins=wanted)

    done, value, error = run_bounded(work, d, watch)
    if error is not None:
        raise error
    if not done:
        return ClientOutcome(client, False, d.message(f"the real {client} run") + " (the server did not finish "
                             "its answer's headers in time)", "TimeoutError", None, None, time.monotonic() - start)
    return value  # type: ignore[return-value]


def _run_client(client: str, url: str, trust: "EffectiveTrust", *, python: str | None, proxy: str | None,
                timeout: float, servername: str | None, watch, pins: frozenset = frozenset()) -> ClientOutcome:
    from email.utils import parsedate_to_datetime
    from urllib.parse import urlsplit

    from certdoctor.errors import CertdoctorError

    start = time.monotonic()
    try:
        ctx = trust.ssl_context(python=python)
    except CertdoctorError as exc:  # the client fails while loading its bundle, before connecting
        return ClientOutcome(client, False, exc.message, "OSError", None, None, time.monotonic() - start)
    if hasattr(ctx, "sslsocket_class"):
        ctx = watch.context(ctx)  # shut down at the deadline, whatever the library does
    guard = _PinGuard(pins) if pins else None
    if guard is not None and not guard.install(ctx):
        return ClientOutcome(client, False, "this client's TLS context cannot be made to check --pin on its own "
                             "connection, so it was not run", None, None, None, time.monotonic() - start,
                             "pin check unavailable")
    status = None
    date_header = None
    sni = _other_name(url, servername)
    headers = {"Host": _host_header(sni, urlsplit(url).port)} if sni else {}
    try:
        if client in ("requests", "pip"):
            import requests
            from requests.adapters import HTTPAdapter

            pool_kw: dict = {"ssl_context": ctx}
            if sni:
                # urllib3 sends it as SNI and hands it to ssl's wrap_socket, so OpenSSL checks the
                # certificate against it (no assert_hostname: that would turn check_hostname off)
                pool_kw["server_hostname"] = sni

            class _ContextAdapter(HTTPAdapter):
                def init_poolmanager(self, *args, **kwargs):
                    kwargs.update(pool_kw)
                    return super().init_poolmanager(*args, **kwargs)

                def proxy_manager_for(self, *args, **kwargs):
                    kwargs.update(pool_kw)
                    return super().proxy_manager_for(*args, **kwargs)

            with requests.Session() as s:
                # the environment was already folded into `trust`; don't let it apply twice
                s.trust_env = False
                s.mount("https://", _ContextAdapter())
                verify: bool | str = trust.cafile or trust.capath or True
                if verify is True and client == "requests":
                    verify = trust.certifi_path or True
                proxies = {"https": proxy} if proxy else {}
                with s.get(url, verify=verify, timeout=timeout, proxies=proxies, headers=headers,
                           stream=True, allow_redirects=False) as resp:
                    status = resp.status_code
                    date_header = resp.headers.get("Date")
        elif client == "httpx":
            import httpx

            if sni and proxy and hasattr(ctx, "sslsocket_class"):
                ctx = _sni_context(ctx, sni)  # httpcore's CONNECT tunnel ignores sni_hostname
            with httpx.Client(verify=ctx, trust_env=False, proxy=proxy, timeout=timeout,
                              follow_redirects=False) as c:
                with c.stream("GET", url, headers=headers,
                              extensions={"sni_hostname": sni} if sni else None) as resp:
                    status = resp.status_code
                    date_header = resp.headers.get("Date")
        elif client == "urllib":
            import urllib.request

            handlers: list = [_urllib_handler(ctx, sni) if sni else urllib.request.HTTPSHandler(context=ctx)]
            handlers.append(urllib.request.ProxyHandler({"https": proxy} if proxy else {}))
            handlers.append(_NoRedirect())  # replaces the default HTTPRedirectHandler
            opener = urllib.request.build_opener(*handlers)
            with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
                status = resp.status
                date_header = resp.headers.get("Date")
        else:  # pragma: no cover - validated by the caller
            raise UsageError(f"unknown client {client!r}", f"Choose one of {', '.join(CLIENTS)}.")
    except UsageError:
        raise
    except Exception as exc:  # the client's own error is the evidence
        if guard is not None and guard.refused:
            return ClientOutcome(client, False, guard.refused, "PinMismatch", None, None, time.monotonic() - start,
                                 PIN_RACE)
        if client == "urllib" and exc.__class__.__name__ == "HTTPError":
            status = getattr(exc, "code", None)
            date_header = exc.headers.get("Date") if getattr(exc, "headers", None) else None
        else:
            return ClientOutcome(client, False, _error_text(exc), type(exc).__name__, None, None,
                                 time.monotonic() - start)
    http_date = None
    if date_header:
        try:
            http_date = parsedate_to_datetime(date_header)
            if http_date.tzinfo is None:
                http_date = http_date.replace(tzinfo=_dt.timezone.utc)
        except (TypeError, ValueError):
            http_date = None
    if guard is not None and guard.refused:  # a library that swallowed the refusal: still no verdict
        return ClientOutcome(client, False, guard.refused, "PinMismatch", None, None, time.monotonic() - start,
                             PIN_RACE)
    return ClientOutcome(client, True, None, None, status, http_date, time.monotonic() - start)


#: ``ClientOutcome.not_run`` when the real client's own connection presented no pinned key
PIN_RACE = "pin mismatch on the real client's connection"


class _PinGuard:
    """``--pin`` on the real client's own connection: every TLS socket or object the context makes
    checks, right after its handshake (chain and host verified), that its verified chain holds a
    pinned key, and fails the handshake otherwise — before the library sends a byte of the request."""

    def __init__(self, pins: frozenset) -> None:
        self.pins = pins
        self.refused: str | None = None

    def install(self, ctx) -> bool:
        import ssl

        from certdoctor.net.deadline import socket_maker

        maker = socket_maker(ctx)
        sock_base = getattr(maker, "sslsocket_class", None)
        obj_base = getattr(maker, "sslobject_class", None)
        if not (isinstance(sock_base, type) and isinstance(obj_base, type)):
            return False
        guard = self

        class _PinnedSocket(sock_base):  # type: ignore[misc, valid-type]
            def do_handshake(self, *args, **kwargs):
                ret = super().do_handshake(*args, **kwargs)
                guard.check(self)
                return ret

        class _PinnedObject(obj_base):  # type: ignore[misc, valid-type]
            def do_handshake(self, *args, **kwargs):
                ret = super().do_handshake(*args, **kwargs)
                guard.check(self)
                return ret

        try:
            maker.sslsocket_class = _PinnedSocket
            maker.sslobject_class = _PinnedObject
        except (AttributeError, TypeError):
            return False
        return maker.sslsocket_class is _PinnedSocket and isinstance(ctx, ssl.SSLContext)

    def check(self, tls) -> None:
        presented = _presented_pins(tls)
        if self.pins & {pin for pin, _name in presented}:
            return
        shown = ", ".join(f"sha256/{pin} ({name})" for pin, name in presented) or "no certificate"
        self.refused = (f"the real client's own connection presented keys none of which is pinned: {shown}; "
                        "the handshake was aborted before any request was sent (the probe's connection had "
                        "shown a pinned key: the server changed its key between connections)")
        raise _PinRefused(self.refused)


def _pin_refused_class():
    import ssl

    class PinRefused(ssl.SSLError):
        """The handshake completed, but no key of the verified chain is pinned: no request goes out."""

    return PinRefused


def _PinRefused(message: str):  # noqa: N802 - builds the ssl.SSLError subclass lazily (ssl on use)
    return _pin_refused_class()(message)


def _presented_pins(tls) -> list[tuple[str, str]]:
    """(SPKI pin, short name) of each certificate of ``tls``'s verified chain, leaf first; only the
    leaf's when this Python cannot tell the verified chain (then a pin of a CA cannot match: the
    check fails closed)."""
    from cryptography import x509

    from certdoctor.model import spki_pin

    ders: list[bytes] = []
    c_obj = getattr(tls, "_sslobj", None)
    for obj in (tls, c_obj):
        method = getattr(obj, "get_verified_chain", None)
        if not callable(method):
            continue
        try:
            items = method() or []
        except (ValueError, AttributeError, OSError):
            continue
        ders = [_der_of(i) for i in items]
        if ders:
            break
    if not ders:
        leaf = tls.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    out = []
    for der in ders:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        names = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        out.append((spki_pin(cert), str(names[0].value) if names else cert.subject.rfc4514_string()))
    return out


def _der_of(item) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    import _ssl

    return item.public_bytes(_ssl.ENCODING_DER)


def _no_redirect_class():
    import urllib.request

    class _NoRedirectHandler(urllib.request.HTTPRedirectHandler):
        """urllib's redirect handler, following nothing: the 3xx comes back as an
        ``HTTPError`` whose status is recorded (another host, or plain http, is never asked)."""

        def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913
            return None

    return _NoRedirectHandler


def _NoRedirect():  # noqa: N802 - builds the handler lazily (urllib.request is imported on use)
    return _no_redirect_class()()


def _other_name(url: str, servername: str | None) -> str | None:
    """``servername`` when it is not the URL's own host (then nothing needs changing)."""
    from urllib.parse import urlsplit

    if not servername:
        return None
    host = (urlsplit(url).hostname or "").lower()
    name = servername.strip().rstrip(".").lower()
    return None if not name or name == host or name.strip("[]") == host else name.strip("[]")


def _host_header(name: str, port: int | None) -> str:
    shown = f"[{name}]" if ":" in name else name
    return shown if port in (None, 443) else f"{shown}:{port}"


def _sni_context(ctx, servername: str):
    """``ctx``, whose TLS sockets and objects take ``servername`` whatever name the library hands
    ``wrap_socket``/``wrap_bio``: httpcore's CONNECT tunnel passes the URL's host and ignores the
    ``sni_hostname`` extension. ``check_hostname`` stays on, so OpenSSL checks ``servername``."""

    class _Socket(ctx.sslsocket_class):
        @classmethod
        def _create(cls, *args, **kwargs):
            kwargs["server_hostname"] = servername
            return super()._create(*args, **kwargs)

    class _Object(ctx.sslobject_class):
        @classmethod
        def _create(cls, *args, **kwargs):
            kwargs["server_hostname"] = kwargs["context"]._encode_hostname(servername)
            return super()._create(*args, **kwargs)

    ctx.sslsocket_class = _Socket
    ctx.sslobject_class = _Object
    return ctx


def _urllib_handler(ctx, servername: str):
    """An ``HTTPSHandler`` whose connections send ``servername`` as SNI and check the
    certificate against it (``ctx`` keeps ``check_hostname`` on); the socket still goes to the
    URL's host (through the CONNECT tunnel when a proxy is set)."""
    import http.client
    import urllib.request

    class _Connection(http.client.HTTPSConnection):
        def connect(self):
            http.client.HTTPConnection.connect(self)  # TCP, and the proxy tunnel if any
            self.sock = self._context.wrap_socket(self.sock, server_hostname=servername)

    class _Handler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(_Connection, req, context=ctx)

    return _Handler(context=ctx)


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    return text.replace("builtins.", "")[:2000]


