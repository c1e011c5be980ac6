"""Every refusal explained (issue 9, item 2) and stricter-than-OpenSSL warnings (item 3).

One case per row of docs/REFUSALS.md: the chain is built with the test PKI, served on 127.0.0.1,
the real requests run must fail with the row's OpenSSL reason, and certdoctor's diagnosis must
carry the row's finding code (and rule) — never only VERDICT_UNCONFIRMED. Where the client
connects but cryptography's RFC 5280 verifier refuses, a warning must name the rule.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certdoctor.diagnose import diagnose
from certdoctor.model import Code, Severity

from support.pki import Issued, TestCA, build_cert, make_key, make_name
from support.servers import http_server, server_context

HOST = "localhost"
NOW = dt.datetime.now(dt.timezone.utc)
DOC = Path(__file__).resolve().parents[2] / "docs" / "REFUSALS.md"


def _nc(permitted=None, excluded=None):
    return [(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded), True)]


def _ku(**bits):
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


def _root() -> TestCA:
    return TestCA("Refusals Root", aia_url=None, ocsp_url=None, crl_url=None)


def _leaf(ca: TestCA, **kw) -> Issued:
    return ca.issue_cert(HOST, "127.0.0.1", **kw)


def nc_permitted_dns():
    root = _root()
    return root, _leaf(root.intermediate("NC Permit", extensions=_nc([x509.DNSName("allowed.test")])))


def nc_permitted_ip():
    root = _root()
    return root, _leaf(root.intermediate("NC IP", extensions=_nc([x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))])))


def nc_permitted_dn():
    root = _root()
    inter = root.intermediate("NC DN", extensions=_nc([x509.DirectoryName(make_name("other", org="Other Org"))]))
    return root, _leaf(inter)


def nc_excluded():
    root = _root()
    return root, _leaf(root.intermediate("NC Exclude", extensions=_nc(None, [x509.DNSName(HOST)])))


def path_length():
    root = _root()
    return root, _leaf(root.intermediate("PL0", path_length=0).intermediate("PL Below"))


def critical_unknown():
    root = _root()
    ext = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    return root, _leaf(root.intermediate("Crit"), extensions=[(ext, True)])


def critical_aki():
    root = _root()
    inter = root.intermediate("Crit AKI")
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.key.public_key())
    return root, _leaf(inter, aki=False, extensions=[(aki, True)])


def intermediate_without_bc():
    root = _root()
    return root, _leaf(root.intermediate("No BC", basic_constraints=False))


def intermediate_without_key_cert_sign():
    root = _root()
    return root, _leaf(root.intermediate("No keyCertSign", key_usage=_ku(digital_signature=True, crl_sign=True)))


def leaf_key_usage():
    root = _root()
    return root, _leaf(root.intermediate("KU"), key_usage=_ku(data_encipherment=True))


def leaf_eku():
    root = _root()
    return root, _leaf(root.intermediate("EKU"), eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))


def expired():
    root = _root()
    return root, _leaf(root.intermediate("Exp"), not_before=NOW - dt.timedelta(days=30),
                       not_after=NOW - dt.timedelta(days=1))


def not_yet_valid():
    root = _root()
    return root, _leaf(root.intermediate("NYV"), not_before=NOW + dt.timedelta(days=2),
                       not_after=NOW + dt.timedelta(days=30))


def hostname_mismatch():
    root = _root()
    return root, root.intermediate("Names").issue_cert("other.test")


def untrusted_root():
    return _root(), _leaf(TestCA("Someone Else's Root", aia_url=None, ocsp_url=None, crl_url=None).intermediate("X"))


def root_sent_untrusted():
    other = TestCA("Sent Root", aia_url=None, ocsp_url=None, crl_url=None)
    leaf = _leaf(other.intermediate("Sent Intermediate"))
    return _root(), Issued(leaf.cert, leaf.key, leaf.chain + (leaf.root,))  # the server sends its root too


def missing_intermediate():
    root = _root()
    leaf = _leaf(root.intermediate("Not Sent"))
    return root, Issued(leaf.cert, leaf.key, (leaf.cert,))


def self_signed_leaf():
    from support.pki import self_signed

    return _root(), self_signed(HOST, "127.0.0.1")


def forged_signature():
    root = _root()
    return root, _leaf(root.intermediate("Forger"), sign_with=make_key("ec"))  # the issuer's name and AKI, another key


def anchor_without_key_cert_sign():
    root = TestCA("Root Without keyCertSign", aia_url=None, ocsp_url=None, crl_url=None, basic_constraints=False,
                  key_usage=_ku(digital_signature=True, crl_sign=True))
    return root, _leaf(root)


#: (OpenSSL's reason, the case, the code, the rule or None) — the rows of docs/REFUSALS.md that are served here
ROWS = [
    ("permitted subtree violation", nc_permitted_dns, Code.NAME_CONSTRAINTS, "name_constraint_permitted"),
    ("permitted subtree violation", nc_permitted_ip, Code.NAME_CONSTRAINTS, "name_constraint_permitted"),
    ("permitted subtree violation", nc_permitted_dn, Code.NAME_CONSTRAINTS, "name_constraint_permitted"),
    ("excluded subtree violation", nc_excluded, Code.NAME_CONSTRAINTS, "name_constraint_excluded"),
    ("path length constraint exceeded", path_length, Code.PATH_LENGTH, "path_length_exceeded"),
    ("unhandled critical extension", critical_unknown, Code.UNHANDLED_CRITICAL_EXTENSION,
     "unhandled_critical_extension"),
    ("unhandled critical extension", critical_aki, Code.UNHANDLED_CRITICAL_EXTENSION, "unhandled_critical_extension"),
    ("invalid CA certificate", intermediate_without_bc, Code.INVALID_CA, "intermediate_without_ca_basic_constraints"),
    ("invalid CA certificate", intermediate_without_key_cert_sign, Code.INVALID_CA, "ca_not_a_ca"),
    ("unsuitable certificate purpose", leaf_key_usage, Code.KEY_USAGE, "leaf_key_usage_not_for_tls"),
    ("unsuitable certificate purpose", leaf_eku, Code.WRONG_EKU, "eku_without_server_auth"),
    ("certificate has expired", expired, Code.EXPIRED, "expired"),
    ("certificate is not yet valid", not_yet_valid, Code.NOT_YET_VALID, "not_yet_valid"),
    ("Hostname mismatch", hostname_mismatch, Code.HOSTNAME_MISMATCH, "san_mismatch"),
    ("unable to get local issuer certificate", untrusted_root, Code.UNTRUSTED_ROOT, None),
    ("unable to get local issuer certificate", missing_intermediate, Code.CHAIN_INCOMPLETE, None),
    ("self-signed certificate in certificate chain", root_sent_untrusted, Code.UNTRUSTED_ROOT, None),
    ("self-signed certificate", self_signed_leaf, Code.SELF_SIGNED, None),
    ("certificate signature failure", forged_signature, Code.MALFORMED_CERT, "signature_does_not_verify"),
    ("invalid CA certificate", anchor_without_key_cert_sign, Code.INVALID_CA, "ca_not_a_ca"),
]


def _serve(leaf: Issued):
    return http_server({"/": b"ok"}, tls=server_context(leaf), timeout=5)


def _real(url: str, ca: Path) -> str | None:
    try:
        requests.get(url, verify=str(ca), timeout=5)
    except requests.exceptions.SSLError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("reason, case, code, rule", ROWS, ids=[r[1].__name__ for r in ROWS])
def test_each_refusal_gets_its_code(tmp_path, reason, case, code, rule):
    root, leaf = case()
    ca = tmp_path / "root.pem"
    ca.write_bytes(root.cert_pem())
    with _serve(leaf) as srv:
        url = f"https://{HOST}:{srv.port}/"
        real = _real(url, ca)
        d = diagnose(url, ca_file=str(ca), timeout=5, revocation=False, aia=False)
    assert real is not None and reason in real, real
    assert d.verifies is False
    hits = [f for f in d.findings if f.code is code and f.severity is Severity.ERROR]
    assert hits, [(f.code.value, f.summary) for f in d.findings]
    if rule is not None:
        assert any(f.rule == rule for f in hits), [(f.rule, f.summary) for f in hits]
        named = [f for f in hits if f.rule == rule]
        assert all(f.cert_index is not None or any("SHA-256" in e for e in f.evidence) for f in named)
    assert not any(f.code is Code.VERDICT_UNCONFIRMED for f in d.findings)
    # the client's own words reach the findings
    assert any(reason in e for f in d.findings for e in f.evidence)


def test_exactly_at_not_after_is_expired(tmp_path):
    """OpenSSL calls a certificate expired at its notAfter second (it compares with <=)."""
    root = _root()
    end = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=2)
    leaf = _leaf(root.intermediate("Edge"), not_after=end)
    ca = tmp_path / "root.pem"
    ca.write_bytes(root.cert_pem())
    with _serve(leaf) as srv:
        while dt.datetime.now(dt.timezone.utc) < end:
            time.sleep(0.02)
        real = _real(f"https://{HOST}:{srv.port}/", ca)
        # judged at that very second: RFC 5280 would still call it valid, OpenSSL does not
        d = diagnose(f"https://{HOST}:{srv.port}/", ca_file=str(ca), timeout=5, revocation=False, aia=False, now=end)
    assert real is not None and "certificate has expired" in real, real
    hits = [f for f in d.findings if f.code is Code.EXPIRED and f.rule == "expired_at_not_after"]
    assert hits and hits[0].severity is Severity.ERROR and hits[0].cert_index == 0


@pytest.mark.parametrize("reason", sorted({r[0] for r in ROWS}))
def test_every_served_reason_is_in_the_table(reason):
    table = DOC.read_text(encoding="utf-8")
    assert f"`{reason}`" in table


def test_the_table_names_only_real_codes():
    table = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))  # a back-quoted upper-case word is a code
    assert named and named <= set(Code.__members__), named - set(Code.__members__)
    new = {"NAME_CONSTRAINTS", "PATH_LENGTH", "UNHANDLED_CRITICAL_EXTENSION", "CA_AS_LEAF", "INVALID_CA",
           "KEY_USAGE", "MALFORMED_CERT", "VERDICT_UNCONFIRMED"}
    assert new <= named, new - named


def test_ca_as_leaf_connects_and_is_warned(tmp_path):
    root = _root()
    inter = root.intermediate("CA Leaf Issuer")
    key = make_key("ec")
    cert = build_cert(key.public_key(), inter.key, make_name(HOST), inter.name, ca=True,
                      sans=[HOST, "127.0.0.1"], authority_key=inter.key)
    leaf = Issued(cert, key, (cert,) + inter.chain)
    ca = tmp_path / "root.pem"
    ca.write_bytes(root.cert_pem())
    with _serve(leaf) as srv:
        url = f"https://{HOST}:{srv.port}/"
        real = _real(url, ca)
        d = diagnose(url, ca_file=str(ca), timeout=5, revocation=False, aia=False)
    assert real is None and d.verifies is True
    warn = [f for f in d.findings if f.code is Code.CA_AS_LEAF]
    assert warn and warn[0].severity is Severity.WARNING and warn[0].rule == "ca_as_leaf"
    assert "Go" in warn[0].explanation and "browsers" in warn[0].explanation
    assert any("cryptography's verifier" in e for e in warn[0].evidence)
    assert "CA:FALSE" in warn[0].fix


def test_rfc5280_stricter_than_the_client_is_a_warning(tmp_path):
    """A leaf without AKI: OpenSSL (3.11/3.12 defaults) connects, cryptography refuses: never silence."""
    root = _root()
    leaf = _leaf(root.intermediate("No AKI below"), aki=False)
    ca = tmp_path / "root.pem"
    ca.write_bytes(root.cert_pem())
    with _serve(leaf) as srv:
        url = f"https://{HOST}:{srv.port}/"
        real = _real(url, ca)
        d = diagnose(url, ca_file=str(ca), timeout=5, revocation=False, aia=False)
    assert real is None and d.verifies is True
    warn = [f for f in d.findings if f.code is Code.STRICT_X509 and f.rule == "rfc5280_verifier"]
    assert warn and warn[0].severity is Severity.WARNING
    assert any("Authority" in e or "2.5.29.35" in e for e in warn[0].evidence), warn[0].evidence
    assert "Python 3.13" in warn[0].explanation and "Go" in warn[0].explanation
    assert not any(f.severity is Severity.ERROR for f in d.findings)


@pytest.mark.parametrize("reasons, kw, code", [
    (("tlsv13 alert certificate required", "EOF occurred in violation of protocol"), {"client_ca": "root"},
     Code.CLIENT_CERT_REQUIRED),
    (("tlsv1 alert protocol version",), {"max_version": "TLSv1_1"}, Code.TLS_VERSION),
])
def test_tls_alerts_get_their_code(tmp_path, reasons, kw, code):
    """The server's alert races the client's read: a client may see the alert or only the EOF."""
    import ssl

    root = _root()
    leaf = _leaf(root.intermediate("Alerts"))
    ca = tmp_path / "root.pem"
    ca.write_bytes(root.cert_pem())
    ctx_kw = {k: (root.cert if v == "root" else getattr(ssl.TLSVersion, v)) for k, v in kw.items()}
    with http_server({"/": b"ok"}, tls=server_context(leaf, **ctx_kw), timeout=5) as srv:
        url = f"https://{HOST}:{srv.port}/"
        real = _real(url, ca)
        d = diagnose(url, ca_file=str(ca), timeout=5, revocation=False, aia=False)
    assert real is not None and any(r in real for r in reasons), real
    assert all(r in DOC.read_text(encoding="utf-8") for r in reasons)
    assert any(f.code is code and f.severity is Severity.ERROR for f in d.findings), d.findings
    assert not any(f.code is Code.VERDICT_UNCONFIRMED for f in d.findings)
