"""A throwaway private PKI for the lab, made with ``cryptography`` at start, with current dates.

    root (ECDSA P-256, "certdoctor Lab Root CA")              <- lab.ca_file
    ├── intermediate (P-256)          issues most scenario leaves; signs the CRL
    ├── rsa intermediate (RSA-2048)   good_rsa, and the SHA-1 signature of sha1_signed
    ├── expired intermediate          notAfter = now - 5 days
    ├── lax intermediate              basicConstraints CA:TRUE *not* critical
    └── client certificate            for client_cert_required (EKU clientAuth)
    untrusted root -> untrusted intermediate      (not in lab.ca_file)
    unrelated CA                                  (sent as junk by extra_cert)
    intercept root                                (the intercepting proxy's own root)

ECDSA P-256 keys are used wherever the scenario does not need RSA: they take microseconds,
RSA-2048 about 0.1 s each. Every leaf under the main intermediate carries the lab's CRL
distribution point and AIA (OCSP + caIssuers) URLs on the lab's own HTTP server.

    >>> pki = LabPKI("http://127.0.0.1:8080")                      # doctest: +SKIP
    >>> leaf = pki.issue_leaf(["www.lab.test"], not_after=...)    # doctest: +SKIP
    >>> leaf.cert, leaf.key, leaf.chain                            # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]

ORG = "certdoctor lab"
ONE_DAY = _dt.timedelta(days=1)


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def new_key(kind: str = "ec", size: int = 2048) -> PrivateKey:
    """``"ec"``: P-256 (fast); ``"rsa"``: RSA of ``size`` bits."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    raise ValueError(f"unknown key kind {kind!r} (use 'ec' or 'rsa')")


def _name(cn: str, org: str | None = ORG) -> x509.Name:
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if cn:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class CA:
    """A certificate authority of the lab: its certificate, key and a short label."""

    label: str
    cert: x509.Certificate
    key: PrivateKey = field(repr=False)
    parent: "CA | None" = field(default=None, repr=False)

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """This CA and its parents up to (and including) its root."""
        out = [self.cert]
        p = self.parent
        while p is not None:
            out.append(p.cert)
            p = p.parent
        return tuple(out)


@dataclass(frozen=True)
class IssuedCert:
    """A leaf (or client) certificate, its key, and its chain as a server should send it.

    ``chain`` starts with ``cert`` and holds the issuing intermediates, never the root.
    """

    cert: x509.Certificate
    key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(cert_pem(c) for c in self.chain)


# --------------------------------------------------------------------------- SHA-1 signing

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


# AlgorithmIdentifier { sha256WithRSAEncryption | sha1WithRSAEncryption, NULL }
_ALG_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_ALG_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")


def resign_sha1(cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """The same certificate, honestly signed ``sha1WithRSAEncryption`` by ``issuer_key``.

    ``cryptography`` refuses to *build* SHA-1 certificates, but it still signs bytes with
    SHA-1. So: take the TBSCertificate of a SHA-256 build, change its ``signature``
    AlgorithmIdentifier to sha1WithRSAEncryption (same length, so no length changes), sign those
    bytes with PKCS#1 v1.5 + SHA-1 and assemble the Certificate DER. The result is what
    ``openssl x509 -req -sha1`` produces, and it verifies with the issuer's public key.
    """
    if not isinstance(issuer_key, rsa.RSAPrivateKey):
        raise TypeError("sha1WithRSAEncryption needs an RSA issuer key")
    tbs = cert.tbs_certificate_bytes
    if tbs.count(_ALG_SHA256_RSA) != 1:
        raise ValueError("expected exactly one sha256WithRSAEncryption AlgorithmIdentifier in the TBS")
    tbs = tbs.replace(_ALG_SHA256_RSA, _ALG_SHA1_RSA)
    sig = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    der = _der(0x30, tbs + _ALG_SHA1_RSA + _der(0x03, b"\x00" + sig))
    return x509.load_der_x509_certificate(der)


# --------------------------------------------------------------------------- the PKI

class _made_once:
    """A :class:`LabPKI` attribute made on first use by ``make(pki)``, once per PKI even when
    several server threads ask at the same time (under the PKI's lock)."""

    def __init__(self, make: "Callable[[LabPKI], Any]") -> None:
        self.make = make
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, pki: "LabPKI | None", owner: type | None = None) -> Any:
        if pki is None:
            return self
        with pki._lock:
            if self.name not in pki._lazy:
                pki._lazy[self.name] = self.make(pki)
            return pki._lazy[self.name]


class LabPKI:
    """Roots, intermediates and a leaf factory, all made now; nothing is read from disk.

    ``http_base`` (``http://127.0.0.1:PORT``) is where the lab serves AIA, the CRL and OCSP;
    the URLs go into every leaf issued by :attr:`intermediate`.

    Public attributes: ``root``, ``intermediate`` (:class:`CA`), ``root_cert``, ``root_key``,
    ``intermediate_cert``, ``intermediate_key``, ``now`` (the start time every date derives
    from), ``aia_url``, ``crl_url``, ``ocsp_url``, ``revoked`` (serial → revocation time).
    Lazily made on first use: ``rsa_intermediate``, ``expired_intermediate``,
    ``lax_intermediate``, ``untrusted_root``, ``untrusted_intermediate``, ``unrelated_ca``,
    ``intercept_root``, ``client``.
    """

    def __init__(self, http_base: str, now: _dt.datetime | None = None) -> None:
        self.http_base = http_base.rstrip("/")
        self.now = now or utcnow()
        self.aia_url = f"{self.http_base}/aia/intermediate.der"
        self.rsa_aia_url = f"{self.http_base}/aia/rsa-intermediate.der"
        self.root_aia_url = f"{self.http_base}/aia/root.der"
        self.crl_url = f"{self.http_base}/crl/intermediate.crl"
        self.ocsp_url = f"{self.http_base}/ocsp"
        self._lock = threading.RLock()
        self._lazy: dict[str, object] = {}
        self.revoked: dict[int, _dt.datetime] = {}
        self._crl: x509.CertificateRevocationList | None = None
        self.root = self.make_root("certdoctor Lab Root CA", label="root")
        self.intermediate = self.make_intermediate("certdoctor Lab Intermediate CA", self.root,
                                                   label="intermediate")

    # -- convenience -------------------------------------------------------------------------
    @property
    def root_cert(self) -> x509.Certificate:
        return self.root.cert

    @property
    def root_key(self) -> PrivateKey:
        return self.root.key

    @property
    def intermediate_cert(self) -> x509.Certificate:
        return self.intermediate.cert

    @property
    def intermediate_key(self) -> PrivateKey:
        return self.intermediate.key

    rsa_intermediate = _made_once(lambda pki: pki.make_intermediate(
        "certdoctor Lab RSA Intermediate CA", pki.root, key=new_key("rsa", 2048), label="rsa-intermediate"))
    expired_intermediate = _made_once(lambda pki: pki.make_intermediate(
        "certdoctor Lab Expired Intermediate CA", pki.root,
        not_before=pki.now - 400 * ONE_DAY, not_after=pki.now - 5 * ONE_DAY, label="expired-intermediate"))
    lax_intermediate = _made_once(lambda pki: pki.make_intermediate(
        "certdoctor Lab Lax Intermediate CA (BC not critical)", pki.root, bc_critical=False,
        label="lax-intermediate"))
    untrusted_root = _made_once(lambda pki: pki.make_root("certdoctor Lab Untrusted Root CA", label="untrusted-root"))
    untrusted_intermediate = _made_once(lambda pki: pki.make_intermediate(
        "certdoctor Lab Untrusted Intermediate CA", pki.untrusted_root, label="untrusted-intermediate"))
    unrelated_ca = _made_once(lambda pki: pki.make_root("certdoctor Lab Unrelated CA", label="unrelated-ca"))
    intercept_root = _made_once(lambda pki: pki.make_root(
        "certdoctor Lab Intercept Root", org="certdoctor lab proxy", label="intercept-root"))
    #: A client certificate (EKU clientAuth) issued directly by the lab root.
    client = _made_once(lambda pki: pki.issue_leaf(
        (), common_name="certdoctor lab client", issuer=pki.root, client=True, san=False, aia=False, crl=False))

    # -- CAs ---------------------------------------------------------------------------------
    def make_root(self, cn: str, *, key: PrivateKey | None = None, org: str | None = ORG,
                  not_before: _dt.datetime | None = None, not_after: _dt.datetime | None = None,
                  label: str = "root") -> CA:
        key = key or new_key()
        subject = _name(cn, org)
        cert = self._certificate(subject, key, subject, key, 3650, not_before, not_after,
                                 _ca_extensions(key, path_length=None, bc_critical=True))
        return CA(label, cert, key, None)

    def make_intermediate(self, cn: str, parent: CA, *, key: PrivateKey | None = None,
                          not_before: _dt.datetime | None = None,
                          not_after: _dt.datetime | None = None, bc_critical: bool = True,
                          path_length: int | None = 0, label: str = "intermediate") -> CA:
        key = key or new_key()
        extensions = _ca_extensions(key, path_length=path_length, bc_critical=bc_critical)
        extensions.append((_aki(parent.key), False))
        if parent is self.root:
            extensions.append((_aia(ca_issuers=self.root_aia_url), False))
        cert = self._certificate(_name(cn, _org_of(parent.cert)), key, parent.cert.subject, parent.key, 1825,
                                 not_before, not_after, extensions)
        return CA(label, cert, key, parent)

    def _certificate(self, subject: x509.Name, key: PrivateKey, issuer_name: x509.Name, signing_key: PrivateKey,
                     days: int, not_before: _dt.datetime | None, not_after: _dt.datetime | None,
                     extensions: Iterable[tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
        """The one certificate builder of the lab (roots, intermediates, leaves): ``subject``'s
        ``key``, signed SHA-256 by ``signing_key`` as ``issuer_name``, valid from a day before
        :attr:`now` for ``days`` days unless ``not_before``/``not_after`` say otherwise, with
        ``extensions`` (extension, critical) in that order."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.now - ONE_DAY)
            .not_valid_after(not_after or self.now + days * ONE_DAY)
        )
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    # -- leaves ------------------------------------------------------------------------------
    def issue_leaf(
        self,
        hostnames: Iterable[str] = (),
        *,
        issuer: CA | None = None,
        key: PrivateKey | None = None,
        key_type: str = "ec",
        key_size: int = 2048,
        common_name: str | None = None,
        not_before: _dt.datetime | None = None,
        not_after: _dt.datetime | None = None,
        san: bool = True,
        ip_as_dns: bool = False,
        aki: bool = True,
        ski: bool = True,
        aia: bool | None = None,
        crl: bool | None = None,
        client: bool = False,
        self_signed: bool = False,
        sha1: bool = False,
        extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    ) -> IssuedCert:
        """Issue an end-entity certificate (default: P-256, 90 days, by :attr:`intermediate`).

        ``hostnames`` become SAN entries (IP literals as iPAddress unless ``ip_as_dns``);
        ``san=False`` leaves the SAN out (CN only). ``aia``/``crl`` default to "yes" when the
        issuer is the main intermediate. ``self_signed`` signs the leaf with its own key
        (CA:FALSE). ``sha1`` re-signs it sha1WithRSAEncryption (needs an RSA issuer).
        ``client`` sets EKU clientAuth instead of serverAuth.
        """
        names = [h for h in hostnames]
        if self_signed:
            issuer = None
        else:
            issuer = issuer or self.intermediate
        main = issuer is self.intermediate
        aia = main if aia is None else aia
        crl = main if crl is None else crl
        key = key or new_key(key_type, key_size)
        cn = common_name if common_name is not None else (names[0] if names else "certdoctor lab leaf")
        subject = _name(cn)
        issuer_name = subject if issuer is None else issuer.cert.subject
        signing_key = key if issuer is None else issuer.key
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
             False),
        ]
        if not self_signed:
            # a self-signed leaf with keyUsage but no keyCertSign would not count as
            # "self-signed" for OpenSSL (it could not have signed itself): leave it out there,
            # as `openssl req -x509` does
            extensions.append((_leaf_key_usage(key), True))
        if san and names:
            entries: list[x509.GeneralName] = []
            for h in names:
                ip = None
                if not ip_as_dns:
                    try:
                        ip = ipaddress.ip_address(h)
                    except ValueError:
                        ip = None
                entries.append(x509.IPAddress(ip) if ip is not None else x509.DNSName(h))
            extensions.append((x509.SubjectAlternativeName(entries), False))
        if ski:
            extensions.append((_ski(key), False))
        if aki:
            extensions.append((_aki(signing_key), False))
        if issuer is not None and aia:
            url = self.aia_url if main else (self.rsa_aia_url if issuer.label == "rsa-intermediate"
                                             else None)
            if main or url:
                extensions.append((_aia(ocsp=self.ocsp_url if main else None, ca_issuers=url), False))
        if issuer is not None and crl and main:
            extensions.append((x509.CRLDistributionPoints([
                x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(self.crl_url)],
                                       relative_name=None, reasons=None, crl_issuer=None),
            ]), False))
        extensions.extend(extra_extensions)
        cert = self._certificate(subject, key, issuer_name, signing_key, 90, not_before, not_after, extensions)
        if sha1:
            if not isinstance(signing_key, rsa.RSAPrivateKey):
                raise ValueError("sha1=True needs an RSA issuer (e.g. pki.rsa_intermediate)")
            cert = resign_sha1(cert, signing_key)
        chain = (cert,) if issuer is None else (cert,) + issuer.chain[:-1]
        return IssuedCert(cert, key, chain)

    # -- revocation --------------------------------------------------------------------------
    def revoke(self, cert: x509.Certificate | IssuedCert, when: _dt.datetime | None = None) -> None:
        """Mark ``cert`` (issued by :attr:`intermediate`) revoked; the CRL is rebuilt."""
        if isinstance(cert, IssuedCert):
            cert = cert.cert
        with self._lock:
            self.revoked[cert.serial_number] = when or (self.now - _dt.timedelta(hours=1))
            self._crl = None

    def is_revoked(self, serial: int) -> bool:
        with self._lock:
            return serial in self.revoked

    @property
    def crl(self) -> x509.CertificateRevocationList:
        """The main intermediate's CRL (thisUpdate now, nextUpdate in 7 days), rebuilt on change."""
        with self._lock:
            if self._crl is None:
                builder = (
                    x509.CertificateRevocationListBuilder()
                    .issuer_name(self.intermediate.cert.subject)
                    .last_update(utcnow() - _dt.timedelta(minutes=5))
                    .next_update(utcnow() + 7 * ONE_DAY)
                    .add_extension(_aki(self.intermediate.key), critical=False)
                    .add_extension(x509.CRLNumber(len(self.revoked) + 1), critical=False)
                )
                for serial, when in sorted(self.revoked.items()):
                    builder = builder.add_revoked_certificate(
                        x509.RevokedCertificateBuilder()
                        .serial_number(serial)
                        .revocation_date(when)
                        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise),
                                       critical=False)
                        .build())
                self._crl = builder.sign(self.intermediate.key, hashes.SHA256())
            return self._crl

    @property
    def crl_der(self) -> bytes:
        return self.crl.public_bytes(serialization.Encoding.DER)


def _org_of(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else ORG


def _ca_extensions(key: PrivateKey, *, path_length: int | None,
                   bc_critical: bool) -> list[tuple[x509.ExtensionType, bool]]:
    """What every lab CA carries: CA:TRUE (``path_length``), keyUsage certSign/CRLSign, its SKI."""
    return [(x509.BasicConstraints(ca=True, path_length=path_length), bc_critical),
            (_ca_key_usage(), True),
            (_ski(key), False)]


def _ski(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _aki(issuer_key: PrivateKey) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())


def _aia(*, ocsp: str | None = None, ca_issuers: str | None = None) -> x509.AuthorityInformationAccess:
    """Authority information access: the OCSP responder first, then where the issuer is."""
    oid = x509.oid.AuthorityInformationAccessOID
    return x509.AuthorityInformationAccess([
        x509.AccessDescription(method, x509.UniformResourceIdentifier(url))
        for method, url in ((oid.OCSP, ocsp), (oid.CA_ISSUERS, ca_issuers)) if url
    ])


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                         crl_sign=True, encipher_only=False, decipher_only=False)


def _leaf_key_usage(key: PrivateKey) -> x509.KeyUsage:
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


__all__ = [
    "CA",
    "IssuedCert",
    "LabPKI",
    "PrivateKey",
    "cert_der",
    "cert_pem",
    "key_pem",
    "new_key",
    "resign_sha1",
    "utcnow",
]
