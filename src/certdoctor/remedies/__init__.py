"""What fixes a failure: CA bundles done right, the client helpers, and ``certdoctor fix``.

``bundle`` builds and audits CA bundles; ``client`` gives callers a bundle, an SSLContext or a
requests Session with certifi + their CAs; ``fix`` writes and proves a fix for one endpoint.
"""

from certdoctor._lazy import exporter

_EXPORTS = {"ca_bundle": "client", "ssl_context": "client", "requests_session": "client", "build_bundle": "bundle", "write_bundle": "bundle", "check_bundle": "bundle", "FixResult": "fix"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
