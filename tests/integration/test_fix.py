"""fix: for every fixable lab scenario the real requests fails without the produced bundle and
succeeds with it; --trust with a wrong fingerprint refuses; unfixable causes get no bundle."""

from __future__ import annotations

import json

import pytest
import requests

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.remedies.fix import fix


def _get(url, verify, proxy=None):
    with requests.Session() as s:
        s.trust_env = False
        try:
            s.get(url, verify=verify, timeout=5, proxies={"https": proxy} if proxy else {})
        except requests.RequestException as exc:
            return str(exc)
    return "OK"


def test_missing_intermediate_bundle_makes_requests_succeed(lab, tmp_path):
    url = lab.endpoint("missing_intermediate").url
    assert "unable to get local issuer certificate" in _get(url, str(lab.ca_file))
    r = fix(url, tmp_path, ca_file=str(lab.ca_file), timeout=5)
    assert r.bundle and r.full_chain
    assert r.proven is True and all(p.ok for p in r.proofs)
    assert {p.client for p in r.proofs} >= {"requests", "httpx"}
    assert _get(url, r.bundle) == "OK"
    # full_chain.pem: leaf then intermediate, no root
    from certdoctor.x509.load import load_file

    chain = load_file(r.full_chain)
    assert len(chain) == 2
    assert chain[0].issuer == chain[1].subject


@pytest.mark.parametrize("sid", ["self_signed", "intercepting_proxy"])
def test_trust_needs_the_confirmed_fingerprint(lab, tmp_path, sid):
    sc = lab.endpoint(sid)
    proxy = lab.proxy_url if sid == "intercepting_proxy" else None
    url = sc.url
    assert _get(url, str(lab.ca_file), proxy) != "OK"
    first = fix(url, tmp_path / "a", ca_file=str(lab.ca_file), proxy=proxy, timeout=5)
    assert first.bundle is None and first.needs_trust and first.exit_code == 1
    assert not (tmp_path / "a" / "ca-bundle.pem").exists()
    wrong = "AA:" * 31 + "AA"
    refused = fix(url, tmp_path / "b", ca_file=str(lab.ca_file), proxy=proxy, timeout=5, trust_fingerprints=[wrong])
    assert refused.bundle is None and any("REFUSED" in s for s in refused.statements)
    ok = fix(url, tmp_path / "c", ca_file=str(lab.ca_file), proxy=proxy, timeout=5,
             trust_fingerprints=[first.needs_trust.replace(":", "").lower()])
    assert ok.proven is True
    assert _get(url, ok.bundle, proxy) == "OK"


@pytest.mark.parametrize("sid", ["wrong_order", "extra_cert"])
def test_corrected_full_chain(lab, tmp_path, sid):
    r = fix(lab.endpoint(sid).url, tmp_path, ca_file=str(lab.ca_file), timeout=5)
    assert r.full_chain
    from certdoctor.x509.load import load_file
    from certdoctor.model import ChainInfo

    info = ChainInfo.analyse(load_file(r.full_chain))
    assert info.in_order and not info.off_path and not info.root_included


@pytest.mark.parametrize("sid", ["expired_leaf", "hostname_mismatch", "rsa1024"])
def test_unfixable_on_client_writes_no_bundle(lab, tmp_path, sid):
    r = fix(lab.endpoint(sid).url, tmp_path, ca_file=str(lab.ca_file), timeout=5)
    assert r.bundle is None and r.exit_code == 1
    assert any("Not fixable on the client" in s for s in r.statements)
    assert not list(tmp_path.glob("ca-bundle.pem"))


def test_fix_cli_json(lab, tmp_path, capsys):
    rc = run(cli, ["fix", lab.endpoint("missing_intermediate").url, "--out", str(tmp_path),
                   "--ca-file", str(lab.ca_file), "--json", "--timeout", "5"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["proven"] is True and out["schema_version"] == 2
    assert any("REQUESTS_CA_BUNDLE" in u for u in out["usage"])


def test_a_confirmed_certificate_cannot_smuggle_another_into_the_bundle(lab, tmp_path):
    """A subject with a newline and PEM armour must not become a second trusted certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
    from support.pki import self_signed

    from certdoctor.lab.pki import IssuedCert
    from certdoctor.x509.load import load_file

    smuggled = lab.pki.root_cert.public_bytes(serialization.Encoding.PEM).decode()
    host = "smuggle.lab.test"
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x\n" + smuggled),
                      x509.NameAttribute(NameOID.COMMON_NAME, host)])
    # a self-signed certificate with nothing but its SAN, as a hand-made one comes
    issued = self_signed(host, subject=name, basic_constraints=False, key_usage=None, ski=False, eku=None)
    cert, key = issued.cert, issued.key
    ep = lab.endpoint("smuggle") if "smuggle" in lab.endpoints else lab.serve("smuggle", IssuedCert(cert, key, (cert,)))
    first = fix(ep.url, tmp_path / "a", timeout=5)  # default trust: certifi
    assert first.needs_trust
    r = fix(ep.url, tmp_path / "b", timeout=5, trust_fingerprints=[first.needs_trust])
    assert r.bundle
    import certifi

    bundled = load_file(r.bundle)
    assert len(bundled) == len(load_file(certifi.where())) + 1  # certifi + exactly the confirmed one
    assert lab.pki.root_cert not in bundled


def test_truststore_is_suggested_only_when_the_os_store_has_the_root(lab, tmp_path):
    from certdoctor.remedies.fix import _os_store_has, usage_lines
    from certdoctor.model import CertInfo
    from certdoctor.remedies.bundle import system_bundle_path
    from certdoctor.x509.pem import openssl_certificates

    lab_root = CertInfo.from_certificate(lab.pki.root_cert)
    assert _os_store_has([lab_root]) is False
    assert not any("truststore" in u for u in usage_lines("/b.pem", os_store_trusts=False))
    path = system_bundle_path()
    if not path:
        pytest.skip("this machine has no OS CA bundle")
    os_root = CertInfo.from_certificate(openssl_certificates(open(path, "rb").read())[0])
    assert _os_store_has([os_root]) is True
    assert any("truststore.inject_into_ssl()" in u for u in usage_lines("/b.pem", os_store_trusts=True))
