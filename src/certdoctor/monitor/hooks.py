"""What a run does with each row besides yielding it: the ``cert_file`` comparison
(:mod:`certdoctor.monitor.deploy`), the state file (:mod:`certdoctor.monitor.state`: the row's
``transitions``) and the webhooks (:mod:`certdoctor.monitor.alerts`). Used by
:func:`certdoctor.monitor.run.run_monitor`; never raises for one row (a state or webhook
failure is in the :class:`RunReport`, the row is still yielded).

Rows are matched to their target specs by ``(kind, target, origin)`` — a row's ``target`` is its
spec's ``input`` and its ``origin`` the spec's — while at most ``concurrency`` specs are in
flight, so memory still follows the concurrency.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.alerts import Alerts, WebhookError
    from certdoctor.monitor.config import TargetSpec
    from certdoctor.monitor.result import Row
    from certdoctor.monitor.state import State


@dataclass
class RunReport:
    """What a run reports besides its rows (the CLI's summary, ``--json``'s ``state`` and
    ``webhook_errors``): filled while the run goes, complete once it ended."""

    state_path: str | None = None
    run_id: int | None = None
    transitions: int = 0
    targets: int = 0
    webhooks_sent: int = 0
    webhook_errors: list["WebhookError"] = field(default_factory=list)
    state_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.state_path, "run": self.run_id, "transitions": self.transitions,
                "errors": list(self.state_errors)}


def _parse(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class Hooks:
    def __init__(self, state: "State | None", webhooks: tuple[str, ...], report: RunReport,
                 drain: float | None = None) -> None:
        self.state = state
        self.webhooks = webhooks
        self.report = report
        self.drain = drain
        self._specs: dict[tuple[str, str, str], list["TargetSpec"]] = {}
        self._alerts: "Alerts | None" = None
        self._run: int | None = None
        if state is not None:
            report.state_path = str(state.path)
            try:
                self._run = state.begin_run()
            except sqlite3.Error as exc:
                report.state_errors.append(f"the run could not be recorded: {exc}")
            report.run_id = self._run

    def track(self, targets: "Iterable[TargetSpec]") -> "Iterator[TargetSpec]":
        """The specs, expanded, remembered until their row comes back."""
        from certdoctor.monitor.config import expand_all

        for spec in expand_all(targets):
            self._specs.setdefault((spec.kind, spec.input, spec.origin), []).append(spec)
            yield spec

    def _spec_of(self, row: "Row") -> "TargetSpec | None":
        key = (row.kind, row.target, row.origin)
        specs = self._specs.get(key)
        if not specs:
            return None
        spec = specs.pop(0)
        if not specs:
            del self._specs[key]
        return spec

    def after(self, row: "Row") -> "Row":
        from certdoctor.monitor import changes as C

        self.report.targets += 1
        spec = self._spec_of(row)
        if spec is None:
            return row
        if spec.cert_file:
            from certdoctor.monitor.deploy import check_deployed

            row = check_deployed(spec, row)
        if self.state is None or spec.error:
            return row
        key = C.identity(spec.kind, spec.input, spec.servername, spec.address)
        try:
            done = self.state.record(key, row, self._run)
        except sqlite3.Error as exc:
            self.report.state_errors.append(f"{row.target}: the state was not updated: {exc}")
            return row
        row = replace(row, transitions=tuple(done.transitions), leaf_changed_at=_parse(done.leaf_changed_at))
        self.report.transitions += len(done.transitions)
        urls = tuple(dict.fromkeys((*self.webhooks, *spec.webhooks)))
        if urls and done.transitions:
            self._send(urls, row, done)
        return row

    def _send(self, urls: tuple[str, ...], row: "Row", done) -> None:
        from certdoctor.monitor import changes as C
        from certdoctor.monitor.alerts import Alerts, event

        if self._alerts is None:
            self._alerts = Alerts()
        for t in done.transitions:
            if t.kind == C.NEW_TARGET and row.status == "ok":
                continue  # a new target that is fine is no news
            self._alerts.submit(urls, event(row, t, done.previous, done.snapshot))

    def close(self) -> None:
        if self._alerts is not None:
            self.report.webhook_errors = self._alerts.close(self.drain)
            self.report.webhooks_sent = self._alerts.sent
        if self.state is not None and self._run is not None:
            try:
                self.state.finish_run(self._run, targets=self.report.targets, transitions=self.report.transitions)
            except sqlite3.Error as exc:
                self.report.state_errors.append(f"the end of the run could not be recorded: {exc}")


__all__ = ["Hooks", "RunReport"]
