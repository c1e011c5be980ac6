"""``certdoctor renew`` output: one line per certificate (text), one ``error:``/``hint:`` pair on
stderr per certificate that failed, or the JSON envelope (docs/JSON.md, ``renew``). ``--check``
starts with a Nagios/Icinga line (``RENEW WARNING - web: due …``)."""

from __future__ import annotations

from typing import Any

from certdoctor.render.json import envelope, make_target
from certdoctor.render.text import echo, safe

_WORDS = {"renewed": "renewed", "not_due": "not due", "deferred": "deferred", "failed": "FAILED",
          "rolled_back": "FAILED (rolled back)", "not_served": "FAILED (installed, not served)", "checked": ""}


def _when(t) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%SZ") if t is not None else "-"


def _decision(d) -> str:
    if d is None:
        return ""
    if d.due:
        return f"due ({d.source}): {d.reason}"
    return f"next {_when(d.at)} ({d.source}): {d.reason}"


def cert_line(r) -> str:
    """One certificate's line (no ``error:``: those go to stderr)."""
    parts = [f"{safe(r.name)}: {_WORDS.get(r.action, r.action) or r.status.upper()}"]
    if r.action == "renewed":
        parts.append(f"sha256 {r.old_fingerprint or '(none)'} -> {r.new_fingerprint}")
        if r.served:
            parts.append("served by " + ", ".join(safe(s.endpoint) for s in r.served))
        if r.not_after is not None:
            parts.append(f"notAfter {_when(r.not_after)}")
    elif r.decision is not None:
        parts.append(safe(_decision(r.decision)))
    if r.ari is not None and getattr(r.ari, "explanation_url", None):
        parts.append(f"explanation: {safe(r.ari.explanation_url)}")
    return "; ".join(parts)


def nagios_line(report) -> str:
    word = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}[report.exit_code]
    bits = []
    for r in report.results:
        if r.decision is not None and not r.decision.due and r.status == "ok":
            bits.append(f"{r.name} next {_when(r.decision.at)}")
        else:
            f = next(iter(r.findings), None)
            bits.append(f"{r.name} {r.status}" + (f": {f.summary}" if f is not None else ""))
    return safe(f"RENEW {word} - " + "; ".join(bits))


def render_renew(report) -> None:
    if report.check:
        echo(nagios_line(report))
    for r in report.results:
        echo(cert_line(r))
        for f in r.findings:
            if f.severity.value == "error" and not report.check:
                continue  # on stderr below
            echo(f"  {f.severity.value}: {safe(f.summary)}")
        if report.check and r.last_attempt is not None and not r.last_attempt.failed:
            echo(f"  last attempt: {r.last_attempt.outcome} at {_when(r.last_attempt.started)}")
    if not report.check:
        for r in report.results:
            err = r.error
            if err is not None:
                echo(f"error: {safe(r.name)}: {safe(' '.join(err.summary.split()))}", err=True)
                echo(f"hint: {safe(' '.join((err.fix or 'see docs/RENEW.md').split()))}", err=True)


def _decision_json(d) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"due": d.due, "at": d.at, "source": d.source, "reason": d.reason,
            "explanation_url": d.explanation_url, "next_check": d.next_check}


def result_json(r) -> dict[str, Any]:
    return {"name": r.name, "action": r.action, "status": r.status, "decision": _decision_json(r.decision),
            "old_fingerprint": r.old_fingerprint, "new_fingerprint": r.new_fingerprint, "not_after": r.not_after,
            "error_kind": r.error_kind,
            "ari": None if r.ari is None else {"start": r.ari.start, "end": r.ari.end,
                                               "explanation_url": r.ari.explanation_url,
                                               "retry_after": r.ari.retry_after},
            "last_attempt": r.last_attempt.as_json() if r.last_attempt is not None else None,
            "served": [s.as_json() for s in r.served]}


def renew_json(report) -> dict[str, Any]:
    findings = [f for r in report.results for f in r.findings]
    return envelope("renew", target=make_target(report.config, "file", path=report.config),
                    exit_code=report.exit_code, findings=findings, check=report.check, state=report.state,
                    results=[result_json(r) for r in report.results])


__all__ = ["render_renew", "renew_json", "result_json", "cert_line", "nagios_line"]
