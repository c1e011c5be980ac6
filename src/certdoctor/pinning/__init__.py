"""SPKI pinning that really pins: pins and backup keys (``pins``), and transports for
requests and httpx that keep normal verification on and then compare keys (``adapters``).

    >>> from certdoctor.pinning import PinnedAdapter, httpx_client   # doctest: +SKIP
"""

from certdoctor._lazy import exporter

_EXPORTS = {"PinnedAdapter": "adapters", "pinned_session": "adapters", "PinPolicy": "adapters", "RequestsPinMismatch": "adapters", "HTTPXPinMismatch": "adapters", "normalise_origin": "adapters", "PinMismatch": "adapters", "httpx_client": "adapters", "async_httpx_client": "adapters", "parse_pins": "pins", "parse_pin": "pins", "pin_report": "pins", "new_backup_key": "pins", "load_key_pin": "pins"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
