"""The challenge responders an ACME order is validated through (RFC 8555 §8.3, §8.4).

A responder puts the proof where the CA looks for it (:meth:`Responder.prepare`) and takes it
away afterwards (:meth:`Responder.cleanup`, always called, success or not). Three of them:

* :class:`Http01Server` — certdoctor's own small HTTP/1.1 server on the given address; it
  answers only ``GET``/``HEAD /.well-known/acme-challenge/<token>`` for a token being validated
  (with the key authorization), 404 for everything else. Every request is bounded in size and
  time (policy ``ACME_HTTP01_*``); an address that cannot be bound ("port in use") is a one-line
  :class:`ChallengeError` naming the address and what to do.
* :class:`Webroot` — writes ``<webroot>/.well-known/acme-challenge/<token>`` atomically for the
  web server that already serves the name, and removes it afterwards.
* :class:`DnsHook` — runs a command with ``CERTDOCTOR_ACTION=set|clear``, ``CERTDOCTOR_DOMAIN``,
  ``CERTDOCTOR_TXT_NAME`` (``_acme-challenge.<domain>``) and ``CERTDOCTOR_TXT_VALUE``; bounded in
  time (its whole process group is killed at the deadline); a non-zero exit is a
  :class:`ChallengeError` with the tail of its stderr (sanitised).

Tokens come from the CA: only base64url tokens (RFC 8555 §8.3) of bounded length are accepted,
so a token can never name a path outside the challenge directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import socketserver
import threading
import time
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

from certdoctor import fsutil, policy
from certdoctor._text import safe
from certdoctor.errors import CertdoctorError, UsageError

HTTP01 = "http-01"
DNS01 = "dns-01"
CHALLENGE_PATH = "/.well-known/acme-challenge/"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


class ChallengeError(CertdoctorError):
    """A responder could not put the proof in place (or take it away): the port is taken, the
    webroot is not writable, the DNS hook failed. ``message`` names what, ``hint`` what to do."""

    exit_code = 1


@runtime_checkable
class Responder(Protocol):
    """What :meth:`certdoctor.renew.acme.AcmeSession.issue` drives for each authorization."""

    types: tuple[str, ...]  # the challenge types it can answer, preferred first

    def prepare(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None: ...

    def cleanup(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None: ...


def check_token(token: str) -> str:
    """``token`` if it is base64url of a sane length, else a :class:`ChallengeError`."""
    if not isinstance(token, str) or not token or len(token) > policy.ACME_TOKEN_MAX_CHARS \
            or not _TOKEN.match(token):
        raise ChallengeError(f"the CA sent a challenge token that is not base64url: {safe(str(token)[:80])!r}",
                             "Refused (it could name a path outside the challenge directory); report it to the CA.")
    return token


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` as ``(host, port)`` (port 0: any free port); UsageError else."""
    from certdoctor.net.target import parse_listen as parse

    return parse(text, "http-01 listen address",
                 "Give HOST:PORT, e.g. 0.0.0.0:80 (every interface, port 80) or [::]:80.")


# --------------------------------------------------------------------------- http-01: own server

class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True  # a port in TIME_WAIT from the last run is free; one in LISTEN is not

    def __init__(self, address: tuple[str, int], owner: "Http01Server") -> None:
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.slots = threading.BoundedSemaphore(policy.ACME_HTTP01_MAX_CONNECTIONS)
        super().__init__(address, _Handler, bind_and_activate=True)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):  # too many at once: drop this one, keep serving
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _read_head(sock: socket.socket, limit: int, seconds: float) -> bytes | None:
    """The request head (up to the blank line), or None when it is too large or too slow."""
    end = time.monotonic() + seconds
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        left = end - time.monotonic()
        if left <= 0 or len(data) > limit:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(4096, limit + 1 - len(data)) or 1)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        head = _read_head(sock, policy.ACME_HTTP01_MAX_REQUEST_BYTES, policy.ACME_HTTP01_REQUEST_SECONDS)
        if head is None:
            self._send(sock, 400, b"bad request\n")
            return
        line = head.split(b"\n", 1)[0].rstrip(b"\r")
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            self._send(sock, 400, b"bad request\n")
            return
        method, target = parts[0], parts[1].decode("ascii", "replace")
        if method not in (b"GET", b"HEAD"):
            self._send(sock, 405, b"method not allowed\n", extra=b"Allow: GET, HEAD\r\n")
            return
        path = target.split("?", 1)[0]
        body = None
        if path.startswith(CHALLENGE_PATH):
            body = self.server.owner.lookup(path[len(CHALLENGE_PATH):])
        self.server.owner._note(self.client_address, path, body is not None)
        if body is None:
            self._send(sock, 404, b"not found\n", head_only=method == b"HEAD")
        else:
            self._send(sock, 200, body.encode("ascii"), head_only=method == b"HEAD")

    @staticmethod
    def _send(sock: socket.socket, status: int, body: bytes, *, extra: bytes = b"", head_only: bool = False) -> None:
        reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed"}[status]
        out = (b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n"
               % (status, reason, len(body), extra)) + (b"" if head_only else body)
        with contextlib.suppress(OSError):
            sock.settimeout(policy.ACME_HTTP01_REQUEST_SECONDS)
            sock.sendall(out)


class Http01Server:
    """certdoctor's own http-01 responder on ``listen`` (``HOST:PORT``; port 0 = any free port).

    The address is bound when the object is made (so a taken port fails before any ACME request)
    and served from ``__enter__`` to ``__exit__``. ``port`` is the bound port. ``requests`` lists
    ``(client, path, answered)`` of what the CA asked (bounded, newest last)."""

    types = (HTTP01,)

    def __init__(self, listen: str) -> None:
        host, port = parse_listen(listen)
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, bool]] = []
        try:
            self._server = _Server((host, port), self)
        except socket.gaierror as exc:
            raise ChallengeError(f"http-01 server {safe(host)}:{port}: {safe(host)!r} is not an address of this "
                                 f"machine ({exc.strerror})",
                                 "Give an IP address of this machine, e.g. 0.0.0.0 for every interface.") from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            hint = ("Another program listens there (a web server?): stop it for the renewal, or use the webroot "
                    "challenge so that server answers, or dns-01.")
            if exc.errno in (13,):  # EACCES: a port below 1024 without the privilege
                hint = "Ports below 1024 need root or CAP_NET_BIND_SERVICE; or use the webroot or dns-01 challenge."
            raise ChallengeError(f"http-01 server: cannot listen on {safe(host)}:{port}: {safe(why)}", hint) from None
        self.host = host
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def lookup(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def _note(self, client, path: str, answered: bool) -> None:
        with self._lock:
            self.requests.append((str(client[0]), path[:200], answered))
            del self.requests[:-100]

    def prepare(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None:
        check_token(token)
        with self._lock:
            self._tokens[token] = key_authorization

    def cleanup(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def start(self) -> "Http01Server":
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"certdoctor-http01:{self.port}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5.0)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "Http01Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- http-01: webroot

class Webroot:
    """Writes the key authorization to ``<path>/.well-known/acme-challenge/<token>`` (atomically,
    0644, the directories made if missing) and removes it, and the directories it made, after."""

    types = (HTTP01,)

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.root = Path(path)
        if not self.root.is_dir():
            raise UsageError(f"webroot {safe(self.root)}: not a directory",
                             "Give the directory the web server serves for this name (its document root).")
        self._made: list[Path] = []

    def _file(self, token: str) -> Path:
        check_token(token)
        root = self.root.resolve()
        directory = root / ".well-known" / "acme-challenge"
        for d in (root / ".well-known", directory):
            if d.is_symlink() or (d.exists() and not d.is_dir()):
                raise ChallengeError(f"webroot {safe(root)}: {safe(d)} is a symlink or not a directory",
                                     "Refused (it could lead outside the webroot): make it a plain directory.")
            if not d.exists():
                try:
                    d.mkdir(mode=0o755)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise ChallengeError(f"webroot {safe(root)}: cannot create {safe(d)}: {exc.strerror or exc}",
                                         "Check that certdoctor may write to the webroot.") from None
                else:
                    self._made.append(d)
        target = directory / token
        if target.resolve().parent != directory:  # belt and braces: base64url has no '/' or '..'
            raise ChallengeError(f"webroot {safe(root)}: the challenge file would be outside it", None)
        return target

    def prepare(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None:
        target = self._file(token)
        try:
            fsutil.write_atomic(target, key_authorization.encode("ascii"), 0o644, parents=False,
                                what="challenge file")
        except CertdoctorError as exc:
            raise ChallengeError(f"webroot: {exc.message}", exc.hint or "Check that certdoctor may write to the "
                                 "webroot.") from None

    def cleanup(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None:
        try:
            target = self._file(token)
        except ChallengeError:
            return
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        for d in reversed(self._made):
            with contextlib.suppress(OSError):
                d.rmdir()  # only when empty: someone else's files stay
        self._made = [d for d in self._made if d.exists()]


# --------------------------------------------------------------------------- dns-01: a hook

def txt_name(identifier: str) -> str:
    """``_acme-challenge.<domain>`` for ``identifier`` (a wildcard's ``*.`` is dropped: §8.4)."""
    domain = identifier[2:] if identifier.startswith("*.") else identifier
    return f"_acme-challenge.{domain.rstrip('.')}"


class DnsHook:
    """dns-01 through ``command`` (argv list, or a string split like a shell would, without one),
    run once to set the TXT record and once to clear it, each within ``timeout`` seconds."""

    types = (DNS01,)

    def __init__(self, command: "Sequence[str] | str", timeout: float | None = None) -> None:
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        if not argv:
            raise UsageError("dns-01 hook: the command is empty", "Give the command that sets and clears the TXT "
                             "record (it reads CERTDOCTOR_ACTION=set|clear).")
        self.argv = argv
        self.timeout = float(timeout if timeout is not None else policy.ACME_DNS_HOOK_SECONDS)

    def _run(self, action: str, identifier: str, dns_value: str) -> None:
        from certdoctor.net.deadline import Deadline, finish_process, start_process

        domain = identifier[2:] if identifier.startswith("*.") else identifier
        env = dict(os.environ)
        env.update({"CERTDOCTOR_ACTION": action, "CERTDOCTOR_DOMAIN": domain,
                    "CERTDOCTOR_TXT_NAME": txt_name(identifier), "CERTDOCTOR_TXT_VALUE": dns_value})
        what = f"dns-01 hook {safe(shlex.join(self.argv))[:120]} ({action} {safe(identifier)})"
        try:
            proc = start_process(self.argv, env=env)
        except OSError as exc:
            raise ChallengeError(f"{what}: cannot run it: {safe(exc.strerror or exc)}",
                                 "Check the hook's path and that it is executable.") from None
        done, _out, err, code = finish_process(proc, Deadline(self.timeout))
        if not done:
            raise ChallengeError(f"{what}: did not finish within {self.timeout:g} s (killed)",
                                 "Make the hook return once the record is set (or give it more time).")
        if code != 0:
            tail = safe(" ".join(err.strip().splitlines()[-3:]))[-policy.ACME_HOOK_STDERR_CHARS:]
            raise ChallengeError(f"{what}: exited with {code}" + (f": {tail}" if tail else ""),
                                 "Fix the hook (run it by hand with the same CERTDOCTOR_* variables).")

    def prepare(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None:
        check_token(token)
        self._run("set", identifier, dns_value)

    def cleanup(self, identifier: str, challenge_type: str, token: str, key_authorization: str,
                dns_value: str) -> None:
        self._run("clear", identifier, dns_value)


__all__ = ["Responder", "Http01Server", "Webroot", "DnsHook", "ChallengeError", "check_token", "parse_listen",
           "txt_name", "HTTP01", "DNS01", "CHALLENGE_PATH"]
