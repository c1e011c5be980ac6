"""Path building: from the presented leaf to a trust anchor, chasing AIA for missing issuers.

OpenSSL (and so Python) never fetches a missing intermediate; browsers do. This module does
what a browser does, but only to *explain*: it finds which certificate is missing, where it can
be downloaded, and whether the completed path would reach the client's store. The RFC 5280
verdict comes from ``cryptography``'s own verifier (``x509.verification``); the client's verdict
comes from a real handshake (see :mod:`certdoctor.diagnose`).

    >>> result = build_path(presented, anchors, host="www.example.com")   # doctest: +SKIP
    >>> result.trusted, [c.display_name for c in result.path]              # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor.errors import CertdoctorError
from certdoctor.net.fetch import FetchCache, fetch_cached
from certdoctor.model import CertInfo
from certdoctor.model import issued_by as _issued_by

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

MAX_DEPTH = 8
AIA_BUDGET = 8.0


@dataclass(frozen=True, slots=True)
class AIAAttempt:
    """One caIssuers download: the URL, what it gave, or why it failed."""

    url: str
    for_subject: str
    ok: bool
    error: str | None = None
    from_cache: bool = False
    found: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PathResult:
    """The path certdoctor could build, leaf first.

    ``anchor`` is the trust anchor the path ends at (``None`` when no path reaches the store).
    ``partial`` is true when the anchor is not self-signed (only Python >= 3.13's
    ``VERIFY_X509_PARTIAL_CHAIN`` accepts that). ``top`` is the last certificate reached when no
    anchor was found. ``rfc5280_ok`` is ``None`` when cryptography's verifier could not run
    (no anchors at all).
    """

    trusted: bool
    path: tuple[CertInfo, ...]
    anchor: CertInfo | None
    partial: bool
    fetched: tuple[CertInfo, ...]
    aia_attempts: tuple[AIAAttempt, ...]
    top: CertInfo | None
    missing_issuer: str | None
    rfc5280_ok: bool | None
    rfc5280_error: str | None


def _fp(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256())


def _parse_aia_body(body: bytes) -> list["x509.Certificate"]:
    from certdoctor.x509.load import load_certificates

    try:
        return list(load_certificates(body, source="AIA download"))
    except CertdoctorError:
        return []


def build_path(
    presented: Sequence["x509.Certificate"],
    anchors: Iterable["x509.Certificate"],
    *,
    host: str | None = None,
    now: _dt.datetime | None = None,
    aia: bool = True,
    cache: FetchCache | None = None,
    budget: float = AIA_BUDGET,
    verify_rfc5280: bool = True,
) -> PathResult:
    """Build leaf → … → anchor from ``presented`` (any order), the anchors and AIA downloads."""
    if not presented:
        raise ValueError("build_path needs at least the leaf")
    now = now or _dt.datetime.now(_dt.timezone.utc)
    anchors = list(anchors)
    anchor_fps = {_fp(a) for a in anchors}
    by_subject: dict[object, list] = {}
    for a in anchors:
        by_subject.setdefault(a.subject, []).append(a)

    pool = list(presented[1:])
    fetched: list = []
    attempts: list[AIAAttempt] = []
    deadline = time.monotonic() + budget
    path = [presented[0]]
    visited = {_fp(presented[0])}
    anchor = None
    partial = False
    missing = None

    current = presented[0]
    for _ in range(MAX_DEPTH):
        if _fp(current) in anchor_fps:
            anchor = current
            partial = not CertInfo.from_certificate(current, now).self_signed
            break
        # trusted first, as OpenSSL's VERIFY_X509_TRUSTED_FIRST does
        parent = next((a for a in by_subject.get(current.issuer, []) if _issued_by(current, a)), None)
        if parent is not None:
            path.append(parent)
            anchor = parent
            break
        if current.issuer == current.subject and _issued_by(current, current):
            break  # a self-signed certificate that the store does not hold
        parent = next((c for c in pool + fetched if _fp(c) not in visited and _issued_by(current, c)), None)
        if parent is None and aia:
            info = CertInfo.from_certificate(current, now)
            for url in info.ca_issuers_urls:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    attempts.append(AIAAttempt(url, info.subject, False, "AIA time budget used up"))
                    break
                try:
                    res = fetch_cached(url, cache=cache, max_age=86400.0, budget=remaining,
                                       timeout=min(5.0, remaining))
                except CertdoctorError as exc:
                    attempts.append(AIAAttempt(url, info.subject, False, exc.message))
                    continue
                certs = _parse_aia_body(res.body)
                if not certs:
                    attempts.append(AIAAttempt(url, info.subject, False,
                                               "the download holds no certificate (DER, PEM or PKCS#7)",
                                               res.from_cache))
                    continue
                attempts.append(AIAAttempt(url, info.subject, True, None, res.from_cache,
                                           tuple(CertInfo.from_certificate(c, now).subject for c in certs)))
                for c in certs:
                    if all(_fp(c) != _fp(f) for f in fetched):
                        fetched.append(c)
                parent = next((c for c in certs if _fp(c) not in visited and _issued_by(current, c)), None)
                if parent is not None:
                    break
        if parent is None:
            missing = CertInfo.from_certificate(current, now).issuer
            break
        visited.add(_fp(parent))
        path.append(parent)
        current = parent

    rfc_ok: bool | None = None
    rfc_err: str | None = None
    if verify_rfc5280 and anchors:
        rfc_ok, rfc_err = _rfc5280(presented, fetched, anchors, host, now)

    infos = tuple(CertInfo.from_certificate(c, now) for c in path)
    return PathResult(
        trusted=anchor is not None,
        path=infos,
        anchor=CertInfo.from_certificate(anchor, now) if anchor is not None else None,
        partial=partial,
        fetched=tuple(CertInfo.from_certificate(c, now) for c in fetched),
        aia_attempts=tuple(attempts),
        top=None if anchor is not None else infos[-1],
        missing_issuer=missing,
        rfc5280_ok=rfc_ok,
        rfc5280_error=rfc_err,
    )


def _rfc5280(presented, fetched, anchors, host, now) -> tuple[bool, str | None]:
    """cryptography's RFC 5280 / CABF verifier: stricter than OpenSSL, used as evidence."""
    from cryptography.x509 import verification as v

    try:
        builder = v.PolicyBuilder().store(v.Store(list(anchors))).time(now)
        if host:
            try:
                name = v.IPAddress(ipaddress.ip_address(host.strip("[]")))
            except ValueError:
                name = v.DNSName(host)
            verifier = builder.build_server_verifier(name)
            verifier.verify(presented[0], list(presented[1:]) + list(fetched))
        else:
            verifier = builder.build_client_verifier()
            verifier.verify(presented[0], list(presented[1:]) + list(fetched))
    except v.VerificationError as exc:
        return False, str(exc)
    except (ValueError, TypeError) as exc:
        return False, f"could not run the RFC 5280 verifier: {exc}"
    return True, None
