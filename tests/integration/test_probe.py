"""certdoctor.net.probe against real TLS servers on 127.0.0.1 (no TLS mocks, no Internet).

Small throwaway servers (``support.servers``) cover what the lab does not (refused port, DNS
failure, a huge stream, TLS 1.0 only, a cipher mismatch, mTLS on TLS 1.2 and 1.3, a CONNECT proxy
refusing, an OCSP staple); the `lab` scenarios are used when `certdoctor.lab` exists.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from support.pki import TestCA, der, pem
from support.servers import closed_port, connect_proxy, server_context

from certdoctor.errors import NetworkError
from certdoctor.model import Code, Severity
from certdoctor.net.probe import ProbeResult, fetch_chain, probe, probe_many

NOW = dt.datetime.now(dt.timezone.utc)


# --------------------------------------------------------------------------- a small PKI

@dataclass
class PKI:
    root: x509.Certificate
    inter: x509.Certificate
    leaf: x509.Certificate
    leaf_rsa: x509.Certificate
    files: dict


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    root = TestCA("Probe Test Root")
    inter = root.intermediate("Probe Test Intermediate")
    leaf = inter.issue_cert("probe.test")
    leaf_rsa = inter.issue_cert("rsa.probe.test", kind="rsa")
    files = {}
    for name, data in {
        "chain": pem(leaf.cert, inter.cert), "wrong_order": pem(leaf.cert, root.cert, inter.cert),
        "leaf_only": pem(leaf.cert), "key": leaf.key_pem(), "rsa_chain": pem(leaf_rsa.cert, inter.cert),
        "rsa_key": leaf_rsa.key_pem(), "root": pem(root.cert),
    }.items():
        p = d / f"{name}.pem"
        p.write_bytes(data)
        files[name] = str(p)
    return PKI(root.cert, inter.cert, leaf.cert, leaf_rsa.cert, files)


# --------------------------------------------------------------------------- servers (support.servers)

def server_ctx(pki: PKI, chain="chain", key="key", *, mtls=False, max_v=None, min_v=None, ciphers=None):
    return server_context(pki.files[chain], pki.files[key], client_ca=pki.files["root"] if mtls else None,
                          max_version=max_v, min_version=min_v, ciphers=ciphers)


@pytest.fixture
def serve(servers):
    """``serve(handler)``: a TCP server running ``handler(conn, srv)`` per connection;
    ``serve(tls=ctx)``: a TLS server that reads (and records) until the client is done."""
    def start(handler=None, *, tls=None):
        return servers.tls(tls) if tls is not None else servers.tcp(handler)
    return start


# --------------------------------------------------------------------------- chain capture

def test_presented_chain_is_recorded_unverified(pki, serve):
    srv = serve(tls=server_ctx(pki))
    r = probe("127.0.0.1", srv.port, servername="probe.test", timeout=5)
    assert r.failure is None, r.failure
    assert r.chain_der == (der(pki.leaf), der(pki.inter))
    assert r.tls_version == "TLSv1.3"
    assert r.cipher and r.alpn is None  # the stdlib server offers no ALPN
    assert r.address == "127.0.0.1" and r.servername == "probe.test"
    assert [c.subject for c in r.certificates()] == [pki.leaf.subject, pki.inter.subject]
    assert r.ocsp_staple is None and r.ocsp_requested is False
    assert r.elapsed < 1.0


def test_chain_order_is_kept_as_sent(pki, serve):
    srv = serve(tls=server_ctx(pki, chain="wrong_order"))
    r = probe("127.0.0.1", srv.port, servername="probe.test", timeout=5)
    assert r.ok
    assert r.chain_der == (der(pki.leaf), der(pki.root), der(pki.inter))


def test_alpn_offers_h2_and_http11(pki, serve):
    ctx = server_ctx(pki)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = serve(tls=ctx)
    assert probe("127.0.0.1", srv.port, timeout=5).alpn == "http/1.1"
    ctx2 = server_ctx(pki)
    ctx2.set_alpn_protocols(["h2", "http/1.1"])
    srv2 = serve(tls=ctx2)
    assert probe("127.0.0.1", srv2.port, timeout=5).alpn == "h2"


def test_sni_is_sent_and_defaults_to_host(pki, serve):
    seen = []
    ctx = server_ctx(pki)
    ctx.sni_callback = lambda sock, name, c: seen.append(name)
    srv = serve(tls=ctx)
    probe("127.0.0.1", srv.port, servername="named.probe.test", timeout=5)
    probe("127.0.0.1", srv.port, timeout=5)  # IP host: no SNI
    r = probe("localhost", srv.port, address="127.0.0.1", timeout=5)
    assert r.servername == "localhost" and r.address == "127.0.0.1"
    assert seen == ["named.probe.test", None, "localhost"]


def test_tls12_server_records_version_and_no_certificate_request(pki, serve):
    srv = serve(tls=server_ctx(pki, max_v=ssl.TLSVersion.TLSv1_2))
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.ok and r.tls_version == "TLSv1.2"
    assert r.client_cert_requested is False
    assert r.chain_der[0] == der(pki.leaf)


def test_no_application_data_is_sent(pki, serve):
    srv = serve(tls=server_ctx(pki))
    assert probe("127.0.0.1", srv.port, timeout=5).ok
    assert srv.received() == b""  # the server saw the handshake through, then not one byte


# --------------------------------------------------------------------------- connection-level failures

def test_refused_port(pki):
    r = probe("127.0.0.1", closed_port(), timeout=3)
    assert r.failure.code is Code.CONNECTION_REFUSED
    assert r.failure.severity is Severity.ERROR
    assert any("127.0.0.1" in e for e in r.failure.evidence)
    assert any("ConnectionRefusedError" in e for e in r.failure.evidence)
    assert r.chain_der == () and r.tls_version is None


def test_dns_failure():
    r = probe("nonexistent.invalid", 443, timeout=5)
    assert r.failure.code is Code.DNS_FAILURE
    assert "nonexistent.invalid" in r.failure.summary
    assert r.failure.fix


def test_stalling_server_times_out_in_bounded_time(serve):
    srv = serve(lambda conn, srv: srv.stopping.wait(5))
    t0 = time.monotonic()
    r = probe("127.0.0.1", srv.port, timeout=0.6)
    took = time.monotonic() - t0
    assert r.failure.code is Code.TIMEOUT
    assert "never answered" in r.failure.summary
    assert took < 1.5


def test_connect_timeout_is_bounded():
    # A listening socket whose accept queue is full never completes new handshakes... on
    # Linux the SYN is dropped, so connect() hangs: exactly a firewall that drops packets.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(s)
        t0 = time.monotonic()
        r = probe("127.0.0.1", port, timeout=0.5)
        took = time.monotonic() - t0
        assert took < 1.5
        assert r.failure is not None and r.failure.code in (Code.TIMEOUT, Code.CONNECT_FAILED)
    finally:
        for s in fillers:
            s.close()
        lsock.close()


def test_plain_http_on_tls_port(serve):
    def handle(conn, srv):
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    srv = serve(handle)
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.failure.code is Code.NOT_TLS
    assert "plain HTTP" in r.failure.summary
    assert any("WRONG_VERSION_NUMBER" in e for e in r.failure.evidence)
    assert any("HTTP/1.1 400" in e for e in r.failure.evidence)


def test_other_protocol_on_tls_port(serve):
    def handle(conn, srv):
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.recv(4096)
    srv = serve(handle)
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.failure.code is Code.NOT_TLS
    assert any("SSH-2.0" in e for e in r.failure.evidence)


def test_huge_stream_is_capped(serve):
    record = b"\x16\x03\x03\x40\x00" + b"\x0b" + (16384 - 1) * b"\x00"  # "certificate" records, endless

    def handle(conn, srv):
        conn.recv(4096)
        for _ in range(640):  # ~10 MB
            conn.sendall(record)
    srv = serve(handle)
    t0 = time.monotonic()
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert time.monotonic() - t0 < 3
    assert r.failure is not None
    assert r.bytes_received <= (1 << 20) + 65536


def test_byte_cap_aborts_the_handshake(pki, serve):
    srv = serve(tls=server_ctx(pki))
    r = probe("127.0.0.1", srv.port, timeout=5, max_bytes=200)
    assert r.failure.code is Code.CONNECT_FAILED
    assert "more than 200 bytes" in r.failure.summary
    assert r.bytes_received <= 201


def test_client_cert_required_tls13(pki, serve):
    srv = serve(tls=server_ctx(pki, mtls=True))
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.failure is not None and r.failure.code is Code.CLIENT_CERT_REQUIRED, r.failure
    assert r.tls_version == "TLSv1.3"
    assert r.chain_der == (der(pki.leaf), der(pki.inter))  # captured before the alert
    assert any("CERTIFICATE_REQUIRED" in e or "EOF" in e or "closed" in e for e in r.failure.evidence)
    assert r.elapsed < 1.0
    assert fetch_chain("127.0.0.1", srv.port, timeout=5)[0] == pki.leaf


def test_tls13_server_without_tickets_costs_one_bounded_wait(pki, serve):
    ctx = server_ctx(pki)
    ctx.num_tickets = 0  # nothing arrives after the handshake: the wait runs out (<= 0.5 s)
    srv = serve(tls=ctx)
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.ok and r.tls_version == "TLSv1.3"
    assert 0.2 <= r.elapsed <= 0.7


def test_optional_client_cert_is_not_a_failure(pki, serve):
    for max_v in (None, ssl.TLSVersion.TLSv1_2):
        ctx = server_ctx(pki, max_v=max_v)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(pki.files["root"])
        srv = serve(tls=ctx)
        r = probe("127.0.0.1", srv.port, timeout=5)
        assert r.ok, r.failure
        assert r.client_cert_requested is (True if max_v else None)


def test_client_cert_required_tls12_is_told_from_cipher_mismatch(pki, serve):
    srv = serve(tls=server_ctx(pki, mtls=True, max_v=ssl.TLSVersion.TLSv1_2))
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.failure.code is Code.CLIENT_CERT_REQUIRED
    assert r.client_cert_requested is True
    assert any("SSLV3_ALERT_HANDSHAKE_FAILURE" in e for e in r.failure.evidence)
    assert any("CertificateRequest" in e for e in r.failure.evidence)


def test_cipher_mismatch(pki, serve):
    srv = serve(tls=server_ctx(pki, chain="rsa_chain", key="rsa_key", max_v=ssl.TLSVersion.TLSv1_2,
                               ciphers="AES128-SHA:@SECLEVEL=0"))
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.failure.code is Code.CIPHER_MISMATCH, r.failure
    assert any("SSLV3_ALERT_HANDSHAKE_FAILURE" in e for e in r.failure.evidence)
    # the legacy retry shows what the server speaks, and captures its chain
    assert r.cipher == "AES128-SHA" and r.tls_version == "TLSv1.2"
    assert r.chain_der[0] == der(pki.leaf_rsa)


def test_tls10_only_server(pki, serve):
    srv = serve(tls=server_ctx(pki, chain="rsa_chain", key="rsa_key", min_v=ssl.TLSVersion.TLSv1,
                               max_v=ssl.TLSVersion.TLSv1, ciphers="ALL:@SECLEVEL=0"))
    r = probe("127.0.0.1", srv.port, timeout=5)
    assert r.failure.code is Code.TLS_VERSION, r.failure
    assert any("PROTOCOL_VERSION" in e or "UNSUPPORTED_PROTOCOL" in e for e in r.failure.evidence)
    assert r.tls_version == "TLSv1"


def test_fetch_chain_raises_network_error(pki):
    with pytest.raises(NetworkError) as info:
        fetch_chain("127.0.0.1", closed_port(), timeout=2)
    assert "refused" in info.value.message and info.value.hint


# --------------------------------------------------------------------------- proxies

def test_probe_through_connect_proxy(pki, serve):
    srv = serve(tls=server_ctx(pki))
    prox = serve(connect_proxy())
    r = probe("127.0.0.1", srv.port, servername="probe.test", proxy=f"http://user:secret@127.0.0.1:{prox.port}",
              timeout=5)
    assert r.ok, r.failure
    assert r.chain_der == (der(pki.leaf), der(pki.inter))
    assert r.proxy == f"http://***@127.0.0.1:{prox.port}"


def test_proxy_refusing_connect(pki, serve):
    prox = serve(connect_proxy(refuse=403))
    r = probe("127.0.0.1", 443, proxy=f"http://127.0.0.1:{prox.port}", timeout=5)
    assert r.failure.code is Code.PROXY_ERROR
    assert any("403" in e for e in r.failure.evidence)
    prox407 = serve(connect_proxy(refuse=407))
    r = probe("127.0.0.1", 443, proxy=f"http://u:pw@127.0.0.1:{prox407.port}", timeout=5)
    assert r.failure.code is Code.PROXY_ERROR and "authentication" in r.failure.summary
    assert not any("pw" in e.split("@")[0] for e in r.failure.evidence if e.startswith("proxy:"))


def test_proxy_unreachable():
    r = probe("127.0.0.1", 443, proxy=f"http://127.0.0.1:{closed_port()}", timeout=3)
    assert r.failure.code is Code.PROXY_ERROR


def test_https_proxy_scheme_is_explained(serve):
    def handle(conn, srv):  # a plain-HTTP proxy, as most are
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    prox = serve(handle)
    r = probe("127.0.0.1", 443, proxy=f"https://127.0.0.1:{prox.port}", timeout=5)
    assert r.failure.code is Code.PROXY_ERROR
    assert "https://" in r.failure.summary
    assert "only use HTTP and not HTTPS" in r.failure.explanation
    assert any("plain text" in e for e in r.failure.evidence)
    assert f"http://127.0.0.1:{prox.port}" in r.failure.fix


# --------------------------------------------------------------------------- many at once

def test_probe_many_preserves_order_on_50_targets(pki, serve):
    srv = serve(tls=server_ctx(pki))
    dead = closed_port()
    targets = []
    for i in range(50):
        targets.append(("127.0.0.1", dead) if i % 10 == 3 else f"127.0.0.1:{srv.port}")
    t0 = time.monotonic()
    results = probe_many(targets, concurrency=16, timeout=5)
    took = time.monotonic() - t0
    assert len(results) == 50 and all(isinstance(r, ProbeResult) for r in results)
    for i, r in enumerate(results):
        if i % 10 == 3:
            assert r.port == dead and r.failure.code is Code.CONNECTION_REFUSED
        else:
            assert r.port == srv.port and r.ok and r.chain_der[0] == der(pki.leaf)
    assert took < 10


def test_probe_many_accepts_urls_and_mappings(pki, serve):
    srv = serve(tls=server_ctx(pki))
    res = probe_many([f"https://127.0.0.1:{srv.port}/path",
                      {"host": "localhost", "port": srv.port, "address": "127.0.0.1"}], timeout=5)
    assert [r.ok for r in res] == [True, True]
    assert res[1].servername == "localhost"
    assert probe_many([]) == ()


# --------------------------------------------------------------------------- OCSP staple (pyOpenSSL)

def test_ocsp_staple_is_captured(pki, tmp_path, serve):
    SSL = pytest.importorskip("OpenSSL.SSL")
    from cryptography.x509 import ocsp

    ca = TestCA("Staple CA")
    issued = ca.issue_cert("staple.test")
    issuer, leaf = ca.cert, issued.cert
    resp = (ocsp.OCSPResponseBuilder()
            .add_response(cert=leaf, issuer=issuer, algorithm=hashes.SHA256(),
                          cert_status=ocsp.OCSPCertStatus.GOOD, this_update=NOW, next_update=NOW + dt.timedelta(days=1),
                          revocation_time=None, revocation_reason=None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
            .sign(ca.key, hashes.SHA256()))
    staple = resp.public_bytes(serialization.Encoding.DER)

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate(leaf)
    ctx.use_privatekey(issued.key)
    ctx.set_ocsp_server_callback(lambda conn, data: staple)
    errors = []

    def handle(raw, srv):
        raw.settimeout(None)  # pyOpenSSL wants a blocking socket (stop() shuts it down)
        conn = SSL.Connection(ctx, raw)
        conn.set_accept_state()
        try:
            conn.do_handshake()
            conn.recv(1024)
        except Exception as exc:
            errors.append(exc)

    port = serve(handle).port
    plain = probe("127.0.0.1", port, servername="staple.test", timeout=5)
    assert plain.ok and plain.ocsp_staple is None and not plain.ocsp_requested, (plain.failure, errors)
    r = probe("127.0.0.1", port, servername="staple.test", timeout=5, ocsp=True)
    assert r.ok and r.ocsp_requested
    assert r.ocsp_staple == staple
    assert ocsp.load_der_ocsp_response(r.ocsp_staple).certificate_status is ocsp.OCSPCertStatus.GOOD


# --------------------------------------------------------------------------- the lab

def _lab_probe(lab, scenario, **kw):
    ep = lab.endpoint(scenario)
    return ep, probe(ep.host, ep.port, servername=ep.hostname, timeout=5, **kw)


try:  # the lab is written by someone else in parallel; without it these tests skip
    from certdoctor.lab import SCENARIOS as _LAB_SCENARIOS

    LAB_IDS = [s.id for s in _LAB_SCENARIOS]
except ImportError:  # pragma: no cover
    _LAB_SCENARIOS, LAB_IDS = None, ["(lab missing)"]

_CONNECTION_CODES = {Code.CLIENT_CERT_REQUIRED, Code.NOT_TLS, Code.TIMEOUT, Code.TLS_VERSION,
                     Code.CIPHER_MISMATCH}


@pytest.mark.parametrize("scenario", LAB_IDS)
def test_lab_scenario_chain_equals_what_is_served(lab, scenario):
    """Every lab endpoint: the presented chain is the served PEM, order included, or the
    connection-level code the scenario expects."""
    sc = _LAB_SCENARIOS[scenario]
    if sc.via_proxy:
        pytest.skip("seen through the proxy: test_lab_proxy_returns_the_interceptors_chain")
    ep = lab.endpoint(scenario)
    r = probe(ep.host, ep.port, servername=ep.hostname, timeout=1.0)
    expected = set(sc.expected_codes) & _CONNECTION_CODES
    if expected and not r.chain_der:
        assert r.failure is not None and r.failure.code in expected, r.failure
        return
    if expected:
        assert r.failure is not None and r.failure.code in expected, r.failure
    else:
        assert r.ok, r.failure
    served = x509.load_pem_x509_certificates(lab.scenario_files(scenario)["chain"].read_bytes())
    assert r.chain_der == tuple(der(c) for c in served)


def test_lab_stall_is_bounded(lab):
    ep = lab.endpoint("stall")
    t0 = time.monotonic()
    r = probe(ep.host, ep.port, servername=ep.hostname, timeout=0.8)
    assert time.monotonic() - t0 < 2
    assert r.failure is not None and r.failure.code is Code.TIMEOUT


def test_lab_proxy_returns_the_interceptors_chain(lab):
    ep = lab.endpoint("good")
    direct = probe(ep.host, ep.port, servername=ep.hostname, timeout=5)
    r = probe(ep.hostname, ep.port, proxy=lab.proxy_url, timeout=5)
    assert r.ok, r.failure
    proxy_roots = x509.load_pem_x509_certificates(lab.proxy_ca_file.read_bytes())
    chain = r.certificates()
    assert chain[0].public_bytes(serialization.Encoding.DER) != direct.chain_der[0]
    top = chain[-1]
    assert any(top.issuer == root.subject for root in proxy_roots)
