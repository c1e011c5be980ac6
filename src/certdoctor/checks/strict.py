"""STRICT_X509: the RFC 5280 rules Python 3.13's VERIFY_X509_STRICT makes OpenSSL enforce."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Sequence

from certdoctor.checks._text import role_of
from certdoctor.model import Actor, CertInfo, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context
    from certdoctor.x509.path import PathResult


def check(ctx: "Context") -> list[Finding]:
    if ctx.path is None:
        return []
    f: list[Finding] = []
    _check_strict(ctx.path, ctx.evidence.python, ctx.evidence.client, f)
    return f


def strict_violations(path: Sequence[CertInfo], certs: Sequence) -> list[tuple[int, str]]:
    """The rules OpenSSL's VERIFY_X509_STRICT applies (Python 3.13's default), per cert.

    Returns ``(index in path, OpenSSL's message)``. Chains of one certificate are exempt.
    """
    from cryptography import x509

    out: list[tuple[int, str]] = []
    if len(path) < 2:
        return out
    for i, (info, cert) in enumerate(zip(path, certs)):
        exts = {e.oid: e for e in cert.extensions} if _safe_exts(cert) else {}
        is_ca_position = i > 0
        bc = exts.get(x509.oid.ExtensionOID.BASIC_CONSTRAINTS)
        if is_ca_position:
            if bc is None:
                out.append((i, "invalid CA certificate"))
            elif not bc.critical:
                out.append((i, "Basic Constraints of CA cert not marked critical"))
            ku = exts.get(x509.oid.ExtensionOID.KEY_USAGE)
            if ku is None:
                out.append((i, "CA cert does not include key usage extension"))
            elif bc is not None and bc.value.path_length is not None and not ku.value.key_cert_sign:
                out.append((i, "Path length given without key usage keyCertSign"))
            if x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER not in exts:
                out.append((i, "Missing Subject Key Identifier"))
        aki = exts.get(x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        if aki is None and not info.self_signed:
            out.append((i, "Missing Authority Key Identifier"))
        elif aki is not None and aki.critical:
            out.append((i, "Authority Key Identifier marked critical"))
        ski = exts.get(x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        if ski is not None and ski.critical:
            out.append((i, "Subject Key Identifier marked critical"))
        san = exts.get(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        if not info.subject and san is not None and not san.critical:
            out.append((i, "Subject empty and Subject Alt Name extension not critical"))
    return out


def _safe_exts(cert) -> bool:
    try:
        list(cert.extensions)
    except Exception:
        return False
    return True


def _check_strict(path: "PathResult", python: str, client: str, f: list[Finding]) -> None:
    certs = [p.certificate() for p in path.path]
    violations = strict_violations(path.path, certs)
    if not violations or client == "pip":
        return
    strict_now = python == "3.13"
    for i, rule in violations:
        info = path.path[i]
        role = role_of(i, len(path.path), info)
        f.append(Finding(
            Code.STRICT_X509, Severity.ERROR if strict_now else Severity.WARNING,
            f"Python 3.13 refuses {role}: {rule}."
            + ("" if strict_now else f" (It passes on this Python {sys.version_info[0]}.{sys.version_info[1]}.)"),
            ("Python 3.13's ssl.create_default_context() (and urllib3 2.x on 3.13) sets VERIFY_X509_STRICT, "
             "which enforces RFC 5280 rules that OpenSSL otherwise skips. "
             f"The exact error will be: 'certificate verify failed: {rule}'."),
            (f"{role}: {info.subject}", f"rule: {rule}"),
            ("The certificate's issuer must reissue it with RFC 5280 extensions (CA: basicConstraints=critical,CA:TRUE; "
             "keyUsage=critical,keyCertSign,cRLSign; subjectKeyIdentifier; every non-root: authorityKeyIdentifier). "
             "Scoped stopgap for that one session: ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT (chain and hostname "
             "checks stay on)."),
            Actor.SERVER_OPERATOR, i))
