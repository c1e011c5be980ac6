"""certdoctor: diagnose and fix ``CERTIFICATE_VERIFY_FAILED`` in Python HTTPS clients.

Public names are imported lazily so that ``import certdoctor`` (and the CLI) start fast.
"""

from __future__ import annotations

__version__ = "0.2.0"

from certdoctor import _compat  # noqa: E402  old module paths, with a warning

_compat.install()

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
    "load_certificates": "x509.load",
    "load_file": "x509.load",
    # fixing
    "ca_bundle": "remedies.client",
    "ssl_context": "remedies.client",
    "requests_session": "remedies.client",
    # bundles
    "build_bundle": "remedies.bundle",
    "write_bundle": "remedies.bundle",
    "check_bundle": "remedies.bundle",
    # hardening
    "PinnedAdapter": "pinning.adapters",
    "httpx_client": "pinning.adapters",
    "check_expiry": "expiry",
    "check_revocation": "revocation.check",
    # code scanning
    "LintCode": "lint.scan",
    "lint_paths": "lint.scan",
    "lint_source": "lint.scan",
}

#: subpackages/modules reachable as attributes; ``certdoctor.diagnose`` is always the module
#: (the function is ``certdoctor.diagnose.diagnose``), whatever was imported before.
_MODULES = ("diagnose",)

__all__ = ["__version__", *sorted(_EXPORTS), *_MODULES]


def __getattr__(name: str):
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"certdoctor.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'certdoctor' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"certdoctor.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
