"""Change detection, pure: the previous state of a target and its new row give its transitions.

    >>> prev = snapshot(old_row)                                         # doctest: +SKIP
    >>> [t.kind for t in transitions(prev, new_row)]                     # doctest: +SKIP
    ['status_changed', 'leaf_renewed', 'finding_added']

A *snapshot* is the part of a row that change detection (and the state file) keeps: a small
JSON-ready dict (status, reason, verified, the codes of the findings with their severity, the
facts of the certificates). What was last *known* is carried over an outage: when the new row
has no certificate (the target did not answer), the snapshot keeps the previous certificates
and ``verified``, so a leaf replaced while the target was unreachable is still a change once it
answers again, and "verification started failing" is said when it does, not at the outage.

A repeat run reports nothing: days counting down, a new ``checked_at``, findings whose wording
changes with the days are not transitions. The kinds are stable strings (docs/MONITOR.md):

* ``new_target`` — first sight of the target (``old`` null, ``new`` its status);
* ``status_changed`` — ``ok``/``warning``/``critical``/``unknown``/``error``, old to new
  (this is "WARNING to CRITICAL" when the days cross ``crit_days``);
* ``verification_failed`` / ``verification_restored`` — the chain stopped / started verifying
  (the row's ``verified``, except that fewer than ``crit_days`` left, critical as it is, does not
  count as a failed verification);
* ``leaf_renewed`` — a new leaf certificate with the same public key (SPKI) as before;
* ``leaf_rekeyed`` — a new leaf certificate with a new key;
* ``issuer_changed`` — the new leaf names another issuer (besides ``leaf_renewed``/``rekeyed``);
* ``chain_changed`` — the certificates sent after the leaf (intermediates) are others;
* ``finding_added`` / ``finding_cleared`` — a finding code appeared / disappeared (one transition
  per code; ``new``/``old`` the code).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.result import Row

NEW_TARGET = "new_target"
STATUS_CHANGED = "status_changed"
VERIFICATION_FAILED = "verification_failed"
VERIFICATION_RESTORED = "verification_restored"
LEAF_RENEWED = "leaf_renewed"
LEAF_REKEYED = "leaf_rekeyed"
ISSUER_CHANGED = "issuer_changed"
CHAIN_CHANGED = "chain_changed"
FINDING_ADDED = "finding_added"
FINDING_CLEARED = "finding_cleared"
#: every kind, in the order a row lists its transitions
KINDS = (NEW_TARGET, STATUS_CHANGED, VERIFICATION_FAILED, VERIFICATION_RESTORED, LEAF_RENEWED, LEAF_REKEYED,
         ISSUER_CHANGED, CHAIN_CHANGED, FINDING_ADDED, FINDING_CLEARED)
#: kinds that mean "the served leaf changed" (the state's ``leaf_changed_at``)
LEAF_KINDS = (LEAF_RENEWED, LEAF_REKEYED)
#: the version of a snapshot's form (stored in the state file)
SNAPSHOT_VERSION = 1
#: the codes of a target that gave no certificate (the others are carried over such an outage)
CONNECTION_CODES = frozenset({"DNS_FAILURE", "CONNECTION_REFUSED", "TIMEOUT", "PROXY_ERROR", "CONNECT_FAILED",
                              "NOT_TLS", "CLIENT_CERT_REQUIRED", "TLS_VERSION", "CIPHER_MISMATCH"})
_CERT_KEYS = ("position", "fingerprint_sha256", "spki_pin", "serial", "subject", "issuer", "not_before",
              "not_after", "on_path", "self_signed", "is_ca")
#: what a finding keeps in the snapshot's ``report`` part, for the HTML report (render/html.py)
_FINDING_KEYS = ("code", "severity", "summary", "explanation", "fix", "who", "cert_index", "rule")


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of one target. ``old``/``new`` are short JSON values (a status, a code, a
    fingerprint, true/false, null); ``detail`` says it in a sentence (server-supplied names in it
    are rendered through ``safe()`` by the table)."""

    kind: str
    target: str
    old: Any
    new: Any
    detail: str


def identity(kind: str, target: str, servername: str | None = None, address: str | None = None) -> str:
    """The state key of a target: what the user wrote that makes it *this* target (its kind,
    input, and the ``servername``/``address`` it was given, if any) — not its line in a file, so
    editing the config keeps the history; two entries for one host with different ``address``
    (two backends) are two targets."""
    return "\x1f".join((kind, target, servername or "", address or ""))


def _iso(value: _dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def snapshot(row: "Row", previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-ready state of ``row`` (the last known certificates and ``verified`` carried
    from ``previous`` when the row has none)."""
    findings: dict[str, str] = {}
    for f in row.findings:
        if f.severity.rank == 0:
            continue  # notes are not state
        code = f.code.value
        if code not in findings or f.severity.rank > _rank(findings[code]):
            findings[code] = f.severity.value
    certs = [{k: (_iso(getattr(c, k)) if k in ("not_before", "not_after") else getattr(c, k)) for k in _CERT_KEYS}
             for c in row.certificates]
    verified = row.verified
    errors = {f.code.value for f in row.findings if f.severity.value == "error"}
    if verified is False and errors == {"EXPIRING_SOON"}:
        verified = True  # under crit_days is critical, but the chain still verifies: no verification change
    if previous is not None:
        if not certs:  # no answer: what was known of the certificate stays known
            certs = list(previous.get("certificates") or [])
            for code, severity in (previous.get("findings") or {}).items():
                if code not in CONNECTION_CODES:
                    findings.setdefault(code, severity)
        if verified is None:
            verified = previous.get("verified")
    return {"v": SNAPSHOT_VERSION, "status": row.status, "reason": row.reason, "verified": verified,
            "answered": bool(row.certificates), "findings": dict(sorted(findings.items())), "certificates": certs,
            "checked_at": _iso(row.checked_at), "report": report_part(row)}


def report_part(row: "Row") -> dict[str, Any]:
    """What the HTML report (``certdoctor report STATE``) shows of the latest row beyond the
    change-detection state: the findings' texts (WARNING and ERROR; notes are not kept), the
    row's error and its thresholds. Not compared by :func:`diff`."""
    kept = []
    for f in row.findings:
        if f.severity.rank == 0:
            continue
        kept.append({k: (getattr(v, "value", v)) for k in _FINDING_KEYS for v in (getattr(f, k, None),)})
    return {"findings": kept, "error": row.error, "warn_days": row.warn_days, "crit_days": row.crit_days,
            "days_left": row.days_left}


def _rank(severity: str) -> int:
    return {"info": 0, "warning": 1, "error": 2}.get(severity, 0)


def _short(fp: str | None) -> str:
    return (fp or "")[:16]


def state_of(snap: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The part of a snapshot a webhook event shows as ``old``/``new`` state."""
    if snap is None:
        return None
    certs = snap.get("certificates") or []
    leaf = certs[0] if certs else None
    return {"status": snap.get("status"), "reason": snap.get("reason"), "verified": snap.get("verified"),
            "findings": sorted(snap.get("findings") or {}),
            "leaf": None if leaf is None else {k: leaf.get(k) for k in (
                "fingerprint_sha256", "serial", "subject", "issuer", "not_after", "spki_pin")},
            "checked_at": snap.get("checked_at")}


def transitions(previous: Mapping[str, Any] | None, row: "Row") -> list[Transition]:
    """What changed from ``previous`` (a :func:`snapshot`, ``None`` the first time) to ``row``."""
    new = snapshot(row, previous)
    return diff(previous, new, row.target, {f.code.value: f for f in row.findings})


def diff(previous: Mapping[str, Any] | None, new: Mapping[str, Any], target: str,
         findings: Mapping[str, Any] | None = None) -> list[Transition]:
    """:func:`transitions` on two snapshots (``findings``: the new row's findings by code, for
    the wording of ``finding_added``)."""
    out: list[Transition] = []
    if previous is None:
        return [Transition(NEW_TARGET, target, None, new["status"], f"first seen: {new['status']}"
                           + (f" ({new['reason']})" if new.get("reason") else ""))]
    if previous.get("status") != new["status"]:
        out.append(Transition(STATUS_CHANGED, target, previous.get("status"), new["status"],
                              f"{previous.get('status')} -> {new['status']}"
                              + (f" ({new['reason']})" if new.get("reason") else "")))
    old_v, new_v = previous.get("verified"), new.get("verified")
    if old_v is True and new_v is False:
        out.append(Transition(VERIFICATION_FAILED, target, True, False,
                              f"the chain no longer verifies ({new.get('reason') or 'see the findings'})"))
    elif old_v is False and new_v is True:
        out.append(Transition(VERIFICATION_RESTORED, target, False, True, "the chain verifies again"))
    old_c, new_c = list(previous.get("certificates") or []), list(new.get("certificates") or [])
    if old_c and new_c:
        a, b = old_c[0], new_c[0]
        if a.get("fingerprint_sha256") != b.get("fingerprint_sha256"):
            same_key = a.get("spki_pin") == b.get("spki_pin")
            kind = LEAF_RENEWED if same_key else LEAF_REKEYED
            out.append(Transition(kind, target, a.get("fingerprint_sha256"), b.get("fingerprint_sha256"),
                                  f"new leaf {'(same key)' if same_key else '(new key)'}: serial {a.get('serial')} "
                                  f"-> {b.get('serial')}, notAfter {a.get('not_after')} -> {b.get('not_after')}"))
            if a.get("issuer") != b.get("issuer"):
                out.append(Transition(ISSUER_CHANGED, target, a.get("issuer"), b.get("issuer"),
                                      f"issuer {a.get('issuer')} -> {b.get('issuer')}"))
        old_rest = [c.get("fingerprint_sha256") for c in old_c[1:]]
        new_rest = [c.get("fingerprint_sha256") for c in new_c[1:]]
        if old_rest != new_rest:
            out.append(Transition(CHAIN_CHANGED, target, ",".join(map(_short, old_rest)) or None,
                                  ",".join(map(_short, new_rest)) or None,
                                  f"certificates after the leaf: {len(old_rest)} -> {len(new_rest)}, "
                                  f"{len(set(new_rest) - set(old_rest))} new"))
    old_f, new_f = dict(previous.get("findings") or {}), dict(new.get("findings") or {})
    for code in sorted(set(new_f) - set(old_f)):
        f = (findings or {}).get(code)
        out.append(Transition(FINDING_ADDED, target, None, code,
                              f"{code} ({new_f[code]})" + (f": {f.summary}" if f is not None else "")))
    for code in sorted(set(old_f) - set(new_f)):
        out.append(Transition(FINDING_CLEARED, target, code, None, f"{code} cleared"))
    return out


__all__ = ["Transition", "KINDS", "LEAF_KINDS", "identity", "snapshot", "state_of", "transitions", "diff",
           *(k.upper() for k in KINDS)]
