"""ca_bundle / ssl_context / requests_session against real TLS servers on 127.0.0.1.

Each success is paired with the failure it fixes: certifi alone fails, a wrong name fails, and a
plain ``requests.Session`` with ``s.verify = bundle`` fails under ``REQUESTS_CA_BUNDLE``. The
bundle cache and the refusals, which need no server: tests/unit/test_client_helpers.py.
"""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.request

import certifi
import httpx
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from support.pki import TestCA
from support.servers import connect_proxy, http_server, server_context, tcp_server

from certdoctor.remedies.client import ca_bundle, requests_session, ssl_context


# --------------------------------------------------------------------------- PKI and servers (support.*)

def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    root = TestCA("certdoctor client-helper test root")
    good = root.issue_cert("127.0.0.1")
    wrong = root.issue_cert("wrong.example")
    root_file = tmp / "root.pem"
    root_file.write_bytes(_pem(root.cert))
    hello = {"/": b"hello from certdoctor test\n"}
    with http_server(hello, tls=server_context(good.cert, good.key)) as s_good, \
            http_server(hello, tls=server_context(wrong.cert, wrong.key)) as s_wrong:
        yield {"root_file": root_file, "url": s_good.url, "wrong_url": s_wrong.url}


@pytest.fixture
def proxy():
    """A CONNECT tunnel on 127.0.0.1 (``support.servers``); ``records``: the targets asked for."""
    with tcp_server(connect_proxy()) as p:
        yield p


def _requests_error(fn) -> str:
    try:
        fn()
    except requests.exceptions.SSLError as exc:
        return str(exc)
    return "OK"


# --------------------------------------------------------------------------- ca_bundle

def test_ca_bundle_fixes_requests_where_certifi_fails(pki):
    assert "unable to get local issuer certificate" in _requests_error(
        lambda: requests.get(pki["url"], verify=certifi.where(), timeout=5))
    bundle = ca_bundle(extra=[pki["root_file"]])
    assert isinstance(bundle, str) and os.path.isabs(bundle)
    r = requests.get(pki["url"], verify=bundle, timeout=5)
    assert r.status_code == 200 and r.text.startswith("hello")


def test_ca_bundle_with_explicit_path(pki, tmp_path):
    out = tmp_path / "sub" / "bundle.pem"
    got = ca_bundle([pki["root_file"]], path=out)
    assert got == str(out) and out.is_file()
    ino = out.stat().st_ino
    assert ca_bundle([pki["root_file"]], path=out) == got and out.stat().st_ino == ino  # unchanged: kept
    assert requests.get(pki["url"], verify=got, timeout=5).status_code == 200


# --------------------------------------------------------------------------- ssl_context

def test_ssl_context_httpx_and_urllib(pki):
    ctx = ssl_context(extra=[pki["root_file"]])
    assert ctx.check_hostname is True and ctx.verify_mode == ssl.CERT_REQUIRED
    with httpx.Client(verify=ctx, trust_env=False) as c:
        assert c.get(pki["url"]).status_code == 200
    with urllib.request.urlopen(pki["url"], context=ctx, timeout=5) as resp:
        assert resp.status == 200


def test_ssl_context_without_the_root_fails(pki):
    ctx = ssl_context()  # certifi only
    with pytest.raises(httpx.ConnectError, match="unable to get local issuer certificate"):
        with httpx.Client(verify=ctx, trust_env=False) as c:
            c.get(pki["url"])


def test_ssl_context_still_checks_the_hostname(pki):
    ctx = ssl_context(extra=[pki["root_file"]])
    with pytest.raises(httpx.ConnectError, match="IP address mismatch"):
        with httpx.Client(verify=ctx, trust_env=False) as c:
            c.get(pki["wrong_url"])
    with pytest.raises(urllib.error.URLError, match="IP address mismatch"):
        urllib.request.urlopen(pki["wrong_url"], context=ctx, timeout=5)


def test_ssl_context_is_not_changed_by_ssl_cert_file(pki, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")
    ctx = ssl_context(extra=[pki["root_file"]])
    with httpx.Client(verify=ctx) as c:  # trust_env=True: httpx reads SSL_CERT_FILE only for verify=True
        assert c.get(pki["url"]).status_code == 200


def test_ssl_context_for_aiohttp(pki):
    aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is not installed in this venv")
    import asyncio

    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.get(pki["url"], ssl=ssl_context(extra=[pki["root_file"]])) as r:
                return r.status

    assert asyncio.run(go()) == 200


# --------------------------------------------------------------------------- requests_session

@pytest.mark.parametrize("var", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_env_trap_is_real_and_requests_session_is_immune(pki, monkeypatch, var):
    bundle = ca_bundle(extra=[pki["root_file"]])
    monkeypatch.setenv(var, certifi.where())
    plain = requests.Session()
    plain.verify = bundle
    with plain:
        err = _requests_error(lambda: plain.get(pki["url"], timeout=5))
    assert "unable to get local issuer certificate" in err  # the trap: s.verify silently replaced
    with requests_session(extra=[pki["root_file"]]) as s:
        assert s.verify == bundle and s.ca_bundle == bundle
        assert s.trust_env is True
        r = s.get(pki["url"], timeout=5)
        assert r.status_code == 200
        # a per-request verify= still wins
        assert "unable to get local issuer" in _requests_error(
            lambda: s.get(pki["url"], verify=certifi.where(), timeout=5))


def test_requests_session_without_env(pki):
    with requests_session(extra=[pki["root_file"]]) as s:
        assert s.get(pki["url"], timeout=5).status_code == 200
    with requests_session() as s:  # certifi only: the private server fails, as it should
        assert "unable to get local issuer" in _requests_error(lambda: s.get(pki["url"], timeout=5))


def test_requests_session_keeps_env_proxies(pki, monkeypatch, proxy):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    with requests_session(extra=[pki["root_file"]]) as s:
        assert s.get(pki["url"], timeout=5).status_code == 200
    port = pki["url"].rsplit(":", 1)[1].strip("/")
    assert proxy.records == [f"127.0.0.1:{port}"]  # the request went through the env proxy


# --------------------------------------------------------------------------- the lab

def test_lab_good_endpoint_with_every_helper(lab, monkeypatch):
    """The shared lab (leaf + intermediate, private root; *.lab.test resolves to 127.0.0.1)."""
    url = lab.endpoint("good").url
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    assert "unable to get local issuer" in _requests_error(lambda: requests.get(url, timeout=5))
    with requests_session(extra=[lab.ca_file]) as s:
        assert s.get(url, timeout=5).status_code == 200
    with httpx.Client(verify=ssl_context(extra=[lab.ca_file])) as c:
        assert c.get(url).status_code == 200
    assert requests.get(url, verify=ca_bundle(extra=[lab.ca_file]), timeout=5).status_code == 200
