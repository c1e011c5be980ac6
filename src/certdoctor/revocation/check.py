"""Revocation by CRL and OCSP, every answer verified before it is believed.

Python's ``ssl`` module checks no revocation at all (catalogue REVOKED_NOT_CHECKED): a revoked
certificate is accepted by requests, httpx, urllib and pip alike. This module asks the CA.

    >>> result = check_revocation(leaf, intermediate)                 # doctest: +SKIP
    >>> result.status, result.method, result.reason                   # doctest: +SKIP
    (<RevocationStatus.REVOKED: 'REVOKED'>, 'crl', 'keyCompromise')
    >>> result.finding("hard").code                                   # doctest: +SKIP
    <Code.REVOKED: 'REVOKED'>

What is asked in which order, and what "verified" means (signature, issuer, CertID, nonce,
freshness): :mod:`certdoctor.checks.revocation`. Anything failing is ``ERROR`` with the exact
reason, never ``GOOD``. Verified answers are cached (``FetchCache``) until their nextUpdate and
verified again when read back.

:func:`check_revocation` is the two halves one after the other: :func:`certdoctor.revocation.gather.gather`
downloads (the network), :func:`certdoctor.checks.revocation.judge` verifies (pure, so stored answers
can be judged again). The types and the verification live in :mod:`certdoctor.checks.revocation` and
are re-exported here.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor.checks.revocation import (  # noqa: F401 (re-exported: this module's public names)
    CLOCK_SKEW,
    METHODS,
    POLICIES,
    MethodAttempt,
    Problem,
    RevocationResult,
    RevocationStatus,
    _aware,
    _check_choice,
    _name,
    _serial_hex,
    _utcnow,
    build_ocsp_request,
    crl_locations,
    find_issuer,
    judge,
    ocsp_locations,
)
from certdoctor.model import issued_by
from certdoctor.revocation.gather import BUDGET, GET_LIMIT, NO_NEXT_UPDATE_CACHE, TIMEOUT, gather  # noqa: F401

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.net.fetch import FetchCache


def check_revocation(
    cert: "x509.Certificate",
    issuer: "x509.Certificate",
    *,
    method: str = "all",
    policy: str = "soft",
    now: _dt.datetime | None = None,
    cache: "FetchCache | None" = None,
    timeout: float = TIMEOUT,
    budget: float = BUDGET,
    stapled: bytes | None = None,
    crl_urls: Iterable[str] | None = None,
    ocsp_urls: Iterable[str] | None = None,
    ocsp_transport: str = "auto",
    scope=None,
    prefetch: bool = False,
) -> RevocationResult:
    """Ask the CA whether ``cert`` (issued by ``issuer``) is revoked; believe only verified answers.

    ``method``: ``"all"`` (staple, then CRLs, then OCSP; first verified answer wins), ``"crl"``
    or ``"ocsp"`` (the staple counts as OCSP). ``policy`` only changes :meth:`RevocationResult.finding`.
    ``timeout`` bounds each network read, ``budget`` the whole check (seconds); every download goes
    through :func:`certdoctor.net.fetch.fetch_url` (1 MiB, 5 redirects). ``crl_urls``/``ocsp_urls``
    replace the URLs named by the certificate. ``ocsp_transport``: ``"auto"`` (GET when the base64
    request is under 255 bytes, else POST; a GET refused with an HTTP error is retried as POST),
    ``"get"`` or ``"post"``. Never raises for an unreachable or lying source: see ``attempts``.
    ``scope`` (:class:`certdoctor.net.resolve.FetchScope`) limits the addresses the URLs may reach.
    ``stapled`` may be a callable that waits for the staple (its handshake still under way);
    ``prefetch``: the first CRL and OCSP downloads start at once, in threads, and are judged in
    the same order as without it (:func:`certdoctor.revocation.gather.gather`).

        >>> r = check_revocation(leaf, intermediate, method="crl", cache=FetchCache())  # doctest: +SKIP
        >>> r.status, [a.problem for a in r.attempts]                                   # doctest: +SKIP
    """
    _check_choice("method", method, METHODS)
    _check_choice("policy", policy, POLICIES)
    _check_choice("ocsp_transport", ocsp_transport, ("auto", "get", "post"))
    now = _aware(now) if now is not None else _utcnow()
    evidence = gather(cert, issuer, method=method, now=now, cache=cache, timeout=timeout, budget=budget,
                      stapled=stapled, crl_urls=crl_urls, ocsp_urls=ocsp_urls, ocsp_transport=ocsp_transport,
                      scope=scope, prefetch=prefetch)
    return judge(evidence, now, policy=policy, cert=cert, issuer=issuer)


def check_chain(
    certs: Sequence["x509.Certificate"],
    *,
    extra_issuers: Iterable["x509.Certificate"] = (),
    **kwargs,
) -> tuple[RevocationResult, ...]:
    """Check every certificate of ``certs`` that is not self-signed, with its issuer from the chain
    (or ``extra_issuers``, e.g. the trust anchors). A certificate whose issuer is absent gets an
    ERROR result (problem ``issuer``); ``kwargs`` go to :func:`check_revocation`. ``stapled`` is
    used for the first certificate only (a staple is about the leaf)."""
    pool = list(certs) + list(extra_issuers)
    stapled = kwargs.pop("stapled", None)
    out: list[RevocationResult] = []
    for i, cert in enumerate(certs):
        if issued_by(cert, cert):
            continue  # a root: nobody revokes it by CRL/OCSP
        issuer = find_issuer(cert, pool)
        if issuer is None:
            subject = _name(cert.subject)
            attempt = MethodAttempt(method="issuer", url=None, status=RevocationStatus.ERROR,
                                    problem=Problem.ISSUER,
                                    error=f"the issuer of {subject} ({_name(cert.issuer)}) is not available")
            result = RevocationResult(subject, _serial_hex(cert), RevocationStatus.ERROR, None, None, None,
                                      (f"issuer: {attempt.error}",), (attempt,),
                                      kwargs.get("policy", "soft"))
        else:
            result = check_revocation(cert, issuer, stapled=stapled if i == 0 else None, **kwargs)
        out.append(_with_index(result, i))
    return tuple(out)


def _with_index(result: RevocationResult, index: int) -> RevocationResult:
    from dataclasses import replace

    return replace(result, cert_index=index)


__all__ = [
    "RevocationStatus",
    "Problem",
    "MethodAttempt",
    "RevocationResult",
    "check_revocation",
    "check_chain",
    "find_issuer",
    "judge",
    "gather",
    "build_ocsp_request",
    "crl_locations",
    "ocsp_locations",
    "CLOCK_SKEW",
]
