"""Frozen results shared by every stage: certificates, chains, findings.

Stages take these and return new ones; none prints. Unknown is ``None`` and the field's
docstring says when. ``Code`` values are stable public identifiers: never rename one.

    >>> from certdoctor.model import CertInfo
    >>> info = CertInfo.from_certificate(cert)          # doctest: +SKIP
    >>> info.spki_pin                                   # doctest: +SKIP
    'p0x…='   (bare base64; the pin-sha256 form is 'sha256/' + this)
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
import functools
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

#: The HTTPS clients certdoctor diagnoses (``--client``).
CLIENTS = ("requests", "httpx", "urllib", "pip")

#: The version of every command's ``--json`` document (docs/JSON.md). 2: one envelope for every
#: command, one finding object (with ``location``), one certificate object.
SCHEMA_VERSION = 2


class Severity(str, enum.Enum):
    """How bad a finding is. ``ERROR`` means the client fails (or must fail)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Actor(str, enum.Enum):
    """Who must act on a finding."""

    SERVER_OPERATOR = "server-operator"
    CLIENT_USER = "client-user"
    NETWORK_ADMIN = "network-admin"
    NOBODY = "nobody"


class Code(str, enum.Enum):
    """Stable finding codes. Public API: values are never renamed or reused."""

    # chain and trust
    CHAIN_INCOMPLETE = "CHAIN_INCOMPLETE"
    UNTRUSTED_ROOT = "UNTRUSTED_ROOT"
    INTERCEPTING_PROXY = "INTERCEPTING_PROXY"
    SELF_SIGNED = "SELF_SIGNED"
    CHAIN_ORDER = "CHAIN_ORDER"
    CHAIN_EXTRA_CERT = "CHAIN_EXTRA_CERT"
    CERTIFI_OUTDATED = "CERTIFI_OUTDATED"
    CA_BUNDLE_ENV = "CA_BUNDLE_ENV"
    STRICT_X509 = "STRICT_X509"
    INVALID_CERT = "INVALID_CERT"
    NAME_CONSTRAINTS = "NAME_CONSTRAINTS"
    PATH_LENGTH = "PATH_LENGTH"
    UNHANDLED_CRITICAL_EXTENSION = "UNHANDLED_CRITICAL_EXTENSION"
    CA_AS_LEAF = "CA_AS_LEAF"
    INVALID_CA = "INVALID_CA"
    KEY_USAGE = "KEY_USAGE"
    MALFORMED_CERT = "MALFORMED_CERT"
    # validity
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    EXPIRING_SOON = "EXPIRING_SOON"
    CLOCK_SKEW = "CLOCK_SKEW"
    # names
    HOSTNAME_MISMATCH = "HOSTNAME_MISMATCH"
    NO_SAN = "NO_SAN"
    # crypto policy
    WEAK_SIGNATURE = "WEAK_SIGNATURE"
    WEAK_KEY = "WEAK_KEY"
    WRONG_EKU = "WRONG_EKU"
    # revocation and pinning
    REVOKED = "REVOKED"
    REVOCATION_UNKNOWN = "REVOCATION_UNKNOWN"
    #: a CRL or OCSP answer that is not current (past nextUpdate, too old, dated in the future):
    #: not believed as GOOD, the verdict comes from the other sources
    REVOCATION_STALE = "REVOCATION_STALE"
    PIN_MISMATCH = "PIN_MISMATCH"
    # connection level
    CLIENT_CERT_REQUIRED = "CLIENT_CERT_REQUIRED"
    NOT_TLS = "NOT_TLS"
    TLS_VERSION = "TLS_VERSION"
    CIPHER_MISMATCH = "CIPHER_MISMATCH"
    DNS_FAILURE = "DNS_FAILURE"
    CONNECTION_REFUSED = "CONNECTION_REFUSED"
    TIMEOUT = "TIMEOUT"
    PROXY_ERROR = "PROXY_ERROR"
    CONNECT_FAILED = "CONNECT_FAILED"
    # the verdict could not be confirmed with the real client
    VERDICT_UNCONFIRMED = "VERDICT_UNCONFIRMED"
    # monitor: the certificate file a target names holds a newer certificate than the one served
    NOT_DEPLOYED = "NOT_DEPLOYED"
    # renew (issue 12): each a reason a renewal did not happen, or what --check says
    #: the new leaf is installed and the hook ran, but a verify endpoint still serves another one
    DEPLOY_NOT_SERVED = "DEPLOY_NOT_SERVED"
    #: the deploy hook exited non-zero or ran past its timeout
    RENEW_HOOK_FAILED = "RENEW_HOOK_FAILED"
    #: the ACME server could not be reached, timed out, or answered something unusable (rule: the kind)
    RENEW_ACME_FAILED = "RENEW_ACME_FAILED"
    #: the CA refused for now: rateLimited / 429 (Retry-After is in the evidence)
    RENEW_RATE_LIMITED = "RENEW_RATE_LIMITED"
    #: a challenge failed (wrong token, port in use, unreachable, dns hook failed)
    RENEW_CHALLENGE_FAILED = "RENEW_CHALLENGE_FAILED"
    #: the order went invalid or finalize failed: the CA refused to issue
    RENEW_ORDER_FAILED = "RENEW_ORDER_FAILED"
    #: the new files could not be written (disk full, quota, permissions); the old ones stay
    RENEW_INSTALL_FAILED = "RENEW_INSTALL_FAILED"
    #: --check: the certificate is due for renewal (or none is installed yet)
    RENEW_DUE = "RENEW_DUE"
    #: --check: the last renewal attempt failed
    RENEW_LAST_FAILED = "RENEW_LAST_FAILED"
    #: the CA's renewalInfo could not be used: the lifetime rule decided instead
    RENEW_ARI_FALLBACK = "RENEW_ARI_FALLBACK"


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a file a finding is. ``line`` and ``column`` are 1-based (``column`` counts
    characters); ``block`` is the 1-based number of a PEM block (``bundle --check``); ``snippet``
    the stripped text of the line (``lint``). Each is ``None`` when it does not apply; ``path`` is
    ``None`` for input that was not a file (bytes, stdin)."""

    path: str | None
    line: int | None = None
    column: int | None = None
    block: int | None = None
    snippet: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (or note) about an endpoint, a chain, a bundle, the environment or code.

    The one shape of every finding-like result: diagnose, fix, expiry and revocation findings,
    ``bundle --check`` audits and ``lint`` results. ``code`` is a :class:`Code`, or the stable
    str-enum of the stage that found it (``BundleCode``, ``LintCode``); its ``.value`` is the
    public identifier. ``summary`` says what was seen, ``explanation`` why it matters, ``fix``
    what to do, ``who`` who must do it.

    ``cert_index`` is the position in the presented chain (the document's ``certificates``) the
    finding is about, or ``None`` when it is about the connection, the environment or the chain as
    a whole. ``location`` is set for findings about a place in a file (bundle blocks, code).
    ``rule`` is the stable snake_case identifier of the rule that was broken, where one named rule
    applies (``missing_aki``, ``san_mismatch``, ``sha1_signature``…; every one is listed in
    docs/JSON.md), else ``None``: a program tells the rules of one ``code`` apart without reading
    the English.
    """

    code: Code | enum.Enum
    severity: Severity
    summary: str
    explanation: str = ""
    evidence: tuple[str, ...] = ()
    fix: str = ""
    who: Actor = Actor.NOBODY
    cert_index: int | None = None
    location: Location | None = None
    rule: str | None = None


# --------------------------------------------------------------------------- certificates

def spki_pin(cert: "x509.Certificate") -> str:
    """The ``pin-sha256`` of a certificate: base64(SHA-256(SubjectPublicKeyInfo DER))."""
    from cryptography.hazmat.primitives import serialization

    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def fingerprint_sha256(cert: "x509.Certificate") -> str:
    """Upper-case, colon-separated SHA-256 of the certificate DER (openssl's form)."""
    from cryptography.hazmat.primitives import serialization

    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normalize_fingerprint(text: str) -> str:
    """Accept ``AB:CD…``, ``abcd…`` or ``sha256:abcd…``; return the canonical colon form."""
    raw = text.strip()
    if raw.lower().startswith("sha256:") or raw.lower().startswith("sha256/"):
        raw = raw[7:]
    raw = raw.replace(":", "").replace(" ", "").upper()
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def _name(name: "x509.Name") -> str:
    try:
        return name.rfc4514_string()
    except Exception:  # pragma: no cover - malformed names
        return repr(name)


# --------------------------------------------------------------------------- extensions

#: OpenSSL's short names of the extensions certdoctor reads (dotted OID -> name)
EXTENSION_NAMES = {
    "2.5.29.14": "subjectKeyIdentifier",
    "2.5.29.15": "keyUsage",
    "2.5.29.17": "subjectAltName",
    "2.5.29.19": "basicConstraints",
    "2.5.29.30": "nameConstraints",
    "2.5.29.31": "crlDistributionPoints",
    "2.5.29.32": "certificatePolicies",
    "2.5.29.35": "authorityKeyIdentifier",
    "2.5.29.37": "extendedKeyUsage",
    "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
    "1.3.6.1.5.5.7.1.24": "tlsfeature",
    "1.3.6.1.4.1.11129.2.4.2": "ct_precert_scts",
}
_ALL_EXTENSIONS = "(all extensions)"  # the name recorded when not even the list can be read


@dataclass(frozen=True, slots=True)
class ExtensionRead:
    """One extension of a certificate as written, and what cryptography made of it.

    ``oid`` is dotted, ``name`` OpenSSL's short name (or the OID), ``der`` the extension's own
    DER (the extnValue's content). ``value`` is cryptography's ``ExtensionType``, or ``None`` when
    cryptography cannot decode this extension: then ``error`` says why (OpenSSL is laxer and often
    can: :class:`CertInfo` then reads the fields it needs from ``der`` itself)."""

    oid: str
    name: str
    critical: bool
    der: bytes = field(repr=False, default=b"")
    value: Any = None
    error: str | None = None


def read_extensions(cert: "x509.Certificate") -> tuple[ExtensionRead, ...]:
    """Every extension of ``cert``, each decoded on its own. Never raises.

    cryptography decodes a certificate's extensions all at once: one it refuses (an empty
    extendedKeyUsage, a malformed authorityInfoAccess, both of which OpenSSL reads or ignores)
    makes every other one unreadable too, and "unreadable" must not become "absent". So the
    extensions are taken from the TBSCertificate with certdoctor's DER reader (``_der``), and each
    is handed to cryptography alone. An extension written twice is refused, as OpenSSL refuses
    it. When not even the list can be read, one entry named ``(all extensions)`` says so.
    """
    from cryptography import x509

    try:
        raws = _raw_extensions(cert.tbs_certificate_bytes)
    except Exception:
        raws = None
    try:
        decoded = list(cert.extensions)
        whole_error = None
    except Exception as exc:
        decoded, whole_error = None, _parse_error(exc)
    if decoded is not None:
        if raws is not None and [r[0] for r in raws] == [e.oid.dotted_string for e in decoded]:
            return tuple(ExtensionRead(oid, _ext_name(oid), e.critical, der, e.value)
                         for (oid, _crit, der, _elem), e in zip(raws, decoded))
        return tuple(ExtensionRead(e.oid.dotted_string, _ext_name(e.oid.dotted_string), e.critical, b"", e.value)
                     for e in decoded)
    if raws is None:
        return (ExtensionRead("", _ALL_EXTENSIONS, False, b"", None, whole_error),)
    counts: dict[str, int] = {}
    for oid, *_ in raws:
        counts[oid] = counts.get(oid, 0) + 1
    out: list[ExtensionRead] = []
    for oid, critical, der, elem in raws:
        name = _ext_name(oid)
        if counts[oid] > 1:
            out.append(ExtensionRead(oid, name, critical, der, None,
                                     f"it appears {counts[oid]} times (OpenSSL then treats the certificate as invalid)"))
            continue
        try:
            value = x509.load_der_x509_certificate(_carrier(elem)).extensions[0].value
        except Exception as exc:
            out.append(ExtensionRead(oid, name, critical, der, None, _parse_error(exc)))
        else:
            out.append(ExtensionRead(oid, name, critical, der, value))
    return tuple(out)


def _ext_name(oid: str) -> str:
    return EXTENSION_NAMES.get(oid, oid)


def _raw_extensions(tbs: bytes) -> list[tuple[str, bool, bytes, bytes]]:
    """``(oid, critical, extnValue content, the Extension's DER)`` as the TBSCertificate writes
    them; ``[]`` for a certificate without extensions. Raises ``DerError``."""
    from certdoctor._der import DerError, element, encode, oid as read_oid, strict_children

    tag, content = element(tbs)
    if tag != 0x30:
        raise DerError("the TBSCertificate is not a SEQUENCE")
    wrapped = [c for t, c in strict_children(content) if t == 0xA3]
    if not wrapped:
        return []
    tag, exts = element(wrapped[0])
    if tag != 0x30:
        raise DerError("extensions are not a SEQUENCE")
    out = []
    for t, ext in strict_children(exts):
        parts = strict_children(ext)
        if t != 0x30 or len(parts) not in (2, 3) or parts[0][0] != 0x06 or parts[-1][0] != 0x04:
            raise DerError("an Extension is not SEQUENCE {OID, [BOOLEAN,] OCTET STRING}")
        critical = len(parts) == 3 and parts[1][0] == 0x01 and any(parts[1][1])
        out.append((read_oid(parts[0][1]), critical, parts[-1][1], encode(0x30, ext)))
    return out


# A certificate that holds only one extension, for cryptography to decode it alone: never signed,
# never trusted, never leaves read_extensions (cryptography parses without checking signatures).
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_ED25519_SPKI = bytes.fromhex("302a300506032b6570032100") + bytes(32)
_EPOCH = bytes.fromhex("170d3030303130313030303030305a")  # UTCTime 000101000000Z


def _carrier(extension: bytes, subject: bytes = b"\x30\x00") -> bytes:
    from certdoctor._der import encode

    tbs = encode(0x30, encode(0xA0, b"\x02\x01\x02") + b"\x02\x01\x01" + _ECDSA_SHA256 + b"\x30\x00"
                 + encode(0x30, _EPOCH + _EPOCH) + subject + _ED25519_SPKI
                 + (encode(0xA3, encode(0x30, extension)) if extension else b""))
    return encode(0x30, tbs + _ECDSA_SHA256 + b"\x03\x01\x00")


def _parse_error(exc: BaseException) -> str:
    """cryptography's parse error in words (it speaks Rust debug output)."""
    text = str(exc)
    if "InvalidSize" in text and "actual: 0" in text:
        return "it is empty where RFC 5280 requires at least one entry"
    if "UnexpectedTag" in text:
        return "an element has the wrong ASN.1 type"
    if "EncodedDefault" in text:
        return "a DEFAULT value is written out (not DER)"
    if "ShortData" in text or "InvalidLength" in text:
        return "its DER is cut short"
    if "ExtraData" in text:
        return "bytes follow its DER"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _key_usage_names(ku: Any) -> tuple[str, ...]:
    names = [attr for attr in _KU_BITS[:7] if getattr(ku, attr)]
    if ku.key_agreement:
        names += [attr for attr in _KU_BITS[7:] if getattr(ku, attr)]
    return tuple(names)


def _aia_urls(aia: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from cryptography import x509

    ocsp, issuers = [], []
    for desc in aia:
        if isinstance(desc.access_location, x509.UniformResourceIdentifier):
            if desc.access_method == x509.oid.AuthorityInformationAccessOID.OCSP:
                ocsp.append(desc.access_location.value)
            elif desc.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS:
                issuers.append(desc.access_location.value)
    return tuple(ocsp), tuple(issuers)


def _crl_urls(crl: Any) -> tuple[str, ...]:
    from cryptography import x509

    return tuple(gn.value for dp in crl for gn in dp.full_name or () if isinstance(gn, x509.UniformResourceIdentifier))


# certdoctor's own reading of the extensions whose fields the checks need, for when cryptography
# refuses one: each takes the extension's DER and raises DerError where OpenSSL would fail too.

def _seq(der: bytes) -> list[tuple[int, bytes]]:
    from certdoctor._der import DerError, element, strict_children

    tag, content = element(der)
    if tag != 0x30:
        raise DerError("not a SEQUENCE")
    return strict_children(content)


def _oid_name(dotted: str) -> str:
    from cryptography import x509

    name = getattr(x509.ObjectIdentifier(dotted), "_name", "Unknown OID")
    return dotted if name == "Unknown OID" else name


def _ia5(content: bytes) -> str:
    return content.decode("ascii", "backslashreplace")


def _ip_entry(raw: bytes) -> tuple[str, str | None]:
    """(text, address or None) of an iPAddress GeneralName's octets, as OpenSSL reads them."""
    if len(raw) in (4, 16):
        addr = str(ipaddress.ip_address(raw))
        return f"IP Address:{addr}", addr
    if len(raw) in (8, 32):  # address + mask: a network (name constraints' form), not an address
        half = len(raw) // 2
        addr, mask, bits = ipaddress.ip_address(raw[:half]), int.from_bytes(raw[half:], "big"), half * 8
        prefix = bin(mask).count("1")
        if mask == ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1):
            return f"IP network:{ipaddress.ip_network((addr, prefix), strict=False)}", None
        return f"IP network:{addr}/{ipaddress.ip_address(raw[half:])}", None
    return f"IP Address:<invalid length={len(raw)}>", None


def _general_name_text(tag: int, content: bytes) -> tuple[str, str | None, str | None]:
    """(OpenSSL-style text, DNS name or None, IP address or None) of one GeneralName."""
    from certdoctor._der import DerError, children, oid as read_oid

    kind = tag & 0x1F
    if tag & 0xC0 != 0x80 or bool(tag & 0x20) != (kind in (0, 3, 4, 5)):
        raise DerError(f"a GeneralName has the tag {tag:#04x}, not a context-specific one")
    if kind == 2:
        name = _ia5(content)
        return f"DNS:{name}", (name if content.isascii() else None), None
    if kind == 7:
        text, addr = _ip_entry(content)
        return text, None, addr
    if kind == 1:
        return f"email:{_ia5(content)}", None, None
    if kind == 6:
        return f"URI:{_ia5(content)}", None, None
    if kind == 8:
        try:
            return f"Registered ID:{read_oid(content)}", None, None
        except DerError:
            return "Registered ID:<invalid>", None, None
    if kind == 4:
        return f"DirName:{_dirname(content)}", None, None
    if kind == 0:
        inner = children(content)
        try:
            return f"othername:{read_oid(inner[0][1])}" if inner and inner[0][0] == 0x06 else "othername:<invalid>", \
                None, None
        except DerError:
            return "othername:<invalid>", None, None
    return {3: "X400Name:<unsupported>", 5: "EdiPartyName:<unsupported>"}.get(kind, f"<unknown name [{kind}]>"), \
        None, None


def _dirname(name_der: bytes) -> str:
    """A directoryName (its Name's DER) in RFC 4514, read by cryptography as a carrier's subject."""
    from cryptography import x509

    try:
        return _name(x509.load_der_x509_certificate(_carrier(b"", name_der)).subject)
    except Exception:
        return "<could not be parsed>"


def general_name_text(gn: Any) -> tuple[str, str | None, str | None]:
    """(text, DNS name or None, IP address or None) of a cryptography ``GeneralName``: the
    text is OpenSSL's form (``DNS:…``, ``IP Address:…``, ``DirName:…``, ``othername:…``,
    ``Registered ID:…``, ``email:…``, ``URI:…``) except that a network written as an iPAddress is
    ``IP network:10.0.0.0/8`` (it matches no host) and a DirName is RFC 4514."""
    from cryptography import x509

    if isinstance(gn, x509.DNSName):
        return f"DNS:{gn.value}", gn.value, None
    if isinstance(gn, x509.IPAddress):
        if isinstance(gn.value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return f"IP network:{gn.value}", None, None
        return f"IP Address:{gn.value}", None, str(gn.value)
    if isinstance(gn, x509.DirectoryName):
        return f"DirName:{_name(gn.value)}", None, None
    if isinstance(gn, x509.RFC822Name):
        return f"email:{gn.value}", None, None
    if isinstance(gn, x509.UniformResourceIdentifier):
        return f"URI:{gn.value}", None, None
    if isinstance(gn, x509.RegisteredID):
        return f"Registered ID:{gn.value.dotted_string}", None, None
    if isinstance(gn, x509.OtherName):
        return f"othername:{gn.type_id.dotted_string}", None, None
    return f"<{type(gn).__name__}>", None, None  # pragma: no cover - every GeneralName is above


def _san_der(der: bytes) -> list[tuple[str, str | None, str | None]]:
    return [_general_name_text(tag, content) for tag, content in _seq(der)]


def _eku_der(der: bytes) -> tuple[str, ...]:
    from certdoctor._der import DerError, oid as read_oid

    out = []
    for tag, content in _seq(der):
        if tag != 0x06:
            raise DerError("an extendedKeyUsage entry is not an OID")
        out.append(_oid_name(read_oid(content)))
    return tuple(out)


def _key_id_der(der: bytes, *, aki: bool) -> str | None:
    from certdoctor._der import DerError, element

    if aki:  # SEQUENCE { keyIdentifier [0], authorityCertIssuer [1], authorityCertSerialNumber [2] }
        parts = _seq(der)
        if any(t not in (0x80, 0xA1, 0x82) for t, _ in parts):
            raise DerError("authorityKeyIdentifier holds something other than [0], [1], [2]")
        ids = [c for t, c in parts if t == 0x80]
        return ids[0].hex(":").upper() if ids else None
    tag, content = element(der)
    if tag != 0x04:
        raise DerError("subjectKeyIdentifier is not an OCTET STRING")
    return content.hex(":").upper()


def _aia_der(der: bytes) -> tuple[list[str], list[str]]:
    """(OCSP URLs, caIssuers URLs)."""
    from certdoctor._der import DerError, oid as read_oid, strict_children

    ocsp: list[str] = []
    issuers: list[str] = []
    for tag, content in _seq(der):
        parts = strict_children(content) if tag == 0x30 else []
        if tag != 0x30 or len(parts) != 2 or parts[0][0] != 0x06:
            raise DerError("an AccessDescription is not SEQUENCE {OID, GeneralName}")
        method, (gtag, gval) = read_oid(parts[0][1]), parts[1]
        if gtag == 0x86 and method == "1.3.6.1.5.5.7.48.1":
            ocsp.append(_ia5(gval))
        elif gtag == 0x86 and method == "1.3.6.1.5.5.7.48.2":
            issuers.append(_ia5(gval))
    return ocsp, issuers


def _bc_der(der: bytes) -> tuple[bool, int | None]:
    from certdoctor._der import DerError

    ca, path_length = False, None
    for tag, content in _seq(der):
        if tag == 0x01:
            ca = any(content)
        elif tag == 0x02 and content and not content[0] & 0x80:
            path_length = int.from_bytes(content, "big")
        else:
            raise DerError("basicConstraints holds something other than BOOLEAN, INTEGER")
    return ca, path_length


_KU_BITS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")


def _ku_der(der: bytes) -> tuple[str, ...]:
    from certdoctor._der import DerError, element

    tag, content = element(der)
    if tag != 0x03 or not content:
        raise DerError("keyUsage is not a BIT STRING")
    bits = int.from_bytes(content[1:], "big") if len(content) > 1 else 0
    width = 8 * (len(content) - 1)
    on = {name for i, name in enumerate(_KU_BITS) if i < width and bits >> (width - 1 - i) & 1}
    names = [n for n in _KU_BITS[:7] if n in on]
    if "key_agreement" in on:
        names += [n for n in _KU_BITS[7:] if n in on]
    return tuple(names)


@dataclass(frozen=True, slots=True)
class CertInfo:
    """Everything a person checks in one certificate. Built by :meth:`from_certificate`.

    ``key_size`` is ``None`` for keys without one (Ed25519). Extension fields are ``None``
    when the extension is absent, so that "absent" and "empty" stay different.

    Extensions are read one by one (:func:`read_extensions`): one that cryptography refuses does
    not hide the others, and for the fields the checks need (SAN, basicConstraints, keyUsage,
    EKU, SKI, AKI, AIA) certdoctor reads the DER itself, as OpenSSL does. An extension nobody
    could read is named in ``unparsed_extensions`` (OpenSSL's name: ``subjectAltName``…) and its
    fields are ``None``/empty: present but unreadable, never "absent". ``extension_notes`` says,
    per extension cryptography refused, why and what was done.

    ``san`` is every subjectAltName entry in OpenSSL's text form (``DNS:…``, ``IP Address:…``,
    ``DirName:…``, ``othername:…``, ``Registered ID:…``, ``email:…``, ``URI:…``; a network written
    as an iPAddress is ``IP network:10.0.0.0/8``), ``None`` when there is no SAN; ``san_dns`` and
    ``san_ip`` are the DNS names and IP addresses among them (what host names are matched against).
    """

    subject: str
    issuer: str
    common_name: str | None
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    san: tuple[str, ...] | None
    serial: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    days_left: int
    expired: bool
    not_yet_valid: bool
    key_type: str
    key_size: int | None
    signature_algorithm: str
    signature_hash: str | None
    is_ca: bool | None
    basic_constraints_critical: bool | None
    path_length: int | None
    key_usage: tuple[str, ...] | None
    extended_key_usage: tuple[str, ...] | None
    ski: str | None
    aki: str | None
    ocsp_urls: tuple[str, ...]
    ca_issuers_urls: tuple[str, ...]
    crl_urls: tuple[str, ...]
    self_issued: bool
    self_signed: bool
    fingerprint_sha256: str
    spki_pin: str
    version: int
    unparsed_extensions: tuple[str, ...]
    extension_notes: tuple[str, ...]
    der: bytes = field(repr=False, compare=False, default=b"")

    @classmethod
    def from_certificate(cls, cert: "x509.Certificate", now: _dt.datetime | None = None) -> "CertInfo":
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

        now = _utc(now or _dt.datetime.now(_dt.timezone.utc))
        nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc

        reads = read_extensions(cert)
        by_oid = {r.oid: r for r in reads}
        unparsed: list[str] = []
        notes: list[str] = []

        def ext(oid: str, from_value, from_der=None):
            """The field from cryptography's value; else from certdoctor's reading of the DER;
            else ``None`` with the extension named in ``unparsed`` (present, not absent)."""
            r = by_oid.get(oid)
            if r is None:
                return None
            if r.value is not None:
                return from_value(r.value)
            if from_der is not None and r.der and not (r.error or "").startswith("it appears"):
                try:
                    got = from_der(r.der)
                except Exception:
                    pass
                else:
                    notes.append(f"{r.name}: cryptography cannot parse it ({r.error}); read with certdoctor's "
                                 "DER reader, as OpenSSL reads it")
                    return got
            if r.name not in unparsed:
                unparsed.append(r.name)
                notes.append(f"{r.name}: could not be parsed ({r.error})")
            return None

        cn = None
        try:
            attrs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
            cn = str(attrs[0].value) if attrs else None
        except Exception:
            cn = None

        san_entries = ext("2.5.29.17", lambda v: [general_name_text(g) for g in v], _san_der)
        san = None if san_entries is None else tuple(text for text, _, _ in san_entries)
        san_dns = tuple(d for _, d, _ in san_entries or () if d is not None)
        san_ip = tuple(a for _, _, a in san_entries or () if a is not None)

        try:
            key = cert.public_key()
        except Exception:  # a key algorithm cryptography cannot parse: still show the rest
            key = None
        if key is None:
            key_type, key_size = "unsupported", None
        elif isinstance(key, rsa.RSAPublicKey):
            key_type, key_size = "RSA", key.key_size
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key_type, key_size = f"EC {key.curve.name}", key.curve.key_size
        elif isinstance(key, dsa.DSAPublicKey):
            key_type, key_size = "DSA", key.key_size
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key_type, key_size = "Ed25519", None
        elif isinstance(key, ed448.Ed448PublicKey):
            key_type, key_size = "Ed448", None
        else:  # pragma: no cover
            key_type, key_size = type(key).__name__, None

        try:
            sig_name = cert.signature_algorithm_oid._name  # e.g. sha256WithRSAEncryption
        except Exception:  # pragma: no cover
            sig_name = cert.signature_algorithm_oid.dotted_string
        try:
            sig_hash = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None
        except Exception:
            sig_hash = None

        bc = ext("2.5.29.19", lambda v: (v.ca, v.path_length), _bc_der)
        bc_read = by_oid.get("2.5.29.19")
        key_usage = ext("2.5.29.15", _key_usage_names, _ku_der)
        extended_key_usage = ext("2.5.29.37", lambda v: tuple(_oid_name(o.dotted_string) for o in v), _eku_der)
        ski = ext("2.5.29.14", lambda v: v.digest.hex(":").upper(), lambda d: _key_id_der(d, aki=False))
        aki = ext("2.5.29.35", lambda v: None if v.key_identifier is None else v.key_identifier.hex(":").upper(),
                  lambda d: _key_id_der(d, aki=True))
        ocsp_urls, ca_issuers = ext("1.3.6.1.5.5.7.1.1", _aia_urls, _aia_der) or ((), ())
        crl_urls = ext("2.5.29.31", _crl_urls) or ()
        for r in reads:  # the other extensions cryptography refused: named, never silently dropped
            if r.value is None and r.name not in unparsed and not any(n.startswith(r.name + ":") for n in notes):
                unparsed.append(r.name)
                notes.append(f"{r.name}: could not be parsed ({r.error})")

        self_issued = cert.issuer == cert.subject
        self_signed = False
        if self_issued:
            self_signed = issued_by(cert, cert)

        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(
            subject=_name(cert.subject),
            issuer=_name(cert.issuer),
            common_name=cn,
            san_dns=san_dns,
            san_ip=san_ip,
            san=san,
            serial=format(cert.serial_number, "X"),
            not_before=nb,
            not_after=na,
            days_left=int((na - now).total_seconds() // 86400),
            expired=now > na,
            not_yet_valid=now < nb,
            key_type=key_type,
            key_size=key_size,
            signature_algorithm=sig_name,
            signature_hash=sig_hash,
            is_ca=None if bc is None else bc[0],
            basic_constraints_critical=None if bc is None or bc_read is None else bc_read.critical,
            path_length=None if bc is None else bc[1],
            key_usage=key_usage,
            extended_key_usage=extended_key_usage,
            ski=ski,
            aki=aki,
            ocsp_urls=tuple(ocsp_urls),
            ca_issuers_urls=tuple(ca_issuers),
            crl_urls=tuple(crl_urls),
            self_issued=self_issued,
            self_signed=self_signed,
            fingerprint_sha256=fingerprint_sha256(cert),
            spki_pin=spki_pin(cert) if key is not None else "",
            version=cert.version.value + 1,
            unparsed_extensions=tuple(unparsed),
            extension_notes=tuple(notes),
            der=der,
        )

    def certificate(self) -> "x509.Certificate":
        """The ``cryptography`` certificate back (parsed from ``der``)."""
        from cryptography import x509

        return x509.load_der_x509_certificate(self.der)

    @property
    def display_name(self) -> str:
        return self.common_name or self.subject or "(empty subject)"

    def covers_host(self, host: str) -> bool:
        """RFC 6125 matching as OpenSSL does it for Python: SAN only, one-label wildcards."""
        return host_matches(host, self.san_dns, self.san_ip)


_C_INT = r"[ \t\n\v\f\r]*[+-]?[0-9]+"  # what C's sscanf("%d") takes
_OPENSSL_IPV4 = re.compile(rf"({_C_INT})\.({_C_INT})\.({_C_INT})\.({_C_INT})(?:[ \t\n\v\f\r].*)?\Z", re.S)


def openssl_ip(name: str) -> "ipaddress.IPv4Address | ipaddress.IPv6Address | None":
    """The address Python's ``ssl`` takes ``name`` for (OpenSSL's ``a2i_IPADDRESS``), or ``None``.

    ``ssl`` asks OpenSSL whether a server_hostname is an IP address, and OpenSSL reads IPv4 with
    ``sscanf("%d.%d.%d.%d")``: leading zeros, signs, blanks before each number and anything after a
    blank are accepted (``0.0.0.00``, ``01.2.3.4``, ``1.2.3.4 x`` are ``0.0.0.0``/``1.2.3.4``), which
    :mod:`ipaddress` refuses. IPv6 (any name with a ``:``) is read as :mod:`ipaddress` does.
    """
    if not isinstance(name, str):
        return None
    if ":" in name:
        try:
            return ipaddress.ip_address(name)
        except ValueError:
            return None
    m = _OPENSSL_IPV4.match(name)
    if m is None:
        return None
    parts = [int(g) for g in m.groups()]
    if any(not 0 <= p <= 255 for p in parts):
        return None
    return ipaddress.IPv4Address(bytes(parts))


def host_matches(host: str, san_dns: tuple[str, ...], san_ip: tuple[str, ...]) -> bool:
    """Does ``host`` match the SANs, as Python's ``ssl`` has OpenSSL decide it (``X509_check_host``
    with ``X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS``, no Common Name; ``X509_check_ip`` for an IP)?
    Never raises, whatever the strings.

    An IP address (IPv6 with or without brackets) matches only an equal ``san_ip`` entry; an entry
    that is not an address (a network, garbage) matches nothing. A name (its trailing dots dropped,
    as urllib3 does; IDNA-encoded, as ``ssl`` does) matches a DNS entry equal to it ignoring ASCII
    case, or a wildcard ``*.rest`` where ``rest`` has at least two labels of letters, digits and
    inner hyphens and the host's first label is non-empty letters, digits and hyphens (or ``*``).
    Anything else in a DNS entry (a trailing dot, ``_``, a partial wildcard) is compared literally.
    """
    if not isinstance(host, str):
        return False
    bracketed = host.startswith("[") and host.endswith("]")
    # urllib3 drops trailing dots before ssl sees the name, and ssl then takes "0.0.0.0" for an IP
    ip = openssl_ip(host[1:-1] if bracketed else host.rstrip("."))
    if ip is not None:
        for v in san_ip:
            try:
                if ipaddress.ip_address(str(v)) == ip:
                    return True
            except ValueError:
                continue
        return False
    try:
        subject = host.rstrip(".").encode("idna")  # what ssl hands to OpenSSL
    except (UnicodeError, ValueError):
        return False
    if not subject or subject.startswith(b".") or b"\0" in subject:
        return False
    for pattern in san_dns:
        try:
            raw = str(pattern).encode("ascii")
        except UnicodeError:
            continue
        if raw and _openssl_host_match(raw, subject):
            return True
    return False


def _alnum(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _equal_nocase(a: bytes, b: bytes) -> bool:
    return len(a) == len(b) and 0 not in a and a.lower() == b.lower()  # bytes.lower folds ASCII only


def _valid_star(p: bytes) -> int | None:
    """OpenSSL's ``valid_star`` with ``NO_PARTIAL_WILDCARDS``: the index of the one ``*`` that makes
    ``p`` a wildcard pattern, or ``None`` (then ``p`` is compared literally)."""
    star, start, hyphen, idna, dots = None, True, False, False, 0
    for i, c in enumerate(p):
        if c == 0x2A:  # '*'
            at_end = i == len(p) - 1 or p[i + 1] == 0x2E
            if star is not None or idna or dots or not start or not at_end:
                return None
            star, start = i, False
        elif _alnum(c):
            if start and p[i:i + 4].lower() == b"xn--":
                idna = True
            start = hyphen = False
        elif c == 0x2E:  # '.'
            if hyphen or start:
                return None
            start, hyphen, idna = True, False, False
            dots += 1
        elif c == 0x2D:  # '-'
            if start:
                return None
            hyphen = True
        else:
            return None
    if start or hyphen or dots < 2:
        return None
    return star


def _openssl_host_match(pattern: bytes, subject: bytes) -> bool:
    """OpenSSL's ``equal_wildcard`` for one DNS SAN entry (the full-label wildcard case)."""
    star = _valid_star(pattern)
    if star is None:
        return _equal_nocase(pattern, subject)
    suffix = pattern[star + 1:]
    if len(subject) <= len(suffix) or not _equal_nocase(suffix, subject[len(subject) - len(suffix):]):
        return False
    label = subject[:len(subject) - len(suffix)]
    return label == b"*" or all(_alnum(c) or c == 0x2D for c in label)


def is_ip(name: str) -> bool:
    """Whether ``name`` is an IP address literal (an IPv6 one with or without its brackets)."""
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def issued_by(child: "x509.Certificate", parent: "x509.Certificate") -> bool:
    """Did ``parent`` sign ``child``? Names must chain and the signature must verify.

    cryptography's ``verify_directly_issued_by`` refuses SHA-1 signatures outright; a chain
    signed with SHA-1 is still a chain (OpenSSL builds it, then rejects the weak digest), so
    for those the RSA/ECDSA signature is checked by hand with the certificate's own hash.

    The answer for a pair is remembered (the last :data:`ISSUED_BY_MEMO` pairs): one diagnosis
    asks the same pair from the path builder, the chain analysis, the checks and the renderer
    (10 calls for 2 pairs on a two-certificate chain), and a signature check costs ~0.7 ms here.
    Certificates are keyed by their DER (cryptography's equality), so a pair is the same pair
    however often it is parsed.
    """
    if child.issuer != parent.subject:
        return False
    return _signed_by(child, parent)


#: how many (child, parent) answers :func:`issued_by` keeps
ISSUED_BY_MEMO = 512


@functools.lru_cache(maxsize=ISSUED_BY_MEMO)
def _signed_by(child: "x509.Certificate", parent: "x509.Certificate") -> bool:
    try:
        child.verify_directly_issued_by(parent)
        return True
    except ValueError:
        pass  # "Unsupported signature algorithm": try the legacy digests below
    except Exception:
        return False
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        algo = child.signature_hash_algorithm
        key = parent.public_key()
        if algo is None:
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algo)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algo))
        else:
            return False
    except Exception:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ChainLink:
    """``child`` (index) was signed by ``parent`` (index in the same chain)."""

    child: int
    parent: int


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """A list of certificates as presented, and how they relate.

    ``path`` is the leaf's issuing path through the presented certificates (indices, leaf first).
    ``off_path`` are the indices not on that path (extra certificates). ``in_order`` is ``None``
    for an empty chain.
    """

    certs: tuple[CertInfo, ...]
    links: tuple[ChainLink, ...]
    path: tuple[int, ...]
    off_path: tuple[int, ...]
    in_order: bool | None
    root_included: bool
    complete: bool

    @classmethod
    def analyse(cls, certs: "list[x509.Certificate] | tuple[x509.Certificate, ...]",
                now: _dt.datetime | None = None) -> "ChainInfo":
        # Near-linear in the number of certificates, whatever the file holds: identical
        # certificates (by DER) are analysed once and share one CertInfo; a child is checked only
        # against the certificates named like its issuer (an index by subject), once per distinct
        # (child, parent) pair; and a parent repeated in the file is linked once, at its first
        # index (other than the child's own). 10,000 copies of one root: 10,000 links, one signature.
        from cryptography.hazmat.primitives import serialization

        ders = [c.public_bytes(serialization.Encoding.DER) for c in certs]
        first_of: dict[bytes, int] = {}
        second_of: dict[bytes, int] = {}
        for j, der in enumerate(ders):
            if der not in first_of:
                first_of[der] = j
            elif der not in second_of:
                second_of[der] = j
        info_of: dict[bytes, CertInfo] = {}
        for der, j in first_of.items():
            info_of[der] = CertInfo.from_certificate(certs[j], now)
        infos = tuple(info_of[der] for der in ders)
        links: list[ChainLink] = []
        parent_of: dict[int, int] = {}
        by_subject: dict[Any, list[int]] = {}  # distinct certificates (first index) by subject
        for der, j in first_of.items():
            by_subject.setdefault(certs[j].subject, []).append(j)
        signed: dict[tuple[int, int], bool] = {}  # (first index of child, of parent) -> issued_by
        for i, child in enumerate(certs):
            ci = first_of[ders[i]]
            candidates = by_subject.get(child.issuer, [])
            if i == ci and i in candidates:
                # the child's own certificate: only another copy of it (if any) can sign it
                other = second_of.get(ders[i])
                candidates = sorted(j for j in (*candidates, other) if j is not None and j != i)
            for j in candidates:
                key = (ci, first_of[ders[j]])
                if key not in signed:
                    signed[key] = issued_by(child, certs[j])
                if not signed[key]:
                    continue
                links.append(ChainLink(i, j))
                parent_of.setdefault(i, j)
        path: list[int] = []
        if infos:
            cur = 0
            seen = {0}
            path.append(0)
            while cur in parent_of and parent_of[cur] not in seen:
                cur = parent_of[cur]
                seen.add(cur)
                path.append(cur)
        on_path = set(path)
        off = tuple(i for i in range(len(infos)) if i not in on_path)
        in_order = None if not infos else (tuple(path) == tuple(range(len(path))) and not off)
        root_included = any(infos[i].self_signed for i in path) if infos else False
        last = infos[path[-1]] if path else None
        complete = bool(last and last.self_signed)
        return cls(infos, tuple(links), tuple(path), off, in_order, root_included, complete)


# --------------------------------------------------------------------------- JSON

def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums, datetimes, bytes and tuples to plain JSON types (``der`` dropped)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in fields(obj):
            if f.name == "der":
                continue
            out[f.name] = to_jsonable(getattr(obj, f.name))
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, _dt.datetime):
        return _utc(obj).isoformat().replace("+00:00", "Z")
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj


__all__ = [
    "SCHEMA_VERSION",
    "Severity",
    "Actor",
    "Code",
    "Finding",
    "Location",
    "CertInfo",
    "ExtensionRead",
    "EXTENSION_NAMES",
    "read_extensions",
    "general_name_text",
    "ChainInfo",
    "ChainLink",
    "spki_pin",
    "fingerprint_sha256",
    "normalize_fingerprint",
    "host_matches",
    "issued_by",
    "to_jsonable",
]
