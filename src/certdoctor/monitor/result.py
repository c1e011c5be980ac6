"""The result row of one monitored target: a frozen, JSON-ready dataclass (docs/MONITOR.md lists
every field; the state, exporter and webhook layers read it, so fields are only ever added).

    >>> row.status, row.reason, row.days_left                              # doctest: +SKIP
    ('critical', 'CHAIN_INCOMPLETE', 84)
    >>> json.dumps(row.to_json())                                          # doctest: +SKIP

Statuses, Nagios-like (aligned with check_ssl_cert, research A3):

* ``ok``: the chain verifies, no finding of severity WARNING or ERROR, the verified path's
  soonest notAfter at least ``warn_days`` away;
* ``warning``: a WARNING finding (an unused extra certificate, ``EXPIRING_SOON`` …), or fewer
  than ``warn_days`` days left;
* ``critical``: an ERROR finding (verification fails — untrusted, incomplete, expired, hostname,
  revoked, pin —), or fewer than ``crit_days`` days left (then ``EXPIRING_SOON`` is an ERROR);
* ``unknown``: no certificate to judge: the target could not be resolved, reached or read
  (DNS, refused, timeout, not TLS, a file that is missing or unreadable, a bad ``--targets``
  line);
* ``error``: certdoctor itself failed on this target (a bug): ``error`` holds the exception.

The run's worst status, ranked critical > unknown/error > warning > ok, is its exit code
(0 ok, 1 warning, 2 critical, 3 unknown): see :func:`exit_code`.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from certdoctor.model import Code, Finding, Severity, to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.model import CertInfo
    from certdoctor.monitor.changes import Transition

OK, WARNING, CRITICAL, UNKNOWN, ERROR = "ok", "warning", "critical", "unknown", "error"
STATUSES = (OK, WARNING, CRITICAL, UNKNOWN, ERROR)
#: how bad a status is, for the run's worst one: critical > unknown/error > warning > ok
RANK = {OK: 0, WARNING: 1, UNKNOWN: 2, ERROR: 2, CRITICAL: 3}
#: the exit code of a run whose worst status is this one (Nagios plugin codes)
EXIT = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3, ERROR: 3}
#: the version of the row's JSON form (``row_version`` of every row); bumped only when a field's
#: meaning changes, never for an added field
ROW_VERSION = 1
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class CertFacts:
    """One certificate received (endpoint: as presented, ``position`` 0 = first sent; file: in
    file order), whatever the verification said.

    ``serial`` is lower-case hex of the serial's DER content bytes (leading zeros kept, even
    length: ``00ab…`` stays ``00ab…``), ``fingerprint_sha256`` upper-case hex, ``spki_pin``
    ``sha256/…`` base64. ``days_left`` whole days toward zero (negative once expired);
    ``lifetime_used`` the share of notBefore..notAfter elapsed, 0..1. ``on_path``: on the
    leaf's verified (or, when it fails, best) path; an extra certificate is ``False`` and its
    expiry never sets the row's status."""

    position: int
    subject: str
    issuer: str
    serial: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    days_left: int
    lifetime_used: float
    fingerprint_sha256: str
    spki_pin: str
    key_type: str
    key_size: int | None
    on_path: bool
    self_signed: bool
    is_ca: bool | None


@dataclass(frozen=True, slots=True)
class Row:
    """The result of one target (see the module docstring and docs/MONITOR.md for each field)."""

    target: str
    kind: str
    origin: str
    status: str
    reason: str | None
    verified: bool | None
    error: str | None
    checked_at: _dt.datetime
    elapsed: float
    host: str | None = None
    port: int | None = None
    servername: str | None = None
    address: str | None = None
    path: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    warn_days: int = 0
    crit_days: int = 0
    days_left: int | None = None
    not_after: _dt.datetime | None = None
    tls_version: str | None = None
    cipher: str | None = None
    trust: str | None = None
    findings: tuple[Finding, ...] = ()
    certificates: tuple[CertFacts, ...] = ()
    #: what changed since the state file's previous result (``--state``; empty without state):
    #: :class:`~certdoctor.monitor.changes.Transition` values, kinds in docs/MONITOR.md
    transitions: tuple["Transition", ...] = ()
    #: when the state last saw the served leaf change (``leaf_renewed``/``leaf_rekeyed``); null
    #: until a change has been recorded (the first sight of a target is not a change)
    leaf_changed_at: _dt.datetime | None = None

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]

    @property
    def leaf(self) -> CertFacts | None:
        return self.certificates[0] if self.certificates else None

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON types (``labels`` an object, datetimes ``…Z``, findings the house
        finding objects of docs/JSON.md)."""
        doc = to_jsonable(self)
        doc["labels"] = dict(self.labels)
        doc["row_version"] = ROW_VERSION
        return doc


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: RANK[s], default=OK)


def exit_code(statuses: Iterable[str]) -> int:
    """0 all ok, 1 a warning, 2 a critical, 3 an unknown/error and no critical (Nagios codes)."""
    return EXIT[worst(statuses)]


# --------------------------------------------------------------------------- facts

def serial_hex(n: int) -> str:
    """The serial's DER content bytes as hex: ``0x00AB`` (a positive number with the top bit set
    gets its sign byte) stays ``00ab``; never an odd number of digits."""
    length = max(1, (n.bit_length() + 8) // 8) if n >= 0 else max(1, ((-n - 1).bit_length() + 8) // 8)
    return n.to_bytes(length, "big", signed=True).hex()


def _aware(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def facts(info: "CertInfo", position: int, now: _dt.datetime, on_path: bool) -> CertFacts:
    """The :class:`CertFacts` of one analysed certificate (:class:`~certdoctor.model.CertInfo`)."""
    nb, na = _aware(info.not_before), _aware(info.not_after)
    life = (na - nb).total_seconds()
    used = 1.0 if life <= 0 else (now - nb).total_seconds() / life
    serial_int = int(info.serial, 16) if info.serial else 0  # CertInfo.serial: the number in hex
    return CertFacts(
        position=position, subject=info.subject, issuer=info.issuer, serial=serial_hex(serial_int),
        not_before=nb, not_after=na, days_left=math.trunc((na - now).total_seconds() / DAY),
        lifetime_used=round(min(1.0, max(0.0, used)), 4), fingerprint_sha256=info.fingerprint_sha256,
        spki_pin=info.spki_pin, key_type=info.key_type, key_size=info.key_size, on_path=on_path,
        self_signed=info.self_signed, is_ca=info.is_ca)


# --------------------------------------------------------------------------- status

def with_critical_days(findings: Sequence[Finding], crit_days: int) -> list[Finding]:
    """``EXPIRING_SOON`` within ``crit_days`` is an ERROR (the row is critical), said so in its
    evidence; everything else as it was."""
    out = []
    for f in findings:
        days = _days_in(f) if f.code is Code.EXPIRING_SOON else None
        if f.severity is Severity.WARNING and days is not None and days < crit_days:
            f = replace(f, severity=Severity.ERROR, evidence=f.evidence + (f"crit_days = {crit_days}",))
        out.append(f)
    return out


def _days_in(f: Finding) -> int | None:
    import re

    m = re.search(r"expires in (-?\d+) day", f.summary)
    return int(m.group(1)) if m else None


def status_of(findings: Sequence[Finding], days_left: int | None, warn_days: int, crit_days: int, *,
              have_certificates: bool) -> tuple[str, str | None]:
    """``(status, reason)``: the reason is the code of the finding that decides (errors first),
    or ``EXPIRING_SOON`` when only the days do."""
    ranked = sorted(findings, key=lambda f: -f.severity.rank)
    errors = [f for f in ranked if f.severity is Severity.ERROR]
    warnings = [f for f in ranked if f.severity is Severity.WARNING]
    if not have_certificates:
        return UNKNOWN, (errors or warnings or [None])[0].code.value if (errors or warnings) else None
    if errors:
        return CRITICAL, errors[0].code.value
    if days_left is not None and days_left < crit_days:
        return CRITICAL, Code.EXPIRING_SOON.value
    if warnings:
        return WARNING, warnings[0].code.value
    if days_left is not None and days_left < warn_days:
        return WARNING, Code.EXPIRING_SOON.value
    return OK, None


__all__ = ["Row", "CertFacts", "STATUSES", "OK", "WARNING", "CRITICAL", "UNKNOWN", "ERROR", "RANK", "EXIT",
           "ROW_VERSION", "worst", "exit_code", "serial_hex", "facts", "status_of", "with_critical_days"]
