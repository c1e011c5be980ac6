"""A root certifi really removed (the real DST Root CA X3, read from tests/support/data), and a
chain that names it by key identifier, as a server chaining to it presents one.

Nobody holds DST's private key, so the intermediate "issued" by it is signed by a throwaway key
and only *claims* DST as its issuer (issuer name and authority key identifier), which is all a
client sees of a root that is not sent.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from support.pki import TestCA, build_cert, make_key, make_name

DATA = Path(__file__).parent / "data"


def dst_root() -> x509.Certificate:
    """The real DST Root CA X3 (removed from certifi 2022.05.18)."""
    return x509.load_pem_x509_certificate((DATA / "dst-root-ca-x3.pem").read_bytes())


def under_removed_root(host: str = "www.example.test"):
    """``(leaf, intermediate)`` certificates: an intermediate naming DST Root CA X3 as its issuer,
    by name and by authority key identifier, and a leaf for ``host`` under it."""
    issued, inter = issued_under_removed_root(host)
    return issued.cert, inter


def issued_under_removed_root(host: str):
    """The same, with the leaf as :class:`support.pki.Issued` (its key, to serve it)."""
    root = dst_root()
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    key = make_key("ec")
    inter_cert = build_cert(key.public_key(), make_key("ec"), make_name("Some Intermediate"), root.subject, ca=True,
                            path_length=0, aki=False, extensions=[(x509.AuthorityKeyIdentifier(ski, None, None), False)])
    inter = TestCA.existing(inter_cert, key)
    return inter.issue_cert(host), inter_cert
