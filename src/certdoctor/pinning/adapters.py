"""SPKI pinning for requests and httpx, on top of normal verification.

Verification stays exactly what the client does without pinning (chain and hostname against
``verify=``, ``REQUESTS_CA_BUNDLE``, an ``ssl_context``, ...). Only after that handshake
succeeded is the peer's public key compared with the pins: the leaf's, and every certificate
of the *verified* chain where Python can tell us that chain (3.13+ publicly; 3.10-3.12 through
the ssl module's private ``_sslobj.get_verified_chain()``). On a mismatch the connection is
closed and :class:`~certdoctor.errors.PinMismatch` raised before any request byte is sent.

    >>> import requests
    >>> from certdoctor.pinning.adapters import PinnedAdapter, httpx_client
    >>> s = requests.Session()
    >>> s.mount("https://example.org/", PinnedAdapter(pins=["sha256/…", "sha256/…backup…"]))  # doctest: +SKIP
    >>> with httpx_client(pins=["sha256/…", "sha256/…"]) as client:                     # doctest: +SKIP
    ...     client.get("https://example.org/")

A trust-store swap (an adapter whose ``init_poolmanager`` only loads one CA file) is not
pinning: any certificate that CA signs for the name passes (catalogue SEED_FAKE_PINNING).
"""

from __future__ import annotations

import functools
import ssl
import sys
from dataclasses import dataclass
from typing import Any, Iterable

from requests.adapters import HTTPAdapter

from certdoctor.errors import PinMismatch, UsageError
from certdoctor.pinning.pins import parse_pins, pin_of_der

__all__ = [
    "PinSet",
    "PeerKeys",
    "PinnedAdapter",
    "PinnedHTTPTransport",
    "AsyncPinnedHTTPTransport",
    "httpx_client",
    "async_httpx_client",
    "pin_httpx_transport",
    "peer_keys",
    "check_pins",
    "verified_chain_supported",
]


# --------------------------------------------------------------------------- pins and peers


@dataclass(frozen=True, slots=True)
class PinSet:
    """Validated pins (canonical ``sha256/BASE64``, order kept)."""

    pins: tuple[str, ...]

    @classmethod
    def of(cls, pins: "PinSet | Iterable[str] | str") -> "PinSet":
        if isinstance(pins, PinSet):
            return pins
        return cls(parse_pins(pins))

    def __contains__(self, pin: object) -> bool:
        return pin in self.pins


@dataclass(frozen=True, slots=True)
class PeerKeys:
    """The pins a peer presented: the leaf's, and those of its verified chain (leaf first).

    ``chain`` is ``None`` when this Python cannot tell the verified chain (then only the leaf
    can match a pin). ``names`` are short labels of the same certificates, for messages.
    """

    leaf: str
    chain: tuple[str, ...] | None
    names: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.chain if self.chain else (self.leaf,)


def verified_chain_supported() -> bool:
    """Can this Python tell the verified chain (so chain pins can match)? 3.10+ ``_ssl``."""
    import _ssl

    return hasattr(getattr(_ssl, "_SSLSocket", None), "get_verified_chain") or sys.version_info >= (3, 13)


def _to_der(item: Any) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    if hasattr(item, "public_bytes"):  # _ssl.Certificate (3.10+)
        import _ssl

        try:
            return item.public_bytes(_ssl.ENCODING_DER)
        except TypeError:  # cryptography-like object
            from cryptography.hazmat.primitives.serialization import Encoding

            return item.public_bytes(Encoding.DER)
    if hasattr(item, "to_cryptography"):  # pyOpenSSL X509
        from cryptography.hazmat.primitives.serialization import Encoding

        return item.to_cryptography().public_bytes(Encoding.DER)
    raise TypeError(f"cannot read a certificate from {type(item).__name__}")


def _verified_chain_der(tls: Any) -> tuple[bytes, ...] | None:
    """DER of the verified chain (leaf first) of ``tls``, or ``None`` if it cannot be told.

    ``tls`` may be an ``ssl.SSLSocket``, ``ssl.SSLObject``, the C ``_ssl._SSLSocket``,
    urllib3's ``SSLTransport`` (TLS in TLS) or urllib3's pyOpenSSL ``WrappedSocket``.
    """
    candidates = [tls]
    inner = getattr(tls, "sslobj", None)  # urllib3 SSLTransport -> ssl.SSLObject
    if inner is not None:
        candidates.append(inner)
    for obj in list(candidates):
        c_obj = getattr(obj, "_sslobj", None)  # SSLSocket/SSLObject -> _ssl._SSLSocket
        if c_obj is not None:
            candidates.append(c_obj)
    for obj in candidates:
        method = getattr(obj, "get_verified_chain", None)
        if not callable(method):
            continue
        try:
            items = method()
        except (ValueError, AttributeError, ssl.SSLError):
            continue
        if items:
            return tuple(_to_der(i) for i in items)
    conn = getattr(tls, "connection", None)  # urllib3.contrib.pyopenssl.WrappedSocket
    method = getattr(conn, "get_verified_chain", None)
    if callable(method):
        try:
            items = method()
        except Exception:
            items = None
        if items:
            return tuple(_to_der(i) for i in items)
    return None


def _short_name(der: bytes) -> str:
    try:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        attrs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else cert.subject.rfc4514_string() or "(no name)"
    except Exception:
        return "(unparsable)"


def peer_keys(tls: Any) -> PeerKeys:
    """The pins the peer of a completed handshake presented (see :class:`PeerKeys`)."""
    leaf_der = tls.getpeercert(True)
    if not leaf_der:
        raise PinMismatch("the server presented no certificate, so no pin can match",
                          "Pinning needs a TLS server certificate.")
    chain_der = _verified_chain_der(tls)
    leaf = pin_of_der(leaf_der)
    if chain_der:
        chain = tuple(pin_of_der(d) for d in chain_der)
        names = tuple(_short_name(d) for d in chain_der)
        if chain[0] != leaf:  # never expected: the verified chain starts at the peer's leaf
            chain = (leaf,) + chain
            names = (_short_name(leaf_der),) + names
        return PeerKeys(leaf, chain, names)
    return PeerKeys(leaf, None, (_short_name(leaf_der),))


def check_pins(tls: Any, pins: PinSet, host: str) -> PeerKeys:
    """Raise :class:`PinMismatch` unless a key of ``tls``'s verified peer matches ``pins``.

    Call it only on a connection whose chain and hostname were verified.
    """
    keys = peer_keys(tls)
    if any(p in pins for p in keys.all):
        return keys
    roles = ["leaf"] + ["chain"] * (len(keys.all) - 1)
    presented = ", ".join(f"{r} {n!r} {p}" for r, n, p in zip(roles, keys.names, keys.all))
    scope = ("its verified chain" if keys.chain else
             "its leaf (this Python cannot tell the verified chain)")
    err = PinMismatch(
        f"pin mismatch for {host}: no key of {scope} matches a pin; presented {presented}; "
        f"expected one of {', '.join(pins.pins)}. The connection was closed before any request byte "
        "was sent.",
        "If the server's key changed on purpose (renewal), deploy its new pin (it should have "
        "been your backup pin); otherwise you are talking to someone else, e.g. an intercepting "
        f"proxy. See the current pins with: certdoctor pin {host}",
    )
    err.host = host  # type: ignore[attr-defined]
    err.presented = keys.all  # type: ignore[attr-defined]
    err.expected = pins.pins  # type: ignore[attr-defined]
    raise err


def _refuse_unverified(what: str) -> UsageError:
    return UsageError(
        f"{what}: pinning is checked on top of normal verification, which is off here",
        "Keep verify=True (or a CA bundle path / SSLContext that verifies chain and hostname); "
        "pins never replace verification.",
    )


# --------------------------------------------------------------------------- requests / urllib3


class _PinCheckingConnection:
    """Mixin for urllib3 ``HTTPSConnection`` classes: check pins right after ``connect()``.

    urllib3 calls ``connect()`` (from ``_validate_conn`` or, through a proxy, after the
    CONNECT tunnel in ``_prepare_proxy``) before it writes the request, so refusing here means
    no request byte reaches the origin.
    """

    _certdoctor_pins: PinSet

    def connect(self) -> None:  # type: ignore[override]
        super().connect()  # type: ignore[misc]
        host = getattr(self, "_tunnel_host", None) or self.host  # type: ignore[attr-defined]
        port = getattr(self, "_tunnel_port", None) or self.port  # type: ignore[attr-defined]
        where = f"{host}:{port}" if port else str(host)
        try:
            if not getattr(self, "is_verified", False) or getattr(self, "assert_hostname", None) is False:
                raise _refuse_unverified(f"the connection to {where} was not verified")
            check_pins(self.sock, self._certdoctor_pins, where)  # type: ignore[attr-defined]
        except BaseException:
            self.close()  # type: ignore[attr-defined]
            raise


def _pinned_pool_class(base: type, pins: PinSet) -> type:
    conn_base = base.ConnectionCls
    conn_cls = type(f"Pinned{conn_base.__name__}", (_PinCheckingConnection, conn_base),
                    {"_certdoctor_pins": pins, "__module__": __name__})
    return type(f"Pinned{base.__name__}", (base,),
                {"ConnectionCls": conn_cls, "_certdoctor_pinned": True, "__module__": __name__})


def _pin_manager(manager: Any, pins: PinSet) -> Any:
    """Make every HTTPS pool of a urllib3 PoolManager/ProxyManager check ``pins``."""
    classes = dict(manager.pool_classes_by_scheme)
    https = classes["https"]
    if not getattr(https, "_certdoctor_pinned", False):
        classes["https"] = _pinned_pool_class(https, pins)
        manager.pool_classes_by_scheme = classes
    return manager


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that pins SPKI hashes on top of the session's verification.

    ``pins``: ``sha256/BASE64`` (or bare base64) strings, validated (32-byte digests).
    ``ssl_context``: optional context for the origin (and for an HTTPS proxy's own TLS), set
    in ``init_poolmanager``/``proxy_manager_for`` as pip does; without it, requests' ``verify``
    decides trust as usual. Other keywords go to :class:`requests.adapters.HTTPAdapter`.

    Mount it on ``https://`` or, for per-host pins, ``https://host/``. ``verify=False`` and
    plain ``http://`` URLs are refused (:class:`UsageError`): there is nothing to pin on top of.
    """

    __attrs__ = HTTPAdapter.__attrs__ + ["_pins"]

    def __init__(self, pins: "PinSet | Iterable[str] | str", *, ssl_context: ssl.SSLContext | None = None,
                 **kwargs: Any) -> None:
        self._pins = PinSet.of(pins)
        if ssl_context is not None and (ssl_context.verify_mode != ssl.CERT_REQUIRED or not ssl_context.check_hostname):
            raise _refuse_unverified("ssl_context does not verify the chain and hostname")
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    @property
    def pins(self) -> tuple[str, ...]:
        return self._pins.pins

    def __getstate__(self) -> dict[str, Any]:
        if getattr(self, "_ssl_context", None) is not None:
            # an SSLContext cannot be pickled, and dropping it would silently change the trust
            raise TypeError("a PinnedAdapter with an ssl_context cannot be pickled")
        return super().__getstate__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        ctx = getattr(self, "_ssl_context", None)
        if ctx is not None:
            pool_kwargs.setdefault("ssl_context", ctx)
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        _pin_manager(self.poolmanager, self._pins)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        ctx = getattr(self, "_ssl_context", None)
        if ctx is not None and proxy not in self.proxy_manager:
            proxy_kwargs.setdefault("ssl_context", ctx)  # the origin's TLS inside the tunnel
            if proxy.lower().startswith("https:"):
                proxy_kwargs.setdefault("proxy_ssl_context", ctx)  # the proxy's own TLS
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        return _pin_manager(manager, self._pins)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if getattr(self, "_ssl_context", None) is not None and verify is True:
            # the given context is the trust store; do not load certifi into it
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> Any:
        url = request.url or ""
        if not url.lower().startswith("https://"):
            raise UsageError(f"{url.split('?')[0]}: PinnedAdapter only sends https:// requests",
                             "Plain HTTP has no key to pin; mount PinnedAdapter on https:// only.")
        if verify is False:
            raise _refuse_unverified(f"verify=False for {url.split('?')[0]}")
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                            proxies=proxies)


# --------------------------------------------------------------------------- httpx / httpcore


def _check_stream(tls_stream: Any, ssl_context: Any, server_hostname: str | None, pins: PinSet,
                  tcp: tuple[str, int] | None = None) -> None:
    host = server_hostname or "(no server name)"
    if tcp is not None and tcp[0] == server_hostname:  # direct: the TCP peer is the origin
        host = f"{host}:{tcp[1]}"
    if ssl_context.verify_mode != ssl.CERT_REQUIRED or not ssl_context.check_hostname:
        raise _refuse_unverified(f"the TLS context for {host}")
    tls = tls_stream.get_extra_info("ssl_object")
    if tls is None:
        raise PinMismatch(f"pin check for {host}: the TLS connection object is not available", None)
    check_pins(tls, pins, host)


@functools.lru_cache(maxsize=None)
def _make_sync_wrappers():
    import httpcore

    class PinnedStream(httpcore.NetworkStream):
        def __init__(self, stream: Any, guard: "_Guard", tcp: tuple[str, int] | None = None) -> None:
            self._stream = stream
            self._guard = guard
            self._tcp = tcp

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, timeout)

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, timeout)

        def close(self) -> None:
            self._stream.close()

        def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                      timeout: float | None = None) -> Any:
            tls = self._stream.start_tls(ssl_context, server_hostname, timeout)
            if self._guard.applies(ssl_context):
                try:
                    _check_stream(tls, ssl_context, server_hostname, self._guard.pins, self._tcp)
                except BaseException:
                    tls.close()
                    raise
            return PinnedStream(tls, self._guard)

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class PinnedBackend(httpcore.NetworkBackend):
        def __init__(self, backend: Any, guard: "_Guard") -> None:
            self._backend = backend
            self._guard = guard

        def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                        local_address: str | None = None, socket_options: Any = None) -> Any:
            return PinnedStream(self._backend.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                          socket_options=socket_options), self._guard, (host, port))

        def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
            return PinnedStream(self._backend.connect_unix_socket(path, timeout=timeout,
                                                                  socket_options=socket_options), self._guard)

        def sleep(self, seconds: float) -> None:
            self._backend.sleep(seconds)

    return PinnedBackend


@functools.lru_cache(maxsize=None)
def _make_async_wrappers():
    import httpcore

    class AsyncPinnedStream(httpcore.AsyncNetworkStream):
        def __init__(self, stream: Any, guard: "_Guard", tcp: tuple[str, int] | None = None) -> None:
            self._stream = stream
            self._guard = guard
            self._tcp = tcp

        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return await self._stream.read(max_bytes, timeout)

        async def write(self, buffer: bytes, timeout: float | None = None) -> None:
            await self._stream.write(buffer, timeout)

        async def aclose(self) -> None:
            await self._stream.aclose()

        async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                            timeout: float | None = None) -> Any:
            tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
            if self._guard.applies(ssl_context):
                try:
                    _check_stream(tls, ssl_context, server_hostname, self._guard.pins, self._tcp)
                except BaseException:
                    await tls.aclose()
                    raise
            return AsyncPinnedStream(tls, self._guard)

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class AsyncPinnedBackend(httpcore.AsyncNetworkBackend):
        def __init__(self, backend: Any, guard: "_Guard") -> None:
            self._backend = backend
            self._guard = guard

        async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                              local_address: str | None = None, socket_options: Any = None) -> Any:
            stream = await self._backend.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            return AsyncPinnedStream(stream, self._guard, (host, port))

        async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                      socket_options: Any = None) -> Any:
            stream = await self._backend.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)
            return AsyncPinnedStream(stream, self._guard)

        async def sleep(self, seconds: float) -> None:
            await self._backend.sleep(seconds)

    return AsyncPinnedBackend


@dataclass(frozen=True, slots=True)
class _Guard:
    """Which TLS handshakes of a pool are checked: those made with the origin's context.

    Through an HTTPS proxy httpcore makes two handshakes on one connection, the proxy's (with
    its ``proxy_ssl_context``) and the origin's (with the pool's ``ssl_context``); only the
    origin is pinned. A proxy sharing the origin's context object is pinned too (fails closed).
    """

    pins: PinSet
    origin_context: Any

    def applies(self, ssl_context: Any) -> bool:
        return ssl_context is self.origin_context


def _pin_pool(pool: Any, pins: PinSet, is_async: bool) -> None:
    ctx = getattr(pool, "_ssl_context", None)
    backend = getattr(pool, "_network_backend", None)
    if ctx is None or backend is None:
        raise UsageError("cannot pin this httpx transport: its connection pool exposes no SSL context "
                         "or network backend (httpcore 1.x is needed)", None)
    if ctx.verify_mode != ssl.CERT_REQUIRED or not ctx.check_hostname:
        raise _refuse_unverified("this httpx transport's verify setting")
    if getattr(backend, "_certdoctor_pinned", False):
        return
    cls = _make_async_wrappers() if is_async else _make_sync_wrappers()
    wrapped = cls(backend, _Guard(pins, ctx))
    wrapped._certdoctor_pinned = True
    pool._network_backend = wrapped


def pin_httpx_transport(transport: Any, pins: "PinSet | Iterable[str] | str") -> Any:
    """Pin an ``httpx.HTTPTransport`` or ``httpx.AsyncHTTPTransport`` in place; return it.

    Its TLS handshakes with the origin are followed by the pin check before the request is
    written. Transports with verification off, and other transport types, raise UsageError.
    """
    import httpx

    pinset = PinSet.of(pins)
    if isinstance(transport, httpx.HTTPTransport):
        _pin_pool(transport._pool, pinset, is_async=False)
    elif isinstance(transport, httpx.AsyncHTTPTransport):
        _pin_pool(transport._pool, pinset, is_async=True)
    else:
        raise UsageError(f"cannot pin a {type(transport).__name__}: only httpx.HTTPTransport and "
                         "httpx.AsyncHTTPTransport can be pinned", None)
    return transport


@functools.lru_cache(maxsize=None)
def _make_transport_classes():
    import httpx

    class PinnedHTTPTransport(httpx.HTTPTransport):
        """``httpx.HTTPTransport(**kwargs)`` whose origin handshakes are pin-checked."""

        def __init__(self, pins: "PinSet | Iterable[str] | str", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            pin_httpx_transport(self, pins)

    class AsyncPinnedHTTPTransport(httpx.AsyncHTTPTransport):
        """``httpx.AsyncHTTPTransport(**kwargs)`` whose origin handshakes are pin-checked."""

        def __init__(self, pins: "PinSet | Iterable[str] | str", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            pin_httpx_transport(self, pins)

    for cls in (PinnedHTTPTransport, AsyncPinnedHTTPTransport):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    return PinnedHTTPTransport, AsyncPinnedHTTPTransport


def _refuse_plain(request: Any) -> None:
    if request.url.scheme != "https":
        raise UsageError(f"{request.url.copy_with(query=None)}: a pinned httpx client only sends https:// requests",
                         "Plain HTTP has no key to pin.")


async def _arefuse_plain(request: Any) -> None:
    _refuse_plain(request)


def httpx_client(pins: "PinSet | Iterable[str] | str", **kwargs: Any) -> Any:
    """An ``httpx.Client(**kwargs)`` whose every transport (proxies included) is pinned.

    ``verify=``, ``cert=``, ``proxy=``, ``mounts=``, ``trust_env=``... keep their httpx meaning;
    ``verify=False`` is refused. Requests to ``http://`` URLs are refused by a request hook.
    """
    import httpx

    pinset = PinSet.of(pins)
    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["request"] = [_refuse_plain, *hooks.get("request", [])]
    client = httpx.Client(event_hooks=hooks, **kwargs)
    try:
        pin_httpx_transport(client._transport, pinset)
        for transport in client._mounts.values():
            if transport is not None:
                pin_httpx_transport(transport, pinset)
    except BaseException:
        client.close()
        raise
    return client


def async_httpx_client(pins: "PinSet | Iterable[str] | str", **kwargs: Any) -> Any:
    """The ``httpx.AsyncClient`` counterpart of :func:`httpx_client`."""
    import httpx

    pinset = PinSet.of(pins)
    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["request"] = [_arefuse_plain, *hooks.get("request", [])]
    client = httpx.AsyncClient(event_hooks=hooks, **kwargs)
    pin_httpx_transport(client._transport, pinset)
    for transport in client._mounts.values():
        if transport is not None:
            pin_httpx_transport(transport, pinset)
    return client


def __getattr__(name: str) -> Any:
    # the httpx transport classes subclass httpx's: built on first use so that importing
    # certdoctor.pinning.adapters (for requests) does not import httpx
    if name in ("PinnedHTTPTransport", "AsyncPinnedHTTPTransport"):
        sync_cls, async_cls = _make_transport_classes()
        globals()["PinnedHTTPTransport"] = sync_cls
        globals()["AsyncPinnedHTTPTransport"] = async_cls
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

