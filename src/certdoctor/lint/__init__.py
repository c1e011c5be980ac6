"""Finds disabled or weakened TLS verification in Python code."""

from certdoctor._lazy import exporter

_EXPORTS = {"lint_paths": "scan", "lint_source": "scan", "LintCode": "scan", "LintFinding": "scan", "sarif": "scan"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
