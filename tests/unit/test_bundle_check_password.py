"""``certdoctor bundle --check FILE --password`` audits a password-protected PKCS#12 (issue 9, item 11)."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from support.cli import run_cli_captured
from support.pki import TestCA


def test_bundle_check_opens_a_password_protected_pkcs12(tmp_path, capsys):
    root = TestCA("P12 Bundle Root", aia_url=None, ocsp_url=None, crl_url=None)
    p12 = tmp_path / "roots.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(None, None, None, [root.cert],
                                                          BestAvailableEncryption(b"s3cret")))
    code, out, err = run_cli_captured(["bundle", "--check", str(p12), "--password", "s3cret"], capsys)
    assert code == 0, err
    assert "1 certificates" in out and "P12 Bundle Root" in out
    code, out, err = run_cli_captured(["bundle", "--check", str(p12), "--password", "wrong"], capsys)
    assert code == 2 and err.startswith("error:") and "wrong password" in err and "hint:" in err
