"""The one AIA "CA Issuers" fetcher, and the chase that completes a presented chain with it.

A certificate's Authority Information Access extension may name where its issuer's certificate
can be downloaded. :func:`fetch_issuers` downloads those URLs for one certificate (bounded by
:func:`certdoctor.net.fetch.fetch_cached`: http(s) only, no credentials, 1 MiB, 5 redirects, a
time budget), accepting DER, PEM and PKCS#7 answers, and stops at the first URL whose answer
holds a certificate that really signed it (:func:`certdoctor.model.issued_by`). A cached answer
is used only if it holds that certificate (signature and key identifiers, :func:`really_issued`);
otherwise it is downloaded again: a stale cache never changes a diagnosis.

:func:`chase` follows the same rules as path building (:func:`certdoctor.x509.path.walk`): while
the top of the path has no issuer among the anchors, the presented certificates and what was
downloaded so far, it fetches that top certificate's issuer. Every download is kept as an
:class:`~certdoctor.x509.path.AIAAttempt` (with the certificates' DER), so that the path can be
built again from the attempts alone, without the network.

    >>> attempts = chase(presented, anchors, cache=FetchCache())         # doctest: +SKIP
    >>> build_path(presented, anchors, aia_attempts=attempts).trusted      # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor import policy
from certdoctor.errors import CertdoctorError
from certdoctor.model import CertInfo, issued_by
from certdoctor.net.fetch import FetchCache, fetch_cached
from certdoctor.x509.path import MAX_DEPTH, AIAAttempt, PathResult, _fp, can_issue, walk  # noqa: F401 (old certdoctor.path names)
from certdoctor.x509.path import build_path as _build_path

if TYPE_CHECKING:  # pragma: no cover
    import datetime as _dt

    from cryptography import x509

    from certdoctor.net.deadline import Deadline
    from certdoctor.net.resolve import FetchScope

#: the most the whole chase may take (seconds)
BUDGET = AIA_BUDGET = policy.AIA_BUDGET_SECONDS
#: an AIA answer is a CA certificate: cached for a day
CACHE_SECONDS = 86400.0
NO_CERTIFICATE = "the download holds no certificate (DER, PEM or PKCS#7)"


def _parse_body(body: bytes) -> list["x509.Certificate"]:
    from certdoctor.x509.load import load_certificates

    try:
        return list(load_certificates(body, source="AIA download"))
    except CertdoctorError:
        return []


def _der(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def really_issued(child: "x509.Certificate", parent: "x509.Certificate") -> bool:
    """Did ``parent`` issue ``child``: names, signature (:func:`certdoctor.model.issued_by`) and,
    when both name one, the key identifiers (child's AKI = parent's SKI)?"""
    from cryptography import x509

    if not issued_by(child, parent):
        return False
    try:
        aki = child.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except Exception:  # absent or undecodable: the signature is the proof
        aki = None
    try:
        ski = parent.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except Exception:
        ski = None
    return aki is None or ski is None or aki == ski


def _answers(cert: "x509.Certificate", body: bytes) -> bool:
    """Is a cached AIA body still the answer for ``cert``: does it hold the certificate that
    really issued it? (If not, the CA changed what the URL serves: fetch it again.)"""
    return any(really_issued(cert, c) for c in _parse_body(body))


def _keep(cert: "x509.Certificate", certs: list) -> list:
    """At most :data:`~certdoctor.policy.AIA_MAX_CERTS_PER_ANSWER` distinct certificates of one
    answer: those named like ``cert``'s issuer first, then the rest, each in the order served."""
    seen: set[bytes] = set()
    named, other = [], []
    for c in certs:
        fp = _fp(c)
        if fp in seen:
            continue
        seen.add(fp)
        (named if c.subject == cert.issuer else other).append(c)
        if len(named) >= policy.AIA_MAX_CERTS_PER_ANSWER:
            break
    return (named + other)[:policy.AIA_MAX_CERTS_PER_ANSWER]


def fetch_issuers(
    cert: "x509.Certificate",
    *,
    cache: FetchCache | None = None,
    deadline: "float | Deadline | None" = None,
    budget: float = BUDGET,
    timeout: float = policy.FETCH_TIMEOUT_SECONDS,
    skip: Iterable[bytes] = (),
    scope: "FetchScope | None" = None,
) -> tuple[AIAAttempt, ...]:
    """Download the caIssuers URLs of ``cert`` in turn until one gives its issuer.

    The issuer is a downloaded certificate that signed ``cert``, may issue certificates
    (:func:`certdoctor.x509.path.can_issue`) and whose SHA-256 is not in ``skip`` (certificates
    already on the path): an answer holding an end-entity certificate does not stop the search.
    ``deadline`` (a :class:`~certdoctor.net.deadline.Deadline`, or a ``time.monotonic()`` value)
    or ``budget`` (seconds from now, within the running command's deadline) bounds all the
    downloads together, reading headers included; ``timeout`` each socket operation. At most
    :data:`~certdoctor.policy.AIA_MAX_CERTS_PER_ANSWER` certificates are kept from one answer.
    ``scope`` says which addresses the URLs may resolve to (:class:`~certdoctor.net.resolve.FetchScope`);
    a refused URL is an attempt whose error says so.
    Never raises for a bad URL or answer: each URL tried is one :class:`AIAAttempt`.
    """
    from certdoctor.net.deadline import Deadline
    from certdoctor.net.deadline import effective as _effective

    info = CertInfo.from_certificate(cert)
    if isinstance(deadline, (int, float)):
        d = Deadline(max(0.0, deadline - time.monotonic()))
    else:
        d = _effective(deadline, budget)
    skipped = set(skip)
    attempts: list[AIAAttempt] = []
    for url in info.ca_issuers_urls:
        if d.expired:
            attempts.append(AIAAttempt(url, info.subject, False, d.message("the AIA chase")))
            break
        try:
            res = fetch_cached(url, cache=cache, max_age=CACHE_SECONDS, budget=d.remaining(), deadline=d,
                               timeout=d.op(timeout), scope=scope, valid=lambda body: _answers(cert, body))
        except CertdoctorError as exc:
            error = exc.message + (f" (hint: {exc.hint})" if exc.hint and "refused:" in exc.message else "")
            attempts.append(AIAAttempt(url, info.subject, False, error))
            continue
        certs = _keep(cert, _parse_body(res.body))
        if not certs:
            attempts.append(AIAAttempt(url, info.subject, False, NO_CERTIFICATE, res.from_cache))
            continue
        attempts.append(AIAAttempt(url, info.subject, True, None, res.from_cache,
                                   tuple(CertInfo.from_certificate(c).subject for c in certs),
                                   tuple(_der(c) for c in certs)))
        if any(_fp(c) not in skipped and issued_by(cert, c) and can_issue(c) for c in certs):
            break
    return tuple(attempts)


def issuer_from_aia(cert: "x509.Certificate", *, cache: FetchCache | None = None, timeout: float = policy.FETCH_TIMEOUT_SECONDS,
                    budget: float | None = None, scope: "FetchScope | None" = None) -> "x509.Certificate | None":
    """The issuer of ``cert`` downloaded from its caIssuers URLs (all of them together within
    ``budget``, default twice ``timeout``), or ``None`` if no answer holds one."""
    attempts = fetch_issuers(cert, cache=cache, timeout=timeout, budget=timeout * 2 if budget is None else budget,
                             scope=scope)
    for attempt in attempts:
        for candidate in attempt.certificates():
            if issued_by(cert, candidate):
                return candidate
    return None


def chase(
    presented: Sequence["x509.Certificate"],
    anchors: Iterable["x509.Certificate"],
    *,
    cache: FetchCache | None = None,
    budget: float = BUDGET,
    deadline: "Deadline | None" = None,
    scope: "FetchScope | None" = None,
) -> tuple[AIAAttempt, ...]:
    """Download missing issuers until the path from ``presented[0]`` reaches an anchor, a
    self-signed certificate, a certificate no URL completes, or the depth limit — at most
    :data:`~certdoctor.policy.AIA_MAX_HOPS` rounds, all within ``budget`` seconds and
    ``deadline`` (default: the running command's)."""
    if not presented:
        return ()
    from certdoctor.net.deadline import effective as _effective

    anchors = list(anchors)
    d = _effective(deadline, budget).sub(budget)
    attempts: list[AIAAttempt] = []
    fetched: list = []
    seen: set[bytes] = set()
    for _hop in range(policy.AIA_MAX_HOPS):
        w = walk(presented, anchors, fetched)
        if w.stuck is None or d.expired:
            return tuple(attempts)
        new = fetch_issuers(w.stuck, cache=cache, deadline=d, skip=w.visited(), scope=scope)
        attempts.extend(new)
        grew = False
        for attempt in new:
            for c in attempt.certificates():
                if _fp(c) not in seen:
                    seen.add(_fp(c))
                    fetched.append(c)
                    grew = True
        if not grew or walk(presented, anchors, fetched).path == w.path:
            return tuple(attempts)
    return tuple(attempts)  # AIA_MAX_HOPS downloads deep: a real chain is never that long


def build_path(
    presented: Sequence["x509.Certificate"],
    anchors: Iterable["x509.Certificate"],
    *,
    host: str | None = None,
    now: "_dt.datetime | None" = None,
    aia: bool = True,
    cache: FetchCache | None = None,
    budget: float = BUDGET,
    verify_rfc5280: bool = True,
) -> PathResult:
    """The path with AIA chased: :func:`chase` (when ``aia``) then the pure
    :func:`certdoctor.x509.path.build_path` on what it downloaded."""
    anchors = list(anchors)
    attempts = chase(presented, anchors, cache=cache, budget=budget) if aia else ()
    return _build_path(presented, anchors, host=host, now=now, aia_attempts=attempts,
                       verify_rfc5280=verify_rfc5280)
