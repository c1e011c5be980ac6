"""Every output format lives here: results in, text/JSON (and later HTML, SARIF, Nagios,
Prometheus) out. Nothing here gathers or judges."""

from certdoctor._lazy import exporter

_EXPORTS = {"render_diagnosis": "diagnose", "diagnosis_json": "diagnose", "render_inspection": "inspect", "inspection_json": "inspect"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
