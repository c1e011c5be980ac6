"""``certdoctor lint PATH...``: find disabled or weakened TLS verification in Python code.

Exit 0 when nothing is found, 1 when something is, 2 on bad usage (a path that does not exist,
an unknown code). Files that cannot be read or parsed are notes, not failures.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import Exit
from certdoctor import policy
from certdoctor.cli.options import count, json_option

#: what ``lint`` reads
KINDS = ("file", "directory", "stdin")


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
@click.option("--jobs", "-j", type=count(policy.MAX_CONCURRENCY), default=None,
              help="Worker processes for large trees (default: CPU count).")
def command(paths: tuple[str, ...], fmt: str | None, as_json: bool, select: tuple[str, ...],
            ignore: tuple[str, ...], exclude: tuple[str, ...], jobs: int | None) -> int:
    """Find disabled or weakened TLS verification in Python code.

    Scans files and directories (recursively, *.py; - is standard input) for verify=False and its relatives:
    session.verify = False, CERT_NONE, check_hostname = False, unverified contexts,
    silenced InsecureRequestWarning, PYTHONHTTPSVERIFY=0, fake pinning adapters and more,
    each with the certdoctor fix. Silence one line with  # certdoctor: ignore[CODE].

    Exit status: 0 nothing found, 1 something found, 2 bad usage (unreadable or unparsable
    files are notes and do not change it).
    """
    from certdoctor.cli.common import classify
    from certdoctor.errors import UsageError
    from certdoctor.lint.scan import DEFAULT_EXCLUDES, lint_paths

    if as_json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} contradict each other",
                         hint="use one of them")
    fmt = "json" if as_json else (fmt or "human")
    files = [p for p in paths if p != "-"]
    sources = [classify(p, KINDS) for p in paths]  # before scanning anything: a missing path is bad usage
    stdin = None
    if "-" in paths:  # standard input is one more source file, named "-"
        from certdoctor.x509.load import read_stdin

        stdin = read_stdin("lint -")  # classify() above claimed it: a second - is already bad usage
    report = lint_paths(
        files, jobs=jobs, exclude=DEFAULT_EXCLUDES | set(exclude),
        select=_codes(select, "--select") if select else None,
        ignore=_codes(ignore, "--ignore"), stdin=stdin,
    )
    if fmt == "json":
        from certdoctor.render.json import emit, target_json
        from certdoctor.render.lint import lint_json

        emit(lint_json(report, target_json(sources), paths))
    elif fmt == "sarif":
        from certdoctor.render.json import dumps
        from certdoctor.render.sarif import sarif

        click.echo(dumps(sarif(report)))
    else:
        from certdoctor.cli.common import console
        from certdoctor.render.lint import render_lint

        render_lint(report, console())
    return Exit.PROBLEM if report.findings else Exit.OK
