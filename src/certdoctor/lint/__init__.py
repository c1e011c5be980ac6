"""Finds disabled or weakened TLS verification in Python code (SARIF output: :mod:`certdoctor.render.sarif`)."""

from certdoctor._lazy import exporter

_EXPORTS = {"lint_paths": "scan", "lint_source": "scan", "LintCode": "scan", "LintFinding": "scan"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
