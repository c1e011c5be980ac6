"""certdoctor.x509.load reading what the openssl CLI writes (TRUSTED CERTIFICATE, PKCS#7, PKCS#12).

Every other loader test needs no subprocess: tests/unit/test_load.py.
"""

from __future__ import annotations

import pytest
from support.pki import key_pem, needs_openssl, openssl, pem

from certdoctor.x509.load import load_bundle, load_certificates

# --------------------------------------------------------------------------- test PKI (pki_ec, pki_rsa: conftest)

@pytest.fixture(scope="session", params=["ec", "rsa"])
def pki(request, pki_ec, pki_rsa):
    return pki_ec if request.param == "ec" else pki_rsa


# --------------------------------------------------------------------------- formats


@needs_openssl
def test_trusted_certificate_block(tmp_path, pki):
    (tmp_path / "c.pem").write_bytes(pem(pki.root))
    trusted = openssl("x509", "-in", str(tmp_path / "c.pem"), "-trustout", "-addtrust", "serverAuth")
    assert b"BEGIN TRUSTED CERTIFICATE" in trusted
    assert load_certificates(trusted) == (pki.root,)


@needs_openssl
@pytest.mark.parametrize("outform,fmt", [("PEM", "pkcs7-pem"), ("DER", "pkcs7-der")])
def test_pkcs7_made_by_openssl(tmp_path, pki, outform, fmt):
    (tmp_path / "chain.pem").write_bytes(pem(*pki.chain))
    data = openssl("crl2pkcs7", "-nocrl", "-certfile", str(tmp_path / "chain.pem"), "-outform", outform)
    loaded = load_bundle(data)
    assert loaded.format == fmt and set(loaded.certificates) == set(pki.chain)


@needs_openssl
@pytest.mark.parametrize("passout", ["pass:s3cret", "pass:"])
def test_pkcs12_made_by_openssl(tmp_path, pki, passout):
    (tmp_path / "chain.pem").write_bytes(pem(*pki.chain))
    (tmp_path / "key.pem").write_bytes(key_pem(pki.leaf_key))
    data = openssl("pkcs12", "-export", "-in", str(tmp_path / "chain.pem"), "-inkey", str(tmp_path / "key.pem"),
                   "-passout", passout)
    loaded = load_bundle(data, password=passout[5:] or None)
    assert loaded.certificates[0] == pki.leaf and set(loaded.certificates) == set(pki.chain)
    assert loaded.private_key is not None
