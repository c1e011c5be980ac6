"""Which proxy a client uses for a URL, and the one HTTP CONNECT client certdoctor has.

:func:`effective_proxy` follows ``--proxy``, then ``HTTPS_PROXY``/``ALL_PROXY`` with ``NO_PROXY``
exemptions, as requests, httpx, urllib and pip do. :func:`parse_proxy`, :func:`connect_request`
and :func:`parse_connect_reply` are the pieces of a CONNECT; the probe drives them over its
deadline-bounded wire, :func:`open_tunnel` over a plain socket, under the command's deadline.

    >>> effective_proxy("https://example.org/", None, {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.org"})
    >>> parse_proxy("http://u:p@proxy:3128").where
    'proxy:3128'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit

from certdoctor.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.deadline import Deadline

#: The most header bytes a proxy may send in reply to CONNECT.
HEADER_LIMIT = 65536


def redact(url: str) -> str:
    """The proxy URL without its credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable proxy URL)"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = "***@" + host + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def effective_proxy(url: str, proxy: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy the client would use for ``url``: ``proxy``, else ``HTTPS_PROXY``/``ALL_PROXY``
    unless ``NO_PROXY`` exempts the host (requests, httpx, urllib and pip read the same variables;
    lower case wins over upper case, as in urllib's ``getproxies_environment``).
    """
    if proxy:
        return proxy
    env_in = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for key in sorted(env_in, key=lambda k: k.islower()):  # upper first, lower case overrides
        if key.lower() in ("https_proxy", "all_proxy", "no_proxy") and env_in[key]:
            env[key.lower()] = env_in[key]
    https = env.get("https_proxy") or env.get("all_proxy")
    if not https:
        return None
    host = urlsplit(url).hostname or ""
    import urllib.request  # ~20 ms of regex compiling: only when a proxy is configured

    if env.get("no_proxy") and urllib.request.proxy_bypass_environment(host, {"no": env["no_proxy"]}):
        return None
    return https


def proxy_for_host(host: str, port: int, proxy: str | None = None,
                   environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy for a TLS connection to ``host:port``, as :func:`effective_proxy` decides for
    the URL ``https://host:port/``."""
    authority = f"[{host}]" if ":" in host else host
    return effective_proxy(f"https://{authority}:{port}/", proxy, environ)


@dataclass(frozen=True, slots=True)
class Proxy:
    """A parsed proxy URL. ``auth`` is the Basic token (``None`` without credentials)."""

    scheme: str
    host: str
    port: int
    auth: str | None
    shown: str  # the URL without credentials, for messages

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """Parse ``http://[user:pass@]host[:port]`` (a bare ``host:port`` means http). Raises
    :class:`UsageError` for anything else; messages never show the credentials."""
    import base64
    from urllib.parse import unquote

    raw = url if "://" in url else "http://" + url
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"proxy URL {redact(url)!r} cannot be parsed: {exc}",
                         "write it as http://HOST:PORT") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"proxy URL {redact(url)!r} is not an http:// proxy URL",
                         "write it as http://HOST:PORT (SOCKS proxies are not supported)")
    auth = None
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = base64.b64encode(creds.encode("utf-8")).decode("ascii")
    return Proxy(scheme, parts.hostname, port or (443 if scheme == "https" else 80), auth, redact(url))


def authority(host: str, port: int) -> str:
    """``host:port`` as CONNECT names it (IDNA for non-ASCII names, brackets for IPv6)."""
    target = host if host.isascii() else host.encode("idna").decode("ascii")
    return f"[{target}]:{port}" if ":" in target else f"{target}:{port}"


def connect_request(proxy: Proxy, host: str, port: int, agent: str = "certdoctor") -> bytes:
    """The CONNECT request for ``host:port`` through ``proxy``."""
    where = authority(host, port)
    lines = [f"CONNECT {where} HTTP/1.1", f"Host: {where}", f"User-Agent: {agent}"]
    if proxy.auth:
        lines.append(f"Proxy-Authorization: Basic {proxy.auth}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


@dataclass(frozen=True, slots=True)
class ConnectReply:
    """The proxy's answer to CONNECT: its status line, the status code (``None`` when the
    answer is not HTTP) and the tunnel bytes that arrived with the headers."""

    status_line: str
    status: str | None
    rest: bytes

    @property
    def ok(self) -> bool:
        return self.status == "200"

    @property
    def is_http(self) -> bool:
        return self.status_line.startswith("HTTP/")


def parse_connect_reply(head_and_rest: bytes) -> ConnectReply:
    """Split what the proxy sent (at least up to the blank line) into a :class:`ConnectReply`."""
    head, _, rest = head_and_rest.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    fields = status_line.split(None, 2)
    status = fields[1] if len(fields) >= 2 and fields[0].startswith("HTTP/1.") else None
    return ConnectReply(status_line, status, rest)


def open_tunnel(proxy: str, host: str, port: int, timeout: float, agent: str = "certdoctor", *,
                deadline: "Deadline | None" = None):
    """A blocking TCP socket to ``host:port`` through ``proxy``'s CONNECT; ``OSError`` when the
    proxy cannot be reached or refuses. Nothing of the tunnel is read past the headers.

    The whole exchange (resolving and connecting to the proxy, the request, the reply's status
    line and headers) ends by ``deadline`` (default: the running command's, capped at ``timeout``
    from now); ``timeout`` caps each socket operation. A proxy that drips its reply is cut off at
    the deadline (``TimeoutError`` saying how long it took and what the budget was), one that
    sends more than :data:`HEADER_LIMIT` bytes of headers at the limit."""
    import socket

    from certdoctor.net.deadline import effective, run_bounded

    d = effective(deadline, timeout)
    try:
        p = parse_proxy(proxy)
    except UsageError as exc:
        raise OSError(exc.message) from None
    if p.scheme != "http":
        raise OSError("the proxy is not an http:// proxy URL")
    try:
        request = connect_request(p, host, port, agent)
    except UnicodeError as exc:
        raise OSError(f"{host!r} cannot be named in CONNECT ({exc})") from None

    def too_slow(what: str) -> TimeoutError:
        return TimeoutError(d.message(f"{what} the proxy {p.where}"))

    done, infos, err = run_bounded(lambda: socket.getaddrinfo(p.host, p.port, type=socket.SOCK_STREAM), d)
    if not done:
        raise too_slow("resolving")
    if err is not None:
        raise OSError(f"the proxy host {p.host} does not resolve: {err}")
    raw = None
    last: OSError | None = None
    for family, type_, proto, _cn, sockaddr in infos:
        if d.expired:
            break
        s = socket.socket(family, type_, proto)
        try:
            s.settimeout(d.op(timeout, floor=0.01))
            s.connect(sockaddr)
        except OSError as exc:
            s.close()
            last = exc
            continue
        raw = s
        break
    if raw is None:
        if last is None or d.expired:
            raise too_slow("connecting to")
        raise last
    try:
        raw.settimeout(d.op(timeout, floor=0.01))
        raw.sendall(request)
        head = _read_connect_reply(raw, d, timeout, p.where, too_slow)
        reply = parse_connect_reply(head)
        if not reply.ok:
            raise OSError(f"the proxy {p.where} refused to CONNECT to {authority(host, port)}: "
                          f"{reply.status_line[:200]!r}")
    except BaseException:
        raw.close()
        raise
    raw.settimeout(d.op(timeout, floor=0.01))
    return raw


def _read_connect_reply(raw, d: "Deadline", timeout: float, where: str, too_slow) -> bytes:
    """The proxy's reply up to and including the blank line, not one byte of the tunnel more:
    each read peeks at what arrived (``MSG_PEEK``) and takes only up to the end of the headers.
    Every read gets only the time left before ``d``, and the loop checks ``d`` itself."""
    import socket

    head = bytearray()
    while True:
        if d.expired:
            raise too_slow("the reply to CONNECT from")
        if len(head) > HEADER_LIMIT:
            raise OSError(f"the proxy {where} sent more than {HEADER_LIMIT // 1024} KiB of headers in reply to CONNECT")
        raw.settimeout(d.op(timeout, floor=0.01))
        try:
            peek = raw.recv(min(65536, HEADER_LIMIT + 4 - len(head)), socket.MSG_PEEK)
        except (TimeoutError, socket.timeout):
            if d.expired:
                raise too_slow("the reply to CONNECT from") from None
            raise
        if not peek:
            raise OSError(f"the proxy {where} closed the connection in reply to CONNECT")
        # where the blank line ends, counting the last 3 bytes already taken
        tail = bytes(head[-3:])
        at = (tail + peek).find(b"\r\n\r\n")
        take = len(peek) if at < 0 else at + 4 - len(tail)
        got = raw.recv(take)  # exactly what was peeked at (never blocks: it is there)
        head += got
        if at >= 0 and len(got) == take:
            return bytes(head)
