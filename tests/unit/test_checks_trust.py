"""checks.trust: does the path reach the store, and if not, why (from evidence, no socket)."""

from __future__ import annotations

import pytest

from certdoctor.checks import trust
from certdoctor.checks.context import derive
from certdoctor.model import Actor, Code, Severity

from support.evidence import canary, downloaded, evidence
from support.pki import TestCA, issue, make_key, make_name

PROXY = "http://proxy.example.test:3128"


@pytest.fixture(scope="module")
def pki():
    root = TestCA("Trust Root")
    inter = root.intermediate("Trust Intermediate")
    leaf = inter.issue_cert("www.example.test")
    return root, inter, leaf


def only(ev):
    found = trust.check(derive(ev))
    assert len(found) == 1, [(f.code, f.summary) for f in found]
    return found[0]


def test_a_path_to_the_store_from_what_the_server_sent_is_clean(pki):
    root, inter, leaf = pki
    assert trust.check(derive(evidence([leaf.cert, inter.cert], anchors=[root.cert]))) == []


def test_chain_incomplete_completed_by_aia(pki):
    root, inter, leaf = pki
    f = only(evidence([leaf.cert], anchors=[root.cert], aia=[downloaded(inter.cert)]))
    assert f.code is Code.CHAIN_INCOMPLETE and f.severity is Severity.ERROR and f.cert_index == 0
    assert "certdoctor fetched it and the completed chain reaches a root" in f.explanation
    assert "downloaded from http://ca.example.test/issuer.der" in f.evidence
    assert any(e.startswith("missing: ") and "Trust Intermediate" in e for e in f.evidence)


def test_chain_incomplete_without_aia(pki):
    root, inter, leaf = pki
    # the leaf names an AIA URL, but the download failed
    f = only(evidence([leaf.cert], anchors=[root.cert], aia=[downloaded()]))
    assert f.code is Code.CHAIN_INCOMPLETE and "only its leaf" in f.summary
    assert "could not complete the chain from the AIA URL either" in f.explanation
    assert any(e.startswith("AIA http://ca.example.test/issuer.der: fetching") for e in f.evidence)
    # a leaf with no AIA URL at all
    key = make_key("ec")
    bare = issue(key, inter.key, make_name("www.example.test"), inter.name, ca=False, sans=("www.example.test",))
    f = only(evidence([bare], anchors=[root.cert]))
    assert f.code is Code.CHAIN_INCOMPLETE and "names no AIA 'CA Issuers' URL" in f.explanation


def test_untrusted_root_sent_by_the_server(pki):
    root, inter, leaf = pki
    f = only(evidence(leaf.chain, anchors=[TestCA("Someone Else").cert]))
    assert f.code is Code.UNTRUSTED_ROOT and f.who is Actor.CLIENT_USER
    assert "sends itself" in f.explanation and "'self-signed certificate in certificate chain'" in f.explanation
    assert any(e.startswith("root SHA-256 = ") for e in f.evidence)
    assert "requests reads certifi" in f.explanation


def test_untrusted_root_only_found_over_aia(pki):
    root, inter, leaf = pki
    f = only(evidence([leaf.cert, inter.cert], anchors=[TestCA("Someone Else").cert], aia=[downloaded(root.cert)],
                      client="httpx"))
    assert f.code is Code.UNTRUSTED_ROOT and "downloaded it from an AIA URL" in f.explanation
    assert "requests reads certifi" not in f.explanation  # said for requests only


def test_untrusted_when_the_top_is_not_a_root(pki):
    _, inter, leaf = pki
    f = only(evidence([leaf.cert, inter.cert], anchors=[]))
    assert f.code is Code.UNTRUSTED_ROOT and "issued by 'CN=Trust Root" in f.explanation


def test_a_store_anchor_that_is_not_a_root_needs_python_313(pki):
    root, inter, leaf = pki
    f = only(evidence([leaf.cert, inter.cert], anchors=[leaf.cert]))
    assert f.code is Code.UNTRUSTED_ROOT and "VERIFY_X509_PARTIAL_CHAIN" in f.explanation
    assert trust.check(derive(evidence([leaf.cert, inter.cert], anchors=[leaf.cert], python="3.13"))) == []


def test_self_signed():
    key = make_key("ec")
    name = make_name("self.example.test")
    cert = issue(key, key, name, name, ca=False, sans=("self.example.test",))
    f = only(evidence([cert], anchors=[TestCA().cert], host="self.example.test"))
    assert f.code is Code.SELF_SIGNED and f.cert_index == 0 and "--trust" in f.fix


def test_intercepting_proxy_named_by_its_product():
    root = TestCA("Zscaler Root CA")
    leaf = root.issue_cert("www.example.test")
    f = only(evidence([leaf.cert, root.cert], anchors=[TestCA().cert]))
    assert f.code is Code.INTERCEPTING_PROXY and f.who is Actor.NETWORK_ADMIN
    assert any("TLS-inspecting product" in e for e in f.evidence)
    assert not any("re-signs every site" in e for e in f.evidence)


def test_intercepting_proxy_proven_by_the_canary():
    corp = TestCA("Corp Root")
    inter = corp.intermediate("Corp Issuing CA")
    leaf = inter.issue_cert("www.example.test")
    pypi = inter.issue_cert("pypi.org")
    ev = evidence([leaf.cert, inter.cert], anchors=[TestCA().cert], proxy=PROXY,
                  canaries=[canary("pypi.org", [pypi.cert, inter.cert])])
    f = only(ev)
    assert f.code is Code.INTERCEPTING_PROXY
    assert "through the same proxy, pypi.org is signed by the same root: it re-signs every site" in f.evidence
    assert f"connected through the proxy {PROXY}" in f.evidence


def test_a_canary_that_proves_nothing_leaves_an_untrusted_root():
    corp = TestCA("Corp Root")
    inter = corp.intermediate("Corp Issuing CA")
    leaf = inter.issue_cert("www.example.test")
    real = TestCA("Public Root").intermediate("Public CA").issue_cert("pypi.org")
    for canaries in ([canary("pypi.org", real.chain[:-1])],
                     [canary("pypi.org", error="connection refused"), canary("www.python.org", error="timed out")],
                     []):
        f = only(evidence([leaf.cert, inter.cert], anchors=[TestCA().cert], proxy=PROXY, canaries=canaries))
        assert f.code is Code.UNTRUSTED_ROOT, canaries
    # a canary without a proxy is no evidence (it would have gone directly to the site)
    pypi = inter.issue_cert("pypi.org")
    f = only(evidence([leaf.cert, inter.cert], anchors=[TestCA().cert], canaries=[canary("pypi.org", [pypi.cert])]))
    assert f.code is Code.UNTRUSTED_ROOT


def test_a_root_removed_from_certifi_is_named():
    removed = TestCA("DST Root CA X3")
    leaf = removed.intermediate("Some Intermediate").issue_cert("www.example.test")
    f = only(evidence(leaf.chain, anchors=[TestCA().cert]))
    assert f.code is Code.CERTIFI_OUTDATED and "2022.05.18" in f.summary
    assert "certifi 2099.01.01" in f.evidence[-1]
