"""SPKI pinning for requests and httpx, on top of normal verification.

Verification stays exactly what the client does without pinning (chain and hostname against
``verify=``, ``REQUESTS_CA_BUNDLE``, an ``ssl_context``, ...). Only after that handshake
succeeded is the peer's public key compared with the pins: the leaf's, and every certificate
of the *verified* chain where Python can tell us that chain (3.13+ publicly; 3.10-3.12 through
the ssl module's private ``_sslobj.get_verified_chain()``). On a mismatch the connection is
closed and :class:`~certdoctor.errors.PinMismatch` raised before any request byte is sent
(as ``RequestsPinMismatch``, a ``requests.exceptions.SSLError``, or ``HTTPXPinMismatch``, an
``httpx.ConnectError``).

    >>> from certdoctor.pinning.adapters import pinned_session, httpx_client
    >>> PINS = {"example.org": ["sha256/…", "sha256/…backup…"]}       # host[:port] -> pins
    >>> s = pinned_session(PINS)         # one PinnedAdapter(PINS) on https:// and http://  # doctest: +SKIP
    >>> with httpx_client(PINS) as client:                                           # doctest: +SKIP
    ...     client.get("https://example.org/")

The pins are looked up by the host each connection really goes to, in one spelling (see
:func:`normalise_origin`): never mount a pin set on a host prefix (``https://example.org/``),
which requests matches by the URL's spelling (``https://EXAMPLE.org.:443/`` escapes it).

A trust-store swap (an adapter whose ``init_poolmanager`` only loads one CA file) is not
pinning: any certificate that CA signs for the name passes (catalogue SEED_FAKE_PINNING).
"""

from __future__ import annotations

import contextvars
import functools
import ssl
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from requests import exceptions as requests_exceptions
from requests.adapters import HTTPAdapter

from certdoctor.errors import PinMismatch, UsageError
from certdoctor.pinning.pins import parse_pins, pin_of_der

__all__ = [
    "PinSet",
    "PinPolicy",
    "normalise_host",
    "normalise_origin",
    "RequestsPinMismatch",
    "HTTPXPinMismatch",
    "pinned_session",
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


def normalise_host(host: str | bytes) -> str:
    """The one spelling of ``host`` pins are looked up by: no IPv6 brackets, no trailing dot,
    lower case, IDNA A-label (``bücher.test`` -> ``xn--bcher-kva.test``), an IP address in its
    compressed form. Raises :class:`UsageError` for an empty or unencodable name."""
    import ipaddress

    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    name = str(host).strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name.split("%", 1)[0]))
    except ValueError:
        pass
    name = name.rstrip(".").lower()
    if not name:
        raise UsageError(f"{host!r}: not a host name", "Name the host as in its URL: 'api.example.org'.")
    if not name.isascii():
        try:
            import idna

            name = idna.encode(name, uts46=True).decode("ascii")
        except Exception:
            try:
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                raise UsageError(f"{host!r}: not a valid international host name", None) from None
    return name.lower()


def normalise_origin(origin: str, default_port: int = 443) -> tuple[str, int]:
    """``(host, port)`` of a pin map key: ``host``, ``host:port``, ``[v6]``, ``[v6]:port``, or an
    ``https://host[:port]/`` URL; no port means ``default_port`` (443)."""
    text = str(origin).strip()
    if "://" in text:
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        if parts.scheme.lower() != "https":
            raise UsageError(f"{origin!r}: pins are for https:// origins", "Give 'host' or 'host:port'.")
        text = parts.netloc.rsplit("@", 1)[-1]
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UsageError(f"{origin!r}: unbalanced '['", "Write an IPv6 address as [::1] or [::1]:8443.")
        host, rest = text[: end + 1], text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"{origin!r}: expected ':port' after ']'", None)
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"{origin!r}: port {port!r} is not a number from 1 to 65535", None)
        return normalise_host(host), int(port)
    return normalise_host(host), default_port


@dataclass(frozen=True, slots=True)
class PinPolicy:
    """Which pins a connection must match, looked up by the host it really goes to.

    ``every``: one pin set for every host (``PinnedAdapter(pins=[...])``); else ``by_origin``
    maps a normalised ``(host, port)`` (:func:`normalise_origin`) to its pins, and a host not in
    it gets normal verification only. Looked up at connect time with the connection's own host
    (whatever the URL's spelling), so no spelling of a pinned host escapes its pins.
    """

    every: PinSet | None
    by_origin: tuple[tuple[tuple[str, int], PinSet], ...] = ()

    @classmethod
    def of(cls, pins: "PinPolicy | PinSet | Mapping[str, Any] | Iterable[str] | str") -> "PinPolicy":
        if isinstance(pins, PinPolicy):
            return pins
        if isinstance(pins, Mapping):
            if not pins:
                raise UsageError("no host to pin: the map of host -> pins is empty",
                                 "Give at least one host, e.g. {'api.example.org': [PRIMARY, BACKUP]}.")
            seen: dict[tuple[str, int], str] = {}
            rows = []
            for key, value in pins.items():
                origin = normalise_origin(key)
                if origin in seen:
                    raise UsageError(f"{key!r} and {seen[origin]!r} name the same host and port "
                                     f"{origin[0]}:{origin[1]}", "Give each host's pins once.")
                seen[origin] = key
                rows.append((origin, PinSet.of(value)))
            return cls(None, tuple(rows))
        return cls(PinSet.of(pins))

    def pins_for(self, host: str | bytes | None, port: int | None) -> PinSet | None:
        """The pins of ``host:port`` (``None``: not pinned). ``port`` ``None`` (not known):
        every pin of that host on any port, so an unknown port never means no pins."""
        if self.every is not None:
            return self.every
        if host is None:
            return None
        try:
            name = normalise_host(host)
        except UsageError:
            return None
        found = [p for (h, pt), p in self.by_origin if h == name and (port is None or pt == port)]
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        return PinSet(tuple(dict.fromkeys(pin for s in found for pin in s.pins)))

    def covers_host(self, host: str | bytes | None) -> bool:
        """Has ``host`` pins on some port (so plain http to it is refused)?"""
        return self.every is not None or self.pins_for(host, None) is not None

    @property
    def pins(self) -> tuple[str, ...]:
        """Every pin of the policy, in order, each once."""
        if self.every is not None:
            return self.every.pins
        return tuple(dict.fromkeys(p for _, s in self.by_origin for p in s.pins))

    def hosts(self) -> tuple[str, ...]:
        """The pinned origins as ``host:port`` (IPv6 in brackets)."""
        return tuple(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for (h, p), _ in self.by_origin)


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
    no request byte reaches the origin. The pins are looked up by the host and port this
    connection really goes to (the tunnel's origin through a proxy), not by the URL's spelling.
    """

    _certdoctor_policy: PinPolicy

    def connect(self) -> None:  # type: ignore[override]
        super().connect()  # type: ignore[misc]
        host = getattr(self, "_tunnel_host", None) or self.host  # type: ignore[attr-defined]
        port = getattr(self, "_tunnel_port", None) or self.port or 443  # type: ignore[attr-defined]
        where = f"{host}:{port}" if port else str(host)
        try:
            if not getattr(self, "is_verified", False) or getattr(self, "assert_hostname", None) is False:
                raise _refuse_unverified(f"the connection to {where} was not verified")
            pins = self._certdoctor_policy.pins_for(host, port)
            if pins is not None:
                check_pins(self.sock, pins, where)  # type: ignore[attr-defined]
        except BaseException:
            self.close()  # type: ignore[attr-defined]
            raise


def _pinned_pool_class(base: type, policy: PinPolicy) -> type:
    conn_base = base.ConnectionCls
    conn_cls = type(f"Pinned{conn_base.__name__}", (_PinCheckingConnection, conn_base),
                    {"_certdoctor_policy": policy, "__module__": __name__})
    return type(f"Pinned{base.__name__}", (base,),
                {"ConnectionCls": conn_cls, "_certdoctor_pinned": True, "__module__": __name__})


def _pin_manager(manager: Any, policy: PinPolicy) -> Any:
    """Make every HTTPS pool of a urllib3 PoolManager/ProxyManager check ``policy``."""
    classes = dict(manager.pool_classes_by_scheme)
    https = classes["https"]
    if not getattr(https, "_certdoctor_pinned", False):
        classes["https"] = _pinned_pool_class(https, policy)
        manager.pool_classes_by_scheme = classes
    return manager


def _requests_mismatch(exc: PinMismatch, request: Any) -> "PinMismatch":
    """``exc`` as :class:`RequestsPinMismatch` (a ``requests.exceptions.SSLError``)."""
    if isinstance(exc, RequestsPinMismatch):
        return exc
    err = RequestsPinMismatch(exc.message, exc.hint)
    err.request = request
    err.response = None
    for name in ("host", "presented", "expected"):
        if hasattr(exc, name):
            setattr(err, name, getattr(exc, name))
    return err


class RequestsPinMismatch(PinMismatch, requests_exceptions.SSLError):
    """The :class:`~certdoctor.errors.PinMismatch` a requests session raises: also a
    ``requests.exceptions.SSLError`` (so ``except requests.RequestException`` catches it).
    ``host``, ``presented``, ``expected`` as on the base class."""


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that pins SPKI hashes on top of the session's verification.

    ``pins``: either one pin set for every host this adapter reaches (``sha256/BASE64`` or
    bare base64 strings, validated: 32-byte digests), or a map of host to pins —
    ``{"api.example.org": [...], "api.example.org:8443": [...], "[::1]:8443": [...]}`` — where
    a host is looked up in one spelling (lower case, no trailing dot, IDNA A-label, port 443
    when none is written; :func:`normalise_origin`) by the host each connection really goes to,
    and a host without pins gets normal verification only. Mount the map form on ``https://``
    (and ``http://``, where it refuses plain HTTP to a pinned host), or use
    :func:`pinned_session`. Mounting a pin set on a host prefix (``https://host/``) is not
    safe: requests routes by the URL's spelling, so ``https://HOST.:443/`` reaches another
    adapter.

    ``ssl_context``: optional context for the origin (and for an HTTPS proxy's own TLS), set
    in ``init_poolmanager``/``proxy_manager_for`` as pip does; without it, requests' ``verify``
    decides trust as usual. Other keywords go to :class:`requests.adapters.HTTPAdapter`.

    ``verify=False`` is refused (:class:`UsageError`): there is nothing to pin on top of. A key
    that matches no pin raises :class:`RequestsPinMismatch` before any request byte is sent.
    """

    __attrs__ = HTTPAdapter.__attrs__ + ["_policy"]

    def __init__(self, pins: "PinPolicy | PinSet | Mapping[str, Any] | Iterable[str] | str", *,
                 ssl_context: ssl.SSLContext | None = None, **kwargs: Any) -> None:
        self._policy = PinPolicy.of(pins)
        if ssl_context is not None and (ssl_context.verify_mode != ssl.CERT_REQUIRED or not ssl_context.check_hostname):
            raise _refuse_unverified("ssl_context does not verify the chain and hostname")
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    @property
    def pins(self) -> tuple[str, ...]:
        return self._policy.pins

    @property
    def policy(self) -> PinPolicy:
        return self._policy

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
        _pin_manager(self.poolmanager, self._policy)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        ctx = getattr(self, "_ssl_context", None)
        if ctx is not None and proxy not in self.proxy_manager:
            proxy_kwargs.setdefault("ssl_context", ctx)  # the origin's TLS inside the tunnel
            if proxy.lower().startswith("https:"):
                proxy_kwargs.setdefault("proxy_ssl_context", ctx)  # the proxy's own TLS
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        return _pin_manager(manager, self._policy)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if getattr(self, "_ssl_context", None) is not None and verify is True:
            # the given context is the trust store; do not load certifi into it
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> Any:
        from urllib.parse import urlsplit

        url = request.url or ""
        shown = url.split("?")[0]
        if not url.lower().startswith("https://"):
            try:
                host = urlsplit(url).hostname
            except ValueError:
                host = None
            if self._policy.every is not None:
                raise UsageError(f"{shown}: PinnedAdapter only sends https:// requests",
                                 "Plain HTTP has no key to pin; mount PinnedAdapter on https:// only.")
            if self._policy.covers_host(host):
                raise _requests_mismatch(PinMismatch(
                    f"{shown}: {host} is pinned, and plain HTTP has no key to check: refused before "
                    "any request byte was sent",
                    "Use https:// for a pinned host (a redirect to http:// is refused too)."), request)
            # a host without pins: what requests does without this adapter
        if verify is False:
            raise _refuse_unverified(f"verify=False for {shown}")
        try:
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                proxies=proxies)
        except PinMismatch as exc:
            raise _requests_mismatch(exc, request) from None


def pinned_session(pins_by_host: "Mapping[str, Any]", *, ssl_context: ssl.SSLContext | None = None,
                   **adapter_kwargs: Any) -> Any:
    """A ``requests.Session`` with one :class:`PinnedAdapter` for ``pins_by_host`` mounted on
    ``https://`` and ``http://``: a pinned host under any spelling (case, trailing dot, explicit
    or implicit :443, U-label or A-label, followed redirects included) must match its pins, a
    plain-HTTP request or redirect to it is refused, every other host is verified normally.
    The session's ``verify``, ``proxies``, ``trust_env`` keep their requests meaning."""
    import requests

    if not isinstance(pins_by_host, Mapping):
        raise UsageError("pinned_session takes a map of host -> pins",
                         "e.g. pinned_session({'api.example.org': [PRIMARY, BACKUP]})")
    adapter = PinnedAdapter(pins_by_host, ssl_context=ssl_context, **adapter_kwargs)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# --------------------------------------------------------------------------- httpx / httpcore


#: the origin (host, port) of the request an httpx transport is sending, set around
#: ``handle_request``: through a proxy the TLS stream knows the origin's name, not its port
_ORIGIN: "contextvars.ContextVar[tuple[str, int] | None]" = contextvars.ContextVar("certdoctor_pin_origin",
                                                                                    default=None)


def _check_stream(tls_stream: Any, ssl_context: Any, server_hostname: str | None, policy: PinPolicy,
                  tcp: tuple[str, int] | None = None) -> None:
    origin = _ORIGIN.get()
    if origin is not None:
        pins = policy.pins_for(origin[0], origin[1])
        host = f"{origin[0]}:{origin[1]}"
    elif tcp is not None and server_hostname is not None and tcp[0] == server_hostname:
        pins = policy.pins_for(tcp[0], tcp[1])  # direct: the TCP peer is the origin
        host = f"{tcp[0]}:{tcp[1]}"
    else:
        pins = policy.pins_for(server_hostname, None)
        host = server_hostname or "(no server name)"
    if pins is None and server_hostname is not None:
        pins = policy.pins_for(server_hostname, None)  # the name the certificate is checked for
    if ssl_context.verify_mode != ssl.CERT_REQUIRED or not ssl_context.check_hostname:
        raise _refuse_unverified(f"the TLS context for {host}")
    if pins is None:
        return  # a host without pins: normal verification only
    tls = tls_stream.get_extra_info("ssl_object")
    if tls is None:
        raise PinMismatch(f"pin check for {host}: the TLS connection object is not available", None)
    check_pins(tls, pins, host)


def _origin_of(request: Any) -> tuple[str, int]:
    url = request.url
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.raw_host.decode("ascii", "replace"), port


def _httpx_mismatch(exc: PinMismatch, request: Any) -> PinMismatch:
    """``exc`` as :class:`HTTPXPinMismatch` (an ``httpx.ConnectError``)."""
    cls = _httpx_mismatch_class()
    if isinstance(exc, cls):
        return exc
    err = cls(exc.message, exc.hint)
    err._request = request
    for name in ("host", "presented", "expected"):
        if hasattr(exc, name):
            setattr(err, name, getattr(exc, name))
    return err


@functools.lru_cache(maxsize=None)
def _httpx_mismatch_class() -> type:
    import httpx

    class HTTPXPinMismatch(PinMismatch, httpx.ConnectError):
        """The :class:`~certdoctor.errors.PinMismatch` a pinned httpx client raises: also an
        ``httpx.ConnectError`` (so ``except httpx.HTTPError`` / ``TransportError`` catch it)."""

        def __init__(self, message: str, hint: str | None = None) -> None:
            PinMismatch.__init__(self, message, hint)
            self._request = None

    HTTPXPinMismatch.__module__ = __name__
    return HTTPXPinMismatch


def _wrap_handle(transport: Any, is_async: bool) -> None:
    """Around the transport's ``handle_request``: the origin for the pin lookup, and a
    mismatch raised as :class:`HTTPXPinMismatch`."""
    if getattr(transport, "_certdoctor_wrapped", False):
        return
    if is_async:
        inner_async = transport.handle_async_request

        async def handle_async_request(request: Any) -> Any:
            token = _ORIGIN.set(_origin_of(request))
            try:
                return await inner_async(request)
            except PinMismatch as exc:
                raise _httpx_mismatch(exc, request) from None
            finally:
                _ORIGIN.reset(token)

        transport.handle_async_request = handle_async_request
    else:
        inner = transport.handle_request

        def handle_request(request: Any) -> Any:
            token = _ORIGIN.set(_origin_of(request))
            try:
                return inner(request)
            except PinMismatch as exc:
                raise _httpx_mismatch(exc, request) from None
            finally:
                _ORIGIN.reset(token)

        transport.handle_request = handle_request
    transport._certdoctor_wrapped = True


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
                    _check_stream(tls, ssl_context, server_hostname, self._guard.policy, self._tcp)
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
                    _check_stream(tls, ssl_context, server_hostname, self._guard.policy, self._tcp)
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

    policy: PinPolicy
    origin_context: Any

    def applies(self, ssl_context: Any) -> bool:
        return ssl_context is self.origin_context


def _pin_pool(pool: Any, policy: PinPolicy, is_async: bool) -> None:
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
    wrapped = cls(backend, _Guard(policy, ctx))
    wrapped._certdoctor_pinned = True
    pool._network_backend = wrapped


def pin_httpx_transport(transport: Any, pins: "PinPolicy | PinSet | Mapping[str, Any] | Iterable[str] | str") -> Any:
    """Pin an ``httpx.HTTPTransport`` or ``httpx.AsyncHTTPTransport`` in place; return it.

    ``pins``: one pin set for every host, or a map of host -> pins (as :class:`PinnedAdapter`).
    Its TLS handshakes with the origin are followed by the pin check before the request is
    written. Transports with verification off, and other transport types, raise UsageError.
    """
    import httpx

    policy = PinPolicy.of(pins)
    if isinstance(transport, httpx.HTTPTransport):
        _pin_pool(transport._pool, policy, is_async=False)
        _wrap_handle(transport, is_async=False)
    elif isinstance(transport, httpx.AsyncHTTPTransport):
        _pin_pool(transport._pool, policy, is_async=True)
        _wrap_handle(transport, is_async=True)
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


def _plain_refuser(policy: PinPolicy) -> Any:
    """A request hook (every redirect hop runs it too): plain HTTP is refused for a pinned host
    (for every host with one pin set for all)."""

    def refuse(request: Any) -> None:
        if request.url.scheme == "https":
            return
        shown = request.url.copy_with(query=None)
        if policy.every is not None:
            raise UsageError(f"{shown}: a pinned httpx client only sends https:// requests",
                             "Plain HTTP has no key to pin.")
        if policy.covers_host(request.url.raw_host):
            raise _httpx_mismatch(PinMismatch(
                f"{shown}: {request.url.host} is pinned, and plain HTTP has no key to check: refused "
                "before any request byte was sent",
                "Use https:// for a pinned host (a redirect to http:// is refused too)."), request)

    return refuse


def _async_plain_refuser(policy: PinPolicy) -> Any:
    refuse = _plain_refuser(policy)

    async def arefuse(request: Any) -> None:
        refuse(request)

    return arefuse


def httpx_client(pins: "PinPolicy | PinSet | Mapping[str, Any] | Iterable[str] | str", **kwargs: Any) -> Any:
    """An ``httpx.Client(**kwargs)`` whose every transport (proxies included) is pinned.

    ``pins``: one pin set for every host, or a map of host -> pins (``{"api.example.org":
    [...], "api.example.org:8443": [...]}``, looked up in one spelling by the host each
    request really goes to, as :class:`PinnedAdapter`); a host without pins is verified
    normally. ``verify=``, ``cert=``, ``proxy=``, ``mounts=``, ``trust_env=``,
    ``follow_redirects=``... keep their httpx meaning (every redirect hop is pinned by its own
    host); ``verify=False`` is refused. Plain ``http://`` is refused by a request hook (for a
    pinned host; for every host with one pin set). A key that matches no pin raises
    ``HTTPXPinMismatch``, a :class:`~certdoctor.errors.PinMismatch` and ``httpx.ConnectError``.
    """
    import httpx

    policy = PinPolicy.of(pins)
    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["request"] = [_plain_refuser(policy), *hooks.get("request", [])]
    client = httpx.Client(event_hooks=hooks, **kwargs)
    try:
        pin_httpx_transport(client._transport, policy)
        for transport in client._mounts.values():
            if transport is not None:
                pin_httpx_transport(transport, policy)
    except BaseException:
        client.close()
        raise
    return client


def async_httpx_client(pins: "PinPolicy | PinSet | Mapping[str, Any] | Iterable[str] | str", **kwargs: Any) -> Any:
    """The ``httpx.AsyncClient`` counterpart of :func:`httpx_client`."""
    import httpx

    policy = PinPolicy.of(pins)
    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["request"] = [_async_plain_refuser(policy), *hooks.get("request", [])]
    client = httpx.AsyncClient(event_hooks=hooks, **kwargs)
    pin_httpx_transport(client._transport, policy)
    for transport in client._mounts.values():
        if transport is not None:
            pin_httpx_transport(transport, policy)
    return client


def __getattr__(name: str) -> Any:
    # the httpx transport classes subclass httpx's: built on first use so that importing
    # certdoctor.pinning.adapters (for requests) does not import httpx
    if name == "HTTPXPinMismatch":
        globals()[name] = _httpx_mismatch_class()
        return globals()[name]
    if name in ("PinnedHTTPTransport", "AsyncPinnedHTTPTransport"):
        sync_cls, async_cls = _make_transport_classes()
        globals()["PinnedHTTPTransport"] = sync_cls
        globals()["AsyncPinnedHTTPTransport"] = async_cls
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

