"""Certificates OpenSSL reads that certdoctor did not make (issue 9, item 11): never "damaged".

The `openssl` command line makes each one (genpkey, req, x509 -req; odd encodings by splicing
the to-be-signed DER and signing it with `openssl dgst -sign`), `openssl x509` proves it reads
it, and certdoctor either reads it or names exactly the part it cannot handle:

    Ed25519 / Ed448 CA and leaf          read; key Ed25519 / Ed448
    X.509 v1 (x509 -req, no extensions)  read; version 1
    GeneralizedTime notBefore < 2050     read (cryptography accepts it; so does OpenSSL's verify)
    DSA key, parameters inherited        "DSA (parameters inherited, size unknown)", never "damaged"
    UTCTime without seconds / offset     "its notBefore is UTCTime '…', without seconds …"
    GeneralizedTime with a fraction      "… with fractional seconds …"; OpenSSL's verify refuses
                                         all three ("format error in certificate's notBefore field")

The odd times are spliced into a v3 RSA leaf with a SAN, so that served by `openssl s_server`
the real requests fails on the time alone; certdoctor's probe then names the same part.

The DER files made here are also stored under tests/support/data/unusual/ for the unit tests
(tests/unit/test_load_unusual.py); :func:`build` remakes them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from certdoctor.errors import InputError
from certdoctor.model import CertInfo
from certdoctor.x509.load import load_bundle_file, load_file, unsupported_part

from support.openssl_pki import der_enc, resign
from support.pki import OPENSSL, needs_openssl

pytestmark = needs_openssl

CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
LEAF_EXT = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectAltName=DNS:{name}\nauthorityKeyIdentifier=keyid\n")


def ossl(*args: str, cwd: Path) -> bytes:
    return subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, check=True, timeout=60).stdout


def _times(not_before: tuple[int, bytes], not_after: tuple[int, bytes]) -> bytes:
    return der_enc(0x30, der_enc(*not_before) + der_enc(*not_after))


def _ca_and_leaf(d: Path, prefix: str, genpkey: list[str], leaf_name: str, *, v1_leaf: bool = False) -> None:
    for who in ("ca", "leaf"):
        ossl("genpkey", *genpkey, "-out", f"{prefix}-{who}.key", cwd=d)
    (d / "ca.ext").write_text(CA_EXT)
    (d / "leaf.ext").write_text(LEAF_EXT.format(name=leaf_name))
    ossl("req", "-x509", "-new", "-key", f"{prefix}-ca.key", "-subj", f"/CN={prefix} openssl CA", "-days", "30",
         "-extensions", "v3", "-config", _req_cnf(d), "-out", f"{prefix}-ca.pem", cwd=d)
    ossl("req", "-new", "-key", f"{prefix}-leaf.key", "-subj", f"/CN={leaf_name}", "-out", f"{prefix}-leaf.csr",
         cwd=d)
    ext = [] if v1_leaf else ["-extfile", "leaf.ext"]
    ossl("x509", "-req", "-in", f"{prefix}-leaf.csr", "-CA", f"{prefix}-ca.pem", "-CAkey", f"{prefix}-ca.key",
         "-days", "30", *ext, "-outform", "DER", "-out", f"{prefix}-leaf.der", cwd=d)


def _req_cnf(d: Path) -> str:
    path = d / "req.cnf"
    path.write_text("[req]\ndistinguished_name=dn\n[dn]\n[v3]\n" + CA_EXT)
    return str(path)


def build(d: Path) -> dict[str, Path]:
    """Make every case under ``d``; {case: DER file}."""
    d.mkdir(parents=True, exist_ok=True)
    _ca_and_leaf(d, "ed25519", ["-algorithm", "ed25519"], "ed25519.i9.test")
    _ca_and_leaf(d, "ed448", ["-algorithm", "ed448"], "ed448.i9.test")
    rsa = ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"]
    _ca_and_leaf(d, "rsa", rsa, "v1.i9.test", v1_leaf=True)
    _ca_and_leaf(d, "rsa3", rsa, "odd.i9.test")  # the base of the odd times: a SAN, so only the time fails
    ossl("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048", "-out", "dsa.param",
         cwd=d)
    _ca_and_leaf(d, "dsa", ["-paramfile", "dsa.param"], "dsa.i9.test")
    base = (d / "rsa3-leaf.der").read_bytes()
    ca_key = d / "rsa3-ca.key"
    cases = {
        "ed25519-leaf": d / "ed25519-leaf.der",
        "ed448-leaf": d / "ed448-leaf.der",
        "v1-leaf": d / "rsa-leaf.der",
        "dsa-leaf-explicit": d / "dsa-leaf.der",
    }
    odd = {
        "generalized-before-2050": _times((0x18, b"20250101000000Z"), (0x18, b"20270101000000Z")),
        "utc-without-seconds": _times((0x17, b"2501010000Z"), (0x17, b"270101000000Z")),
        "utc-with-offset": _times((0x17, b"250101000000+0100"), (0x17, b"270101000000Z")),
        "generalized-fraction": _times((0x18, b"20250101000000.5Z"), (0x17, b"270101000000Z")),
        "utc-not-after-without-seconds": _times((0x17, b"250101000000Z"), (0x17, b"2701010000Z")),
    }
    for name, validity in odd.items():
        cases[name] = d / f"{name}.der"
        cases[name].write_bytes(resign(base, ca_key, d, validity=validity))
    cases["dsa-leaf-inherited"] = d / "dsa-leaf-inherited.der"
    cases["dsa-leaf-inherited"].write_bytes(
        resign((d / "dsa-leaf.der").read_bytes(), d / "dsa-ca.key", d, drop_key_params=True))
    return cases


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("unusual"))


@pytest.mark.parametrize("name", [
    "ed25519-leaf", "ed448-leaf", "v1-leaf", "dsa-leaf-explicit", "generalized-before-2050",
    "dsa-leaf-inherited", "utc-without-seconds", "utc-with-offset", "generalized-fraction",
    "utc-not-after-without-seconds",
])
def test_openssl_reads_every_case(cases, name):
    text = ossl("x509", "-inform", "DER", "-in", str(cases[name]), "-noout", "-subject", "-dates",
                cwd=cases[name].parent).decode()
    assert "subject=" in text and "notAfter=" in text


@pytest.mark.parametrize("name,key_type,version", [
    ("ed25519-leaf", "Ed25519", 3),
    ("ed448-leaf", "Ed448", 3),
    ("v1-leaf", "RSA", 1),
    ("dsa-leaf-explicit", "DSA", 3),
    ("generalized-before-2050", "RSA", 3),
])
def test_certdoctor_reads_what_cryptography_can(cases, name, key_type, version):
    (cert,) = load_file(cases[name])
    info = CertInfo.from_certificate(cert)
    assert (info.key_type, info.version) == (key_type, version)
    assert info.subject.endswith(".i9.test")
    if name == "generalized-before-2050":
        assert (info.not_before.year, info.not_after.year) == (2025, 2027)


def test_the_edwards_leaf_verifies_under_its_ca_in_openssl_and_certdoctor(cases):
    from certdoctor.model import issued_by

    d = cases["ed25519-leaf"].parent
    ossl("x509", "-inform", "DER", "-in", "ed25519-leaf.der", "-out", "ed25519-leaf.pem", cwd=d)
    assert b"OK" in ossl("verify", "-CAfile", "ed25519-ca.pem", "ed25519-leaf.pem", cwd=d)
    (leaf,) = load_file(cases["ed25519-leaf"])
    (ca,) = load_file(d / "ed25519-ca.pem")
    assert issued_by(leaf, ca)


def _refusal(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_bundle_file(path)
    return info.value


def test_dsa_with_inherited_parameters_is_named_not_damaged(cases):
    err = _refusal(cases["dsa-leaf-inherited"])
    text = f"{err.message} {err.hint}"
    assert "DSA (parameters inherited, size unknown)" in err.message
    assert "issuer" in err.message and "openssl x509 -noout -text" in err.hint
    assert "damaged" not in text and "not a valid X.509" not in text
    # OpenSSL reads the certificate and says the same about the key: no parameters of its own
    shown = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-in", str(cases["dsa-leaf-inherited"]),
                            "-noout", "-text"], capture_output=True, text=True, timeout=30).stdout
    assert "dsaEncryption" in shown and "dsa.i9.test" in shown


@pytest.mark.parametrize("name,words", [
    ("utc-without-seconds", "its notBefore is UTCTime '2501010000Z', without seconds"),
    ("utc-with-offset", "its notBefore is UTCTime '250101000000+0100', with a time-zone offset instead of Z"),
    ("generalized-fraction", "its notBefore is GeneralizedTime '20250101000000.5Z', with fractional seconds"),
    ("utc-not-after-without-seconds", "its notAfter is UTCTime '2701010000Z', without seconds"),
])
def test_an_odd_time_encoding_is_named_and_openssl_refuses_it_in_verification(cases, name, words):
    err = _refusal(cases[name])
    assert words in err.message and "damaged" not in f"{err.message} {err.hint}"
    field = "notAfter" if "not-after" in name else "notBefore"
    d = cases[name].parent
    ossl("x509", "-inform", "DER", "-in", cases[name].name, "-out", f"{name}.pem", cwd=d)
    run = subprocess.run([OPENSSL, "verify", "-CAfile", "rsa3-ca.pem", f"{name}.pem"], cwd=d,
                         capture_output=True, text=True, timeout=30)
    # what certdoctor's message claims OpenSSL (and so every Python client) does
    assert run.returncode != 0 and f"format error in certificate's {field} field" in run.stdout + run.stderr


def test_real_damage_is_still_called_damage(cases):
    good = cases["v1-leaf"].read_bytes()
    flipped = bytearray(good)
    flipped[40] ^= 0xFF  # inside the serial/signature algorithm: no longer a certificate
    assert unsupported_part(bytes(flipped)) is None
    assert unsupported_part(good[:-20]) is None
    assert unsupported_part(b"\x30\x03\x02\x01\x05") is None


def _s_server(cert: Path, key: Path):
    """`openssl s_server` on 127.0.0.1, port 0; (process, port)."""
    proc = subprocess.Popen([OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert), "-key", str(key),
                             "-www"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    for _ in range(20):
        line = proc.stdout.readline()
        if line.startswith("ACCEPT "):
            return proc, int(line.rsplit(":", 1)[1])
        if not line:
            break
    proc.kill()
    proc.wait()
    raise AssertionError("openssl s_server did not start")


@pytest.mark.parametrize("name,words", [
    ("utc-with-offset", "its notBefore is UTCTime '250101000000+0100', with a time-zone offset instead of Z"),
    ("generalized-fraction", "with fractional seconds"),
])
def test_a_server_presenting_an_odd_time_is_told_what_part_not_malformed(cases, name, words, tmp_path):
    import requests

    from certdoctor.net.probe import probe

    d = cases[name].parent
    pem = tmp_path / f"{name}.pem"
    pem.write_bytes(ossl("x509", "-inform", "DER", "-in", str(cases[name]), cwd=d))
    proc, port = _s_server(pem, d / "rsa3-leaf.key")
    try:
        result = probe("127.0.0.1", port, timeout=10)
        assert result.chain_der  # the handshake completes: OpenSSL serves the certificate it reads
        with pytest.raises(InputError) as info:
            result.certificates()
        assert words in info.value.message and "cannot be parsed" not in info.value.message
        assert f"127.0.0.1:{port} -showcerts" in info.value.hint
        # and the claim the message makes: the real requests refuses it
        from certdoctor.net.resolve import override

        ca = d / "rsa3-ca.pem"  # its issuer, and the name its SAN holds: only the time can fail
        with override({"odd.i9.test": "127.0.0.1"}), pytest.raises(
                requests.exceptions.SSLError, match="format error in certificate's notBefore field"):
            requests.get(f"https://odd.i9.test:{port}/", verify=str(ca), timeout=10)
    finally:
        proc.kill()
        proc.wait()
