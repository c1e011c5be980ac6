"""checks.crypto: WEAK_SIGNATURE, WEAK_KEY, WRONG_EKU (OpenSSL security level 2 and purpose checks)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certdoctor.checks import crypto
from certdoctor.checks.context import derive
from certdoctor.lab.pki import resign_sha1
from certdoctor.model import Code, Severity

from support.evidence import evidence
from support.pki import TestCA


def found(chain, anchors):
    return [(f.code, f.severity, f.cert_index) for f in crypto.check(derive(evidence(chain, anchors=anchors)))]


def test_a_sha1_signed_leaf_is_weak_signature():
    """SHA-1 needs care: cryptography cannot build one, so the lab's resign_sha1 re-signs the TBS."""
    root = TestCA("SHA-1 Root", kind="rsa")
    inter = root.intermediate("SHA-1 Intermediate")
    leaf = resign_sha1(inter.issue_cert("www.example.test").cert, inter.key)
    assert found([leaf, inter.cert], [root.cert]) == [(Code.WEAK_SIGNATURE, Severity.ERROR, 0)]
    f = crypto.check(derive(evidence([leaf, inter.cert], anchors=[root.cert])))[0]
    assert "SHA1" in f.summary and "sha1WithRSAEncryption" in f.evidence[0]


def test_the_trusted_roots_own_sha1_self_signature_does_not_matter():
    root = TestCA("Old Root", kind="rsa")
    old_root = resign_sha1(root.cert, root.key)
    inter = root.intermediate("Modern Intermediate")
    leaf = inter.issue_cert("www.example.test")
    # the server sends the root too; it is the anchor, so its self-signature is not judged
    assert found([leaf.cert, inter.cert, old_root], [old_root]) == []
    # untrusted, the same root is on the path like any other certificate
    other = TestCA("Another Root", kind="rsa").cert
    assert (Code.WEAK_SIGNATURE, Severity.ERROR, 2) in found([leaf.cert, inter.cert, old_root], [other])


def test_a_1024_bit_rsa_key_is_weak_key():
    root = TestCA("RSA Root", kind="rsa")
    inter = root.intermediate("RSA Intermediate")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    leaf = inter.issue_cert("www.example.test", key=small)
    (f,) = crypto.check(derive(evidence([leaf.cert, inter.cert], anchors=[root.cert])))
    assert f.code is Code.WEAK_KEY and f.cert_index == 0 and "1024-bit RSA" in f.summary
    assert "'EE certificate key too weak'" in f.explanation


def test_a_client_only_certificate_is_wrong_eku():
    root = TestCA()
    inter = root.intermediate()
    leaf = inter.issue_cert("www.example.test", eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    (f,) = crypto.check(derive(evidence([leaf.cert, inter.cert], anchors=[root.cert])))
    assert f.code is Code.WRONG_EKU and "clientAuth" in " ".join(f.evidence)
    assert "unsuitable certificate purpose" in f.explanation
    healthy = inter.issue_cert("www.example.test")
    assert found([healthy.cert, inter.cert], [root.cert]) == []
