"""Extensions cryptography cannot parse (issue 9, item 4): never "absent", never a traceback.

cryptography decodes a certificate's extensions all at once, so one it refuses (an empty EKU,
a malformed AIA) used to hide every other one: the leaf then "had no subjectAltName" (NO_SAN) and
"no Authority Key Identifier" (STRICT_X509) although OpenSSL reads both. Certificates here are
built by support.pki with raw extension values (``x509.UnrecognizedExtension`` under a known OID
writes exactly the bytes given).
"""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from certdoctor._der import DerError, children, element, encode, oid, strict_children, tlv
from certdoctor.checks import crypto, hostname, strict
from certdoctor.checks.context import derive
from certdoctor.model import CertInfo, Code, Severity, general_name_text, host_matches, read_extensions

from support.evidence import evidence
from support.pki import TestCA

EMPTY_EKU = x509.UnrecognizedExtension(ExtensionOID.EXTENDED_KEY_USAGE, b"\x30\x00")
BAD_AIA = x509.UnrecognizedExtension(ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"\x30\x03\x02\x01\x05")
BAD_SAN = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x02\x01\x05")
# iPAddress 127.0.0.0/255.0.0.0 (8 bytes: a network, name constraints' form) and DNS:ab
NET_SAN = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                     bytes.fromhex("300e8708" "7f000000ff000000" "82026162"))
HOST = "www.example.test"


@pytest.fixture(scope="module")
def ca():
    root = TestCA("Extensions Root")
    return root, root.intermediate("Extensions Intermediate")


def leaf_with(ca, *names, **kw):
    root, inter = ca
    kw.setdefault("eku", None)
    return inter.issue_cert(*names, **kw).cert


def judge(ca, cert, host=HOST, client="requests", python="3.13"):
    root, inter = ca
    ctx = derive(evidence([cert, inter.cert], anchors=[root.cert], host=host, client=client, python=python))
    return ctx, [*hostname.check(ctx), *strict.check(ctx), *crypto.check(ctx)]


# --------------------------------------------------------------------------- the issue's two leaves

def test_cryptography_refuses_these_certificates_as_a_whole(ca):
    """The premise: without reading one by one, every extension is lost."""
    for ext in (EMPTY_EKU, BAD_AIA):
        cert = leaf_with(ca, HOST, extensions=[(ext, False)], aia_url=None, ocsp_url=None)
        with pytest.raises(ValueError):
            list(cert.extensions)


def test_an_empty_eku_is_wrong_eku_not_no_san_nor_missing_aki(ca):
    cert = leaf_with(ca, HOST, extensions=[(EMPTY_EKU, False)])
    info = CertInfo.from_certificate(cert)
    assert info.san == (f"DNS:{HOST}",) and info.san_dns == (HOST,)
    assert info.aki is not None and info.ski is not None and info.is_ca is False
    assert info.ca_issuers_urls and info.crl_urls  # the other extensions are all there
    assert info.extended_key_usage == ()  # present and empty, as OpenSSL reads it (not None: absent)
    assert info.unparsed_extensions == ()
    assert any(n.startswith("extendedKeyUsage: cryptography cannot parse it (it is empty") for n in info.extension_notes)
    _ctx, found = judge(ca, cert)
    assert [(f.code, f.rule) for f in found] == [(Code.WRONG_EKU, "eku_empty")]
    (f,) = found
    assert f.severity is Severity.ERROR and "unsuitable certificate purpose" in f.explanation
    assert "empty" in f.summary and f.evidence == ("extendedKeyUsage = (empty)",)


def test_a_malformed_aia_is_could_not_be_parsed_and_hides_nothing(ca):
    cert = leaf_with(ca, HOST, extensions=[(BAD_AIA, False)], aia_url=None, ocsp_url=None,
                     eku=(x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,))
    info = CertInfo.from_certificate(cert)
    assert info.san_dns == (HOST,) and info.aki is not None and info.extended_key_usage == ("serverAuth",)
    assert info.unparsed_extensions == ("authorityInfoAccess",)
    assert info.ca_issuers_urls == () and info.ocsp_urls == ()
    assert info.extension_notes == ("authorityInfoAccess: could not be parsed (an element has the wrong ASN.1 type)",)
    _ctx, found = judge(ca, cert)
    assert found == []  # OpenSSL ignores a malformed AIA: the real client connects (tests/integration)


def test_an_unparsed_extension_is_present_for_the_strict_rules(ca):
    """A malformed AKI is still an AKI: not 'Missing Authority Key Identifier'."""
    bad_aki = x509.UnrecognizedExtension(ExtensionOID.AUTHORITY_KEY_IDENTIFIER, b"\x30\x03\x02\x01\x05")
    cert = leaf_with(ca, HOST, aki=False, extensions=[(bad_aki, False)])
    info = CertInfo.from_certificate(cert)
    assert info.aki is None and "authorityKeyIdentifier" in info.unparsed_extensions
    ctx, _ = judge(ca, cert)
    assert [v.rule for v in strict.strict_violations(ctx.path.path, [p.certificate() for p in ctx.path.path])] == []
    # and one that really is missing still is
    cert = leaf_with(ca, HOST, aki=False)
    _ctx, found = judge(ca, cert)
    assert [(f.code, f.rule, f.cert_index) for f in found] == [(Code.STRICT_X509, "missing_aki", 0)]


def test_a_duplicated_extension_is_unparsed_not_absent(ca):
    """Two SANs (cryptography's builder refuses to add one twice; its constructor does not check)."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes

    from support.pki import NOW, make_key, make_name

    root, inter = ca
    san = x509.Extension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, False, x509.SubjectAlternativeName([x509.DNSName(HOST)]))
    cert = x509.CertificateBuilder(inter.name, make_name(HOST), make_key().public_key(), 7, NOW - dt.timedelta(days=1),
                                   NOW + dt.timedelta(days=30), [san, san]).sign(inter.key, hashes.SHA256())
    info = CertInfo.from_certificate(cert)
    assert "subjectAltName" in info.unparsed_extensions and info.san is None
    assert any("appears 2 times" in n for n in info.extension_notes)
    _ctx, found = judge(ca, cert)
    (f,) = [f for f in found if f.code is Code.NO_SAN]
    assert f.rule == "san_unparsed" and "could not be parsed" in f.summary and "absent" not in " ".join(f.evidence)


# --------------------------------------------------------------------------- every SAN form

def test_a_dirname_only_san_says_what_it_holds(ca):
    dirname = x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
    cert = leaf_with(ca, dirname, cn=HOST)
    info = CertInfo.from_certificate(cert)
    assert info.san == (f"DirName:CN={HOST}",) and info.san_dns == ()
    for client, severity in (("requests", Severity.ERROR), ("httpx", Severity.WARNING)):
        _ctx, found = judge(ca, cert, client=client)
        (f,) = found
        assert (f.code, f.rule, f.severity) == (Code.NO_SAN, "san_without_dns", severity)
        assert "no subjectAltName" not in f.summary and f"DirName:CN={HOST}" in f.summary
        assert f"subjectAltName = DirName:CN={HOST}" in f.evidence


def test_an_ip_network_san_matches_nothing_and_crashes_nothing(ca):
    cert = leaf_with(ca, extensions=[(NET_SAN, False)], cn="127.0.0.1")
    info = CertInfo.from_certificate(cert)
    assert info.san == ("IP network:127.0.0.0/8", "DNS:ab") and info.san_ip == () and info.san_dns == ("ab",)
    assert not info.covers_host("127.0.0.1") and info.covers_host("ab")
    _ctx, found = judge(ca, cert, host="127.0.0.1")
    (f,) = found
    assert (f.code, f.rule) == (Code.HOSTNAME_MISMATCH, "ip_not_in_san")
    assert "IP network:127.0.0.0/8" in f.explanation


def test_cryptographys_own_network_value_does_not_crash_host_matches():
    """The traceback of the issue: an IPv4Network in the SAN, given to the matcher."""
    assert host_matches("10.0.0.1", (), ("10.0.0.0/8",)) is False
    assert general_name_text(x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))) == ("IP network:10.0.0.0/8",
                                                                                        None, None)


@pytest.mark.parametrize("gn, text", [
    (x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), b"\x0c\x05hello"), "othername:1.2.3.4"),
    (x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")), "Registered ID:1.2.3.4"),
    (x509.RFC822Name("ops@example.test"), "email:ops@example.test"),
    (x509.UniformResourceIdentifier("https://example.test/"), "URI:https://example.test/"),
])
def test_other_san_forms_are_named_and_never_match(ca, gn, text):
    cert = leaf_with(ca, gn, cn=HOST)
    info = CertInfo.from_certificate(cert)
    assert info.san == (text,) and not info.covers_host(HOST)
    _ctx, found = judge(ca, cert)
    assert [(f.code, f.rule) for f in found] == [(Code.NO_SAN, "san_without_dns")]
    assert text in found[0].summary
    # beside a DNS name, they are listed but the DNS name decides
    cert = leaf_with(ca, HOST, gn)
    assert CertInfo.from_certificate(cert).san == (f"DNS:{HOST}", text)
    assert judge(ca, cert)[1] == []


def test_a_malformed_san_is_unparsed_never_absent(ca):
    cert = leaf_with(ca, extensions=[(BAD_SAN, False)], cn=HOST)
    info = CertInfo.from_certificate(cert)
    assert info.san is None and info.unparsed_extensions == ("subjectAltName",)
    for client in ("requests", "httpx"):
        _ctx, found = judge(ca, cert, client=client)
        (f,) = found
        assert (f.code, f.rule, f.severity) == (Code.NO_SAN, "san_unparsed", Severity.ERROR)
        assert "could not be parsed" in f.summary
        assert not any("absent" in e for e in f.evidence)


def test_a_san_cryptography_refuses_but_openssl_reads_is_read():
    """An IA5String with a non-ASCII byte: cryptography refuses the whole SAN; OpenSSL reads it
    (the byte matches no host) and the DNS name beside it still counts."""
    v6_net = bytes.fromhex("20010db8" + "00" * 12 + "ffffffff" + "00" * 12)
    raw = encode(0x30, encode(0x82, b"caf\xe9.example.test") + encode(0x82, HOST.encode())
                 + encode(0x87, bytes([10, 0, 0, 0, 255, 0, 0, 0])) + encode(0x87, v6_net)
                 + encode(0x87, b"\x01\x02\x03") + encode(0x87, bytes([127, 0, 0, 1])))
    root = TestCA("IA5 Root")
    cert = root.intermediate().issue_cert(eku=None, extensions=[(
        x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, raw), False)]).cert
    info = CertInfo.from_certificate(cert)
    assert info.san == ("DNS:caf\\xe9.example.test", f"DNS:{HOST}", "IP network:10.0.0.0/8",
                        "IP network:2001:db8::/32", "IP Address:<invalid length=3>", "IP Address:127.0.0.1")
    assert info.san_dns == (HOST,) and info.san_ip == ("127.0.0.1",)
    assert info.unparsed_extensions == () and info.covers_host(HOST) and info.covers_host("127.0.0.1")
    assert not info.covers_host("10.0.0.1")


def test_read_extensions_one_by_one_keeps_order_and_criticality(ca):
    cert = leaf_with(ca, HOST, extensions=[(EMPTY_EKU, True)])
    reads = read_extensions(cert)
    names = [r.name for r in reads]
    assert names[:3] == ["basicConstraints", "keyUsage", "subjectKeyIdentifier"]
    eku = next(r for r in reads if r.name == "extendedKeyUsage")
    assert eku.value is None and eku.critical is True and eku.der == b"\x30\x00" and "empty" in eku.error
    assert all(r.value is not None for r in reads if r is not eku)
    healthy = leaf_with(ca, HOST)
    assert [r.value for r in read_extensions(healthy)] == [e.value for e in healthy.extensions]


# --------------------------------------------------------------------------- the DER reader

def test_der_reader_basics():
    assert tlv(b"\x30\x03\x02\x01\x05") == (0x30, 2, 3)
    assert element(b"\x04\x02ab") == (0x04, b"ab")
    assert children(b"\x02\x01\x05\x04\x00") == [(2, b"\x05"), (4, b"")]
    assert oid(bytes.fromhex("2a864886f70d010101")) == "1.2.840.113549.1.1.1"
    assert oid(bytes.fromhex("550403")) == "2.5.4.3"
    big = b"x" * 300
    assert element(encode(0x04, big)) == (0x04, big)
    for bad in (b"", b"\x30", b"\x30\x05\x02", b"\x30\x84\xff\xff\xff\xff"):
        with pytest.raises(DerError):
            element(bad)
    with pytest.raises(DerError):
        strict_children(b"\x02\x01\x05\x02")  # a cut element
    with pytest.raises(DerError):
        oid(b"\x86")  # ends inside an arc


# --------------------------------------------------------------------------- rule ids

def test_every_rule_is_snake_case_and_documented():
    import re
    from pathlib import Path

    from certdoctor.checks import validity

    doc = (Path(__file__).resolve().parents[2] / "docs" / "JSON.md").read_text(encoding="utf-8")
    table = doc.split("### Rule identifiers")[1].split("\n## ")[0].split("The location object")[0]
    rules = [*strict.RULES, *hostname.RULES, *crypto.RULES, *validity.RULES]
    assert len(rules) == len(set(rules))  # one name, one rule
    for rule in rules:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", rule), rule
        assert f"`{rule}`" in table, f"docs/JSON.md does not list the rule {rule!r}"
    assert set(strict.RULES.values()) >= {"Missing Authority Key Identifier",
                                          "Basic Constraints of CA cert not marked critical"}


def test_strict_findings_carry_their_rule(ca):
    root, _ = ca
    inter = root.intermediate("Loose Intermediate", bc_critical=False, ski=False)
    leaf = inter.issue_cert(HOST)
    ctx = derive(evidence([leaf.cert, inter.cert], anchors=[root.cert], python="3.13"))
    got = sorted((f.rule, f.cert_index) for f in strict.check(ctx))
    assert got == [("basic_constraints_not_critical", 1), ("missing_ski", 1)]
    for f in strict.check(ctx):
        assert strict.RULES[f.rule] in f.summary


# --------------------------------------------------------------------------- what inspect shows

def _table_text(info) -> str:
    from rich.console import Console

    from certdoctor.render.inspect import cert_table

    console = Console(width=200, record=True, color_system=None)
    console.print(cert_table(info))
    return console.export_text()


def test_inspect_says_what_the_san_holds_and_what_could_not_be_parsed(ca):
    dirname = x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
    text = _table_text(CertInfo.from_certificate(leaf_with(ca, dirname, cn=HOST)))
    assert f"DirName:CN={HOST} (no DNS name or IP address" in text and "none (" not in text
    text = _table_text(CertInfo.from_certificate(leaf_with(ca, extensions=[(BAD_SAN, False)])))
    assert "present, but could not be parsed" in text and "Unparsed" in text and "none (" not in text
    text = _table_text(CertInfo.from_certificate(leaf_with(ca, extensions=[(NET_SAN, False)])))
    assert "ab, IP network:127.0.0.0/8" in text
    text = _table_text(CertInfo.from_certificate(leaf_with(ca, HOST, extensions=[(BAD_AIA, False)],
                                                           aia_url=None, ocsp_url=None)))
    assert "authorityInfoAccess (present, but could not be parsed)" in text and HOST in text


# --------------------------------------------------------------------------- no traceback, whatever the bytes

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

OIDS = [ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS, ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.NAME_CONSTRAINTS]
GN_TAGS = [0x80, 0x81, 0x82, 0x86, 0x87, 0x88, 0xA0, 0xA3, 0xA4, 0xA5, 0x02, 0x04, 0x30, 0x9F]


@st.composite
def near_der(draw):
    """Mostly well-formed TLVs (a SEQUENCE of GeneralName-like or universal elements), sometimes
    cut, sometimes plain noise: what a broken CA or a fuzzer writes."""
    kind = draw(st.sampled_from(["seq", "seq", "seq", "noise", "cut"]))
    if kind == "noise":
        return draw(st.binary(max_size=40))
    items = b"".join(encode(draw(st.sampled_from(GN_TAGS)), draw(st.binary(max_size=20)))
                     for _ in range(draw(st.integers(0, 4))))
    der = encode(0x30, items)
    if kind == "cut":
        der = der[:draw(st.integers(0, max(0, len(der) - 1)))]
    return der


@pytest.fixture(scope="module")
def fuzz_ca():
    root = TestCA("Fuzz Root")
    return root, root.intermediate("Fuzz Intermediate")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(oid_=st.sampled_from(OIDS), value=near_der(), critical=st.booleans(), host=st.sampled_from([HOST, "127.0.0.1"]))
def test_any_extension_bytes_give_findings_not_tracebacks(fuzz_ca, oid_, value, critical, host):
    root, inter = fuzz_ca
    kw = {"eku": None} if oid_ == ExtensionOID.EXTENDED_KEY_USAGE else {}
    if oid_ == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
        kw["aki"] = False
    if oid_ == ExtensionOID.SUBJECT_KEY_IDENTIFIER:
        kw["ski"] = False
    if oid_ == ExtensionOID.BASIC_CONSTRAINTS:
        kw["basic_constraints"] = False
    if oid_ == ExtensionOID.KEY_USAGE:
        kw["key_usage"] = None
    if oid_ == ExtensionOID.AUTHORITY_INFORMATION_ACCESS:
        kw.update(aia_url=None, ocsp_url=None)
    if oid_ == ExtensionOID.CRL_DISTRIBUTION_POINTS:
        kw["crl_url"] = None
    cert = inter.issue_cert(extensions=[(x509.UnrecognizedExtension(oid_, value), critical)], cn=HOST, **kw).cert
    info = CertInfo.from_certificate(cert)
    read = next(r for r in read_extensions(cert) if r.oid == oid_.dotted_string)
    assert read.critical is critical and read.der == value
    name = read.name
    # present: read by cryptography, or by certdoctor as OpenSSL would, or named as unparsed; never dropped
    assert read.value is not None or name in info.unparsed_extensions or any(
        n.startswith(f"{name}: cryptography cannot parse it") for n in info.extension_notes)
    if name == "subjectAltName" and name not in info.unparsed_extensions:
        assert info.san is not None
    ctx = derive(evidence([cert, inter.cert], anchors=[root.cert], host=host, python="3.13"))
    found = [*hostname.check(ctx), *strict.check(ctx), *crypto.check(ctx)]
    for f in found:
        assert f.summary and f.rule
        if f.cert_index == 0:  # "absent" is never said of the extension that is there
            assert f.rule != {"subjectAltName": "no_san", "authorityKeyIdentifier": "missing_aki"}.get(name), value


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_the_der_reader_raises_only_der_error(data):
    for fn in (tlv, element, strict_children, oid):
        try:
            fn(data)
        except DerError:
            pass
    assert isinstance(children(data), list)


def test_inspect_never_calls_an_unparsed_basic_constraints_absent(ca):
    bad_bc = x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x30\x03\x04\x01\x05")
    info = CertInfo.from_certificate(leaf_with(ca, HOST, basic_constraints=False, extensions=[(bad_bc, True)]))
    assert info.is_ca is None and info.unparsed_extensions == ("basicConstraints",)
    text = _table_text(info)
    assert "present, but could not be parsed" in text and "no basicConstraints" not in text
