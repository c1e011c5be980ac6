"""checks.trust: does the path reach the store, and if not, why (from evidence, no socket)."""

from __future__ import annotations

import pytest

from certdoctor.checks import trust
from certdoctor.checks.context import derive
from certdoctor.model import Actor, CertInfo, Code, Severity

from support.evidence import canary, downloaded, evidence
from support.pki import TestCA, issue, make_key, make_name
from support.removed import dst_root, under_removed_root

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


def test_a_root_removed_from_certifi_is_known_by_its_key():
    leaf, inter = under_removed_root()
    f = only(evidence([leaf, inter], anchors=[TestCA().cert]))
    assert f.code is Code.CERTIFI_OUTDATED and "'DST Root CA X3'" in f.summary and "2022.05.18" in f.summary
    assert "certifi 2099.01.01" in f.evidence[-1]
    assert any(e.startswith("known by key: its authority key identifier C4:A7:B1:A4") for e in f.evidence)
    # the real root itself (self-signed): its public key is in the table
    info = CertInfo.from_certificate(dst_root())
    root, how = trust.certifi_removed(info)
    assert root.name == "DST Root CA X3" and root.removed_in == "2022.05.18" and "SPKI SHA-256" in how


@pytest.mark.parametrize("name", ["DST Root CA X3", "DigiCert Global Root CA", "GlobalSign Root CA"])
def test_a_private_root_with_a_removed_roots_name_is_just_untrusted(name):
    """By key, never by name: a self-made root called like a removed one is a private root."""
    fake = TestCA(make_name(name, org=None))
    leaf = fake.intermediate("Some Intermediate").issue_cert("www.example.test")
    f = only(evidence(leaf.chain, anchors=[TestCA().cert]))
    assert f.code is Code.UNTRUSTED_ROOT, f
    assert trust.certifi_removed(CertInfo.from_certificate(fake.cert)) is None
    # sent without its root: the intermediate names it by name only (its AKI is the fake key's)
    f = only(evidence(leaf.chain[:-1], anchors=[TestCA().cert]))
    assert f.code is Code.UNTRUSTED_ROOT


def test_every_removed_root_is_keyed_by_a_spki_hash():
    for spki, root in trust.CERTIFI_REMOVED.items():
        assert len(spki) == 64 and int(spki, 16) >= 0 and spki == spki.lower(), root
        assert root.ski is None or len(root.ski) == 59, root  # 20 bytes, AA:BB form
        assert root.removed_in[:4].isdigit()
    assert len({r.name for r in trust.CERTIFI_REMOVED.values()}) == len(trust.CERTIFI_REMOVED)


# --------------------------------------------------------------------------- missing intermediates, always

def _no_aia(ev):
    from dataclasses import replace

    return replace(ev, options=replace(ev.options, aia=False))


def test_a_missing_intermediate_names_its_issuer_and_why_aia_did_not_help(pki):
    root, inter, leaf = pki
    aki = CertInfo.from_certificate(leaf.cert).aki
    issuer = inter.cert.subject.rfc4514_string()
    unrelated = TestCA("Unrelated").cert
    for ev, why, aia_line in (
        (evidence([leaf.cert], anchors=[root.cert], aia=[downloaded()]),
         "could not complete the chain from the AIA URL either",
         "AIA http://ca.example.test/issuer.der: fetching http://ca.example.test/issuer.der failed: connection refused"),
        (_no_aia(evidence([leaf.cert], anchors=[root.cert])),
         "AIA was turned off (--no-aia)",
         "AIA http://ca.example.test/issuer.der: not downloaded (AIA was turned off: --no-aia)"),
        (evidence([leaf.cert], anchors=[root.cert]),  # AIA on, but nothing tried: the budget ran out
         "could not complete the chain from the AIA URL either",
         "AIA http://ca.example.test/issuer.der: not tried (the AIA time budget ran out first)"),
        (evidence([leaf.cert], anchors=[root.cert], aia=[downloaded(unrelated)]),
         "could not complete the chain from the AIA URL either",
         f"AIA http://ca.example.test/issuer.der: ok, but what it holds ({unrelated.subject.rfc4514_string()}) did "
         "not issue 'www.example.test'"),
    ):
        f = only(ev)
        assert f.code is Code.CHAIN_INCOMPLETE and f.who is Actor.SERVER_OPERATOR and f.cert_index == 0
        assert why in f.explanation
        assert f"missing issuer: {issuer} (authority key identifier {aki}): neither sent nor in your store" in f.evidence
        assert aia_line in f.evidence, f.evidence
        assert "serve leaf + intermediates" in f.fix and "--intermediate FILE" in f.fix


def test_a_missing_intermediate_with_extras_sent_is_still_a_missing_intermediate(pki):
    root, inter, leaf = pki
    f = only(evidence([leaf.cert, TestCA("Extra").cert], anchors=[root.cert], aia=[downloaded()]))
    assert f.code is Code.CHAIN_INCOMPLETE


def test_an_end_entity_certificate_sent_as_the_issuer_is_refused_and_named(pki):
    from support.pki import build_cert

    root, inter, leaf = pki
    end_entity = build_cert(inter.key.public_key(), root.key, inter.name, root.name, ca=False, authority_key=root.key)
    f = only(evidence([leaf.cert, end_entity], anchors=[root.cert], aia=[downloaded()]))
    assert f.code is Code.CHAIN_INCOMPLETE and "not a CA" in f.summary
    assert any(e.startswith(f"refused as issuer: {inter.cert.subject.rfc4514_string()}")
               and "is not a CA (keyUsage without keyCertSign)" in e for e in f.evidence), f.evidence


def test_missing_intermediate_and_untrusted_root_are_both_reported(pki):
    """Both reachable over AIA, the root not in the store: two causes, one fix (--trust ROOT)."""
    root, inter, leaf = pki
    ev = evidence([leaf.cert], anchors=[TestCA("Elsewhere").cert],
                  aia=[downloaded(inter.cert), downloaded(root.cert, url="http://ca.example.test/root.der")])
    found = trust.check(derive(ev))
    assert [f.code for f in found] == [Code.CHAIN_INCOMPLETE, Code.UNTRUSTED_ROOT], found
    incomplete, untrusted = found
    assert "still ends at a root that is not in" in incomplete.explanation
    assert "--trust ROOT_FINGERPRINT" in incomplete.fix and "ONE bundle" in incomplete.fix
    assert f"root SHA-256 = {CertInfo.from_certificate(root.cert).fingerprint_sha256}" in untrusted.evidence


def test_a_sent_intermediate_whose_issuer_is_unknown_names_that_issuer(pki):
    root, inter, leaf = pki
    f = only(evidence([leaf.cert, inter.cert], anchors=[TestCA("Elsewhere").cert], aia=[downloaded()]))
    assert f.code is Code.UNTRUSTED_ROOT
    rk = CertInfo.from_certificate(inter.cert).aki
    assert (f"missing issuer: {root.cert.subject.rfc4514_string()} (authority key identifier {rk}): neither sent "
            "nor in your store") in f.evidence
    assert any(e.startswith("AIA http://ca.example.test/issuer.der: fetching") for e in f.evidence)
    assert "--intermediate FILE" in f.explanation  # should the missing one be an intermediate after all


def test_the_text_output_shows_the_missing_issuer_and_the_failed_download(pki):
    import io

    from rich.console import Console

    from certdoctor.diagnose import judge
    from certdoctor.render.diagnose import render_diagnosis

    root, inter, leaf = pki
    d = judge(evidence([leaf.cert], anchors=[root.cert], aia=[downloaded()]))
    out = io.StringIO()
    render_diagnosis(d, Console(file=out, width=300, color_system=None))
    text = out.getvalue()
    assert "CHAIN_INCOMPLETE" in text
    assert f"evidence: missing issuer: {inter.cert.subject.rfc4514_string()}" in text
    assert "evidence: AIA http://ca.example.test/issuer.der: fetching http://ca.example.test/issuer.der failed" in text


def test_a_store_root_of_the_issuers_name_with_another_key_is_named(pki):
    """The CA re-keyed (or another CA bears the name): the store's certificate is not the issuer."""
    root, inter, leaf = pki
    rekeyed = TestCA(root.name)  # same name, new key
    f = only(evidence([leaf.cert, inter.cert], anchors=[rekeyed.cert], aia=[downloaded()]))
    assert f.code is Code.UNTRUSTED_ROOT
    fp = CertInfo.from_certificate(rekeyed.cert).fingerprint_sha256
    assert any(e.startswith(f"your store holds {root.cert.subject.rfc4514_string()!r} (SHA-256 {fp})")
               and "another key" in e for e in f.evidence), f.evidence
    # the same for a leaf sent alone whose intermediate the store holds with another key
    other = TestCA(inter.name)
    f = only(evidence([leaf.cert], anchors=[root.cert, other.cert], aia=[downloaded()]))
    assert f.code is Code.CHAIN_INCOMPLETE and any("another key" in e for e in f.evidence)


# --------------------------------------------------------------------------- interception proven offline

def _probe(host, chain=(), error=None, *, via_proxy=True, same_target=False, port=443):
    from certdoctor.evidence import CanaryProbe
    from support.pki import der

    return CanaryProbe(host, port, tuple(der(c) for c in chain), error, via_proxy=via_proxy, same_target=same_target)


def _direct(chain=(), error=None):
    return _probe("www.example.test", chain, error, via_proxy=False, same_target=True)


def _fresh(ca, name="www.example.test", *, minted=None, lifetime=None):
    import datetime as dt

    from support.pki import NOW

    start = NOW - (minted if minted is not None else dt.timedelta(minutes=3))
    return ca.issue_cert(name, not_before=start, not_after=start + (lifetime or dt.timedelta(days=1)))


@pytest.fixture(scope="module")
def corp():
    """A re-signing proxy's root, the site's real PKI, and the site's leaf as each presents it."""
    proxy_root = TestCA("Corp Inspection Root")
    real_root = TestCA("Real Site Root")
    real_inter = real_root.intermediate("Real Site CA")
    site = real_inter.issue_cert("www.example.test")
    resigned = proxy_root.issue_cert("www.example.test")
    return proxy_root, real_root, real_inter, site, resigned


def test_the_direct_connection_proves_the_proxy_re_signs(corp):
    proxy_root, real_root, real_inter, site, resigned = corp
    ev = evidence([resigned.cert, proxy_root.cert], anchors=[real_root.cert], proxy=PROXY,
                  canaries=[_direct(site.chain[:-1]), _probe("pypi.org", error="502 Bad Gateway")])
    f = only(ev)
    assert f.code is Code.INTERCEPTING_PROXY and f.who is Actor.NETWORK_ADMIN and f.severity is Severity.ERROR
    assert ("directly (without the proxy), www.example.test:443 presents a leaf signed by another key than the one "
            "through the proxy: the proxy re-signs this site") in f.evidence
    via = [e for e in f.evidence if e.startswith("through the proxy: [")]
    direct = [e for e in f.evidence if e.startswith("directly: [")]
    assert len(via) == 2 and len(direct) == 2
    info = CertInfo.from_certificate(resigned.cert)
    assert via[0] == (f"through the proxy: [0] {info.subject} — issued by {info.issuer} — SPKI sha256/{info.spki_pin}"
                      f" — SHA-256 {info.fingerprint_sha256}")
    assert "issued by CN=Real Site CA" in direct[0] and "issued by CN=Real Site Root" in direct[1]
    assert f"proxy root SHA-256 = {CertInfo.from_certificate(proxy_root.cert).fingerprint_sha256}" in f.evidence
    assert "--trust FINGERPRINT" in f.fix and "IT" in f.fix and "for this client only" in f.fix


def test_the_same_chain_both_ways_is_not_interception(corp):
    _, _, real_inter, site, _ = corp
    private = TestCA("Private Root")
    for seen_directly in (site.chain[:-1],  # byte for byte the same chain
                          real_inter.issue_cert("www.example.test").chain[:-1],  # another key, same CA (a second node)
                          [real_inter.issue_cert("www.example.test").cert]):  # same, and no intermediate sent
        f = only(evidence(site.chain[:-1], anchors=[private.cert], proxy=PROXY, canaries=[_direct(seen_directly)]))
        assert f.code is Code.UNTRUSTED_ROOT
        assert f.evidence[-1] == ("directly (without the proxy), www.example.test:443 presents a leaf from the same "
                                  "signer: the proxy passes the site's own chain through, it does not re-sign it")


def test_a_direct_connection_that_fails_proves_nothing(corp):
    proxy_root, real_root, _, _, resigned = corp
    for direct in (_direct(error="connection refused"), _direct()):
        f = only(evidence([resigned.cert, proxy_root.cert], anchors=[real_root.cert], proxy=PROXY, canaries=[direct]))
        assert f.code is Code.UNTRUSTED_ROOT
        assert "proves nothing either way" in f.evidence[-1]


def test_a_name_alike_forgery_is_told_by_its_signature(corp):
    """A proxy leaf under the real CA's *name* (and its key identifier), signed by the proxy's key:
    the direct chain carries the real CA, whose key did not sign it."""
    _, real_root, real_inter, site, _ = corp
    forged = real_inter.issue_cert("www.example.test", sign_with=make_key())
    f = only(evidence([forged.cert, real_inter.cert], anchors=[TestCA().cert], proxy=PROXY,
                      canaries=[_direct(site.chain[:-1])]))
    assert f.code is Code.INTERCEPTING_PROXY, f.evidence
    assert trust.same_signer(site.chain[:-1], site.chain[:-1]) and not trust.same_signer([forged.cert],
                                                                                         site.chain[:-1])


def test_same_signer_without_issuers_compares_name_and_key_identifier():
    a, b = TestCA("Twin CA"), TestCA("Twin CA")  # one name, two keys
    assert trust.same_signer([a.issue_cert("x.test").cert], [a.issue_cert("y.test").cert])
    assert not trust.same_signer([a.issue_cert("x.test").cert], [b.issue_cert("x.test").cert])
    assert not trust.same_signer([a.issue_cert("x.test").cert], [TestCA("Other").issue_cert("x.test").cert])
    assert not trust.same_signer([], [a.issue_cert("x.test").cert])


def test_a_direct_probe_without_a_proxy_is_no_evidence(corp):
    proxy_root, real_root, _, site, resigned = corp
    f = only(evidence([resigned.cert, proxy_root.cert], anchors=[real_root.cert], canaries=[_direct(site.chain[:-1])]))
    assert f.code is Code.UNTRUSTED_ROOT and not any("directly" in e for e in f.evidence)


def test_transparent_interception_fresh_short_lived_and_signing_a_canary():
    box = TestCA("Inspection Root")
    leaf, other = _fresh(box), _fresh(box, "pypi.org")
    ev = evidence([leaf.cert, box.cert], anchors=[TestCA().cert],
                  canaries=[_probe("127.0.0.1", error="connection refused", via_proxy=False, port=9),
                            _probe("pypi.org", [other.cert, box.cert], via_proxy=False)])
    f = only(ev)
    assert f.code is Code.INTERCEPTING_PROXY and f.who is Actor.NETWORK_ADMIN
    assert "transparent" in f.summary and "no proxy is configured" in f.summary
    assert ("no proxy is configured, yet the leaf was minted 3 min ago and is valid for 24 h: minted on the fly"
            in f.evidence)
    assert ("pypi.org:443 (another host, reached directly) presents a leaf signed by the same key: a device on the "
            "network re-signs every site") in f.evidence
    assert any(e.startswith("pypi.org:443: [0] CN=pypi.org") for e in f.evidence)
    assert any(e.startswith("www.example.test: [0] CN=www.example.test") for e in f.evidence)
    assert not any("connected through the proxy" in e for e in f.evidence)
    assert "--trust FINGERPRINT" in f.fix


def test_transparent_interception_needs_every_part():
    import datetime as dt

    from support.pki import NOW

    box = TestCA("Inspection Root")
    leaf, other = _fresh(box), _fresh(box, "pypi.org")
    good = [_probe("pypi.org", [other.cert, box.cert], via_proxy=False)]
    cases = {
        "minted yesterday": ([_fresh(box, minted=dt.timedelta(days=1)).cert, box.cert], good),
        "a long lifetime": ([_fresh(box, lifetime=dt.timedelta(days=90)).cert, box.cert], good),
        "the canary is the same certificate": ([leaf.cert, box.cert],
                                               [_probe("127.0.0.1", [leaf.cert, box.cert], via_proxy=False)]),
        "the canary has a long-lived leaf": ([leaf.cert, box.cert], [_probe(
            "pypi.org", [_fresh(box, "pypi.org", lifetime=dt.timedelta(days=365)).cert], via_proxy=False)]),
        "another key signs the canary": ([leaf.cert, box.cert], [_probe(
            "pypi.org", [_fresh(TestCA("Inspection Root"), "pypi.org").cert], via_proxy=False)]),
        "the canary went through a proxy that is not configured": ([leaf.cert, box.cert], [_probe(
            "pypi.org", [other.cert, box.cert])]),
        "the canary failed": ([leaf.cert, box.cert], [_probe("pypi.org", error="timed out", via_proxy=False)]),
        "no canary": ([leaf.cert, box.cert], []),
    }
    for why, (chain, canaries) in cases.items():
        f = only(evidence(chain, anchors=[TestCA().cert], canaries=canaries))
        assert f.code is Code.UNTRUSTED_ROOT, why
    # judged again two days later, the leaf is no longer fresh: not proven (any more)
    later = trust.check(derive(evidence([leaf.cert, box.cert], anchors=[TestCA().cert], canaries=good),
                               NOW + dt.timedelta(days=2)))
    assert Code.INTERCEPTING_PROXY not in {f.code for f in later}


def test_a_chain_that_verifies_is_never_judged_intercepted(corp):
    """Every proof at once, for a chain the store trusts: nothing is said (a public CA is no proxy)."""
    box = TestCA("Inspection Root")
    leaf, other = _fresh(box), _fresh(box, "pypi.org")
    _, _, _, site, _ = corp
    for proxy in (PROXY, None):
        ev = evidence([leaf.cert, box.cert], anchors=[box.cert], proxy=proxy,
                      canaries=[_direct(site.chain[:-1]), _probe("pypi.org", [other.cert, box.cert], via_proxy=False),
                                _probe("pypi.org", [other.cert, box.cert])])
        assert trust.check(derive(ev)) == []


def test_interception_evidence_survives_pickling(corp):
    import pickle

    from certdoctor.checks import run

    proxy_root, real_root, _, site, resigned = corp
    ev = evidence([resigned.cert, proxy_root.cert], anchors=[real_root.cert], proxy=PROXY,
                  canaries=[_direct(site.chain[:-1]), _probe("pypi.org", error="502")])
    back = pickle.loads(pickle.dumps(ev))
    assert back == ev and back.canary[0].same_target and not back.canary[0].via_proxy
    assert [f.evidence for f in run(back)] == [f.evidence for f in run(ev)]
    assert Code.INTERCEPTING_PROXY in {f.code for f in run(back)}
