"""Path building: from the presented leaf to a trust anchor, from certificates already in hand.

OpenSSL (and so Python) never fetches a missing intermediate; browsers do. certdoctor does what
a browser does, but only to *explain*: :mod:`certdoctor.net.aia` downloads the certificates the
leaf's AIA "CA Issuers" URLs name (the network side), and this module builds the path from the
presented chain, those downloads and the anchors (the pure side, no sockets): which certificate
is missing, and whether the completed path would reach the client's store. The RFC 5280 verdict
comes from ``cryptography``'s own verifier (``x509.verification``); the client's verdict comes
from a real handshake (see :mod:`certdoctor.diagnose`).

    >>> result = build_path(presented, anchors, host="www.example.com")              # doctest: +SKIP
    >>> result.trusted, [c.display_name for c in result.path]                         # doctest: +SKIP
    >>> build_path(presented, anchors, aia_attempts=chase(presented, anchors))        # doctest: +SKIP

:func:`walk` is the one rule both sides follow: the AIA chase asks it where the path is stuck,
downloads that certificate's issuer, and asks again; :func:`build_path` asks it once with every
download in the pool. Because the walk always prefers anchors, then the presented pool, then the
downloads in the order they came, the path it builds from the finished pool is the path the chase
saw grow step by step.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor.model import CertInfo
from certdoctor.model import issued_by as _issued_by

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class AIAAttempt:
    """One caIssuers download: the URL, what it gave, or why it failed.

    ``found`` are the subjects of the certificates the answer held, ``der`` their DER (so that
    a path can be built again from the attempt alone; not part of equality or of the JSON).
    """

    url: str
    for_subject: str
    ok: bool
    error: str | None = None
    from_cache: bool = False
    found: tuple[str, ...] = ()
    der: tuple[bytes, ...] = field(default=(), repr=False, compare=False)

    def certificates(self) -> "tuple[x509.Certificate, ...]":
        """The downloaded certificates, parsed (a DER that does not parse is left out)."""
        return tuple(_parse_all(self.der))


@dataclass(frozen=True, slots=True)
class PathResult:
    """The path certdoctor could build, leaf first.

    ``anchor`` is the trust anchor the path ends at (``None`` when no path reaches the store).
    ``partial`` is true when the anchor is not self-signed (only Python >= 3.13's
    ``VERIFY_X509_PARTIAL_CHAIN`` accepts that). ``top`` is the last certificate reached when no
    anchor was found. ``rfc5280_ok`` is ``None`` when cryptography's verifier could not run
    (no anchors at all). ``not_ca`` are certificates that signed the top but may not issue
    (:func:`can_issue`), ``supplied`` the certificates the user handed in (``fix --intermediate``)
    that are on the path.
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
    not_ca: tuple[CertInfo, ...] = ()
    supplied: tuple[CertInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class Walk:
    """Where the walk from the leaf got: ``path`` (certificates, leaf first), the ``anchor`` it
    ended at (``None``: no anchor reached), ``partial`` (the anchor is not self-signed), and
    ``stuck``: the certificate whose issuer is neither an anchor nor in the pool (``None`` when
    the walk ended at an anchor, at a self-signed certificate or at :data:`MAX_DEPTH`). Only a
    ``stuck`` certificate is worth an AIA download. ``not_ca`` are the certificates that did sign
    ``stuck`` but may not issue certificates (:func:`can_issue`): refused as issuers, as OpenSSL
    refuses them."""

    path: tuple
    anchor: object | None
    partial: bool
    stuck: object | None
    not_ca: tuple = ()

    @property
    def missing_issuer(self) -> str | None:
        return None if self.stuck is None else CertInfo.from_certificate(self.stuck).issuer

    def visited(self) -> frozenset[bytes]:
        return frozenset(_fp(c) for c in self.path)


def _fp(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256())


#: ca_status's reason for a keyUsage keyCertSign without basicConstraints below the anchor
KU_ONLY_INTERMEDIATE = "keyUsage keyCertSign without basicConstraints: a CA only as the trust anchor"


def ca_status(cert: "x509.Certificate", *, intermediate: bool = False) -> tuple[bool, str]:
    """May ``cert`` issue certificates, the way OpenSSL's ``check_ca`` decides it (non-strict)?
    Returns (is_ca, why). The one rule: the path builder and the bundle audit both use it.

    keyUsage without keyCertSign: no. basicConstraints present: its CA flag. Absent: a v1
    self-issued root counts as a CA, and so does a keyUsage with keyCertSign; otherwise no.
    ``intermediate``: ``cert`` would sit below the trust anchor, where OpenSSL's
    ``check_chain_extensions`` wants check_ca's plain "yes" (X509_STRICT is implicit for
    intermediate CAs): a keyUsage keyCertSign without basicConstraints is then refused too,
    ``invalid CA certificate``.
    Each extension is read on its own (:func:`certdoctor.model.read_extensions`), so one that
    cryptography refuses (a malformed AIA, an empty EKU) does not hide basicConstraints or
    keyUsage; an extension that cannot be decoded even alone is treated as absent.
    """
    from cryptography import x509

    from certdoctor.model import read_extensions

    values = {type(e.value): e.value for e in read_extensions(cert) if e.value is not None}

    def ext(cls):
        return values.get(cls)

    ku = ext(x509.KeyUsage)
    if ku is not None and not ku.key_cert_sign:
        return False, "keyUsage without keyCertSign"
    bc = ext(x509.BasicConstraints)
    if bc is not None:
        return (True, "basicConstraints CA:TRUE") if bc.ca else (False, "basicConstraints CA:FALSE")
    if cert.version == x509.Version.v1 and cert.issuer == cert.subject:
        return True, "v1 self-signed root"
    if ku is not None:
        return (False, KU_ONLY_INTERMEDIATE) if intermediate else (True, "keyUsage keyCertSign without basicConstraints")
    return False, "no basicConstraints extension"


def can_issue(cert: "x509.Certificate", *, intermediate: bool = False) -> bool:
    """:func:`ca_status`'s verdict alone. A certificate that may not issue is never put above
    another one on a path (an end-entity certificate cannot vouch for anything); one from the
    pool (sent or downloaded, not an anchor) is judged as an ``intermediate``."""
    return ca_status(cert, intermediate=intermediate)[0]


def _parse_all(ders: Iterable[bytes]) -> list["x509.Certificate"]:
    from cryptography import x509

    out = []
    for der in ders:
        try:
            out.append(x509.load_der_x509_certificate(der))
        except Exception:  # stored evidence may hold anything: what does not parse is not a certificate
            continue
    return out


def walk(
    presented: Sequence["x509.Certificate"],
    anchors: Iterable["x509.Certificate"],
    fetched: Sequence["x509.Certificate"] = (),
) -> Walk:
    """Follow issuers from ``presented[0]``: an anchor first (as OpenSSL's
    ``VERIFY_X509_TRUSTED_FIRST``), then the rest of ``presented`` (any order), then ``fetched``
    in order. Pure: nothing is downloaded here."""
    if not presented:
        raise ValueError("a path needs at least the leaf")
    anchors = list(anchors)
    anchor_fps = {_fp(a) for a in anchors}
    by_subject: dict[object, list] = {}
    for a in anchors:
        by_subject.setdefault(a.subject, []).append(a)
    # the pool once, each certificate once (by fingerprint), indexed by subject: a step looks only
    # at the certificates named like the issuer it needs (a 3,600-certificate AIA answer or a
    # file of 10,000 copies costs one pass, not a signature check per pair)
    pool_by_subject: dict[object, list] = {}
    pooled_fps: set[bytes] = set()
    for c in list(presented[1:]) + list(fetched):
        fp = _fp(c)
        if fp not in pooled_fps:
            pooled_fps.add(fp)
            pool_by_subject.setdefault(c.subject, []).append(c)
    path = [presented[0]]
    visited = {_fp(presented[0])}
    current = presented[0]
    # A store certificate that is not a self-signed root (the server's leaf, an intermediate) ends
    # the path only for VERIFY_X509_PARTIAL_CHAIN: OpenSSL without it goes on looking for a root,
    # so the walk goes on too, and falls back to that partial anchor when no root is reached.
    partial: tuple | None = None

    def end(walk: Walk) -> Walk:
        return walk if partial is None or walk.anchor is not None else Walk(partial[0], partial[1], True, None)

    for _ in range(MAX_DEPTH):
        if _fp(current) in anchor_fps:
            if _self_signed(current):
                return Walk(tuple(path), current, False, None)
            if partial is None:
                partial = (tuple(path), current)
        signers = [a for a in by_subject.get(current.issuer, []) if _issued_by(current, a)]
        parent = next((a for a in signers if can_issue(a) and _fp(a) not in visited), None)
        if parent is not None:
            path.append(parent)
            if _self_signed(parent):
                return Walk(tuple(path), parent, False, None)
            if partial is None:
                partial = (tuple(path), parent)
            visited.add(_fp(parent))
            current = parent
            continue
        if _self_signed(current):
            return end(Walk(tuple(path), None, False, None))  # a self-signed certificate the store does not hold
        pooled = [c for c in pool_by_subject.get(current.issuer, ()) if _fp(c) not in visited and _issued_by(current, c)]
        # a pool certificate sits below the anchor: judged as an intermediate (OpenSSL refuses a
        # keyCertSign-only CA there, 'invalid CA certificate')
        parent = next((c for c in pooled if can_issue(c, intermediate=True)), None)
        if parent is None:
            return end(Walk(tuple(path), None, False, current,
                            tuple(c for c in signers if not can_issue(c))
                            + tuple(c for c in pooled if not can_issue(c, intermediate=True))))
        visited.add(_fp(parent))
        path.append(parent)
        current = parent
    return end(Walk(tuple(path), None, False, None))


def _self_signed(cert: "x509.Certificate") -> bool:
    return cert.issuer == cert.subject and _issued_by(cert, cert)


def fetched_pool(attempts: Iterable[AIAAttempt]) -> list["x509.Certificate"]:
    """Every certificate the attempts downloaded, in download order, each once."""
    out: list = []
    seen: set[bytes] = set()
    for attempt in attempts:
        for cert in attempt.certificates():
            fp = _fp(cert)
            if fp not in seen:
                seen.add(fp)
                out.append(cert)
    return out


def build_path(
    presented: Sequence["x509.Certificate"],
    anchors: Iterable["x509.Certificate"],
    *,
    host: str | None = None,
    now: _dt.datetime | None = None,
    aia_attempts: Sequence[AIAAttempt] = (),
    verify_rfc5280: bool = True,
    supplied: Sequence["x509.Certificate"] = (),
) -> PathResult:
    """Build leaf → … → anchor from ``presented`` (any order), the anchors, the certificates
    ``aia_attempts`` downloaded (see :func:`certdoctor.net.aia.chase`) and those the user
    ``supplied`` (tried last). Pure: no network."""
    if not presented:
        raise ValueError("build_path needs at least the leaf")
    now = now or _dt.datetime.now(_dt.timezone.utc)
    anchors = list(anchors)
    attempts = tuple(aia_attempts)
    fetched = fetched_pool(attempts)
    fetched_fps = {_fp(f) for f in fetched}
    own = [c for c in supplied if _fp(c) not in fetched_fps]
    w = walk(presented, anchors, fetched + own)

    rfc_ok: bool | None = None
    rfc_err: str | None = None
    if verify_rfc5280 and anchors:
        rfc_ok, rfc_err = _rfc5280(presented, fetched + own, anchors, host, now)
    on_path = {_fp(c) for c in w.path}

    infos = tuple(CertInfo.from_certificate(c, now) for c in w.path)
    return PathResult(
        trusted=w.anchor is not None,
        path=infos,
        anchor=CertInfo.from_certificate(w.anchor, now) if w.anchor is not None else None,
        partial=w.partial,
        fetched=tuple(CertInfo.from_certificate(c, now) for c in fetched),
        aia_attempts=attempts,
        top=None if w.anchor is not None else infos[-1],
        missing_issuer=w.missing_issuer,
        rfc5280_ok=rfc_ok,
        rfc5280_error=rfc_err,
        not_ca=tuple(CertInfo.from_certificate(c, now) for c in w.not_ca),
        supplied=tuple(CertInfo.from_certificate(c, now) for c in own if _fp(c) in on_path),
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
