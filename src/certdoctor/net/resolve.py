"""Make names resolve to chosen addresses inside this process, without touching /etc/hosts.

``socket.getaddrinfo`` is the one function requests (urllib3), httpx (httpcore), urllib and
asyncio (aiohttp's default resolver) call to turn a name into an address, and they look it up
on the ``socket`` module at call time. So replacing it for a while is enough to send
``*.lab.test`` to 127.0.0.1 while TLS still sees, checks and sends (SNI) the real name.

    >>> from certdoctor.net.resolve import override
    >>> with override({"good.lab.test": "127.0.0.1"}, suffixes={"lab.test": "127.0.0.1"}):
    ...     requests.get("https://good.lab.test:8443/", verify="lab-root.pem")  # doctest: +SKIP

Overrides nest and are process-wide (every thread sees them). The patch is installed when the
first one is entered and the original function put back when the last one leaves (a
refcount under a lock); the newest override wins where two disagree. The CLI's
``--resolve HOST:ADDR`` and ``CERTDOCTOR_RESOLVE`` go through :func:`install_from_spec`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from typing import Any, Iterator, Mapping

from certdoctor.errors import UsageError

ENV_VAR = "CERTDOCTOR_RESOLVE"

_lock = threading.RLock()
_active: list["Override"] = []  # installed overrides, oldest first
_original: Any = None  # the getaddrinfo we replaced while any override is active


def _norm_host(host: object) -> str | None:
    if isinstance(host, (bytes, bytearray)):
        try:
            host = bytes(host).decode("idna")
        except UnicodeError:
            return None
    if not isinstance(host, str) or not host:
        return None
    return host.strip().rstrip(".").lower()


def _norm_suffix(suffix: str) -> str:
    s = suffix.strip().lower().rstrip(".")
    if s.startswith("*."):
        s = s[2:]
    return s.lstrip(".")


def _check_addr(host: str, addr: str) -> str:
    text = str(addr).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageError(
            f"cannot resolve {host!r} to {addr!r}: not an IP address",
            "Give an address such as 127.0.0.1 or [::1], e.g. --resolve 'good.lab.test:127.0.0.1'.",
        ) from None


class Override:
    """One set of name → address rules. A context manager; also :meth:`install`/:meth:`remove`.

    ``mapping`` maps exact names; a key written ``*.suffix`` is a suffix rule. ``suffixes``
    maps a domain (``lab.test``, ``.lab.test`` or ``*.lab.test`` alike) to the address for
    every name *under* it (``a.lab.test``, ``a.b.lab.test``; not ``lab.test`` itself).
    """

    def __init__(self, mapping: Mapping[str, str] | None = None,
                 suffixes: Mapping[str, str] | None = None) -> None:
        exact: dict[str, str] = {}
        suffix_rules: dict[str, str] = {}
        for host, addr in (mapping or {}).items():
            name = _norm_host(host)
            if not name:
                raise UsageError(f"cannot resolve an empty host name (to {addr!r})", None)
            if name.startswith("*."):
                suffix_rules[_norm_suffix(name)] = _check_addr(name, addr)
            else:
                exact[name] = _check_addr(name, addr)
        for suffix, addr in (suffixes or {}).items():
            s = _norm_suffix(suffix)
            if not s:
                raise UsageError(f"empty domain suffix (to {addr!r})", None)
            suffix_rules[s] = _check_addr(f"*.{s}", addr)
        self.exact: dict[str, str] = exact
        # longest suffix first, so that "x.lab.test" beats "lab.test"
        self.suffixes: dict[str, str] = dict(
            sorted(suffix_rules.items(), key=lambda kv: -len(kv[0]))
        )
        self._installed = False

    def lookup(self, host: object) -> str | None:
        """The address this override gives ``host``, or ``None`` if it has no rule for it."""
        name = _norm_host(host)
        if name is None:
            return None
        if name in self.exact:
            return self.exact[name]
        for suffix, addr in self.suffixes.items():
            if name.endswith("." + suffix):
                return addr
        return None

    # -- install / remove -----------------------------------------------------------------
    def install(self) -> "Override":
        global _original
        with _lock:
            if self._installed:
                return self
            if not _active:
                _original = socket.getaddrinfo
                socket.getaddrinfo = _patched_getaddrinfo
            _active.append(self)
            self._installed = True
        return self

    def remove(self) -> None:
        """Undo :meth:`install` (idempotent). The original function returns with the last one."""
        global _original
        with _lock:
            if not self._installed:
                return
            self._installed = False
            try:
                _active.remove(self)
            except ValueError:  # pragma: no cover - defensive
                pass
            if not _active and _original is not None:
                # put back only our own patch: someone who patched after us keeps theirs
                if socket.getaddrinfo is _patched_getaddrinfo:
                    socket.getaddrinfo = _original
                _original = None

    @property
    def installed(self) -> bool:
        return self._installed

    def __enter__(self) -> "Override":
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        rules = [f"{h}={a}" for h, a in self.exact.items()]
        rules += [f"*.{s}={a}" for s, a in self.suffixes.items()]
        return f"Override({', '.join(rules)}{', installed' if self._installed else ''})"


def _patched_getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0,
                         proto: int = 0, flags: int = 0) -> list:
    with _lock:
        original = _original
        addr = None
        for ov in reversed(_active):  # newest wins
            addr = ov.lookup(host)
            if addr is not None:
                break
    if original is None:  # pragma: no cover - raced with the last remove()
        original = socket.getaddrinfo if socket.getaddrinfo is not _patched_getaddrinfo else None
        if original is None:
            raise socket.gaierror(socket.EAI_FAIL, "certdoctor.net.resolve: no resolver")
    if addr is not None:
        return original(addr, port, family, type, proto, flags | socket.AI_NUMERICHOST)
    return original(host, port, family, type, proto, flags)


def override(mapping: Mapping[str, str] | None = None,
             suffixes: Mapping[str, str] | None = None) -> Override:
    """A context manager sending names to addresses in this process (see :class:`Override`).

        >>> with override({}, suffixes={"lab.test": "127.0.0.1"}):
        ...     socket.getaddrinfo("good.lab.test", 443)[0][4][0]     # doctest: +SKIP
        '127.0.0.1'
    """
    return Override(mapping, suffixes)


def lookup(host: str) -> str | None:
    """The address the active overrides give ``host`` (``None``: the normal resolver decides)."""
    with _lock:
        for ov in reversed(_active):
            addr = ov.lookup(host)
            if addr is not None:
                return addr
    return None


def active() -> tuple[Override, ...]:
    """The overrides installed right now, oldest first."""
    with _lock:
        return tuple(_active)


def parse_spec(spec: str) -> tuple[dict[str, str], dict[str, str]]:
    """Parse ``"host:addr,*.suffix:addr"`` into ``(mapping, suffixes)``.

    Also accepted: curl's ``host:port:addr`` (the port is ignored: the rule holds for every
    port), IPv6 as ``host:[::1]`` or ``host:::1``, and whitespace or ``;`` as separators.
    """
    mapping: dict[str, str] = {}
    suffixes: dict[str, str] = {}
    items = [p for chunk in spec.replace(";", ",").split(",") for p in chunk.split()]
    for item in items:
        host, sep, addr = item.partition(":")
        host = host.strip()
        if not sep or not host or not addr:
            raise UsageError(
                f"bad --resolve rule {item!r}: expected HOST:ADDRESS",
                "For example --resolve 'good.lab.test:127.0.0.1' or --resolve '*.lab.test:127.0.0.1'.",
            )
        port, sep2, rest = addr.partition(":")
        if sep2 and port.isdigit() and rest:
            # curl's --resolve host:port:addr (only when what follows is an address)
            try:
                _check_addr(host, rest)
                addr = rest
            except UsageError:
                pass
        addr = _check_addr(host, addr)
        if host.startswith("*.") or host.startswith("."):
            suffixes[_norm_suffix(host)] = addr
        else:
            mapping[host.lower().rstrip(".")] = addr
    return mapping, suffixes


def install_from_spec(spec: str) -> Override:
    """Install the rules of a ``--resolve`` spec until the returned handle is removed.

    The CLI calls this once per run; it stays in force for the rest of the process unless
    ``.remove()`` is called (or the handle is used as a context manager).
    """
    mapping, suffixes = parse_spec(spec)
    return Override(mapping, suffixes).install()


def install_from_env(environ: Mapping[str, str] | None = None) -> Override | None:
    """Install ``CERTDOCTOR_RESOLVE`` if it is set (and not blank); ``None`` otherwise."""
    env = os.environ if environ is None else environ
    spec = (env.get(ENV_VAR) or "").strip()
    if not spec:
        return None
    return install_from_spec(spec)


def iter_rules() -> Iterator[tuple[str, str]]:
    """``(pattern, address)`` of every active rule, newest first (for ``--debug`` output)."""
    for ov in reversed(active()):
        for host, addr in ov.exact.items():
            yield host, addr
        for suffix, addr in ov.suffixes.items():
            yield f"*.{suffix}", addr


__all__ = [
    "ENV_VAR",
    "Override",
    "override",
    "lookup",
    "active",
    "parse_spec",
    "install_from_spec",
    "install_from_env",
    "iter_rules",
]


# --------------------------------------------------------------------------- which addresses a certificate may send us to

#: how internal an address is, least first; a certificate's URL may name no more internal an
#: address than the target's own (``LINK_LOCAL`` is never fetched)
PUBLIC, PRIVATE, LOOPBACK, LINK_LOCAL = "public", "private", "loopback", "link-local"
_RANK = {PUBLIC: 0, PRIVATE: 1, LOOPBACK: 2}
#: cloud instance-metadata services: never fetched, whatever the target and options
METADATA = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"),
            ipaddress.ip_network("fd00:ec2::254/128"))
ALLOW_HINT = ("certdoctor does not let a certificate make it call internal services; if you trust this "
              "server, --allow-private-fetch lifts the rule for one run.")


def address_scope(addr: str) -> str:
    """``public``, ``private`` (RFC 1918, unique-local fc00::/7, CGNAT and other non-global
    ranges), ``loopback`` (127/8, ::1, and the unspecified address, which reaches this host) or
    ``link-local`` (169.254/16, fe80::/10, fd00:ec2::254, multicast, reserved: never fetched)."""
    ip = ipaddress.ip_address(addr.strip("[]").split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    if any(ip in net for net in METADATA if net.version == ip.version) or ip.is_link_local:
        return LINK_LOCAL
    if ip.is_loopback or ip.is_unspecified:
        return LOOPBACK
    if ip.is_multicast or ip.is_reserved or (ip.version == 4 and int(ip) == 0xFFFFFFFF):
        return LINK_LOCAL
    if ip.is_global:
        return PUBLIC
    return PRIVATE


def target_scope(address: str | None, *, proxied: bool = False) -> str:
    """The scope of the target's own address: what it may name. A target reached through a proxy
    (whose address certdoctor does not see), or of unknown address, is ``public``; a link-local
    target counts as ``private``."""
    if proxied or not address:
        return PUBLIC
    try:
        scope = address_scope(address)
    except ValueError:
        return PUBLIC
    return PRIVATE if scope == LINK_LOCAL else scope


def fetch_allowed(url_addr: str, target_class: str, *, allow_private: bool = False) -> str | None:
    """``None`` when a URL resolving to ``url_addr`` may be fetched for a target of
    ``target_class`` (:func:`target_scope`), else why not ("refused: internal address …").

    Link-local and cloud-metadata addresses are never fetched; otherwise the address may be no
    more internal than the target (public < private < loopback), unless ``allow_private``."""
    try:
        scope = address_scope(url_addr)
    except ValueError:
        return f"refused: {url_addr!r} is not an IP address"
    if scope == LINK_LOCAL:
        return f"refused: internal address {url_addr} (link-local or cloud metadata) is never fetched"
    if allow_private or _RANK[scope] <= _RANK.get(target_class, 0):
        return None
    return f"refused: internal address {url_addr} ({scope}) named for a {target_class} target"


class FetchScope:
    """Which addresses the downloads of one run may reach: the target's ``scope`` and
    ``--allow-private-fetch``. :data:`ANY` (the default of the low-level fetchers, whose caller
    named the URL) refuses only link-local and metadata addresses."""

    __slots__ = ("scope", "allow_private")

    def __init__(self, scope: str = PUBLIC, allow_private: bool = False) -> None:
        if scope not in _RANK:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope, self.allow_private = scope, allow_private

    @classmethod
    def for_target(cls, address: str | None, *, proxied: bool = False, allow_private: bool = False) -> "FetchScope":
        return cls(target_scope(address, proxied=proxied), allow_private)

    def refusal(self, addr: str) -> str | None:
        return fetch_allowed(addr, self.scope, allow_private=self.allow_private)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"FetchScope({self.scope!r}, allow_private={self.allow_private})"


#: anything but link-local and cloud metadata
ANY = FetchScope(LOOPBACK)


import contextlib as _contextlib
import contextvars as _contextvars

_ALLOW_PRIVATE: _contextvars.ContextVar[bool] = _contextvars.ContextVar("certdoctor_allow_private_fetch",
                                                                       default=False)


@_contextlib.contextmanager
def allowing_private_fetch(allow: bool = True) -> Iterator[None]:
    """``--allow-private-fetch`` for the block: the command's stages (``fix`` = diagnose + proofs)
    see it without each signature carrying it."""
    token = _ALLOW_PRIVATE.set(bool(allow))
    try:
        yield
    finally:
        _ALLOW_PRIVATE.reset(token)


def private_fetch_allowed() -> bool:
    """Is ``--allow-private-fetch`` in force for the running command?"""
    return _ALLOW_PRIVATE.get()
