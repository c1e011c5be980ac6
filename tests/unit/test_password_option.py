"""``--password`` / ``CERTDOCTOR_PASSWORD``: declared once (cli/options.py), taken by every command
that reads a certificate file, and a password-protected PKCS#12 works in each of them.

(fix's real run needs a server: its --intermediate PKCS#12 is proven in
tests/integration/test_openssl_missing_intermediate.py; here its loader and option.)
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from support.pki import issue, make_key, make_name, make_pki, p12, pem

from certdoctor.cli import options
from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.errors import PasswordError
from certdoctor.expiry import check_expiry
from certdoctor.model import fingerprint_sha256
from certdoctor.pinning.pins import pin_of_certificate
from certdoctor.remedies.bundle import build_bundle
from certdoctor.remedies.fix import load_intermediates

#: every command that reads a certificate file
FILE_COMMANDS = ("inspect", "convert", "pin", "expiry", "revocation", "bundle", "fix")
PW = "s3cret pass"


@pytest.fixture()
def pkcs12_file(tmp_path, pki_ec, monkeypatch) -> Path:
    monkeypatch.delenv(options.PASSWORD_ENV, raising=False)
    path = tmp_path / "id.p12"
    path.write_bytes(p12(pki_ec, PW.encode()))
    return path


@pytest.mark.parametrize("name", FILE_COMMANDS)
def test_every_file_command_declares_the_one_password_option(name):
    command = importlib.import_module(f"certdoctor.cli.{name}").command
    opts = [p for p in command.params if "--password" in getattr(p, "opts", ())]
    assert len(opts) == 1, f"{name} has no --password"
    opt = opts[0]
    assert opt.name == "password" and opt.envvar == "CERTDOCTOR_PASSWORD"
    assert opt.help == options.PASSWORD_HELP  # the one declaration, not a copy


def test_pin_reads_a_protected_pkcs12(pkcs12_file, pki_ec, capsys, monkeypatch):
    assert run(cli, ["pin", str(pkcs12_file), "--json"]) == 2
    assert "protected by a password" in capsys.readouterr().err
    assert run(cli, ["pin", str(pkcs12_file), "--password", PW, "--json"]) == 0
    out = capsys.readouterr().out
    assert pin_of_certificate(pki_ec.leaf) in out
    monkeypatch.setenv("CERTDOCTOR_PASSWORD", PW)
    assert run(cli, ["pin", str(pkcs12_file)]) == 0
    assert pin_of_certificate(pki_ec.intermediate) in capsys.readouterr().out


def test_expiry_reads_a_protected_pkcs12(pkcs12_file, pki_ec, capsys, monkeypatch):
    report = check_expiry([pkcs12_file], check_clock=False)
    assert report.exit_code == 3 and "protected by a password" in report.sources[0].error
    report = check_expiry([pkcs12_file], check_clock=False, password=PW)
    assert len(report.sources[0].certs) == 3 and report.sources[0].error is None
    monkeypatch.setenv("CERTDOCTOR_PASSWORD", PW)
    assert run(cli, ["expiry", str(pkcs12_file), "--json"]) == report.exit_code
    doc = json.loads(capsys.readouterr().out)
    assert "password" not in json.dumps(doc).lower()
    assert len(doc["sources"][0]["certs"]) == 3 and doc["sources"][0]["error"] is None


@pytest.fixture()
def offline_pair(tmp_path):
    """(leaf, issuer, p12 of both): no CRL or OCSP URL, so revocation asks no server."""
    ck, lk = make_key(), make_key()
    ca_name, leaf_name = make_name("P12 Test CA"), make_name("p12.example.test")
    ca = issue(ck, ck, ca_name, ca_name, ca=True)
    leaf = issue(lk, ck, leaf_name, ca_name, ca=False, sans=("p12.example.test",))
    path = tmp_path / "pair.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"t", lk, leaf, [ca], serialization.BestAvailableEncryption(PW.encode())))
    return leaf, ca, path


def test_revocation_reads_a_protected_pkcs12(offline_pair, capsys, monkeypatch):
    leaf, ca, path = offline_pair
    monkeypatch.delenv(options.PASSWORD_ENV, raising=False)
    assert run(cli, ["revocation", str(path)]) == 2
    assert "protected by a password" in capsys.readouterr().err
    # no CRL/OCSP URL: the check runs and has no answer (exit 1); the file was read
    rc = run(cli, ["revocation", str(path), "--password", PW, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert [c["fingerprint_sha256"] for c in doc["certificates"]] == [fingerprint_sha256(leaf), fingerprint_sha256(ca)]


def test_revocation_issuer_file_may_be_a_protected_pkcs12(tmp_path, offline_pair, capsys, monkeypatch):
    leaf, ca, path = offline_pair
    monkeypatch.delenv(options.PASSWORD_ENV, raising=False)
    leaf_pem = tmp_path / "leaf.pem"
    leaf_pem.write_bytes(pem(leaf))
    assert run(cli, ["revocation", str(leaf_pem), "--issuer", str(path)]) == 2
    assert "protected by a password" in capsys.readouterr().err
    monkeypatch.setenv("CERTDOCTOR_PASSWORD", PW)
    assert run(cli, ["revocation", str(leaf_pem), "--issuer", str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["certificates"][1]["fingerprint_sha256"] == fingerprint_sha256(ca)


def test_bundle_add_reads_a_protected_pkcs12(tmp_path, pkcs12_file, pki_ec, capsys, monkeypatch):
    out = tmp_path / "ca.pem"
    args = ["bundle", "--base", "none", "--allow-leaf", "--add", str(pkcs12_file), "--out", str(out)]
    assert run(cli, args) == 2 and not out.exists()
    assert "protected by a password" in capsys.readouterr().err
    monkeypatch.setenv("CERTDOCTOR_PASSWORD", PW)
    assert run(cli, args) == 0
    assert out.read_bytes().count(b"BEGIN CERTIFICATE") == 3
    result = build_bundle([pkcs12_file], base="none", password=PW)  # the library takes password= too
    assert [e.fingerprint_sha256 for e in result.entries] == [fingerprint_sha256(c) for c in (pki_ec.intermediate, pki_ec.root)]


def test_bundle_check_is_not_refused_when_the_password_variable_is_set(tmp_path, pki_ec, capsys, monkeypatch):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pem(pki_ec.root))
    monkeypatch.setenv("CERTDOCTOR_PASSWORD", PW)
    assert run(cli, ["bundle", "--check", str(bundle)]) in (0, 1)
    assert "--check takes only" not in capsys.readouterr().err


def test_fix_intermediate_loader_takes_a_password(tmp_path, pki_ec):
    inter = tmp_path / "inter.p12"
    other = make_pki()
    inter.write_bytes(p12(other, PW.encode()))
    with pytest.raises(PasswordError):
        load_intermediates([inter])
    got = load_intermediates([inter], password=PW)
    assert [fingerprint_sha256(c) for c in got] == [fingerprint_sha256(c) for c in other.chain]
