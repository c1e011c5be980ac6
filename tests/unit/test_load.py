"""certdoctor.x509.load: every format by content, the what-is-it messages, the bounds, and fuzzing.

The test PKI (root → intermediate → leaf, ECDSA or RSA) comes from ``support.pki``, shared with
test_convert and test_inspect. Files made by the openssl CLI: tests/integration/test_load.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.pki import NOW, der, key_pem, make_name, p12, pem

from certdoctor.errors import InputError, PasswordError
from certdoctor.x509.load import (
    MAX_INPUT_BYTES,
    MAX_PEM_BLOCKS,
    LoadedFile,
    load_bundle,
    load_bundle_file,
    load_certificates,
    load_file,
)

# --------------------------------------------------------------------------- test PKI (pki_ec, pki_rsa: conftest)

@pytest.fixture(scope="session", params=["ec", "rsa"])
def pki(request, pki_ec, pki_rsa):
    return pki_ec if request.param == "ec" else pki_rsa


# --------------------------------------------------------------------------- formats

def test_pem_one_and_many(pki):
    assert load_certificates(pem(pki.leaf)) == (pki.leaf,)
    loaded = load_bundle(pem(*pki.chain))
    assert loaded.certificates == pki.chain and loaded.format == "pem" and loaded.private_key is None


def test_pem_with_text_crlf_and_trailing_garbage(pki):
    text = (b"subject=CN = www.example.test\nissuer=whatever\n" + pem(pki.leaf) + b"\nsome words in between\n"
            + pem(pki.intermediate) + b"\n\x00\x01 trailing garbage \xff")
    assert load_certificates(text) == pki.chain[:2]
    crlf = pem(*pki.chain).replace(b"\n", b"\r\n")
    assert load_certificates(crlf) == pki.chain
    assert load_certificates(b"\xef\xbb\xbf" + pem(pki.leaf)) == (pki.leaf,)  # UTF-8 BOM


def test_pem_utf16_from_windows(pki):
    data = pem(pki.leaf).decode().encode("utf-16")  # with BOM, as PowerShell's `>` writes it
    loaded = load_bundle(data)
    assert loaded.certificates == (pki.leaf,) and "UTF-16" in loaded.notes[0]


def test_pem_skips_key_blocks_with_a_note(pki):
    loaded = load_bundle(key_pem(pki.leaf_key) + pem(pki.leaf))
    assert loaded.certificates == (pki.leaf,)
    assert any("PEM block 1 (PRIVATE KEY)" in n for n in loaded.notes)
    assert loaded.private_key is None


def test_der_single_and_concatenated(pki):
    loaded = load_bundle(der(pki.leaf))
    assert loaded.certificates == (pki.leaf,) and loaded.format == "der"
    assert load_certificates(b"".join(der(c) for c in pki.chain)) == pki.chain
    assert load_certificates(der(pki.leaf) + b"\n") == (pki.leaf,)


@pytest.mark.parametrize("encoding,fmt", [(serialization.Encoding.PEM, "pkcs7-pem"),
                                          (serialization.Encoding.DER, "pkcs7-der")])
def test_pkcs7(pki, encoding, fmt):
    data = pkcs7.serialize_certificates(list(pki.chain), encoding)
    loaded = load_bundle(data)
    assert loaded.format == fmt and set(loaded.certificates) == set(pki.chain)


@pytest.mark.parametrize("password", [b"s3cret", None])
def test_pkcs12(pki, password):
    data = p12(pki, password)
    loaded = load_bundle(data, password=password)
    assert loaded.format == "pkcs12"
    assert loaded.certificates[0] == pki.leaf and set(loaded.certificates) == set(pki.chain)
    assert loaded.private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == pki.leaf.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    if password:
        assert load_certificates(data, password=password.decode()) == loaded.certificates  # str works too


def test_pkcs12_password_errors(pki_ec, tmp_path):
    data = p12(pki_ec, b"s3cret")
    with pytest.raises(PasswordError, match="protected by a password and none was given"):
        load_certificates(data, source="id.p12")
    with pytest.raises(PasswordError, match="wrong password") as exc:
        load_certificates(data, password="nope", source="id.p12")
    assert exc.value.message.startswith("id.p12: ") and exc.value.hint
    path = tmp_path / "id.pfx"
    path.write_bytes(data)
    with pytest.raises(PasswordError, match=str(path)):
        load_file(path, password=b"wrong")
    assert isinstance(exc.value, InputError)  # exit code 2 like every bad input


def test_pkcs12_without_certificate(pki_ec):
    data = pkcs12.serialize_key_and_certificates(b"k", pki_ec.leaf_key, None, None, serialization.NoEncryption())
    with pytest.raises(InputError, match="only a private key"):
        load_certificates(data)


def test_pkcs12_iteration_bomb_is_refused(pki_ec):
    from certdoctor.x509.load import _children, _tlv

    data = p12(pki_ec, b"pw")
    _, hl, ln = _tlv(data)
    version, auth_safe, mac = _children(data[hl:hl + ln])
    digest, salt, _iterations = _children(mac[1])
    # the same file with a MAC that asks for 2^31 - 1 PBKDF rounds (hours of CPU)
    new_mac = _tlv_bytes(0x30, _tlv_bytes(*digest) + _tlv_bytes(*salt) + _tlv_bytes(0x02, b"\x7f\xff\xff\xff"))
    bomb = _tlv_bytes(0x30, _tlv_bytes(*version) + _tlv_bytes(*auth_safe) + new_mac)
    start = time.monotonic()
    with pytest.raises(InputError, match="asks for 2,147,483,647 key-derivation rounds"):
        load_certificates(bomb, password=b"pw")
    assert time.monotonic() - start < 2


def _tlv_bytes(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def test_detection_ignores_the_file_name(tmp_path, pki_ec):
    path = tmp_path / "really-der.pem"
    path.write_bytes(der(pki_ec.leaf))
    assert load_bundle_file(path).format == "der"
    path = tmp_path / "really-pem.der"
    path.write_bytes(pem(pki_ec.leaf))
    assert load_bundle_file(path).format == "pem"


# --------------------------------------------------------------------------- what is it?

def _csr(key):
    return (x509.CertificateSigningRequestBuilder().subject_name(make_name("csr.example.test"))
            .sign(key, hashes.SHA256()))


def _crl(pki):
    return (x509.CertificateRevocationListBuilder().issuer_name(pki.intermediate.subject)
            .last_update(NOW).next_update(NOW + dt.timedelta(days=7)).sign(pki.intermediate_key, hashes.SHA256()))


def _what(data: bytes, source="thing.pem") -> InputError:
    with pytest.raises(InputError) as exc:
        load_certificates(data, source=source)
    err = exc.value
    assert err.message.startswith(f"{source}: ")
    assert "ParseError" not in err.message
    return err


def test_what_is_it_keys(pki_ec):
    k = pki_ec.leaf_key
    assert "a private key (PKCS#8), not a certificate" in _what(key_pem(k)).message
    trad = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                           serialization.NoEncryption())
    assert "an EC private key" in _what(trad).message
    enc = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.BestAvailableEncryption(b"x"))
    assert "an encrypted private key" in _what(enc).message
    assert "a private key" in _what(k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption())).message
    encder = k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(b"x"))
    assert "an encrypted private key" in _what(encder).message
    pub = k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert "a public key" in _what(pub).message
    pubder = k.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    assert "a public key" in _what(pubder).message
    assert "give the certificate" in _what(key_pem(k)).hint


def test_what_is_it_csr_and_crl(pki_ec):
    csr = _csr(pki_ec.leaf_key)
    for data in (csr.public_bytes(serialization.Encoding.PEM), csr.public_bytes(serialization.Encoding.DER)):
        err = _what(data)
        assert "certificate signing request (CSR)" in err.message and "CA" in err.hint
    crl = _crl(pki_ec)
    for data in (crl.public_bytes(serialization.Encoding.PEM), crl.public_bytes(serialization.Encoding.DER)):
        assert "certificate revocation list (CRL)" in _what(data).message


@pytest.mark.parametrize("data,words", [
    (b"", "empty file"),
    (b" \r\n\t\n", "only whitespace"),
    (b"\xef\xbb\xbf\n", "only whitespace"),
    (b"<!DOCTYPE html>\n<html><head><title>Login</title></head></html>", "an HTML page"),
    (b"\n  <html lang=en><body>502 Bad Gateway</body></html>", "an HTML page"),
    (b'{"certificate": "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"}',
     "it holds PEM text at .certificate"),
    (b"-----BEGIN CERTIFICATE nope", "no valid PEM block"),
    (b'{"certificate": "MIIB..."}', "JSON"),
    (b"[1, 2, 3]\n", "JSON"),
    (b"PK\x03\x04\x14\x00\x00\x00", "a ZIP archive"),
    (b"\x1f\x8b\x08\x00", "gzip"),
    (b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host\n", "an OpenSSH public key"),
    (b"hello, this is not a certificate\n", "text, not a certificate"),
    (b"\x00\x01\x02\x03\x04", "binary data that is neither PEM nor DER"),
])
def test_what_is_it_other(data, words):
    assert words in _what(data).message


def test_base64_without_armor(pki_ec):
    body = base64.encodebytes(der(pki_ec.leaf))
    err = _what(body)
    assert "without PEM BEGIN/END lines" in err.message and "BEGIN CERTIFICATE" in err.hint


def test_truncated_der_says_where(pki_ec):
    full = der(pki_ec.leaf)
    err = _what(full[:200], source="cut.der")
    assert f"truncated DER: the SEQUENCE declares {len(full):,} bytes, the file has 200" in err.message
    assert "cut.der" in err.message
    err = _what(full[:2], source="cut.der")
    assert "DER" in err.message


def test_truncated_der_inside_pem_block(pki_ec):
    full = der(pki_ec.leaf)
    b64 = base64.encodebytes(full[:300]).strip()
    data = pem(pki_ec.root) + b"-----BEGIN CERTIFICATE-----\n" + b64 + b"\n-----END CERTIFICATE-----\n"
    err = _what(data)
    assert "PEM block 2 (CERTIFICATE)" in err.message and "truncated DER" in err.message


def test_broken_pem_block_is_named(pki_ec):
    good = pem(pki_ec.leaf).decode()
    lines = good.splitlines()
    lines[3] = lines[3][:10] + "!" + lines[3][11:]
    err = _what(pem(pki_ec.root) + pem(pki_ec.intermediate) + "\n".join(lines).encode())
    assert "PEM block 3 (CERTIFICATE) does not decode" in err.message
    # valid base64 that is not a certificate
    junk = base64.encodebytes(b"\x30\x03\x02\x01\x05")
    err = _what(b"-----BEGIN CERTIFICATE-----\n" + junk + b"-----END CERTIFICATE-----\n")
    assert "PEM block 1 (CERTIFICATE) is not a valid X.509 certificate: invalid ASN.1" in err.message


def test_unterminated_and_mismatched_blocks(pki_ec):
    cut = pem(pki_ec.leaf)[:-30]
    assert "has no END CERTIFICATE line" in _what(pem(pki_ec.root) + cut).message
    bad = pem(pki_ec.leaf).replace(b"END CERTIFICATE", b"END PRIVATE KEY")
    assert "ends with END PRIVATE KEY" in _what(bad).message


def test_damaged_pkcs12_is_not_a_password_problem(pki_ec):
    data = bytearray(p12(pki_ec, b"pw"))
    data[40:60] = bytes(20)
    with pytest.raises(InputError) as exc:
        load_certificates(bytes(data), password=b"pw")
    assert "ParseError" not in exc.value.message


def test_damaged_name_is_found_at_load_time(pki_ec):
    d = der(pki_ec.leaf)
    i = d.find(b"\x0c\x10www.example.test")  # the CN's UTF8String; make it a BIT STRING
    err = _what(d[:i] + b"\x03" + d[i + 1:], source="leaf.der")
    assert "certificate 1 is damaged: its subject or issuer name does not parse" in err.message


def test_unsupported_key_algorithm_is_skipped_in_a_bundle(pki_ec):
    ec_oid = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey
    odd = der(pki_ec.leaf).replace(ec_oid, bytes.fromhex("06072a8648ce3d0209"))
    loaded = load_bundle(odd + der(pki_ec.root))
    assert loaded.certificates == (pki_ec.root,)
    assert "certificate 1 skipped: its public key algorithm (1.2.840.10045.2.9) is not supported" in loaded.notes
    err = _what(odd, source="odd.der")
    assert "odd.der: the certificate's public key algorithm is not supported (1.2.840.10045.2.9)" == err.message


# --------------------------------------------------------------------------- files and bounds

def test_errors_name_the_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some notes\n")
    with pytest.raises(InputError) as exc:
        load_file(path)
    assert exc.value.message.startswith(str(path))
    with pytest.raises(InputError, match="no such file"):
        load_file(tmp_path / "missing.pem")
    with pytest.raises(InputError, match="is a directory"):
        load_file(tmp_path)


def test_unreadable_file(tmp_path, pki_ec, monkeypatch):
    import certdoctor.x509.load as load_mod

    path = tmp_path / "secret.pem"
    path.write_bytes(pem(pki_ec.leaf))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(load_mod, "open", denied, raising=False)  # root reads mode 000 files anyway
    with pytest.raises(InputError, match=r"secret.pem: cannot read: Permission denied"):
        load_file(path)


def test_huge_file_is_refused_by_size_before_reading(tmp_path):
    path = tmp_path / "huge.pem"
    with open(path, "wb") as fh:  # sparse: 100 MB on paper, nothing on disk
        fh.truncate(100 * 1024 * 1024)
    start = time.monotonic()
    with pytest.raises(InputError, match=r"huge.pem: 100.0 MiB is too large; certdoctor reads at most 20 MiB"):
        load_file(path)
    assert time.monotonic() - start < 0.5
    with pytest.raises(InputError, match="too large"):
        load_certificates(b"\x30" * (MAX_INPUT_BYTES + 1))


def test_block_count_is_capped_and_fast():
    block = b"-----BEGIN X-----\n-----END X-----\n"
    data = block * (MAX_INPUT_BYTES // len(block))  # ~640,000 blocks, just under the size limit
    start = time.monotonic()
    with pytest.raises(InputError, match=f"more than {MAX_PEM_BLOCKS:,} PEM blocks"):
        load_certificates(data)
    assert time.monotonic() - start < 2
    # a million blocks is over the size limit: refused before any parsing
    with pytest.raises(InputError, match="too large"):
        load_certificates(block * 1_000_000)


def test_many_unterminated_begins_are_linear():
    data = b"-----BEGIN THING-----\nAAAA\n" * 600_000
    start = time.monotonic()
    with pytest.raises(InputError):
        load_certificates(data[:MAX_INPUT_BYTES])
    assert time.monotonic() - start < 3


def test_bundle_of_many_certificates(pki_ec):
    data = pem(*pki_ec.chain) * 300  # 900 blocks
    assert len(load_certificates(data)) == 900


def test_loaded_file_is_frozen(pki_ec):
    loaded = load_bundle(pem(pki_ec.leaf), source="x.pem")
    assert isinstance(loaded, LoadedFile) and loaded.source == "x.pem"
    with pytest.raises(AttributeError):
        loaded.format = "der"  # type: ignore[misc]


def test_public_api_is_exported():
    import certdoctor

    assert certdoctor.load_certificates is load_certificates and certdoctor.load_file is load_file


# --------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def samples(pki_ec):
    pki = pki_ec
    return {
        "pem": pem(*pki.chain),
        "der": der(pki.leaf),
        "p7-pem": pkcs7.serialize_certificates(list(pki.chain), serialization.Encoding.PEM),
        "p7-der": pkcs7.serialize_certificates(list(pki.chain), serialization.Encoding.DER),
        "p12": p12(pki, b"pw"),
        "p12-nopw": p12(pki, None),
    }


def _only_input_errors(data: bytes, password=None) -> None:
    try:
        certs = load_certificates(data, password=password, source="fuzz")
    except InputError as exc:
        assert exc.message.startswith("fuzz") and "ParseError {" not in exc.message
        return
    assert certs and all(isinstance(c, x509.Certificate) for c in certs)


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data):
    _only_input_errors(data)


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_random_bytes_after_a_der_header(data):
    _only_input_errors(b"\x30\x82" + data)
    _only_input_errors(b"-----BEGIN CERTIFICATE-----\n" + data + b"\n-----END CERTIFICATE-----\n")


@st.composite
def mutated(draw, data: bytes):
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "byte"]))
        if not buf:
            break
        i = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte":
            buf[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del buf[i:i + draw(st.integers(1, 16))]
    return bytes(buf)


@pytest.mark.parametrize("kind", ["pem", "der", "p7-pem", "p7-der", "p12", "p12-nopw"])
def test_fuzz_mutated_valid_inputs(samples, kind):
    @FUZZ
    @given(data=st.data())
    def run(data):
        blob = data.draw(mutated(samples[kind]))
        _only_input_errors(blob, password=b"pw" if kind == "p12" else None)

    run()
