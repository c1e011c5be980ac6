"""The one parser for an endpoint the user names: ``https://host[:port]/path`` or ``host[:port]``.

Accepted forms (anything else is a :class:`~certdoctor.errors.UsageError` naming the input)::

    example.org                 example.org:8443            example.org:8443/path
    https://example.org/p?q=1   https://example.org:8443/   HTTPS://Example.org
    192.0.2.10:8443             [2001:db8::1]:8443          2001:db8::1  (bare IPv6, port 443)

    >>> parse_target("example.org:8443/health?full=1")
    Target(host='example.org', port=8443, servername='example.org', url='https://example.org:8443/health?full=1')
    >>> parse_target("[2001:db8::1]").url
    'https://[2001:db8::1]/'

Files and ``-`` are the callers' business (``inspect``, ``expiry``, ``revocation`` look for a
file first); this module only ever sees text that should name a host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from certdoctor.errors import UsageError

DEFAULT_PORT = 443
FORMS = "https://host[:port]/path or host[:port] ([v6]:port for IPv6)"
HINT = f"Give {FORMS}."

# What ssl, the idna codec and DNS all accept: ASCII letters, digits, '-', '_' (SRV-style and
# some internal names) and '.'; IDNA names in their xn-- form.
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
_PORT = re.compile(r"[0-9]{1,5}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SHOWN = 80  # a message names the input, but stays one readable line


@dataclass(frozen=True, slots=True)
class Target:
    """What the user asked about: ``host``/``port`` to connect to, ``servername`` for SNI
    and hostname checking, ``url`` for the real client."""

    host: str
    port: int
    servername: str
    url: str

    @property
    def path(self) -> str:
        """The path and query of ``url`` (``"/"`` at least), as sent in the request line."""
        return self.url[self.url.index("/", len("https://")):]


def parse_target(text: str, servername: str | None = None) -> Target:
    """``https://host[:port]/path`` or ``host[:port]`` (``[v6]:port``, bare IPv6) → :class:`Target`.

    The host is lower-cased, the port defaults to 443, the path and query are kept (the
    fragment is not) and ``url`` omits the default port. ``servername`` defaults to the host.

        >>> parse_target("example.org:99999")
        Traceback (most recent call last):
        certdoctor.errors.UsageError: 'example.org:99999': port '99999' is not a number from 1 to 65535
    """
    if not isinstance(text, str):
        raise UsageError(f"target {quote_input(text)} is not text", HINT)
    shown = quote_input(text)
    stripped = text.strip()
    if not stripped:
        raise UsageError("empty target", HINT)
    if _CONTROL.search(stripped):
        raise UsageError(f"{shown}: contains a control character", HINT)

    # Any "://" makes a URL (as the callers' file-or-endpoint checks assume): "h/?u=https://x" is
    # refused rather than read as host "h"; write https://h/?u=https://x.
    scheme, sep, rest = stripped.partition("://")
    if not sep:
        rest = stripped
    else:
        low = scheme.lower()
        if low == "http":
            raise UsageError(f"{shown}: an http:// URL has no certificate", "Use https:// (or host[:port]).")
        if low != "https":
            raise UsageError(f"{shown}: unsupported URL scheme {quote_input(scheme)}; give {FORMS}",
                             "certdoctor checks TLS servers: use https://.")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    path, _, _fragment = tail.partition("#")
    if not path.startswith("/"):
        path = "/" + path  # "host?q" → "/?q"

    if "@" in authority:
        raise UsageError(f"{shown}: user names and passwords (user@host) are not supported", HINT)
    host, port = _split_authority(authority, shown, bracketed_only=bool(sep))
    host = _check_host(host, shown)

    netloc = f"[{host}]" if ":" in host else host
    url = f"https://{netloc}{'' if port == DEFAULT_PORT else f':{port}'}{path}"
    return Target(host=host, port=port, servername=servername or host, url=url)


def _split_authority(authority: str, shown: str, *, bracketed_only: bool) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or (outside a URL) a bare IPv6 address."""
    port_text = ""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise UsageError(f"{shown}: missing ']' after the IPv6 address", HINT)
        host, after = authority[1:end], authority[end + 1:]
        if after and not after.startswith(":"):
            raise UsageError(f"{shown}: unexpected {quote_input(after)} after ']'; not [v6]:port", HINT)
        port_text = after[1:]
        if not host:
            raise UsageError(f"{shown}: no host (empty brackets)", HINT)
        if "%" in host:
            raise UsageError(f"{shown}: IPv6 zone IDs ('%…') are not supported", "Give a global IPv6 address.")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"{shown}: {quote_input(host)} in brackets is not an IPv6 address", HINT) from None
    elif authority.count(":") > 1:  # a bare IPv6 address, which can carry no port
        host = authority
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"{shown}: neither host[:port] nor an IPv6 address", HINT) from None
        if bracketed_only:
            raise UsageError(f"{shown}: an IPv6 address in a URL needs brackets, https://[{host}]/", HINT)
    else:
        host, _, port_text = authority.partition(":")
    port = DEFAULT_PORT
    if port_text:  # "host:" means the default port, as in a URL
        if not _PORT.fullmatch(port_text) or not 0 < int(port_text) < 65536:
            raise UsageError(f"{shown}: port {quote_input(port_text)} is not a number from 1 to 65535", HINT)
        port = int(port_text)
    return host, port


def _check_host(host: str, shown: str) -> str:
    """The host, lower-cased, or a UsageError that says what is wrong with it."""
    if not host:
        raise UsageError(f"{shown}: no host", HINT)
    try:
        ipaddress.ip_address(host)
        return host.lower()
    except ValueError:
        pass
    if not host.isascii():
        try:
            ace = host.encode("idna").decode("ascii")
        except UnicodeError:
            ace = ""
        # nameprep maps some characters to others (NBSP to a space): only suggest a usable name
        use = f"use its IDNA form {ace!r}" if _HOST.fullmatch(ace) else "use its IDNA (xn--) form"
        raise UsageError(f"{shown}: not an ASCII host name; {use}", HINT)
    if not _HOST.fullmatch(host):
        bad = next((c for c in host if not (c.isalnum() or c in "_.-")), None)
        if bad is not None:
            why = f"{bad!r} cannot be part of a host name (letters, digits, '-', '_', '.')"
        elif len(host) > 253:
            why = f"the host name is {len(host)} characters long, more than 253"
        else:
            why = "a host name must start with a letter, a digit or '_'"
        raise UsageError(f"{shown}: {why}", HINT)
    labels = host.rstrip(".").split(".")
    if "" in labels:
        raise UsageError(f"{shown}: the host name has an empty label ('..')", HINT)
    if any(len(label) > 63 for label in labels):
        raise UsageError(f"{shown}: a label of the host name is longer than 63 characters", HINT)
    return host.lower()


def quote_input(value: object) -> str:
    """``repr`` of the input (escapes keep it on one line), cut to a readable length."""
    shown = repr(value)
    return shown if len(shown) <= _SHOWN else shown[:_SHOWN] + "…"


__all__ = ["Target", "parse_target", "quote_input", "DEFAULT_PORT"]
