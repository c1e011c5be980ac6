"""ca_bundle / ssl_context / requests_session against real TLS servers on 127.0.0.1.

Each success is paired with the failure it fixes: certifi alone fails, a wrong name fails, and a
plain ``requests.Session`` with ``s.verify = bundle`` fails under ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import select
import socket
import ssl
import threading
import urllib.error
import urllib.request

import certifi
import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import certdoctor
from certdoctor.remedies.bundle import BundleWarning
from certdoctor.errors import InputError
from certdoctor.remedies.client import ca_bundle, requests_session, ssl_context

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- PKI and servers

def _issue(cn, *, issuer=None, ca=False, sans=(), not_after=None):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_name, issuer_key = (name, key) if issuer is None else (issuer[0].subject, issuer[1])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY)
         .not_valid_after(not_after or NOW + 30 * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
    else:
        b = (b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False)
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True))
    return b.sign(issuer_key, hashes.SHA256()), key


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"hello from certdoctor test\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ctx):
        self._ctx = ctx
        super().__init__(("127.0.0.1", 0), _Quiet)

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(5)
        return self._ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()  # in the handler thread: a failing client never blocks accept()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass


def _serve(tmp, name, chain, key):
    chain_file, key_file = tmp / f"{name}.chain.pem", tmp / f"{name}.key.pem"
    chain_file.write_bytes(b"".join(_pem(c) for c in chain))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain_file, key_file)
    server = _TLSServer(ctx)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    root = _issue("certdoctor client-helper test root", ca=True)
    good = _issue("127.0.0.1", issuer=root, sans=[x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))])
    wrong = _issue("wrong.example", issuer=root, sans=[x509.DNSName("wrong.example")])
    expired_ca = _issue("expired client-helper CA", ca=True, not_after=NOW - DAY)
    root_file = tmp / "root.pem"
    root_file.write_bytes(_pem(root[0]))
    leaf_file = tmp / "leaf.pem"
    leaf_file.write_bytes(_pem(good[0]))
    servers = []
    try:
        s_good = _serve(tmp, "good", [good[0]], good[1])
        servers.append(s_good)
        s_wrong = _serve(tmp, "wrong", [wrong[0]], wrong[1])
        servers.append(s_wrong)
        yield {
            "root": root[0], "root_file": root_file, "leaf_file": leaf_file, "expired_ca": expired_ca[0],
            "url": f"https://127.0.0.1:{s_good[0].server_address[1]}/",
            "wrong_url": f"https://127.0.0.1:{s_wrong[0].server_address[1]}/",
        }
    finally:
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(5)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Never touch the real user cache."""
    d = tmp_path / "cache"
    monkeypatch.setenv("CERTDOCTOR_CACHE_DIR", str(d))
    return d


class _ConnectProxy:
    """A minimal CONNECT tunnel on 127.0.0.1 that records the targets it was asked for."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.targets: list[str] = []
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client):
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            target = head.split(b" ")[1].decode()
            self.targets.append(target)
            host, port = target.rsplit(":", 1)
            if host != "127.0.0.1":
                client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            with socket.create_connection((host, int(port)), timeout=5) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                socks = [client, upstream]
                while True:
                    ready, _, _ = select.select(socks, [], [], 5)
                    if not ready:
                        return
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        (upstream if s is client else client).sendall(data)

    def close(self):
        self._stop = True
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def proxy():
    p = _ConnectProxy()
    try:
        yield p
    finally:
        p.close()


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


def test_ca_bundle_is_cached_by_content(pki, cache_dir):
    a = ca_bundle(extra=[pki["root_file"]])
    b = ca_bundle(extra=pki["root_file"])  # a bare item is the same input
    assert a == b and a.startswith(str(cache_dir / "bundles"))
    st = os.stat(a)
    assert (st.st_mode & 0o777) == 0o644
    assert ca_bundle(extra=[pki["root_file"]]) == a and os.stat(a).st_ino == st.st_ino  # not rewritten
    other = ca_bundle(extra=[_pem(pki["root"])])  # different input (bytes: other # Source: line)
    assert other != a
    text = open(a, "rb").read()
    assert text.count(b"-----BEGIN CERTIFICATE-----") == text.count(b"# Source:")
    assert b"# Source: added from root.pem" in text


def test_ca_bundle_rewritten_when_certifi_changes(pki, tmp_path, monkeypatch):
    import certdoctor.remedies.bundle as B

    fake = tmp_path / "cacert.pem"
    original = open(certifi.where(), "rb").read()
    fake.write_bytes(original)
    monkeypatch.setattr(B, "certifi_path", lambda: str(fake))
    before = ca_bundle(extra=[pki["root_file"]])
    # "upgrade" certifi: one root fewer
    first_end = original.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
    fake.write_bytes(original[first_end:])
    after = ca_bundle(extra=[pki["root_file"]])
    assert after != before
    n = lambda p: open(p, "rb").read().count(b"-----BEGIN CERTIFICATE-----")  # noqa: E731
    assert n(after) == n(before) - 1


def test_ca_bundle_with_explicit_path(pki, tmp_path):
    out = tmp_path / "sub" / "bundle.pem"
    got = ca_bundle([pki["root_file"]], path=out)
    assert got == str(out) and out.is_file()
    ino = out.stat().st_ino
    assert ca_bundle([pki["root_file"]], path=out) == got and out.stat().st_ino == ino  # unchanged: kept
    assert requests.get(pki["url"], verify=got, timeout=5).status_code == 200


def test_ca_bundle_refuses_leaf_and_warns_on_expired(pki):
    with pytest.raises(InputError, match="not a CA") as info:
        ca_bundle(extra=[pki["leaf_file"]])
    assert "allow_leaf" in info.value.hint
    assert ca_bundle(extra=[pki["leaf_file"]], allow_leaf=True)
    with pytest.warns(BundleWarning, match="expired"):
        path = ca_bundle(extra=[pki["root"], pki["expired_ca"]])
    assert b"expired client-helper CA" not in open(path, "rb").read()


def test_public_api_reexported():
    assert certdoctor.ca_bundle is ca_bundle
    assert certdoctor.ssl_context is ssl_context
    assert certdoctor.requests_session is requests_session


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
    assert proxy.targets == [f"127.0.0.1:{port}"]  # the request went through the env proxy


def test_session_bundle_beats_env_unless_verify_is_passed(pki, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with requests_session(extra=[pki["root_file"]]) as s:
        settings = s.merge_environment_settings(pki["url"], {}, None, None, None)
        assert settings["verify"] == s.ca_bundle
        settings = s.merge_environment_settings(pki["url"], {}, None, "/explicit.pem", None)
        assert settings["verify"] == "/explicit.pem"


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
