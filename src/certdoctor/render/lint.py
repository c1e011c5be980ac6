"""Renderers for a :class:`~certdoctor.lint.scan.LintReport`: the JSON document and rich text
(SARIF is :mod:`certdoctor.render.sarif`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from certdoctor.lint.scan import LintReport

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def lint_json(report: "LintReport", target: dict[str, Any] | None, paths: Sequence[str] = ()) -> dict[str, Any]:
    """``certdoctor lint --json``: the envelope (each finding's ``location`` holds path, line,
    column and the line's text) plus the counts, notes and ``hygiene`` (finding objects, INFO,
    that turn no verification off: not in ``findings``, ``counts`` or the exit status)."""
    from certdoctor.render.json import envelope, findings_json

    return envelope(
        "lint", target=target, exit_code=1 if report.findings else 0, findings=report.findings,
        paths=list(paths),
        files_scanned=report.files_scanned,
        counts=report.counts(),
        suppressed=report.suppressed,
        notes=report.notes,
        hygiene=findings_json(report.hygiene),
    )


def render_lint(report: "LintReport", console: "Console") -> None:
    """Findings grouped by file, the notes, why each code matters with its fix, and a summary."""
    from rich.padding import Padding
    from rich.text import Text

    from certdoctor.lint.scan import RULES
    from certdoctor.render.text import markup as escape, safe  # scanned lines and paths are hostile text

    out = console
    by_file: dict[str, list] = {}
    for f in report.findings:
        by_file.setdefault(f.location.path, []).append(f)
    for path, findings in by_file.items():
        out.print(Text(safe(path), style="bold"))
        width = max(len(f"{f.location.line}:{f.location.column}") for f in findings)
        for f in findings:
            sev = f.severity.value
            where = f"{f.location.line}:{f.location.column}"
            out.print(Text.assemble(f"  {where:>{width}}  ", (sev, STYLE[sev]), "  ", (f.code.value, "bold")))
            out.print(Padding(Text(safe(f.summary)), (0, 0, 0, width + 4), expand=False))
            if f.location.snippet:
                out.print(Padding(Text("│ " + safe(f.location.snippet.expandtabs(4)), style="dim"), (0, 0, 0, width + 4),
                                  expand=False))
            for e in f.evidence:
                out.print(Padding(Text("+ " + safe(e), style="dim"), (0, 0, 0, width + 4), expand=False))
        out.print()
    if report.hygiene:
        out.print(Text("Hygiene (no verification is turned off by these; not counted as findings)",
                       style="bold"))
        for f in report.hygiene:
            where = f"{f.location.path}:{f.location.line}:{f.location.column}"
            out.print(Text.assemble("  ", (safe(where), STYLE["info"]), "  ", (f.code.value, "bold"),
                                    "  ", safe(f.summary)))
        for code in dict.fromkeys(f.code for f in report.hygiene):
            rule = RULES[code]
            out.print(f"    [bold]{code.value}[/bold]: {escape(rule.why)} [green]fix:[/green] "
                      f"{escape(rule.fix)}")
        out.print()
    for note in report.notes:
        out.print(Text(f"note: {safe(note.path)}: {safe(note.message)}", style="dim"))
    if report.notes:
        out.print()
    if report.findings:
        out.print("[bold]Why it matters, and the fix[/bold]")
        for code in dict.fromkeys(f.code for f in report.findings):
            rule = RULES[code]
            out.print(f"  [bold]{code.value}[/bold]: {escape(rule.why)}")
            out.print(f"    [green]fix:[/green] {escape(rule.fix)}")
        out.print()
    n = len(report.findings)
    files = f"{report.files_scanned} file{'s' * (report.files_scanned != 1)}"
    sev: dict[str, int] = {}
    for f in report.findings:
        sev[f.severity.value] = sev.get(f.severity.value, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in sorted(sev.items()))
    extra = f"; {report.suppressed} suppressed" if report.suppressed else ""
    if report.hygiene:
        h = len(report.hygiene)
        extra += f"; {h} hygiene note{'s' * (h != 1)}"
    if n:
        out.print(f"[bold]{n} finding{'s' * (n != 1)}[/bold] ({parts}) in {len(by_file)} of "
                  f"{files}{extra}.")
    else:
        out.print(f"[green]No disabled or weakened TLS verification[/green] in {files}{extra}.")


__all__ = ["lint_json", "render_lint"]
