"""TLS interceptors for the interception tests, built from the test PKI and the one test server.

    with transparent_interceptor() as (srv, root):   # TLS on 127.0.0.1:srv.port; every SNI (none: the IP)
        probe("127.0.0.1", srv.port, servername="a.test")  # gets a leaf minted now, valid 1 day, signed by root
    with resigning_proxy(root) as proxy:             # an HTTP CONNECT proxy (proxy.base) that re-signs
        ...                                          # every host in ``allow`` (upstream: 127.0.0.1:port)

The transparent interceptor is what a TLS-inspecting firewall looks like when no proxy is
configured: whatever name the client asks for, it answers with a certificate it mints on the spot
(notBefore = now, a 1-day lifetime) from its own root. ``srv.records`` holds each minted name.

The re-signing proxy behaves like a corporate proxy that is offline: a CONNECT to a host it
cannot reach (anything not in ``allow``, e.g. pypi.org) is ``502 Bad Gateway``; for the others it
first opens the upstream connection (127.0.0.1:port; refused upstream: 502), then does the TLS
handshake itself with a leaf minted for the host and answers one HTTP request itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
from typing import Iterator

from support.pki import TestCA, pem
from support.servers import HOST, Server, read_head, read_proxy_request, serve, server_context

LIFETIME = dt.timedelta(days=1)


class Minter:
    """Leaves for any name, minted on demand from ``root`` (notBefore: now; 1 day; no AIA/CRL/OCSP),
    served with the root (leaf + root)."""

    def __init__(self, root: TestCA) -> None:
        self.root = root
        self._lock = threading.Lock()

    def context(self, name: str) -> ssl.SSLContext:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        with self._lock:
            leaf = self.root.issue_cert(name, not_before=now, not_after=now + LIFETIME, aia_url=None, crl_url=None,
                                        ocsp_url=None)
        return server_context(pem(*leaf.chain), leaf.key)  # leaf + root, as interceptors send it


def _answer(conn, body: bytes = b"intercepted\n") -> None:
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


@contextlib.contextmanager
def transparent_interceptor(root: TestCA | None = None) -> Iterator[tuple[Server, TestCA]]:
    """A TLS server that mints a fresh leaf for every SNI (no SNI: for 127.0.0.1) from ``root``."""
    root = root or TestCA("Transparent Inspection Root", aia_url=None, crl_url=None, ocsp_url=None)
    mint = Minter(root)
    base = mint.context(HOST)
    box: dict = {}

    def pick(sslobj, name, _ctx) -> None:
        box["srv"].record(name or HOST)
        sslobj.context = mint.context(name) if name else mint.context(HOST)

    base.sni_callback = pick

    def handle(conn, srv: Server) -> None:
        _answer(conn)

    with serve(handle, tls=base) as srv:
        box["srv"] = srv
        yield srv, root


def resigning_proxy(root: TestCA, allow=("127.0.0.1", "localhost")):
    """An intercepting CONNECT proxy that re-signs every host in ``allow`` with ``root`` (see the
    module docstring); ``proxy.records`` are the CONNECT targets asked for."""
    mint = Minter(root)

    def handle(conn, srv: Server) -> None:
        request = read_proxy_request(conn, srv)
        if request is None:
            return
        method, _, host, port_no = request
        if method != "CONNECT" or host.strip("[]") not in allow:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            socket.create_connection((HOST, port_no), timeout=srv.timeout).close()
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with mint.context(host.strip("[]")).wrap_socket(conn, server_side=True) as tls:
            _answer(tls)

    return serve(handle)


__all__ = ["Minter", "transparent_interceptor", "resigning_proxy", "LIFETIME"]
