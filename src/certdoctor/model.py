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
import hashlib
import ipaddress
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


@dataclass(frozen=True, slots=True)
class CertInfo:
    """Everything a person checks in one certificate. Built by :meth:`from_certificate`.

    ``key_size`` is ``None`` for keys without one (Ed25519). Extension fields are ``None``
    when the extension is absent, so that "absent" and "empty" stay different.
    """

    subject: str
    issuer: str
    common_name: str | None
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
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
    der: bytes = field(repr=False, compare=False, default=b"")

    @classmethod
    def from_certificate(cls, cert: "x509.Certificate", now: _dt.datetime | None = None) -> "CertInfo":
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

        now = _utc(now or _dt.datetime.now(_dt.timezone.utc))
        nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc

        def ext(cls_):
            try:
                return cert.extensions.get_extension_for_class(cls_)
            except x509.ExtensionNotFound:
                return None
            except Exception:  # duplicate or malformed extensions: treated as absent
                return None

        cn = None
        try:
            attrs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
            cn = str(attrs[0].value) if attrs else None
        except Exception:
            cn = None

        san_dns: tuple[str, ...] = ()
        san_ip: tuple[str, ...] = ()
        san = ext(x509.SubjectAlternativeName)
        if san is not None:
            san_dns = tuple(san.value.get_values_for_type(x509.DNSName))
            san_ip = tuple(str(ip) for ip in san.value.get_values_for_type(x509.IPAddress))

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

        bc = ext(x509.BasicConstraints)
        ku = ext(x509.KeyUsage)
        key_usage = None
        if ku is not None:
            names = []
            for attr in ("digital_signature", "content_commitment", "key_encipherment",
                         "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"):
                if getattr(ku.value, attr):
                    names.append(attr)
            if ku.value.key_agreement:
                if ku.value.encipher_only:
                    names.append("encipher_only")
                if ku.value.decipher_only:
                    names.append("decipher_only")
            key_usage = tuple(names)
        eku = ext(x509.ExtendedKeyUsage)
        extended_key_usage = None
        if eku is not None:
            extended_key_usage = tuple(getattr(o, "_name", o.dotted_string) for o in eku.value)
        ski = ext(x509.SubjectKeyIdentifier)
        aki = ext(x509.AuthorityKeyIdentifier)
        aia = ext(x509.AuthorityInformationAccess)
        ocsp_urls: list[str] = []
        ca_issuers: list[str] = []
        if aia is not None:
            for desc in aia.value:
                if isinstance(desc.access_location, x509.UniformResourceIdentifier):
                    if desc.access_method == x509.oid.AuthorityInformationAccessOID.OCSP:
                        ocsp_urls.append(desc.access_location.value)
                    elif desc.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS:
                        ca_issuers.append(desc.access_location.value)
        crl = ext(x509.CRLDistributionPoints)
        crl_urls: list[str] = []
        if crl is not None:
            for dp in crl.value:
                for gn in dp.full_name or ():
                    if isinstance(gn, x509.UniformResourceIdentifier):
                        crl_urls.append(gn.value)

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
            is_ca=None if bc is None else bc.value.ca,
            basic_constraints_critical=None if bc is None else bc.critical,
            path_length=None if bc is None else bc.value.path_length,
            key_usage=key_usage,
            extended_key_usage=extended_key_usage,
            ski=None if ski is None else ski.value.digest.hex(":").upper(),
            aki=None if (aki is None or aki.value.key_identifier is None)
            else aki.value.key_identifier.hex(":").upper(),
            ocsp_urls=tuple(ocsp_urls),
            ca_issuers_urls=tuple(ca_issuers),
            crl_urls=tuple(crl_urls),
            self_issued=self_issued,
            self_signed=self_signed,
            fingerprint_sha256=fingerprint_sha256(cert),
            spki_pin=spki_pin(cert) if key is not None else "",
            version=cert.version.value + 1,
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


def host_matches(host: str, san_dns: tuple[str, ...], san_ip: tuple[str, ...]) -> bool:
    """Does ``host`` match the SANs? IPs only match iPAddress entries; wildcards one label."""
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(v) == ip for v in san_ip)
    for pattern in san_dns:
        p = pattern.rstrip(".").lower()
        if p == host:
            return True
        if p.startswith("*.") and "*" not in p[2:]:
            head, _, rest = host.partition(".")
            if head and rest == p[2:] and rest.count(".") >= 1:
                return True
    return False


def issued_by(child: "x509.Certificate", parent: "x509.Certificate") -> bool:
    """Did ``parent`` sign ``child``? Names must chain and the signature must verify.

    cryptography's ``verify_directly_issued_by`` refuses SHA-1 signatures outright; a chain
    signed with SHA-1 is still a chain (OpenSSL builds it, then rejects the weak digest), so
    for those the RSA/ECDSA signature is checked by hand with the certificate's own hash.
    """
    if child.issuer != parent.subject:
        return False
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
        infos = tuple(CertInfo.from_certificate(c, now) for c in certs)
        links: list[ChainLink] = []
        parent_of: dict[int, int] = {}
        # index by subject: a 10,000-certificate bundle would otherwise need 10^8 name compares
        by_subject: dict[Any, list[int]] = {}
        for j, parent in enumerate(certs):
            by_subject.setdefault(parent.subject, []).append(j)
        for i, child in enumerate(certs):
            for j in by_subject.get(child.issuer, ()):
                if i == j:
                    continue
                if not issued_by(child, certs[j]):
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
        off = tuple(i for i in range(len(infos)) if i not in path)
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
    "ChainInfo",
    "ChainLink",
    "spki_pin",
    "fingerprint_sha256",
    "normalize_fingerprint",
    "host_matches",
    "issued_by",
    "to_jsonable",
]
