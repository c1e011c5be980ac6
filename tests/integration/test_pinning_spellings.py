"""Pinning fails closed (issue 10, item 9): one adapter on ``https://`` holding a map of host ->
pins; every spelling of a pinned host (case, trailing dot, U-label / A-label, explicit port) is
checked against its pins by the host the connection really goes to; a host without pins gets
normal verification; a mismatch is a ``requests.exceptions.SSLError`` / ``httpx.ConnectError``
as well as a ``PinMismatch``; a redirect is pinned by its own host and never downgrades to http.

Real TLS servers on 127.0.0.1 (port 0); host names reach them through ``net.resolve.override``.
Every server that must get nothing records every byte it received after the handshake.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import requests
from support.pki import TestCA, pem
from support.servers import http_server, reply, server_context, tls_server

from certdoctor.errors import PinMismatch
from certdoctor.net.resolve import override
from certdoctor.pinning import (
    HTTPXPinMismatch, PinnedAdapter, RequestsPinMismatch, async_httpx_client, httpx_client, pinned_session,
)
from certdoctor.pinning.pins import pin_of_certificate

IDN_U = "bücher.test"
IDN_A = "xn--bcher-kva.test"
# the trailing-dot names: httpx hands "pinned.test." to OpenSSL as is, which matches it only so
NAMES = ("pinned.test", IDN_A, "free.test", "127.0.0.1", "pinned.test.", IDN_A + ".")
# both labels: net.resolve's override reads a bytes A-label (anyio's) as its U-label
HOSTS = {"pinned.test": "127.0.0.1", IDN_A: "127.0.0.1", IDN_U: "127.0.0.1", "free.test": "127.0.0.1"}


class PKI:
    def __init__(self, tmp):
        root = TestCA("Spelling Root")
        inter = root.intermediate("Spelling Intermediate")
        self.right = inter.issue_cert(*NAMES, cn="pinned.test")
        self.wrong = inter.issue_cert(*NAMES, cn="pinned.test (another key)")  # valid, other key
        self.inter = inter
        self.ca_file = str(tmp / "root.pem")
        (tmp / "root.pem").write_bytes(pem(root.cert))
        self.pin = pin_of_certificate(self.right.cert)
        self.wrong_pin = pin_of_certificate(self.wrong.cert)

    def ctx(self, which):
        leaf = self.right if which == "right" else self.wrong
        return server_context(pem(leaf.cert, self.inter.cert), leaf.key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("spellings"))


def _spellings(port):
    """Every URL spelling of the pinned origin ``pinned.test:port`` (and of the IDN host)."""
    return [
        f"https://pinned.test:{port}/",
        f"https://PINNED.TEST:{port}/",
        f"https://Pinned.Test.:{port}/",
        f"https://pinned.test.:{port}/path?q=1",
        f"HTTPS://pinned.test:{port}/",
        f"https://{IDN_U}:{port}/",
        f"https://{IDN_U.upper()}.:{port}/",
        f"https://{IDN_A}:{port}/",
        f"https://{IDN_A.upper()}.:{port}/",
    ]


def _pins(port, pin):
    # the keys in spellings of their own: each must land on the same normalised origin
    return {f"PINNED.test.:{port}": [pin], f"{IDN_U}:{port}": [pin]}


def _session(pins_by_host):
    s = pinned_session(pins_by_host)
    s.trust_env = False
    return s


@pytest.mark.parametrize("index", range(len(_spellings(1))))
def test_requests_every_spelling_of_a_pinned_host_is_pinned(pki, index):
    with override(HOSTS), tls_server(pki.ctx("wrong")) as wrong, tls_server(pki.ctx("right"), handler=reply()) as right:
        url = _spellings(wrong.port)[index]
        s = _session(_pins(wrong.port, pki.pin))
        with pytest.raises(RequestsPinMismatch) as exc:
            s.get(url, verify=pki.ca_file, timeout=5)
        assert isinstance(exc.value, PinMismatch)
        assert isinstance(exc.value, requests.exceptions.SSLError)
        assert isinstance(exc.value, requests.RequestException)
        assert exc.value.expected == (pki.pin,) and pki.wrong_pin in exc.value.presented
        assert wrong.received() == b""  # the handshake, then nothing: not one application byte
        # the right key under the same spelling passes
        good = _session(_pins(right.port, pki.pin))
        r = good.get(_spellings(right.port)[index], verify=pki.ca_file, timeout=5)
        assert (r.status_code, r.text) == (200, "ok")
        assert right.received().startswith(b"GET /")


def test_requests_one_adapter_on_https_host_map_and_unpinned_hosts_verified_normally(pki):
    with override(HOSTS), tls_server(pki.ctx("wrong"), handler=reply()) as srv:
        s = requests.Session()
        s.trust_env = False
        s.mount("https://", PinnedAdapter({f"pinned.test:{srv.port}": [pki.pin]}))
        # a host without pins: normal verification, and it passes
        assert s.get(f"https://free.test:{srv.port}/", verify=pki.ca_file, timeout=5).status_code == 200
        assert srv.received().startswith(b"GET /")
        # ... and normal verification still refuses what it refuses
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            s.get(f"https://free.test:{srv.port}/", timeout=5)  # certifi does not know this root
        # the pinned host, through the same adapter, under another spelling
        with pytest.raises(RequestsPinMismatch):
            s.get(f"https://PINNED.test.:{srv.port}/", verify=pki.ca_file, timeout=5)
        assert srv.received() == b""
        # another port of the pinned host has no pins of its own: normal verification
        with pytest.raises(requests.exceptions.ConnectionError):
            s.get("https://pinned.test:1/", verify=pki.ca_file, timeout=5)


def test_except_requests_exception_catches_a_mismatch(pki):
    with override(HOSTS), tls_server(pki.ctx("wrong")) as wrong:
        caught = None
        try:
            _session(_pins(wrong.port, pki.pin)).get(f"https://pinned.test.:{wrong.port}/",
                                                     verify=pki.ca_file, timeout=5)
        except requests.RequestException as exc:
            caught = exc
        assert isinstance(caught, PinMismatch) and caught.request is not None
        assert wrong.received() == b""


def _redirector(location):
    return reply(b"", status=f"302 Found\r\nLocation: {location}")


def test_requests_redirects_are_pinned_by_their_own_host_and_never_downgrade(pki):
    with override(HOSTS), tls_server(pki.ctx("wrong")) as wrong, http_server({"/": b"plain"}) as plain:
        with tls_server(pki.ctx("right"), handler=_redirector(f"https://PINNED.TEST.:{wrong.port}/x")) as hop:
            pins = {f"pinned.test:{hop.port}": [pki.pin], f"pinned.test:{wrong.port}": [pki.pin]}
            with pytest.raises(RequestsPinMismatch):
                _session(pins).get(f"https://pinned.test:{hop.port}/", verify=pki.ca_file, timeout=5)
            assert hop.received().startswith(b"GET /")
            assert wrong.received() == b""
        # a pinned host redirecting to plain http of itself: refused before the request
        with tls_server(pki.ctx("right"), handler=_redirector(f"http://pinned.test:{plain.port}/")) as hop:
            with pytest.raises(RequestsPinMismatch, match="plain HTTP"):
                _session({f"pinned.test:{hop.port}": [pki.pin]}).get(
                    f"https://pinned.test:{hop.port}/", verify=pki.ca_file, timeout=5)
            assert hop.received().startswith(b"GET /")
        assert plain.records == []  # the http server got no request at all
        # plain http to a host without pins is what requests does anyway
        r = _session({"pinned.test": [pki.pin]}).get(f"http://free.test:{plain.port}/", timeout=5)
        assert r.text == "plain"


# --------------------------------------------------------------------------- httpx


def _ctx(pki):
    return ssl.create_default_context(cafile=pki.ca_file)


@pytest.mark.parametrize("index", range(len(_spellings(1))))
def test_httpx_every_spelling_of_a_pinned_host_is_pinned(pki, index):
    with override(HOSTS), tls_server(pki.ctx("wrong")) as wrong, tls_server(pki.ctx("right"), handler=reply()) as right:
        with httpx_client(_pins(wrong.port, pki.pin), verify=_ctx(pki), trust_env=False) as client:
            with pytest.raises(HTTPXPinMismatch) as exc:
                client.get(_spellings(wrong.port)[index])
        assert isinstance(exc.value, PinMismatch) and isinstance(exc.value, httpx.ConnectError)
        assert exc.value.request.url.port == wrong.port
        assert wrong.received() == b""
        with httpx_client(_pins(right.port, pki.pin), verify=_ctx(pki), trust_env=False) as client:
            r = client.get(_spellings(right.port)[index])
            assert (r.status_code, r.text) == (200, "ok")
        assert right.received().startswith(b"GET /")


def test_httpx_unpinned_host_verified_normally_and_redirects_pinned(pki):
    with override(HOSTS), tls_server(pki.ctx("wrong"), handler=reply()) as srv, http_server({"/": b"x"}) as plain:
        with httpx_client({f"pinned.test:{srv.port}": [pki.pin]}, verify=_ctx(pki), trust_env=False,
                          follow_redirects=True) as client:
            assert client.get(f"https://free.test:{srv.port}/").status_code == 200
            assert srv.received().startswith(b"GET /")
            try:
                client.get(f"https://Pinned.Test.:{srv.port}/")
            except httpx.HTTPError as exc:  # the usual httpx except clause catches it
                assert isinstance(exc, PinMismatch)
            else:
                raise AssertionError("a pinned host with the wrong key was accepted")
            assert srv.received() == b""
        with tls_server(pki.ctx("right"), handler=_redirector(f"https://PINNED.TEST.:{srv.port}/")) as hop:
            pins = {f"pinned.test:{hop.port}": [pki.pin], f"pinned.test:{srv.port}": [pki.pin]}
            with httpx_client(pins, verify=_ctx(pki), trust_env=False, follow_redirects=True) as client:
                with pytest.raises(HTTPXPinMismatch):
                    client.get(f"https://pinned.test:{hop.port}/")
            assert hop.received().startswith(b"GET /") and srv.received() == b""
        with tls_server(pki.ctx("right"), handler=_redirector(f"http://pinned.test:{plain.port}/")) as hop:
            with httpx_client({f"pinned.test:{hop.port}": [pki.pin]}, verify=_ctx(pki), trust_env=False,
                              follow_redirects=True) as client:
                with pytest.raises(HTTPXPinMismatch, match="plain HTTP"):
                    client.get(f"https://pinned.test:{hop.port}/")
        assert plain.records == []


def test_httpx_async_spellings(pki):
    async def go(port):
        async with async_httpx_client(_pins(port, pki.pin), verify=_ctx(pki), trust_env=False) as client:
            for url in _spellings(port):
                with pytest.raises(HTTPXPinMismatch):
                    await client.get(url)

    with override(HOSTS), tls_server(pki.ctx("wrong")) as wrong:
        asyncio.run(go(wrong.port))
        got = [wrong.received() for _ in _spellings(wrong.port)]
        assert got == [b""] * len(got)
