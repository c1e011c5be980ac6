"""certdoctor: diagnose and fix ``CERTIFICATE_VERIFY_FAILED`` in Python HTTPS clients.

Public names are imported lazily so that ``import certdoctor`` (and the CLI) start fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # errors
    "CertdoctorError": "errors",
    "InputError": "errors",
    "PasswordError": "errors",
    "UsageError": "errors",
    "NetworkError": "errors",
    "FetchError": "errors",
    "PinMismatch": "errors",
    "FixNotProven": "errors",
    # results
    "Code": "model",
    "Severity": "model",
    "Actor": "model",
    "Finding": "model",
    "CertInfo": "model",
    "ChainInfo": "model",
    # loading
    "load_certificates": "load",
    "load_file": "load",
    # diagnosis
    "diagnose": "diagnose",
    # fixing
    "ca_bundle": "fix",
    "ssl_context": "fix",
    "requests_session": "fix",
    # bundles
    "build_bundle": "bundle",
    "write_bundle": "bundle",
    "check_bundle": "bundle",
    # hardening
    "PinnedAdapter": "pinning",
    "httpx_client": "pinning",
    "check_expiry": "expiry",
    "check_revocation": "revocation",
    # code scanning
    "LintCode": "lint",
    "lint_paths": "lint",
    "lint_source": "lint",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'certdoctor' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"certdoctor.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
