"""``certdoctor csr`` in process (issue 12 item 1): what is written and how, and every refusal as
one ``error:`` and one ``hint:`` line, exit 2, nothing written. (openssl's view of the output:
tests/integration/test_csr_cli.py; random argument lists: the csr grammar in test_cli_fuzz.py.)"""

from __future__ import annotations

import os
import stat

import pytest
from cryptography import x509

from support.cli import run_cli_captured


def _tree(base):
    return sorted(str(p.relative_to(base)) for p in base.rglob("*"))


def test_writes_a_new_key_and_the_csr(tmp_path, capsys):
    key, csr = tmp_path / "d" / "k.pem", tmp_path / "c.pem"
    rc, out, err = run_cli_captured(["csr", "--name", "a.example", "--name", "A.example", "--out-key", str(key),
                                     "--out-csr", str(csr)], capsys)
    assert rc == 0 and err == ""
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    req = x509.load_pem_x509_csr(csr.read_bytes())
    assert req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["a.example"]  # the duplicate folded
    assert "openssl req -in" in out


def test_csr_through_a_symlink_keeps_the_link(tmp_path, capsys):
    real = tmp_path / "real.csr"
    real.write_text("old")
    link = tmp_path / "link.csr"
    os.symlink(real, link)
    rc, _, err = run_cli_captured(["csr", "--name", "a.example", "--out-key", str(tmp_path / "k"), "--out-csr",
                                   str(link)], capsys)
    assert rc == 0, err
    assert link.is_symlink() and real.read_bytes().startswith(b"-----BEGIN CERTIFICATE REQUEST")


@pytest.mark.parametrize("argv,words", [
    (["--out-key", "{d}/k", "--out-csr", "{d}/c"], "no names"),
    (["--name", "a.example", "--out-key", "{d}/k"], "--out-csr"),
    (["--name", "a.example", "--out-csr", "{d}/c"], "--out-key"),
    (["--name", "a.example", "--out-key", "{d}/existing.key", "--out-csr", "{d}/c"], "never overwritten"),
    (["--name", "a.example", "--out-key", "-", "--out-csr", "{d}/c"], "standard output"),
    (["--name", "a.example", "--out-key", "{d}/k", "--out-csr", "{d}/k"], "same file"),
    (["--name", "a.example", "--key", "{d}/existing.key", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "exclude"),
    (["--name", "a.example", "--key", "{d}/existing.key", "--key-type", "ec384", "--out-csr", "{d}/c"], "--key-type"),
    (["--name", "a.example", "--key", "{d}/existing.key", "--out-csr", "{d}/existing.key"], "overwrite the key"),
    (["--name", "a.example", "--key", "{d}/missing.key", "--out-csr", "{d}/c"], "no such file"),
    (["--name", "a.example", "--key", "{d}/c.txt", "--out-csr", "{d}/c"], "not a private key"),
    (["--name", "192.0.2.1", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "IP address"),
    (["--name", "a.*.example", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "wildcard"),
    (["--name", "a..example", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "empty label"),
    (["--name", "", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "empty"),
    (["--ip", "nope", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "not an IP"),
    (["--name", "a.example", "--common-name", "b.example", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "not one of"),
    (["--name", "a.example", "--common-name", "a.example", "--no-common-name", "--out-key", "{d}/k",
      "--out-csr", "{d}/c"], "exclude"),
    (["--name", "a.example", "--key-type", "rsa1024", "--out-key", "{d}/k", "--out-csr", "{d}/c"], "rsa1024"),
    (["--name", "a.example", "--out-key", "{d}/k", "--out-csr", "-", "--json"], "standard output"),
    (["--name", "a.example", "--out-key", "{d}/k", "--out-csr", "{d}"], "directory"),
    (["--name", "a.example", "--out-key", "{d}/c.txt/k", "--out-csr", "{d}/c"], "not a directory"),
    (["--name", "a.example", "--out-key", "{d}/new/k", "--out-csr", "/proc/certdoctor-none/x"], ""),
])
def test_refusals_are_two_lines_and_write_nothing(tmp_path, capsys, argv, words):
    from certdoctor.renew.keys import generate_key, key_pem

    (tmp_path / "existing.key").write_bytes(key_pem(generate_key("ec256")))
    (tmp_path / "c.txt").write_text("not a key")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    names = _tree(tmp_path)
    rc, out, err = run_cli_captured(["csr", *[a.replace("{d}", str(tmp_path)) for a in argv]], capsys)
    lines = err.splitlines()
    assert rc == 2 and out == "", (out, err)
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
    assert words in lines[0], err
    assert _tree(tmp_path) == names  # no key, no temp file, no directory made for the key
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before
