"""The one test PKI builder (trustme's ``CA`` shape), shared by every test.

    ca = TestCA()                                   # a self-signed root, ECDSA P-256
    inter = ca.intermediate("Test Intermediate")    # a CA under it (path_length=0)
    leaf = inter.issue_cert("www.example.test", "127.0.0.1", not_after=NOW + dt.timedelta(days=3))
    leaf.cert, leaf.key, leaf.chain                 # chain = (leaf, intermediate, root)
    leaf.chain_pem(), ca.cert_pem()
    self_signed("host.test")                        # a self-signed leaf (no CA at all)

Every certificate carries the extensions a real CA puts in (basicConstraints, keyUsage, SKI, AKI,
AIA, CRL DP, EKU serverAuth for leaves) unless a keyword says otherwise:

    name / subject=    a str is "O=certdoctor tests, CN=<str>"; ``make_name(cn, org=None)`` is CN only;
                       an ``x509.Name`` is used as it is
    no names           a leaf without subjectAltName (CN only)
    eku=None / (...)   no EKU / these EKU OIDs (leaves)
    aia_url= ocsp_url= crl_url=   the URLs a CA writes into what it issues; ``None`` leaves the
                       extension out (``issue_cert`` inherits the CA's unless given)
    key_usage=None     no keyUsage; or an ``x509.KeyUsage`` of your own
    ski=False aki=False   no subject/authority key identifier
    basic_constraints=False   no basicConstraints; ``bc_critical=False``: not critical
    extensions=[(ext, critical), ...]   anything else
    hash_alg=hashes.SHA384()   the signature hash (cryptography refuses to sign SHA-1: the lab's
                       ``resign_sha1`` does that);  serial=   an explicit serial number
    kind="rsa" / "rsa:1024" / "ec"   the key (weak keys included); key=  an existing key
    v1=True            an X.509 v1 certificate (no extensions at all)

``make_pki`` is the root → intermediate → leaf triple the loaders' tests use (the
``pki_ec``/``pki_rsa`` fixtures); ``issue``/``build_cert`` are the one-certificate functions under it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")


# --------------------------------------------------------------------------- test PKI

ORG = "certdoctor tests"
AIA_URL = "http://ca.example.test/issuer.der"
OCSP_URL = "http://ocsp.example.test"
CRL_URL = "http://crl.example.test/ca.crl"
NO_URLS = {"aia_url": None, "crl_url": None, "ocsp_url": None}  # ``TestCA(..., **NO_URLS)``: no AIA/CRL DP
_INHERIT = object()  # issue_cert: use the CA's URL


def make_key(kind: str = "ec"):
    """``"ec"`` (P-256), ``"rsa"`` (2048 bits) or ``"rsa:BITS"`` (e.g. ``"rsa:1024"``, a weak key)."""
    if kind == "rsa" or kind.startswith("rsa:"):
        bits = int(kind.partition(":")[2] or 2048)
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key kind {kind!r}")


def make_name(cn: str, org: str | None = ORG) -> x509.Name:
    """``O=<org>, CN=<cn>``; ``org=None`` for a CN-only name."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _as_name(name: "str | x509.Name") -> x509.Name:
    return name if isinstance(name, x509.Name) else make_name(name)


def general_names(names) -> list[x509.GeneralName]:
    """DNS names and IP addresses as ``x509.GeneralName`` (already general names pass through)."""
    import ipaddress

    out = []
    for n in names:
        if isinstance(n, x509.GeneralName):
            out.append(n)
            continue
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def issue(subject_key, issuer_key, subject: x509.Name, issuer: x509.Name, *, ca: bool,
          path_length: int | None = None, sans: tuple[str, ...] = (), not_before=None, not_after=None,
          issuer_cert: x509.Certificate | None = None) -> x509.Certificate:
    """One certificate with the extensions a real CA puts in (:func:`build_cert`); AKI and the
    AIA/CRL URLs only when ``issuer_cert`` is given (``make_pki``'s shape)."""
    urls = {"aia_url": AIA_URL, "ocsp_url": OCSP_URL, "crl_url": CRL_URL} if issuer_cert is not None else NO_URLS
    return build_cert(subject_key.public_key(), issuer_key, subject, issuer, ca=ca, path_length=path_length,
                      sans=[x509.DNSName(s) for s in sans], not_before=not_before, not_after=not_after,
                      aki=issuer_cert is not None, **urls)


class TestCA:
    """A CA of the test PKI: ``issue_cert`` for leaves, ``intermediate`` for sub-CAs.

    ``aia_url``/``ocsp_url``/``crl_url`` are what this CA writes into the certificates it issues
    (``None``: that extension is left out). ``cert_kw`` goes to :func:`build_cert` for the CA's
    own certificate (``key_usage=``, ``aki=``, ``bc_critical=``, ``extensions=``, ``serial=``...).
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, name: "str | x509.Name" = "Test Root", *, kind: str = "ec", key=None,
                 parent: "TestCA | None" = None, path_length: int | None = None, not_before=None, not_after=None,
                 aia_url: str | None = AIA_URL, crl_url: str | None = CRL_URL, ocsp_url: str | None = OCSP_URL,
                 **cert_kw) -> None:
        self.kind = kind
        self.key = key or make_key(kind)
        self.name = _as_name(name)
        self.parent = parent
        self.aia_url, self.crl_url, self.ocsp_url = aia_url, crl_url, ocsp_url
        if parent is None:
            cert_kw.setdefault("aki", False)  # a root names no authority but itself
            self.cert = build_cert(self.key.public_key(), self.key, self.name, self.name, ca=True,
                                   path_length=path_length, not_before=not_before,
                                   not_after=not_after or NOW + dt.timedelta(days=3650), **cert_kw)
        else:
            self.cert = parent._sign(self.key.public_key(), self.name, ca=True, path_length=path_length,
                                     not_before=not_before, not_after=not_after or NOW + dt.timedelta(days=1000),
                                     **cert_kw)

    @classmethod
    def existing(cls, cert: x509.Certificate, key, *, parent: "TestCA | None" = None, aia_url: str | None = AIA_URL,
                 crl_url: str | None = CRL_URL, ocsp_url: str | None = OCSP_URL) -> "TestCA":
        """A CA made elsewhere (e.g. the lab's intermediate) that issues like any other here."""
        ca = cls.__new__(cls)
        ca.kind = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec"
        ca.key, ca.cert, ca.name, ca.parent = key, cert, cert.subject, parent
        ca.aia_url, ca.crl_url, ca.ocsp_url = aia_url, crl_url, ocsp_url
        return ca

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """This CA and its issuers up to the root."""
        return (self.cert,) + (self.parent.chain if self.parent else ())

    @property
    def subject(self) -> x509.Name:
        return self.cert.subject

    def cert_pem(self) -> bytes:
        return pem(self.cert)

    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def intermediate(self, name: "str | x509.Name" = "Test Intermediate", **kw) -> "TestCA":
        kw.setdefault("path_length", 0)
        kw.setdefault("kind", self.kind)
        return TestCA(name, parent=self, **kw)

    def issue_cert(self, *names: str, kind: str | None = None, key=None, cn: str | None = None,
                   subject: x509.Name | None = None, not_before=None, not_after=None,
                   eku=(ExtendedKeyUsageOID.SERVER_AUTH,), sign_with=None, aia_url=_INHERIT, crl_url=_INHERIT,
                   ocsp_url=_INHERIT, **cert_kw) -> "Issued":
        """A leaf for ``names`` (DNS names; IP addresses become iPAddress SANs; none: no SAN).

        The subject is ``subject``, else ``make_name(cn or names[0])``. ``sign_with`` signs with
        another key under this CA's name (a forged signature)."""
        key = key or make_key(kind or self.kind)
        subject = subject if subject is not None else make_name(cn or (names[0] if names else "leaf"))
        cert = self._sign(key.public_key(), subject, ca=False, sans=general_names(names), not_before=not_before,
                          not_after=not_after, eku=eku, sign_with=sign_with, aia_url=aia_url, crl_url=crl_url,
                          ocsp_url=ocsp_url, **cert_kw)
        return Issued(cert, key, (cert,) + self.chain)

    def _sign(self, public_key, subject: x509.Name, *, ca: bool, sign_with=None, aia_url=_INHERIT,
              crl_url=_INHERIT, ocsp_url=_INHERIT, **kw) -> x509.Certificate:
        return build_cert(public_key, sign_with or self.key, subject, self.name, ca=ca,
                          authority_key=self.key,
                          aia_url=self.aia_url if aia_url is _INHERIT else aia_url,
                          ocsp_url=self.ocsp_url if ocsp_url is _INHERIT else ocsp_url,
                          crl_url=self.crl_url if crl_url is _INHERIT else crl_url, **kw)


def self_signed(*names: str, cn: str | None = None, subject: x509.Name | None = None, kind: str = "ec", key=None,
                ca: bool = False, **cert_kw) -> "Issued":
    """A self-signed certificate for ``names`` (a leaf unless ``ca=True``), without AKI or URLs
    unless asked for."""
    key = key or make_key(kind)
    subject = subject if subject is not None else make_name(cn or (names[0] if names else "self-signed"))
    cert_kw.setdefault("aki", False)
    if ca:
        cert_kw.setdefault("eku", None)
    cert = build_cert(key.public_key(), key, subject, subject, ca=ca, sans=general_names(names), **cert_kw)
    return Issued(cert, key, (cert,))


class Issued:
    """A certificate with its key and its chain (leaf first, root last)."""

    __test__ = False

    def __init__(self, cert: x509.Certificate, key, chain: tuple[x509.Certificate, ...]) -> None:
        self.cert, self.key, self.chain = cert, key, chain

    def cert_pem(self) -> bytes:
        return pem(self.cert)

    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def chain_pem(self, *, with_root: bool = False) -> bytes:
        """The leaf and its intermediates (what a server sends); ``with_root`` adds the root."""
        chain = self.chain if with_root or len(self.chain) == 1 else self.chain[:-1]
        return pem(*chain)

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1]


def build_cert(public_key, issuer_key, subject: x509.Name, issuer: x509.Name, *, ca: bool, path_length=None,
               sans=(), not_before=None, not_after=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
               aia_url: str | None = None, ocsp_url: str | None = None, crl_url: str | None = None,
               authority_key=None, serial: int | None = None, hash_alg=None, key_usage=True, ski: bool = True,
               aki: bool = True, basic_constraints: bool = True, bc_critical: bool = True, extensions=(),
               v1: bool = False) -> x509.Certificate:
    """One certificate issued by ``issuer_key`` with a real CA's extensions.

    ``sans`` are names or ``x509.GeneralName`` values; ``eku=None`` leaves EKU out (leaves only);
    ``authority_key`` is the key the AKI names (default ``issuer_key``: a forged signature keeps
    the real issuer's AKI when given); ``key_usage`` is True (the usual bits), None/False (none) or
    an ``x509.KeyUsage``; ``extensions`` are ``(extension, critical)`` pairs added last; ``v1``
    makes an X.509 v1 certificate, which has no extensions at all.
    """
    not_before = not_before or NOW - dt.timedelta(days=1)
    not_after = not_after or NOW + dt.timedelta(days=90)
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer).public_key(public_key)
         .serial_number(serial if serial is not None else x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after))
    if v1:
        b._version = x509.Version.v1  # cryptography has no public v1 switch; only tests need one
        return b.sign(issuer_key, hash_alg or hashes.SHA256())
    if basic_constraints:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
                            critical=bc_critical)
    if key_usage is True:
        key_usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                  data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                  encipher_only=False, decipher_only=False)
    if key_usage:
        b = b.add_extension(key_usage, critical=True)
    if ski:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            (authority_key or issuer_key).public_key()), critical=False)
    if not ca and eku:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(general_names(sans)), critical=False)
    access = []
    if ocsp_url:
        access.append(x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)))
    if aia_url:
        access.append(x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                             x509.UniformResourceIdentifier(aia_url)))
    if access:
        b = b.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if crl_url:
        b = b.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    return b.sign(issuer_key, hash_alg or hashes.SHA256())


def make_pki(kind: str = "ec", leaf_name: str = "www.example.test", leaf_not_after=None,
             leaf_not_before=None) -> SimpleNamespace:
    """Root → intermediate → leaf with keys; ``chain`` is leaf-first, ``root`` last."""
    rk, ik, lk = make_key(kind), make_key(kind), make_key(kind)
    rn, inn = make_name(f"Test Root {kind.upper()}"), make_name(f"Test Intermediate {kind.upper()}")
    root = issue(rk, rk, rn, rn, ca=True, not_after=NOW + dt.timedelta(days=3650))
    inter = issue(ik, rk, inn, rn, ca=True, path_length=0, issuer_cert=root, not_after=NOW + dt.timedelta(days=1000))
    leaf = issue(lk, ik, make_name(leaf_name), inn, ca=False, sans=(leaf_name,), issuer_cert=inter,
                 not_after=leaf_not_after, not_before=leaf_not_before)
    return SimpleNamespace(root=root, intermediate=inter, leaf=leaf, root_key=rk, intermediate_key=ik, leaf_key=lk,
                           chain=(leaf, inter, root), kind=kind)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def p12(pki, password: bytes | None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(b"test", pki.leaf_key, pki.leaf, [pki.intermediate, pki.root], enc)


def openssl(*args: str, input: bytes | None = None) -> bytes:
    return subprocess.run([OPENSSL, *args], input=input, capture_output=True, check=True, timeout=30).stdout
