"""Renderers for a :class:`~certdoctor.revocation.check.RevocationResult`: the JSON document and
rich text (the status, each CRL/OCSP attempt, the evidence and the finding)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from certdoctor.model import Finding
    from certdoctor.revocation.check import RevocationResult

STYLE = {"GOOD": "green", "REVOKED": "bold red", "UNKNOWN": "yellow", "ERROR": "red"}


def _all(finding: "Finding | None", findings: "Sequence[Finding] | None") -> list:
    if findings is not None:
        return list(findings)
    return [finding] if finding is not None else []


def revocation_json(result: "RevocationResult", finding: "Finding | None", target: dict[str, Any] | None,
                    certs: Sequence[Any] = (), findings: "Sequence[Finding] | None" = None) -> dict[str, Any]:
    """``certdoctor revocation --json``: the envelope (``certificates``: the checked certificate,
    then its issuer; ``findings``: the verdict's finding, if any, then the ``REVOCATION_STALE``
    warnings — :meth:`RevocationResult.findings`) plus every field of the result and ``finding``
    (the verdict's finding or null, kept from schema 1)."""
    from certdoctor.model import to_jsonable
    from certdoctor.render.json import certificates_of, envelope

    return envelope("revocation", target=target, exit_code=0 if result.ok else 1,
                    findings=_all(finding, findings), certificates=certificates_of(certs),
                    **to_jsonable(result), finding=finding)


def render_revocation(source: str, result: "RevocationResult", finding: "Finding | None",
                      console: "Console", findings: "Sequence[Finding] | None" = None) -> None:
    from certdoctor.render.text import markup as escape  # sanitised (render/text.py), then markup-escaped

    out = console
    status = result.status.value
    head = f"[{STYLE[status]}]{status}[/]  {escape(result.subject)}  serial {escape(result.serial)}"
    if result.method:
        head += f"  (by {escape(result.method)})"
    out.print(head)
    if status == "REVOKED":
        when = f"{result.revocation_date:%Y-%m-%d %H:%M:%S} UTC" if result.revocation_date else "(no date)"
        out.print(f"  revoked {when}, reason {escape(result.reason or 'not given')}")
    out.print(f"  source: {escape(source)}")
    for a in result.attempts:
        where = a.url or ("stapled response" if a.method == "stapled" else "-")
        line = f"  {escape(a.method):<7} [{STYLE[a.status.value]}]{a.status.value:<7}[/] {escape(where)}"
        if a.from_cache:
            line += " (cache)"
        out.print(line)
        if a.error:
            out.print(f"          {escape(a.error)}")
    shown = {f"{a.method}: {a.error}" for a in result.attempts if a.error}
    evidence = [e for e in result.evidence if e not in shown]
    if evidence:
        out.print("  evidence:")
        for e in evidence:
            out.print(f"    - {escape(e)}")
    for f in _all(finding, findings):
        colour = "red" if f.severity.value == "error" else "yellow"
        out.print(f"[{colour}]{f.severity.value}[/] {f.code.value}: {escape(f.summary)}")
        if f.fix:
            out.print(f"  fix: {escape(f.fix)}")


__all__ = ["revocation_json", "render_revocation"]
