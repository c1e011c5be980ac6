"""One issuer check: model.issued_by decides "did this certificate sign that one?" everywhere.

revocation's own check used cryptography's verify_directly_issued_by, which refuses SHA-1
outright: a SHA-1 leaf was "not issued" by the CA that signed it, and a SHA-1 root was not a root.
Now path building, chain analysis, find_issuer and the revocation check agree. A delegated OCSP
responder certificate still needs a strong signature to speak for its CA.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from certdoctor.lab.pki import resign_sha1
from certdoctor.model import ChainInfo, issued_by
from certdoctor.revocation.check import Problem, RevocationStatus, check_revocation, check_chain, find_issuer

from support.pki import NOW, TestCA


@pytest.fixture(scope="module")
def rsa_pki():
    root = TestCA("Issuer Test Root", kind="rsa")
    inter = root.intermediate("Issuer Test Intermediate")
    leaf = inter.issue_cert("sha1.example.test")
    sha1_leaf = resign_sha1(leaf.cert, inter.key)
    return root, inter, leaf, sha1_leaf


def test_a_sha1_signature_is_still_an_issuer(rsa_pki):
    root, inter, leaf, sha1_leaf = rsa_pki
    assert sha1_leaf.signature_hash_algorithm.name == "sha1"
    assert issued_by(sha1_leaf, inter.cert)
    assert not issued_by(sha1_leaf, root.cert)  # names do not chain
    assert find_issuer(sha1_leaf, [root.cert, inter.cert]) is inter.cert
    assert find_issuer(leaf.cert, [root.cert]) is None
    chain = ChainInfo.analyse([sha1_leaf, inter.cert, root.cert])
    assert chain.path == (0, 1, 2)


def test_revocation_accepts_the_issuer_of_a_sha1_leaf(rsa_pki):
    _, inter, _, sha1_leaf = rsa_pki
    # no source to ask: the verdict is "no source", not "the issuer did not issue it"
    r = check_revocation(sha1_leaf, inter.cert, crl_urls=(), ocsp_urls=())
    assert r.status is RevocationStatus.UNKNOWN
    assert {a.problem for a in r.attempts} == {Problem.NO_SOURCE}
    # a certificate that is not the issuer still is refused as such
    other = TestCA("Someone Else", kind="rsa")
    r = check_revocation(sha1_leaf, other.cert, crl_urls=(), ocsp_urls=())
    assert [a.problem for a in r.attempts] == [Problem.ISSUER]


def test_check_chain_skips_a_sha1_self_signed_root(rsa_pki):
    root, inter, leaf, _ = rsa_pki
    sha1_root = resign_sha1(root.cert, root.key)
    assert issued_by(sha1_root, sha1_root)
    results = check_chain([leaf.cert, inter.cert, sha1_root], crl_urls=(), ocsp_urls=())
    assert [r.cert_index for r in results] == [0, 1]  # the root is nobody's to revoke


def _staple(leaf, inter, responder_cert, responder_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return (ocsp.OCSPResponseBuilder()
            .add_response(cert=leaf, issuer=inter.cert, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
                          this_update=NOW - dt.timedelta(minutes=5), next_update=NOW + dt.timedelta(days=1),
                          revocation_time=None, revocation_reason=None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, responder_cert)
            .certificates([responder_cert])
            .sign(responder_key, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER))


@pytest.mark.parametrize("sha1", [False, True], ids=["sha256-responder", "sha1-responder"])
def test_a_delegated_responder_needs_a_strong_signature(rsa_pki, sha1):
    _, inter, leaf, _ = rsa_pki
    responder = inter.issue_cert(cn="Issuer Test OCSP Responder", eku=(ExtendedKeyUsageOID.OCSP_SIGNING,))
    cert = resign_sha1(responder.cert, inter.key) if sha1 else responder.cert
    r = check_revocation(leaf.cert, inter.cert, method="ocsp", ocsp_urls=(),
                         stapled=_staple(leaf.cert, inter, cert, responder.key))
    (attempt,) = r.attempts
    if sha1:
        assert r.status is RevocationStatus.ERROR and attempt.problem is Problem.SIGNER
        assert "signed with SHA1, too weak" in attempt.error
    else:
        assert r.status is RevocationStatus.GOOD, r.evidence
        assert any("delegated responder" in e for e in r.evidence)
