"""x509.load and CertInfo on certificates the openssl command line made (issue 9, item 11).

The DER files in tests/support/data/unusual/ come from
tests/integration/test_openssl_unusual_certs.py (`build` remakes them; that test also proves
that OpenSSL reads each one). A certificate OpenSSL reads is never called damaged: certdoctor
reads it, or names the part it cannot handle (key algorithm, time encoding) and what still works.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from certdoctor.errors import InputError
from certdoctor.model import CertInfo
from certdoctor.x509.load import load_bundle, load_certificates, unsupported_part

DATA = Path(__file__).resolve().parents[1] / "support" / "data" / "unusual"


def der(name: str) -> bytes:
    return (DATA / f"{name}.der").read_bytes()


def as_pem(data: bytes) -> bytes:
    b64 = base64.b64encode(data).decode()
    body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


@pytest.mark.parametrize("name,key_type,key_size,version", [
    ("ed25519-leaf", "Ed25519", None, 3),
    ("ed448-leaf", "Ed448", None, 3),
    ("v1-leaf", "RSA", 2048, 1),
    ("dsa-leaf-explicit", "DSA", 2048, 3),
    ("generalized-before-2050", "RSA", 2048, 3),
])
@pytest.mark.parametrize("encode", [lambda b: b, as_pem], ids=["der", "pem"])
def test_read_and_described(name, key_type, key_size, version, encode):
    (cert,) = load_certificates(encode(der(name)), source=name)
    info = CertInfo.from_certificate(cert)
    assert (info.key_type, info.key_size, info.version) == (key_type, key_size, version)
    assert unsupported_part(der(name)) is None  # nothing to excuse


def test_v1_has_no_extensions_and_is_not_a_ca():
    info = CertInfo.from_certificate(load_certificates(der("v1-leaf"))[0])
    assert info.version == 1 and info.san_dns == () and not info.is_ca


def test_generalized_time_before_2050_is_read_as_the_date_it_says():
    info = CertInfo.from_certificate(load_certificates(der("generalized-before-2050"))[0])
    assert (info.not_before.isoformat(), info.not_after.isoformat()) == (
        "2025-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")


@pytest.mark.parametrize("name,words", [
    ("dsa-leaf-inherited", "its public key is DSA (parameters inherited, size unknown)"),
    ("utc-without-seconds", "its notBefore is UTCTime '2501010000Z', without seconds (RFC 5280 requires "
                            "YYMMDDHHMMSSZ)"),
    ("utc-with-offset", "its notBefore is UTCTime '250101000000+0100', with a time-zone offset instead of Z"),
    ("generalized-fraction", "its notBefore is GeneralizedTime '20250101000000.5Z', with fractional seconds "
                             "(RFC 5280 requires YYYYMMDDHHMMSSZ)"),
    ("utc-not-after-without-seconds", "its notAfter is UTCTime '2701010000Z', without seconds"),
])
@pytest.mark.parametrize("encode,where", [(lambda b: b, "x.der: its "), (as_pem, "x.der: PEM block 1 (CERTIFICATE): its ")],
                         ids=["der", "pem"])
def test_the_part_certdoctor_cannot_read_is_named_never_damage(name, words, encode, where):
    with pytest.raises(InputError) as info:
        load_bundle(encode(der(name)), source="x.der")
    err = info.value
    assert err.message.startswith(where) and words in err.message
    assert "openssl x509 -noout -text" in err.hint  # what can still be looked at, and how
    for wrong in ("damaged", "not a valid X.509", "corrupted", "get it again"):
        assert wrong not in f"{err.message} {err.hint}"


def test_the_time_message_says_what_openssl_and_python_clients_do():
    part, _hint = unsupported_part(der("utc-with-offset"))
    assert "format error in certificate's notBefore field" in part and "Python client" in part


@pytest.mark.parametrize("cut", [1, 30, 200])
def test_damage_is_not_excused(cut):
    data = der("dsa-leaf-inherited")
    assert unsupported_part(data[:-cut]) is None
    with pytest.raises(InputError, match="truncated"):
        load_bundle(data[:-cut], source="x.der")


def test_a_damaged_name_inside_a_good_structure_is_still_an_error_of_its_own():
    data = bytearray(der("v1-leaf"))
    i = data.find(b"v1.i9.test")
    data[i - 2] = 0x05  # the CN's UTF8String/PrintableString tag becomes NULL: cryptography refuses
    assert unsupported_part(bytes(data)) is None
    with pytest.raises(InputError) as info:
        load_bundle(bytes(data), source="x.der")
    assert "unsupported" not in info.value.message and "inherited" not in info.value.message


def test_unsupported_part_never_raises_on_junk():
    for junk in (b"", b"\x30", b"\x30\x80", b"\x30\x03\x30\x01\x00", bytes(range(256)), b"\x30\x82\xff\xff"):
        assert unsupported_part(junk) is None
