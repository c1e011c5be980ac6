"""``certdoctor lint PATH...``: find disabled or weakened TLS verification in Python code.

Exit 0 when nothing is found, 1 when something is, 2 on bad usage (a path that does not exist,
an unknown code). Files that cannot be read or parsed are notes, not failures.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import Exit, console, emit_json, json_option


def _codes(values: tuple[str, ...], option: str):
    from certdoctor.errors import UsageError
    from certdoctor.lint.scan import LintCode

    out = []
    for value in values:
        for name in value.replace(",", " ").split():
            try:
                out.append(LintCode(name.strip().upper()))
            except ValueError:
                known = ", ".join(c.value for c in LintCode)
                raise UsageError(f"unknown code for {option}: {name}",
                                 hint=f"known codes: {known}") from None
    return out


@click.command("lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["human", "json", "sarif"]), default=None,
              help="Output format (default human; --json is --format json).")
@json_option
@click.option("--select", multiple=True, metavar="CODES",
              help="Report only these codes (comma-separated, repeatable).")
@click.option("--ignore", multiple=True, metavar="CODES",
              help="Never report these codes (comma-separated, repeatable).")
@click.option("--exclude", multiple=True, metavar="DIRNAME",
              help="Also skip directories with this name (.venv, .git, node_modules and "
                   "__pycache__ always are).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes for large trees (default: CPU count).")
def command(paths: tuple[str, ...], fmt: str | None, as_json: bool, select: tuple[str, ...],
            ignore: tuple[str, ...], exclude: tuple[str, ...], jobs: int | None) -> int:
    """Find disabled or weakened TLS verification in Python code.

    Scans files and directories (recursively, *.py) for verify=False and its relatives:
    session.verify = False, CERT_NONE, check_hostname = False, unverified contexts,
    silenced InsecureRequestWarning, PYTHONHTTPSVERIFY=0, fake pinning adapters and more,
    each with the certdoctor fix. Silence one line with  # certdoctor: ignore[CODE].

    Exit status: 0 nothing found, 1 something found, 2 bad usage (unreadable or unparsable
    files are notes and do not change it).
    """
    from certdoctor.errors import UsageError
    from certdoctor.lint.scan import DEFAULT_EXCLUDES, lint_paths
    from certdoctor.render.sarif import sarif

    if as_json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} contradict each other",
                         hint="use one of them")
    fmt = "json" if as_json else (fmt or "human")
    report = lint_paths(
        paths, jobs=jobs, exclude=DEFAULT_EXCLUDES | set(exclude),
        select=_codes(select, "--select") if select else None,
        ignore=_codes(ignore, "--ignore"),
    )
    if fmt == "json":
        emit_json({
            "files_scanned": report.files_scanned,
            "counts": report.counts(),
            "suppressed": report.suppressed,
            "findings": report.findings,
            "notes": report.notes,
        })
    elif fmt == "sarif":
        import json

        click.echo(json.dumps(sarif(report), indent=2))
    else:
        _render(report)
    return Exit.PROBLEM if report.findings else Exit.OK


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _render(report) -> None:
    from rich.markup import escape
    from rich.padding import Padding
    from rich.text import Text

    from certdoctor.lint.scan import RULES

    out = console()
    by_file: dict[str, list] = {}
    for f in report.findings:
        by_file.setdefault(f.location.path, []).append(f)
    for path, findings in by_file.items():
        out.print(Text(path, style="bold"))
        width = max(len(f"{f.location.line}:{f.location.column}") for f in findings)
        for f in findings:
            sev = f.severity.value
            where = f"{f.location.line}:{f.location.column}"
            out.print(Text.assemble(f"  {where:>{width}}  ", (sev, _STYLE[sev]),
                                    "  ", (f.code.value, "bold")))
            out.print(Padding(Text(f.summary), (0, 0, 0, width + 4), expand=False))
            if f.location.snippet:
                out.print(Padding(Text("│ " + f.location.snippet, style="dim"), (0, 0, 0, width + 4),
                                  expand=False))
        out.print()
    for note in report.notes:
        out.print(Text(f"note: {note.path}: {note.message}", style="dim"))
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
    if n:
        out.print(f"[bold]{n} finding{'s' * (n != 1)}[/bold] ({parts}) in {len(by_file)} of "
                  f"{files}{extra}.")
    else:
        out.print(f"[green]No disabled or weakened TLS verification[/green] in {files}{extra}.")
