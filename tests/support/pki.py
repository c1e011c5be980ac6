"""The one test PKI builder (trustme's ``CA`` shape), shared by every test.

    ca = TestCA()                                   # a self-signed root, ECDSA P-256
    inter = ca.intermediate("Test Intermediate")    # a CA under it (path_length=0)
    leaf = inter.issue_cert("www.example.test", "127.0.0.1", not_after=NOW + dt.timedelta(days=3))
    leaf.cert, leaf.key, leaf.chain                 # chain = (leaf, intermediate, root)
    leaf.chain_pem(), ca.cert_pem()

Every certificate carries the extensions a real CA puts in (basicConstraints, keyUsage, SKI, AKI,
AIA, CRL DP, EKU serverAuth for leaves) unless a keyword says otherwise. ``make_pki`` is the
root → intermediate → leaf triple the loaders' tests use (the ``pki_ec``/``pki_rsa`` fixtures).
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

def make_key(kind: str):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def make_name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certdoctor tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(subject_key, issuer_key, subject: x509.Name, issuer: x509.Name, *, ca: bool,
          path_length: int | None = None, sans: tuple[str, ...] = (), not_before=None, not_after=None,
          issuer_cert: x509.Certificate | None = None) -> x509.Certificate:
    """One certificate with the extensions a real CA puts in."""
    not_before = not_before or NOW - dt.timedelta(days=1)
    not_after = not_after or NOW + dt.timedelta(days=90)
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer).public_key(subject_key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    if issuer_cert is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
        b = b.add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier("http://ocsp.example.test")),
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier("http://ca.example.test/issuer.der")),
        ]), critical=False)
        b = b.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier("http://crl.example.test/ca.crl")], None, None, None)]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


class TestCA:
    """A CA of the test PKI: ``issue_cert`` for leaves, ``intermediate`` for sub-CAs."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, name: str = "Test Root", *, kind: str = "ec", key=None, parent: "TestCA | None" = None,
                 path_length: int | None = None, not_before=None, not_after=None, aia_url: str | None = None,
                 crl_url: str | None = None, ocsp_url: str | None = None) -> None:
        self.kind = kind
        self.key = key or make_key(kind)
        self.name = make_name(name)
        self.parent = parent
        self.aia_url, self.crl_url, self.ocsp_url = aia_url, crl_url, ocsp_url
        if parent is None:
            self.cert = issue(self.key, self.key, self.name, self.name, ca=True, path_length=path_length,
                              not_before=not_before, not_after=not_after or NOW + dt.timedelta(days=3650))
        else:
            self.cert = parent._sign(self.key.public_key(), self.name, ca=True, path_length=path_length,
                                     not_before=not_before, not_after=not_after or NOW + dt.timedelta(days=1000))

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """This CA and its issuers up to the root."""
        return (self.cert,) + (self.parent.chain if self.parent else ())

    def cert_pem(self) -> bytes:
        return pem(self.cert)

    def intermediate(self, name: str = "Test Intermediate", **kw) -> "TestCA":
        kw.setdefault("path_length", 0)
        kw.setdefault("kind", self.kind)
        return TestCA(name, parent=self, **kw)

    def issue_cert(self, *names: str, kind: str | None = None, key=None, cn: str | None = None,
                   not_before=None, not_after=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
                   sign_with=None) -> "Issued":
        """A leaf for ``names`` (DNS names; IP addresses become iPAddress SANs)."""
        import ipaddress

        key = key or make_key(kind or self.kind)
        sans = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        cert = self._sign(key.public_key(), make_name(cn or (names[0] if names else "leaf")), ca=False,
                          sans=tuple(sans), not_before=not_before, not_after=not_after, eku=eku, sign_with=sign_with)
        return Issued(cert, key, (cert,) + self.chain)

    def _sign(self, public_key, subject: x509.Name, *, ca: bool, path_length=None, sans=(), not_before=None,
              not_after=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH,), sign_with=None) -> x509.Certificate:
        return build_cert(public_key, sign_with or self.key, subject, self.name, ca=ca, path_length=path_length,
                          sans=sans, not_before=not_before, not_after=not_after, eku=eku,
                          aia_url=self.aia_url or "http://ca.example.test/issuer.der",
                          ocsp_url=self.ocsp_url or "http://ocsp.example.test",
                          crl_url=self.crl_url or "http://crl.example.test/ca.crl")


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
        return pem(*(self.chain if with_root else self.chain[:-1]))


def build_cert(public_key, issuer_key, subject: x509.Name, issuer: x509.Name, *, ca: bool, path_length=None,
               sans=(), not_before=None, not_after=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
               aia_url: str | None = None, ocsp_url: str | None = None, crl_url: str | None = None,
               ) -> x509.Certificate:
    """One certificate issued by ``issuer_key`` with a real CA's extensions (``sans`` are
    ``x509.GeneralName`` values; ``eku=None`` leaves EKU out)."""
    not_before = not_before or NOW - dt.timedelta(days=1)
    not_after = not_after or NOW + dt.timedelta(days=90)
    usage = dict(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer).public_key(public_key)
         .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
         .add_extension(x509.KeyUsage(**usage), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if not ca and eku:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
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
    return b.sign(issuer_key, hashes.SHA256())


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
