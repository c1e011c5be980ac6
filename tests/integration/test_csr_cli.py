"""``certdoctor csr`` proved with what we did not make (issue 12 item 1): openssl verifies the CSR's
self-signature and lists every name in subjectAltName, and accepts the key we wrote
(``openssl pkey -check``); a reused key (``--key``) is the one in the CSR; refusals write nothing."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess

import pytest

from support.cli import run_cli_captured

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=60)


def _pubkey(*args: str, stdin: bytes | None = None) -> bytes:
    p = _openssl(*args, "-pubkey" if args[0] == "req" else "-pubout", stdin=stdin)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("key_type", ["ec256", "ec384", "rsa2048"])
def test_openssl_verifies_the_csr_and_lists_every_name(tmp_path, capsys, key_type):
    key, csr = tmp_path / "k.pem", tmp_path / "c.pem"
    rc, out, err = run_cli_captured(["csr", "--name", "Example.com", "--name", "www.example.com", "--name",
                                     "bücher.example", "--name", "*.example.com", "--name", "example.com",
                                     "--ip", "192.0.2.1", "--ip", "2001:db8::1", "--key-type", key_type,
                                     "--out-key", str(key), "--out-csr", str(csr)], capsys)
    assert rc == 0, err
    assert f"new {key_type}, mode 0600" in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    p = _openssl("req", "-in", str(csr), "-noout", "-verify", "-text")
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode()
    assert "verify OK" in (p.stdout + p.stderr).decode()
    san = text.split("X509v3 Subject Alternative Name:")[1].splitlines()[1].strip()
    assert san == ("DNS:example.com, DNS:www.example.com, DNS:xn--bcher-kva.example, DNS:*.example.com, "
                   "IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1")
    assert "Subject: CN = example.com" in text
    check = _openssl("pkey", "-in", str(key), "-check", "-noout")
    assert check.returncode == 0 and b"valid" in check.stdout + check.stderr, check.stderr
    assert _pubkey("pkey", "-in", str(key)) == _pubkey("req", "-in", str(csr), "-noout")


def test_a_reused_key_is_the_one_in_the_csr_and_stdout_takes_the_csr(tmp_path, capsys):
    key = tmp_path / "existing.key"
    gen = _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
    assert gen.returncode == 0, gen.stderr
    before = key.read_bytes()
    rc, out, err = run_cli_captured(["csr", "--name", "a.example", "--no-common-name", "--key", str(key),
                                     "--out-csr", "-"], capsys)
    assert rc == 0, err
    assert out.startswith("-----BEGIN CERTIFICATE REQUEST-----") and "reused, rsa2048" in err
    p = _openssl("req", "-noout", "-verify", "-text", stdin=out.encode())
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode()
    assert "DNS:a.example" in text and "CN =" not in text
    assert "X509v3 Subject Alternative Name: critical" in text  # empty subject: RFC 5280 §4.2.1.6
    assert _pubkey("pkey", "-in", str(key)) == _pubkey("req", "-noout", stdin=out.encode())
    assert key.read_bytes() == before


def test_openssl_small_rsa_key_is_refused_and_nothing_is_written(tmp_path, capsys):
    key = tmp_path / "small.key"
    assert _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", str(key)).returncode == 0
    rc, out, err = run_cli_captured(["csr", "--name", "a.example", "--key", str(key), "--out-csr",
                                     str(tmp_path / "c.pem")], capsys)
    assert rc == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and "1024 bits" in lines[0] and lines[1].startswith("hint: ")
    assert sorted(os.listdir(tmp_path)) == ["small.key"]


def test_json_document(tmp_path, capsys):
    key, csr = tmp_path / "k.pem", tmp_path / "c.pem"
    rc, out, err = run_cli_captured(["csr", "--name", "a.example", "--ip", "192.0.2.9", "--out-key", str(key),
                                     "--out-csr", str(csr), "--json"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["command"] == "csr" and doc["target"] is None and doc["exit_code"] == 0
    assert doc["csr"]["names"] == ["a.example"] and doc["csr"]["ips"] == ["192.0.2.9"]
    assert doc["csr"]["common_name"] == "a.example" and doc["csr"]["path"] == str(csr)
    assert doc["csr"]["pem"] == csr.read_text()
    assert doc["key"]["new"] is True and doc["key"]["key_type"] == "ec256" and doc["key"]["mode"] == "0600"
    assert doc["key"]["path"] == str(key) and len(doc["key"]["spki_sha256"]) == 64
    der = _openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER")
    import hashlib

    assert hashlib.sha256(der.stdout).hexdigest() == doc["key"]["spki_sha256"]
