"""Running every check on one piece of evidence, in report order (see :mod:`certdoctor.checks`)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from certdoctor.model import ChainInfo, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.evidence import Evidence
    from certdoctor.x509.path import PathResult

#: the certificate checks, in the order their findings are reported
ORDER = ("presentation", "validity", "hostname", "crypto", "trust", "strict", "x509rules", "pins", "revocation")


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the checks make of one piece of evidence at ``now``.

    ``findings`` are in report order, reconciled with the real client (not yet de-duplicated,
    commands not yet filled in: :func:`certdoctor.diagnose.judge` does that). ``verifies`` is
    the real client's verdict (``None`` when it was not run).
    """

    chain: ChainInfo | None
    path: "PathResult | None"
    findings: tuple[Finding, ...]
    verifies: bool | None
    now: _dt.datetime


def judge(evidence: "Evidence", now: _dt.datetime | None = None) -> Judgement:
    """Every check on ``evidence`` at ``now`` (default: the clock of the gathering)."""
    from certdoctor.checks import (
        crypto, hostname, pins, presentation, reconcile, revocation, strict, trust, validity, x509rules,
    )
    from certdoctor.checks.context import derive

    modules = {"presentation": presentation, "validity": validity, "hostname": hostname, "crypto": crypto,
               "trust": trust, "strict": strict, "pins": pins, "revocation": revocation,
               "x509rules": x509rules}
    ctx = derive(evidence, now)
    findings: list[Finding] = list(evidence.trust.description.findings)
    if evidence.probe.failure is not None:
        findings.append(evidence.probe.failure)
    if ctx.invalid is not None:
        findings.append(ctx.invalid)
    if ctx.chain is not None and ctx.path is not None:
        for name in ORDER:
            if name == "revocation" and not evidence.options.revocation:
                continue
            findings.extend(modules[name].check(ctx))
    verifies: bool | None = None
    outcome = evidence.outcome
    if outcome is not None and outcome.ok:
        findings = _quiet_variables(findings)
    if outcome is not None and outcome.not_run:
        verifies = None  # deliberately not run (the server failed --pin): no verdict to reconcile
    elif outcome is not None:
        verifies = outcome.ok
        # the client ran on the clock of the gathering: another clock may explain a disagreement
        pinned = evidence.options.clock_pinned or ctx.now != evidence.now
        findings = reconcile.reconcile(findings, outcome, ctx.now, pinned,
                                       ctx.path.rfc5280_error if ctx.path is not None else None)
    elif evidence.probe.failure is not None:
        verifies = False  # nothing to hand to the client: the connection itself failed
    findings = _after_unusable_store(findings)
    return Judgement(ctx.chain, ctx.path, tuple(findings), verifies, ctx.now)


def run(evidence: "Evidence", now: _dt.datetime | None = None) -> tuple[Finding, ...]:
    """The findings of :func:`judge`, each once."""
    return tuple(dedupe(judge(evidence, now).findings))


#: chain findings that only say "the path does not reach your store": after the store itself was
#: found unusable (a DER file, a key, a missing path …) they repeat that finding, and are left out
_STORE_DEPENDENT = (Code.UNTRUSTED_ROOT, Code.CERTIFI_OUTDATED)


def _after_unusable_store(findings: list[Finding]) -> list[Finding]:
    """A store that cannot load is reported once: no UNTRUSTED_ROOT after "your bundle is DER"."""
    from certdoctor.trust.effective import STORE_UNUSABLE_RULES

    store = next((f for f in findings if f.code is Code.CA_BUNDLE_ENV and f.severity is Severity.ERROR
                  and f.rule in STORE_UNUSABLE_RULES), None)
    if store is None:
        return findings
    dropped = [f for f in findings if f.code in _STORE_DEPENDENT]
    # what the real client said (reconcile put it on the first error) goes with the store finding
    said = tuple(e for f in dropped for e in f.evidence if " says: " in e and e not in store.evidence)
    return [replace(f, evidence=f.evidence + said) if f is store else f
            for f in findings if f.code not in _STORE_DEPENDENT]


def _quiet_variables(findings: list[Finding]) -> list[Finding]:
    """The client verified: a variable that changed its store did not break it here, so what was a
    warning about it (it replaces certifi, it is ignored) is a note (INFO), said once."""
    return [replace(f, severity=Severity.INFO) if f.code is Code.CA_BUNDLE_ENV and f.severity is Severity.WARNING
            else f for f in findings]


def order_key(f: Finding) -> tuple[int, int, int]:
    """Report order: severity (errors first), then chain position (leaf first; ``None`` — the
    connection, the environment, the chain as a whole — last)."""
    return (-f.severity.rank, f.cert_index is None, f.cert_index or 0)


def dedupe(findings) -> list[Finding]:
    """Each (code, summary, certificate) once, first occurrence kept, in report order
    (:func:`order_key`; equal keys keep the order the checks produced them in)."""
    seen = set()
    out = []
    for f in findings:
        key = (f.code, f.summary, f.cert_index)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return sorted(out, key=order_key)


__all__ = ["run", "judge", "Judgement", "dedupe", "order_key", "ORDER"]
