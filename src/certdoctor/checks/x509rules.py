"""The X.509 rules OpenSSL enforces on every chain (not only under VERIFY_X509_STRICT).

Each check reproduces one of OpenSSL's ``X509_V_ERR_*`` refusals from the certificates of the
path, so that a refusal is explained by a specific finding, not by ``VERDICT_UNCONFIRMED``
(docs/REFUSALS.md maps every reason string to its code):

    NAME_CONSTRAINTS             'permitted subtree violation' / 'excluded subtree violation'
    PATH_LENGTH                  'path length constraint exceeded'
    UNHANDLED_CRITICAL_EXTENSION 'unhandled critical extension'
    INVALID_CA                   'invalid CA certificate'
    KEY_USAGE                    'unsuitable certificate purpose' (the leaf's keyUsage)
    MALFORMED_CERT               'unable to decode issuer public key'
    EXPIRED (expired_at_not_after) 'certificate has expired' at exactly the notAfter second
    CA_AS_LEAF / STRICT_X509     warnings: cryptography's RFC 5280 verifier refuses a chain the
                                 client accepted (browsers, Go, Python 3.13 may refuse it)

Pure: the path and the evidence, nothing else. Each rule follows OpenSSL's own code
(``crypto/x509/x509_vfy.c`` check_chain_extensions / check_name_constraints,
``v3_ncons.c``, ``v3_purp.c``), so that a finding here is a refusal the client really makes.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Sequence

from certdoctor.checks._text import role_of, who
from certdoctor.model import Actor, CertInfo, Code, Finding, Severity, read_extensions

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.checks.context import Context

#: the rules of this module (``Finding.rule``), as listed in docs/JSON.md
RULES = {
    "name_constraint_permitted": "a name of a certificate is outside every permitted subtree of a CA above it",
    "name_constraint_excluded": "a name of a certificate is inside an excluded subtree of a CA above it",
    "path_length_exceeded": "more intermediates below a CA than its pathLenConstraint allows",
    "unhandled_critical_extension": "a critical extension OpenSSL does not implement",
    "ca_not_a_ca": "an issuer of the path may not issue certificates (check_ca)",
    "intermediate_without_ca_basic_constraints": "an intermediate without basicConstraints CA:TRUE",
    "leaf_key_usage_not_for_tls": "the leaf's keyUsage allows none of digitalSignature, keyEncipherment, keyAgreement",
    "unparsable_public_key": "a certificate's public key cannot be decoded",
    "signature_does_not_verify": "the issuer (by name and key identifier) is there, but its key did not sign the certificate",
    "unparsable_extension": "an extension OpenSSL tolerates cannot be parsed by an RFC 5280 verifier (warning)",
    "expired_at_not_after": "now is exactly the certificate's notAfter second (OpenSSL: expired)",
    "ca_as_leaf": "the leaf has basicConstraints CA:TRUE (RFC 5280 verifiers refuse a CA as end entity)",
    "rfc5280_verifier": "cryptography's RFC 5280 / CA/B Forum verifier refuses the chain the client accepted",
    "unreadable_certificate": "a certificate OpenSSL reads but cryptography cannot (inherited DSA parameters, an odd time form)",
}

#: critical extensions OpenSSL implements (X509_supported_extension); any other critical one is refused
SUPPORTED_CRITICAL = frozenset({
    "2.16.840.1.113730.1.1",  # Netscape cert type
    "2.5.29.15",  # keyUsage
    "2.5.29.17",  # subjectAltName
    "2.5.29.19",  # basicConstraints
    "2.5.29.32",  # certificatePolicies
    "2.5.29.37",  # extendedKeyUsage
    "1.3.6.1.5.5.7.1.7",  # RFC 3779 IP address blocks
    "1.3.6.1.5.5.7.1.8",  # RFC 3779 AS identifiers
    "2.5.29.36",  # policyConstraints
    "1.3.6.1.5.5.7.1.14",  # proxyCertInfo
    "2.5.29.30",  # nameConstraints
    "2.5.29.33",  # policyMappings
    "2.5.29.54",  # inhibitAnyPolicy
})

NAME_CONSTRAINTS_OID = "2.5.29.30"
_STRICT_HINT = ("Clients that verify by RFC 5280 / the CA/B Forum rules refuse it: Python 3.13+ "
                "(VERIFY_X509_STRICT, for the rules it covers), browsers (Chrome, Firefox), Go's crypto/x509, rustls/webpki.")


def check(ctx: "Context") -> list[Finding]:
    if ctx.path is None or not ctx.path.path:
        return []
    path = ctx.path
    infos = list(path.path) + list(path.not_ca[:1])  # what OpenSSL would build: a refused issuer included
    certs = [i.certificate() for i in infos]
    f: list[Finding] = []
    _signature(ctx, infos, certs, f)
    _malformed(infos, certs, f)
    _critical(infos, certs, f)
    _ca_rules(path, infos, certs, f)
    _path_length(infos, f)
    _name_constraints(infos, certs, f)
    _leaf_key_usage(infos[0], f)
    _exact_not_after(infos, ctx.now, f)
    _stricter_than_client(ctx, infos, f)
    return _presented_indices(ctx, infos, f) + _undecodable_issuer(ctx, infos, certs)


def _undecodable_issuer(ctx: "Context", infos: Sequence[CertInfo], certs) -> list[Finding]:
    """The path stops because the certificate named as the issuer has a key nobody can read: it
    is not on the path (no signature could be checked with it), so it is found by name here.
    ``cert_index`` is its place in the chain as presented (``None``: from the store)."""
    if ctx.path.trusted:
        return []
    top_cert = certs[len(ctx.path.path) - 1]
    sent = list(ctx.certs)
    out = []
    for c in sent + list(ctx.evidence.trust.anchors()):
        if c.subject != top_cert.issuer:
            continue
        try:
            c.public_key()
            continue
        except Exception as exc:
            why = str(exc) or type(exc).__name__
        info = CertInfo.from_certificate(c)
        out.append(_finding(
            Code.MALFORMED_CERT, f"The public key of the issuer {info.display_name!r} cannot be decoded.",
            ("OpenSSL cannot check the signature below it with a key it cannot read: 'unable to decode issuer "
             "public key'."),
            (f"issuer: {who(info)}", f"field: subjectPublicKeyInfo ({why})"),
            "The CA must reissue its certificate with a well-formed subjectPublicKeyInfo.",
            sent.index(c) if c in sent else None, "unparsable_public_key"))
        break
    return out


def _presented_indices(ctx: "Context", infos: Sequence[CertInfo], f: list[Finding]) -> list[Finding]:
    """``cert_index`` points into the chain as presented: a path position becomes the index of that
    certificate in what the server sent, ``None`` for one from the store or an AIA download (its
    subject is in the evidence)."""
    from dataclasses import replace

    from certdoctor.model import fingerprint_sha256

    sent = {}
    for n, c in enumerate(ctx.certs):
        sent.setdefault(fingerprint_sha256(c), n)
    return [x if x.cert_index is None else replace(x, cert_index=sent.get(infos[x.cert_index].fingerprint_sha256))
            for x in f]


def _signature(ctx: "Context", infos: Sequence[CertInfo], certs, f: list[Finding]) -> None:
    """The issuer by name and key identifier is there, but its key did not make the signature."""
    from certdoctor.model import issued_by

    if ctx.path.trusted:
        return
    top, top_cert = infos[len(ctx.path.path) - 1], certs[len(ctx.path.path) - 1]
    if top.self_signed:
        return
    for c in list(ctx.certs) + list(ctx.evidence.trust.anchors()):
        if c.subject != top_cert.issuer or issued_by(top_cert, c):
            continue
        try:
            c.public_key()  # a key that cannot be read is _undecodable_issuer's, not a bad signature
            issuer = CertInfo.from_certificate(c)
        except Exception:  # a certificate that cannot be read names no key
            continue
        if top.aki and issuer.ski and top.aki != issuer.ski:
            continue  # another key of the same name (a re-keyed CA): not this rule
        i = len(ctx.path.path) - 1
        role = role_of(i, len(infos), top)
        f.append(_finding(
            Code.MALFORMED_CERT, f"The signature of {role} does not verify with its issuer's key.",
            (f"{issuer.display_name!r} has the issuer's name and key identifier, but its key did not make the signature "
             "of " + role + ": the certificate was altered, or signed by another key. OpenSSL says "
             "'certificate signature failure'."),
            (f"{role}: {who(top)}", f"issuer: {who(issuer)}", "field: signatureValue"),
            f"The CA must reissue {role}; the server must serve a certificate its CA really signed.", i,
            "signature_does_not_verify"))
        return


def _finding(code: Code, summary: str, explanation: str, evidence: tuple[str, ...], fix: str, index: int | None,
             rule: str, severity: Severity = Severity.ERROR, actor: Actor = Actor.SERVER_OPERATOR) -> Finding:
    return Finding(code, severity, summary, explanation, evidence + (f"rule: {rule}",), fix, actor, index, rule=rule)


def _malformed(infos: Sequence[CertInfo], certs, f: list[Finding]) -> None:
    for i, (info, cert) in enumerate(zip(infos, certs)):
        try:
            cert.public_key()
        except Exception as exc:
            role = role_of(i, len(infos), info)
            f.append(_finding(
                Code.MALFORMED_CERT, f"The public key of {role} cannot be decoded.",
                ("OpenSSL cannot check a signature made with a key it cannot read: "
                 + ("'unable to decode issuer public key'." if i else "the handshake fails.")),
                (f"{role}: {who(info)}", f"field: subjectPublicKeyInfo ({exc})"),
                "The CA must reissue the certificate with a well-formed subjectPublicKeyInfo.", i,
                "unparsable_public_key"))


def _critical(infos: Sequence[CertInfo], certs, f: list[Finding]) -> None:
    for i, (info, cert) in enumerate(zip(infos, certs)):
        for ext in read_extensions(cert):
            if ext.critical and ext.oid and ext.oid not in SUPPORTED_CRITICAL:
                role = role_of(i, len(infos), info)
                f.append(_finding(
                    Code.UNHANDLED_CRITICAL_EXTENSION,
                    f"{role.capitalize()} has a critical extension OpenSSL does not handle: {ext.name}.",
                    ("A client must refuse a certificate with a critical extension it does not implement "
                     "(RFC 5280 4.2): OpenSSL says 'unhandled critical extension'."),
                    (f"{role}: {who(info)}", f"field: extension {ext.name} ({ext.oid}), critical"),
                    (f"The CA must reissue {role} with {ext.name} marked non-critical (or without it)."), i,
                    "unhandled_critical_extension"))


def _ca_rules(path, infos: Sequence[CertInfo], certs, f: list[Finding]) -> None:
    from certdoctor.x509.path import KU_ONLY_INTERMEDIATE, ca_status

    refused = {c.fingerprint_sha256 for c in path.not_ca}
    anchor = path.anchor.fingerprint_sha256 if path.anchor is not None else None
    n = len(infos)
    for i in range(1, n):
        info, cert = infos[i], certs[i]
        is_ca, why = ca_status(cert, intermediate=info.fingerprint_sha256 != anchor)
        role = role_of(i, n, info)
        if why == KU_ONLY_INTERMEDIATE and not info.self_signed:
            f.append(_finding(
                Code.INVALID_CA, f"{role.capitalize()} has no basicConstraints CA:TRUE.",
                ("OpenSSL accepts a CA without basicConstraints (keyUsage keyCertSign alone) only as the trust "
                 "anchor; an intermediate must say CA:TRUE: 'invalid CA certificate'."),
                (f"{role}: {who(info)}", "field: basicConstraints (absent)"),
                "The CA must reissue the intermediate with basicConstraints=critical,CA:TRUE.", i,
                "intermediate_without_ca_basic_constraints"))
            continue
        if not is_ca or info.fingerprint_sha256 in refused:
            f.append(_finding(
                Code.INVALID_CA, f"{role.capitalize()} signed the certificate below it but may not issue certificates.",
                (f"OpenSSL's check_ca refuses it ({why}): 'invalid CA certificate' (or 'key usage does not include "
                 "certificate signing')."),
                (f"{role}: {who(info)}", f"field: {'keyUsage' if 'keyUsage' in why else 'basicConstraints'} ({why})"),
                ("The CA certificate must have basicConstraints=critical,CA:TRUE and keyUsage=critical,keyCertSign,cRLSign; "
                 "if the server sends a wrong certificate under the CA's name, it must send the real intermediate."),
                i, "ca_not_a_ca"))
            continue


def _path_length(infos: Sequence[CertInfo], f: list[Finding]) -> None:
    plen = 0  # non-self-issued intermediates below the certificate at i (OpenSSL's plen)
    for i, info in enumerate(infos):
        if i > 1 and info.path_length is not None and plen > info.path_length:
            role = role_of(i, len(infos), info)
            f.append(_finding(
                Code.PATH_LENGTH, f"{role.capitalize()} allows {info.path_length} intermediate(s) below it; the path has {plen}.",
                ("basicConstraints pathLenConstraint limits how many CA certificates may follow: OpenSSL says "
                 "'path length constraint exceeded'."),
                (f"{role}: {who(info)}", f"field: basicConstraints pathlen:{info.path_length}",
                 f"intermediates below it: {plen}"),
                ("Issue the leaf from a CA closer to the root, or have the CA reissue "
                 f"{info.display_name!r} with a larger (or no) pathlen."), i, "path_length_exceeded"))
        if i > 0 and info.issuer != info.subject:
            plen += 1


# ---- name constraints, as OpenSSL's v3_ncons.c matches them

def _dns_match(name: str, base: str) -> bool:
    name, base = name.lower(), base.lower()
    if not base:
        return True
    if len(name) < len(base):
        return False
    if len(name) > len(base):
        if not base.startswith(".") and name[len(name) - len(base) - 1] != ".":
            return False
    return name[len(name) - len(base):] == base


def _ip_match(address: str, network) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == network.version and ip in network


def _rdns(name) -> list:
    return [sorted((a.oid.dotted_string, " ".join(str(a.value).split()).casefold()) for a in rdn) for rdn in name.rdns]


def _dn_match(subject, base) -> bool:
    s, b = _rdns(subject), _rdns(base)
    return len(b) <= len(s) and s[:len(b)] == b


def _names_of(cert: "x509.Certificate", info: CertInfo, leaf: bool) -> list[tuple[str, object, str]]:
    """(kind, value, text) of every name OpenSSL checks: the subject DN, SAN DNS/IP/DirName,
    and for the leaf without a DNS SAN the CN that looks like a host name."""
    from cryptography import x509

    out: list[tuple[str, object, str]] = []
    if len(cert.subject) > 0:
        out.append(("dn", cert.subject, f"subject {info.subject}"))
    for e in read_extensions(cert):
        if isinstance(e.value, x509.SubjectAlternativeName):
            for g in e.value:
                if isinstance(g, x509.DirectoryName):
                    out.append(("dn", g.value, f"SAN DirName:{g.value.rfc4514_string()}"))
    out += [("dns", d, f"SAN DNS:{d}") for d in info.san_dns]
    out += [("ip", a, f"SAN IP:{a}") for a in info.san_ip]
    if leaf and not info.san_dns and info.common_name and "." in info.common_name and " " not in info.common_name:
        out.append(("dns", info.common_name, f"CN {info.common_name} (no DNS SAN: OpenSSL checks the CN)"))
    return out


def _subtree(g) -> tuple[str, object] | None:
    from cryptography import x509

    if isinstance(g, x509.DNSName):
        return "dns", g.value
    if isinstance(g, x509.IPAddress):
        return "ip", g.value
    if isinstance(g, x509.DirectoryName):
        return "dn", g.value
    return None


def _matches(kind: str, value, base) -> bool:
    if kind == "dns":
        return _dns_match(value, base)
    if kind == "ip":
        return _ip_match(value, base)
    return _dn_match(value, base)


def _name_constraints(infos: Sequence[CertInfo], certs, f: list[Finding]) -> None:
    from cryptography import x509

    n = len(infos)
    for j in range(1, n):
        nc = next((e.value for e in read_extensions(certs[j]) if isinstance(e.value, x509.NameConstraints)), None)
        if nc is None:
            continue
        permitted = [s for s in map(_subtree, nc.permitted_subtrees or ()) if s]
        excluded = [s for s in map(_subtree, nc.excluded_subtrees or ()) if s]
        ca_role = role_of(j, n, infos[j])
        for i in range(j):
            if i > 0 and infos[i].issuer == infos[i].subject:
                continue  # a self-issued CA is not checked (RFC 5280 6.1.3)
            role = role_of(i, n, infos[i])
            for kind, value, text in _names_of(certs[i], infos[i], i == 0):
                if kind == "dn" and not any(k == "dn" for k, _ in permitted + excluded):
                    continue
                of_kind = [b for k, b in permitted if k == kind]
                if of_kind and not any(_matches(kind, value, b) for b in of_kind):
                    rule, says = "name_constraint_permitted", "permitted subtree violation"
                    why = "is in none of the permitted subtrees: " + ", ".join(map(str, of_kind))
                else:
                    hit = next((b for k, b in excluded if k == kind and _matches(kind, value, b)), None)
                    if hit is None:
                        continue
                    rule, says, why = "name_constraint_excluded", "excluded subtree violation", f"is in the excluded subtree {hit}"
                f.append(_finding(
                    Code.NAME_CONSTRAINTS, f"{role.capitalize()}'s {text} {why.split(':')[0]} of {ca_role}.",
                    (f"{ca_role.capitalize()} {who(infos[j])} carries nameConstraints: every name below it must be inside "
                     f"a permitted subtree and outside every excluded one. OpenSSL says '{says}'."),
                    (f"{role}: {who(infos[i])}", f"field: {text}", f"constraint: {ca_role} nameConstraints: {text} {why}"),
                    ("Issue the certificate from a CA whose name constraints cover this name, or have the CA widen "
                     "its nameConstraints (a new CA certificate)."), i, rule))


def _leaf_key_usage(leaf: CertInfo, f: list[Finding]) -> None:
    ku = leaf.key_usage
    if ku is None or leaf.is_ca:
        return
    if not {"digital_signature", "key_encipherment", "key_agreement"} & set(ku):
        f.append(_finding(
            Code.KEY_USAGE, "The leaf's keyUsage does not allow TLS.",
            ("A TLS server key must sign the handshake (digitalSignature) or receive the key (keyEncipherment, "
             "keyAgreement). OpenSSL's SSL-server purpose check refuses it: 'unsuitable certificate purpose'."),
            (f"the leaf: {who(leaf)}", f"field: keyUsage = {', '.join(ku) or '(empty)'}"),
            "Reissue the leaf with keyUsage=critical,digitalSignature (plus keyEncipherment for RSA key exchange).",
            0, "leaf_key_usage_not_for_tls"))


def _exact_not_after(infos: Sequence[CertInfo], now, f: list[Finding]) -> None:
    second = now.replace(microsecond=0)
    for i, info in enumerate(infos):
        if not info.expired and info.not_after <= second:
            role = role_of(i, len(infos), info)
            f.append(_finding(
                Code.EXPIRED, f"{role.capitalize()} certificate expires this very second.",
                ("The clock is at the certificate's notAfter second. RFC 5280 counts notAfter as still valid, but "
                 "OpenSSL compares with <=: 'certificate has expired'."),
                (f"notAfter = {info.not_after.isoformat()}", f"now = {now.isoformat()}", f"subject = {info.subject}"),
                "The server's operator must renew it (automate it, e.g. certbot/ACME).", i, "expired_at_not_after"))


def _stricter_than_client(ctx: "Context", infos: Sequence[CertInfo], f: list[Finding]) -> None:
    """The client connected, cryptography's verifier did not: a warning naming the rule."""
    outcome = ctx.evidence.outcome
    error = ctx.path.rfc5280_error
    if outcome is None or not outcome.ok or ctx.path.rfc5280_ok is not False or not error:
        return
    leaf = infos[0]
    broken = [(i, info) for i, info in enumerate(infos) if info.unparsed_extensions]
    if broken:  # cryptography refused to read an extension that OpenSSL ignores or reads: that is the reason
        for i, info in broken:
            role = role_of(i, len(infos), info)
            names = ", ".join(info.unparsed_extensions)
            f.append(_finding(
                Code.MALFORMED_CERT, f"{role.capitalize()} has an extension that cannot be parsed: {names}.",
                (f"OpenSSL ignores or tolerates it, so {outcome.client} connects; parsers that follow the DER rules "
                   "refuse it. " + _STRICT_HINT),
                (f"{role}: {who(info)}", f"field: {names} (malformed)", f"cryptography's verifier: {error}"),
                f"The CA must reissue {role} with a well-formed {names} (or without it).", i,
                "unparsable_extension", Severity.WARNING))
        return
    if "must not be asserted in an EE" in error or (leaf.is_ca and len(infos) > 1):
        f.append(_finding(
            Code.CA_AS_LEAF, "The leaf is a CA certificate (basicConstraints CA:TRUE).",
            ("OpenSSL accepts a CA certificate as a server's certificate; RFC 5280 verifiers do not. " + _STRICT_HINT),
            (f"the leaf: {who(leaf)}", "field: basicConstraints CA:TRUE", f"cryptography's verifier: {error}"),
            "Issue the server an end-entity certificate (basicConstraints=critical,CA:FALSE) from the CA.", 0,
            "ca_as_leaf", Severity.WARNING))
        return
    f.append(_finding(
        Code.STRICT_X509, f"{outcome.client} connects, but an RFC 5280 verifier refuses this chain.",
        ("OpenSSL is laxer than RFC 5280 here. " + _STRICT_HINT),
        (f"cryptography's verifier: {error}",),
        ("Have the CA reissue the certificate the reason names so that it follows RFC 5280 (CA: "
         "basicConstraints=critical,CA:TRUE, keyUsage=critical,keyCertSign,cRLSign, subjectKeyIdentifier; every "
         "certificate: authorityKeyIdentifier; leaf: subjectAltName, no critical unknown extension)."),
        None, "rfc5280_verifier", Severity.WARNING))


__all__ = ["check", "RULES", "SUPPORTED_CRITICAL"]
