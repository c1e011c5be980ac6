"""checks.x509rules: OpenSSL's chain rules (name constraints, path length, critical extensions,
CA status, the leaf's keyUsage, the notAfter second), and the warning where cryptography's RFC
5280 verifier is stricter than the client. Evidence from the factories; no socket."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from certdoctor.checks import run, x509rules
from certdoctor.checks.x509rules import _dn_match, _dns_match, _ip_match
from certdoctor.model import Code, Severity

from support.evidence import HOST, client_failed, client_ok, evidence
from support.pki import NOW, TestCA, build_cert, make_key, make_name


def _nc(permitted=None, excluded=None):
    return [(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded), True)]


def _codes(ev, code):
    return [f for f in run(ev) if f.code is code]


@pytest.fixture(scope="module")
def root():
    return TestCA("Rules Root")


def test_dns_constraints_match_as_openssl_does():
    assert _dns_match("example.com", "example.com") and _dns_match("a.b.example.com", "example.com")
    assert not _dns_match("badexample.com", "example.com")  # a label boundary, not a suffix
    assert _dns_match("a.example.com", ".example.com") and not _dns_match("example.com", ".example.com")
    assert _dns_match("WWW.Example.COM", "example.com") and _dns_match("anything.test", "")
    assert not _dns_match("com", "example.com")


def test_ip_and_dn_constraints():
    net = ipaddress.ip_network("10.0.0.0/8")
    assert _ip_match("10.1.2.3", net) and not _ip_match("127.0.0.1", net) and not _ip_match("::1", net)
    org_a = x509.Name(make_name("ignored", org="Org A").rdns[:1])  # O=Org A: make_name writes O first, then CN
    assert _dn_match(make_name("x", org="Org A"), org_a)  # a DN constraint is a prefix of RDNs
    assert _dn_match(make_name("x", org="org  a"), org_a)  # compared case- and space-folded, as OpenSSL canonicalises
    assert not _dn_match(make_name("x", org="Org B"), org_a)
    assert not _dn_match(x509.Name(org_a.rdns[:0]), org_a)  # shorter than the constraint


def test_permitted_and_excluded_subtrees(root):
    inter = root.intermediate("NC Inter", extensions=_nc([x509.DNSName("allowed.test")]))
    leaf = inter.issue_cert(HOST)
    (f,) = _codes(evidence(leaf.chain[:-1], anchors=[root.cert]), Code.NAME_CONSTRAINTS)
    assert f.severity is Severity.ERROR and f.rule == "name_constraint_permitted" and f.cert_index == 0
    assert any(HOST in e for e in f.evidence) and any("allowed.test" in e for e in f.evidence)
    inside = inter.issue_cert("www.allowed.test")
    assert not _codes(evidence(inside.chain[:-1], anchors=[root.cert], host="www.allowed.test"), Code.NAME_CONSTRAINTS)
    ex = root.intermediate("NC Ex", extensions=_nc(None, [x509.DNSName("example.test")]))
    (f,) = _codes(evidence(ex.issue_cert(HOST).chain[:-1], anchors=[root.cert]), Code.NAME_CONSTRAINTS)
    assert f.rule == "name_constraint_excluded"


def test_the_cn_is_checked_when_there_is_no_dns_san(root):
    inter = root.intermediate("NC CN", extensions=_nc([x509.DNSName("allowed.test")]))
    leaf = inter.issue_cert(cn=HOST)  # no SAN at all
    found = _codes(evidence(leaf.chain[:-1], anchors=[root.cert]), Code.NAME_CONSTRAINTS)
    assert found and "CN" in found[0].summary


def test_path_length(root):
    top = root.intermediate("PL0", path_length=0)
    below = top.intermediate("Below PL0")
    leaf = below.issue_cert(HOST)
    (f,) = _codes(evidence(leaf.chain[:-1], anchors=[root.cert]), Code.PATH_LENGTH)
    assert f.rule == "path_length_exceeded" and f.cert_index == 2 and "pathlen:0" in " ".join(f.evidence)
    ok = root.intermediate("PL1", path_length=1).intermediate("Below PL1").issue_cert(HOST)
    assert not _codes(evidence(ok.chain[:-1], anchors=[root.cert]), Code.PATH_LENGTH)


def test_critical_extensions(root):
    inter = root.intermediate("Crit")
    unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = inter.issue_cert(HOST, extensions=[(unknown, True)])
    (f,) = _codes(evidence(leaf.chain[:-1], anchors=[root.cert]), Code.UNHANDLED_CRITICAL_EXTENSION)
    assert f.rule == "unhandled_critical_extension" and "1.3.6.1.4.1.99999.1" in " ".join(f.evidence)
    same_not_critical = inter.issue_cert(HOST, extensions=[(unknown, False)])
    assert not _codes(evidence(same_not_critical.chain[:-1], anchors=[root.cert]), Code.UNHANDLED_CRITICAL_EXTENSION)
    # the usual critical ones (basicConstraints, keyUsage) are handled
    assert not _codes(evidence(inter.issue_cert(HOST).chain[:-1], anchors=[root.cert]),
                      Code.UNHANDLED_CRITICAL_EXTENSION)


def test_ca_status(root):
    no_bc = root.intermediate("No BC", basic_constraints=False)
    (f,) = _codes(evidence(no_bc.issue_cert(HOST).chain[:-1], anchors=[root.cert]), Code.INVALID_CA)
    assert f.rule == "intermediate_without_ca_basic_constraints" and f.cert_index == 1
    ku = x509.KeyUsage(True, False, False, False, False, False, True, False, False)
    no_kcs = root.intermediate("No KCS", key_usage=ku)
    found = _codes(evidence(no_kcs.issue_cert(HOST).chain[:-1], anchors=[root.cert]), Code.INVALID_CA)
    assert found and found[0].rule == "ca_not_a_ca" and "keyCertSign" in " ".join(found[0].evidence)
    # a root without basicConstraints but with keyCertSign is tolerated as the anchor
    good = root.intermediate("Fine").issue_cert(HOST)
    assert not _codes(evidence(good.chain[:-1], anchors=[root.cert]), Code.INVALID_CA)


def test_leaf_key_usage(root):
    inter = root.intermediate("KU")
    ku = x509.KeyUsage(False, False, False, True, False, False, False, False, False)
    (f,) = _codes(evidence(inter.issue_cert(HOST, key_usage=ku).chain[:-1], anchors=[root.cert]), Code.KEY_USAGE)
    assert f.rule == "leaf_key_usage_not_for_tls" and f.cert_index == 0 and "data_encipherment" in " ".join(f.evidence)
    assert not _codes(evidence(inter.issue_cert(HOST).chain[:-1], anchors=[root.cert]), Code.KEY_USAGE)


def test_exactly_at_not_after_is_expired(root):
    inter = root.intermediate("Edge")
    end = NOW.replace(microsecond=0) + dt.timedelta(days=3)
    leaf = inter.issue_cert(HOST, not_after=end)
    at = [f for f in run(evidence(leaf.chain[:-1], anchors=[root.cert], now=end)) if f.code is Code.EXPIRED]
    assert [f.rule for f in at] == ["expired_at_not_after"]
    before = run(evidence(leaf.chain[:-1], anchors=[root.cert], now=end - dt.timedelta(seconds=1)))
    assert not [f for f in before if f.code is Code.EXPIRED]


def test_stricter_than_the_client_is_warned_never_silent(root):
    inter = root.intermediate("Loose")
    leaf = inter.issue_cert(HOST, aki=False)
    found = run(evidence(leaf.chain[:-1], anchors=[root.cert], outcome=client_ok()))
    warn = [f for f in found if f.rule == "rfc5280_verifier"]
    assert warn and warn[0].severity is Severity.WARNING and warn[0].code is Code.STRICT_X509
    assert any(e.startswith("cryptography's verifier: ") for e in warn[0].evidence)
    # a chain cryptography accepts gets no such warning
    clean = run(evidence(inter.issue_cert(HOST).chain[:-1], anchors=[root.cert], outcome=client_ok()))
    assert not [f for f in clean if f.rule == "rfc5280_verifier"]


def test_ca_as_leaf_is_a_warning_when_the_client_connects(root):
    inter = root.intermediate("CA Leaf")
    key = make_key("ec")
    cert = build_cert(key.public_key(), inter.key, make_name(HOST), inter.name, ca=True, sans=[HOST],
                      authority_key=inter.key)
    (f,) = _codes(evidence([cert, inter.cert], anchors=[root.cert], outcome=client_ok()), Code.CA_AS_LEAF)
    assert f.severity is Severity.WARNING and f.rule == "ca_as_leaf" and f.cert_index == 0


def test_an_unexplained_refusal_quotes_both_reasons(root):
    good = root.intermediate("Good").issue_cert(HOST)
    failed = client_failed("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: something new (_ssl.c:1)")
    (f,) = _codes(evidence(good.chain[:-1], anchors=[root.cert], outcome=failed), Code.VERDICT_UNCONFIRMED)
    assert f.severity is Severity.ERROR
    assert any("something new" in e and e.startswith("requests says: ") for e in f.evidence)
    assert any(e.startswith("cryptography's verifier: ") for e in f.evidence)


def test_every_rule_is_snake_case_and_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "JSON.md").read_text(encoding="utf-8")
    table = doc.split("### Rule identifiers")[1].split("The location object")[0]
    for rule in x509rules.RULES:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", rule), rule
        assert f"`{rule}`" in table, rule
    refusals = (Path(__file__).resolve().parents[2] / "docs" / "REFUSALS.md").read_text(encoding="utf-8")
    for rule in x509rules.RULES:
        assert f"`{rule}`" in refusals, rule


def test_an_extension_cryptography_cannot_parse_is_named_not_called_strict(root):
    inter = root.intermediate("Bad AIA")
    bad_aia = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.5.5.7.1.1"), b"\x30\x03\x02\x01\x05")
    leaf = inter.issue_cert(HOST, aia_url=None, ocsp_url=None, extensions=[(bad_aia, False)])
    found = run(evidence(leaf.chain[:-1], anchors=[root.cert], outcome=client_ok()))
    warn = [f for f in found if f.rule == "unparsable_extension"]
    assert warn and warn[0].code is Code.MALFORMED_CERT and warn[0].severity is Severity.WARNING
    assert warn[0].cert_index == 0 and "authorityInfoAccess" in warn[0].summary
    assert not [f for f in found if f.code is Code.STRICT_X509]


def test_a_signature_the_named_issuer_did_not_make(root):
    inter = root.intermediate("Forged Under")
    forged = inter.issue_cert(HOST, sign_with=make_key("ec"))  # the issuer's name and AKI, another key
    (f,) = _codes(evidence(forged.chain[:-1], anchors=[root.cert]), Code.MALFORMED_CERT)
    assert f.rule == "signature_does_not_verify" and f.cert_index == 0 and f.severity is Severity.ERROR
    # a CA of the same name with another key (re-keyed) is not this rule
    other = TestCA("Forged Under", parent=root)
    leaf = inter.issue_cert(HOST)
    assert not _codes(evidence([leaf.cert, other.cert], anchors=[root.cert]), Code.MALFORMED_CERT)


def test_cert_index_points_into_the_presented_chain(root):
    """A CA from the store is on the path but was not sent: no index; one sent out of order keeps its own."""
    no_kcs_root = TestCA("Store Root No KCS", basic_constraints=False,
                         key_usage=x509.KeyUsage(True, False, False, False, False, False, True, False, False))
    leaf = no_kcs_root.issue_cert(HOST)
    (f,) = _codes(evidence([leaf.cert], anchors=[no_kcs_root.cert]), Code.INVALID_CA)
    assert f.cert_index is None and any("Store Root No KCS" in e and "SHA-256" in e for e in f.evidence)
    top = root.intermediate("PL0 Again", path_length=0)
    below = top.intermediate("Below Again")
    chain = below.issue_cert(HOST).chain[:-1]
    (f,) = _codes(evidence([chain[0], chain[2], chain[1]], anchors=[root.cert]), Code.PATH_LENGTH)
    assert f.cert_index == 1  # the PL0 intermediate, sent second


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    size = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8,
                                                                                              "big")
    return bytes([tag]) + size + body


def _parts(der: bytes) -> list[bytes]:
    """The TLVs inside a DER SEQUENCE (a certificate: tbs, signatureAlgorithm, signatureValue)."""
    def head(buf, i):
        n = buf[i + 1]
        if n & 0x80:
            k = n & 0x7F
            return i + 2 + k, int.from_bytes(buf[i + 2:i + 2 + k], "big")
        return i + 2, n
    start, length = head(der, 0)
    content, out, j = der[start:start + length], [], 0
    while j < len(content):
        body, n = head(content, j)
        out.append(content[j:body + n])
        j = body + n
    return out


def test_an_issuer_key_that_cannot_be_decoded(root):
    """An intermediate whose EC point is not on the curve (the root really signed it): OpenSSL says
    'unable to decode issuer public key'; certdoctor names that certificate and field."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    inter = root.intermediate("Bad Key Inter")
    leaf = inter.issue_cert(HOST)
    tbs, alg, _sig = _parts(inter.cert.public_bytes(serialization.Encoding.DER))
    point = inter.cert.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
    bad_tbs = tbs.replace(point, b"\x04" + b"\x01" * 64)
    sig = root.key.sign(bad_tbs, ec.ECDSA(hashes.SHA256()))
    bad = x509.load_der_x509_certificate(_tlv(0x30, bad_tbs + alg + _tlv(0x03, b"\x00" + sig)))
    with pytest.raises(Exception):
        bad.public_key()
    found = run(evidence([leaf.cert, bad], anchors=[root.cert]))
    mal = [f for f in found if f.code is Code.MALFORMED_CERT]
    assert [f.rule for f in mal] == ["unparsable_public_key"] and mal[0].cert_index == 1
    assert any("subjectPublicKeyInfo" in e for e in mal[0].evidence)
