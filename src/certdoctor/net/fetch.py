"""Bounded HTTP downloads for AIA caIssuers, CRLs and OCSP, with an on-disk cache.

Every download is bounded: ``http``/``https`` only, at most ``max_bytes`` (1 MiB), at most
``max_redirects`` (5) hops, a per-read ``timeout`` and a total ``budget`` in seconds, no
credentials (URLs with user:password are refused, no cookies, no ``.netrc``, no auth headers,
no proxies from the environment unless asked). A hostile server that redirects forever, sends
10 MB or stalls gets a :class:`~certdoctor.errors.FetchError`, never a hang.

    >>> data = fetch_url("http://127.0.0.1:8080/aia/intermediate.der")   # doctest: +SKIP

The cache stores bodies under a hash of the URL with the time they expire (``max_age`` or a
caller-given ``expires``, e.g. a CRL's nextUpdate). Invalidation is honest: an entry past its
expiry is never returned, a corrupt entry is deleted and fetched again, and so is an entry the
caller's ``valid`` refuses (:func:`fetch_cached`).
"""

from __future__ import annotations


import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import urljoin, urlsplit

from certdoctor import policy
from certdoctor.errors import FetchError

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.deadline import Deadline
    from certdoctor.net.resolve import FetchScope

MAX_BYTES = policy.FETCH_MAX_BYTES
MAX_REDIRECTS = policy.FETCH_MAX_REDIRECTS
TIMEOUT = policy.FETCH_TIMEOUT_SECONDS
BUDGET = policy.FETCH_BUDGET_SECONDS
USER_AGENT = "certdoctor (AIA/CRL/OCSP fetcher)"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The final URL after redirects, the body, its content type and the redirect hops."""

    url: str
    body: bytes
    content_type: str | None
    hops: tuple[str, ...]
    from_cache: bool = False


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(
            f"refusing to fetch {url!r}: only http and https URLs are followed",
            "AIA, CRL and OCSP locations must be http(s); ldap:// and file:// are not fetched.",
        )
    if parts.username or parts.password:
        raise FetchError(f"refusing to fetch {url!r}: it carries credentials", "No credentials are ever sent.")
    if not parts.hostname:
        raise FetchError(f"refusing to fetch {url!r}: no host", None)


def fetch_url(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    content_type: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
    timeout: float = TIMEOUT,
    budget: float = BUDGET,
    accept: str = "*/*",
    deadline: "Deadline | None" = None,
    scope: "FetchScope | None" = None,
) -> FetchResult:
    """Download ``url`` within every bound, or raise :class:`FetchError` saying which one broke.

    Time: the whole download (DNS, connect, TLS, status line, headers, body, every redirect hop)
    ends within ``budget`` seconds and by ``deadline`` (default: the running command's,
    :func:`certdoctor.net.deadline.current`); ``timeout`` caps each socket operation.

    Addresses: the host is resolved once per hop, every address is checked against ``scope``
    (:class:`certdoctor.net.resolve.FetchScope`; default :data:`~certdoctor.net.resolve.ANY`:
    only link-local and cloud-metadata addresses are refused) and the connection goes to a
    checked address (no second lookup); a refused hop raises :class:`FetchRefused`.

    Redirects are followed by hand (301/302/303/307/308) so that each hop is re-checked
    (scheme, credentials, loop, address). ``https`` hops are verified with the default store: a
    fetcher never trusts what it has not verified.
    """
    import http.client
    import socket
    import ssl

    from certdoctor.net.deadline import Deadline, bounded_response, current
    from certdoctor.net.resolve import ANY

    base = deadline if deadline is not None else current()
    d = base.sub(budget) if base is not None else Deadline(budget)
    scope = scope if scope is not None else ANY

    def too_slow() -> FetchError:
        return FetchError(d.message(f"fetching {url}"), "The server is too slow (or stalls on purpose).")

    hops: list[str] = []
    seen: set[str] = set()
    current_url = url
    for _ in range(max_redirects + 1):
        _check_url(current_url)
        if current_url in seen:
            raise FetchError(f"redirect loop while fetching {url}: {current_url} came back",
                             "The server redirects forever.")
        seen.add(current_url)
        hops.append(current_url)
        parts = urlsplit(current_url)
        if d.expired:
            raise too_slow()
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        sock = None
        try:
            sock = _connect_checked(current_url, host, port, d, timeout, scope)
            if parts.scheme == "https":
                sock.settimeout(d.op(timeout, floor=0.01))
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            head = [f"{method} {path} HTTP/1.1", f"Host: {_host_header(host, parts.port)}",
                    f"User-Agent: {USER_AGENT}", f"Accept: {accept}", "Connection: close"]
            if content_type:
                head.append(f"Content-Type: {content_type}")
            if data is not None or method == "POST":
                head.append(f"Content-Length: {len(data or b'')}")
            payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (data or b"")
            sock.settimeout(d.op(timeout, floor=0.01))
            sock.sendall(payload)
            resp = bounded_response(sock, d, method=method, per_read=timeout)
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location")
                if not location:
                    raise FetchError(f"{current_url} answered {resp.status} without a Location", None)
                current_url = urljoin(current_url, location)
                if resp.status == 303:
                    method, data = "GET", None
                continue
            if resp.status != 200:
                raise FetchError(f"{current_url} answered HTTP {resp.status} {resp.reason}", None)
            declared = resp.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    f"{current_url} announces {int(declared):,} bytes, more than the {max_bytes:,}-byte limit",
                    "A certificate, CRL or OCSP answer is never that large; the server is broken or hostile.",
                )
            chunks: list[bytes] = []
            total = 0
            while True:
                if d.expired:
                    raise too_slow()
                chunk = resp.read1(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(
                        f"{current_url} sent more than the {max_bytes:,}-byte limit",
                        "A certificate, CRL or OCSP answer is never that large; the server is broken or hostile.",
                    )
                chunks.append(chunk)
            return FetchResult(current_url, b"".join(chunks), resp.getheader("Content-Type"), tuple(hops))
        except FetchError:
            raise
        except (socket.timeout, TimeoutError) as exc:
            if d.remaining() <= 0.05:
                raise too_slow() from exc
            raise FetchError(f"fetching {current_url} timed out ({exc})", "The server stalls; try again later.") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise FetchError(f"fetching {current_url} failed: {exc}", None) from exc
        finally:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
    raise FetchError(
        f"more than {max_redirects} redirects while fetching {url}",
        "The server redirects too often (or forever).",
    )


class FetchRefused(FetchError):
    """A URL (or a redirect hop) resolves to an address the run may not reach."""


def _host_header(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _connect_checked(url: str, host: str, port: int, d: "Deadline", timeout: float, scope: "FetchScope"):
    """A TCP socket to an address of ``host`` that ``scope`` allows, resolved once (the checked
    address is the one connected to), within ``d``; :class:`FetchRefused` when none is allowed."""
    import socket

    from certdoctor.net.deadline import run_bounded
    from certdoctor.net.resolve import ALLOW_HINT

    done, infos, err = run_bounded(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), d)
    if not done:
        raise FetchError(d.message(f"resolving {host} for {url}"), "The resolver does not answer in time.")
    if err is not None:
        raise FetchError(f"fetching {url} failed: cannot resolve {host} ({err})", None)
    allowed, refused = [], []
    for info in infos:
        addr = str(info[4][0])
        why = scope.refusal(addr)
        (refused if why else allowed).append((info, why))
    if not allowed:
        why = refused[0][1] if refused else f"refused: {host} has no address"
        raise FetchRefused(f"{url}: {why}", ALLOW_HINT if "never fetched" not in why else
                           "Link-local and cloud-metadata addresses are never fetched.")
    last: BaseException | None = None
    for (family, type_, proto, _cn, sockaddr), _ in allowed:
        if d.expired:
            break
        sock = socket.socket(family, type_, proto)
        try:
            sock.settimeout(d.op(timeout, floor=0.01))
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if last is None:
        raise FetchError(d.message(f"fetching {url}"), "The server is too slow (or stalls on purpose).")
    raise last


def default_cache_dir() -> Path:
    """``$CERTDOCTOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/certdoctor``, else ``~/.cache/certdoctor``."""
    explicit = os.environ.get("CERTDOCTOR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "certdoctor"


class FetchCache:
    """An on-disk cache of downloads keyed by URL (and request body, for OCSP POSTs).

    ``get`` returns ``None`` for a missing, expired or corrupt entry. Safe for concurrent use:
    entries are written atomically.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def _key(self, url: str, body: bytes | None) -> Path:
        h = hashlib.sha256(url.encode() + b"\0" + (body or b"")).hexdigest()
        return self.directory / h[:2] / h

    def _private(self, path: Path, *, create: bool) -> bool:
        """The entry's directory (and the cache root) are this user's alone (fsutil.private_dir:
        0700, refused with error/hint when another user's or group/world-writable); False when
        they do not exist and ``create`` is off."""
        from certdoctor.fsutil import private_dir

        if not create and not path.parent.exists():
            return False
        private_dir(path.parent, root=self.directory)
        return True

    def get(self, url: str, body: bytes | None = None, *, now: float | None = None) -> bytes | None:
        path = self._key(url, body)
        if not self._private(path, create=False):
            return None
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            data = path.read_bytes()
        except (OSError, ValueError):
            return None
        now = time.time() if now is None else now
        if not isinstance(meta, dict) or meta.get("expires", 0) <= now or meta.get("sha256") != hashlib.sha256(data).hexdigest():
            self.delete(url, body)
            return None
        return data

    def put(self, url: str, data: bytes, *, expires: float, body: bytes | None = None) -> None:
        from certdoctor.errors import InputError
        from certdoctor.fsutil import atomic_write

        path = self._key(url, body)
        self._private(path, create=True)
        try:
            atomic_write(path, data)
            meta = {"url": url, "expires": expires, "sha256": hashlib.sha256(data).hexdigest()}
            atomic_write(path.with_suffix(".json"), json.dumps(meta).encode())
        except (OSError, InputError):
            pass  # a cache that cannot write is only slower

    def delete(self, url: str, body: bytes | None = None) -> None:
        path = self._key(url, body)
        for p in (path, path.with_suffix(".json")):
            try:
                p.unlink()
            except OSError:
                pass


def fetch_cached(
    url: str,
    *,
    cache: FetchCache | None,
    max_age: float = 3600.0,
    valid: "Callable[[bytes], bool] | None" = None,
    **kwargs,
) -> FetchResult:
    """``fetch_url`` through ``cache`` (``None`` for no cache); fresh entries skip the network.

    ``valid`` judges a cached body before it is used: an entry it refuses (say, an AIA answer
    whose certificate did not issue the certificate asking, because the CA re-keyed behind the
    same URL) is deleted and fetched again, so a stale entry can never stand in for the answer.
    """
    if cache is not None:
        hit = cache.get(url, kwargs.get("data"))
        if hit is not None:
            if valid is None or valid(hit):
                return FetchResult(url, hit, None, (url,), from_cache=True)
            cache.delete(url, kwargs.get("data"))
    result = fetch_url(url, **kwargs)
    if cache is not None:
        cache.put(url, result.body, expires=time.time() + max_age, body=kwargs.get("data"))
    return result
