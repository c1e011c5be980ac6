"""What every check reads: the evidence, the clock, and what follows from them once.

:func:`derive` parses the presented chain, analyses it (:class:`~certdoctor.model.ChainInfo`) and
builds the path to an anchor from the presented certificates, the AIA downloads and the anchors
carried in the evidence (:func:`certdoctor.x509.path.build_path`, pure). Nothing is read from a
file or the network. Odd evidence never raises here: a chain that does not parse becomes one
``INVALID_CERT`` finding and no chain.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certdoctor.model import Actor, ChainInfo, Code, Finding, Severity
from certdoctor.x509.path import PathResult, build_path

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.evidence import Evidence


@dataclass(frozen=True, slots=True)
class Context:
    """``chain``/``path`` are ``None`` when no chain was received (or it could not be read:
    then ``invalid`` says why)."""

    evidence: "Evidence"
    now: _dt.datetime
    certs: "tuple[x509.Certificate, ...]"
    chain: ChainInfo | None
    path: PathResult | None
    invalid: Finding | None = None


def _aware(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def _invalid(evidence: "Evidence", index: int | None, why: str) -> Finding:
    probe = evidence.probe
    where = f"certificate #{index}" if index is not None else "the chain"
    return Finding(
        Code.INVALID_CERT, Severity.ERROR,
        f"{where.capitalize()} presented by {probe.host}:{probe.port} cannot be parsed.",
        f"certdoctor cannot read what the server sent: {why}",
        (f"{len(probe.chain_der)} certificate(s) presented",),
        "The server sends a malformed certificate; its operator must replace it.",
        Actor.SERVER_OPERATOR, index)


def _unreadable(evidence: "Evidence", index: int, part: tuple[str, str]) -> Finding:
    """A certificate OpenSSL reads but cryptography cannot (x509.load.unsupported_part names the part)."""
    probe = evidence.probe
    return Finding(
        Code.MALFORMED_CERT, Severity.ERROR,
        f"Certificate #{index} presented by {probe.host}:{probe.port}: {part[0]}.",
        ("OpenSSL reads this certificate, but it departs from RFC 5280's form in that part, and certdoctor "
         f"(cryptography) cannot read it, so no other check of the chain ran. {part[1]}."),
        (f"certificate #{index} of {len(probe.chain_der)} presented", f"field: {part[0]}",
         "rule: unreadable_certificate"),
        ("Its operator must have it reissued in RFC 5280's form. `openssl s_client -connect "
         f"{probe.host}:{probe.port} -showcerts` shows the chain, `openssl x509 -noout -text` each certificate."),
        Actor.SERVER_OPERATOR, index, rule="unreadable_certificate")


def derive(evidence: "Evidence", now: _dt.datetime | None = None) -> Context:
    """The context of ``evidence`` judged at ``now`` (default: the clock of the gathering)."""
    from cryptography import x509

    clock = _aware(now) if now is not None else evidence.now
    certs = []
    for i, der in enumerate(evidence.probe.chain_der):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except Exception as exc:
            from certdoctor.x509.load import unsupported_part

            part = unsupported_part(der)
            found = _invalid(evidence, i, str(exc)) if part is None else _unreadable(evidence, i, part)
            return Context(evidence, clock, (), None, None, found)
    if not certs:
        return Context(evidence, clock, (), None, None)
    try:
        chain = ChainInfo.analyse(certs, clock)
        path = build_path(certs, evidence.trust.anchors(), host=evidence.target.servername, now=clock,
                          aia_attempts=evidence.aia)
    except Exception as exc:  # a certificate that parses but breaks when read (lazy parsing)
        return Context(evidence, clock, tuple(certs), None, None, _invalid(evidence, None, f"{type(exc).__name__}: {exc}"))
    return Context(evidence, clock, tuple(certs), chain, path)
