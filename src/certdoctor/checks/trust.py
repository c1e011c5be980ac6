"""Does the path reach the client's store, and if not, why: CHAIN_INCOMPLETE, UNTRUSTED_ROOT,
INTERCEPTING_PROXY, SELF_SIGNED, CERTIFI_OUTDATED.

The order of the questions is the order of the explanations a person needs: a path that reaches
the store but only over AIA is an incomplete chain; a path that does not is re-signed by a proxy
(a product's name in the chain, or the same root signing another host through the same proxy: the
canary, gathered as :class:`~certdoctor.evidence.CanaryProbe`), a self-signed leaf, a root certifi
removed, a leaf sent alone, or a root the client does not trust.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor.checks._text import trust_label
from certdoctor.model import Actor, CertInfo, ChainInfo, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.checks.context import Context
    from certdoctor.evidence import CanaryProbe
    from certdoctor.trust.effective import EffectiveTrust
    from certdoctor.x509.path import PathResult

#: Issuer names of TLS-inspecting products (catalogue §10.2). Matched case-insensitively.
INTERCEPTOR_NAMES = (
    "zscaler", "netskope", "fortinet", "fortigate", "palo alto", "paloalto", "cisco umbrella",
    "forcepoint", "sophos", "blue coat", "bluecoat", "symantec web", "mcafee web gateway",
    "websense", "checkpoint", "check point", "mitmproxy", "charles proxy", "fiddler",
    "portswigger", "burp", "proxyman", "globalprotect", "kaspersky", "avast", "eset ssl",
)

#: Roots certifi removed (catalogue §2 ROOT_REMOVED_FROM_BUNDLE, checked tag by tag).
CERTIFI_REMOVED = {
    "DST Root CA X3": "2022.05.18",
    "TrustCor RootCert CA-1": "2022.12.07",
    "TrustCor RootCert CA-2": "2022.12.07",
    "TrustCor ECA-1": "2022.12.07",
    "Network Solutions Certificate Authority": "2022.12.07",
    "E-Tugra Certification Authority": "2023.07.22",
    "Hongkong Post Root CA 1": "2023.07.22",
    "GLOBALTRUST 2020": "2025.08.03",
    "Entrust Root Certification Authority - G4": "2024.12.14",
    "SecureSign RootCA11": "2024.12.14",
    "Security Communication RootCA3": "2024.12.14",
    "Entrust.net Certification Authority (2048)": "2025.04.26",
    "GlobalSign Root CA": "2025.04.26",
    "Baltimore CyberTrust Root": "2025.04.26",
    "AAA Certificate Services": "2025.04.26",
    "Go Daddy Class 2 Certification Authority": "2025.04.26",
    "Starfield Class 2 Certification Authority": "2025.04.26",
    "XRamp Global Certification Authority": "2025.04.26",
    "Entrust Root Certification Authority": "2026.01.04",
    "Entrust Root Certification Authority - G2": "2026.01.04",
    "Entrust Root Certification Authority - EC1": "2026.01.04",
    "AffirmTrust Commercial": "2026.01.04",
    "AffirmTrust Networking": "2026.01.04",
    "AffirmTrust Premium": "2026.01.04",
    "AffirmTrust Premium ECC": "2026.01.04",
    "DigiCert Global Root CA": "2026.04.22",
    "DigiCert High Assurance EV Root CA": "2026.04.22",
    "DigiCert Assured ID Root CA": "2026.04.22",
    "COMODO Certification Authority": "2026.04.22",
    "QuoVadis Root CA 2": "2026.04.22",
    "QuoVadis Root CA 3": "2026.04.22",
    "GTS Root R2": "2026.04.22",
    "SecureTrust CA": "2026.04.22",
    "Secure Global CA": "2026.04.22",
    "SwissSign Gold CA - G2": "2026.04.22",
    "Certigna": "2026.04.22",
}


def check(ctx: "Context") -> list[Finding]:
    if ctx.chain is None or ctx.path is None or not ctx.chain.certs:
        return []
    ev = ctx.evidence
    f: list[Finding] = []
    _check_trust(ctx.chain, ctx.path, ev.trust.description, ev.client, ev.python, ev.options.proxy, ev.canary, f)
    return f


def signs_alike(top: CertInfo, certs: "Iterable[x509.Certificate]") -> bool:
    """Does a chain another host presented come from the same signer as ``top``? (The same
    issuer, the same subject, or ``top`` as its issuer.)"""
    infos = []
    for c in certs:
        try:
            infos.append(CertInfo.from_certificate(c))
        except Exception:  # a certificate that breaks when read proves nothing
            continue
    return any(i.issuer == top.issuer or i.subject == top.subject or i.issuer == top.subject for i in infos)


def canary_host(top: CertInfo, canaries: Sequence["CanaryProbe"]) -> str | None:
    """The first host that, through the same proxy, is signed like ``top``: the proxy re-signs."""
    for probe in canaries:
        if probe.error is None and probe.chain_der and signs_alike(top, probe.certificates()):
            return probe.host
    return None


def interceptor_hint(infos: Sequence[CertInfo]) -> str | None:
    for info in infos:
        for text in (info.issuer, info.subject):
            low = text.lower()
            for name in INTERCEPTOR_NAMES:
                if name in low:
                    return text
    return None


def _check_trust(
    chain: ChainInfo, path: "PathResult", trust: "EffectiveTrust", client: str, python: str,
    proxy: str | None, canaries: Sequence["CanaryProbe"], f: list[Finding],
) -> None:
    leaf = chain.certs[0]
    store = trust_label(trust)
    if path.trusted:
        if path.fetched and any(p.fingerprint_sha256 in {x.fingerprint_sha256 for x in path.fetched} for p in path.path):
            missing = [p for p in path.path if p.fingerprint_sha256 in {x.fingerprint_sha256 for x in path.fetched}]
            urls = [a.url for a in path.aia_attempts if a.ok]
            f.append(Finding(
                Code.CHAIN_INCOMPLETE, Severity.ERROR,
                "The server does not send its intermediate certificate.",
                ("The server sends its leaf without the intermediate that issued it. Browsers download the missing "
                 "certificate from the leaf's AIA 'CA Issuers' URL (that's why it works in Chrome); OpenSSL, and so "
                 "every Python client, never does: 'unable to get local issuer certificate'. certdoctor fetched it "
                 f"and the completed chain reaches a root in {store}."),
                tuple([f"missing: {m.subject} (SHA-256 {m.fingerprint_sha256})" for m in missing]
                      + [f"downloaded from {u}" for u in urls]),
                ("Server: serve the full chain (leaf + intermediates; nginx ssl_certificate full_chain.pem). "
                 "Client, until then: `certdoctor fix URL --out DIR` writes a bundle = your trust + that intermediate."),
                Actor.SERVER_OPERATOR, 0))
        if path.partial and not (python == "3.13"):
            f.append(Finding(
                Code.UNTRUSTED_ROOT, Severity.ERROR,
                "Your store holds an intermediate, not the root it chains to.",
                ("Before Python 3.13, OpenSSL insists that the chain end at a self-signed root in the store: trusting "
                 "only an intermediate (or the leaf) fails with 'unable to get issuer certificate'. Python 3.13 "
                 "sets VERIFY_X509_PARTIAL_CHAIN and accepts it."),
                (f"anchor found: {path.anchor.subject if path.anchor else '?'} (not self-signed)", f"store: {store}"),
                "Add the root CA (not only the intermediate) to the bundle you pass as verify=.",
                Actor.CLIENT_USER, None))
        return

    top = path.top or leaf
    infos = list(path.path)
    intercept_name = interceptor_hint(infos)
    via = proxy
    canary = canary_host(top, canaries) if proxy else None
    if intercept_name or canary:
        ev = [f"issuer = {top.issuer}", f"store: {store}"]
        if intercept_name:
            ev.append(f"the name {intercept_name!r} belongs to a TLS-inspecting product")
        if via:
            ev.append(f"connected through the proxy {via}")
        if canary:
            ev.append(f"through the same proxy, {canary} is signed by the same root: it re-signs every site")
        root_fp = top.fingerprint_sha256 if top.self_signed else None
        f.append(Finding(
            Code.INTERCEPTING_PROXY, Severity.ERROR,
            "A TLS-intercepting proxy re-signs this site with its own root.",
            ("The certificate you receive was not issued by the site's CA but minted on the fly by a network device "
             "(a corporate proxy or security product), signed by its own root. That root is typically in the OS/browser "
             f"store but not in {store}, so the client fails: 'self-signed certificate in certificate chain' when "
             "the proxy sends its root, 'unable to get local issuer certificate' otherwise."),
            tuple(ev + ([f"proxy root SHA-256 = {root_fp}"] if root_fp else [])),
            ("Get the proxy's root from your IT/network team and check its fingerprint with them, then "
             "`certdoctor fix URL --out DIR --trust FINGERPRINT` (bundle = your trust + that root), or use the OS "
             "store with `truststore.inject_into_ssl()`. Pointing verify= at the proxy root ALONE breaks every "
             "site the proxy does not intercept."),
            Actor.NETWORK_ADMIN, None))
        return

    if len(infos) == 1 and leaf.self_signed:
        f.append(Finding(
            Code.SELF_SIGNED, Severity.ERROR,
            "The server's certificate is self-signed.",
            (f"The leaf is its own issuer and is not in {store}: 'self-signed certificate'. Nothing but an explicit "
             "decision to trust exactly this certificate can make it verify."),
            (f"subject = issuer = {leaf.subject}", f"SHA-256 = {leaf.fingerprint_sha256}"),
            ("Best: the server's operator issues the certificate from a (private) CA you trust. Otherwise trust "
             "exactly this certificate for this host: `certdoctor fix URL --out DIR --trust "
             f"{leaf.fingerprint_sha256}` and pass the bundle as verify=."),
            Actor.SERVER_OPERATOR, 0))
        return

    removed = certifi_removed(top)
    if removed is not None:
        name, version = removed
        f.append(Finding(
            Code.CERTIFI_OUTDATED, Severity.ERROR,
            f"The root {name!r} was removed from certifi {version}.",
            ("Mozilla distrusted or retired this root and certifi removed it; browsers and the OS store may still "
             "accept it for a while. The server still chains to it."),
            (f"chain top: {top.subject}", f"issuer: {top.issuer}", f"certifi {trust.certifi_version or '?'} at {trust.certifi_path}"),
            ("The server's operator must move to a chain under a current root. Client stopgap: the OS store "
             "(`truststore.inject_into_ssl()`), or a bundle holding that root for this host only. Don't pin an old certifi."),
            Actor.SERVER_OPERATOR, None))
        return

    # the same certificate (path.top and chain.certs[0] are distinct CertInfo objects: compare by value)
    if top.fingerprint_sha256 == leaf.fingerprint_sha256 and not leaf.self_signed:
        tried = [f"AIA {a.url}: {'ok' if a.ok else a.error}" for a in path.aia_attempts]
        f.append(Finding(
            Code.CHAIN_INCOMPLETE, Severity.ERROR,
            "The server sends only its leaf certificate; the intermediate is missing.",
            ("OpenSSL needs every certificate between the leaf and a root in the store, and never downloads a "
             "missing one: 'unable to get local issuer certificate'. "
             + ("The leaf names no AIA 'CA Issuers' URL, so certdoctor could not fetch the intermediate either."
                if not leaf.ca_issuers_urls else
                "certdoctor could not complete the chain from the AIA URL either.")),
            tuple([f"leaf issuer = {leaf.issuer}", f"store: {store}"] + tried),
            ("The server's operator must serve leaf + intermediates (nginx ssl_certificate full_chain.pem). "
             "Client stopgap: get the intermediate from the CA and `certdoctor bundle --add inter.pem --out bundle.pem`."),
            Actor.SERVER_OPERATOR, 0))
        return

    sent = top.fingerprint_sha256 in {c.fingerprint_sha256 for c in chain.certs}
    if top.self_signed and sent:
        how = "a self-signed root the server sends itself"
        openssl_says = "'self-signed certificate in certificate chain'."
    elif top.self_signed:
        how = "a self-signed root the server does not send (certdoctor downloaded it from an AIA URL)"
        openssl_says = "'unable to get local issuer certificate'."
    else:
        how = f"issued by {top.issuer!r}"
        openssl_says = "'unable to get local issuer certificate'."
    f.append(Finding(
        Code.UNTRUSTED_ROOT, Severity.ERROR,
        "The chain ends at a root your client does not trust (a private or unknown CA).",
        (f"certdoctor built the path up to {top.display_name!r}, {how}, and that root is not in {store}: "
         + openssl_says
         + (" requests reads certifi (or REQUESTS_CA_BUNDLE) only, never the OS store." if client == "requests" else "")),
        (f"chain top: {top.subject}", f"issuer: {top.issuer}", f"store: {store}")
        + ((f"root SHA-256 = {top.fingerprint_sha256}",) if top.self_signed else ()),
        ("If this is your organisation's CA: get its root from the CA's owner, check the fingerprint with them, then "
         "`certdoctor fix URL --out DIR --trust FINGERPRINT` (your trust + that root, never that root alone), or "
         "install it in the OS store and use `truststore.inject_into_ssl()`."),
        Actor.CLIENT_USER, None))


def certifi_removed(top: CertInfo) -> tuple[str, str] | None:
    for text in (top.issuer, top.subject):
        for part in text.split(","):
            if part.startswith("CN="):
                cn = part[3:].replace("\\", "")
                if cn in CERTIFI_REMOVED:
                    return cn, CERTIFI_REMOVED[cn]
    return None
