"""pinning: SPKI pins checked on top of normal verification, before any request byte.

Two sets of servers: a private PKI built here (real TLS on 127.0.0.1, port 0, a server that
records every application byte it receives, and a CONNECT proxy, plain or over TLS), and the
lab (``pin_other_key``, the intercepting proxy, ``self_signed``, ``untrusted_root``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import queue
import select
import socket
import ssl
import stat
import threading
from pathlib import Path

import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from requests.adapters import HTTPAdapter

from certdoctor.errors import InputError, PinMismatch, UsageError
from certdoctor.pinning.pins import (load_key_pin, new_backup_key, parse_pin, parse_pins, pin_of_certificate, pin_of_key,
                            pin_report)
from certdoctor.pinning.adapters import PinnedAdapter, httpx_client, async_httpx_client, verified_chain_supported

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)

# --------------------------------------------------------------------------- a private PKI


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn, key, issuer=None, issuer_key=None):
    b = (x509.CertificateBuilder().subject_name(_name(cn))
         .issuer_name(issuer.subject if issuer else _name(cn)).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY).not_valid_after(NOW + 365 * DAY)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def _leaf(names, key, issuer, issuer_key, cn="pinned.test"):
    import ipaddress

    sans = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    return (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))


def _pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class PKI:
    def __init__(self, d: Path):
        self.dir = d
        k = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
        self.root_key, self.inter_key = k(), k()
        self.root = _ca("Pin Test Root", self.root_key)
        self.inter = _ca("Pin Test Intermediate", self.inter_key, self.root, self.root_key)
        names = ["127.0.0.1", "pinned.test"]
        self.key_a, self.key_b = k(), k()
        self.leaf_a = _leaf(names, self.key_a, self.inter, self.inter_key)
        self.leaf_b = _leaf(names, self.key_b, self.inter, self.inter_key, cn="other-key.test")
        # an unrelated root: same leaf key A, but issued under a CA nobody trusts
        self.evil_key = k()
        self.evil_root = _ca("Untrusted Root", self.evil_key)
        self.leaf_evil = _leaf(names, self.key_a, self.evil_root, self.evil_key)
        self.proxy_key = k()
        self.proxy_leaf = _leaf(["127.0.0.1"], self.proxy_key, self.inter, self.inter_key, cn="proxy.test")
        self.ca_file = self.write("root.pem", _pem(self.root))
        self.evil_ca_file = self.write("evil-root.pem", _pem(self.evil_root))

    def write(self, name, data):
        p = self.dir / name
        p.write_bytes(data)
        return str(p)

    def server_context(self, leaf, key, *chain):
        cert = self.write(f"srv-{id(leaf)}.pem", _pem(leaf, *chain))
        kf = self.write(f"srv-{id(leaf)}.key", _key_pem(key))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, kf)
        return ctx

    def ctx_a(self):
        return self.server_context(self.leaf_a, self.key_a, self.inter)

    def ctx_b(self):
        return self.server_context(self.leaf_b, self.key_b, self.inter)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pinpki"))


def _client_ctx(cafile):
    return ssl.create_default_context(cafile=cafile)


# --------------------------------------------------------------------------- servers


class RecordingServer:
    """A TLS server on 127.0.0.1 that records, per connection, every application byte it got.

    After the handshake it reads until the end of a request head or EOF (2 s at most); it
    answers ``200 ok`` only when a request arrived. ``records`` gets one ``bytes`` per
    completed handshake (``b""``: the client sent nothing).
    """

    def __init__(self, ctx):
        self.ctx = ctx
        self.records: queue.Queue = queue.Queue()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}/"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _loop(self):
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw):
        raw.settimeout(2)
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        got = b""
        try:
            while b"\r\n\r\n" not in got:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ssl.SSLError, OSError):
            pass
        self.records.put(got)
        try:
            if got:
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()

    def received(self, timeout=5.0) -> bytes:
        return self.records.get(timeout=timeout)


class ConnectProxy:
    """A CONNECT-only proxy (optionally over TLS) that relays to 127.0.0.1 ports only."""

    def __init__(self, tls_ctx=None):
        self.tls_ctx = tls_ctx
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"{'https' if tls_ctx else 'http'}://127.0.0.1:{self.port}"
        self.targets: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _loop(self):
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw):
        raw.settimeout(3)
        up = down = None
        try:
            down = self.tls_ctx.wrap_socket(raw, server_side=True) if self.tls_ctx else raw
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = down.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            self.targets.append(target)
            if method != "CONNECT" or host not in ("127.0.0.1", "pinned.test"):
                down.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            up = socket.create_connection(("127.0.0.1", int(port)), timeout=3)
            down.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._relay(down, up)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            for s in (up, down, raw):
                try:
                    s and s.close()
                except OSError:
                    pass

    def _relay(self, down, up):
        while not self.stop.is_set():
            pending = isinstance(down, ssl.SSLSocket) and down.pending()
            ready = [down] if pending else select.select([down, up], [], [], 0.2)[0]
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (up if s is down else down).sendall(data)


def _session(adapter=None):
    s = requests.Session()
    s.trust_env = False
    if adapter is not None:
        s.mount("https://", adapter)
    return s


class FakePinningAdapter(HTTPAdapter):
    """The counter-example (catalogue SEED_FAKE_PINNING): a trust-store swap, not pinning."""

    def __init__(self, cafile, **kw):
        self.cafile = cafile
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = ssl.create_default_context(cafile=self.cafile)
        return super().init_poolmanager(*args, **kwargs)


# --------------------------------------------------------------------------- pin values


def test_parse_pin_accepts_the_usual_forms():
    b64 = "v+nYy7wb9YVeqXFRoPPCmeLbydoVLxtqwSamaCHCjwM="
    for form in (f"sha256/{b64}", b64, f"  {b64}\n", f"sha256//{b64}", f'pin-sha256="{b64}"', f"SHA256/{b64}"):
        assert parse_pin(form) == f"sha256/{b64}"
    assert parse_pins([b64, f"sha256/{b64}"]) == (f"sha256/{b64}",)
    # base64 may itself start with "/": not to be confused with curl's sha256//
    slash = "/SNYSvJQAUI4o04S4elvWLfz62H+l+M4c9VcL+tXC5Q="
    assert parse_pin(f"sha256/{slash}") == f"sha256/{slash}"
    assert parse_pin(f"sha256//{slash}") == f"sha256/{slash}"
    assert parse_pin(slash) == f"sha256/{slash}"


from hypothesis import given, strategies as st  # noqa: E402


@given(st.binary(min_size=32, max_size=32))
def test_parse_pin_round_trips_every_digest(digest):
    import base64

    b64 = base64.b64encode(digest).decode()
    for form in (b64, f"sha256/{b64}", f"sha256//{b64}", f'pin-sha256="{b64}"'):
        assert parse_pin(form) == f"sha256/{b64}"


@given(st.binary(max_size=64).filter(lambda b: len(b) != 32))
def test_parse_pin_refuses_every_other_length(data):
    import base64

    with pytest.raises(UsageError):
        parse_pin("sha256/" + base64.b64encode(data).decode())


@pytest.mark.parametrize("bad", [
    "AB:" * 31 + "AB",                              # a hex fingerprint, not an SPKI pin
    "sha256/" + "A" * 40 + "==",                    # 31 bytes
    "sha256/not base64!",
    "",
    "sha256/" + "A" * 43 + "=" + "AAAA",            # 35 bytes
])
def test_parse_pin_rejects_with_a_clear_error(bad):
    with pytest.raises(UsageError) as exc:
        parse_pin(bad)
    assert "32" in str(exc.value) or "base64" in str(exc.value)
    assert repr(bad) in str(exc.value)


def test_empty_pin_set_and_bad_pins_are_refused_at_construction():
    with pytest.raises(UsageError, match="at least one pin"):
        PinnedAdapter(pins=[])
    with pytest.raises(UsageError, match="not 32"):
        PinnedAdapter(pins=["sha256/AAAA"])
    with pytest.raises(UsageError):
        httpx_client(pins=["nope"])


def test_pin_of_key_matches_pin_of_certificate(pki):
    assert pin_of_key(pki.key_a) == pin_of_key(pki.key_a.public_key()) == pin_of_certificate(pki.leaf_a)
    assert pin_of_certificate(pki.leaf_a) == pin_of_certificate(pki.leaf_evil)  # same key, other issuer
    assert pin_of_certificate(pki.leaf_a) != pin_of_certificate(pki.leaf_b)


# --------------------------------------------------------------------------- requests, private PKI


def test_fake_adapter_accepts_another_key_ours_refuses_before_any_byte(pki):
    good_pin = pin_of_certificate(pki.leaf_a)
    with RecordingServer(pki.ctx_b()) as other:
        # the counter-example: a trust-store swap happily talks to the other key
        r = _session(FakePinningAdapter(pki.ca_file)).get(other.url, timeout=5)
        assert r.status_code == 200 and r.text == "ok"
        assert other.received().startswith(b"GET / HTTP/1.1")
        # ours: same trust, plus the pin -> refused, and the server got no application byte
        with pytest.raises(PinMismatch) as exc:
            _session(PinnedAdapter(pins=[good_pin])).get(other.url, verify=pki.ca_file, timeout=5)
        assert other.received() == b""
    msg = str(exc.value)
    assert "127.0.0.1:" in msg and good_pin in msg and pin_of_certificate(pki.leaf_b) in msg
    assert "before any request byte" in msg
    assert exc.value.host.startswith("127.0.0.1:")
    assert pin_of_certificate(pki.leaf_b) in exc.value.presented
    assert exc.value.expected == (good_pin,)
    assert exc.value.hint and "certdoctor pin" in exc.value.hint


def test_right_pin_passes_and_the_request_is_sent(pki):
    backup = pin_of_key(ec.generate_private_key(ec.SECP256R1()))
    with RecordingServer(pki.ctx_a()) as srv:
        s = _session(PinnedAdapter(pins=[backup, pin_of_certificate(pki.leaf_a)]))
        r = s.get(srv.url, verify=pki.ca_file, timeout=5)
        assert (r.status_code, r.text) == (200, "ok")
        assert srv.received().startswith(b"GET / HTTP/1.1")


@pytest.mark.parametrize("which", ["intermediate", "root"])
def test_chain_pins_match_the_verified_chain(pki, which):
    pin = pin_of_certificate(pki.inter if which == "intermediate" else pki.root)
    with RecordingServer(pki.ctx_a()) as srv:
        s = _session(PinnedAdapter(pins=[pin]))
        if verified_chain_supported():
            assert s.get(srv.url, verify=pki.ca_file, timeout=5).status_code == 200
        else:  # pragma: no cover - only the leaf can be matched on this Python
            with pytest.raises(PinMismatch, match="cannot tell the verified chain"):
                s.get(srv.url, verify=pki.ca_file, timeout=5)


def test_a_pin_on_a_cert_the_server_sends_but_that_is_not_in_the_verified_chain_does_not_match(pki):
    # the server sends an extra, unrelated CA certificate: it is presented but not verified
    extra = pki.evil_root
    with RecordingServer(pki.server_context(pki.leaf_a, pki.key_a, pki.inter, extra)) as srv:
        with pytest.raises(PinMismatch):
            _session(PinnedAdapter(pins=[pin_of_certificate(extra)])).get(srv.url, verify=pki.ca_file, timeout=5)
        assert srv.received() == b""


def test_right_pin_still_fails_when_the_chain_does_not_verify(pki):
    pin = pin_of_certificate(pki.leaf_a)  # same key as leaf_evil
    with RecordingServer(pki.server_context(pki.leaf_evil, pki.key_a)) as srv:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            _session(PinnedAdapter(pins=[pin])).get(srv.url, verify=pki.ca_file, timeout=5)
    # and with the default store (certifi) too
    with RecordingServer(pki.ctx_a()) as srv:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            _session(PinnedAdapter(pins=[pin])).get(srv.url, timeout=5)


def test_right_pin_still_fails_on_a_hostname_mismatch(pki):
    from certdoctor.net.resolve import override

    with RecordingServer(pki.ctx_a()) as srv, override({"wrong-name.test": "127.0.0.1"}):
        with pytest.raises(requests.exceptions.SSLError, match="[Hh]ostname mismatch|doesn't match"):
            _session(PinnedAdapter(pins=[pin_of_certificate(pki.leaf_a)])).get(
                f"https://wrong-name.test:{srv.port}/", verify=pki.ca_file, timeout=5)


def test_verify_false_and_plain_http_are_refused(pki):
    pin = pin_of_certificate(pki.leaf_a)
    with pytest.raises(UsageError, match="verification"):
        _session(PinnedAdapter(pins=[pin])).get("https://127.0.0.1:1/", verify=False, timeout=5)
    s = _session()
    s.mount("http://", PinnedAdapter(pins=[pin]))
    with pytest.raises(UsageError, match="only sends https"):
        s.get("http://127.0.0.1:1/", timeout=5)
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    with pytest.raises(UsageError, match="does not verify"):
        PinnedAdapter(pins=[pin], ssl_context=lax)


def test_ssl_context_is_the_trust_and_is_not_mutated(pki):
    ctx = _client_ctx(pki.ca_file)
    before = ctx.cert_store_stats()
    with RecordingServer(pki.ctx_a()) as srv, RecordingServer(pki.ctx_b()) as other:
        s = _session(PinnedAdapter(pins=[pin_of_certificate(pki.leaf_a)], ssl_context=ctx))
        assert s.get(srv.url, timeout=5).status_code == 200  # verify=True: ctx decides, not certifi
        with pytest.raises(PinMismatch):
            s.get(other.url, timeout=5)
        assert other.received() == b""
    assert ctx.cert_store_stats() == before  # certifi was not loaded into the caller's context


def test_pickling_keeps_the_pins_and_refuses_a_context(pki):
    import pickle

    pin = pin_of_certificate(pki.leaf_a)
    back = pickle.loads(pickle.dumps(PinnedAdapter(pins=[pin])))
    assert back.pins == (pin,)
    with RecordingServer(pki.ctx_b()) as other:
        with pytest.raises(PinMismatch):
            _session(back).get(other.url, verify=pki.ca_file, timeout=5)
    with pytest.raises(TypeError, match="ssl_context"):
        pickle.dumps(PinnedAdapter(pins=[pin], ssl_context=_client_ctx(pki.ca_file)))


def test_connection_reuse_keeps_working(pki):
    with RecordingServer(pki.ctx_a()) as srv:
        s = _session(PinnedAdapter(pins=[pin_of_certificate(pki.leaf_a)]))
        for _ in range(3):
            assert s.get(srv.url, verify=pki.ca_file, timeout=5).status_code == 200


@pytest.mark.parametrize("proxy_tls", [False, True], ids=["http-proxy", "https-proxy"])
def test_through_a_connect_proxy_the_origin_is_pinned(pki, proxy_tls):
    pctx = pki.server_context(pki.proxy_leaf, pki.proxy_key, pki.inter) if proxy_tls else None
    good = pin_of_certificate(pki.leaf_a)
    with ConnectProxy(pctx) as proxy, RecordingServer(pki.ctx_a()) as srv, RecordingServer(pki.ctx_b()) as other:
        proxies = {"https": proxy.url}
        s = _session(PinnedAdapter(pins=[good]))
        assert s.get(srv.url, verify=pki.ca_file, proxies=proxies, timeout=5).status_code == 200
        assert srv.received().startswith(b"GET /")
        with pytest.raises(PinMismatch, match=f"127.0.0.1:{other.port}"):
            s.get(other.url, verify=pki.ca_file, proxies=proxies, timeout=5)
        assert other.received() == b""
        # the proxy's own certificate is verified normally, never pinned
        assert pin_of_certificate(pki.proxy_leaf) != good
        assert f"127.0.0.1:{other.port}" in proxy.targets
        if proxy_tls:  # ssl_context reaches the proxy hop too (proxy_ssl_context)
            s2 = _session(PinnedAdapter(pins=[good], ssl_context=_client_ctx(pki.ca_file)))
            assert s2.get(srv.url, proxies=proxies, timeout=5).status_code == 200
            with pytest.raises(PinMismatch):
                s2.get(other.url, proxies=proxies, timeout=5)


# --------------------------------------------------------------------------- httpx, private PKI


def test_httpx_refuses_the_other_key_and_passes_the_right_one(pki):
    good = pin_of_certificate(pki.leaf_a)
    with RecordingServer(pki.ctx_a()) as srv, RecordingServer(pki.ctx_b()) as other:
        with httpx.Client(verify=_client_ctx(pki.ca_file)) as plain:  # no pinning: accepted
            assert plain.get(other.url).status_code == 200
        assert other.received().startswith(b"GET /")
        with httpx_client(pins=[good], verify=_client_ctx(pki.ca_file)) as client:
            r = client.get(srv.url)
            assert (r.status_code, r.text) == (200, "ok")
            assert srv.received().startswith(b"GET /")
            with pytest.raises(PinMismatch) as exc:
                client.get(other.url)
            assert other.received() == b""
            assert f"127.0.0.1:{other.port}" in str(exc.value) and good in str(exc.value)
            r = client.get(srv.url)  # the client is still usable
            assert r.status_code == 200


def test_httpx_verification_stays_on_and_unverified_is_refused(pki):
    good = pin_of_certificate(pki.leaf_a)
    with RecordingServer(pki.server_context(pki.leaf_evil, pki.key_a)) as srv:
        with httpx_client(pins=[good], verify=_client_ctx(pki.ca_file)) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                client.get(srv.url)
    with pytest.raises(UsageError, match="verification"):
        httpx_client(pins=[good], verify=False)
    with httpx_client(pins=[good], verify=_client_ctx(pki.ca_file)) as client:
        with pytest.raises(UsageError, match="https://"):
            client.get("http://127.0.0.1:1/")


@pytest.mark.parametrize("proxy_tls", [False, True], ids=["http-proxy", "https-proxy"])
def test_httpx_through_a_connect_proxy(pki, proxy_tls):
    pctx = pki.server_context(pki.proxy_leaf, pki.proxy_key, pki.inter) if proxy_tls else None
    good = pin_of_certificate(pki.leaf_a)
    with ConnectProxy(pctx) as proxy, RecordingServer(pki.ctx_a()) as srv, RecordingServer(pki.ctx_b()) as other:
        proxy_arg = httpx.Proxy(proxy.url, ssl_context=_client_ctx(pki.ca_file)) if proxy_tls else proxy.url
        with httpx_client(pins=[good], verify=_client_ctx(pki.ca_file), proxy=proxy_arg) as client:
            assert client.get(srv.url).status_code == 200
            with pytest.raises(PinMismatch):
                client.get(other.url)
        assert other.received() == b""


def test_httpx_environment_proxies_are_pinned_too(pki, monkeypatch):
    good = pin_of_certificate(pki.leaf_a)
    with ConnectProxy() as proxy, RecordingServer(pki.ctx_b()) as other:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with httpx_client(pins=[good], verify=_client_ctx(pki.ca_file)) as client:
            with pytest.raises(PinMismatch):
                client.get(other.url)
        assert f"127.0.0.1:{other.port}" in proxy.targets
        assert other.received() == b""


def test_httpx_async_pair(pki):
    good = pin_of_certificate(pki.leaf_a)

    async def go(srv_url, other_url):
        async with async_httpx_client(pins=[good], verify=_client_ctx(pki.ca_file)) as client:
            assert (await client.get(srv_url)).status_code == 200
            with pytest.raises(PinMismatch):
                await client.get(other_url)

    with RecordingServer(pki.ctx_a()) as srv, RecordingServer(pki.ctx_b()) as other:
        asyncio.run(go(srv.url, other.url))
        assert other.received() == b""


# --------------------------------------------------------------------------- the lab


@pytest.fixture
def labx(request):
    pytest.importorskip("certdoctor.lab", reason="certdoctor.lab is built in parallel")
    return request.getfixturevalue("lab")


def _lab_pin(lab, scenario):
    """The leaf pin of a lab endpoint, read from the PEM the lab serves (no network needed)."""
    from certdoctor.x509.load import load_file

    files = lab.scenario_files(scenario)
    chain_file = next(p for k, p in files.items() if "chain" in k or "cert" in k)
    return pin_of_certificate(load_file(chain_file)[0])


def test_lab_fake_adapter_accepts_pin_other_key_ours_refuses(labx):
    good = labx.endpoint("good")
    other = labx.endpoint("pin_other_key")
    url = f"https://{good.hostname}:{other.port}/"
    good_pin = _lab_pin(labx, "good")
    r = _session(FakePinningAdapter(str(labx.ca_file))).get(url, timeout=5)
    assert r.status_code < 500  # the trust-store swap talks to the other key
    with pytest.raises(PinMismatch) as exc:
        _session(PinnedAdapter(pins=[good_pin])).get(url, verify=str(labx.ca_file), timeout=5)
    assert good.hostname in str(exc.value) and good_pin in str(exc.value)
    # the right pin passes on `good`, and so does the lab intermediate where supported
    assert _session(PinnedAdapter(pins=[good_pin])).get(good.url, verify=str(labx.ca_file), timeout=5).ok
    if verified_chain_supported():
        inter = pin_of_certificate(labx.pki.intermediate_cert)
        assert _session(PinnedAdapter(pins=[inter])).get(url, verify=str(labx.ca_file), timeout=5).ok


def test_lab_intercepting_proxy_verifies_but_the_pin_refuses(labx, tmp_path):
    good = labx.endpoint("good")
    bundle = tmp_path / "lab-and-proxy.pem"
    bundle.write_bytes(Path(labx.ca_file).read_bytes() + Path(labx.proxy_ca_file).read_bytes())
    proxies = {"https": labx.proxy_url}
    # with the proxy's root trusted the forged chain verifies: requests alone accepts it
    assert _session().get(good.url, verify=str(bundle), proxies=proxies, timeout=5).ok
    with pytest.raises(PinMismatch, match=good.hostname):
        _session(PinnedAdapter(pins=[_lab_pin(labx, "good")])).get(good.url, verify=str(bundle),
                                                                   proxies=proxies, timeout=5)
    with httpx_client(pins=[_lab_pin(labx, "good")], verify=_client_ctx(str(bundle)),
                      proxy=labx.proxy_url) as client:
        with pytest.raises(PinMismatch):
            client.get(good.url)


@pytest.mark.parametrize("sid", ["self_signed", "untrusted_root"])
def test_lab_right_pin_fails_when_the_chain_does_not_verify(labx, sid):
    ep = labx.endpoint(sid)
    pin = _lab_pin(labx, sid)
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _session(PinnedAdapter(pins=[pin])).get(ep.url, verify=str(labx.ca_file), timeout=5)


def test_lab_httpx_pair(labx):
    good = labx.endpoint("good")
    other = labx.endpoint("pin_other_key")
    with httpx_client(pins=[_lab_pin(labx, "good")], verify=_client_ctx(str(labx.ca_file))) as client:
        assert client.get(good.url).status_code < 500
        with pytest.raises(PinMismatch):
            client.get(f"https://{good.hostname}:{other.port}/")


# --------------------------------------------------------------------------- pin report, backup key, CLI


def test_pin_report_roles_and_recommendation(pki):
    chain = [pki.leaf_a, pki.inter, pki.root]
    rep = pin_report(chain, source="x.pem", host="pinned.test")
    assert [c.role for c in rep.certs] == ["leaf", "issuing intermediate", "root"]
    assert rep.certs[0].pin == pin_of_certificate(pki.leaf_a)
    assert rep.certs[0].fingerprint_sha256.count(":") == 31
    assert rep.recommended == (pin_of_certificate(pki.leaf_a),) and rep.missing_backup
    assert any("backup" in w.lower() for w in rep.warnings)
    text = " ".join(rep.explanation)
    for words in ("backup", "renewal", "HPKP"):
        assert words in text
    assert any("PinnedAdapter(pins=PINS)" in line for line in rep.usage)
    backup = pin_of_key(ec.generate_private_key(ec.SECP256R1()))
    rep2 = pin_report(chain, backup_pins=[backup], level="intermediate")
    assert rep2.primary == 1 and rep2.recommended == (pin_of_certificate(pki.inter), backup)
    assert not rep2.missing_backup
    with pytest.raises(UsageError):
        pin_report(chain, level="root")


def test_new_backup_key_is_0600_atomic_and_never_overwrites(tmp_path):
    path = tmp_path / "backup.key"
    bk = new_backup_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert bk.key_type.startswith("EC") and load_key_pin(path) == bk.pin
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and pin_of_key(key) == bk.pin
    before = path.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        new_backup_key(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.key"]  # no temp file left
    rsa_path = tmp_path / "rsa.key"
    bk2 = new_backup_key(rsa_path, rsa_bits=3072)
    key2 = serialization.load_pem_private_key(rsa_path.read_bytes(), None)
    assert isinstance(key2, rsa.RSAPrivateKey) and key2.key_size == 3072 and bk2.pin == pin_of_key(key2)
    with pytest.raises(UsageError):
        new_backup_key(tmp_path / "x.key", rsa_bits=1024)


def test_load_key_pin_reads_keys_csrs_and_certs(pki, tmp_path):
    want = pin_of_key(pki.key_a)
    pub = tmp_path / "a.pub"
    pub.write_bytes(pki.key_a.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    crt = tmp_path / "a.crt"
    crt.write_bytes(_pem(pki.leaf_a))
    csr = tmp_path / "a.csr"
    csr.write_bytes(x509.CertificateSigningRequestBuilder().subject_name(_name("a"))
                    .sign(pki.key_a, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    for p in (pub, crt, csr):
        assert load_key_pin(p) == want
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello")
    with pytest.raises(InputError, match="junk"):
        load_key_pin(junk)


def _run(argv):
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    return run(cli, argv)


def test_cli_pin_file_json(pki, tmp_path, capsys):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(_pem(pki.leaf_a, pki.inter))
    backup = tmp_path / "b.key"
    assert _run(["pin", str(chain), "--new-backup-key", str(backup), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 2
    assert [c["pin"] for c in doc["certs"]] == [pin_of_certificate(pki.leaf_a), pin_of_certificate(pki.inter)]
    assert doc["certs"][0]["fingerprint_sha256"].count(":") == 31
    assert doc["recommended"] == [pin_of_certificate(pki.leaf_a), load_key_pin(backup)]
    assert doc["backup_key"]["pin"] == load_key_pin(backup) and doc["missing_backup"] is False


def test_cli_new_backup_key_alone_and_refusal(tmp_path, capsys):
    path = tmp_path / "k.pem"
    assert _run(["pin", "--new-backup-key", str(path), "--rsa", "3072"]) == 0
    out = capsys.readouterr().out
    assert load_key_pin(path) in out and "0600" in out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _run(["pin", "--new-backup-key", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert _run(["pin"]) == 2


def test_cli_pin_lab_endpoint_text(labx, capsys):
    good = labx.endpoint("good")
    assert _run(["pin", good.url]) == 0
    out = capsys.readouterr().out
    assert _lab_pin(labx, "good") in out
    assert "PinnedAdapter(pins=PINS)" in out and "httpx_client" in out
    assert "Why a backup pin" in out and "sha256/<BACKUP-PIN>" in out


def _pin_json(capsys, *argv):
    assert _run(["pin", "--json", "--timeout", "5", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_pin_lab_through_the_proxy_option(labx, capsys):
    good = labx.endpoint("good")
    doc = _pin_json(capsys, good.url, "--proxy", labx.proxy_url)
    assert "Intercept" in doc["certs"][-1]["subject"]
    assert doc["certs"][0]["pin"] != _lab_pin(labx, "good")  # the interceptor's minted leaf
    assert "Intercept" not in _pin_json(capsys, good.url)["certs"][-1]["subject"]


def test_cli_pin_lab_follows_https_proxy_and_no_proxy(labx, monkeypatch, capsys):
    good = labx.endpoint("good")
    monkeypatch.setenv("HTTPS_PROXY", labx.proxy_url)
    assert "Intercept" in _pin_json(capsys, good.url)["certs"][-1]["subject"]
    monkeypatch.setenv("NO_PROXY", ".lab.test")
    doc = _pin_json(capsys, good.url)
    assert "Intercept" not in doc["certs"][-1]["subject"]
    assert doc["certs"][0]["pin"] == _lab_pin(labx, "good")
