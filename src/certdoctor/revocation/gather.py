"""Asking the CA: download the CRLs, send the OCSP requests, keep the bytes. The network side.

:func:`gather` returns a :class:`~certdoctor.evidence.RevocationEvidence`: for each source asked,
the answer's bytes, when it came, whether it came from the cache, the nonce sent and why a
download failed. Judging those bytes (parse, signature, issuer, CertID, nonce, freshness) is
:func:`certdoctor.checks.revocation.judge`, a pure function. Gathering asks only what judging
needs: the sources in order (staple, CRLs, OCSP), each kind until a verified REVOKED is in hand
(a GOOD never ends the asking: a REVOKED from another source would win over it), within a kind
the first location with a verified answer; so it calls the judge on each answer as it arrives.

Every download goes through :func:`certdoctor.net.fetch.fetch_url` (1 MiB, 5 redirects, a
per-read ``timeout`` and one ``budget`` for the whole check). Verified answers are cached
(``FetchCache``) until their nextUpdate and verified again when read back; one that no longer
verifies is dropped and fetched again.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import quote

from certdoctor import policy
from certdoctor.checks.revocation import (
    METHODS,
    POLICIES,
    MethodAttempt,
    Problem,
    _aware,
    _check_choice,
    _is_ca,
    _load_crl,
    _max_lifetime_days,
    _ocsp_cache_key,
    _Refused,
    _utcnow,
    _verify_crl,
    _verify_ocsp,
    build_ocsp_request,
    crl_locations,
    decided,
    issuer_attempt,
    judge_crl,
    judge_ocsp,
    judge_stapled,
    ocsp_locations,
    settled,
)
from certdoctor.evidence import RevocationEvidence, RevocationFetch

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.net.deadline import Deadline
    from certdoctor.net.fetch import FetchCache
    from certdoctor.net.resolve import FetchScope

#: RFC 5019: the GET form is used when the base64 of the request is shorter than this.
GET_LIMIT = 255
TIMEOUT = policy.REVOCATION_TIMEOUT_SECONDS
BUDGET = policy.REVOCATION_TOTAL_SECONDS
#: a verified CRL without nextUpdate (RFC 5280 requires one) is cached at most this long.
NO_NEXT_UPDATE_CACHE = 3600.0


@dataclass
class _Budget:
    timeout: float
    deadline: "Deadline"
    scope: "FetchScope | None" = None

    def remaining(self) -> float:
        return self.deadline.remaining() if self.deadline.remaining() > 0 else -1.0

    def fetch_kwargs(self) -> dict:
        left = self.deadline.remaining()
        return {"timeout": max(0.05, min(self.timeout, left)), "budget": max(0.05, left),
                "deadline": self.deadline, "scope": self.scope}


def _fetch_error(exc) -> str:
    """A download's error; a refused address carries its hint (``--allow-private-fetch``)."""
    return exc.message + (f" (hint: {exc.hint})" if exc.hint and "refused:" in exc.message else "")


def _der(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def _wall() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


# --------------------------------------------------------------------------- CRL

def _fetch_crl(url: str, cert, issuer, now, cache, budget: _Budget) -> RevocationFetch:
    from certdoctor.errors import FetchError
    from certdoctor.net.fetch import fetch_url

    started = time.monotonic()

    def done(**kw) -> RevocationFetch:
        return RevocationFetch(method="crl", url=url, at=_wall(), elapsed=round(time.monotonic() - started, 3), **kw)

    if not url.lower().startswith(("http://", "https://")):
        return done(problem=Problem.UNSUPPORTED_SCHEME.value, error=f"{url}: only http(s) CRL locations are fetched")
    data = cache.get(url, now=now.timestamp()) if cache is not None else None
    if data is not None:
        try:
            _verify_crl(_load_crl(data), cert, issuer, now)
        except _Refused:
            cache.delete(url)  # re-verification failed: drop it, fetch again
            data = None
        else:
            return done(body=data, from_cache=True)
    if budget.remaining() <= 0:
        return done(problem=Problem.BUDGET.value, error=f"{url}: not tried, the time budget was spent")
    try:
        fetched = fetch_url(url, accept="application/pkix-crl, */*", **budget.fetch_kwargs())
    except FetchError as exc:
        return done(problem=Problem.FETCH.value, error=_fetch_error(exc))
    except Exception as exc:  # a fetcher bug must not sink the whole check: fail closed, say so
        return done(problem=Problem.FETCH.value,
                    error=f"fetching {url} failed unexpectedly: {type(exc).__name__}: {exc}")
    data = fetched.body
    if cache is not None:
        try:
            verdict = _verify_crl(_load_crl(data), cert, issuer, now)
        except _Refused:
            pass  # not believed, not cached
        else:
            nu = verdict["next_update"]
            expires = nu.timestamp() if nu is not None else time.time() + NO_NEXT_UPDATE_CACHE
            if expires > time.time():
                cache.put(url, data, expires=expires)
    return done(body=data)


# --------------------------------------------------------------------------- OCSP

def _fetch_ocsp(url: str, cert, issuer, now, cache, budget: _Budget, transport: str) -> RevocationFetch:
    from certdoctor.errors import FetchError
    from certdoctor.net.fetch import fetch_url

    started = time.monotonic()

    def done(**kw) -> RevocationFetch:
        return RevocationFetch(method="ocsp", url=url, at=_wall(), elapsed=round(time.monotonic() - started, 3), **kw)

    if not url.lower().startswith(("http://", "https://")):
        return done(problem=Problem.UNSUPPORTED_SCHEME.value, error=f"{url}: only http(s) OCSP responders are asked")
    key = _ocsp_cache_key(cert, issuer)
    if cache is not None:
        hit = cache.get(url, key, now=now.timestamp())
        if hit is not None:
            try:
                _verify_ocsp(hit, cert, issuer, now, nonce=None)
            except _Refused:
                cache.delete(url, key)
            else:
                return done(body=hit, from_cache=True)
    if budget.remaining() <= 0:
        return done(problem=Problem.BUDGET.value, error=f"{url}: not tried, the time budget was spent")
    nonce = os.urandom(16)
    request = build_ocsp_request(cert, issuer, nonce=nonce)
    encoded = base64.b64encode(request).decode("ascii")
    use_get = transport == "get" or (transport == "auto" and len(encoded) < GET_LIMIT)
    notes: list[str] = []
    body = None
    if use_get:
        get_url = url + ("" if url.endswith("/") else "/") + quote(encoded, safe="")
        try:
            body = fetch_url(get_url, accept="application/ocsp-response", **budget.fetch_kwargs()).body
            notes.append(f"GET ({len(encoded)} base64 bytes)")
        except FetchError as exc:
            message = _fetch_error(exc).replace(get_url, f"{url} (GET)")  # not 200 characters of base64
            if transport == "get" or " answered " not in exc.message or budget.remaining() <= 0:
                return done(problem=Problem.FETCH.value, error=message, nonce=nonce)
            notes.append(f"GET refused ({message}), retried with POST")
        except Exception as exc:  # a fetcher bug must not sink the whole check: fail closed, say so
            return done(problem=Problem.FETCH.value, nonce=nonce,
                        error=f"fetching {url} (GET) failed unexpectedly: {type(exc).__name__}: {exc}")
    if body is None:
        try:
            body = fetch_url(url, method="POST", data=request, content_type="application/ocsp-request",
                             accept="application/ocsp-response", **budget.fetch_kwargs()).body
            notes.append("POST")
        except FetchError as exc:
            return done(problem=Problem.FETCH.value, error=_fetch_error(exc), nonce=nonce, notes=tuple(notes))
        except Exception as exc:  # a fetcher bug must not sink the whole check: fail closed, say so
            return done(problem=Problem.FETCH.value, nonce=nonce,
                        error=f"posting to {url} failed unexpectedly: {type(exc).__name__}: {exc}")
    if cache is not None:
        try:
            verdict = _verify_ocsp(body, cert, issuer, now, nonce=nonce)
        except _Refused:
            pass  # not believed, not cached
        else:
            nu = verdict["next_update"]
            if nu is not None:
                # read back, it is an answer not made for that request: believed only within the
                # lifetime cap after thisUpdate (checks.revocation.ocsp_freshness)
                cap = verdict["this_update"] + _dt.timedelta(days=_max_lifetime_days(_is_ca(cert)))
                expires = min(nu, cap).timestamp()
                if expires > time.time():
                    cache.put(url, body, expires=expires, body=key)
    return done(body=body, nonce=nonce, notes=tuple(notes))


# --------------------------------------------------------------------------- public API

def gather(
    cert: "x509.Certificate",
    issuer: "x509.Certificate",
    *,
    method: str = "all",
    now: _dt.datetime | None = None,
    cache: "FetchCache | None" = None,
    timeout: float = TIMEOUT,
    budget: float = BUDGET,
    stapled: bytes | None = None,
    crl_urls: Iterable[str] | None = None,
    ocsp_urls: Iterable[str] | None = None,
    ocsp_transport: str = "auto",
    scope: "FetchScope | None" = None,
    deadline: "Deadline | None" = None,
    prefetch: bool = False,
) -> RevocationEvidence:
    """Ask the sources about ``cert`` (see :func:`certdoctor.revocation.check.check_revocation`
    for the parameters) and keep what they answered. Never raises for an unreachable or lying
    source. ``now`` is the clock answers are checked against to decide whether to go on.
    ``budget`` bounds the whole check (headers included), within ``deadline`` (default: the
    running command's); ``scope`` which addresses the URLs may reach
    (:class:`certdoctor.net.resolve.FetchScope`; a refused URL is a fetch error that says so).

    ``stapled`` may be a callable giving the staple (a handshake still under way). ``prefetch``:
    the first CRL and the first OCSP location are downloaded at once, in threads, while the
    staple is awaited; the answers are then judged in the same order as without it, and a download
    that order would not have made (a source already said REVOKED) is left out of the evidence,
    so the result is the same, sooner."""
    from certdoctor.net.deadline import effective
    _check_choice("method", method, METHODS)
    _check_choice("ocsp_transport", ocsp_transport, ("auto", "get", "post"))
    now = _aware(now) if now is not None else _utcnow()
    limits = _Budget(timeout=timeout, deadline=effective(deadline, budget).sub(budget), scope=scope)
    crl = tuple(crl_urls) if crl_urls is not None else crl_locations(cert)
    ocsp = tuple(ocsp_urls) if ocsp_urls is not None else ocsp_locations(cert)
    fetches: list[RevocationFetch] = []
    judged: list[MethodAttempt] = []  # what the judge makes of each answer so far: go on or stop
    ahead: dict[tuple[str, str], Any] = {}
    usable = issuer_attempt(cert, issuer) is None
    if usable and prefetch:
        if method in ("all", "crl") and crl:
            ahead["crl", crl[0]] = _ahead(lambda: _fetch_crl(crl[0], cert, issuer, now, cache, limits))
        if method in ("all", "ocsp") and ocsp:
            ahead["ocsp", ocsp[0]] = _ahead(lambda: _fetch_ocsp(ocsp[0], cert, issuer, now, cache, limits,
                                                                ocsp_transport))
    if callable(stapled):
        stapled = stapled()
    if usable:
        if stapled is not None and method in ("all", "ocsp"):
            judged.append(judge_stapled(stapled, cert, issuer, now))
        # every kind is asked until a verified REVOKED (a GOOD never hides another source's
        # REVOKED); within a kind, the first location with a verified answer is enough
        if method in ("all", "crl") and not settled(judged):
            for url in crl:
                started = ahead.pop(("crl", url), None)
                fetch = started() if started else _fetch_crl(url, cert, issuer, now, cache, limits)
                fetches.append(fetch)
                judged.append(judge_crl(fetch, cert, issuer, now))
                if decided(judged[-1:]):
                    break
        if method in ("all", "ocsp") and not settled(judged):
            for url in ocsp:
                started = ahead.pop(("ocsp", url), None)
                fetch = started() if started else _fetch_ocsp(url, cert, issuer, now, cache, limits, ocsp_transport)
                fetches.append(fetch)
                judged.append(judge_ocsp(fetch, cert, issuer, now))
                if decided(judged[-1:]):
                    break
    for started in ahead.values():  # downloaded for nothing (an earlier source decided): waited for, not kept
        started()
    return RevocationEvidence(cert_der=_der(cert), issuer_der=_der(issuer), method=method, stapled=stapled,
                              crl_urls=crl, ocsp_urls=ocsp, fetches=tuple(fetches))


def _ahead(fn: "Callable[[], RevocationFetch]") -> "Callable[[], RevocationFetch]":
    """``fn`` started now in a thread (the running command's deadline context copied); the
    returned callable waits for its result (each download is bounded by that deadline)."""
    from certdoctor.net.deadline import Job

    return Job(fn, "certdoctor-revocation").result


__all__ = ["gather", "GET_LIMIT", "TIMEOUT", "BUDGET", "POLICIES"]
