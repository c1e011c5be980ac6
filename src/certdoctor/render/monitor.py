"""Renderers of ``certdoctor monitor`` rows: the rich table (with a progress bar on a terminal),
the JSON document (the house envelope, ``rows``) and JSON Lines (one row per line, as they come).

Every server- or user-supplied string in the table (target, reason text, error, subject) goes
through :func:`certdoctor.render.text.markup` (``safe`` + rich escaping); JSON carries the exact
data (docs/JSON.md). The renderers never gather or judge: they take
:class:`~certdoctor.monitor.result.Row` values.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from certdoctor.render.text import markup

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from certdoctor.monitor.result import Row

STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "unknown": "magenta", "error": "bold magenta"}
ORDER = {"critical": 0, "error": 1, "unknown": 2, "warning": 3, "ok": 4}


def jsonl(row: "Row") -> str:
    """One row as one line of JSON (no newline inside: ``json.dumps`` escapes control characters)."""
    return json.dumps(row.to_json(), separators=(",", ":"), ensure_ascii=False)


def counts(statuses: Iterable[str]) -> dict[str, int]:
    from certdoctor.monitor.result import STATUSES

    out = {s: 0 for s in STATUSES}
    for s in statuses:
        out[s] += 1
    return out


def monitor_json(rows: Sequence[dict[str, Any]], exit_code: int, report=None) -> dict[str, Any]:
    """The one ``--json`` document: the envelope (``target`` kind ``several``, no top-level
    findings or certificates: each row has its own), ``rows`` (the row objects, completion order),
    ``summary`` (targets, and the count of each status), ``state`` (the state file, run and
    transitions; null without state) and ``webhook_errors`` (events not delivered, redacted)."""
    from certdoctor.render.json import envelope, make_target

    summary = {"targets": len(rows), **counts(r["status"] for r in rows)}
    extra: dict[str, Any] = {
        "state": report.to_json() if report is not None and report.state_path is not None else None,
        "webhook_errors": [e.to_json() for e in report.webhook_errors] if report is not None else []}
    return envelope("monitor", target=make_target(None, "several"), exit_code=exit_code, rows=list(rows),
                    summary=summary, **extra)


def report_lines(report) -> list[str]:
    """One line per webhook event not delivered and per state failure (URLs already redacted)."""
    if report is None:
        return []
    lines = [f"webhook {e.webhook}: {e.kind} of {e.target} not delivered ({e.tries} tries): {e.error}"
             for e in report.webhook_errors]
    return lines + [f"state {report.state_path}: {e}" for e in report.state_errors]


def _changed(row: "Row") -> str:
    return ", ".join(dict.fromkeys("new" if t.kind == "new_target" else t.kind for t in row.transitions))


def _days(row: "Row") -> str:
    return "" if row.days_left is None else str(row.days_left)


def _detail(row: "Row") -> str:
    if row.error:
        return row.error
    first = next((f for f in sorted(row.findings, key=lambda f: -f.severity.rank) if f.severity.rank > 0), None)
    return first.summary if first is not None else ""


def table(rows: Sequence["Row"]):
    """A rich ``Table`` of ``rows``: worst first, then by target."""
    from rich.table import Table

    t = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name, kw in (("status", {}), ("target", {"overflow": "fold"}), ("days", {"justify": "right"}),
                     ("not after (UTC)", {}), ("reason", {}), ("changed", {"overflow": "fold"}),
                     ("detail", {"overflow": "fold"})):
        t.add_column(name, **kw)
    for row in sorted(rows, key=lambda r: (ORDER.get(r.status, 9), r.target)):
        style = STYLE.get(row.status, "")
        t.add_row(f"[{style}]{row.status.upper()}[/]", markup(row.target), _days(row),
                  row.not_after.strftime("%Y-%m-%d %H:%M") if row.not_after else "",
                  markup(row.reason or ""), markup(_changed(row)), markup(_detail(row)))
    return t


def summary_line(rows: Sequence["Row"], exit_code: int) -> str:
    c = counts(r.status for r in rows)
    parts = ", ".join(f"{n} {s}" for s, n in c.items() if n)
    return f"{len(rows)} target{'s' if len(rows) != 1 else ''}: {parts or 'none'} (exit {exit_code})"


def render_table(rows: Sequence["Row"], exit_code: int, console: "Console", report=None) -> None:
    console.print(table(rows))
    line = summary_line(rows, exit_code)
    if report is not None and report.state_path is not None:
        line += f"; {report.transitions} transition{'s' if report.transitions != 1 else ''}"
    if report is not None and (report.webhooks_sent or report.webhook_errors):
        line += f"; webhooks: {report.webhooks_sent} sent, {len(report.webhook_errors)} failed"
    console.print(markup(line))


class Progress:
    """A transient rich progress bar (on a terminal only; on a pipe nothing but the results)."""

    def __init__(self, console: "Console", enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None
        self._task = None
        self._console = console

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as _P, TextColumn, TimeElapsedColumn

            self._bar = _P(TextColumn("monitor"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           console=self._console, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("monitor", total=None)
        return self

    def update(self, started: int, finished: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=finished, total=started)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


__all__ = ["jsonl", "monitor_json", "report_lines", "table", "render_table", "summary_line", "counts", "Progress"]
