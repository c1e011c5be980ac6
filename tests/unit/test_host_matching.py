"""model.host_matches / CertInfo.covers_host against the real thing, with hypothesis.

The oracle is OpenSSL itself, as Python's ``ssl`` drives it for requests: a TLS handshake between
two ``ssl.SSLObject`` over memory BIOs (no socket), the client with ``check_hostname`` and
``hostname_checks_common_name = False`` (urllib3 2.x), the server presenting a leaf whose SAN
holds the generated entries. certdoctor's answer must be OpenSSL's, for every name and SAN
hypothesis makes up, and host_matches must never raise.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile

import pytest
from cryptography import x509
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from certdoctor.model import CertInfo, host_matches

from support.pki import TestCA, key_pem, make_key, pem

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LABEL_CHARS = "abcxyzAZ09-_"
label = st.text(LABEL_CHARS, min_size=1, max_size=5)
labels = st.lists(label, min_size=1, max_size=4)
IPS = ["127.0.0.1", "127.0.0.2", "10.0.0.1", "::1", "2001:db8::1", "2001:db8::2"]


@st.composite
def host_and_sans(draw):
    """A host name and DNS SAN entries built from it (equal, re-cased, wildcarded, one label off,
    a trailing dot, partial wildcards) or from scratch, so that matches and near misses are common."""
    host_labels = draw(labels)
    host = ".".join(host_labels)

    def variant():
        kind = draw(st.sampled_from(["same", "case", "wild", "deep-wild", "bare-wild", "partial", "dot", "other"]))
        ls = list(host_labels)
        if kind == "case":
            return host.swapcase()
        if kind == "wild":
            return ".".join(["*"] + ls[1:])
        if kind == "deep-wild":
            return ".".join(["*"] + ls[2:])
        if kind == "bare-wild":
            return "*." + host
        if kind == "partial":
            return ".".join([ls[0][:1] + "*"] + ls[1:])
        if kind == "dot":
            return host + "."
        if kind == "other":
            return ".".join(draw(labels))
        return host

    sans = [variant() for _ in range(draw(st.integers(1, 3)))]
    return host + draw(st.sampled_from(["", "", "."])), sans


@pytest.fixture(scope="module")
def oracle():
    """``openssl_matches(host, dns, ips)``: does Python's ssl accept this SAN for this host?"""
    root = TestCA("Matching Root")
    leaf_key = make_key()
    cafile_data = pem(root.cert).decode()
    tmp = tempfile.mkdtemp(prefix="certdoctor-match-")
    key_path = os.path.join(tmp, "key.pem")
    with open(key_path, "wb") as fh:
        fh.write(key_pem(leaf_key))

    def openssl_matches(host: str, dns: list[str], ips: list[str], *, others=(), cn: str = "not-the-host.invalid",
                        checks_cn: bool = False) -> bool:
        names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] + list(others)
        cert = root.issue_cert(key=leaf_key, cn=cn, aia_url=None, crl_url=None,
                               ocsp_url=None, extensions=[(x509.SubjectAlternativeName(names), False)]).cert
        cert_path = os.path.join(tmp, "cert.pem")
        with open(cert_path, "wb") as fh:
            fh.write(pem(cert))
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(cert_path, key_path)
        client_ctx = ssl.create_default_context(cadata=cafile_data)
        client_ctx.hostname_checks_common_name = checks_cn
        # urllib3 strips the trailing dots and the brackets of the host before it calls ssl
        name = host.strip("[]").rstrip(".")
        c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        client = client_ctx.wrap_bio(c_in, c_out, server_hostname=name)
        server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
        for _ in range(10):
            for side, out, into in ((client, c_out, s_in), (server, s_out, c_in)):
                try:
                    side.do_handshake()
                    if side is client:
                        return True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLCertVerificationError as exc:
                    if exc.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH
                        return False
                    raise
                data = out.read()
                if data:
                    into.write(data)
        raise AssertionError("the in-memory handshake did not finish")

    return openssl_matches


def _sendable(host: str) -> bool:
    """Hosts Python's ssl takes at all (others are refused before any name check)."""
    name = host.strip("[]").rstrip(".")
    if not name or name.startswith("."):
        return False
    try:
        name.encode("idna")
    except UnicodeError:
        return False
    return True


@SETTINGS
@given(host_and_sans())
@example(("www.example.test", ["*.example.test"]))
@example(("a.b.example.test", ["*.example.test"]))
@example(("example.test", ["*.example.test"]))
@example(("a_b.example.test", ["*.example.test"]))
@example(("www.example.test", ["www.example.test."]))
@example(("www.example.test", ["w*.example.test"]))
@example(("xn--caf-dma.example.test", ["*.example.test"]))
@example(("*.example.test", ["*.example.test"]))
@example(("a.test", ["*.test"]))
@example(("0.0.0.0.", ["0.0.0.0"]))  # found by hypothesis: an IP once its trailing dot is dropped
@example(("0.0.0.00", ["0.0.0.00"]))  # found by hypothesis: OpenSSL reads it as the IP 0.0.0.0
def test_dns_names_match_as_openssl_matches_them(oracle, case):
    host, sans = case
    assume(_sendable(host))
    assert host_matches(host, tuple(sans), ()) == oracle(host, sans, []), (host, sans)


@SETTINGS
@given(st.sampled_from(IPS + ["[::1]", "[2001:db8::1]"]), st.lists(st.sampled_from(IPS), min_size=1, max_size=3),
       st.lists(st.sampled_from(["127.0.0.1", "localhost", "::1"]), max_size=2))
def test_ip_addresses_match_only_ip_entries(oracle, host, ips, dns):
    assert host_matches(host, tuple(dns), tuple(ips)) == oracle(host, dns, ips), (host, ips, dns)


@given(st.text(max_size=40), st.lists(st.text(max_size=30), max_size=4), st.lists(st.text(max_size=30), max_size=4))
@settings(max_examples=400, deadline=None)
def test_host_matches_never_raises(host, dns, ips):
    assert host_matches(host, tuple(dns), tuple(ips)) in (True, False)


@given(st.sampled_from(["10.0.0.0/8", "::/0", "2001:db8::/32", "not an ip", "", "1.2.3.4.5", "fe80::1%eth0"]),
       st.sampled_from(["10.0.0.1", "::1", "2001:db8::5", "1.2.3.4"]))
def test_networks_and_garbage_in_san_ip_match_nothing(entry, host):
    assert host_matches(host, (), (entry,)) is False


@SETTINGS
@given(labels)
def test_covers_host_is_host_matches_of_the_certificates_sans(names):
    host = ".".join(names)
    assume(_sendable(host))
    root = TestCA("Covers Root")
    info = CertInfo.from_certificate(root.issue_cert(host, "127.0.0.1").cert)
    assert info.covers_host(host) is host_matches(host, info.san_dns, info.san_ip) is True
    assert info.covers_host("127.0.0.1") and not info.covers_host("127.0.0.2")


def test_the_cn_counts_only_when_the_san_has_no_entry_of_the_kind_matched(oracle):
    """The premise of NO_SAN's severity (checks/hostname.py): a client that still reads the CN
    (the stdlib's default, httpx) falls back to it when the SAN holds no DNS name, whatever else it
    holds, and never for an IP address; requests (urllib3 2.x) never does."""
    from certdoctor.checks import hostname
    from certdoctor.checks.context import derive

    from support.evidence import evidence

    host = "cn-only.example.test"
    dirname = x509.DirectoryName(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, host)]))
    assert oracle(host, [], [], others=[dirname], cn=host, checks_cn=True) is True
    assert oracle(host, [], ["127.0.0.1"], cn=host, checks_cn=True) is True
    assert oracle(host, [], ["127.0.0.1"], cn=host, checks_cn=False) is False
    assert oracle(host, ["other.example.test"], [], cn=host, checks_cn=True) is False
    assert oracle("127.0.0.1", [], [], others=[dirname], cn="127.0.0.1", checks_cn=True) is False

    root = TestCA("CN Root")
    inter = root.intermediate()

    def severity(names, target, client):
        leaf = inter.issue_cert(*names, cn=target)
        found = hostname.check(derive(evidence([leaf.cert, inter.cert], anchors=[root.cert], host=target,
                                               client=client)))
        return [(f.code.value, f.rule, f.severity.value) for f in found]

    assert severity(["127.0.0.1"], host, "httpx") == [("NO_SAN", "san_without_dns", "warning")]
    assert severity(["127.0.0.1"], host, "requests") == [("NO_SAN", "san_without_dns", "error")]
    assert severity([], "127.0.0.1", "httpx") == [("NO_SAN", "no_san", "error")]  # an IP never reads the CN


@pytest.mark.parametrize("host", ["0.0.0.00", "01.2.3.4", "+1.2.3.4", "-0.0.0.0", "1.2.3.4 x", "00000001.2.3.4",
                                  "1.2.3.4x", "1.2.3.256", "1.2.3", "1.2.3.4.5", "::1x"])
def test_what_openssl_takes_for_an_ip_address(oracle, host):
    """Python's ssl lets OpenSSL's sscanf-based a2i_IPADDRESS decide what is an address: a DNS
    entry spelled like the host and an IP entry for the address it reads must agree with it."""
    from certdoctor.model import openssl_ip

    ips = ["1.2.3.4", "0.0.0.0"]
    assert host_matches(host, (host,), ()) == oracle(host, [host], []), host
    assert host_matches(host, (), tuple(ips)) == oracle(host, [], ips), host
    assert (openssl_ip(host) is not None) == oracle(host, [], ips), host
