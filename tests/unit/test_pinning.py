"""pinning without a network: pin values, pins of keys and certificates, the pin report, backup
keys, ``certdoctor pin`` on files, and what the adapters refuse before connecting.

Pins checked against real TLS servers and the lab: tests/integration/test_pinning.py.
"""

from __future__ import annotations

import json
import os
import ssl
import stat
from types import SimpleNamespace

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, strategies as st
from support.cli import run_cli as _run
from support.pki import TestCA, make_name, pem

from certdoctor.errors import InputError, UsageError
from certdoctor.pinning.pins import (load_key_pin, new_backup_key, parse_pin, parse_pins, pin_of_certificate, pin_of_key,
                            pin_report)
from certdoctor.pinning.adapters import PinnedAdapter, httpx_client


@pytest.fixture(scope="module")
def pki():
    root = TestCA("Pin Test Root")
    inter = root.intermediate("Pin Test Intermediate")
    names = ["127.0.0.1", "pinned.test"]
    a = inter.issue_cert(*names, cn="pinned.test")
    b = inter.issue_cert(*names, cn="other-key.test")
    evil = TestCA("Untrusted Root").issue_cert(*names, cn="pinned.test", key=a.key)  # same key, untrusted CA
    return SimpleNamespace(root=root.cert, inter=inter.cert, leaf_a=a.cert, key_a=a.key, leaf_b=b.cert,
                           leaf_evil=evil.cert)


def _session(adapter=None):
    s = requests.Session()
    s.trust_env = False
    if adapter is not None:
        s.mount("https://", adapter)
    return s


# --------------------------------------------------------------------------- pin values

def test_parse_pin_accepts_the_usual_forms():
    b64 = "v+nYy7wb9YVeqXFRoPPCmeLbydoVLxtqwSamaCHCjwM="
    for form in (f"sha256/{b64}", b64, f"  {b64}\n", f"sha256//{b64}", f'pin-sha256="{b64}"', f"SHA256/{b64}"):
        assert parse_pin(form) == f"sha256/{b64}"
    assert parse_pins([b64, f"sha256/{b64}"]) == (f"sha256/{b64}",)
    # base64 may itself start with "/": not to be confused with curl's sha256//
    slash = "/SNYSvJQAUI4o04S4elvWLfz62H+l+M4c9VcL+tXC5Q="
    assert parse_pin(f"sha256/{slash}") == f"sha256/{slash}"
    assert parse_pin(f"sha256//{slash}") == f"sha256/{slash}"
    assert parse_pin(slash) == f"sha256/{slash}"


@given(st.binary(min_size=32, max_size=32))
def test_parse_pin_round_trips_every_digest(digest):
    import base64

    b64 = base64.b64encode(digest).decode()
    for form in (b64, f"sha256/{b64}", f"sha256//{b64}", f'pin-sha256="{b64}"'):
        assert parse_pin(form) == f"sha256/{b64}"


@given(st.binary(max_size=64).filter(lambda b: len(b) != 32))
def test_parse_pin_refuses_every_other_length(data):
    import base64

    with pytest.raises(UsageError):
        parse_pin("sha256/" + base64.b64encode(data).decode())


@pytest.mark.parametrize("bad", [
    "AB:" * 31 + "AB",                              # a hex fingerprint, not an SPKI pin
    "sha256/" + "A" * 40 + "==",                    # 31 bytes
    "sha256/not base64!",
    "",
    "sha256/" + "A" * 43 + "=" + "AAAA",            # 35 bytes
])
def test_parse_pin_rejects_with_a_clear_error(bad):
    with pytest.raises(UsageError) as exc:
        parse_pin(bad)
    assert "32" in str(exc.value) or "base64" in str(exc.value)
    assert repr(bad) in str(exc.value)


def test_empty_pin_set_and_bad_pins_are_refused_at_construction():
    with pytest.raises(UsageError, match="at least one pin"):
        PinnedAdapter(pins=[])
    with pytest.raises(UsageError, match="not 32"):
        PinnedAdapter(pins=["sha256/AAAA"])
    with pytest.raises(UsageError):
        httpx_client(pins=["nope"])


def test_pin_of_key_matches_pin_of_certificate(pki):
    assert pin_of_key(pki.key_a) == pin_of_key(pki.key_a.public_key()) == pin_of_certificate(pki.leaf_a)
    assert pin_of_certificate(pki.leaf_a) == pin_of_certificate(pki.leaf_evil)  # same key, other issuer
    assert pin_of_certificate(pki.leaf_a) != pin_of_certificate(pki.leaf_b)


# --------------------------------------------------------------------------- refused before connecting

def test_verify_false_and_plain_http_are_refused(pki):
    pin = pin_of_certificate(pki.leaf_a)
    with pytest.raises(UsageError, match="verification"):
        _session(PinnedAdapter(pins=[pin])).get("https://127.0.0.1:1/", verify=False, timeout=5)
    s = _session()
    s.mount("http://", PinnedAdapter(pins=[pin]))
    with pytest.raises(UsageError, match="only sends https"):
        s.get("http://127.0.0.1:1/", timeout=5)
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    with pytest.raises(UsageError, match="does not verify"):
        PinnedAdapter(pins=[pin], ssl_context=lax)


# --------------------------------------------------------------------------- pin report, backup key, CLI

def test_pin_report_roles_and_recommendation(pki):
    chain = [pki.leaf_a, pki.inter, pki.root]
    rep = pin_report(chain, source="x.pem", host="pinned.test")
    assert [c.role for c in rep.certs] == ["leaf", "issuing intermediate", "root"]
    assert rep.certs[0].pin == pin_of_certificate(pki.leaf_a)
    assert rep.certs[0].fingerprint_sha256.count(":") == 31
    assert rep.recommended == (pin_of_certificate(pki.leaf_a),) and rep.missing_backup
    assert any("backup" in w.lower() for w in rep.warnings)
    text = " ".join(rep.explanation)
    for words in ("backup", "renewal", "HPKP"):
        assert words in text
    # the printed usage is the host map on one adapter (a per-host prefix mount fails open on
    # other spellings of the host); its PINS line is valid Python that the adapter accepts
    assert any("pinned_session(PINS)" in line for line in rep.usage)
    assert not any("mount('https://pinned.test" in line for line in rep.usage)
    pins_line = next(line for line in rep.usage if line.startswith("PINS = "))
    scope: dict = {}
    exec(pins_line.replace("sha256/<BACKUP-PIN>", rep.recommended[0]), scope)
    from certdoctor.pinning import PinPolicy

    assert PinPolicy.of(scope["PINS"]).pins_for("PINNED.TEST.", 443).pins == rep.recommended
    backup = pin_of_key(ec.generate_private_key(ec.SECP256R1()))
    rep2 = pin_report(chain, backup_pins=[backup], level="intermediate")
    assert rep2.primary == 1 and rep2.recommended == (pin_of_certificate(pki.inter), backup)
    assert not rep2.missing_backup
    with pytest.raises(UsageError):
        pin_report(chain, level="root")


def test_new_backup_key_is_0600_atomic_and_never_overwrites(tmp_path):
    path = tmp_path / "backup.key"
    bk = new_backup_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert bk.key_type.startswith("EC") and load_key_pin(path) == bk.pin
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and pin_of_key(key) == bk.pin
    before = path.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        new_backup_key(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.key"]  # no temp file left
    rsa_path = tmp_path / "rsa.key"
    bk2 = new_backup_key(rsa_path, rsa_bits=3072)
    key2 = serialization.load_pem_private_key(rsa_path.read_bytes(), None)
    assert isinstance(key2, rsa.RSAPrivateKey) and key2.key_size == 3072 and bk2.pin == pin_of_key(key2)
    with pytest.raises(UsageError):
        new_backup_key(tmp_path / "x.key", rsa_bits=1024)


def test_load_key_pin_reads_keys_csrs_and_certs(pki, tmp_path):
    want = pin_of_key(pki.key_a)
    pub = tmp_path / "a.pub"
    pub.write_bytes(pki.key_a.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    crt = tmp_path / "a.crt"
    crt.write_bytes(pem(pki.leaf_a))
    csr = tmp_path / "a.csr"
    csr.write_bytes(x509.CertificateSigningRequestBuilder().subject_name(make_name("a"))
                    .sign(pki.key_a, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    for p in (pub, crt, csr):
        assert load_key_pin(p) == want
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello")
    with pytest.raises(InputError, match="junk"):
        load_key_pin(junk)


def test_cli_pin_file_json(pki, tmp_path, capsys):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pem(pki.leaf_a, pki.inter))
    backup = tmp_path / "b.key"
    assert _run(["pin", str(chain), "--new-backup-key", str(backup), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 2
    assert [c["pin"] for c in doc["certs"]] == [pin_of_certificate(pki.leaf_a), pin_of_certificate(pki.inter)]
    assert doc["certs"][0]["fingerprint_sha256"].count(":") == 31
    assert doc["recommended"] == [pin_of_certificate(pki.leaf_a), load_key_pin(backup)]
    assert doc["backup_key"]["pin"] == load_key_pin(backup) and doc["missing_backup"] is False


def test_cli_new_backup_key_alone_and_refusal(tmp_path, capsys):
    path = tmp_path / "k.pem"
    assert _run(["pin", "--new-backup-key", str(path), "--rsa", "3072"]) == 0
    out = capsys.readouterr().out
    assert load_key_pin(path) in out and "0600" in out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _run(["pin", "--new-backup-key", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert _run(["pin"]) == 2
