"""Path building with AIA chasing: every answer format the issue names, and its refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from support.pki import TestCA

from certdoctor.net.fetch import FetchCache
from certdoctor.net.aia import build_path  # the path with AIA chased (x509.path.build_path is the pure half)


def _leaf_with_aia(lab, url: str, host: str = "aia.lab.test") -> x509.Certificate:
    inter = TestCA.existing(lab.pki.intermediate_cert, lab.pki.intermediate_key, aia_url=url, ocsp_url=None,
                            crl_url=None)
    return inter.issue_cert(host, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).cert


def _route(lab, path: str, body: bytes, content_type: str) -> tuple[str, list]:
    calls = []

    def handler(method, p, req_body):
        calls.append(p)
        return 200, {"Content-Type": content_type}, body

    lab.add_route(path, handler)
    return lab.http_base + path, calls


@pytest.mark.parametrize("fmt", ["der", "pem", "p7c-der", "p7c-pem"])
def test_aia_answer_formats(lab, fmt, tmp_path):
    inter = lab.pki.intermediate_cert
    body = {
        "der": inter.public_bytes(serialization.Encoding.DER),
        "pem": inter.public_bytes(serialization.Encoding.PEM),
        "p7c-der": pkcs7.serialize_certificates([inter], serialization.Encoding.DER),
        "p7c-pem": pkcs7.serialize_certificates([inter], serialization.Encoding.PEM),
    }[fmt]
    url, calls = _route(lab, f"/test-aia/{fmt}", body, "application/octet-stream")
    leaf = _leaf_with_aia(lab, url)
    cache = FetchCache(tmp_path)
    r = build_path([leaf], [lab.pki.root_cert], host="aia.lab.test", cache=cache)
    assert r.trusted and [c.subject for c in r.fetched] == [inter.subject.rfc4514_string()]
    assert r.rfc5280_ok is True, r.rfc5280_error
    # the second build comes from the on-disk cache: no new request reaches the server
    n = len(calls)
    r2 = build_path([leaf], [lab.pki.root_cert], host="aia.lab.test", cache=cache)
    assert r2.trusted and len(calls) == n and r2.aia_attempts[0].from_cache


@pytest.mark.parametrize("url, words", [
    ("ldap://ldap.example.test/cn=ca", "only http and https"),
    ("http://user:secret@127.0.0.1:9/ca.der", "credentials"),
])
def test_aia_refuses_other_schemes_and_credentials(lab, url, words):
    r = build_path([_leaf_with_aia(lab, url)], [lab.pki.root_cert], host="aia.lab.test")
    assert not r.trusted
    assert words in r.aia_attempts[0].error


def test_aia_answer_without_a_certificate_is_an_attempt_not_a_crash(lab):
    url, _ = _route(lab, "/test-aia/html", b"<html>not a cert</html>", "text/html")
    r = build_path([_leaf_with_aia(lab, url)], [lab.pki.root_cert], host="aia.lab.test")
    assert not r.trusted and "no certificate" in r.aia_attempts[0].error


def test_hostile_aia_redirect_loop_is_bounded(lab):
    r = build_path([_leaf_with_aia(lab, lab.http_base + "/hostile/redirect-loop")], [lab.pki.root_cert],
                   host="aia.lab.test", budget=3.0)
    assert not r.trusted and "redirect" in r.aia_attempts[0].error


def test_no_aia_means_no_download(lab):
    url, calls = _route(lab, "/test-aia/never", b"", "application/octet-stream")
    r = build_path([_leaf_with_aia(lab, url)], [lab.pki.root_cert], host="aia.lab.test", aia=False)
    assert not r.trusted and not r.aia_attempts and calls == []
