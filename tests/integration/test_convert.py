"""certdoctor.x509.convert: real round trips checked with the openssl CLI.

Everything that needs no openssl subprocess: tests/unit/test_convert.py.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from support.pki import OPENSSL, der, key_pem, needs_openssl, openssl, p12, pem

from certdoctor.x509.convert import KEY_MODE, convert
from certdoctor.x509.load import load_bundle_file, load_file


@pytest.fixture(scope="module", params=["ec", "rsa"])
def pki(request, pki_ec, pki_rsa):
    return pki_ec if request.param == "ec" else pki_rsa


def fp(cert: x509.Certificate) -> str:
    from certdoctor.model import fingerprint_sha256

    return fingerprint_sha256(cert)


def openssl_fp(path: Path, inform: str = "PEM") -> str:
    out = openssl("x509", "-in", str(path), "-inform", inform, "-noout", "-fingerprint", "-sha256").decode()
    return out.strip().split("=", 1)[1]


def openssl_p7_certs(path: Path, inform: str) -> tuple[x509.Certificate, ...]:
    """What ``openssl pkcs7 -print_certs`` reads from ``path``, parsed back."""
    text = openssl("pkcs7", "-print_certs", "-inform", inform, "-in", str(path))
    return tuple(x509.load_pem_x509_certificates(text))


def openssl_pem_certs(path: Path) -> tuple[x509.Certificate, ...]:
    """Every certificate openssl finds in a PEM file (through crl2pkcs7, which reads them all)."""
    p7 = openssl("crl2pkcs7", "-nocrl", "-certfile", str(path))
    return tuple(x509.load_pem_x509_certificates(openssl("pkcs7", "-print_certs", input=p7)))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- round trips

@needs_openssl
def test_to_pem_read_by_openssl(tmp_path, pki):
    src = write(tmp_path, "in.p7b", pkcs7.serialize_certificates(list(pki.chain), serialization.Encoding.DER))
    result = convert(src, tmp_path / "out.pem", order=True)  # PKCS#7 is a SET: order it
    out = tmp_path / "out.pem"
    assert openssl_fp(out) == fp(pki.leaf)  # `openssl x509 -in` reads the first block
    assert set(openssl_pem_certs(out)) == set(pki.chain)
    assert result.input_format == "pkcs7-der" and result.written[0].count == 3


@needs_openssl
def test_to_der_read_by_openssl(tmp_path, pki):
    src = write(tmp_path, "leaf.pem", pem(pki.leaf))
    convert(src, tmp_path / "leaf.cer")  # .cer means DER
    out = tmp_path / "leaf.cer"
    assert out.read_bytes() == der(pki.leaf)
    assert openssl_fp(out, "DER") == fp(pki.leaf)


@needs_openssl
@pytest.mark.parametrize("to,inform", [("p7b", "DER"), ("p7b-pem", "PEM")])
def test_to_pkcs7_read_by_openssl(tmp_path, pki, to, inform):
    src = write(tmp_path, "chain.pem", pem(*pki.chain))
    convert(src, tmp_path / "chain.p7b", to=to)
    assert set(openssl_p7_certs(tmp_path / "chain.p7b", inform)) == set(pki.chain)  # a SET: no order
    assert load_bundle_file(tmp_path / "chain.p7b").format == ("pkcs7-der" if to == "p7b" else "pkcs7-pem")


@needs_openssl
@pytest.mark.parametrize("outform", ["PEM", "DER"])
def test_from_pkcs7_made_by_openssl(tmp_path, pki, outform):
    chain = write(tmp_path, "chain.pem", pem(*pki.chain))
    p7 = tmp_path / "chain.p7c"
    openssl("crl2pkcs7", "-nocrl", "-certfile", str(chain), "-outform", outform, "-out", str(p7))
    convert(p7, tmp_path / "back.pem", order=True)
    assert load_file(tmp_path / "back.pem") == pki.chain
    assert openssl_fp(tmp_path / "back.pem") == fp(pki.leaf)


@needs_openssl
@pytest.mark.parametrize("password", ["s3cret", ""])
def test_from_pkcs12_made_by_openssl(tmp_path, pki, password):
    chain = write(tmp_path, "chain.pem", pem(*pki.chain))
    key = write(tmp_path, "key.pem", key_pem(pki.leaf_key))
    p12_path = tmp_path / "id.pfx"
    openssl("pkcs12", "-export", "-in", str(chain), "-inkey", str(key), "-out", str(p12_path),
            "-passout", f"pass:{password}")
    result = convert(p12_path, tmp_path / "id.pem", with_key=True, password=password or None, order=True)
    assert load_file(tmp_path / "id.pem") == pki.chain
    key_out = tmp_path / "id.key"
    assert stat.S_IMODE(key_out.stat().st_mode) == 0o600 == KEY_MODE
    assert result.key_written and [w.kind for w in result.written] == ["certificates", "private-key"]
    # openssl agrees that the key written fits the leaf written
    key_pub = openssl("pkey", "-in", str(key_out), "-pubout")
    cert_pub = openssl("x509", "-in", str(tmp_path / "id.pem"), "-noout", "-pubkey")
    assert key_pub == cert_pub


@pytest.mark.parametrize("password", [b"s3cret", None])
def test_pkcs12_round_trip_with_and_without_password(tmp_path, pki, password):
    src = write(tmp_path, "id.p12", p12(pki, password))
    result = convert(src, tmp_path / "id.pem", password=password, order=True)
    assert load_file(tmp_path / "id.pem") == pki.chain
    assert result.key_skipped and not result.key_written
    assert not (tmp_path / "id.key").exists()  # never without --with-key
    assert any("--with-key" in n for n in result.notes)
    if OPENSSL:
        assert openssl_fp(tmp_path / "id.pem") == fp(pki.leaf)
