"""The only place certdoctor opens sockets.

``target`` parses what the user names; ``resolve`` maps names to addresses in-process;
``proxy`` decides the proxy and speaks CONNECT; ``probe`` captures a presented chain (the one
``CERT_NONE``, no data sent); ``fetch`` downloads AIA/CRL/OCSP answers with bounds and a cache;
``client`` runs the real HTTPS client whose verdict a diagnosis reports.
"""

from certdoctor._lazy import exporter

_EXPORTS = {"parse_target": "target", "Target": "target", "fetch_chain": "probe", "fetch_url": "fetch", "FetchCache": "fetch", "effective_proxy": "proxy", "proxy_for_host": "proxy", "run_client": "client", "ClientOutcome": "client"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
