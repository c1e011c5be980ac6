"""CRL and OCSP with signatures, issuers and freshness checked."""

from certdoctor._lazy import exporter

_EXPORTS = {"check_revocation": "check", "check_chain": "check", "find_issuer": "check", "RevocationStatus": "check", "RevocationResult": "check"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
