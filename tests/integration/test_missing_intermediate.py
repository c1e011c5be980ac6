"""Missing intermediates against real servers: the lab (AIA over its HTTP server, answers replaced
with ``lab.add_route``) and chains made with the ``openssl`` command line, served by
``openssl s_server``. Each time certdoctor's verdict is the real requests outcome and the code is
CHAIN_INCOMPLETE; a stale AIA cache never changes the diagnosis; ``fix`` builds the bundle that
the real client accepts."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID

from support.clients import real_requests as _real_requests

from certdoctor.diagnose import diagnose
from certdoctor.model import Code, fingerprint_sha256
from certdoctor.net.fetch import FetchCache


def _aia(url: str):
    return [(x509.AuthorityInformationAccess([x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url))]), False)]


def _serving(lab, path: str):
    """A route on the lab's HTTP server answering what ``state['body']`` holds (changeable)."""
    state = {"body": b"", "calls": 0}

    def handler(method, p, body):
        state["calls"] += 1
        return 200, {"Content-Type": "application/pkix-cert"}, state["body"]

    lab.add_route(path, handler)
    return lab.http_base + path, state


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def test_a_stale_aia_cache_never_changes_the_diagnosis(lab, tmp_path):
    """The CA re-keys its intermediate (same name, new key) behind the same AIA URL: the cached
    old certificate did not issue the new leaf, so it is fetched again."""
    pki = lab.pki
    url, state = _serving(lab, "/test-aia/rekeyed.der")
    old = pki.make_intermediate("Rekeyed Intermediate", pki.root, label="rekeyed-old")
    new = pki.make_intermediate("Rekeyed Intermediate", pki.root, label="rekeyed-new")
    assert old.cert.subject == new.cert.subject and old.cert.public_key() != new.cert.public_key()
    leaf_old = pki.issue_leaf(["rekeyed-old.lab.test"], issuer=old, aia=False, crl=False, extra_extensions=_aia(url))
    leaf_new = pki.issue_leaf(["rekeyed-new.lab.test"], issuer=new, aia=False, crl=False, extra_extensions=_aia(url))
    ep_old = lab.serve("rekeyed_old", leaf_old, chain=(leaf_old.cert,))
    ep_new = lab.serve("rekeyed_new", leaf_new, chain=(leaf_new.cert,))
    cache = FetchCache(tmp_path / "cache")

    state["body"] = _der(old.cert)
    first = diagnose(ep_old.url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    assert [f.code for f in first.errors] == [Code.CHAIN_INCOMPLETE] and first.path.trusted
    assert cache.get(url) == _der(old.cert)

    state["body"] = _der(new.cert)  # re-keyed behind the same URL; the cache still holds the old one
    calls = state["calls"]
    d = diagnose(ep_new.url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    fresh = diagnose(ep_new.url, ca_file=str(lab.ca_file), timeout=5, cache=None)
    assert state["calls"] == calls + 2  # the stale entry was refused and fetched again (and once uncached)
    assert [(f.code, f.summary) for f in d.findings] == [(f.code, f.summary) for f in fresh.findings]
    assert [f.code for f in d.errors] == [Code.CHAIN_INCOMPLETE]
    assert d.path.trusted and [c.fingerprint_sha256 for c in d.path.fetched] == [fingerprint_sha256(new.cert)]
    assert not d.path.aia_attempts[0].from_cache
    assert cache.get(url) == _der(new.cert)  # the cache now holds the answer that is true
    real_ok, real_err = _real_requests(ep_new.url, str(lab.ca_file))
    assert d.verifies is real_ok is False and "unable to get local issuer certificate" in real_err
    # and the fresh entry is used again
    again = diagnose(ep_new.url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    assert again.path.trusted and again.path.aia_attempts[0].from_cache


# --------------------------------------------------------------------------- the lab: fix

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_leaf_without_working_aia(lab, name: str, aia_url: str | None):
    """A leaf under the lab's intermediate whose AIA is ``aia_url`` (``None``: no AIA), served alone."""
    import datetime as dt

    from support.pki import TestCA

    from certdoctor.lab.pki import IssuedCert

    inter = TestCA.existing(lab.pki.intermediate_cert, lab.pki.intermediate_key, aia_url=aia_url, ocsp_url=None,
                            crl_url=None)
    host = f"{name.replace('_', '-')}.lab.test"
    issued = inter.issue_cert(host, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))
    if name in lab.endpoints:
        return lab.endpoint(name)
    return lab.serve(name, IssuedCert(issued.cert, issued.key, (issued.cert,)))


def test_aia_absent_failing_or_off_is_still_a_missing_intermediate_and_fix_takes_one(lab, tmp_path):
    from certdoctor.remedies.fix import fix

    inter_file = tmp_path / "intermediate.pem"
    inter_file.write_bytes(lab.pki.intermediate_cert.public_bytes(serialization.Encoding.PEM))
    cases = {
        "no_aia_leaf": (None, "names no 'CA Issuers' URL", {}),
        "aia_404_leaf": (lab.http_base + "/test-aia/nothing-here.der", "HTTP 404", {}),
        "aia_refused_leaf": (f"http://127.0.0.1:{_free_port()}/ca.der", "failed", {}),
        "aia_off_leaf": (lab.pki.aia_url, "--no-aia", {"aia": False}),
    }
    for name, (url, words, kw) in cases.items():
        ep = _lab_leaf_without_working_aia(lab, name, url)
        real_ok, real_err = _real_requests(ep.url, str(lab.ca_file))
        d = diagnose(ep.url, ca_file=str(lab.ca_file), timeout=5, **kw)
        assert d.verifies is real_ok is False and "unable to get local issuer certificate" in real_err
        assert d.primary.code is Code.CHAIN_INCOMPLETE and [f.code for f in d.errors] == [Code.CHAIN_INCOMPLETE], name
        f = d.primary
        assert any(e.startswith("missing issuer: " + lab.pki.intermediate_cert.subject.rfc4514_string())
                   for e in f.evidence), f.evidence
        assert any(words in e for e in f.evidence if e.startswith("AIA")), (name, f.evidence)
        assert "--intermediate FILE" in f.fix
    # fix without the intermediate: nothing to bundle, and it says what to get
    ep = lab.endpoint("aia_404_leaf")
    r = fix(ep.url, tmp_path / "a", ca_file=str(lab.ca_file), timeout=5)
    assert r.bundle is None and r.exit_code == 1
    assert any("--intermediate FILE" in s and "HTTP 404" in s for s in r.statements), r.statements
    # with the intermediate the user obtained: the bundle, proven by the real clients
    r = fix(ep.url, tmp_path / "b", ca_file=str(lab.ca_file), timeout=5, intermediates=[str(inter_file)])
    assert r.bundle and r.proven is True and all(p.ok for p in r.proofs)
    assert _real_requests(ep.url, r.bundle) == (True, None)
    assert r.full_chain and len(open(r.full_chain).read().split("BEGIN CERTIFICATE")) == 3  # leaf + intermediate


def test_missing_intermediate_under_an_untrusted_root_is_both_and_one_trust_fixes_it(lab, tmp_path):
    """Intermediate and private root both reachable over AIA, the root not trusted."""
    from support.pki import TestCA

    from certdoctor.lab.pki import IssuedCert
    from certdoctor.remedies.fix import fix

    root_url, root_state = _serving(lab, "/test-aia/private-root.der")
    inter_url, inter_state = _serving(lab, "/test-aia/private-inter.der")
    root = TestCA("Private Root", aia_url=root_url, ocsp_url=None, crl_url=None)
    inter = root.intermediate("Private Intermediate", aia_url=inter_url, ocsp_url=None, crl_url=None)
    root_state["body"], inter_state["body"] = _der(root.cert), _der(inter.cert)
    issued = inter.issue_cert("private-both.lab.test")
    ep = lab.serve("private_both", IssuedCert(issued.cert, issued.key, (issued.cert,)))

    real_ok, _ = _real_requests(ep.url, str(lab.ca_file))
    d = diagnose(ep.url, ca_file=str(lab.ca_file), timeout=5)
    assert d.verifies is real_ok is False
    assert [f.code for f in d.errors] == [Code.CHAIN_INCOMPLETE, Code.UNTRUSTED_ROOT]
    first = fix(ep.url, tmp_path / "a", ca_file=str(lab.ca_file), timeout=5)
    root_fp = fingerprint_sha256(root.cert)
    assert first.bundle is None and first.needs_trust == root_fp
    assert not (tmp_path / "a" / "ca-bundle.pem").exists()
    r = fix(ep.url, tmp_path / "b", ca_file=str(lab.ca_file), timeout=5, trust_fingerprints=[root_fp])
    assert r.proven is True and all(p.ok for p in r.proofs), r.proofs
    from certdoctor.x509.load import load_file

    bundled = load_file(r.bundle)
    assert bundled == (lab.pki.root_cert, inter.cert, root.cert)  # the trust, the intermediate, the root
    assert _real_requests(ep.url, r.bundle) == (True, None)


def test_an_end_entity_certificate_never_goes_into_a_bundle(lab, tmp_path):
    """The server sends, under the intermediate's name, an end-entity certificate (CA:FALSE) that
    signed the leaf: OpenSSL refuses it, the path builder refuses it, fix never bundles it."""
    from support.pki import TestCA, build_cert, make_key

    from certdoctor.lab.pki import IssuedCert
    from certdoctor.remedies.fix import fix
    from certdoctor.x509.load import load_file

    key = make_key("ec")
    ee = build_cert(key.public_key(), lab.pki.root_key, x509.Name.from_rfc4514_string("CN=Not A CA,O=certdoctor lab"),
                    lab.pki.root_cert.subject, ca=False, authority_key=lab.pki.root_key)
    signer = TestCA.existing(ee, key, aia_url=None, ocsp_url=None, crl_url=None)
    issued = signer.issue_cert("under-ee.lab.test")
    ep = lab.serve("under_ee", IssuedCert(issued.cert, issued.key, (issued.cert, ee)))
    real_ok, real_err = _real_requests(ep.url, str(lab.ca_file))
    d = diagnose(ep.url, ca_file=str(lab.ca_file), timeout=5)
    assert d.verifies is real_ok is False
    assert d.primary.code is Code.CHAIN_INCOMPLETE and "not a CA" in d.primary.summary
    ee_file = tmp_path / "ee.pem"
    ee_file.write_bytes(ee.public_bytes(serialization.Encoding.PEM))
    r = fix(ep.url, tmp_path / "a", ca_file=str(lab.ca_file), timeout=5, intermediates=[str(ee_file)])
    assert r.bundle is None and r.exit_code == 1
    assert any("None of the certificates given with --intermediate" in s for s in r.statements), r.statements
    assert not list((tmp_path / "a").glob("ca-bundle.pem"))
    for bundle in (tmp_path / "a").glob("*.pem"):
        assert ee not in load_file(bundle)


def test_fix_cli_takes_an_intermediate(lab, tmp_path, capsys):
    import json

    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    inter_file = tmp_path / "intermediate.der"
    inter_file.write_bytes(_der(lab.pki.intermediate_cert))
    ep = _lab_leaf_without_working_aia(lab, "no_aia_leaf", None)
    rc = run(cli, ["fix", ep.url, "--out", str(tmp_path / "out"), "--ca-file", str(lab.ca_file),
                   "--intermediate", str(inter_file), "--json", "--timeout", "5"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["proven"] is True and out["bundle"]


def test_an_aia_answer_holding_an_end_entity_certificate_does_not_stop_the_search(lab):
    """First caIssuers URL: a CA:FALSE certificate with the intermediate's name and key (it
    verifies the leaf's signature); second URL: the real intermediate. The path takes the CA."""
    from support.pki import build_cert, make_key, make_name

    from certdoctor.net.aia import build_path

    pki = lab.pki
    first, s1 = _serving(lab, "/test-aia/end-entity-first.der")
    second, s2 = _serving(lab, "/test-aia/real-second.der")
    s1["body"] = _der(build_cert(pki.intermediate_key.public_key(), pki.root_key, pki.intermediate_cert.subject,
                                 pki.root_cert.subject, ca=False, authority_key=pki.root_key))
    s2["body"] = _der(pki.intermediate_cert)
    aia = x509.AuthorityInformationAccess([
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u))
        for u in (first, second)])
    leaf = build_cert(make_key("ec").public_key(), pki.intermediate_key, make_name("two-aia.lab.test"),
                      pki.intermediate_cert.subject, ca=False, sans=["two-aia.lab.test"],
                      authority_key=pki.intermediate_key, extensions=[(aia, False)])
    r = build_path([leaf], [pki.root_cert], host="two-aia.lab.test")
    assert [a.url for a in r.aia_attempts] == [first, second]
    assert r.trusted and r.path[1].fingerprint_sha256 == fingerprint_sha256(pki.intermediate_cert)
