"""STRICT_X509: the RFC 5280 rules Python 3.13's VERIFY_X509_STRICT makes OpenSSL enforce."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NamedTuple, Sequence

from certdoctor.checks._text import role_of
from certdoctor.model import Actor, CertInfo, Code, Finding, Severity, read_extensions

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context
    from certdoctor.x509.path import PathResult

BASIC_CONSTRAINTS = "2.5.29.19"
KEY_USAGE = "2.5.29.15"
SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
SUBJECT_ALT_NAME = "2.5.29.17"


def check(ctx: "Context") -> list[Finding]:
    if ctx.path is None:
        return []
    f: list[Finding] = []
    _check_strict(ctx.path, ctx.evidence.python, ctx.evidence.client, f)
    return f


#: the rules of VERIFY_X509_STRICT (``Finding.rule``) -> OpenSSL's message, as listed in docs/JSON.md
RULES = {
    "ca_without_basic_constraints": "invalid CA certificate",
    "basic_constraints_not_critical": "Basic Constraints of CA cert not marked critical",
    "ca_without_key_usage": "CA cert does not include key usage extension",
    "path_length_without_key_cert_sign": "Path length given without key usage keyCertSign",
    "missing_ski": "Missing Subject Key Identifier",
    "missing_aki": "Missing Authority Key Identifier",
    "aki_critical": "Authority Key Identifier marked critical",
    "ski_critical": "Subject Key Identifier marked critical",
    "empty_subject_san_not_critical": "Subject empty and Subject Alt Name extension not critical",
}


class StrictViolation(NamedTuple):
    """One broken rule: ``index`` in the path, OpenSSL's ``message``, the stable ``rule`` id."""

    index: int
    message: str
    rule: str


def strict_violations(path: Sequence[CertInfo], certs: Sequence) -> list[StrictViolation]:
    """The rules OpenSSL's VERIFY_X509_STRICT applies (Python 3.13's default), per cert.

    Chains of one certificate are exempt. Extensions are read one by one
    (:func:`certdoctor.model.read_extensions`): one that cryptography cannot parse is still
    present (its criticality is known), so it is never reported missing; a rule that needs the
    value of an extension nobody could parse is not judged.
    """
    out: list[StrictViolation] = []
    if len(path) < 2:
        return out

    def broke(i: int, rule: str) -> None:
        out.append(StrictViolation(i, RULES[rule], rule))

    for i, (info, cert) in enumerate(zip(path, certs)):
        exts = {e.oid: e for e in read_extensions(cert)}
        if "" in exts:  # not even the list of extensions could be read: nothing to judge
            continue
        is_ca_position = i > 0
        bc = exts.get(BASIC_CONSTRAINTS)
        if is_ca_position:
            if bc is None:
                broke(i, "ca_without_basic_constraints")
            elif not bc.critical:
                broke(i, "basic_constraints_not_critical")
            ku = exts.get(KEY_USAGE)
            if ku is None:
                broke(i, "ca_without_key_usage")
            elif info.path_length is not None and info.key_usage is not None and \
                    "key_cert_sign" not in info.key_usage:
                broke(i, "path_length_without_key_cert_sign")
            if SUBJECT_KEY_IDENTIFIER not in exts:
                broke(i, "missing_ski")
        aki = exts.get(AUTHORITY_KEY_IDENTIFIER)
        if aki is None and not info.self_signed:
            broke(i, "missing_aki")
        elif aki is not None and aki.critical:
            broke(i, "aki_critical")
        ski = exts.get(SUBJECT_KEY_IDENTIFIER)
        if ski is not None and ski.critical:
            broke(i, "ski_critical")
        san = exts.get(SUBJECT_ALT_NAME)
        if not info.subject and san is not None and not san.critical:
            broke(i, "empty_subject_san_not_critical")
    return out


def _check_strict(path: "PathResult", python: str, client: str, f: list[Finding]) -> None:
    certs = [p.certificate() for p in path.path]
    violations = strict_violations(path.path, certs)
    if not violations or client == "pip":
        return
    strict_now = python == "3.13"
    for i, rule, rule_id in violations:
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
            Actor.SERVER_OPERATOR, i, rule=rule_id))
