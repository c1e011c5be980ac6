"""Issue 10 item 2: no request to where a certificate points unless that is safe. Real servers on
127.0.0.1: a target reached through a CONNECT proxy (whose address certdoctor does not see, so it
counts as public) names AIA/CRL/OCSP on 127.0.0.1; a recording HTTP server shows what was asked."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization

from support.cli import run_cli_captured
from support.pki import TestCA
from support.servers import connect_proxy, http_server, tcp_server, tls_server

from certdoctor.diagnose import diagnose
from certdoctor.net.resolve import allowing_private_fetch


def _pki(base: str, tmp_path, aia_path="/aia"):
    root = TestCA("Private Fetch Root", aia_url=base + aia_path, crl_url=None, ocsp_url=None)
    inter = root.intermediate("Private Fetch Intermediate", aia_url=base + aia_path, crl_url=base + "/crl",
                              ocsp_url=base + "/ocsp")
    leaf = inter.issue_cert("127.0.0.1")
    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(root.cert_pem())
    return root, inter, leaf, ca_file


def _routes(inter=None):
    der = inter.cert.public_bytes(serialization.Encoding.DER) if inter is not None else b""
    return {"/aia": der, "/crl": b"not a crl", "/ocsp": b"not ocsp",
            "/redirect": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")}


def test_a_proxied_target_cannot_make_certdoctor_fetch_loopback(tmp_path, capsys):
    with http_server({}) as rec, tcp_server(connect_proxy()) as proxy:
        _, inter, leaf, ca_file = _pki(rec.base, tmp_path)
        rec.routes.update(_routes(inter))
        with tls_server(leaf.cert, leaf.key) as srv:  # the leaf alone: the intermediate is on 127.0.0.1
            url = f"https://127.0.0.1:{srv.port}/"
            code, out, _ = run_cli_captured(["diagnose", url, "--ca-file", str(ca_file), "--proxy", proxy.base,
                                             "--no-cache", "--json", "--timeout", "5"], capsys)
            assert sum(rec.hits.values()) == 0, rec.hits  # nothing was asked
            doc = json.loads(out)
            errors = [a["error"] for a in doc["path"]["aia_attempts"]]
            assert errors and all("refused: internal address 127.0.0.1" in e and "--allow-private-fetch" in e
                                  for e in errors), errors

            # the same run with the flag: the intermediate is fetched, the path is trusted, and the
            # CRL (now of a trusted chain) is asked too
            code, out, _ = run_cli_captured(["diagnose", url, "--ca-file", str(ca_file), "--proxy", proxy.base,
                                             "--no-cache", "--json", "--timeout", "5", "--allow-private-fetch"],
                                            capsys)
            assert rec.hits["/aia"] >= 1 and rec.hits["/crl"] >= 1, rec.hits
            assert json.loads(out)["path"]["trusted"] is True


def test_a_redirect_to_cloud_metadata_is_refused(tmp_path):
    with http_server({}) as rec:
        _, inter, leaf, ca_file = _pki(rec.base, tmp_path, aia_path="/redirect")
        rec.routes.update(_routes(inter))
        with tls_server(leaf.cert, leaf.key) as srv, allowing_private_fetch():  # even with the flag
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=str(ca_file), timeout=5)
        assert rec.hits["/redirect"] >= 1  # a loopback target may name loopback: the first hop is asked
    errors = [a.error or "" for a in d.evidence.aia]
    assert errors and all("169.254.169.254" in e and "never fetched" in e for e in errors), errors


def test_an_untrusted_chain_gets_no_crl_or_ocsp_request(tmp_path):
    with http_server({}) as rec:
        _, inter, leaf, _ = _pki(rec.base, tmp_path)
        rec.routes.update(_routes(inter))
        other = tmp_path / "other-root.pem"
        other.write_bytes(TestCA("Some Other Root").cert_pem())
        with tls_server(leaf.cert_pem() + inter.cert_pem(), leaf.key) as srv:
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=str(other), timeout=5)
    assert not d.path.trusted
    assert rec.hits["/crl"] == 0 and rec.hits["/ocsp"] == 0, rec.hits
    assert d.evidence.revocation is None


def test_a_loopback_target_may_name_loopback_urls(tmp_path):
    with http_server({}) as rec:
        _, inter, leaf, ca_file = _pki(rec.base, tmp_path)
        rec.routes.update(_routes(inter))
        with tls_server(leaf.cert, leaf.key) as srv:
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=str(ca_file), timeout=5)
    assert rec.hits["/aia"] >= 1 and d.path.trusted
