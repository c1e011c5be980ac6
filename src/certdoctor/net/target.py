"""The one parser for an endpoint the user names: ``https://host[:port]/path`` or ``host[:port]``.

Accepted forms (anything else is a :class:`~certdoctor.errors.UsageError` naming the input)::

    example.org                 example.org:8443            example.org:8443/path
    https://example.org/p?q=1   https://example.org:8443/   HTTPS://Example.org
    192.0.2.10:8443             [2001:db8::1]:8443          2001:db8::1  (bare IPv6, port 443)

    >>> parse_target("example.org:8443/health?full=1")
    Target(host='example.org', port=8443, servername='example.org', url='https://example.org:8443/health?full=1')
    >>> parse_target("[2001:db8::1]").url
    'https://[2001:db8::1]/'

:func:`classify` is the one rule set every command uses to tell what the user named: a file, a
directory, standard input or an endpoint (see its docstring); :func:`parse_target` only ever sees
text that should name a host.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Iterable

from certdoctor.errors import InputError, UsageError

DEFAULT_PORT = 443
FORMS = "https://host[:port]/path or host[:port] ([v6]:port for IPv6)"
HINT = f"Give {FORMS}."
#: the hint of commands that take a file as well as an endpoint
FILE_HINT = "Give an existing file, host[:port] or an https:// URL."

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


def parse_target(text: str, servername: str | None = None, *, files: bool = False) -> Target:
    """``https://host[:port]/path`` or ``host[:port]`` (``[v6]:port``, bare IPv6) → :class:`Target`.

    The host is lower-cased, the port defaults to 443, the path and query are kept (the
    fragment is not) and ``url`` omits the default port. ``servername`` defaults to the host.
    ``files=True`` (commands that also take a file) makes the generic hint say so.

        >>> parse_target("example.org:99999")
        Traceback (most recent call last):
        certdoctor.errors.UsageError: 'example.org:99999': port '99999' is not a number from 1 to 65535
    """
    if files:
        try:
            return parse_target(text, servername)
        except UsageError as exc:
            if exc.hint != HINT:
                raise
            raise UsageError(exc.message, FILE_HINT) from exc
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


# --------------------------------------------------------------------------- what the user named

FILE = "file"
DIRECTORY = "directory"
STDIN = "stdin"
ENDPOINT = "endpoint"
KINDS = (FILE, DIRECTORY, STDIN, ENDPOINT)

#: Names ending like this are certificate (or key, CSR, bundle) files, never host names: one that
#: does not exist is a missing file, not a DNS lookup. No top-level domain ends like these.
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".cert", ".der", ".p7b", ".p7c", ".p7", ".p12", ".pfx", ".key",
                 ".csr", ".txt", ".ca-bundle", ".bundle")

_HOST_PORT = re.compile(r"(?:\[[^\]/]*\]|[^:/\[\]]+):[0-9]+")


@dataclass(frozen=True, slots=True)
class Source:
    """What a command argument names (:func:`classify`).

    ``kind`` is one of :data:`KINDS`. ``path`` is set for a file or directory (the text as given),
    ``target`` for an endpoint; ``input`` is the text as given.
    """

    input: str
    kind: str
    path: str | None = None
    target: Target | None = None

    @property
    def label(self) -> str:
        """How results name it: the path, ``<stdin>`` or ``host:port``."""
        if self.target is not None:
            return f"{self.target.host}:{self.target.port}"
        if self.kind == STDIN:
            return "<stdin>"
        return self.path or self.input

    @property
    def is_endpoint(self) -> bool:
        return self.kind == ENDPOINT


def looks_like_path(text: str) -> bool:
    """Does ``text`` name a file rather than a server?

    A URL (``://``) never does. A name ending like a certificate file (:data:`CERT_SUFFIXES`), a
    name with a backslash, or one with a ``/`` does, unless what comes before the first ``/`` is
    ``host:port`` (``example.org:8443/health`` is an endpoint; ``certs/site.crt`` and
    ``example.org/health`` are paths, the latter best written ``https://example.org/health``).
    """
    t = text.strip()
    if "://" in t:
        return False
    if "\\" in t:
        return True
    if "/" in t:
        return not _HOST_PORT.fullmatch(t.split("/", 1)[0])
    return t.lower().endswith(CERT_SUFFIXES)


def classify(text: "str | os.PathLike[str]", *, servername: str | None = None,
             kinds: Iterable[str] = KINDS) -> Source:
    """The one rule set for "file, directory, stdin or endpoint?", for every command.

    In this order:

    1. ``-`` is standard input (a file named ``-`` is ``./-``);
    2. an existing path is a file or a directory, whatever it looks like (a file named
       ``example.org`` in the current directory wins over the host);
    3. a name that looks like a path (:func:`looks_like_path`) but does not exist is a missing
       file, an :class:`~certdoctor.errors.InputError`, never a DNS lookup; so is anything that
       does not exist when the command takes no endpoint;
    4. anything else must be an endpoint, ``https://host[:port]/path`` or ``host[:port]``
       (:func:`parse_target`, with ``servername``), else a :class:`~certdoctor.errors.UsageError`.

    ``kinds`` says what the command takes; a source of another kind is refused naming what it
    is. Messages are one line and quote the input.

        >>> classify("example.org:8443").target.port
        8443
        >>> classify("-").kind
        'stdin'
    """
    wanted = frozenset(kinds)
    unknown = wanted - set(KINDS)
    if unknown or not wanted:
        raise ValueError(f"kinds must be some of {KINDS}, not {sorted(unknown) or 'none'}")
    if isinstance(text, os.PathLike):
        text = os.fspath(text)
    if not isinstance(text, str):
        raise UsageError(f"{quote_input(text)} is not text", _hint(wanted))
    shown = quote_input(text)
    if text == "-":
        if STDIN in wanted:
            return Source(text, STDIN)
        raise UsageError("'-': this command does not read standard input", _hint(wanted))
    if text and os.path.lexists(text):
        kind = DIRECTORY if os.path.isdir(text) else FILE
        if kind in wanted:
            return Source(text, kind, path=text)
        if kind == DIRECTORY and FILE in wanted:  # the words of certdoctor.x509.load
            raise InputError(f"{shown}: is a directory, not a file", "Give the path of a certificate file.")
        raise InputError(f"{shown}: is a {kind}, which this command does not take", _hint(wanted))
    if ENDPOINT not in wanted:
        what = "file or directory" if DIRECTORY in wanted else "file"
        raise InputError(f"{shown}: no such {what}", "Check the path.")
    if looks_like_path(text):
        raise InputError(f"{shown}: no such file",
                         "Check the path; for a server give host[:port] or an https:// URL.")
    return Source(text, ENDPOINT, target=parse_target(text, servername, files=wanted != {ENDPOINT}))


def _hint(kinds: frozenset[str]) -> str:
    names = [w for k, w in ((FILE, "an existing file"), (DIRECTORY, "a directory"), (STDIN, "- for stdin"),
                            (ENDPOINT, "host[:port] or an https:// URL")) if k in kinds]
    return "Give " + (", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]) + "."



def parse_listen(text: str, what: str, hint: str, no_host_hint: str | None = None) -> tuple[str, int]:
    """A listening address, ``HOST:PORT`` or ``[IPv6]:PORT`` (port 0: any free port), as
    ``(host, port)``; a ``UsageError`` naming ``what`` (``--serve``, ``http-01 listen address``)
    else. ``no_host_hint``: the hint when the host is missing (default ``hint``)."""
    from certdoctor._text import safe

    raw = (text or "").strip()
    shown = repr(safe(raw))
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise UsageError(f"{what} {shown}: not [IPv6]:PORT", hint)
        port_text = rest[1:]
    else:
        host, sep, port_text = raw.rpartition(":")
        if not sep or ":" in host:
            raise UsageError(f"{what} {shown}: not HOST:PORT", hint)
    if not host:
        raise UsageError(f"{what} {shown}: no host", no_host_hint or hint)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"{what} {shown}: the port must be a number 0..65535", hint)
    return host, int(port_text)

__all__ = ["parse_listen", "Target", "parse_target", "quote_input", "DEFAULT_PORT", "Source", "classify", "looks_like_path",
           "KINDS", "FILE", "DIRECTORY", "STDIN", "ENDPOINT", "CERT_SUFFIXES", "FILE_HINT"]
