"""Does the path reach the client's store, and if not, why: CHAIN_INCOMPLETE, UNTRUSTED_ROOT,
INTERCEPTING_PROXY, SELF_SIGNED, CERTIFI_OUTDATED.

The order of the questions is the order of the explanations a person needs: a path that reaches
the store but only over AIA is an incomplete chain; a path that does not is re-signed by a proxy
(a product's name in the chain, or the same root signing another host through the same proxy: the
canary, gathered as :class:`~certdoctor.evidence.CanaryProbe`), a self-signed leaf, a root certifi
removed (known by its key, :data:`CERTIFI_REMOVED`), a leaf whose issuer is missing (sent alone,
AIA absent, failing or off: CHAIN_INCOMPLETE naming that issuer), or a root the client does not
trust. An intermediate found over AIA under an untrusted root is both CHAIN_INCOMPLETE and
UNTRUSTED_ROOT.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor.checks._text import trust_label
from certdoctor.model import Actor, CertInfo, ChainInfo, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    import datetime as _dt

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

#: the rules of this module (``Finding.rule``), as listed in docs/JSON.md: what the store the user
#: gave holds when it reaches the path but is not a root
RULES = {
    "store_leaf_only": "the store holds the server's own leaf (verify='server.pem'), not the CA that issued it",
    "store_intermediate_only": "the store holds an intermediate of the path, not the root it chains to",
}


@dataclass(frozen=True, slots=True)
class RemovedRoot:
    """A root certifi removed: its name (for the words only), the certifi release without it, and
    its subject key identifier (``AA:BB…``; ``None`` when the root has none)."""

    name: str
    removed_in: str
    ski: str | None


#: Roots certifi removed (catalogue §2 ROOT_REMOVED_FROM_BUNDLE), keyed by the SHA-256 of their
#: SubjectPublicKeyInfo (hex), with the certifi release that removed them. Computed from the real
#: certificates in the cacert.pem of the certifi release named in each comment (the oldest of
#: 2021.10.8, 2022.9.24, 2023.5.7, 2024.8.30, 2025.1.31, 2025.11.12 and 2026.1.4 that holds it;
#: each root has one key in all of them, and none is in certifi 2026.10.19). Never by name: a
#: private root called "DigiCert Global Root CA" is just a private root. (Hongkong Post Root CA 1
#: has no subject key identifier: only the root itself is recognised, by its key.)
CERTIFI_REMOVED: dict[str, RemovedRoot] = {
    "563b3caf8cfef34c2335caf560a7a95906e8488462eb75ac59784830df9e5b2b":
        RemovedRoot('DST Root CA X3', "2022.05.18", 'C4:A7:B1:A4:7B:2C:71:FA:DB:E1:4B:90:75:FF:C4:15:60:85:89:10'),  # certifi 2021.10.8
    "ea87f462deefffbd7775aa2a4b7e0fcb91c22eee6df69ed90100ccc73b311476":
        RemovedRoot('TrustCor RootCert CA-1', "2022.12.07", 'EE:6B:49:3C:7A:3F:0D:E3:B1:09:B7:8A:C8:AB:19:9F:73:33:50:E7'),  # certifi 2021.10.8
    "c63d68c648a18b77641c427a669d61c9768a55f4fcd0322eac96c57700299cf1":
        RemovedRoot('TrustCor RootCert CA-2', "2022.12.07", 'D9:FE:21:40:6E:94:9E:BC:9B:3D:9C:7D:98:20:19:E5:8C:30:62:B2'),  # certifi 2021.10.8
    "7afe4b071a2f1f46f8ba944a26d584d5960b92fb48c3ba1b7cab84905f32aacd":
        RemovedRoot('TrustCor ECA-1', "2022.12.07", '44:9E:48:F5:CC:6D:48:D4:A0:4B:7F:FE:59:24:2F:83:97:99:9A:86'),  # certifi 2021.10.8
    "32d180ed31c935589ec9dbbb722123b883b5fc2dc10f9fca3a95d77e1bfcb534":
        RemovedRoot('Network Solutions Certificate Authority', "2022.12.07", '21:30:C9:FB:00:D7:4E:98:DA:87:AA:2A:D0:A7:2E:B1:40:31:A7:4C'),  # certifi 2021.10.8
    "c1ad1b1898ec395048df070bfa217e25c913bed8ca6b73de085528846a0103c1":
        RemovedRoot('E-Tugra Certification Authority', "2023.07.22", '2E:E3:DB:B2:49:D0:9C:54:79:5C:FA:27:2A:FE:CC:4E:D2:E8:4E:54'),  # certifi 2021.10.8
    "36c22314131a5fbf1b70ea4ccf4bc13a777d938ec65e1da24e3c2cfd01d3d163":
        RemovedRoot('Hongkong Post Root CA 1', "2023.07.22", None),  # certifi 2021.10.8
    "fee8af929175687f4638a3fc983db8ecd0e5e2a83e737f3fb77b4c22fcbac0a6":
        RemovedRoot('GLOBALTRUST 2020', "2025.08.03", 'DC:2E:1F:D1:61:37:79:E4:AB:D5:D5:B3:12:71:68:3D:6A:68:9C:22'),  # certifi 2021.10.8
    "36d7c79f3d089a0ff79972d90923dea5ca76b4ccbaf7c2751cb152e9494f52d0":
        RemovedRoot('Entrust Root Certification Authority - G4', "2024.12.14", '9F:38:C4:56:23:C3:39:E8:A0:71:6C:E8:54:4C:E4:E8:3A:B1:BF:67'),  # certifi 2021.10.8
    "bb4128ec9620f2d2a49ce8e2c4e257aebad93a0f11c56b5fa4b00e23759fa39d":
        RemovedRoot('SecureSign RootCA11', "2024.12.14", '5B:F8:4D:4F:B2:A5:86:D4:3A:D2:F1:63:9A:A0:BE:09:F6:57:B7:DE'),  # certifi 2021.10.8
    "d3980aadd21638c70d74a4bb1f8ab5e11724e62ed408f9fa8d3d4d916900286b":
        RemovedRoot('Security Communication RootCA3', "2024.12.14", '64:14:7C:FC:58:72:16:A6:0A:29:34:15:6F:2A:CB:BC:FC:AF:A8:AB'),  # certifi 2022.9.24
    "1ea3c5e43ed66c2da2983a42a4a79b1e906786ce9f1b58621419a00463a87d38":
        RemovedRoot('Entrust.net Certification Authority (2048)', "2025.04.26", '55:E4:81:D1:11:80:BE:D8:89:B9:08:A3:31:F9:A1:24:09:16:B9:70'),  # certifi 2021.10.8
    "2bcee858158cf5465fc9d76f0dfa312fef25a4dca8501da9b46b67d1fbfa1b64":
        RemovedRoot('GlobalSign Root CA', "2025.04.26", '60:7B:66:1A:45:0D:97:CA:89:50:2F:7D:04:CD:34:A8:FF:FC:FD:4B'),  # certifi 2021.10.8
    "63d9af9b47b1064d49a10e7b7fd566dbc8caa399459bfc2829c571ad8c6ef34a":
        RemovedRoot('Baltimore CyberTrust Root', "2025.04.26", 'E5:9D:59:30:82:47:58:CC:AC:FA:08:54:36:86:7B:3A:B5:04:4D:F0'),  # certifi 2021.10.8
    "bd153ed7b0434f6886b17bce8bbe84ed340c7132d702a8f4fa318f756ecbd6f3":
        RemovedRoot('AAA Certificate Services', "2025.04.26", 'A0:11:0A:23:3E:96:F1:07:EC:E2:AF:29:EF:82:A5:7F:D0:30:A4:B4'),  # certifi 2021.10.8
    "5632d97bfa775bf3c99ddea52fc2553410864016729c52dd6524c8a9c3b4489f":
        RemovedRoot('Go Daddy Class 2 Certification Authority', "2025.04.26", 'D2:C4:B0:D2:91:D4:4C:11:71:B3:61:CB:3D:A1:FE:DD:A8:6A:D4:E3'),  # certifi 2021.10.8
    "15f14ac45c9c7da233d3479164e8137fe35ee0f38ae858183f08410ea82ac4b4":
        RemovedRoot('Starfield Class 2 Certification Authority', "2025.04.26", 'BF:5F:B7:D1:CE:DD:1F:86:F4:5B:55:AC:DC:D7:10:C2:0E:A9:88:E7'),  # certifi 2021.10.8
    "051cf9fa95e40e9b83edaeda6961f6168c7879c4660172479cdd51ab03cea62b":
        RemovedRoot('XRamp Global Certification Authority', "2025.04.26", 'C6:4F:A2:3D:06:63:84:09:9C:CE:62:E4:04:AC:8D:5C:B5:E9:B6:1B'),  # certifi 2021.10.8
    "6dbfae00d37b9cd73f8fb47de65917af00e0dddf42dbceac20c17c0275ee2095":
        RemovedRoot('Entrust Root Certification Authority', "2026.01.04", '68:90:E4:67:A4:A6:53:80:C7:86:66:A4:F1:F7:4B:43:FB:84:BD:6D'),  # certifi 2021.10.8
    "76ee8590374c715437bbca6bba6028eadde2dc6dbbb8c3f610e851f11d1ab7f5":
        RemovedRoot('Entrust Root Certification Authority - G2', "2026.01.04", '6A:72:26:7A:D0:1E:EF:7D:E7:3B:69:51:D4:6C:8D:9F:90:12:66:AB'),  # certifi 2021.10.8
    "fea2b7d645fba73d753c1ec9a7870c40e1f7b0c561e927b985bf711866e36f22":
        RemovedRoot('Entrust Root Certification Authority - EC1', "2026.01.04", 'B7:63:E7:1A:DD:8D:E9:08:A6:55:83:A4:E0:6A:50:41:65:11:42:49'),  # certifi 2021.10.8
    "6c464b9a5b233a5e874da765c26f045010d2ddcff45794f0b4c7e4aafa501495":
        RemovedRoot('AffirmTrust Commercial', "2026.01.04", '9D:93:C6:53:8B:5E:CA:AF:3F:9F:1E:0F:E5:99:95:BC:24:F6:94:8F'),  # certifi 2021.10.8
    "94072ad3f58f70f93098e5a5f6c04c96c710bd849d83184919ae90eb890ae400":
        RemovedRoot('AffirmTrust Networking', "2026.01.04", '07:1F:D2:E7:9C:DA:C2:6E:A2:40:B4:B0:7A:50:10:50:74:C4:C8:BD'),  # certifi 2021.10.8
    "c7f43b4cf5b71568294f822b53762605f6ddd15cadece739e9e2c3cba61e9d67":
        RemovedRoot('AffirmTrust Premium', "2026.01.04", '9D:C0:67:A6:0C:22:D9:26:F5:45:AB:A6:65:52:11:27:D8:45:AC:63'),  # certifi 2021.10.8
    "3219b09114ff495a3eb6eb00c2efeab34002ae5f0a56c7679ea087a3fa037e4f":
        RemovedRoot('AffirmTrust Premium ECC', "2026.01.04", '9A:AF:29:7A:C0:11:35:35:26:51:30:00:C3:6A:FE:40:D5:AE:D6:3C'),  # certifi 2021.10.8
    "aff988906dde12955d9bebbf928fdcc31cce328d5b9384f21c8941ca26e20391":
        RemovedRoot('DigiCert Global Root CA', "2026.04.22", '03:DE:50:35:56:D1:4C:BB:66:F0:A3:E2:1B:1B:C3:97:B2:3D:D1:55'),  # certifi 2021.10.8
    "5a889647220e54d6bd8a16817224520bb5c78e58984bd570506388b9de0f075f":
        RemovedRoot('DigiCert High Assurance EV Root CA', "2026.04.22", 'B1:3E:C3:69:03:F8:BF:47:01:D4:98:26:1A:08:02:EF:63:64:2B:C3'),  # certifi 2021.10.8
    "23f2edff3ede90259a9e30f40af8f912a5e5b3694e6938440341f6060e014ffa":
        RemovedRoot('DigiCert Assured ID Root CA', "2026.04.22", '45:EB:A2:AF:F4:92:CB:82:31:2D:51:8B:A7:A7:21:9D:F3:6D:C8:0F'),  # certifi 2021.10.8
    "006d7be7555dd82026442c4f1a27a80e89a1989cb87b34448ed2194c18196d5e":
        RemovedRoot('COMODO Certification Authority', "2026.04.22", '0B:58:E5:8B:C6:4C:15:37:A4:40:A9:30:A9:21:BE:47:36:5A:56:FF'),  # certifi 2021.10.8
    "8fd112c3c8370f147d5ccd3a7d865eb8dd540783bac69fc60088e3743ff33378":
        RemovedRoot('QuoVadis Root CA 2', "2026.04.22", '1A:84:62:BC:48:4C:33:25:04:D4:EE:D0:F6:03:C4:19:46:D1:94:6B'),  # certifi 2021.10.8
    "0c7acaa710226720bbc940349ee2e6148652a89dbf406a232c895f6dc78ebb9a":
        RemovedRoot('QuoVadis Root CA 3', "2026.04.22", 'F2:C0:13:E0:82:43:3E:FB:EE:2F:67:32:96:35:5C:DB:B8:CB:02:D0'),  # certifi 2021.10.8
    "55f77de41c03792428f8d518c55104225be43a5598d926a528ad653e1ccec7bf":
        RemovedRoot('GTS Root R2', "2026.04.22", 'BB:FF:CA:8E:23:9F:4F:99:CA:DB:E2:68:A6:A5:15:27:17:1E:D9:0E'),  # certifi 2021.10.8
    "77290717614b25f12964ebdb38b5f83caadc0f6c36b0777f880fc6dee1d339cc":
        RemovedRoot('SecureTrust CA', "2026.04.22", '42:32:B6:16:FA:04:FD:FE:5D:4B:7A:C3:FD:F7:4C:40:1D:5A:43:AF'),  # certifi 2021.10.8
    "2596904dc4d699ae20c2cef4dce47f285937d77464ac370746f52dea76ba0c28":
        RemovedRoot('Secure Global CA', "2026.04.22", 'AF:44:04:C2:41:7E:48:83:DB:4E:39:02:EC:EC:84:7A:E6:CE:C9:A4'),  # certifi 2021.10.8
    "40fcfc28875dccbfebcbdf6cd7433312da63c4efcf3bd7b1b505c22020ae0274":
        RemovedRoot('SwissSign Gold CA - G2', "2026.04.22", '5B:25:7B:96:A4:65:51:7E:B8:39:F3:C0:78:66:5E:E8:3A:E7:F0:EE'),  # certifi 2021.10.8
    "510d20e5c47f63cf666b20f61af62bc099a42ac824ffa443a2da7c90b1808a91":
        RemovedRoot('Certigna', "2026.04.22", '1A:ED:FE:41:39:90:B4:24:59:BE:01:F2:52:D5:45:F6:5A:39:DC:11'),  # certifi 2021.10.8
}


def check(ctx: "Context") -> list[Finding]:
    if ctx.chain is None or ctx.path is None or not ctx.chain.certs:
        return []
    ev = ctx.evidence
    f: list[Finding] = []
    if _issuer_there_but_did_not_sign(ctx):
        # x509rules' MALFORMED_CERT signature_does_not_verify: nothing is missing, nothing untrusted —
        # unless the evidence proves who forged it (a proxy re-signing under the real CA's name)
        intercepted = _interception(ctx.chain, ctx.path, trust_label(ev.trust.description), ev.options.proxy,
                                    ev.canary, ctx.now)
        return [intercepted] if intercepted is not None else f
    _check_trust(ctx.chain, ctx.path, ev.trust.description, ev.client, ev.python, ev.options.proxy, ev.canary, f,
                 ev.options.aia, _anchor_names(ev.trust.anchors()), now=ctx.now)
    return _not_intercepted(f, ctx.chain, ev.options.proxy, ev.canary)


def _issuer_there_but_did_not_sign(ctx: "Context") -> bool:
    """The path stops at a certificate whose issuer (by name and key identifier, a CA with a key
    that can be read) is sent or in the store, yet did not sign it: a forged or altered signature,
    OpenSSL's 'certificate signature failure'. Then no issuer is missing and no root is untrusted
    (the same test as x509rules' ``signature_does_not_verify``)."""
    from certdoctor.model import issued_by
    from certdoctor.x509.path import can_issue

    path = ctx.path
    top = path.top
    if path.trusted or top is None or top.self_signed:
        return False
    top_cert = top.certificate()
    for c in list(ctx.certs) + list(ctx.evidence.trust.anchors()):
        if c.subject != top_cert.issuer or issued_by(top_cert, c):
            continue  # one that did sign it and is not on the path was refused as an issuer (not_ca)
        try:
            c.public_key()
            info = CertInfo.from_certificate(c)
        except Exception:  # a key that cannot be read is MALFORMED_CERT unparsable_public_key's case
            continue
        if info.fingerprint_sha256 == top.fingerprint_sha256 or not can_issue(c):
            continue
        if top.aki and info.ski and top.aki != info.ski:
            continue  # another key of the same name (a re-keyed CA): its issuer is missing
        return True
    return False


def _anchor_names(anchors: "Iterable[x509.Certificate]") -> tuple[tuple[str, str], ...]:
    """(subject, SHA-256) of the anchors the evidence carries (those named by a certificate seen)."""
    from certdoctor.model import fingerprint_sha256

    out = []
    for a in anchors:
        try:
            out.append((a.subject.rfc4514_string(), fingerprint_sha256(a)))
        except Exception:  # a name that cannot be written is no name to compare
            continue
    return tuple(out)


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
        if (probe.via_proxy and not probe.same_target and probe.error is None and probe.chain_der
                and signs_alike(top, probe.certificates())):
            return probe.host
    return None


# --------------------------------------------------------------------------- interception, proven offline

def _issuer_cert(leaf: "x509.Certificate", pool: "Iterable[x509.Certificate]") -> "x509.Certificate | None":
    """The certificate of ``pool`` whose key signed ``leaf`` (names chain, signature verifies)."""
    from certdoctor.model import issued_by

    for c in pool:
        if c is not leaf and issued_by(leaf, c):
            return c
    return None


def _aki(cert: "x509.Certificate") -> bytes | None:
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except Exception:  # absent, or unreadable: no identifier to compare
        return None


def same_signer(a: "Sequence[x509.Certificate]", b: "Sequence[x509.Certificate]") -> bool:
    """Was the leaf of chain ``a`` signed by the key that signed the leaf of chain ``b``?

    By signature when either chain carries the issuer of its leaf (what an interceptor cannot
    fake: the real CA's key); else by the issuer's name and, when both leaves name one, the
    authority key identifier. Two certificates of one CA (a load balancer's nodes, a renewal in
    progress) have the same signer; a re-signing proxy's leaf has its own."""
    if not a or not b:
        return False
    leaf_a, leaf_b = a[0], b[0]
    pool = list(a[1:]) + list(b[1:])
    issuer = _issuer_cert(leaf_a, pool)
    if issuer is not None:
        return _issuer_cert(leaf_b, [issuer]) is not None
    issuer = _issuer_cert(leaf_b, pool)
    if issuer is not None:
        return False  # b's issuer is in hand and did not sign a
    if leaf_a.issuer != leaf_b.issuer:
        return False
    aki_a, aki_b = _aki(leaf_a), _aki(leaf_b)
    return aki_a is None or aki_b is None or aki_a == aki_b


def _parsed(certs: "Iterable[x509.Certificate]") -> list[CertInfo]:
    out = []
    for c in certs:
        try:
            out.append(CertInfo.from_certificate(c))
        except Exception:  # a certificate that breaks when read is no evidence
            continue
    return out


def chain_lines(label: str, certs: "Sequence[x509.Certificate]") -> tuple[str, ...]:
    """One evidence line per certificate: subject, issuer, SPKI SHA-256 (the key) and SHA-256."""
    return tuple(f"{label} [{i}] {c.subject} — issued by {c.issuer} — SPKI sha256/{c.spki_pin} — "
                 f"SHA-256 {c.fingerprint_sha256}" for i, c in enumerate(_parsed(certs)))


def direct_probe(canaries: Sequence["CanaryProbe"]) -> "CanaryProbe | None":
    """The direct connection to the target itself (made when a proxy was used), if there was one."""
    return next((p for p in canaries if p.same_target and not p.via_proxy), None)


def intercepted_by_proxy(presented: "Sequence[x509.Certificate]", direct: "CanaryProbe | None") -> bool | None:
    """Does the direct connection prove the proxy re-signs the target? ``True``: directly, the
    target's leaf is signed by another key than the one seen through the proxy; ``False``: the
    same signer both ways (the proxy passes the site's own chain through: not interception);
    ``None``: nothing to compare (no direct connection, or it failed: a firewall proves nothing)."""
    if direct is None or direct.error is not None or not direct.chain_der or not presented:
        return None
    seen = direct.certificates()
    if not seen:
        return None
    return not same_signer(presented, seen)


def freshly_minted(leaf: CertInfo, now: "_dt.datetime | None") -> bool:
    """A leaf minted minutes ago (notBefore within :data:`policy.FRESH_LEAF` of ``now``) with a
    short lifetime (at most :data:`policy.SHORT_LIFETIME`): what an interceptor mints on the fly."""
    from certdoctor import policy

    if now is None:
        return False
    return (abs(now - leaf.not_before) <= policy.FRESH_LEAF
            and leaf.not_after - leaf.not_before <= policy.SHORT_LIFETIME)


def transparent_canary(presented: "Sequence[x509.Certificate]", canaries: Sequence["CanaryProbe"],
                       ) -> "CanaryProbe | None":
    """The first canary reached directly (no proxy) whose own, short-lived leaf — another
    certificate than the target's — was signed by the key that signed the target's leaf."""
    from certdoctor import policy

    if not presented:
        return None
    own = _parsed(presented[:1])
    for probe in canaries:
        if probe.via_proxy or probe.same_target or probe.error is not None or not probe.chain_der:
            continue
        certs = probe.certificates()
        info = _parsed(certs[:1])
        if not certs or not info or (own and info[0].fingerprint_sha256 == own[0].fingerprint_sha256):
            continue
        if info[0].not_after - info[0].not_before > policy.SHORT_LIFETIME:
            continue
        if same_signer(certs, presented):
            return probe
    return None


def _interception(chain: ChainInfo, path: "PathResult", store: str, proxy: str | None,
                  canaries: Sequence["CanaryProbe"], now: "_dt.datetime | None") -> Finding | None:
    """INTERCEPTING_PROXY when the untrusted path is proven re-signed: a product's name in it;
    through a proxy, another host signed by the same root (canary) or the target's own chain,
    reached directly, from another signer; without a proxy, a leaf minted minutes ago whose
    signer also signs a canary host's fresh leaf (transparent interception)."""
    leaf = chain.certs[0]
    top = path.top or leaf
    presented = [c.certificate() for c in chain.certs]
    intercept_name = interceptor_hint(list(path.path))
    canary = canary_host(top, canaries) if proxy else None
    direct = direct_probe(canaries) if proxy else None
    by_direct = intercepted_by_proxy(presented, direct) is True
    fresh = not proxy and freshly_minted(leaf, now)
    transparent = transparent_canary(presented, canaries) if fresh else None
    if not (intercept_name or canary or by_direct or transparent):
        return None
    ev = [f"issuer = {top.issuer}", f"store: {store}"]
    if intercept_name:
        ev.append(f"the name {intercept_name!r} belongs to a TLS-inspecting product")
    if proxy:
        ev.append(f"connected through the proxy {proxy}")
    if canary:
        ev.append(f"through the same proxy, {canary} is signed by the same root: it re-signs every site")
    if by_direct and direct is not None:
        ev.append(f"directly (without the proxy), {direct.host}:{direct.port} presents a leaf signed by another "
                  "key than the one through the proxy: the proxy re-signs this site")
        ev += chain_lines("through the proxy:", presented)
        ev += chain_lines("directly:", direct.certificates())
    if transparent is not None:
        ev.append(f"no proxy is configured, yet the leaf was minted {_age(leaf, now)} ago and is valid for "
                  f"{_lifetime(leaf)}: minted on the fly")
        ev.append(f"{transparent.host}:{transparent.port} (another host, reached directly) presents a leaf signed by "
                  "the same key: a device on the network re-signs every site")
        ev += chain_lines(f"{chain.certs[0].display_name}:", presented)
        ev += chain_lines(f"{transparent.host}:{transparent.port}:", transparent.certificates())
    root_fp = top.fingerprint_sha256 if top.self_signed else None
    if transparent is not None and not (intercept_name or canary or by_direct):
        summary = "A transparent TLS-intercepting device re-signs this site with its own root (no proxy is configured)."
        where = ("minted on the fly by a device on the network path (a firewall or security product inspecting TLS "
                 "transparently: no proxy is configured)")
    else:
        summary = "A TLS-intercepting proxy re-signs this site with its own root."
        where = "minted on the fly by a network device (a corporate proxy or security product)"
    return Finding(
        Code.INTERCEPTING_PROXY, Severity.ERROR, summary,
        (f"The certificate you receive was not issued by the site's CA but {where}, signed by its own root. "
         f"That root is typically in the OS/browser store but not in {store}, so the client fails: "
         "'self-signed certificate in certificate chain' when the device sends its root, 'unable to get local "
         "issuer certificate' otherwise."),
        tuple(ev + ([f"proxy root SHA-256 = {root_fp}"] if root_fp else [])),
        ("Get the proxy's root from your IT/network team and check its fingerprint with them, then "
         "`certdoctor fix URL --out DIR --trust FINGERPRINT` (bundle = your trust + that root, for this client "
         "only), or use the OS store with `truststore.inject_into_ssl()`. Pointing verify= at the proxy root "
         "ALONE breaks every site the proxy does not intercept."),
        Actor.NETWORK_ADMIN, None)


def _age(leaf: CertInfo, now: "_dt.datetime | None") -> str:
    if now is None:
        return "?"
    return f"{max(0, int((now - leaf.not_before).total_seconds() // 60))} min"


def _lifetime(leaf: CertInfo) -> str:
    hours = (leaf.not_after - leaf.not_before).total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} h"


def _not_intercepted(f: list[Finding], chain: ChainInfo, proxy: str | None,
                     canaries: Sequence["CanaryProbe"]) -> list[Finding]:
    """Say on an UNTRUSTED_ROOT what the direct connection showed: the same signer both ways
    (the proxy is not the cause), or that it could not be made (nothing proven either way)."""
    direct = direct_probe(canaries) if proxy else None
    if direct is None:
        return f
    from dataclasses import replace

    verdict = intercepted_by_proxy([c.certificate() for c in chain.certs], direct)
    if verdict is False:
        line = (f"directly (without the proxy), {direct.host}:{direct.port} presents a leaf from the same signer: "
                "the proxy passes the site's own chain through, it does not re-sign it")
    elif verdict is None:
        line = (f"the direct connection to {direct.host}:{direct.port} (without the proxy) failed "
                f"({direct.error or 'no certificate'}): it proves nothing either way")
    else:
        return f
    return [replace(x, evidence=x.evidence + (line,)) if x.code is Code.UNTRUSTED_ROOT else x for x in f]


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
    proxy: str | None, canaries: Sequence["CanaryProbe"], f: list[Finding], aia_used: bool = True,
    anchors: Sequence[tuple[str, str]] = (), now: "_dt.datetime | None" = None,
) -> None:
    leaf = chain.certs[0]
    store = trust_label(trust)
    fetched_fps = {x.fingerprint_sha256 for x in path.fetched}
    anchor_fp = path.anchor.fingerprint_sha256 if path.anchor is not None else None
    # the intermediates the server should have sent: on the path, but only found over AIA (a root
    # need not be sent, and one from the store is not missing)
    not_sent = [p for p in path.path if p.fingerprint_sha256 in fetched_fps and not p.self_signed
                and p.fingerprint_sha256 != anchor_fp]
    if path.trusted:
        if not_sent:
            f.append(_fetched_intermediate(not_sent, path, store, reaches_store=True))
        if path.partial and not (python == "3.13"):
            f.append(_partial_store(path, leaf, store))
        return

    top = path.top or leaf
    infos = list(path.path)
    intercepted = _interception(chain, path, store, proxy, canaries, now)
    if intercepted is not None:
        f.append(intercepted)
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

    if not_sent:
        # the server leaves out an intermediate (certdoctor found it over AIA), AND the completed
        # path still does not reach the store: both are true, both are said (the fix is one bundle)
        f.append(_fetched_intermediate(not_sent, path, store, reaches_store=False))

    removed = certifi_removed(top)
    if removed is not None:
        root, how = removed
        f.append(Finding(
            Code.CERTIFI_OUTDATED, Severity.ERROR,
            f"The root {root.name!r} was removed from certifi {root.removed_in}.",
            ("Mozilla distrusted or retired this root and certifi removed it; browsers and the OS store may still "
             "accept it for a while. The server still chains to it."),
            (f"chain top: {top.subject}", f"issuer: {top.issuer}", f"known by key: {how}",
             f"certifi {trust.certifi_version or '?'} at {trust.certifi_path}"),
            ("The server's operator must move to a chain under a current root. Client stopgap: the OS store "
             "(`truststore.inject_into_ssl()`), or a bundle holding that root for this host only. Don't pin an old certifi."),
            Actor.SERVER_OPERATOR, None))
        return

    # the same certificate (path.top and chain.certs[0] are distinct CertInfo objects: compare by value)
    if top.fingerprint_sha256 == leaf.fingerprint_sha256 and not leaf.self_signed:
        f.append(_missing_issuer(leaf, path, store, aia_used, _same_name_lines(leaf, path, anchors)))
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
    unknown_issuer = () if top.self_signed else (
        (f"missing issuer: {top.issuer}" + (f" (authority key identifier {top.aki})" if top.aki else "")
         + ": neither sent nor in your store",)
        + _aia_lines(top, path, aia_used) + _not_ca_lines(path) + _same_name_lines(top, path, anchors))
    f.append(Finding(
        Code.UNTRUSTED_ROOT, Severity.ERROR,
        "The chain ends at a root your client does not trust (a private or unknown CA).",
        (f"certdoctor built the path up to {top.display_name!r}, {how}, and that root is not in {store}: "
         + openssl_says
         + (" requests reads certifi (or REQUESTS_CA_BUNDLE) only, never the OS store." if client == "requests" else "")
         + ("" if top.self_signed else
            f" (If {top.issuer!r} is not a root but another intermediate, the server must send it too: "
            "`certdoctor fix URL --out DIR --intermediate FILE` takes it once you have it.)")),
        (f"chain top: {top.subject}", f"issuer: {top.issuer}", f"store: {store}")
        + ((f"root SHA-256 = {top.fingerprint_sha256}",) if top.self_signed else ())
        + unknown_issuer,
        ("If this is your organisation's CA: get its root from the CA's owner, check the fingerprint with them, then "
         "`certdoctor fix URL --out DIR --trust FINGERPRINT` (your trust + that root, never that root alone), or "
         "install it in the OS store and use `truststore.inject_into_ssl()`."),
        Actor.CLIENT_USER, None))


def _partial_store(path: "PathResult", leaf: CertInfo, store: str) -> Finding:
    """UNTRUSTED_ROOT when the store holds a certificate of the path that is not a root: the
    server's own leaf (``verify='server.pem'``), or only an intermediate."""
    anchor = path.anchor
    why = ("Before Python 3.13, OpenSSL insists that the chain end at a self-signed root in the store; "
           "Python 3.13 sets VERIFY_X509_PARTIAL_CHAIN and accepts it. ")
    fix_cmd = ("`certdoctor fix URL --out DIR --trust ROOT_FINGERPRINT` writes a bundle = your trust + that root "
               "(and the intermediate), and proves it")
    if anchor is not None and anchor.fingerprint_sha256 == leaf.fingerprint_sha256:
        return Finding(
            Code.UNTRUSTED_ROOT, Severity.ERROR,
            "Your store holds the server's own certificate (the leaf), not the CA that issued it.",
            ("The file given as the trust store is the server's certificate itself (verify='server.pem'). A "
             "leaf is not a trust anchor: " + why + f"The client fails with 'unable to get local issuer "
             f"certificate', and the store trusts nothing else (not even the CA {leaf.issuer!r} that issued it)."),
            (f"your store holds: {leaf.subject} (SHA-256 {leaf.fingerprint_sha256}), the server's leaf",
             f"its issuer: {leaf.issuer}", f"store: {store}"),
            ("Trust the CA, not the server: get the root {0!r} chains to from its owner, check its fingerprint, then "
             + fix_cmd + "; pass that bundle as verify=.").format(leaf.issuer),
            Actor.CLIENT_USER, 0, rule="store_leaf_only")
    return Finding(
        Code.UNTRUSTED_ROOT, Severity.ERROR,
        "Your store holds an intermediate, not the root it chains to.",
        ("Trusting only an intermediate fails with 'unable to get issuer certificate'. " + why),
        (f"anchor found: {anchor.subject if anchor else '?'} (not self-signed)",
         f"its issuer: {anchor.issuer if anchor else '?'}", f"store: {store}"),
        ("Add the root CA (not only the intermediate) to the bundle you pass as verify=: once you checked the "
         "root's fingerprint with its owner, " + fix_cmd + "."),
        Actor.CLIENT_USER, None, rule="store_intermediate_only")


def _fetched_intermediate(not_sent: Sequence[CertInfo], path: "PathResult", store: str, *,
                          reaches_store: bool) -> Finding:
    """CHAIN_INCOMPLETE when certdoctor found the missing intermediate(s) over AIA."""
    urls = [a.url for a in path.aia_attempts if a.ok]
    if reaches_store:
        outcome = f"certdoctor fetched it and the completed chain reaches a root in {store}."
        client = ("Client, until then: `certdoctor fix URL --out DIR` writes a bundle = your trust + that "
                  "intermediate.")
    else:
        outcome = (f"certdoctor fetched it, but the completed chain still ends at a root that is not in {store} "
                   "(see UNTRUSTED_ROOT): the client needs both the intermediate and that root.")
        client = ("Client, until then: once you confirmed the root's fingerprint with its owner, "
                  "`certdoctor fix URL --out DIR --trust ROOT_FINGERPRINT` writes ONE bundle = your trust + the "
                  "intermediate + that root.")
    return Finding(
        Code.CHAIN_INCOMPLETE, Severity.ERROR,
        "The server does not send its intermediate certificate.",
        ("The server sends its leaf without the intermediate that issued it. Browsers download the missing "
         "certificate from the leaf's AIA 'CA Issuers' URL (that's why it works in Chrome); OpenSSL, and so "
         "every Python client, never does: 'unable to get local issuer certificate'. " + outcome),
        tuple([f"missing: {m.subject} (SHA-256 {m.fingerprint_sha256})" for m in not_sent]
              + [f"downloaded from {u}" for u in urls]),
        ("Server: serve the full chain (leaf + intermediates; nginx ssl_certificate full_chain.pem). " + client),
        Actor.SERVER_OPERATOR, 0)


def _aia_lines(cert: CertInfo, path: "PathResult", aia_used: bool) -> tuple[str, ...]:
    """What became of ``cert``'s AIA 'CA Issuers' URLs: not named, not used, or each download's result."""
    if not cert.ca_issuers_urls:
        return (f"AIA: {cert.display_name!r} names no 'CA Issuers' URL",)
    if not aia_used:
        return tuple(f"AIA {u}: not downloaded (AIA was turned off: --no-aia)" for u in cert.ca_issuers_urls)
    out = []
    for url in cert.ca_issuers_urls:
        tried = [a for a in path.aia_attempts if a.url == url]
        if not tried:
            out.append(f"AIA {url}: not tried (the AIA time budget ran out first)")
        for a in tried:
            if a.ok:
                got = ", ".join(a.found) or "certificates"
                out.append(f"AIA {url}: ok, but what it holds ({got}) did not issue {cert.display_name!r}")
            else:
                out.append(f"AIA {url}: {a.error}")
    return tuple(out)


def _not_ca_lines(path: "PathResult") -> tuple[str, ...]:
    return tuple(f"refused as issuer: {c.subject} (SHA-256 {c.fingerprint_sha256}) signed it but is not a CA "
                 f"({_why_not_ca(c)}): it may not issue certificates" for c in path.not_ca)


def _why_not_ca(c: CertInfo) -> str:
    from certdoctor.x509.path import ca_status

    return ca_status(c.certificate(), intermediate=True)[1]  # a refused issuer is judged below the anchor


def _same_name_lines(cert: CertInfo, path: "PathResult", anchors: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """A store certificate bearing the issuer's name that did not sign ``cert`` (another key)."""
    refused = {c.fingerprint_sha256 for c in path.not_ca}
    return tuple(f"your store holds {subject!r} (SHA-256 {fp}) under that name, but with another key: it did not "
                 f"sign {cert.display_name!r} (the CA re-keyed, or it is another CA of the same name)"
                 for subject, fp in anchors if subject == cert.issuer and fp not in refused)


def _missing_issuer(leaf: CertInfo, path: "PathResult", store: str, aia_used: bool,
                    same_name: tuple[str, ...] = ()) -> Finding:
    """CHAIN_INCOMPLETE when the chain stops at the leaf and nothing found its issuer."""
    aki = f" (authority key identifier {leaf.aki})" if leaf.aki else " (the leaf names no authority key identifier)"
    if not leaf.ca_issuers_urls:
        why = "The leaf names no AIA 'CA Issuers' URL, so certdoctor could not fetch the intermediate either."
    elif not aia_used:
        why = "AIA was turned off (--no-aia), so certdoctor did not try the leaf's 'CA Issuers' URL."
    else:
        why = "certdoctor could not complete the chain from the AIA URL either."
    if path.not_ca:
        summary = "The server sends an issuer certificate that is not a CA; the real intermediate is missing."
        why += " The certificate the server sends under the issuer's name is not a CA certificate: OpenSSL refuses it."
    else:
        summary = "The server sends only its leaf certificate; the intermediate is missing."
    return Finding(
        Code.CHAIN_INCOMPLETE, Severity.ERROR, summary,
        ("OpenSSL needs every certificate between the leaf and a root in the store, and never downloads a "
         "missing one: 'unable to get local issuer certificate'. " + why
         + f" (Should {leaf.issuer!r} be a root that issues leaves directly, it is simply not in your store: "
           "trust it with --trust once you have it.)"),
        (f"missing issuer: {leaf.issuer}{aki}: neither sent nor in your store",)
        + _aia_lines(leaf, path, aia_used) + _not_ca_lines(path) + same_name + (f"store: {store}",),
        ("The server's operator must serve leaf + intermediates (nginx ssl_certificate full_chain.pem). "
         f"Client, until then: get the intermediate {leaf.issuer!r} from the CA (or export it from a browser that "
         "shows the site), then `certdoctor fix URL --out DIR --intermediate FILE` writes a bundle = your trust + "
         "that intermediate, and proves it."),
        Actor.SERVER_OPERATOR, 0)


def certifi_removed(top: CertInfo) -> tuple[RemovedRoot, str] | None:
    """The removed root ``top`` is, or the one that issued it, with how that is known; by key,
    never by name: ``top``'s own public key (SPKI SHA-256) when it is a self-signed root, else
    its authority key identifier against the removed roots' subject key identifiers."""
    if top.self_signed and top.spki_pin:
        root = CERTIFI_REMOVED.get(base64.b64decode(top.spki_pin).hex())
        if root is not None:
            return root, f"the root's public key (SPKI SHA-256) is the one of {root.name!r}"
        return None
    if top.aki:
        for root in CERTIFI_REMOVED.values():
            if root.ski is not None and root.ski == top.aki:
                return root, (f"its authority key identifier {top.aki} is the subject key identifier of "
                              f"{root.name!r}")
    return None
