"""WEAK_SIGNATURE, WEAK_KEY and WRONG_EKU: what OpenSSL's security level 2 and purpose checks refuse."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certdoctor.checks._text import role_of
from certdoctor.model import Actor, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context

#: signature digests security level 2 refuses on certificates of the chain
WEAK_DIGESTS = ("sha1", "md5", "md2", "md4")

#: the rules of this module (``Finding.rule``), as listed in docs/JSON.md
RULES = {
    **{f"{d}_signature": f"a certificate of the chain is signed with {d.upper()}" for d in WEAK_DIGESTS},
    "rsa_key_too_small": "an RSA key under 2048 bits",
    "dsa_key_too_small": "a DSA key under 2048 bits",
    "ec_key_too_small": "an EC key under 224 bits",
    "eku_without_server_auth": "the leaf's extendedKeyUsage lists neither serverAuth nor anyExtendedKeyUsage",
    "eku_empty": "the leaf's extendedKeyUsage is present and empty: no purpose at all",
}


def check(ctx: "Context") -> list[Finding]:
    if ctx.path is None or not ctx.path.path:
        return []
    f: list[Finding] = []
    anchor_index = len(ctx.path.path) - 1 if ctx.path.trusted else None
    _check_crypto(ctx.path.path, anchor_index, f)
    return f


def _check_crypto(path, anchor_index: int | None, f: list[Finding]) -> None:
    total = len(path)
    for i, info in enumerate(path):
        role = role_of(i, total, info)
        is_anchor = anchor_index is not None and i == anchor_index
        if not is_anchor and (info.signature_hash or "").lower() in WEAK_DIGESTS:
            f.append(Finding(
                Code.WEAK_SIGNATURE, Severity.ERROR,
                f"{role.capitalize()} certificate is signed with {info.signature_hash.upper()}.",
                ("At OpenSSL security level 2, which Python uses, signatures with SHA-1 (or MD5) on certificates "
                 "in the chain are refused: 'CA signature digest algorithm too weak'. (The self-signature of a "
                 "trusted root itself does not matter.)"),
                (f"signatureAlgorithm = {info.signature_algorithm}", f"subject = {info.subject}"),
                "The server's operator must reissue the certificate with SHA-256.",
                Actor.SERVER_OPERATOR, i, rule=f"{info.signature_hash.lower()}_signature"))
        weak = (info.key_type in ("RSA", "DSA") and (info.key_size or 0) < 2048) or (
            info.key_type.startswith("EC") and (info.key_size or 0) < 224)
        if weak:
            f.append(Finding(
                Code.WEAK_KEY, Severity.ERROR,
                f"{role.capitalize()} certificate has a {info.key_size}-bit {info.key_type} key.",
                ("Security level 2 demands at least 2048-bit RSA/DSA and 224-bit ECC keys: OpenSSL refuses with "
                 f"'{'EE' if i == 0 else 'CA'} certificate key too weak'."),
                (f"key = {info.key_type} {info.key_size} bits", f"subject = {info.subject}"),
                "The server's operator must reissue with RSA >= 2048 (3072 preferred) or ECDSA P-256.",
                Actor.SERVER_OPERATOR, i, rule=f"{info.key_type.split()[0].lower()}_key_too_small"))
    leaf = path[0]
    if leaf.extended_key_usage is not None and not (
        {"serverAuth", "anyExtendedKeyUsage"} & set(leaf.extended_key_usage)
    ):
        empty = not leaf.extended_key_usage
        f.append(Finding(
            Code.WRONG_EKU, Severity.ERROR,
            "The leaf certificate is not issued for TLS servers ("
            + ("its extendedKeyUsage is empty)." if empty else "no serverAuth EKU)."),
            (("Its extendedKeyUsage extension is present but lists no purpose at all, so it allows none"
              if empty else "Its extendedKeyUsage lists only " + ", ".join(leaf.extended_key_usage)) +
             "; OpenSSL refuses it for a server with 'unsuitable certificate purpose'."
             + (" (RFC 5280 requires at least one purpose; cryptography refuses to parse the extension, "
                "certdoctor reads it as OpenSSL does.)" if empty else "")),
            (f"extendedKeyUsage = {', '.join(leaf.extended_key_usage) or '(empty)'}",),
            "The server's operator must use a certificate with extendedKeyUsage = serverAuth.",
            Actor.SERVER_OPERATOR, 0, rule="eku_empty" if empty else "eku_without_server_auth"))
