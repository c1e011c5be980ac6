"""Every output format lives here: results in, text/JSON/SARIF out. Nothing here gathers or judges.

One module per command (``render/<command>.py``: ``<command>_json`` and ``render_<command>``);
the JSON envelope every command's ``--json`` shares is :mod:`certdoctor.render.json`
(docs/JSON.md), lint's SARIF log :mod:`certdoctor.render.sarif`."""

from certdoctor._lazy import exporter

_EXPORTS = {
    "render_diagnosis": "diagnose", "diagnosis_json": "diagnose",
    "render_inspection": "inspect", "inspection_json": "inspect",
    "envelope": "json", "emit": "json",
    "render_fix": "fix", "fix_json": "fix",
    "render_convert": "convert", "convert_json": "convert",
    "render_expiry": "expiry", "expiry_json": "expiry",
    "render_lint": "lint", "lint_json": "lint",
    "sarif": "sarif",
    "render_pin": "pin", "pin_json": "pin",
    "render_revocation": "revocation", "revocation_json": "revocation",
    "render_build": "bundle", "build_json": "bundle", "render_check": "bundle", "check_json": "bundle",
    "list_json": "lab", "serving_json": "lab",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
