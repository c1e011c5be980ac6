"""One webhook POST (the monitor's alerts, :mod:`certdoctor.monitor.alerts`): the socket part.

    >>> status = post_json("https://hooks.example.org/x", b'{"kind": "leaf_renewed"}', timeout=5)  # doctest: +SKIP

A webhook URL is configured by the user (``--webhook``, ``webhook =``), never taken from a
certificate or a server: the download rules of :mod:`certdoctor.net.fetch` for private
addresses (``fetch_allowed``) do not apply, a hook on 127.0.0.1 or 10.0.0.5 is what the user
asked for. TLS verification of an ``https://`` hook stays on (the default context: the system's
store, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured by OpenSSL), never ``CERT_NONE``. No proxy,
no redirect followed (a 3xx is a failure: the event was not accepted). ``user:password@`` in the
URL is sent as HTTP Basic authorization. At most ``max_response`` bytes of the answer are read.
Errors are raised (``OSError``, ``ssl.SSLError``, ``http.client.HTTPException``); the caller
retries and words them (with the URL redacted).
"""

from __future__ import annotations

import base64
import http.client
import ssl
import time
import urllib.parse

from certdoctor import policy


def _context() -> ssl.SSLContext:
    return ssl.create_default_context()


def post_json(url: str, body: bytes, *, timeout: float = policy.WEBHOOK_TIMEOUT_SECONDS,
              max_response: int = policy.WEBHOOK_MAX_RESPONSE_BYTES, user_agent: str = "certdoctor-monitor",
              context: ssl.SSLContext | None = None) -> int:
    """POST ``body`` (``application/json``) to ``url``; the HTTP status of the answer. Each
    socket operation is bounded by what is left of ``timeout``."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no answer within {timeout:g} s")
        return remaining

    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=left(), context=context or _context())
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=left())
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        headers = {"Content-Type": "application/json", "User-Agent": user_agent, "Content-Length": str(len(body)),
                   "Connection": "close"}
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(left())
        conn.request("POST", target, body=body, headers=headers)
        if conn.sock is not None:
            conn.sock.settimeout(left())
        resp = conn.getresponse()
        if conn.sock is not None:
            conn.sock.settimeout(left())
        resp.read(max_response)
        return int(resp.status)
    finally:
        conn.close()


__all__ = ["post_json"]
