"""Which proxy a client uses for a URL, and the one HTTP CONNECT client certdoctor has.

:func:`effective_proxy` follows ``--proxy``, then ``HTTPS_PROXY``/``ALL_PROXY`` with ``NO_PROXY``
exemptions, as requests, httpx, urllib and pip do. :func:`parse_proxy`, :func:`connect_request`
and :func:`parse_connect_reply` are the pieces of a CONNECT; the probe drives them over its
deadline-bounded wire, :func:`open_tunnel` over a plain blocking socket.

    >>> effective_proxy("https://example.org/", None, {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.org"})
    >>> parse_proxy("http://u:p@proxy:3128").where
    'proxy:3128'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from certdoctor.errors import UsageError

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


def open_tunnel(proxy: str, host: str, port: int, timeout: float, agent: str = "certdoctor"):
    """A blocking TCP socket to ``host:port`` through ``proxy``'s CONNECT; ``OSError`` when the
    proxy cannot be reached or refuses. Nothing of the tunnel is read past the headers."""
    import socket

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
    raw = socket.create_connection((p.host, p.port), timeout=timeout)
    try:
        raw.sendall(request)
        head = bytearray()
        while not head.endswith(b"\r\n\r\n"):  # byte by byte: nothing of the tunnel is read
            if len(head) > HEADER_LIMIT:
                raise OSError(f"the proxy {p.where} sent more than 64 KiB of headers in reply to CONNECT")
            b = raw.recv(1)
            if not b:
                raise OSError(f"the proxy {p.where} closed the connection in reply to CONNECT")
            head += b
        reply = parse_connect_reply(bytes(head))
        if not reply.ok:
            raise OSError(f"the proxy {p.where} refused to CONNECT to {authority(host, port)}: "
                          f"{reply.status_line[:200]!r}")
    except BaseException:
        raw.close()
        raise
    return raw
