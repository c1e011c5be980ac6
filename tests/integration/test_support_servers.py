"""The shared test server (``support.servers``) keeps its promises: every thread ends on stop,
clients still connected included; a handler bug fails the test; routes and the recorder work."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
import requests
from support.pki import TestCA
from support.servers import connect_proxy, http_server, reply, tcp_server, tls_server


@pytest.fixture(scope="module")
def ca():
    return TestCA("Support Server Root")


def _threads_of(port: int) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(f"test-server:{port}")]


def test_stop_ends_every_thread_even_with_clients_still_connected(ca):
    ctx = ssl.create_default_context(cadata=ca.cert_pem().decode())
    with tls_server(ca.issue_cert("127.0.0.1")) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)  # TCP only, no handshake
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")  # handshake done, then silence
        port = srv.port
        assert len(_threads_of(port)) >= 2
    try:
        assert _threads_of(port) == []
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        idle.close()
        tls.close()


def test_the_recorder_gets_what_the_client_sent(ca):
    ctx = ssl.create_default_context(cadata=ca.cert_pem().decode())
    with tls_server(ca.issue_cert("127.0.0.1")) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"hello ")
                tls.sendall(b"server")
        assert srv.received() == b"hello server"
        with pytest.raises(AssertionError, match="recorded nothing new"):
            srv.received(timeout=0.2)


def test_a_failing_handler_fails_the_test():
    def broken(conn, srv):
        raise ValueError("a bug in the handler")

    with pytest.raises(AssertionError, match="a handler failed: ValueError"):
        with tcp_server(broken) as srv:
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
            srv.stopping.wait(0.2)


def test_http_routes_hits_and_requests():
    def teapot(h):
        h.send_response(418)
        h.send_header("Content-Length", "0")
        h.end_headers()

    routes = {"/crl": b"CRL", "/crl/special.crl": (201, {"X-Test": "yes"}, b"special"), "/tea": teapot}
    with http_server(routes) as web:
        assert requests.get(web.url_for("/crl/a.crl?x=1"), timeout=5).content == b"CRL"
        r = requests.get(web.url_for("/crl/special.crl"), timeout=5)
        assert (r.status_code, r.headers["X-Test"], r.content) == (201, "yes", b"special")
        assert requests.post(web.url_for("/tea"), data=b"body", timeout=5).status_code == 418
        assert requests.get(web.url_for("/nothing"), timeout=5).status_code == 404
        assert web.hits == {"/crl": 1, "/crl/special.crl": 1, "/tea": 1, "/nothing": 1}
        first = web.received()
        assert (first.method, first.path, first.requestline) == ("GET", "/crl/a.crl?x=1", "GET /crl/a.crl?x=1 HTTP/1.1")
        assert [web.received().body for _ in range(3)][1] == b"body"


def test_connect_proxy_tunnels_and_refuses(ca, tmp_path):
    root = tmp_path / "root.pem"
    root.write_bytes(ca.cert_pem())
    with tls_server(ca.issue_cert("127.0.0.1"), handler=reply(b"ok")) as srv, \
            tcp_server(connect_proxy()) as proxy, tcp_server(connect_proxy(refuse=407)) as refusing:
        r = requests.get(srv.url, verify=str(root), proxies={"https": proxy.base}, timeout=5)
        assert (r.status_code, r.text) == (200, "ok") and proxy.records == [f"127.0.0.1:{srv.port}"]
        assert srv.received().startswith(b"GET / HTTP/1.1")
        with pytest.raises(requests.exceptions.ProxyError, match="407"):
            requests.get(srv.url, verify=str(root), proxies={"https": refusing.base}, timeout=5)
