"""The pure half of path building: x509.path.build_path from certificates in hand and AIA attempts.

The network half (net.aia.chase, real downloads from the lab) is tested in
tests/integration/test_path.py; here every download is an AIAAttempt value, as stored evidence
holds it, and no socket is opened.
"""

from __future__ import annotations

import pytest

from certdoctor.x509.path import AIAAttempt, build_path, fetched_pool, walk

from support.pki import TestCA, der


@pytest.fixture(scope="module")
def pki():
    root = TestCA("Path Root")
    inter = root.intermediate("Path Intermediate")
    leaf = inter.issue_cert("path.example.test")
    return root, inter, leaf


def _got(cert, url="http://ca.example.test/issuer.der") -> AIAAttempt:
    return AIAAttempt(url, "CN=path.example.test", True, None, False, (cert.subject.rfc4514_string(),), (der(cert),))


def test_a_downloaded_intermediate_completes_the_path(pki):
    root, inter, leaf = pki
    r = build_path([leaf.cert], [root.cert], host="path.example.test", aia_attempts=[_got(inter.cert)])
    assert r.trusted and r.anchor.subject == root.cert.subject.rfc4514_string()
    assert [c.subject for c in r.fetched] == [inter.cert.subject.rfc4514_string()]
    assert len(r.path) == 3 and r.rfc5280_ok is True, r.rfc5280_error
    assert r.aia_attempts[0].url == "http://ca.example.test/issuer.der"


def test_without_the_download_the_intermediate_is_missing(pki):
    root, inter, leaf = pki
    failed = AIAAttempt("http://ca.example.test/issuer.der", "CN=leaf", False, "fetching … failed")
    r = build_path([leaf.cert], [root.cert], host="path.example.test", aia_attempts=[failed])
    assert not r.trusted and r.top.subject == leaf.cert.subject.rfc4514_string()
    assert r.missing_issuer == inter.cert.subject.rfc4514_string()
    assert r.rfc5280_ok is False and not r.fetched


def test_the_presented_chain_wins_over_downloads_and_duplicates_count_once(pki):
    root, inter, leaf = pki
    twice = [_got(inter.cert), _got(inter.cert, "http://mirror.example.test/i.der")]
    assert len(fetched_pool(twice)) == 1
    r = build_path([leaf.cert, inter.cert], [root.cert], aia_attempts=twice)
    assert r.trusted and len(r.path) == 3


def test_unrelated_anchors_change_nothing(pki):
    """Why evidence may carry only the anchors that name a certificate seen."""
    root, inter, leaf = pki
    others = [TestCA(f"Unrelated {i}").cert for i in range(3)]
    full = build_path([leaf.cert, inter.cert], others + [root.cert], host="path.example.test")
    kept = build_path([leaf.cert, inter.cert], [root.cert], host="path.example.test")
    assert (full.trusted, full.path, full.anchor, full.rfc5280_ok) == (kept.trusted, kept.path, kept.anchor,
                                                                       kept.rfc5280_ok)
    # nothing matches: the verdict with one unrelated witness is the verdict of the whole store
    w_full = build_path([leaf.cert, inter.cert], others, host="path.example.test")
    w_one = build_path([leaf.cert, inter.cert], others[:1], host="path.example.test")
    assert (w_full.trusted, w_full.rfc5280_ok, w_full.rfc5280_error) == (w_one.trusted, w_one.rfc5280_ok,
                                                                          w_one.rfc5280_error)
    assert w_one.rfc5280_ok is False and "exhausted" in w_one.rfc5280_error


def test_walk_says_where_it_is_stuck(pki):
    root, inter, leaf = pki
    stuck = walk([leaf.cert], [root.cert])
    assert stuck.anchor is None and stuck.stuck is leaf.cert
    assert stuck.missing_issuer == inter.cert.subject.rfc4514_string()
    done = walk([leaf.cert], [root.cert], [inter.cert])
    assert done.stuck is None and done.anchor is root.cert and len(done.path) == 3
    alone = walk([root.cert], [])  # a self-signed certificate the store does not hold: nothing to fetch
    assert alone.stuck is None and alone.anchor is None


def test_odd_attempts_are_ignored_not_fatal(pki):
    root, inter, leaf = pki
    junk = AIAAttempt("http://x.test/", "CN=leaf", True, None, False, ("?",), (b"\x30\x03junk",))
    assert junk.certificates() == ()
    r = build_path([leaf.cert], [root.cert], aia_attempts=[junk])
    assert not r.trusted and not r.fetched
    with pytest.raises(ValueError):
        build_path([], [root.cert])


def _issuing(subject_ca: "TestCA", **kw):
    """A certificate under ``subject_ca``'s name and key, shaped by ``kw`` (build_cert's keywords),
    issued by its parent: the same issuer as the real one, with other extensions."""
    from support.pki import build_cert

    parent = subject_ca.parent
    return build_cert(subject_ca.key.public_key(), parent.key, subject_ca.name, parent.name,
                      authority_key=parent.key, **kw)


def test_an_issuer_that_is_not_a_ca_is_refused(pki):
    """OpenSSL's check_ca: basicConstraints CA:FALSE, or a keyUsage without keyCertSign, cannot issue."""
    from cryptography import x509

    from certdoctor.x509.path import can_issue

    root, inter, leaf = pki
    end_entity = _issuing(inter, ca=False)  # same name and key as the intermediate, CA:FALSE
    assert not can_issue(end_entity) and can_issue(inter.cert) and can_issue(root.cert)
    r = build_path([leaf.cert, end_entity], [root.cert], host="path.example.test")
    assert not r.trusted and r.top.fingerprint_sha256 == r.path[0].fingerprint_sha256
    assert [c.subject for c in r.not_ca] == [inter.cert.subject.rfc4514_string()]
    assert r.missing_issuer == inter.cert.subject.rfc4514_string()
    # the same refusal when the non-CA comes from an AIA download or from the store
    assert not build_path([leaf.cert], [root.cert], aia_attempts=[_got(end_entity)]).trusted
    assert not build_path([leaf.cert], [end_entity]).trusted
    no_sign = _issuing(inter, ca=True, key_usage=x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=True, encipher_only=False, decipher_only=False))
    assert not can_issue(no_sign)
    assert not build_path([leaf.cert, no_sign], [root.cert]).trusted
    # a real CA next to the refused one is taken
    r = build_path([leaf.cert, end_entity, inter.cert], [root.cert])
    assert r.trusted and len(r.path) == 3


def test_what_openssl_still_tolerates_as_an_issuer(pki):
    """No basicConstraints: a keyUsage with keyCertSign, or a v1 self-signed root (OpenSSL's check_ca 3 and 4),
    as the anchor only: below it OpenSSL's check_chain_extensions wants check_ca's plain 1 ('invalid CA
    certificate', served in test_openssl_corpus inter_without_bc), so the path builder refuses it there."""
    from certdoctor.x509.path import can_issue

    root, inter, leaf = pki
    no_bc = _issuing(inter, ca=True, basic_constraints=False)
    assert can_issue(no_bc) and not can_issue(no_bc, intermediate=True)
    refused = build_path([leaf.cert, no_bc], [root.cert])
    from certdoctor.model import fingerprint_sha256

    assert not refused.trusted and [c.fingerprint_sha256 for c in refused.not_ca] == [fingerprint_sha256(no_bc)]
    assert not can_issue(_issuing(inter, ca=True, basic_constraints=False, key_usage=None))
    v1_root = TestCA("V1 Root", v1=True)
    assert can_issue(v1_root.cert)
    v1_leaf = v1_root.issue_cert("v1.example.test")
    assert build_path([v1_leaf.cert], [v1_root.cert]).trusted
