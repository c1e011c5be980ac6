"""renew/keys.py and renew/csr.py (issue 12 item 1): keys a CA signs, written 0600 and never over a
file; CSRs with every name in subjectAltName; the one rule for a DNS name a person types."""

from __future__ import annotations

import ipaddress
import os
import re
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.renew import keys
from certdoctor.renew.csr import make_csr, normalise_ip, normalise_name

# one key of each kind for the whole module (RSA generation is slow)
EC256 = keys.generate_key("ec256")
RSA1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)


# ----------------------------------------------------------------------------- keys

@pytest.mark.parametrize("kind", keys.KEY_TYPES)
def test_generate_key_makes_the_type_asked_for(kind):
    key = EC256 if kind == "ec256" else keys.generate_key(kind)
    assert keys.key_type_of(key) == kind
    assert keys.check_key(key) is key


def test_unknown_key_type_is_usage_error():
    with pytest.raises(UsageError) as exc:
        keys.generate_key("rsa1024")
    assert "ec256" in exc.value.hint


def test_key_type_of_names_keys_no_ca_signs():
    assert keys.key_type_of(RSA1024) == "rsa1024"
    assert keys.key_type_of(ec.generate_private_key(ec.SECP521R1())) == "ec521"
    assert keys.key_type_of(ed25519.Ed25519PrivateKey.generate()) == "ed25519"


@pytest.mark.parametrize("key,words", [(RSA1024, "1024 bits"), (ed25519.Ed25519PrivateKey.generate(), "ed25519"),
                                       (ec.generate_private_key(ec.SECP521R1()), "ec521")])
def test_check_key_refuses_what_no_ca_signs(key, words):
    with pytest.raises(UsageError) as exc:
        keys.check_key(key, "--key")
    assert words in exc.value.message and "--key-type" in exc.value.hint


def test_write_new_key_is_0600_pkcs8_and_never_overwrites(tmp_path):
    path = tmp_path / "sub" / "new.key"
    keys.write_new_key(path, EC256)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = serialization.load_pem_private_key(data, None)
    assert again.private_numbers() == EC256.private_numbers()
    with pytest.raises(UsageError) as exc:
        keys.write_new_key(path, keys.generate_key("ec384"))
    assert "--key" in exc.value.hint
    assert path.read_bytes() == data
    assert sorted(p.name for p in path.parent.iterdir()) == ["new.key"]  # no temp file left


def test_write_new_key_refuses_a_link_and_stdout(tmp_path):
    target = tmp_path / "elsewhere"
    link = tmp_path / "link.key"
    os.symlink(target, link)  # dangling: a write would create the target through it
    with pytest.raises(UsageError):
        keys.write_new_key(link, EC256)
    assert not target.exists()
    with pytest.raises(UsageError) as exc:
        keys.write_new_key("-", EC256)
    assert "standard output" in exc.value.message


@pytest.mark.parametrize("encoding,fmt", [
    (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),
    (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),
    (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
])
def test_load_key_reads_pem_and_der(tmp_path, encoding, fmt):
    p = tmp_path / "k"
    p.write_bytes(EC256.private_bytes(encoding, fmt, serialization.NoEncryption()))
    assert keys.load_key(p).private_numbers() == EC256.private_numbers()


def test_load_key_finds_the_key_beside_certificates(tmp_path):
    from support.pki import TestCA

    leaf = TestCA("Key Root").issue_cert("k.test", key=EC256)
    p = tmp_path / "combined.pem"
    p.write_bytes(leaf.cert_pem() + keys.key_pem(EC256) + leaf.cert_pem())  # haproxy's one-file layout
    assert keys.load_key(p).private_numbers() == EC256.private_numbers()
    p.write_bytes(leaf.cert_pem())
    with pytest.raises(UsageError, match="certificate or public key"):
        keys.load_key(p)


def test_load_key_refusals_say_what_to_do(tmp_path):
    enc = tmp_path / "enc.key"
    enc.write_bytes(EC256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(UsageError) as exc:
        keys.load_key(enc)
    assert "encrypted" in exc.value.message and "openssl pkey" in exc.value.hint
    pub = tmp_path / "pub.pem"
    pub.write_bytes(EC256.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(UsageError) as exc:
        keys.load_key(pub)
    assert "not a private key" in exc.value.message
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00garbage" * 10)
    for path in (junk, tmp_path, tmp_path / "missing"):
        with pytest.raises(UsageError) as exc:
            keys.load_key(path)
        assert exc.value.hint
    big = tmp_path / "big"
    big.write_bytes(b"A" * (policy.RENEW_MAX_KEY_BYTES + 1))
    with pytest.raises(UsageError, match="larger than"):
        keys.load_key(big)


# ----------------------------------------------------------------------------- CSRs

def _sans(csr):
    ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return ext, ext.value.get_values_for_type(x509.DNSName), [str(a) for a in ext.value.get_values_for_type(x509.IPAddress)]


def test_every_name_is_in_san_folded_and_normalised():
    r = make_csr(["Example.COM", "www.example.com", "bücher.de", "example.com.", "*.Example.com"],
                 ips=["192.0.2.1", "::0001", "[::1]"], key=EC256)
    assert r.names == ("example.com", "www.example.com", "xn--bcher-kva.de", "*.example.com")
    assert r.ips == ("192.0.2.1", "::1")
    ext, dns, ips = _sans(r.csr)
    assert dns == list(r.names) and ips == ["192.0.2.1", "::1"]
    assert not ext.critical  # a CN is there
    assert r.csr.subject.rfc4514_string() == "CN=example.com" and r.common_name == "example.com"
    assert r.csr.is_signature_valid
    assert r.new_key is False and r.key is EC256 and r.key_type == "ec256"
    assert x509.load_pem_x509_csr(r.csr_pem).public_bytes(serialization.Encoding.DER) == \
        r.csr.public_bytes(serialization.Encoding.DER)


def test_a_first_name_over_64_characters_leaves_the_cn_out_and_says_so():
    long_name = ("a" * 60) + ".example.com"
    r = make_csr([long_name, "b.example.com"], key=EC256)
    assert r.common_name is None and len(r.csr.subject) == 0
    assert any("64" in n for n in r.notes)
    ext, dns, _ = _sans(r.csr)
    assert ext.critical and dns == [long_name, "b.example.com"]  # RFC 5280: empty subject => critical SAN


def test_common_name_choices():
    r = make_csr(["a.example", "b.example"], key=EC256, common_name="B.example")
    assert r.common_name == "b.example"
    r = make_csr(["a.example"], key=EC256, common_name=False)
    assert r.common_name is None and len(r.csr.subject) == 0 and not r.notes
    with pytest.raises(UsageError, match="not one of"):
        make_csr(["a.example"], key=EC256, common_name="c.example")
    r = make_csr([], ips=["192.0.2.7"], key=EC256)
    assert r.common_name is None and r.names == () and r.ips == ("192.0.2.7",)


def test_a_new_key_is_made_of_the_type_asked_and_signed_accordingly():
    r = make_csr(["a.example"], key_type="ec384")
    assert r.new_key and r.key_type == "ec384" and isinstance(r.csr.signature_hash_algorithm, hashes.SHA384)
    assert r.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert r.csr.public_key().public_numbers() == r.key.public_key().public_numbers()


def test_refusals():
    with pytest.raises(UsageError, match="at least one"):
        make_csr([], key=EC256)
    with pytest.raises(UsageError, match="1024"):
        make_csr(["a.example"], key=RSA1024)
    with pytest.raises(UsageError, match="an IP address") as exc:
        make_csr(["192.0.2.1"], key=EC256)
    assert "--ip 192.0.2.1" in exc.value.hint
    with pytest.raises(UsageError):
        make_csr(["a.example"], ips=["a.example"], key=EC256)
    too_many = [f"n{i}.example" for i in range(policy.RENEW_MAX_IDENTIFIERS + 1)]
    with pytest.raises(UsageError, match="more than"):
        make_csr(too_many, key=EC256)
    assert len(make_csr(too_many[:-1], key=EC256).names) == policy.RENEW_MAX_IDENTIFIERS


@pytest.mark.parametrize("name,expected", [
    ("Example.COM", "example.com"), ("example.com.", "example.com"), ("*.a.example", "*.a.example"),
    ("bücher.de", "xn--bcher-kva.de"), ("XN--BCHER-KVA.de", "xn--bcher-kva.de"), ("ß.de", "xn--zca.de"),
    ("localhost", "localhost"), ("a-b.example", "a-b.example"), ("1a.example", "1a.example"),
])
def test_normalise_name_accepts(name, expected):
    assert normalise_name(name) == expected


@pytest.mark.parametrize("name,words", [
    ("", "empty"), (" a.example", "spaces"), ("a .example", "spaces"), ("a.example\n", "spaces"),
    ("*", "wildcard"), ("*.", "wildcard"), ("a.*.example", "wildcard"), ("*.*.example", "wildcard"),
    ("f*o.example", "wildcard"), ("*a.example", "wildcard"), ("a..example", "empty label"), (".a", "empty label"),
    ("a.example..", "empty label"), ("-a.example", "letters"), ("a-.example", "letters"), ("a_b.example", "letters"),
    ("x" * 64 + ".example", "63"), (".".join(["a" * 63] * 4) + ".b", "253"), ("1.2.3", "digits"),
    ("192.0.2.1", "--ip"), ("::1", "--ip"), ("[2001:db8::1]", "--ip"), ("xn--zz.example", "Punycode"),
    ("a/b.example", "letters"), ("a@b.example", "letters"),
])
def test_normalise_name_refuses_with_a_hint(name, words):
    with pytest.raises(UsageError) as exc:
        normalise_name(name)
    assert words in exc.value.message + exc.value.hint and exc.value.hint


def test_normalise_ip():
    assert normalise_ip("2001:DB8:0::1") == "2001:db8::1"
    for bad in ("", "1.2.3", "a.example", " 1.2.3.4", "1.2.3.4/24"):
        with pytest.raises(UsageError):
            normalise_ip(bad)


_A_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ANY = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.from_regex(
    r"\A[*]?[.]?[A-Za-z0-9\-_.*\u00e4\u00df\u4e2d]{0,30}[.]?\Z")


@settings(max_examples=400, deadline=None)
@given(_ANY)
def test_normalise_name_never_crashes_and_is_idempotent(name):
    """Any text: a UsageError with a hint, or a lowercase A-label name (wildcard only at the
    front, labels 1-63, total <= 253, not all-digit at the end) that normalises to itself."""
    try:
        out = normalise_name(name)
    except UsageError as exc:
        assert exc.message and exc.hint and "\n" not in exc.message
        return
    assert out.isascii() and out == out.lower() and _A_NAME.match(out), out
    assert "*" not in out[1:] and len(out) <= 253 and all(len(lab) <= 63 for lab in out.split("."))
    assert not out.split(".")[-1].isdigit()
    assert normalise_name(out) == out
    with pytest.raises(ValueError):
        ipaddress.ip_address(out)


_LABELS = st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?\Z")


@settings(max_examples=200, deadline=None)
@given(st.lists(_LABELS, min_size=1, max_size=5).filter(lambda ls: not ls[-1].isdigit() and "--" not in "".join(ls[i][2:4] for i in range(len(ls)))),
       st.booleans())
def test_valid_ascii_names_are_kept_lowercased(labels, wildcard):
    name = ("*." if wildcard else "") + ".".join(labels)
    try:
        out = normalise_name(name)
    except UsageError:
        assert any(lab[2:4] == "--" for lab in labels)  # only a reserved xn-- style label may be refused
        return
    assert out == name.lower()
