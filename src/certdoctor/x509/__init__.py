"""Certificates as data: PEM scanning, loading any format, conversion, path building.

No module here opens a socket. ``pem`` finds PEM blocks; ``load`` turns bytes of any format
into certificates; ``convert`` writes them back out in order; ``path`` builds and verifies the
path from a leaf to a trust anchor (from certificates already in hand).
"""

from certdoctor._lazy import exporter

_EXPORTS = {"load_certificates": "load", "load_file": "load", "load_bundle": "load", "build_path": "path"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
