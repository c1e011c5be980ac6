"""``certdoctor lint --format sarif``: a :class:`~certdoctor.lint.scan.LintReport` as a SARIF 2.1.0 log
(one run, every rule listed, unreadable files as tool notifications), for code-scanning UIs.

    >>> from certdoctor.render.sarif import sarif
    >>> sarif(report)["runs"][0]["results"][0]["ruleId"]         # doctest: +SKIP
    'VERIFY_FALSE'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from certdoctor.model import Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.lint.scan import LintReport

SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def sarif(report: "LintReport", *, tool_version: str | None = None) -> dict:
    """The report as a SARIF 2.1.0 log (one run; every rule listed; notes as notifications)."""
    from certdoctor.lint.scan import RULES, LintCode

    if tool_version is None:
        from certdoctor import __version__ as tool_version
    codes = list(LintCode)
    index = {c: i for i, c in enumerate(codes)}
    rules = [
        {
            "id": c.value,
            "name": "".join(w.capitalize() for w in c.value.split("_")),
            "shortDescription": {"text": RULES[c].title},
            "fullDescription": {"text": RULES[c].why},
            "help": {"text": RULES[c].fix},
            "defaultConfiguration": {"level": LEVEL[RULES[c].severity]},
        }
        for c in codes
    ]
    results = []
    for f in report.findings:
        loc = f.location
        results.append({
            "ruleId": f.code.value,
            "ruleIndex": index[f.code],
            "level": LEVEL[f.severity],
            "message": {"text": f"{f.summary}. {f.explanation} Fix: {f.fix}"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri(loc.path)},
                    "region": {"startLine": loc.line, "startColumn": loc.column,
                               "snippet": {"text": loc.snippet}},
                }
            }],
        })
    notifications = [
        {"level": "warning", "message": {"text": n.message},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(n.path)}}}]}
        for n in report.notes
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "certdoctor",
                "version": tool_version,
                "informationUri": "https://pypi.org/project/certdoctor/",
                "rules": rules,
            }},
            "invocations": [{"executionSuccessful": True,
                             "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }


def uri(path: str) -> str:
    """A SARIF artifact URI: ``file://`` for an absolute path, else the relative path, %-quoted."""
    from urllib.parse import quote

    p = Path(path)
    if p.is_absolute():
        return p.as_uri()
    return quote(p.as_posix())


__all__ = ["sarif", "uri", "SARIF_SCHEMA"]
