"""The trust store a client really uses here, and why (certifi, env variables, pip, the OS)."""

from certdoctor._lazy import exporter

_EXPORTS = {"effective_trust": "effective", "EffectiveTrust": "effective", "clear_cache": "effective", "CA_VARIABLES": "effective"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
