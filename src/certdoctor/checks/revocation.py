"""Judging revocation answers: CRLs and OCSP responses verified before they are believed. Pure.

Python's ``ssl`` module checks no revocation at all (catalogue REVOKED_NOT_CHECKED): a revoked
certificate is accepted by requests, httpx, urllib and pip alike. :mod:`certdoctor.revocation`
asks the CA (the downloads: :mod:`certdoctor.revocation.gather`); this module judges what the CA
answered, from the bytes alone (:class:`~certdoctor.evidence.RevocationEvidence`), so the same
answers can be judged again later, at another time, without the network.

Order of the sources (``method="all"``): a stapled response first (it is already in hand, no
network), then the CRL distribution points (CRLs first: Let's Encrypt ended OCSP in 2025 and
CRLs are what is left everywhere), then the OCSP responders of the AIA extension. Every kind is
asked until a *verified* REVOKED is in hand: a GOOD from one source never ends the asking, since
a verified REVOKED from any source wins over a GOOD from another (the staple is the server's
choice of answer; a CRL can lag behind OCSP). Within a kind, the first location with a verified
answer is enough (the others are mirrors). Every source tried is kept as a
:class:`MethodAttempt`, so a download that failed is data, never an exception. Unverified answers
never win.

What "verified" means:

* CRL: DER or PEM, ``crl.issuer == issuer.subject``, signed by the issuer's key, the issuer may
  sign CRLs (keyUsage cRLSign when keyUsage is present), not a delta CRL, an issuing distribution
  point that covers the certificate.
* OCSP: response status successful; signed by the issuer itself, or by a delegated responder
  certificate included in the response that the issuer signed (:func:`certdoctor.model.issued_by`,
  with a SHA-256-or-better signature), that carries EKU id-kp-OCSPSigning and is valid now; the
  single response's CertID (serial, issuer name hash, issuer key hash) is the one asked about; the
  nonce, when the responder echoes one, is the one sent.

What "current" means (:func:`ocsp_freshness`, :func:`crl_freshness`; the numbers live in
:mod:`certdoctor.policy`). A verified GOOD is believed only when current; one that is not is
refused with ``Problem.STALE`` (or ``NOT_YET_VALID``), reported as a ``REVOCATION_STALE``
warning, and the verdict falls to the other sources:

* ``thisUpdate`` at most ``REVOCATION_CLOCK_SKEW`` (5 min) in the future; ``nextUpdate``, when
  present, not before ``thisUpdate`` and not in the past (no tolerance: it is the CA's deadline);
* OCSP without ``nextUpdate`` (RFC 6960 4.2.2.1: "newer information is available all the
  time"): ``thisUpdate`` at most ``OCSP_MAX_AGE_DAYS`` (1 day) old, as NSS and Firefox require.
  OpenSSL's ``ocsp -status_age N`` is this check, off unless given;
* OCSP not made for this request — no nonce echoed: a staple, a cached answer, an RFC 5019 /
  pre-signed responder, an answer replayed over plain HTTP — whatever its ``nextUpdate``:
  ``thisUpdate`` at most ``OCSP_MAX_LIFETIME_DAYS`` (10 days: the CA/B Forum Baseline
  Requirements' longest validity of a subscriber response, 4.9.10, and Firefox's cap) old, or
  ``OCSP_MAX_LIFETIME_CA_DAYS`` (365) when the certificate asked about is a CA. An echoed nonce
  proves the answer was made now: its own ``nextUpdate`` is then believed;
* a CRL without ``nextUpdate`` (RFC 5280 requires one; OpenSSL accepts it): ``thisUpdate`` at
  most ``CRL_MAX_AGE_DAYS`` (10, BR 4.9.7) old, ``CRL_MAX_AGE_CA_DAYS`` (365) for a CA.

A verified REVOKED is believed whatever its age or echoed nonce: a revocation signed by the CA is
never undone (``certificateHold``, the one reversible reason, is the exception: a hold that is not
current is stale, not REVOKED).

Anything failing is ``ERROR`` with the exact reason, never ``GOOD``.

For a diagnosis, :func:`check` turns the judged leaf into a ``REVOKED`` or ``REVOCATION_UNKNOWN``
finding (soft-fail: unknown is a warning).
"""

from __future__ import annotations


import datetime as _dt
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor import policy
from certdoctor.evidence import RevocationEvidence, RevocationFetch
from certdoctor.model import Actor, Code, Finding, Severity, issued_by

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.checks.context import Context

#: tolerance for a ``thisUpdate`` slightly in the future (clocks differ): 5 minutes, as OpenSSL's
#: ``OCSP_check_validity`` callers and most clients use.
CLOCK_SKEW = policy.REVOCATION_CLOCK_SKEW

METHODS = ("all", "crl", "ocsp")
POLICIES = ("soft", "hard")
#: digests too weak to authorise a delegated OCSP responder certificate
WEAK_DIGESTS = ("sha1", "md5", "md2", "md4")

class RevocationStatus(str, enum.Enum):
    """What the CA says about a certificate, or that nobody could say.

    ``UNKNOWN``: no source could answer (no CRL or OCSP URL, an unsupported scheme, a responder
    that answered "unknown"). ``ERROR``: a source was tried and failed: unreachable, malformed,
    badly signed, stale, about another certificate.
    """

    GOOD = "GOOD"
    REVOKED = "REVOKED"
    UNKNOWN = "UNKNOWN"
    ERROR = "ERROR"


class Problem(str, enum.Enum):
    """Why one attempt gave no verified answer (stable identifiers, for tests and JSON)."""

    NO_SOURCE = "no-source"                  # the certificate names no CRL / OCSP URL
    UNSUPPORTED_SCHEME = "unsupported-scheme"  # ldap:// and the like: not fetched
    FETCH = "fetch"                          # network, HTTP status, size/redirect/time bound
    BUDGET = "budget"                        # not tried: the time budget was spent
    PARSE = "parse"                          # not a CRL / OCSP response
    RESPONDER_STATUS = "responder-status"    # OCSP responseStatus other than successful
    ISSUER = "issuer"                        # the issuer given did not issue the certificate
    SIGNER = "signer"                        # who signed is not allowed to (wrong CA, no EKU, expired)
    SIGNATURE = "signature"                  # the signature does not verify
    CERTID = "certid"                        # the answer is about another certificate
    NONCE = "nonce"                          # the echoed nonce is not ours
    STALE = "stale"                          # nextUpdate in the past
    NOT_YET_VALID = "not-yet-valid"          # thisUpdate in the future (beyond the skew)
    SCOPE = "scope"                          # a CRL that does not cover this certificate
    UNKNOWN_STATUS = "unknown-status"        # the OCSP responder does not know the certificate


@dataclass(frozen=True, slots=True)
class MethodAttempt:
    """One source asked: a CRL distribution point, an OCSP URL, or the stapled response.

    ``method`` is ``"crl"``, ``"ocsp"``, ``"stapled"``, or ``"issuer"`` when nothing could be asked
    because the issuer is wrong or missing; ``url`` is ``None`` for a staple or when there was
    nothing to ask. ``problem``/``error`` are ``None`` when the source answered GOOD or
    REVOKED after verification. Dates are ``None`` when the source gave none or was not reached.
    """

    method: str
    url: str | None
    status: RevocationStatus
    problem: Problem | None = None
    error: str | None = None
    reason: str | None = None
    revocation_date: _dt.datetime | None = None
    this_update: _dt.datetime | None = None
    next_update: _dt.datetime | None = None
    signer: str | None = None
    from_cache: bool = False
    evidence: tuple[str, ...] = ()
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class RevocationResult:
    """The verdict on one certificate and every attempt behind it.

    ``method`` is the source that decided (``"crl"``, ``"ocsp"``, ``"stapled"``), ``None`` when
    none did. ``reason`` (RFC 5280 name, e.g. ``keyCompromise``; ``None`` when the CA gave no
    reason) and ``revocation_date`` are set only when REVOKED. ``cert_index`` is the position of
    the certificate in its chain (0 for a leaf checked on its own).
    """

    subject: str
    serial: str
    status: RevocationStatus
    method: str | None
    reason: str | None
    revocation_date: _dt.datetime | None
    evidence: tuple[str, ...]
    attempts: tuple[MethodAttempt, ...]
    policy: str = "soft"
    cert_index: int = 0

    @property
    def ok(self) -> bool:
        return self.status is RevocationStatus.GOOD

    @property
    def stale(self) -> tuple[MethodAttempt, ...]:
        """The attempts whose answer verified but was not current (past nextUpdate, too old,
        dated in the future): not believed as GOOD."""
        return tuple(a for a in self.attempts if a.problem in (Problem.STALE, Problem.NOT_YET_VALID))

    def findings(self, policy: str | None = None) -> list[Finding]:
        """The verdict's :meth:`finding` (if any) first, then one ``REVOCATION_STALE`` warning per
        answer that was not current (also when another source decided)."""
        verdict = self.finding(policy)
        return ([verdict] if verdict is not None else []) + [_stale_finding(self, a) for a in self.stale]

    def finding(self, policy: str | None = None) -> Finding | None:
        """``None`` when GOOD; ``REVOKED`` (error); else ``REVOCATION_UNKNOWN``, a warning under
        ``policy="soft"`` and an error under ``"hard"`` (default: the policy checked with)."""
        policy = policy or self.policy
        _check_choice("policy", policy, POLICIES)
        if self.status is RevocationStatus.GOOD:
            return None
        if self.status is RevocationStatus.REVOKED:
            when = f" on {_iso(self.revocation_date)}" if self.revocation_date else ""
            why = f" (reason: {self.reason})" if self.reason else ""
            return Finding(
                code=Code.REVOKED,
                severity=Severity.ERROR,
                summary=f"{self.subject} was revoked{when}{why}, per its {_method_label(self.method)}",
                explanation=(
                    "The issuing CA has revoked this certificate. Python's ssl module checks no "
                    "revocation by default, so requests, httpx, urllib and pip still accept it; "
                    "browsers and hardened clients refuse it."
                ),
                evidence=self.evidence,
                fix=(
                    "The server operator must get a new certificate (and a new key if the reason is "
                    "keyCompromise) and install it. Do not work around a revoked certificate."
                ),
                who=Actor.SERVER_OPERATOR,
                cert_index=self.cert_index,
            )
        problems = {a.problem for a in self.attempts if a.problem is not None}
        errors = [a for a in self.attempts if a.error]
        first = errors[0].error if errors else "no source could answer"
        if problems <= {Problem.NO_SOURCE, Problem.UNSUPPORTED_SCHEME}:
            fix = (
                "The certificate names no CRL or OCSP URL certdoctor can use: revocation cannot be "
                "checked (common for private CAs). Ask the CA for a CRL distribution point, or use "
                "short-lived certificates."
            )
            who = Actor.SERVER_OPERATOR
        elif problems <= {Problem.FETCH, Problem.BUDGET, Problem.NO_SOURCE, Problem.UNSUPPORTED_SCHEME}:
            fix = (
                "Let this machine reach the CRL/OCSP URLs over plain HTTP (port 80; proxies and "
                "firewalls often block them), or accept the risk with --policy soft."
            )
            who = Actor.NETWORK_ADMIN
        else:
            fix = (
                "The CA's revocation service publishes an answer that does not verify (see the "
                "evidence); report it to the CA or the server operator. Never treat it as GOOD."
            )
            who = Actor.SERVER_OPERATOR
        return Finding(
            code=Code.REVOCATION_UNKNOWN,
            severity=Severity.ERROR if policy == "hard" else Severity.WARNING,
            summary=f"revocation status of {self.subject} is {self.status.value}: {first}",
            explanation=(
                "No source gave a verified answer. Under a soft-fail policy this is a warning "
                "(what browsers do); under hard-fail the certificate must not be trusted."
            ),
            evidence=self.evidence,
            fix=fix,
            who=who,
            cert_index=self.cert_index,
        )


def _stale_finding(result: "RevocationResult", attempt: MethodAttempt) -> Finding:
    """``REVOCATION_STALE`` for one answer that verified but is not current."""
    if attempt.method == "stapled":
        what = "the server's stapled OCSP response"
        fix = ("The server operator must staple a current response: let the server fetch it from the CA "
               "(nginx: ssl_stapling on without a fixed ssl_stapling_file; Apache: SSLUseStapling on) or "
               "refresh the stapled file well before its nextUpdate.")
    else:
        what = f"the {_method_label(attempt.method)} answer from {attempt.url}"
        fix = ("The CA must publish current answers (a thisUpdate within the limits above, a nextUpdate "
               "in the future); a cache or proxy serving an old copy must be purged or bypassed.")
    if attempt.problem is Problem.NOT_YET_VALID:
        fix += " A thisUpdate in the future usually means this machine's clock is behind: check it."
    why = attempt.error.split(": ", 1)[1] if attempt.error and ": " in attempt.error else (attempt.error or "")
    lines = [f"thisUpdate {_iso(attempt.this_update)}, nextUpdate {_iso(attempt.next_update)}"]
    if attempt.signer:
        lines.append(f"signed by {attempt.signer} (the signature verified)")
    if result.status is RevocationStatus.REVOKED:
        after = f"the certificate is REVOKED per its {_method_label(result.method)}"
    elif result.status is RevocationStatus.GOOD:
        after = f"the verdict GOOD comes from its {_method_label(result.method)}"
    else:
        after = "no other source gave a verified current answer"
    return Finding(
        code=Code.REVOCATION_STALE,
        severity=Severity.WARNING,
        summary=f"{what} about {result.subject} is not current ({why}); not believed, {after}",
        explanation=(
            "A revocation answer proves the status only as of its thisUpdate. certdoctor never takes as "
            "GOOD an answer past its nextUpdate, dated in the future, or older than the maximum age "
            f"(OCSP without nextUpdate: {policy.OCSP_MAX_AGE_DAYS} day; OCSP not made for this request, "
            f"i.e. no nonce echoed: {policy.OCSP_MAX_LIFETIME_DAYS} days, {policy.OCSP_MAX_LIFETIME_CA_DAYS} "
            f"for a CA certificate; a CRL without nextUpdate: {policy.CRL_MAX_AGE_DAYS} days, "
            f"{policy.CRL_MAX_AGE_CA_DAYS} for a CA): a genuine but old GOOD, replayed over plain HTTP or "
            "stapled, would otherwise hide a revocation made since. The other sources decide instead."
        ),
        evidence=tuple(lines) + tuple(attempt.evidence or ((attempt.error,) if attempt.error else ())),
        fix=fix,
        who=Actor.SERVER_OPERATOR,
        cert_index=result.cert_index,
    )


class _Refused(Exception):
    """A verification step failed: the answer is not believed."""

    def __init__(self, problem: Problem, message: str, status: RevocationStatus = RevocationStatus.ERROR,
                 extra: dict | None = None):
        super().__init__(message)
        self.problem = problem
        self.message = message
        self.status = status
        self.extra = extra or {}  # thisUpdate/nextUpdate/signer of an answer refused late


# --------------------------------------------------------------------------- helpers

def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _aware(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def _iso(value: _dt.datetime | None) -> str:
    if value is None:
        return "-"
    return _aware(value).isoformat(timespec="seconds").replace("+00:00", "Z")


def _name(name: "x509.Name") -> str:
    try:
        return name.rfc4514_string()
    except Exception:  # pragma: no cover - malformed names
        return repr(name)


def _serial_hex(cert: "x509.Certificate") -> str:
    return format(cert.serial_number, "X")


def _method_label(method: str | None) -> str:
    return {"crl": "CRL", "ocsp": "OCSP responder", "stapled": "stapled OCSP response"}.get(method or "", "CA")


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        from certdoctor.errors import UsageError

        raise UsageError(f"{what} must be one of {', '.join(choices)}, not {value!r}", None)


def _ext(obj, cls):
    from cryptography import x509

    try:
        return obj.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def crl_locations(cert: "x509.Certificate") -> tuple[str, ...]:
    """The URIs of the certificate's CRL distribution points, in order (all schemes)."""
    from cryptography import x509

    try:
        dps = _ext(cert, x509.CRLDistributionPoints)
    except Exception:  # malformed or duplicate extension: treated as absent
        return ()
    out: list[str] = []
    for dp in dps or ():
        for gn in dp.full_name or ():
            if isinstance(gn, x509.UniformResourceIdentifier) and gn.value not in out:
                out.append(gn.value)
    return tuple(out)


def ocsp_locations(cert: "x509.Certificate") -> tuple[str, ...]:
    """The OCSP responder URIs of the certificate's AIA extension, in order."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    try:
        aia = _ext(cert, x509.AuthorityInformationAccess)
    except Exception:
        return ()
    out: list[str] = []
    for desc in aia or ():
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            desc.access_location, x509.UniformResourceIdentifier
        ):
            if desc.access_location.value not in out:
                out.append(desc.access_location.value)
    return tuple(out)


def _verify_signature(public_key, signature: bytes, data: bytes, hash_alg, sig_oid) -> None:
    """Verify a raw signature with whatever key type it is; raise on failure."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import SignatureAlgorithmOID

    if isinstance(public_key, rsa.RSAPublicKey):
        if sig_oid == SignatureAlgorithmOID.RSASSA_PSS:
            pad = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=padding.PSS.AUTO)
        else:
            pad = padding.PKCS1v15()
        public_key.verify(signature, data, pad, hash_alg)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_alg))
    elif isinstance(public_key, dsa.DSAPublicKey):
        public_key.verify(signature, data, hash_alg)
    elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        public_key.verify(signature, data)
    else:
        raise TypeError(f"unsupported key type {type(public_key).__name__}")


def _key_hash(cert: "x509.Certificate") -> bytes:
    """SHA-1 of the subjectPublicKey BIT STRING: OCSP's ResponderID byKey (= RFC 5280 SKI method 1)."""
    from cryptography import x509

    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def find_issuer(cert: "x509.Certificate", candidates: Iterable["x509.Certificate"]) -> "x509.Certificate | None":
    """The candidate that really signed ``cert`` (:func:`certdoctor.model.issued_by`: names and
    signature), or ``None``. ``cert`` itself (the same object) is never its own candidate."""
    for c in candidates:
        if c is not cert and issued_by(cert, c):
            return c
    return None


# --------------------------------------------------------------------------- freshness

#: the one revocation reason that can be taken back (RFC 5280 5.3.1): a stale hold proves nothing now
_REVERSIBLE = ("certificateHold", "removeFromCRL")
_NEVER_UNDONE = "believed although {}: a revocation signed by the CA is never undone"


def _is_ca(cert: "x509.Certificate") -> bool:
    from cryptography import x509

    try:
        bc = _ext(cert, x509.BasicConstraints)
    except Exception:  # a malformed extension: judged as an end-entity certificate (the stricter bound)
        return False
    return bool(bc and bc.ca)


def _max_age_days(kind: str, ca: bool) -> int:
    """How long an answer without nextUpdate is believed (days after its thisUpdate)."""
    if kind == "ocsp":
        return policy.OCSP_MAX_AGE_DAYS
    return policy.CRL_MAX_AGE_CA_DAYS if ca else policy.CRL_MAX_AGE_DAYS


def _max_lifetime_days(ca: bool) -> int:
    """How long an OCSP answer not made for this request (no nonce echoed) is believed."""
    return policy.OCSP_MAX_LIFETIME_CA_DAYS if ca else policy.OCSP_MAX_LIFETIME_DAYS


def _age(now: _dt.datetime, then: _dt.datetime) -> str:
    delta = now - then
    days = delta.days
    if days >= 2:
        return f"{days} days"
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} hours" if hours >= 1 else f"{int(delta.total_seconds() // 60)} minutes"


def _common_freshness(this_update, next_update, now) -> tuple[Problem, str] | None:
    if this_update > now + policy.REVOCATION_CLOCK_SKEW:
        return Problem.NOT_YET_VALID, (f"dated in the future: thisUpdate {_iso(this_update)} is after now "
                                       f"({_iso(now)}) by more than the clock skew allowed "
                                       f"({int(policy.REVOCATION_CLOCK_SKEW.total_seconds())} s)")
    if next_update is not None and next_update < this_update:
        return Problem.PARSE, f"malformed: nextUpdate {_iso(next_update)} is before thisUpdate {_iso(this_update)}"
    if next_update is not None and next_update < now:
        return Problem.STALE, f"stale: nextUpdate {_iso(next_update)} is before now ({_iso(now)})"
    return None


def ocsp_freshness(this_update: _dt.datetime, next_update: _dt.datetime | None, now: _dt.datetime, *,
                   ca: bool = False, nonce_echoed: bool = False) -> tuple[Problem, str] | None:
    """Why an OCSP answer is not current at ``now`` (``(problem, text)``), or ``None`` when it is.

    Not current: thisUpdate beyond the clock skew in the future; nextUpdate in the past; no
    nextUpdate and thisUpdate older than :data:`~certdoctor.policy.OCSP_MAX_AGE_DAYS`; not made
    for this request (``nonce_echoed`` false: stapled, cached, pre-signed, replayed) and
    thisUpdate older than :data:`~certdoctor.policy.OCSP_MAX_LIFETIME_DAYS`
    (``OCSP_MAX_LIFETIME_CA_DAYS`` when the certificate asked about is a CA) whatever nextUpdate says.
    """
    common = _common_freshness(this_update, next_update, now)
    if common is not None:
        return common
    age = now - this_update
    if next_update is None and age > _dt.timedelta(days=policy.OCSP_MAX_AGE_DAYS):
        return Problem.STALE, (f"stale: it has no nextUpdate (newer status is available at any time) and its "
                               f"thisUpdate {_iso(this_update)} is {_age(now, this_update)} old, more than the "
                               f"{policy.OCSP_MAX_AGE_DAYS} day(s) such an answer is believed")
    limit = _max_lifetime_days(ca)
    if not nonce_echoed and age > _dt.timedelta(days=limit):
        return Problem.STALE, (f"stale: it was not made for this request (no nonce echoed) and its thisUpdate "
                               f"{_iso(this_update)} is {_age(now, this_update)} old, more than the {limit} days "
                               "such an answer is believed (replayed or long-lived)")
    return None


def crl_freshness(this_update: _dt.datetime, next_update: _dt.datetime | None, now: _dt.datetime, *,
                  ca: bool = False) -> tuple[Problem, str] | None:
    """Why a CRL is not current at ``now`` (``(problem, text)``), or ``None`` when it is: thisUpdate
    in the future beyond the skew, nextUpdate in the past, or no nextUpdate and thisUpdate older
    than :data:`~certdoctor.policy.CRL_MAX_AGE_DAYS` (``CRL_MAX_AGE_CA_DAYS`` for a CA certificate)."""
    common = _common_freshness(this_update, next_update, now)
    if common is not None:
        return common
    limit = _max_age_days("crl", ca)
    if next_update is None and now - this_update > _dt.timedelta(days=limit):
        return Problem.STALE, (f"stale: it has no nextUpdate and its thisUpdate {_iso(this_update)} is "
                               f"{_age(now, this_update)} old, more than the {limit} days such a CRL is believed")
    return None


# --------------------------------------------------------------------------- CRL

def _load_crl(data: bytes) -> "x509.CertificateRevocationList":
    from cryptography import x509

    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except Exception:  # ValueError, InvalidVersion: untrusted bytes
        raise _Refused(Problem.PARSE, "not a CRL (neither DER nor PEM)") from None


def _verify_crl(crl, cert, issuer, now) -> dict:
    """Verify ``crl`` for ``cert``; fail closed on fields that only break when read (lazy parsing)."""
    try:
        return _verify_crl_fields(crl, cert, issuer, now)
    except _Refused:
        raise
    except Exception as exc:  # cryptography parses lazily: a broken field raises on access
        raise _Refused(Problem.PARSE, f"malformed CRL ({type(exc).__name__} while reading a field)") from None


def _verify_crl_fields(
    crl: "x509.CertificateRevocationList",
    cert: "x509.Certificate",
    issuer: "x509.Certificate",
    now: _dt.datetime,
) -> dict:
    """Verify ``crl`` for ``cert``; return the verdict fields or raise :class:`_Refused`."""
    from cryptography import x509

    ev: list[str] = []
    if crl.issuer != issuer.subject:
        raise _Refused(
            Problem.SCOPE,
            f"the CRL is issued by {_name(crl.issuer)}, not by the certificate's issuer {_name(issuer.subject)}",
        )
    ku = _ext(issuer, x509.KeyUsage)
    if ku is not None and not ku.crl_sign:
        raise _Refused(Problem.SIGNER, f"the issuer {_name(issuer.subject)} has keyUsage without cRLSign")
    try:
        valid = crl.is_signature_valid(issuer.public_key())
    except Exception as exc:  # unsupported algorithm, mismatched key type
        raise _Refused(Problem.SIGNATURE, f"the CRL signature cannot be checked: {exc}") from None
    if not valid:
        raise _Refused(
            Problem.SIGNATURE,
            f"the CRL signature does not verify with the key of {_name(issuer.subject)} (signed by another key)",
        )
    ev.append(f"signature verified with the key of {_name(issuer.subject)}")
    this_update = crl.last_update_utc
    next_update = crl.next_update_utc
    base = {"this_update": this_update, "next_update": next_update, "signer": _name(issuer.subject)}
    stale = crl_freshness(this_update, next_update, now, ca=_is_ca(cert))
    if stale is not None and stale[0] is Problem.PARSE:
        raise _Refused(Problem.PARSE, f"the CRL is {stale[1]}", extra=base)
    if next_update is None and stale is None:
        ev.append(f"the CRL has no nextUpdate (RFC 5280 requires one); believed for "
                  f"{_max_age_days('crl', _is_ca(cert))} days after its thisUpdate")
    ev.append(f"thisUpdate {_iso(this_update)}, nextUpdate {_iso(next_update)}")
    try:
        if _ext(crl, x509.DeltaCRLIndicator) is not None:
            raise _Refused(Problem.SCOPE, "this is a delta CRL, not a complete one")
        idp = _ext(crl, x509.IssuingDistributionPoint)
    except _Refused:
        raise
    except Exception as exc:
        raise _Refused(Problem.PARSE, f"the CRL has a malformed extension: {exc}") from None
    if idp is not None:
        bc = _ext(cert, x509.BasicConstraints)
        is_ca = bool(bc and bc.ca)
        if idp.indirect_crl:
            raise _Refused(Problem.SCOPE, "indirect CRLs are not supported")
        if idp.only_some_reasons:
            raise _Refused(Problem.SCOPE, "the CRL covers only some revocation reasons: not a complete answer")
        if idp.only_contains_ca_certs and not is_ca:
            raise _Refused(Problem.SCOPE, "the CRL only covers CA certificates")
        if idp.only_contains_user_certs and is_ca:
            raise _Refused(Problem.SCOPE, "the CRL only covers end-entity certificates")
        if idp.only_contains_attribute_certs:
            raise _Refused(Problem.SCOPE, "the CRL only covers attribute certificates")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    ev.append(f"{len(crl)} revoked serial(s) listed")
    if entry is not None:
        reason = None
        try:
            r = _ext(entry, x509.CRLReason)
            reason = r.reason.value if r is not None else None
        except Exception:
            reason = None
        if reason != "removeFromCRL" and (stale is None or reason != "certificateHold"):
            ev.append(f"serial {_serial_hex(cert)} listed: revoked {_iso(entry.revocation_date_utc)}"
                      + (f", reason {reason}" if reason else ", no reason given"))
            if stale is not None:
                ev.append(_NEVER_UNDONE.format("it is " + stale[1]))
            return {**base, "status": RevocationStatus.REVOKED, "reason": reason,
                    "revocation_date": entry.revocation_date_utc, "evidence": ev}
        if reason == "removeFromCRL":
            ev.append(f"serial {_serial_hex(cert)} listed with removeFromCRL: not revoked")
    else:
        ev.append(f"serial {_serial_hex(cert)} not listed")
    if stale is not None:
        raise _Refused(stale[0], f"the CRL is {stale[1]}", extra=base)
    return {**base, "status": RevocationStatus.GOOD, "reason": None, "revocation_date": None, "evidence": ev}


# --------------------------------------------------------------------------- OCSP

def _certid(cert, issuer, hash_alg) -> tuple[int, bytes, bytes]:
    from cryptography.x509 import ocsp

    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hash_alg).build()
    return req.serial_number, req.issuer_name_hash, req.issuer_key_hash


def build_ocsp_request(cert, issuer, *, nonce: bytes | None = None) -> bytes:
    """DER of an OCSP request for ``cert`` (SHA-1 CertID, as RFC 5019 profiles) with a nonce."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _weak_digest(cert: "x509.Certificate") -> str | None:
    try:
        algo = cert.signature_hash_algorithm
    except Exception:  # an algorithm cryptography does not know: not a weak one it can name
        return None
    name = algo.name.lower() if algo is not None else ""
    return name if name in WEAK_DIGESTS else None


def _find_signer(resp, issuer, now: _dt.datetime) -> tuple["x509.Certificate", str]:
    """The certificate whose key must have signed ``resp``, checked for authority; or raise."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    def matches(c) -> bool:
        if resp.responder_name is not None:
            return c.subject == resp.responder_name
        return resp.responder_key_hash is not None and _key_hash(c) == resp.responder_key_hash

    responder = _name(resp.responder_name) if resp.responder_name is not None else (
        f"key hash {resp.responder_key_hash.hex()}" if resp.responder_key_hash else "?"
    )
    if matches(issuer):
        return issuer, f"signed by the issuer {_name(issuer.subject)} itself"
    included = [c for c in resp.certificates if matches(c)]
    if not included:
        raise _Refused(
            Problem.SIGNER,
            f"the response is signed by {responder}, which is neither the issuer {_name(issuer.subject)} "
            f"nor a responder certificate included in the response",
        )
    problems: list[str] = []
    for c in included:
        if not issued_by(c, issuer):
            problems.append(f"the responder certificate {_name(c.subject)} was not issued by {_name(issuer.subject)}")
            continue
        weak = _weak_digest(c)
        if weak:
            problems.append(f"the responder certificate {_name(c.subject)} is signed with {weak.upper()}, "
                            "too weak to authorise a responder")
            continue
        try:
            eku = _ext(c, x509.ExtendedKeyUsage)
        except Exception:
            eku = None
        if eku is None or ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            problems.append(f"the responder certificate {_name(c.subject)} lacks the id-kp-OCSPSigning EKU")
            continue
        if not (c.not_valid_before_utc <= now <= c.not_valid_after_utc):
            problems.append(
                f"the responder certificate {_name(c.subject)} is not valid now "
                f"({_iso(c.not_valid_before_utc)} to {_iso(c.not_valid_after_utc)})"
            )
            continue
        return c, f"signed by the delegated responder {_name(c.subject)} (issued by {_name(issuer.subject)}, EKU OCSPSigning)"
    raise _Refused(Problem.SIGNER, "; ".join(problems))


def _verify_ocsp(der: bytes, cert, issuer, now: _dt.datetime, *, nonce: bytes | None) -> dict:
    """Verify an OCSP response; fail closed on fields that only break when read (lazy parsing)."""
    try:
        return _verify_ocsp_fields(der, cert, issuer, now, nonce=nonce)
    except _Refused:
        raise
    except Exception as exc:  # cryptography parses lazily: a broken field raises on access
        raise _Refused(Problem.PARSE,
                       f"malformed OCSP response ({type(exc).__name__} while reading a field)") from None


def _verify_ocsp_fields(
    der: bytes,
    cert,
    issuer,
    now: _dt.datetime,
    *,
    nonce: bytes | None,
) -> dict:
    """Verify an OCSP response for ``cert``; return the verdict fields or raise :class:`_Refused`.

    ``nonce`` is the nonce we sent, ``None`` when there was no request (a staple, a cache hit).
    """
    from cryptography import x509
    from cryptography.x509 import ocsp

    try:
        resp = ocsp.load_der_ocsp_response(der)
    except Exception:  # untrusted bytes: any parse failure is a refusal
        raise _Refused(Problem.PARSE, "not an OCSP response (DER does not parse)") from None
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise _Refused(Problem.RESPONDER_STATUS, f"the responder answered {resp.response_status.name}")
    ev: list[str] = []
    # the single response about our certificate (CertID computed with the response's own hash)
    single = None
    others: list[str] = []
    try:
        singles = list(resp.responses)
    except Exception as exc:
        raise _Refused(Problem.PARSE, f"malformed OCSP response: {exc}") from None
    for s in singles:
        try:
            want = _certid(cert, issuer, s.hash_algorithm)
        except Exception:
            others.append(f"serial {s.serial_number:X} (unsupported CertID hash)")
            continue
        got = (s.serial_number, s.issuer_name_hash, s.issuer_key_hash)
        if got == want:
            single = s
            break
        if s.serial_number != cert.serial_number:
            others.append(f"serial {s.serial_number:X}")
        elif s.issuer_name_hash != want[1]:
            others.append(f"serial {s.serial_number:X} under another issuer name")
        else:
            others.append(f"serial {s.serial_number:X} under another issuer key")
    if single is None:
        raise _Refused(
            Problem.CERTID,
            f"the response is about {', '.join(others) or 'no certificate'}, not serial {_serial_hex(cert)} "
            f"of {_name(issuer.subject)} (CertID mismatch)",
        )
    signer, how = _find_signer(resp, issuer, now)
    try:
        _verify_signature(signer.public_key(), resp.signature, resp.tbs_response_bytes,
                          resp.signature_hash_algorithm, resp.signature_algorithm_oid)
    except Exception as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise _Refused(
            Problem.SIGNATURE,
            f"the response signature does not verify with the key of {_name(signer.subject)}{detail}",
        ) from None
    ev.append(how)
    try:
        if resp.signature_hash_algorithm is not None and resp.signature_hash_algorithm.name in ("sha1", "md5"):
            ev.append(f"signed with {resp.signature_hash_algorithm.name.upper()} (weak)")
    except Exception:
        pass
    this_update, next_update = single.this_update_utc, single.next_update_utc
    base = {"this_update": this_update, "next_update": next_update, "signer": _name(signer.subject)}
    ev.append(f"thisUpdate {_iso(this_update)}, nextUpdate {_iso(next_update) if next_update else 'absent'}")
    echoed = None
    try:
        n = _ext(resp, x509.OCSPNonce)
        echoed = n.nonce if n is not None else None
    except Exception:
        echoed = None
    mismatch = nonce is not None and echoed is not None and echoed != nonce
    made_for_us = nonce is not None and echoed == nonce
    ca = _is_ca(cert)
    if nonce is not None:
        if echoed is None:
            ev.append("the responder did not echo the nonce (RFC 5019 / pre-signed responses); believed only "
                      f"within {_max_lifetime_days(ca)} days of its thisUpdate")
        elif made_for_us:
            ev.append("nonce echoed")
    stale = ocsp_freshness(this_update, next_update, now, ca=ca, nonce_echoed=made_for_us)
    if stale is not None and stale[0] is Problem.PARSE:
        raise _Refused(Problem.PARSE, f"the response is {stale[1]}", extra=base)
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.value if single.revocation_reason is not None else None
        when = single.revocation_time_utc
        if (stale is None and not mismatch) or reason not in _REVERSIBLE:
            ev.append(f"serial {_serial_hex(cert)}: revoked {_iso(when)}" + (f", reason {reason}" if reason else ""))
            if mismatch:
                ev.append(_NEVER_UNDONE.format("it carries another nonce than the one sent"))
            elif stale is not None:
                ev.append(_NEVER_UNDONE.format("it is " + stale[1]))
            return {**base, "status": RevocationStatus.REVOKED, "reason": reason, "revocation_date": when,
                    "evidence": ev}
    if mismatch:
        raise _Refused(Problem.NONCE, "the response carries another nonce than the one sent (replayed or mixed up)",
                       extra=base)
    if stale is not None:
        raise _Refused(stale[0], f"the response is {stale[1]}", extra=base)
    if status == ocsp.OCSPCertStatus.GOOD:
        ev.append(f"serial {_serial_hex(cert)}: good")
        return {**base, "status": RevocationStatus.GOOD, "reason": None, "revocation_date": None, "evidence": ev}
    if status == ocsp.OCSPCertStatus.REVOKED:  # a current certificateHold
        reason = single.revocation_reason.value if single.revocation_reason is not None else None
        when = single.revocation_time_utc
        ev.append(f"serial {_serial_hex(cert)}: revoked {_iso(when)}" + (f", reason {reason}" if reason else ""))
        return {**base, "status": RevocationStatus.REVOKED, "reason": reason, "revocation_date": when, "evidence": ev}
    raise _Refused(Problem.UNKNOWN_STATUS, f"the responder does not know serial {_serial_hex(cert)}",
                   RevocationStatus.UNKNOWN, extra=base)


def _ocsp_cache_key(cert, issuer) -> bytes:
    from cryptography.hazmat.primitives import hashes

    serial, name_hash, key_hash = _certid(cert, issuer, hashes.SHA1())
    return b"ocsp-certid\0" + format(serial, "x").encode() + b"\0" + name_hash + key_hash



# --------------------------------------------------------------------------- judging the answers

_RANK = {RevocationStatus.REVOKED: 3, RevocationStatus.GOOD: 2, RevocationStatus.ERROR: 1, RevocationStatus.UNKNOWN: 0}


def _not_asked(fetch: RevocationFetch, method: str) -> MethodAttempt | None:
    """The attempt for a source that gave no bytes (refused scheme, no time left, download failed)."""
    if fetch.body is not None and fetch.problem is None:
        return None
    problem = Problem(fetch.problem) if fetch.problem else Problem.FETCH
    status = RevocationStatus.UNKNOWN if problem is Problem.UNSUPPORTED_SCHEME else RevocationStatus.ERROR
    evidence = tuple(f"OCSP {fetch.url}: {n}" for n in fetch.notes) if method == "ocsp" else ()
    return MethodAttempt(method=method, url=fetch.url, status=status, problem=problem,
                         error=fetch.error or f"{fetch.url}: no answer", evidence=evidence, elapsed=fetch.elapsed)


def judge_crl(fetch: RevocationFetch, cert: "x509.Certificate", issuer: "x509.Certificate",
              now: _dt.datetime) -> MethodAttempt:
    """Verify one downloaded CRL for ``cert`` at ``now``."""
    skipped = _not_asked(fetch, "crl")
    if skipped is not None:
        return skipped
    data = fetch.body
    try:
        verdict = _verify_crl(_load_crl(data), cert, issuer, now)
    except _Refused as exc:
        return MethodAttempt(method="crl", url=fetch.url, status=exc.status, problem=exc.problem,
                             error=f"CRL {fetch.url}: {exc.message}",
                             evidence=(f"CRL {fetch.url}: {len(data):,} bytes, refused: {exc.message}",),
                             elapsed=fetch.elapsed, from_cache=fetch.from_cache, **exc.extra)
    src = "from cache" if fetch.from_cache else f"{len(data):,} bytes"
    evidence = (f"CRL {fetch.url} ({src}): " + "; ".join(verdict.pop("evidence")),)
    return MethodAttempt(method="crl", url=fetch.url, from_cache=fetch.from_cache, evidence=evidence,
                         elapsed=fetch.elapsed, **verdict)


def judge_ocsp(fetch: RevocationFetch, cert: "x509.Certificate", issuer: "x509.Certificate",
               now: _dt.datetime) -> MethodAttempt:
    """Verify one OCSP answer for ``cert`` at ``now``, with the nonce that was sent (none when
    the answer came from the cache: its nonce was checked when it was fetched)."""
    skipped = _not_asked(fetch, "ocsp")
    if skipped is not None:
        return skipped
    body, url = fetch.body, fetch.url
    try:
        verdict = _verify_ocsp(body, cert, issuer, now, nonce=None if fetch.from_cache else fetch.nonce)
    except _Refused as exc:
        how = ", ".join(fetch.notes) if not fetch.from_cache else "from cache"
        return MethodAttempt(method="ocsp", url=url, status=exc.status, problem=exc.problem,
                             error=f"OCSP {url}: {exc.message}", from_cache=fetch.from_cache,
                             evidence=(f"OCSP {url}: {how}, {len(body):,} bytes, refused: {exc.message}",),
                             elapsed=fetch.elapsed, **exc.extra)
    if fetch.from_cache:
        verdict["evidence"].append("from cache: the nonce was checked when it was fetched")
        evidence = (f"OCSP {url} (from cache): " + "; ".join(verdict.pop("evidence")),)
    else:
        evidence = (f"OCSP {url} ({', '.join(fetch.notes)}, {len(body):,} bytes): "
                    + "; ".join(verdict.pop("evidence")),)
    return MethodAttempt(method="ocsp", url=url, from_cache=fetch.from_cache, evidence=evidence,
                         elapsed=fetch.elapsed, **verdict)


def judge_stapled(der: bytes, cert: "x509.Certificate", issuer: "x509.Certificate",
                  now: _dt.datetime) -> MethodAttempt:
    """Verify the OCSP response the server stapled (no nonce: nobody asked for it)."""
    import time

    started = time.monotonic()
    try:
        verdict = _verify_ocsp(der, cert, issuer, now, nonce=None)
    except _Refused as exc:
        return MethodAttempt(method="stapled", url=None, status=exc.status, problem=exc.problem,
                             error=f"stapled OCSP response: {exc.message}",
                             elapsed=round(time.monotonic() - started, 3), **exc.extra)
    evidence = ("stapled OCSP response: " + "; ".join(verdict.pop("evidence")),)
    return MethodAttempt(method="stapled", url=None, evidence=evidence,
                         elapsed=round(time.monotonic() - started, 3), **verdict)


def decided(attempts: Iterable[MethodAttempt]) -> bool:
    """Did a source give a verified (and, for GOOD, current) GOOD or REVOKED answer?"""
    return any(a.status in (RevocationStatus.GOOD, RevocationStatus.REVOKED) for a in attempts)


def settled(attempts: Iterable[MethodAttempt]) -> bool:
    """Is there a verified REVOKED? Only that ends the asking: a GOOD from one source never hides
    a REVOKED from another, so every kind of source is still asked after a GOOD."""
    return any(a.status is RevocationStatus.REVOKED for a in attempts)


def issuer_attempt(cert: "x509.Certificate", issuer: "x509.Certificate") -> MethodAttempt | None:
    """The refusal when ``issuer`` did not issue ``cert`` (``None`` when it did)."""
    if issued_by(cert, issuer):
        return None
    return MethodAttempt(
        method="issuer", url=None, status=RevocationStatus.ERROR, problem=Problem.ISSUER,
        error=f"{_name(issuer.subject)} did not issue {_name(cert.subject)} (names or signature do not match)",
    )


def judge(evidence: RevocationEvidence, now: _dt.datetime | None = None, *, policy: str = "soft",
          cert: "x509.Certificate | None" = None, issuer: "x509.Certificate | None" = None) -> RevocationResult:
    """Judge what the sources answered, at ``now`` (default: the current time).

    The attempts follow the order the sources were asked in: the staple, then the CRLs, then
    OCSP. Each kind is asked while no verified REVOKED is in hand (a GOOD from one kind does not
    stop the next); within a kind, the first location with a verified answer ends that kind
    (the other locations are mirrors of the same CA's data). ``cert``/``issuer`` save parsing
    ``evidence.cert_der``/``issuer_der`` again when the caller has them.
    """
    from cryptography import x509 as _x509

    _check_choice("policy", policy, POLICIES)
    now = _aware(now) if now is not None else _utcnow()
    cert = cert if cert is not None else _x509.load_der_x509_certificate(evidence.cert_der)
    issuer = issuer if issuer is not None else _x509.load_der_x509_certificate(evidence.issuer_der)
    method = evidence.method
    attempts: list[MethodAttempt] = []
    refused = issuer_attempt(cert, issuer)
    if refused is not None:
        attempts.append(refused)
    else:
        if evidence.stapled is not None and method in ("all", "ocsp"):
            attempts.append(judge_stapled(evidence.stapled, cert, issuer, now))
        for kind, urls, judge_one, none in (
                ("crl", evidence.crl_urls, judge_crl, "the certificate has no CRL distribution point"),
                ("ocsp", evidence.ocsp_urls or (evidence.stapled is not None), judge_ocsp,
                 "the certificate names no OCSP responder")):
            if method not in ("all", kind) or settled(attempts):
                continue
            if not urls:
                attempts.append(MethodAttempt(method=kind, url=None, status=RevocationStatus.UNKNOWN,
                                              problem=Problem.NO_SOURCE, error=none))
            for fetch in (f for f in evidence.fetches if f.method == kind):
                attempt = judge_one(fetch, cert, issuer, now)
                attempts.append(attempt)
                if decided((attempt,)):
                    break
    return result_of(cert, issuer, attempts, policy)


def result_of(cert: "x509.Certificate", issuer: "x509.Certificate", attempts: Sequence[MethodAttempt],
              policy: str) -> RevocationResult:
    """The verdict of the attempts: a verified REVOKED from any source beats a GOOD from another,
    which beats ERROR (a refused answer, a stale one included), which beats UNKNOWN. Among equals
    the first in asking order decides."""
    subject = _name(cert.subject)
    best = max(attempts, key=lambda a: _RANK[a.status])
    evidence = [f"certificate {subject}, serial {_serial_hex(cert)}, issuer {_name(issuer.subject)}"]
    for a in attempts:
        evidence.extend(a.evidence)
        if a.error and not a.evidence:  # refusals carry their error in their evidence already
            evidence.append(f"{a.method}: {a.error}")
    decisive = best.status in (RevocationStatus.GOOD, RevocationStatus.REVOKED)
    return RevocationResult(
        subject=subject,
        serial=_serial_hex(cert),
        status=best.status,
        method=best.method if decisive else None,
        reason=best.reason if best.status is RevocationStatus.REVOKED else None,
        revocation_date=best.revocation_date if best.status is RevocationStatus.REVOKED else None,
        evidence=tuple(evidence),
        attempts=tuple(attempts),
        policy=policy,
    )


# --------------------------------------------------------------------------- the diagnosis check

def check(ctx: "Context") -> list[Finding]:
    """``REVOKED`` / ``REVOCATION_UNKNOWN`` (soft-fail) for the leaf, from the gathered answers, and
    ``REVOCATION_STALE`` for each answer that was not current."""
    ev = ctx.evidence
    rev = ev.revocation
    if rev is None or ctx.path is None or len(ctx.path.path) < 2:
        return []
    if rev.error is not None:  # the gathering itself could not run: a step that could not run is data
        return [_unknown(rev.error)]
    try:
        result = judge(rev, ctx.now, policy="soft")
    except Exception as exc:  # odd evidence (bytes that are no certificate): unknown, never a crash
        return [_unknown(f"{type(exc).__name__}: {exc}")]
    return result.findings("soft")


def _unknown(why: str) -> Finding:
    return Finding(Code.REVOCATION_UNKNOWN, Severity.WARNING, "Revocation could not be checked.",
                   why, (), "Run `certdoctor revocation URL` for details.", Actor.NOBODY, 0)
