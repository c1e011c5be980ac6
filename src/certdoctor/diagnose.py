"""Why does *this* client fail on *this* URL? Chain + trust + path → findings, then proof.

The steps, each a separate module:

1. :mod:`certdoctor.trust.effective` — the store the chosen client really uses here, and why.
2. :mod:`certdoctor.net.probe` — one handshake that records the presented chain (no data sent).
3. :mod:`certdoctor.x509.path` — the path to an anchor, AIA chasing for missing intermediates,
   cryptography's RFC 5280 verifier as evidence.
4. Our own checks → :class:`~certdoctor.model.Finding` with stable codes.
5. The real client (requests, httpx, urllib, pip's stack) runs against the URL with exactly
   that trust; its outcome is the verdict. When our prediction and the client disagree, the
   client wins and a ``VERDICT_UNCONFIRMED`` finding says so.

    >>> d = diagnose("https://expired-leaf.lab.test:8443/", ca_file="lab-root.pem")  # doctest: +SKIP
    >>> [f.code.value for f in d.findings]                                             # doctest: +SKIP
    ['EXPIRED']
"""

from __future__ import annotations


import datetime as _dt
import ipaddress
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.model import CLIENTS, Actor, CertInfo, ChainInfo, Code, Finding, Severity
from certdoctor.net.client import ClientOutcome, run_client  # re-exported: diagnose's results
from certdoctor.net.proxy import effective_proxy, proxy_for_host  # noqa: F401 (old home)
from certdoctor.net.target import Target, parse_target  # also importable from here, as before

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.x509.path import PathResult
    from certdoctor.net.probe import ProbeResult
    from certdoctor.trust.effective import EffectiveTrust

EXPIRING_DAYS = policy.EXPIRING_SOON_DAYS
CLOCK_SKEW_LIMIT = policy.CLOCK_SKEW

# Issuer names of TLS-inspecting products (catalogue §10.2). Matched case-insensitively.
INTERCEPTOR_NAMES = (
    "zscaler", "netskope", "fortinet", "fortigate", "palo alto", "paloalto", "cisco umbrella",
    "forcepoint", "sophos", "blue coat", "bluecoat", "symantec web", "mcafee web gateway",
    "websense", "checkpoint", "check point", "mitmproxy", "charles proxy", "fiddler",
    "portswigger", "burp", "proxyman", "globalprotect", "kaspersky", "avast", "eset ssl",
)

# Roots certifi removed (catalogue §2 ROOT_REMOVED_FROM_BUNDLE, checked tag by tag).
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


# --------------------------------------------------------------------------- results

@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The whole story of one endpoint for one client.

    ``verifies`` is the real client's verdict (``None`` when it could not be run).
    ``chain`` and ``path`` are ``None`` when no chain was received.
    """

    target: Target
    client: str
    python: str
    trust: "EffectiveTrust"
    probe: "ProbeResult"
    chain: ChainInfo | None
    path: "PathResult | None"
    findings: tuple[Finding, ...]
    outcome: ClientOutcome | None
    verifies: bool | None
    now: _dt.datetime

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def primary(self) -> Finding | None:
        """The finding that explains the failure best (the first error, else the first warning)."""
        ranked = sorted(self.findings, key=lambda f: -f.severity.rank)
        return ranked[0] if ranked else None

    @property
    def ok(self) -> bool:
        return bool(self.verifies) and not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- checks

def _strict_violations(path: Sequence[CertInfo], certs: Sequence) -> list[tuple[int, str]]:
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


def _role(index: int, total: int, info: CertInfo) -> str:
    if index == 0:
        return "the leaf"
    if info.self_signed:
        return "the root"
    return "the intermediate" if total <= 3 else f"intermediate #{index}"


def _who(info: CertInfo) -> str:
    return f"{info.display_name!r} (serial {info.serial}, SHA-256 {info.fingerprint_sha256[:23]}…)"


def _trust_label(trust: "EffectiveTrust") -> str:
    where = trust.cafile or trust.capath or ("the OS store" if trust.uses_os_store else "?")
    return f"{where} ({trust.source})"


def _check_validity(path, now, warn_days, f: list[Finding]) -> None:
    total = len(path)
    for i, info in enumerate(path):
        role = _role(i, total, info)
        if info.expired:
            f.append(Finding(
                Code.EXPIRED, Severity.ERROR,
                f"{role.capitalize()} certificate expired {-(info.days_left)} day(s) ago.",
                (f"{role.capitalize()} {_who(info)} was valid until {info.not_after:%Y-%m-%d %H:%M} UTC. "
                 "OpenSSL refuses every chain that contains an expired certificate, with "
                 "'certificate has expired'. If every site fails the same way, check the client's clock instead."),
                (f"notAfter = {info.not_after.isoformat()}", f"now = {now.isoformat()}", f"subject = {info.subject}"),
                ("The server's operator must renew it: " + (
                    "issue a new leaf certificate (automate it, e.g. certbot/ACME)."
                    if i == 0 else "replace the expired CA certificate in the served chain file with the CA's current one.")),
                Actor.SERVER_OPERATOR, i))
        elif info.not_yet_valid:
            f.append(Finding(
                Code.NOT_YET_VALID, Severity.ERROR,
                f"{role.capitalize()} certificate is not valid before {info.not_before:%Y-%m-%d %H:%M} UTC.",
                (f"{role.capitalize()} {_who(info)} starts being valid in the future. Either it was issued with a "
                 "future notBefore, or this machine's clock is behind."),
                (f"notBefore = {info.not_before.isoformat()}", f"now = {now.isoformat()}"),
                "Check this machine's clock (timedatectl set-ntp true). If the clock is right, the server's "
                "operator must reissue the certificate with notBefore in the past (backdate a few minutes).",
                Actor.SERVER_OPERATOR, i))
        elif 0 <= info.days_left < warn_days:
            f.append(Finding(
                Code.EXPIRING_SOON, Severity.WARNING,
                f"{role.capitalize()} certificate expires in {info.days_left} day(s).",
                f"{role.capitalize()} {_who(info)} expires on {info.not_after:%Y-%m-%d}.",
                (f"notAfter = {info.not_after.isoformat()}",),
                "Renew it now and make renewal automatic (ACME/certbot); monitor with `certdoctor expiry`.",
                Actor.SERVER_OPERATOR, i))


def _check_hostname(leaf: CertInfo, name: str, client: str, f: list[Finding]) -> None:
    ip = _is_ip(name)
    if not leaf.san_dns and not leaf.san_ip:
        cn_ok = (leaf.common_name or "").lower() == name.lower()
        refuses = client in ("requests", "pip") or not cn_ok
        f.append(Finding(
            Code.NO_SAN, Severity.ERROR if refuses else Severity.WARNING,
            "The certificate has no subjectAltName; its name is only in the Common Name.",
            ("Since urllib3 2.0, requests (and pip) match names against the SAN only and refuse this certificate "
             "with 'Hostname mismatch'; httpx, urllib and aiohttp still fall back to the CN, so the same "
             "certificate passes in one client and fails in another. Every public CA has required SANs since 2017."),
            (f"subject = {leaf.subject}", "subjectAltName: absent", f"client = {client}"),
            f"The server's operator must reissue the certificate with subjectAltName = DNS:{name}.",
            Actor.SERVER_OPERATOR, 0))
        return
    if leaf.covers_host(name):
        return
    covered = [*leaf.san_dns, *leaf.san_ip]
    detail = ""
    if ip and name in leaf.san_dns:
        detail = (f" The IP {name} is written as a DNS name in the SAN; an IP URL only matches an "
                  "iPAddress SAN entry.")
    elif ip:
        detail = f" The URL uses the IP address {name}, which only matches iPAddress SAN entries."
    else:
        for pat in leaf.san_dns:
            if pat.startswith("*.") and name.endswith(pat[1:]):
                detail = (f" {pat!r} covers exactly one label: '{name}' has more labels than the wildcard "
                          "covers (RFC 6125).")
                break
            if pat.startswith("*.") and name == pat[2:]:
                detail = f" {pat!r} does not cover the bare domain {name!r}."
                break
    f.append(Finding(
        Code.HOSTNAME_MISMATCH, Severity.ERROR,
        f"The certificate is not valid for {name!r}.",
        (f"The client checks the name it connects to against the certificate's subjectAltName, and {name!r} "
         f"is not among {', '.join(covered) or '(none)'}.{detail}"),
        (f"requested name = {name}", f"SAN = {', '.join(covered)}", f"subject = {leaf.subject}"),
        ("Connect with a name the certificate covers, or have the server's operator reissue it with "
         f"{'IP:' if ip else 'DNS:'}{name} in the subjectAltName. Never turn off check_hostname."),
        Actor.SERVER_OPERATOR, 0))


def _check_crypto(path, anchor_index: int | None, f: list[Finding]) -> None:
    total = len(path)
    for i, info in enumerate(path):
        role = _role(i, total, info)
        is_anchor = anchor_index is not None and i == anchor_index
        if not is_anchor and (info.signature_hash or "").lower() in ("sha1", "md5", "md2", "md4"):
            f.append(Finding(
                Code.WEAK_SIGNATURE, Severity.ERROR,
                f"{role.capitalize()} certificate is signed with {info.signature_hash.upper()}.",
                ("At OpenSSL security level 2, which Python uses, signatures with SHA-1 (or MD5) on certificates "
                 "in the chain are refused: 'CA signature digest algorithm too weak'. (The self-signature of a "
                 "trusted root itself does not matter.)"),
                (f"signatureAlgorithm = {info.signature_algorithm}", f"subject = {info.subject}"),
                "The server's operator must reissue the certificate with SHA-256.",
                Actor.SERVER_OPERATOR, i))
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
                Actor.SERVER_OPERATOR, i))
    leaf = path[0]
    if leaf.extended_key_usage is not None and not (
        {"serverAuth", "anyExtendedKeyUsage"} & set(leaf.extended_key_usage)
    ):
        f.append(Finding(
            Code.WRONG_EKU, Severity.ERROR,
            "The leaf certificate is not issued for TLS servers (no serverAuth EKU).",
            ("Its extendedKeyUsage lists only " + ", ".join(leaf.extended_key_usage) +
             "; OpenSSL refuses it for a server with 'unsuitable certificate purpose'."),
            (f"extendedKeyUsage = {', '.join(leaf.extended_key_usage)}",),
            "The server's operator must use a certificate with extendedKeyUsage = serverAuth.",
            Actor.SERVER_OPERATOR, 0))


def _check_presentation(chain: ChainInfo, f: list[Finding]) -> None:
    if chain.off_path:
        names = [f"#{i} {chain.certs[i].display_name!r}" for i in chain.off_path]
        f.append(Finding(
            Code.CHAIN_EXTRA_CERT, Severity.WARNING,
            f"The server sends {len(chain.off_path)} certificate(s) that are not on its leaf's path.",
            ("OpenSSL ignores certificates it cannot use, so Python clients still work, but stricter clients "
             "(Java, some TLS 1.2 stacks) may not, and it wastes bytes in every handshake."),
            tuple(f"not on the path: {n} (issuer {chain.certs[int(n.split()[0][1:])].issuer})" for n in names),
            "The server's operator should serve only leaf + intermediates: `certdoctor convert chain.pem "
            "full_chain.pem --order` writes the right file.",
            Actor.SERVER_OPERATOR, None))
    on_path = chain.path
    if len(on_path) > 1 and tuple(on_path) != tuple(range(len(on_path))):
        f.append(Finding(
            Code.CHAIN_ORDER, Severity.WARNING,
            "The server sends its chain in the wrong order.",
            ("TLS expects leaf first, then each issuer in turn. OpenSSL builds the path from an unordered pool, "
             "so Python tolerates it; strict peers may not."),
            (f"sent order: {', '.join(c.display_name for c in chain.certs)}",
             f"right order: {', '.join(chain.certs[i].display_name for i in on_path)}"),
            "Serve leaf, then intermediates, in that order: `certdoctor convert chain.pem full_chain.pem --order`.",
            Actor.SERVER_OPERATOR, None))


def _interceptor_hint(infos: Sequence[CertInfo]) -> str | None:
    for info in infos:
        for text in (info.issuer, info.subject):
            low = text.lower()
            for name in INTERCEPTOR_NAMES:
                if name in low:
                    return text
    return None


def _canary_same_root(top: CertInfo, proxy: str, timeout: float) -> str | None:
    """Probe another host through the same proxy: if the same root signs it too, it intercepts."""
    from certdoctor.net.probe import probe

    for host in ("pypi.org", "www.python.org"):
        try:
            res = probe(host, 443, proxy=proxy, timeout=min(timeout, 3.0))
        except Exception:
            continue
        if res.failure is not None or not res.chain_der:
            continue
        infos = [CertInfo.from_certificate(c) for c in res.certificates()]
        if any(i.issuer == top.issuer or i.subject == top.subject or i.issuer == top.subject for i in infos):
            return host
    return None


def _check_trust(
    chain: ChainInfo, path: "PathResult", trust: "EffectiveTrust", client: str, python: str,
    proxy: str | None, timeout: float, f: list[Finding],
) -> None:
    leaf = chain.certs[0]
    store = _trust_label(trust)
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
    intercept_name = _interceptor_hint(infos)
    via = proxy
    canary = _canary_same_root(top, proxy, timeout) if proxy else None
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

    removed = _certifi_removed(top)
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

    if top is leaf and not leaf.self_signed:
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


def _certifi_removed(top: CertInfo) -> tuple[str, str] | None:
    for text in (top.issuer, top.subject):
        for part in text.split(","):
            if part.startswith("CN="):
                cn = part[3:].replace("\\", "")
                if cn in CERTIFI_REMOVED:
                    return cn, CERTIFI_REMOVED[cn]
    return None


def _check_strict(path: "PathResult", python: str, client: str, f: list[Finding]) -> None:
    certs = [p.certificate() for p in path.path]
    violations = _strict_violations(path.path, certs)
    if not violations or client == "pip":
        return
    strict_now = python == "3.13"
    for i, rule in violations:
        info = path.path[i]
        role = _role(i, len(path.path), info)
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


def _check_pins(path: "PathResult", pins: Sequence[str], f: list[Finding]) -> None:
    wanted = {p.split("/", 1)[1] for p in pins}  # already canonical sha256/B64 (pin.parse_pins)
    seen = [c.spki_pin for c in path.path]
    if not wanted & set(seen):
        f.append(Finding(
            Code.PIN_MISMATCH, Severity.ERROR,
            "No certificate of the chain matches your pins.",
            ("The server presents keys none of which you pinned: either the server rotated its key without a backup "
             "pin, or someone in the middle presents a different (possibly valid) certificate."),
            tuple([f"expected: sha256/{w}" for w in sorted(wanted)] + [f"presented: sha256/{s} ({c.display_name})" for s, c in zip(seen, path.path)]),
            "Confirm with the server's operator which key is right; update the pins (`certdoctor pin URL`).",
            Actor.CLIENT_USER, None))


def _check_revocation(path: "PathResult", now, f: list[Finding], budget: float, stapled: bytes | None,
                      cache=None) -> None:
    if len(path.path) < 2:
        return
    leaf, issuer = path.path[0], path.path[1]
    if not (leaf.crl_urls or leaf.ocsp_urls or stapled):
        return
    try:
        from certdoctor.revocation import check as revocation
    except ImportError:  # pragma: no cover - built in parallel
        return
    try:
        result = revocation.check_revocation(
            leaf.certificate(), issuer.certificate(), policy="soft", now=now, budget=budget,
            timeout=min(3.0, budget), stapled=stapled, cache=cache,
        )
    except Exception as exc:  # a step that could not run is data
        f.append(Finding(Code.REVOCATION_UNKNOWN, Severity.WARNING, "Revocation could not be checked.",
                         str(exc), (), "Run `certdoctor revocation URL` for details.", Actor.NOBODY, 0))
        return
    finding = result.finding("soft")
    if finding is not None:
        f.append(finding)


# --------------------------------------------------------------------------- main entry

def diagnose(
    target: str,
    *,
    client: str = "requests",
    ca_file: str | None = None,
    python: str | None = None,
    proxy: str | None = None,
    servername: str | None = None,
    timeout: float = 10.0,
    now: _dt.datetime | None = None,
    environ=None,
    aia: bool = True,
    revocation: bool = True,
    pins: Sequence[str] = (),
    warn_days: int = EXPIRING_DAYS,
    cache=None,
    run_real_client: bool = True,
) -> Diagnosis:
    """Diagnose ``target`` for ``client`` in this environment. Never raises for server problems."""
    import os

    from certdoctor.net.aia import build_path  # the AIA chase, then the pure x509.path.build_path
    from certdoctor.net.probe import probe
    from certdoctor.trust.effective import effective_trust

    if client not in CLIENTS:
        raise UsageError(f"unknown client {client!r}", f"Choose one of: {', '.join(CLIENTS)}.")
    if python not in (None, "3.13", "current"):
        raise UsageError(f"--python {python!r} is not supported", "Use --python 3.13 (or leave it out).")
    env = os.environ if environ is None else environ
    if python is None or python == "current":
        python = "3.13" if sys.version_info >= (3, 13) else f"{sys.version_info[0]}.{sys.version_info[1]}"
    tgt = parse_target(target, servername)
    if pins:
        from certdoctor.pinning.pins import parse_pins

        pins = parse_pins(pins)  # a malformed pin is bad usage, before any connection
    trust = effective_trust(client, ca_file=ca_file, environ=env, python=python if python == "3.13" else None)
    used_proxy = effective_proxy(tgt.url, proxy, env)
    clock = now or _dt.datetime.now(_dt.timezone.utc)

    sni = None if _is_ip(tgt.servername) else tgt.servername
    res = probe(tgt.host, tgt.port, servername=sni, proxy=used_proxy, timeout=timeout, ocsp=revocation)
    findings: list[Finding] = list(trust.findings)
    chain = path = None
    if res.failure is not None:
        findings.append(res.failure)
    if res.chain_der:
        certs = res.certificates()
        chain = ChainInfo.analyse(certs, clock)
        anchors = trust.anchors()
        path = build_path(certs, anchors, host=tgt.servername, now=clock, aia=aia, cache=cache,
                          budget=min(8.0, timeout))
        _check_presentation(chain, findings)
        _check_validity(path.path, clock, warn_days, findings)
        _check_hostname(chain.certs[0], tgt.servername, client, findings)
        anchor_index = len(path.path) - 1 if path.trusted else None
        _check_crypto(path.path, anchor_index, findings)
        _check_trust(chain, path, trust, client, python, used_proxy, timeout, findings)
        _check_strict(path, python, client, findings)
        if pins:
            _check_pins(path, pins, findings)
        if revocation:
            _check_revocation(path, clock, findings, min(4.0, timeout), res.ocsp_staple, cache)

    outcome = None
    verifies: bool | None = None
    if run_real_client and (res.failure is None or res.chain_der):
        outcome = run_client(client, tgt.url, trust, python=python if python == "3.13" else None,
                             proxy=used_proxy, timeout=timeout)
        verifies = outcome.ok
        findings = _reconcile(findings, outcome, clock, now is not None)
    elif res.failure is not None:
        verifies = False  # nothing to hand to the client: the connection itself failed
    findings = _concrete_commands(findings, tgt.url, ca_file=ca_file, proxy=proxy, client=client,
                                  python=python if python == "3.13" else None, servername=servername)
    return Diagnosis(tgt, client, python, trust, res, chain, path, tuple(_dedupe(findings)), outcome,
                     verifies, clock)


def _concrete_commands(findings: list[Finding], url: str, **opts) -> list[Finding]:
    """Fill the URL and the options of this run into the commands a fix suggests, so they can
    be pasted as they are. The fingerprint stays a placeholder: it must be confirmed out of band."""
    import shlex

    extra = "".join(f" --{name.replace('_', '-')} {shlex.quote(str(value))}"
                    for name, value in opts.items() if value and not (name == "client" and value == "requests"))
    out = []
    for f in findings:
        text = f.fix
        for verb in ("fix", "pin", "revocation", "diagnose"):
            text = text.replace(f"`certdoctor {verb} URL", f"`certdoctor {verb} {shlex.quote(url)}"
                                + (extra if verb in ("fix", "diagnose") else ""))
        out.append(replace(f, fix=text) if text != f.fix else f)
    return out


def _reconcile(findings: list[Finding], outcome: ClientOutcome, clock, pinned_clock: bool) -> list[Finding]:
    """Make our verdict equal the client's: explain any disagreement, never hide it."""
    cert_errors = [f for f in findings if f.severity is Severity.ERROR and f.code not in (
        Code.REVOKED, Code.PIN_MISMATCH, Code.REVOCATION_UNKNOWN, Code.CA_BUNDLE_ENV)]
    out = list(findings)
    if outcome.http_date is not None:
        skew = clock - outcome.http_date
        if abs(skew) > CLOCK_SKEW_LIMIT:
            ahead = skew.total_seconds() > 0
            out.append(Finding(
                Code.CLOCK_SKEW, Severity.ERROR if cert_errors else Severity.WARNING,
                f"This machine's clock is {abs(skew)} {'ahead of' if ahead else 'behind'} the server's.",
                ("Certificate validity is judged by the client's clock. A clock that is wrong makes valid certificates "
                 "look expired (clock ahead) or not yet valid (clock behind), usually for every site."),
                (f"server Date: {outcome.http_date.isoformat()}", f"client clock: {clock.isoformat()}"),
                "Fix the clock: timedatectl set-ntp true (or start chronyd/ntpd, fix the VM time sync or RTC battery).",
                Actor.CLIENT_USER, None))
    if outcome.ok and cert_errors and not pinned_clock:
        out.append(Finding(
            Code.VERDICT_UNCONFIRMED, Severity.WARNING,
            f"{outcome.client} connected although certdoctor predicted a failure.",
            "certdoctor's own checks found an error the real client did not enforce; the client's result is the verdict.",
            tuple(f"predicted: {f.code.value}" for f in cert_errors),
            "Please report this with `certdoctor diagnose --json` output.", Actor.NOBODY, None))
    if not outcome.ok and not cert_errors and not any(
        f.severity is Severity.ERROR and f.code not in (Code.CA_BUNDLE_ENV,) for f in findings
    ):
        out.append(Finding(
            Code.VERDICT_UNCONFIRMED, Severity.ERROR,
            f"{outcome.client} fails, and certdoctor's checks do not explain why.",
            "The real client's error is below; certdoctor found no certificate problem that accounts for it.",
            (outcome.error or "",),
            "Please report this with `certdoctor diagnose --json` output.", Actor.NOBODY, None))
    if outcome.error:
        out = [replace(f, evidence=f.evidence + (f"{outcome.client} says: {outcome.error}",))
               if f.severity is Severity.ERROR and f is (cert_errors[0] if cert_errors else None) else f
               for f in out]
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen = set()
    out = []
    for f in findings:
        key = (f.code, f.summary, f.cert_index)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out
