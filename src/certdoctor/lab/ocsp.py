"""A loopback HTTP front for the real ``openssl ocsp`` responder.

OpenSSL 3.0's ``openssl ocsp -port N`` listens on every interface, which the lab and the tests
must not do. This front listens on 127.0.0.1 only (port 0 by default) and, for each OCSP request
(a POST body, or ``GET /ocsp/<url-encoded base64>``), runs one ``openssl ocsp -index … -reqin …
-respout …`` in a subprocess with a timeout and returns its DER as ``application/ocsp-response``.
The answers are OpenSSL's own: certdoctor's verifier is tested against a real responder.

    >>> write_index(tmp / "index.txt", good=[leaf], revoked=[(bad, when, "keyCompromise")])  # doctest: +SKIP
    >>> with OpenSSLOCSPResponder(ca_pem, tmp / "index.txt", ca_pem, ca_key) as responder:  # doctest: +SKIP
    ...     responder.url                                    # 'http://127.0.0.1:40123/ocsp'

For the lab, :meth:`OpenSSLOCSPResponder.handle` has the ``lab.add_route`` shape
``handler(method, path, body) -> (status, headers, body)`` and needs no server of its own:
``lab.add_route("/ocsp", responder.handle)``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

OCSP_RESPONSE = "application/ocsp-response"
MAX_REQUEST = 64 * 1024
OPENSSL_TIMEOUT = 10.0

# RFC 5280 reason names as OpenSSL's index.txt spells them
_REASONS = {
    "unspecified": "unspecified",
    "keyCompromise": "keyCompromise",
    "cACompromise": "CACompromise",
    "affiliationChanged": "affiliationChanged",
    "superseded": "superseded",
    "cessationOfOperation": "cessationOfOperation",
    "certificateHold": "certificateHold",
    "removeFromCRL": "removeFromCRL",
}


# --------------------------------------------------------------------------- index.txt

def _index_time(value: _dt.datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    value = value.astimezone(_dt.timezone.utc)
    # OpenSSL writes UTCTime (YYMMDDHHMMSSZ) up to 2049 and GeneralizedTime after, as ASN.1 does
    return value.strftime("%y%m%d%H%M%SZ" if value.year < 2050 else "%Y%m%d%H%M%SZ")


def _index_serial(serial: int) -> str:
    text = format(serial, "X")
    return ("0" + text) if len(text) % 2 else text  # BN_bn2hex form: whole bytes, upper case


def _index_subject(name: "x509.Name") -> str:
    # OpenSSL's one-line form in DER order (/C=x/O=y/CN=z); only informative, lookups go by serial
    short = {"commonName": "CN", "organizationName": "O", "countryName": "C",
             "organizationalUnitName": "OU"}
    parts = []
    for rdn in name.rdns:
        for attr in rdn:
            key = getattr(attr.oid, "_name", attr.oid.dotted_string)
            value = str(attr.value).replace("\t", " ").replace("\n", " ")
            parts.append(f"/{short.get(key, key)}={value}")
    return "".join(parts) or "/"


def index_line(
    cert: "x509.Certificate",
    *,
    revoked_at: _dt.datetime | None = None,
    reason: object | None = None,
) -> str:
    """One line of OpenSSL's CA database for ``cert``: ``V`` (valid) or ``R`` (revoked).

    ``reason`` is an RFC 5280 name (``"keyCompromise"``) or an ``x509.ReasonFlags``.
    """
    expiry = _index_time(cert.not_valid_after_utc)
    serial = _index_serial(cert.serial_number)
    subject = _index_subject(cert.subject)
    if revoked_at is None:
        return f"V\t{expiry}\t\t{serial}\tunknown\t{subject}"
    when = _index_time(revoked_at)
    if reason is not None:
        name = getattr(reason, "value", reason)
        if name not in _REASONS:
            raise ValueError(f"unknown revocation reason {reason!r}")
        when += "," + _REASONS[name]
    return f"R\t{expiry}\t{when}\t{serial}\tunknown\t{subject}"


def write_index(
    path: str | os.PathLike[str],
    good: Iterable["x509.Certificate"] = (),
    revoked: Iterable[tuple["x509.Certificate", _dt.datetime, object | None]] = (),
) -> Path:
    """Write an OpenSSL ``index.txt`` (and its ``.attr``) listing ``good`` and ``revoked`` certs.

    ``revoked`` holds ``(cert, revocation_time, reason_or_None)`` tuples. Certificates not
    listed are answered ``unknown`` by ``openssl ocsp``.
    """
    from certdoctor.fsutil import atomic_write

    lines = [index_line(c) for c in good]
    lines += [index_line(c, revoked_at=when, reason=why) for c, when, why in revoked]
    target = Path(path)
    atomic_write(target, ("\n".join(lines) + "\n").encode() if lines else b"")
    atomic_write(target.with_name(target.name + ".attr"), b"unique_subject = no\n")
    return target


# --------------------------------------------------------------------------- the responder

def _unsuccessful(status_name: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import ocsp

    status = getattr(ocsp.OCSPResponseStatus, status_name)
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


class OpenSSLOCSPResponder:
    """``openssl ocsp`` behind a 127.0.0.1-only HTTP server (or behind the lab's router).

    ``extra_args`` are appended to each ``openssl ocsp`` run (e.g. ``("-resp_no_certs",)``,
    ``("-resp_key_id",)``); ``nmin`` adds ``-nmin N`` (the response's nextUpdate, in minutes;
    ``None`` leaves nextUpdate out, as OpenSSL does by default). ``requests`` counts the OCSP
    requests answered, ``log`` keeps ``(method, path)`` of each.
    """

    def __init__(
        self,
        ca_cert_path: str | os.PathLike[str],
        index_path: str | os.PathLike[str],
        signer_cert_path: str | os.PathLike[str],
        signer_key_path: str | os.PathLike[str],
        extra_args: Sequence[str] = (),
        *,
        nmin: int | None = 60,
        path: str = "/ocsp",
        openssl: str | None = None,
        timeout: float = OPENSSL_TIMEOUT,
    ) -> None:
        self.ca_cert_path = Path(ca_cert_path)
        self.index_path = Path(index_path)
        self.signer_cert_path = Path(signer_cert_path)
        self.signer_key_path = Path(signer_key_path)
        self.extra_args = tuple(extra_args)
        self.nmin = nmin
        self.path = "/" + path.strip("/")
        self.openssl = openssl or shutil.which("openssl") or "openssl"
        self.timeout = timeout
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None

    # ---- the route handler (lab.add_route shape)

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.log)

    def command(self, reqin: Path, respout: Path) -> list[str]:
        """The ``openssl ocsp`` command line for one request."""
        cmd = [
            self.openssl, "ocsp",
            "-index", str(self.index_path),
            "-CA", str(self.ca_cert_path),
            "-rsigner", str(self.signer_cert_path),
            "-rkey", str(self.signer_key_path),
            "-reqin", str(reqin),
            "-respout", str(respout),
        ]
        if self.nmin is not None:
            cmd += ["-nmin", str(int(self.nmin))]
        return cmd + list(self.extra_args)

    def respond(self, request_der: bytes) -> bytes:
        """Run ``openssl ocsp`` on one DER request; return the DER response (never raises for a
        bad request: malformedRequest / internalError responses, as a responder does)."""
        from cryptography.x509 import ocsp

        try:
            ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return _unsuccessful("MALFORMED_REQUEST")
        with tempfile.TemporaryDirectory(prefix="certdoctor-ocsp-") as tmp:
            reqin, respout = Path(tmp) / "req.der", Path(tmp) / "resp.der"
            reqin.write_bytes(request_der)
            try:
                proc = subprocess.run(
                    self.command(reqin, respout),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired):
                return _unsuccessful("INTERNAL_ERROR")
            if proc.returncode != 0 or not respout.exists():
                return _unsuccessful("INTERNAL_ERROR")
            return respout.read_bytes()

    def handle(self, method: str, path: str, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        """``handler(method, path, body) -> (status, headers, body)`` for ``lab.add_route``.

        POST: the body is the DER request. GET: the last part of the path, after the route
        (``/ocsp/<base64>``), is the url-encoded base64 of the request (RFC 6960 appendix A).
        """
        method = method.upper()
        if method == "POST":
            der = body or b""
            if len(der) > MAX_REQUEST:
                return 413, {"Content-Type": "text/plain"}, b"request too large\n"
        elif method == "GET":
            raw = urlsplit(path).path
            if raw.startswith(self.path + "/"):
                encoded = raw[len(self.path) + 1:]
            else:
                encoded = raw.lstrip("/").split("/", 1)[1] if "/" in raw.lstrip("/") else ""
            if len(encoded) > 2 * MAX_REQUEST:
                return 414, {"Content-Type": "text/plain"}, b"request too large\n"
            try:
                der = base64.b64decode(unquote(encoded), validate=True) if encoded else b""
            except (binascii.Error, ValueError):
                der = b""
        else:
            return 405, {"Allow": "GET, POST", "Content-Type": "text/plain"}, b"method not allowed\n"
        with self._lock:
            self.log.append((method, path))
        answer = self.respond(der) if der else _unsuccessful("MALFORMED_REQUEST")
        return 200, {"Content-Type": OCSP_RESPONSE, "Cache-Control": "no-store"}, answer

    # ---- the loopback server

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the responder is not started")
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the responder is not started")
        return self._server.server_address[1]

    def start(self, port: int = 0) -> "OpenSSLOCSPResponder":
        """Listen on 127.0.0.1:``port`` (0: any free port) in a daemon thread."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        if self._server is not None:
            return self
        responder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"
            timeout = 10  # a client that stalls mid-request frees its thread

            def _answer(self, method: str) -> None:
                body = b""
                if method == "POST":
                    length = self.headers.get("Content-Length", "0")
                    n = int(length) if length.isdigit() else 0
                    if n > MAX_REQUEST:
                        self._send(413, {"Content-Type": "text/plain"}, b"request too large\n")
                        return
                    body = self.rfile.read(n)
                self._send(*responder.handle(method, self.path, body))

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="certdoctor-ocsp", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "OpenSSLOCSPResponder":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def make_handler(
    ca_cert_path: str | os.PathLike[str],
    index_path: str | os.PathLike[str],
    signer_cert_path: str | os.PathLike[str],
    signer_key_path: str | os.PathLike[str],
    extra_args: Sequence[str] = (),
    **kwargs,
):
    """A ``lab.add_route("/ocsp", handler)`` handler backed by ``openssl ocsp`` (no server)."""
    return OpenSSLOCSPResponder(
        ca_cert_path, index_path, signer_cert_path, signer_key_path, extra_args, **kwargs
    ).handle


__all__ = ["OpenSSLOCSPResponder", "make_handler", "write_index", "index_line", "OCSP_RESPONSE"]
