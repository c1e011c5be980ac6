"""Renderers of ``certdoctor monitor`` rows: the rich table (with a progress bar on a terminal),
the JSON document (the house envelope, ``rows``) and JSON Lines (one row per line, as they come);
``--nagios`` (:class:`Nagios`: one plugin line with perfdata) and ``--textfile`` (:func:`textfile`:
the exporter's metrics in the text format for node_exporter's textfile collector).

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


# --------------------------------------------------------------------------- --nagios

NAGIOS_WORDS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
#: the statuses counted in the summary, in this order (``error`` only when there is one)
NAGIOS_COUNTED = ("critical", "warning", "unknown", "ok")


def _nagios_text(text: str) -> str:
    """Plugin output text: one printable line without ``|`` (Nagios cuts the perfdata there)."""
    from certdoctor.render.text import safe

    return safe(text).replace("|", "%7C")


def perf_label(target: str) -> str:
    """``'TARGET_days'``: quoted (a label may hold blanks), ``'`` doubled, ``=`` and ``|`` replaced
    (the monitoring-plugins guidelines forbid ``=`` in a label; ``|`` would split the output)."""
    return "'" + _nagios_text(f"{target}_days").replace("=", "_").replace("'", "''") + "'"


class Nagios:
    """The ``--nagios`` line, built a row at a time (only what the line needs is kept)::

        CERTDOCTOR CRITICAL - 3 targets: 1 critical, 1 warning, 0 unknown, 1 ok; critical: a:443 (EXPIRED); \
        warning: b:443 (EXPIRING_SOON) | 'a:443_days'=-3;30:;7:;; 'b:443_days'=12;30:;7:;; 'c:443_days'=80;30:;7:;;

    Perfdata per the Nagios plugin guidelines: ``'label'=value[UOM];[warn];[crit];[min];[max]``,
    the value the whole days left on the verified path (negative once expired; ``U`` without a
    certificate), the thresholds as ranges ``W:``/``C:`` (alert when below), soonest first. The
    non-ok targets are named, :data:`~certdoctor.policy.NAGIOS_NAMES_PER_STATUS` per status, worst
    first. The exit code is the run's (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    """

    def __init__(self) -> None:
        self._rows: list[tuple[str, str, str | None, int | None, int, int]] = []

    def add(self, row: "Row") -> None:
        self._rows.append((row.target, row.status, row.reason, row.days_left, row.warn_days, row.crit_days))

    def line(self, exit_code: int) -> str:
        from certdoctor import policy

        c = counts(status for _, status, *_ in self._rows)
        shown = [s for s in NAGIOS_COUNTED] + (["error"] if c.get("error") else [])
        n = len(self._rows)
        text = f"CERTDOCTOR {NAGIOS_WORDS.get(exit_code, 'UNKNOWN')} - {n} target{'s' if n != 1 else ''}: " + \
            ", ".join(f"{c.get(s, 0)} {s}" for s in shown)
        limit = policy.NAGIOS_NAMES_PER_STATUS
        for status in ("critical", "error", "unknown", "warning"):
            named = sorted((r for r in self._rows if r[1] == status), key=lambda r: (r[3] is None, r[3] or 0, r[0]))
            if not named:
                continue
            parts = [_nagios_text(t) + (f" ({_nagios_text(reason)})" if reason else "")
                     for t, _, reason, *_ in named[:limit]]
            more = f", +{len(named) - limit} more" if len(named) > limit else ""
            text += f"; {status}: " + ", ".join(parts) + more
        perf = []
        for target, _, _, days, warn, crit in sorted(self._rows, key=lambda r: (r[3] is None, r[3] or 0, r[0])):
            perf.append(f"{perf_label(target)}={'U' if days is None else days};{warn}:;{crit}:;;")
        return text + (" | " + " ".join(perf) if perf else "")


def nagios_unknown(message: str) -> str:
    """The plugin line of a run that could not start (bad usage or input): UNKNOWN, exit 3."""
    return f"CERTDOCTOR UNKNOWN - {_nagios_text(' '.join(str(message).split()))}"


# --------------------------------------------------------------------------- --textfile

def textfile(fams) -> bytes:
    """The text format (0.0.4) of metric families (:mod:`certdoctor.monitor.metrics`), what
    ``prometheus_client.write_to_textfile`` writes; the CLI writes it with ``fsutil.write_atomic``."""
    from certdoctor.monitor.metrics import text

    return text(fams)


__all__ = ["jsonl", "monitor_json", "report_lines", "table", "render_table", "summary_line", "counts", "Progress", "Nagios",
           "perf_label", "nagios_unknown", "textfile"]
