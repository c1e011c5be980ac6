"""Running every check on one piece of evidence, in report order (see :mod:`certdoctor.checks`)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certdoctor.model import ChainInfo, Finding

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
    if outcome is not None:
        verifies = outcome.ok
        # the client ran on the clock of the gathering: another clock may explain a disagreement
        pinned = evidence.options.clock_pinned or ctx.now != evidence.now
        findings = reconcile.reconcile(findings, outcome, ctx.now, pinned,
                                       ctx.path.rfc5280_error if ctx.path is not None else None)
    elif evidence.probe.failure is not None:
        verifies = False  # nothing to hand to the client: the connection itself failed
    return Judgement(ctx.chain, ctx.path, tuple(findings), verifies, ctx.now)


def run(evidence: "Evidence", now: _dt.datetime | None = None) -> tuple[Finding, ...]:
    """The findings of :func:`judge`, each once."""
    return tuple(dedupe(judge(evidence, now).findings))


def dedupe(findings) -> list[Finding]:
    """Each (code, summary, certificate) once, first occurrence kept."""
    seen = set()
    out = []
    for f in findings:
        key = (f.code, f.summary, f.cert_index)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


__all__ = ["run", "judge", "Judgement", "dedupe", "ORDER"]
