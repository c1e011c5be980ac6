"""pinning: SPKI pins checked on top of normal verification, before any request byte.

Two sets of servers: a private PKI built here (real TLS on 127.0.0.1, port 0, a server that
records every application byte it receives, and a CONNECT proxy, plain or over TLS), and the
lab (``pin_other_key``, the intercepting proxy, ``self_signed``, ``untrusted_root``). Pin values,
the report, backup keys and the refusals that need no network: tests/unit/test_pinning.py.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from requests.adapters import HTTPAdapter
from support.cli import run_cli as _run
from support.pki import TestCA, pem
from support.servers import connect_proxy, reply, serve, server_context, tls_server

from certdoctor.errors import PinMismatch, UsageError
from certdoctor.pinning.pins import pin_of_certificate, pin_of_key
from certdoctor.pinning.adapters import PinnedAdapter, httpx_client, async_httpx_client, verified_chain_supported

# --------------------------------------------------------------------------- a private PKI

class PKI:
    def __init__(self, d: Path):
        self.dir = d
        root = TestCA("Pin Test Root")
        inter = root.intermediate("Pin Test Intermediate")
        self.root, self.root_key, self.inter, self.inter_key = root.cert, root.key, inter.cert, inter.key
        names = ["127.0.0.1", "pinned.test"]
        a = inter.issue_cert(*names, cn="pinned.test")
        b = inter.issue_cert(*names, cn="other-key.test")
        self.leaf_a, self.key_a, self.leaf_b, self.key_b = a.cert, a.key, b.cert, b.key
        # an unrelated root: same leaf key A, but issued under a CA nobody trusts
        evil = TestCA("Untrusted Root")
        self.evil_root, self.evil_key = evil.cert, evil.key
        self.leaf_evil = evil.issue_cert(*names, cn="pinned.test", key=self.key_a).cert
        proxy = inter.issue_cert("127.0.0.1", cn="proxy.test")
        self.proxy_leaf, self.proxy_key = proxy.cert, proxy.key
        self.ca_file = self.write("root.pem", pem(self.root))
        self.evil_ca_file = self.write("evil-root.pem", pem(self.evil_root))

    def write(self, name, data):
        p = self.dir / name
        p.write_bytes(data)
        return str(p)

    def server_context(self, leaf, key, *chain):
        return server_context(pem(leaf, *chain), key)

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

def RecordingServer(ctx):
    """A TLS server on 127.0.0.1 (``support.servers``) that records, per completed handshake, the
    request head it got (2 s at most; ``b""``: the client sent nothing), and answers ``200 ok``
    only when a request arrived. ``received()`` waits for the next record."""
    return tls_server(ctx, handler=reply(b"ok"), timeout=2)


def ConnectProxy(tls_ctx=None):
    """A CONNECT-only proxy (optionally over TLS) that relays to 127.0.0.1 ports only; its
    ``records`` are the targets it was asked for, ``base`` its URL."""
    return serve(connect_proxy(allow=("127.0.0.1", "pinned.test")), tls=tls_ctx, timeout=3)


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
        proxies = {"https": proxy.base}
        s = _session(PinnedAdapter(pins=[good]))
        assert s.get(srv.url, verify=pki.ca_file, proxies=proxies, timeout=5).status_code == 200
        assert srv.received().startswith(b"GET /")
        with pytest.raises(PinMismatch, match=f"127.0.0.1:{other.port}"):
            s.get(other.url, verify=pki.ca_file, proxies=proxies, timeout=5)
        assert other.received() == b""
        # the proxy's own certificate is verified normally, never pinned
        assert pin_of_certificate(pki.proxy_leaf) != good
        assert f"127.0.0.1:{other.port}" in proxy.records
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
        proxy_arg = httpx.Proxy(proxy.base, ssl_context=_client_ctx(pki.ca_file)) if proxy_tls else proxy.base
        with httpx_client(pins=[good], verify=_client_ctx(pki.ca_file), proxy=proxy_arg) as client:
            assert client.get(srv.url).status_code == 200
            with pytest.raises(PinMismatch):
                client.get(other.url)
        assert other.received() == b""


def test_httpx_environment_proxies_are_pinned_too(pki, monkeypatch):
    good = pin_of_certificate(pki.leaf_a)
    with ConnectProxy() as proxy, RecordingServer(pki.ctx_b()) as other:
        monkeypatch.setenv("HTTPS_PROXY", proxy.base)
        with httpx_client(pins=[good], verify=_client_ctx(pki.ca_file)) as client:
            with pytest.raises(PinMismatch):
                client.get(other.url)
        assert f"127.0.0.1:{other.port}" in proxy.records
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


def _lab_pin(lab, scenario):
    """The leaf pin of a lab endpoint, read from the PEM the lab serves (no network needed)."""
    from certdoctor.x509.load import load_file

    files = lab.scenario_files(scenario)
    chain_file = next(p for k, p in files.items() if "chain" in k or "cert" in k)
    return pin_of_certificate(load_file(chain_file)[0])


def test_lab_fake_adapter_accepts_pin_other_key_ours_refuses(lab):
    good = lab.endpoint("good")
    other = lab.endpoint("pin_other_key")
    url = f"https://{good.hostname}:{other.port}/"
    good_pin = _lab_pin(lab, "good")
    r = _session(FakePinningAdapter(str(lab.ca_file))).get(url, timeout=5)
    assert r.status_code < 500  # the trust-store swap talks to the other key
    with pytest.raises(PinMismatch) as exc:
        _session(PinnedAdapter(pins=[good_pin])).get(url, verify=str(lab.ca_file), timeout=5)
    assert good.hostname in str(exc.value) and good_pin in str(exc.value)
    # the right pin passes on `good`, and so does the lab intermediate where supported
    assert _session(PinnedAdapter(pins=[good_pin])).get(good.url, verify=str(lab.ca_file), timeout=5).ok
    if verified_chain_supported():
        inter = pin_of_certificate(lab.pki.intermediate_cert)
        assert _session(PinnedAdapter(pins=[inter])).get(url, verify=str(lab.ca_file), timeout=5).ok


def test_lab_intercepting_proxy_verifies_but_the_pin_refuses(lab, tmp_path):
    good = lab.endpoint("good")
    bundle = tmp_path / "lab-and-proxy.pem"
    bundle.write_bytes(Path(lab.ca_file).read_bytes() + Path(lab.proxy_ca_file).read_bytes())
    proxies = {"https": lab.proxy_url}
    # with the proxy's root trusted the forged chain verifies: requests alone accepts it
    assert _session().get(good.url, verify=str(bundle), proxies=proxies, timeout=5).ok
    with pytest.raises(PinMismatch, match=good.hostname):
        _session(PinnedAdapter(pins=[_lab_pin(lab, "good")])).get(good.url, verify=str(bundle),
                                                                   proxies=proxies, timeout=5)
    with httpx_client(pins=[_lab_pin(lab, "good")], verify=_client_ctx(str(bundle)),
                      proxy=lab.proxy_url) as client:
        with pytest.raises(PinMismatch):
            client.get(good.url)


@pytest.mark.parametrize("sid", ["self_signed", "untrusted_root"])
def test_lab_right_pin_fails_when_the_chain_does_not_verify(lab, sid):
    ep = lab.endpoint(sid)
    pin = _lab_pin(lab, sid)
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _session(PinnedAdapter(pins=[pin])).get(ep.url, verify=str(lab.ca_file), timeout=5)


def test_lab_httpx_pair(lab):
    good = lab.endpoint("good")
    other = lab.endpoint("pin_other_key")
    with httpx_client(pins=[_lab_pin(lab, "good")], verify=_client_ctx(str(lab.ca_file))) as client:
        assert client.get(good.url).status_code < 500
        with pytest.raises(PinMismatch):
            client.get(f"https://{good.hostname}:{other.port}/")


# --------------------------------------------------------------------------- pin report, backup key, CLI


def test_cli_pin_lab_endpoint_text(lab, capsys):
    good = lab.endpoint("good")
    assert _run(["pin", good.url]) == 0
    out = capsys.readouterr().out
    assert _lab_pin(lab, "good") in out
    assert "pinned_session(PINS)" in out and "httpx_client(PINS)" in out
    assert "Why a backup pin" in out and "sha256/<BACKUP-PIN>" in out


def _pin_json(capsys, *argv):
    assert _run(["pin", "--json", "--timeout", "5", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_pin_lab_through_the_proxy_option(lab, capsys):
    good = lab.endpoint("good")
    doc = _pin_json(capsys, good.url, "--proxy", lab.proxy_url)
    assert "Intercept" in doc["certs"][-1]["subject"]
    assert doc["certs"][0]["pin"] != _lab_pin(lab, "good")  # the interceptor's minted leaf
    assert "Intercept" not in _pin_json(capsys, good.url)["certs"][-1]["subject"]


def test_cli_pin_lab_follows_https_proxy_and_no_proxy(lab, monkeypatch, capsys):
    good = lab.endpoint("good")
    monkeypatch.setenv("HTTPS_PROXY", lab.proxy_url)
    assert "Intercept" in _pin_json(capsys, good.url)["certs"][-1]["subject"]
    monkeypatch.setenv("NO_PROXY", ".lab.test")
    doc = _pin_json(capsys, good.url)
    assert "Intercept" not in doc["certs"][-1]["subject"]
    assert doc["certs"][0]["pin"] == _lab_pin(lab, "good")
