"""``certdoctor report STATE --html FILE``: the HTML report of a monitor state file: the latest
result of every target it holds and their recent changes (docs/REPORT.md). Nothing is probed:
the page is drawn from what the last runs recorded.

``--json`` prints the same content as the house envelope instead (or besides a ``--html FILE``):
``targets`` (the latest snapshot of each) and ``changes`` (newest first), docs/JSON.md.

Exit codes: 0 the report was written; 2 bad usage or input (STATE missing, not a state file of
certdoctor's, written by a newer certdoctor; FILE in a directory that does not exist), with one
``error:`` and one ``hint:`` line.
"""

from __future__ import annotations

import click

from certdoctor.cli.options import json_option

HTML_HELP = "Write the self-contained HTML report to FILE (atomically; '-': standard output)."


def check_html(path: str, what: str = "--html") -> None:
    """A bad ``--html`` path fails before any work (its directory must exist)."""
    from certdoctor.fsutil import is_stdout, resolve_output

    if not is_stdout(path):
        resolve_output(path, what)


def write_html(path: str, page: bytes, what: str = "--html") -> None:
    """``page`` to ``path`` with :func:`certdoctor.fsutil.write_atomic` (0644; ``-``: stdout)."""
    from certdoctor.fsutil import write_atomic

    write_atomic(path, page, 0o644, parents=False, what=what)


@click.command("report")
@click.argument("state", metavar="STATE")
@click.option("--html", "html", default=None, metavar="FILE", help=HTML_HELP)
@click.option("--title", default="certdoctor report", show_default=True, help="The page's title.")
@json_option
def command(state: str, html: str | None, title: str, as_json: bool) -> int:
    """Write the HTML report of a monitor STATE file (certdoctor monitor --state FILE).

    The latest row of every target in STATE, the expiry timeline of their certificates, each
    chain drawn with where it broke, and the recent changes. Exit 0 written, 2 bad input.
    """
    from certdoctor.errors import UsageError
    from certdoctor.fsutil import is_stdout
    from certdoctor.monitor.state import State
    from certdoctor.render import html as render
    from certdoctor.render.text import safe

    if html is None and not as_json:
        raise UsageError("nothing to write", "Give --html FILE (the page; '-': standard output) and/or --json.")
    if html is not None and as_json and is_stdout(html):
        raise UsageError("--html - and --json both write standard output", "Give --html a file name.")
    if html is not None:
        check_html(html)
    with State.read(state) as st:
        latest = st.latest()
        recent = st.recent()
    targets = [render.from_snapshot(e["target"], e["kind"], e["snapshot"]) for e in latest]
    changes = render.changes_from_history(recent)
    if html is not None:
        write_html(html, render.render_bytes(targets, changes, title=title, source=str(state)))
    if as_json:
        from certdoctor.render.json import emit, envelope, make_target

        emit(envelope("report", target=make_target(str(state), "file", path=str(state)), exit_code=0,
                      state={"path": str(state)},
                      targets=[{k: e[k] for k in ("target", "kind", "status", "checked_at", "leaf_changed_at",
                                                  "snapshot")} for e in latest],
                      changes=[{k: e[k] for k in ("target", "checked_at", "kind", "old", "new", "detail")}
                               for e in recent]))
    if html is not None and not is_stdout(html):
        click.echo(f"wrote {safe(html)}: {len(targets)} target(s), {len(changes)} recent change(s)", err=True)
    return 0
