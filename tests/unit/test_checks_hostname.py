"""checks.hostname: HOSTNAME_MISMATCH and NO_SAN, as OpenSSL matches names for Python (RFC 6125)."""

from __future__ import annotations

import pytest

from certdoctor.checks import hostname
from certdoctor.checks.context import derive
from certdoctor.model import Code, Severity

from support.evidence import evidence
from support.pki import TestCA


@pytest.fixture(scope="module")
def ca():
    root = TestCA()
    return root, root.intermediate()


def check(ca, names, host, client="requests", cn=None):
    root, inter = ca
    leaf = inter.issue_cert(*names, cn=cn)
    return hostname.check(derive(evidence(leaf.chain[:-1], anchors=[root.cert], host=host, client=client)))


def test_a_covered_name_has_no_finding(ca):
    assert check(ca, ["www.example.test"], "www.example.test") == []
    assert check(ca, ["*.example.test"], "api.example.test") == []
    assert check(ca, ["127.0.0.1"], "127.0.0.1") == []


@pytest.mark.parametrize("names, host, words", [
    (["other.example.test"], "www.example.test", "other.example.test"),
    (["*.example.test"], "a.b.example.test", "covers exactly one label"),
    (["*.example.test"], "example.test", "does not cover the bare domain"),
    (["192.0.2.7"], "192.0.2.8", "only matches iPAddress SAN entries"),
])
def test_hostname_mismatch_says_why(ca, names, host, words):
    (f,) = check(ca, names, host)
    assert f.code is Code.HOSTNAME_MISMATCH and f.severity is Severity.ERROR and f.cert_index == 0
    assert words in f.explanation
    assert "Never turn off check_hostname" in f.fix


def test_an_ip_written_as_a_dns_name(ca):
    root, inter = ca
    from cryptography import x509

    from support.pki import build_cert, make_key, make_name

    key = make_key("ec")
    cert = build_cert(key.public_key(), inter.key, make_name("127.0.0.1"), inter.name, ca=False,
                      sans=(x509.DNSName("127.0.0.1"),))
    (f,) = hostname.check(derive(evidence([cert, inter.cert], anchors=[root.cert], host="127.0.0.1")))
    assert f.code is Code.HOSTNAME_MISMATCH and "written as a DNS name" in f.explanation


def test_no_san_is_an_error_for_requests_and_a_warning_where_the_cn_still_counts(ca):
    (f,) = check(ca, [], "cn-only.example.test", cn="cn-only.example.test")
    assert f.code is Code.NO_SAN and f.severity is Severity.ERROR
    assert "DNS:cn-only.example.test" in f.fix
    (f,) = check(ca, [], "cn-only.example.test", client="httpx", cn="cn-only.example.test")
    assert f.code is Code.NO_SAN and f.severity is Severity.WARNING
    (f,) = check(ca, [], "elsewhere.example.test", client="httpx", cn="cn-only.example.test")
    assert f.severity is Severity.ERROR  # the CN does not match either
