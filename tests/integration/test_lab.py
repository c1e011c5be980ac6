"""The built-in lab against the real clients: every scenario fails (or works) the way the
failure catalogue says, with the lab root trusted, with certifi, and with Python 3.13's flags.

Also: the intercepting proxy, the client certificate, AIA/CRL/hostile routes, start time,
clean stop, ``certdoctor.net.resolve`` and the ``certdoctor lab`` command. The scenario table
and ``certdoctor lab --list`` (no server): tests/unit/test_lab.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from requests.adapters import HTTPAdapter
from urllib3.util.ssl_ import create_urllib3_context

from certdoctor.net import resolve as resolve
from certdoctor.errors import UsageError
from certdoctor.lab import SCENARIOS, Endpoint, Lab, Scenario
from certdoctor.model import CertInfo, ChainInfo, Code

TIMEOUT = (5.0, 5.0)
STALL_TIMEOUT = (0.5, 0.5)
TRUSTS = ("lab", "default", "strict")


# --------------------------------------------------------------------------- helpers

class StrictAdapter(HTTPAdapter):
    """What requests does on Python 3.13: urllib3 2 copies VERIFY_X509_STRICT and
    VERIFY_X509_PARTIAL_CHAIN from ``ssl.create_default_context()``."""

    @staticmethod
    def _context() -> ssl.SSLContext:
        ctx = create_urllib3_context()
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
        return ctx

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self._context()
        return super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        proxy_kwargs["ssl_context"] = self._context()
        return super().proxy_manager_for(proxy, **proxy_kwargs)


def _get(sc: Scenario, ep: Endpoint, trust: str, lab) -> requests.Response:
    timeout = STALL_TIMEOUT if sc.kind == "stall" else TIMEOUT
    verify: str | bool = True if trust == "default" else str(lab.ca_file)
    with requests.Session() as s:
        if trust == "strict":
            s.mount("https://", StrictAdapter())
        return s.get(ep.url, verify=verify, timeout=timeout, proxies=ep.proxies)


def _fragment(sc: Scenario, trust: str) -> str | None:
    return {"lab": sc.requests_error, "default": sc.requests_error_default,
            "strict": sc.strict_expected}[trust]


def _load_pem(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def _presented_chain(lab, ep: Endpoint, extra_trust: list[Path] = ()) -> list[x509.Certificate]:
    """The chain the server sent, read from a *verifying* handshake (no CERT_NONE anywhere):
    the lab root (plus ``extra_trust``) is trusted, so scenarios that verify can be read."""
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    for p in extra_trust:
        ctx.load_verify_locations(cafile=str(p))
    with socket.create_connection((ep.host, ep.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=ep.hostname) as tls:
            chain = tls._sslobj.get_unverified_chain()  # public from 3.13; private on 3.10-3.12
            return [x509.load_der_x509_certificate(c.public_bytes(ssl._ssl.ENCODING_DER))
                    for c in chain]


def _wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


# --------------------------------------------------------------------------- the walk

@pytest.mark.parametrize("trust", TRUSTS)
@pytest.mark.parametrize("sc", list(SCENARIOS), ids=SCENARIOS.ids())
def test_scenario_with_real_requests(lab, sc: Scenario, trust: str):
    """``requests.get`` succeeds or fails with the catalogue's text, for three trust setups:
    ``lab`` = verify=lab root, ``default`` = certifi, ``strict`` = lab root + 3.13 flags."""
    ep = lab.endpoint(sc.id)
    frag = _fragment(sc, trust)
    if frag is None:
        r = _get(sc, ep, trust, lab)
        assert r.status_code == 200
        assert f"scenario {sc.id}" in r.text
        assert r.headers["Connection"] == "close" and "Date" in r.headers
        return
    with pytest.raises(requests.exceptions.RequestException) as info:
        _get(sc, ep, trust, lab)
    text = str(info.value)
    accepted = (frag,) + (sc.alternatives if frag == sc.requests_error else ())
    assert any(a in text for a in accepted), f"{sc.id}/{trust}: expected {accepted!r} in {text!r}"
    assert sc.error_matches(text, trust)


def test_strict_scenarios_pass_without_strict_flags(lab):
    """The two strict scenarios are exactly the 'worked on 3.11, fails on 3.13' kind."""
    for sid in ("strict_bc_not_critical", "strict_no_aki"):
        sc = SCENARIOS[sid]
        assert sc.requests_error is None and sc.strict_error
        assert Code.STRICT_X509 in sc.expected_codes


# --------------------------------------------------------------------------- certificates

def test_certificates_have_the_promised_shape(lab):
    wd = lab.workdir
    now = dt.datetime.now(dt.timezone.utc)

    def leaf(sid):
        return CertInfo.from_certificate(_load_pem(wd / f"{sid}.leaf.pem")[0])

    def chain(sid):
        return _load_pem(wd / f"{sid}.chain.pem")

    good = leaf("good")
    assert good.key_type == "EC secp256r1" and good.san_dns == ("good.lab.test",)
    assert good.ocsp_urls == (f"{lab.http_base}/ocsp",)
    assert good.crl_urls == (f"{lab.http_base}/crl/intermediate.crl",)
    assert good.ca_issuers_urls == (f"{lab.http_base}/aia/intermediate.der",)
    assert len(chain("good")) == 2 and not ChainInfo.analyse(chain("good")).root_included
    rsa_leaf = leaf("good_rsa")
    assert rsa_leaf.key_type == "RSA" and rsa_leaf.key_size == 2048
    assert CertInfo.from_certificate(chain("good_rsa")[1]).key_size == 2048
    assert len(chain("missing_intermediate")) == 1
    assert abs((leaf("expired_leaf").not_after - (now - dt.timedelta(days=10))).days) <= 1
    exp_int = CertInfo.from_certificate(chain("expired_intermediate")[1])
    assert exp_int.expired and not leaf("expired_intermediate").expired
    assert leaf("not_yet_valid").not_yet_valid
    assert 3 <= leaf("expiring_soon").days_left <= 5
    ss = leaf("self_signed")
    assert ss.self_signed and ss.is_ca is False and ss.san_dns == ("self-signed.lab.test",)
    assert leaf("hostname_mismatch").san_dns == ("other.example.test",)
    assert leaf("wildcard_nested").san_dns == ("*.wild.lab.test",)
    assert leaf("ip_san").san_ip == ("127.0.0.1",) and not leaf("ip_san").san_dns
    assert leaf("ip_in_dns_san").san_dns == ("127.0.0.1",) and not leaf("ip_in_dns_san").san_ip
    cn = leaf("cn_only")
    assert cn.common_name == "cn-only.lab.test" and not cn.san_dns and not cn.san_ip
    wo = ChainInfo.analyse(chain("wrong_order"))
    assert wo.in_order is False and wo.root_included and len(wo.certs) == 3
    ex = ChainInfo.analyse(chain("extra_cert"))
    assert ex.off_path == (2,) and ex.certs[2].is_ca
    sha1 = _load_pem(wd / "sha1_signed.leaf.pem")[0]
    assert sha1.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA1
    issuer = chain("sha1_signed")[1]
    issuer.public_key().verify(sha1.signature, sha1.tbs_certificate_bytes,
                               padding.PKCS1v15(), hashes.SHA1())  # an honest signature
    assert leaf("rsa1024").key_type == "RSA" and leaf("rsa1024").key_size == 1024
    lax = CertInfo.from_certificate(chain("strict_bc_not_critical")[1])
    assert lax.is_ca and lax.basic_constraints_critical is False
    assert leaf("strict_no_aki").aki is None and good.aki is not None
    other = leaf("pin_other_key")
    assert "good.lab.test" in other.san_dns and other.spki_pin != good.spki_pin
    assert other.issuer == good.issuer
    untrusted = chain("untrusted_root")
    assert untrusted[1].issuer != lab.pki.root_cert.subject
    assert isinstance(lab.pki.root_key, ec.EllipticCurvePrivateKey)
    assert isinstance(lab.pki.rsa_intermediate.key, rsa.RSAPrivateKey)
    # keys are private
    assert (wd / "good.key.pem").stat().st_mode & 0o077 == 0
    assert (Path(lab.client_key_file).stat().st_mode & 0o077) == 0


def test_presented_chains_match_the_files(lab):
    """What goes over the wire is what the scenario promises (read with verification on)."""
    wo = _presented_chain(lab, lab.endpoint("wrong_order"))
    pki = lab.pki
    assert [c.subject for c in wo[1:]] == [pki.root_cert.subject, pki.intermediate_cert.subject]
    assert len(_presented_chain(lab, lab.endpoint("extra_cert"))) == 3
    assert len(_presented_chain(lab, lab.endpoint("good"))) == 2
    mi = _presented_chain(lab, lab.endpoint("missing_intermediate"),
                          extra_trust=[lab.workdir / "intermediate.pem"])
    assert len(mi) == 1


def test_issue_leaf_api(lab):
    issued = lab.pki.issue_leaf(["api.lab.test", "10.0.0.5"], not_after=lab.pki.now + dt.timedelta(days=3))
    info = CertInfo.from_certificate(issued.cert)
    assert info.san_dns == ("api.lab.test",) and info.san_ip == ("10.0.0.5",)
    assert issued.chain == (issued.cert, lab.pki.intermediate_cert)
    issued.cert.verify_directly_issued_by(lab.pki.intermediate_cert)
    assert info.days_left <= 3


def test_serve_extra_endpoint(lab):
    issued = lab.pki.issue_leaf(["extra-endpoint.lab.test"])
    ep = lab.serve("extra_endpoint", issued, hostname="extra-endpoint.lab.test")
    r = requests.get(ep.url, verify=str(lab.ca_file), timeout=TIMEOUT)
    assert r.status_code == 200 and "extra_endpoint" in r.text


# --------------------------------------------------------------------------- proxy, mTLS, pinning

def test_intercepting_proxy_resigns_every_host_with_one_root(lab):
    ep = lab.endpoint("intercepting_proxy")
    assert ep.proxy == lab.proxy_url and ep.url == lab.endpoint("good").url
    proxies = {"https": lab.proxy_url}
    # trusting the proxy's root (what a corporate bundle does), any host "works" ...
    for url in (ep.url, "https://anything.example.test:443/", "https://pin-other-key.lab.test:1/"):
        r = requests.get(url, verify=str(lab.proxy_ca_file), proxies=proxies, timeout=TIMEOUT)
        assert r.status_code == 200 and "intercepted" in r.text
    # ... and the proxy's leaves are signed by that one root, which it sends along
    root = _load_pem(Path(lab.proxy_ca_file))[0]
    assert "CN=certdoctor Lab Intercept Root" in root.subject.rfc4514_string()
    seen = []
    for host in ("good.lab.test", "other.example.test"):
        with socket.create_connection(("127.0.0.1", int(lab.proxy_url.rsplit(":", 1)[1])), 5) as s:
            s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
            assert s.recv(1024).startswith(b"HTTP/1.1 200")
            ctx = ssl.create_default_context(cafile=str(lab.proxy_ca_file))
            with ctx.wrap_socket(s, server_hostname=host) as tls:
                chain = [x509.load_der_x509_certificate(c.public_bytes(ssl._ssl.ENCODING_DER))
                         for c in tls._sslobj.get_unverified_chain()]
        assert len(chain) == 2 and chain[1] == root
        chain[0].verify_directly_issued_by(root)
        seen.append(chain[0])
    sans = [CertInfo.from_certificate(c).san_dns for c in seen]
    assert sans == [("good.lab.test",), ("other.example.test",)]


def test_client_certificate_makes_mtls_work(lab):
    ep = lab.endpoint("client_cert_required")
    r = requests.get(ep.url, verify=str(lab.ca_file), timeout=TIMEOUT,
                     cert=(str(lab.client_cert_file), str(lab.client_key_file)))
    assert r.status_code == 200 and "client_cert_required" in r.text


def test_pin_other_key_is_a_valid_mitm_for_good(lab):
    """Normal verification accepts the other key for good.lab.test: only pinning catches it."""
    other = lab.endpoint("pin_other_key")
    r = requests.get(f"https://good.lab.test:{other.port}/", verify=str(lab.ca_file), timeout=TIMEOUT)
    assert r.status_code == 200 and "pin_other_key" in r.text


def test_servers_survive_probes_and_junk(lab):
    ep = lab.endpoint("good")
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    for _ in range(3):  # handshake, then close without a request (what a prober does)
        with socket.create_connection((ep.host, ep.port), 5) as raw:
            with ctx.wrap_socket(raw, server_hostname=ep.hostname):
                pass
    with socket.create_connection((ep.host, ep.port), 5) as raw:  # TCP only, then close
        pass
    with socket.create_connection((ep.host, ep.port), 5) as raw:  # an endless header
        with ctx.wrap_socket(raw, server_hostname=ep.hostname) as tls:
            tls.settimeout(10)
            try:
                tls.sendall(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 100_000)
                assert tls.recv(100) == b""  # closed on us, no answer
            except (OSError, ssl.SSLError):
                pass
    r = requests.get(ep.url, verify=str(lab.ca_file), timeout=TIMEOUT)
    assert r.status_code == 200


# --------------------------------------------------------------------------- helper HTTP server

def test_aia_crl_and_routes(lab):
    pki = lab.pki
    r = requests.get(f"{lab.http_base}/aia/intermediate.der", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pkix-cert"
    assert r.content == pki.intermediate_cert.public_bytes(serialization.Encoding.DER)
    leaf = CertInfo.from_certificate(_load_pem(lab.workdir / "missing_intermediate.leaf.pem")[0])
    assert leaf.ca_issuers_urls == (f"{lab.http_base}/aia/intermediate.der",)
    # the fetched intermediate completes the chain
    fetched = x509.load_der_x509_certificate(r.content)
    leaf.certificate().verify_directly_issued_by(fetched)

    r = requests.get(f"{lab.http_base}/crl/intermediate.crl", timeout=TIMEOUT)
    crl = x509.load_der_x509_crl(r.content)
    assert crl.is_signature_valid(pki.intermediate_cert.public_key())
    revoked = _load_pem(lab.workdir / "revoked.leaf.pem")[0]
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    good = _load_pem(lab.workdir / "good.leaf.pem")[0]
    assert crl.get_revoked_certificate_by_serial_number(good.serial_number) is None
    assert CertInfo.from_certificate(revoked).crl_urls == (f"{lab.http_base}/crl/intermediate.crl",)
    assert pki.is_revoked(revoked.serial_number)

    seen = []

    def handler(method, path, body):
        seen.append((method, path, body))
        return 200, {"Content-Type": "application/x-test"}, b"pong:" + body

    lab.add_route("/test-route", handler)
    r = requests.post(f"{lab.http_base}/test-route/sub?q=1", data=b"ping", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == b"pong:ping"
    assert r.headers["Content-Type"] == "application/x-test"
    assert seen == [("POST", "/test-route/sub?q=1", b"ping")]
    lab.add_route("/test-broken", lambda m, p, b: 1 / 0)
    assert requests.get(f"{lab.http_base}/test-broken", timeout=TIMEOUT).status_code == 500


def test_ocsp_is_404_until_registered():
    with Lab(scenarios=["good"]) as lab:
        assert requests.get(f"{lab.http_base}/ocsp", timeout=TIMEOUT).status_code == 404
        lab.add_route("/ocsp", lambda m, p, b: (200, {"Content-Type": "application/ocsp-response"}, b"x"))
        assert requests.post(f"{lab.http_base}/ocsp", data=b"req", timeout=TIMEOUT).content == b"x"
        assert requests.get(f"{lab.http_base}/ocsp/MEUwQzBB", timeout=TIMEOUT).content == b"x"


def test_hostile_routes(lab):
    base = lab.http_base
    r = requests.get(f"{base}/hostile/redirect-loop", allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302 and r.headers["Location"] == "/hostile/redirect-loop"
    with pytest.raises(requests.exceptions.TooManyRedirects):
        requests.get(f"{base}/hostile/redirect-loop", timeout=TIMEOUT)

    with requests.get(f"{base}/hostile/big", stream=True, timeout=TIMEOUT) as r:
        assert int(r.headers["Content-Length"]) == 10 * 1024 * 1024
        got = 0
        for chunk in r.iter_content(65536):
            got += len(chunk)
            if got >= 1 << 20:
                break
        assert got >= 1 << 20

    with requests.get(f"{base}/hostile/stall", stream=True, timeout=(5, 0.5)) as r:
        assert r.status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            _ = r.content  # headers promised 4096 bytes that never come

    t0 = time.monotonic()
    with requests.get(f"{base}/hostile/slow-drip", stream=True, timeout=(5, 3)) as r:
        assert r.raw.read(1) == b"."
        assert r.raw.read(1) == b"."
    assert time.monotonic() - t0 >= 0.8  # one byte per second


# --------------------------------------------------------------------------- lifecycle

def test_start_is_fast_and_stop_is_clean():
    fds_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    t0 = time.perf_counter()
    lab = Lab()
    lab.start()
    elapsed = time.perf_counter() - t0
    print(f"\nLab().start() with {len(lab.endpoints)} endpoints took {elapsed:.3f} s "
          f"(lab.started_in={lab.started_in:.3f} s)")
    workdir = lab.workdir
    held: list[socket.socket] = []
    try:
        assert elapsed < 5.0  # the requirement is < 2 s; generous here for loaded CI machines
        ports = [e.port for e in lab.endpoints] + [
            int(lab.http_base.rsplit(":", 1)[1]), int(lab.proxy_url.rsplit(":", 1)[1])]
        # hold connections in the slowest places: a stall, a slow drip, a half-open CONNECT
        held.append(socket.create_connection(("127.0.0.1", lab.endpoint("stall").port), 5))
        s = socket.create_connection(("127.0.0.1", ports[-2]), 5)
        s.sendall(b"GET /hostile/slow-drip HTTP/1.1\r\nHost: x\r\n\r\n")
        held.append(s)
        s = socket.create_connection(("127.0.0.1", ports[-1]), 5)
        s.sendall(b"CONNECT good.lab.test:443 HTTP/1.1\r\n\r\n")
        held.append(s)
        s = socket.create_connection(("127.0.0.1", lab.endpoint("good").port), 5)
        held.append(s)  # TCP open, no ClientHello: the server waits in its handshake
        assert _wait(lambda: len(lab.threads) >= 5), lab.threads
    finally:
        t1 = time.perf_counter()
        lab.stop()
        stop_time = time.perf_counter() - t1
    print(f"Lab.stop() took {stop_time:.3f} s")
    assert stop_time < 5.0
    assert not [t for t in threading.enumerate() if t.name.startswith(lab.thread_prefix)]
    assert lab.threads == ()
    for port in ports:
        assert _refused(port), f"port {port} still accepts after stop()"
    assert not workdir.exists()  # a temp workdir goes with the lab
    for s in held:
        s.close()
    if fds_before is not None:
        assert len(os.listdir("/proc/self/fd")) <= fds_before
    lab.stop()  # idempotent


def test_lab_options_and_errors(tmp_path):
    with pytest.raises(UsageError):
        Lab(scenarios=["no_such_scenario"])
    lab = Lab(scenarios=["intercepting_proxy"], workdir=tmp_path / "wd")
    with pytest.raises(UsageError):
        lab.endpoint("good")  # not started
    with lab:
        assert lab.endpoints.ids() == ("good", "intercepting_proxy")
        with pytest.raises(UsageError):
            lab.endpoint("expired_leaf")
        with pytest.raises(UsageError):
            lab.start()
    assert (tmp_path / "wd" / "lab-root.pem").exists()  # a given workdir is kept


def test_session_lab_started_quickly(lab):
    print(f"\nsession lab started in {lab.started_in:.3f} s")
    assert lab.started_in < 5.0


# --------------------------------------------------------------------------- resolve

def test_resolve_override_exact_and_suffix():
    before = socket.getaddrinfo
    with resolve.override({"one.resolve.test": "127.0.0.2"}, suffixes={"*.zone.test": "127.0.0.3"}):
        assert socket.getaddrinfo("one.resolve.test", 80)[0][4][0] == "127.0.0.2"
        assert socket.getaddrinfo("ONE.resolve.test.", 80)[0][4][0] == "127.0.0.2"
        assert socket.getaddrinfo("a.b.zone.test", 80)[0][4][0] == "127.0.0.3"
        assert resolve.lookup("zone.test") is None  # a suffix rule is for names under it
        with resolve.override({"*.b.zone.test": "127.0.0.4"}):  # nested, newest wins
            assert socket.getaddrinfo("a.b.zone.test", 80)[0][4][0] == "127.0.0.4"
            assert socket.getaddrinfo("c.zone.test", 80)[0][4][0] == "127.0.0.3"
        assert socket.getaddrinfo("a.b.zone.test", 80)[0][4][0] == "127.0.0.3"
    assert socket.getaddrinfo is before
    assert resolve.lookup("a.b.zone.test") is None
    if not resolve.active():  # nothing else (e.g. the session lab) holds the patch
        assert socket.getaddrinfo.__module__ == "socket"


def test_resolve_is_thread_safe_and_refcounted():
    before = socket.getaddrinfo
    active_before = resolve.active()
    errors = []

    def worker(n):
        try:
            for i in range(50):
                with resolve.override({f"t{n}.threads.test": "127.0.0.1"}):
                    if socket.getaddrinfo(f"t{n}.threads.test", 1)[0][4][0] != "127.0.0.1":
                        errors.append(n)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert socket.getaddrinfo is before and resolve.active() == active_before


def test_resolve_spec_parsing():
    assert resolve.parse_spec("a.test:127.0.0.1, *.lab.test:127.0.0.2") == (
        {"a.test": "127.0.0.1"}, {"lab.test": "127.0.0.2"})
    assert resolve.parse_spec("a.test:443:127.0.0.1") == ({"a.test": "127.0.0.1"}, {})  # curl form
    assert resolve.parse_spec("v6.test:[::1]") == ({"v6.test": "::1"}, {})
    assert resolve.parse_spec("v6.test:::1") == ({"v6.test": "::1"}, {})
    for bad in ("a.test", "a.test:", ":127.0.0.1", "a.test:not-an-ip"):
        with pytest.raises(UsageError):
            resolve.parse_spec(bad)
    before = socket.getaddrinfo
    handle = resolve.install_from_spec("spec.resolve.test:127.0.0.9")
    try:
        assert socket.getaddrinfo("spec.resolve.test", 1)[0][4][0] == "127.0.0.9"
    finally:
        handle.remove()
        handle.remove()  # idempotent
    assert socket.getaddrinfo is before
    assert resolve.install_from_env({}) is None
    h = resolve.install_from_env({"CERTDOCTOR_RESOLVE": "*.env.test:127.0.0.5"})
    try:
        assert resolve.lookup("x.env.test") == "127.0.0.5"
    finally:
        h.remove()


def test_resolve_reaches_the_lab_from_httpx_and_urllib(lab):
    """The session lab's override (``*.lab.test`` → 127.0.0.1) works for other clients too."""
    ep = lab.endpoint("good")
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    with urllib.request.urlopen(ep.url, context=ctx, timeout=5) as resp:
        assert b"scenario good" in resp.read()
    httpx = pytest.importorskip("httpx", reason="httpx is an optional extra")
    r = httpx.get(ep.url, verify=ctx, timeout=5)
    assert r.status_code == 200 and "scenario good" in r.text
    with pytest.raises(httpx.ConnectError, match="certificate has expired"):
        httpx.get(lab.endpoint("expired_leaf").url, verify=ctx, timeout=5)


# --------------------------------------------------------------------------- the CLI


def test_cli_lab_serves_for_a_duration():
    from click.testing import CliRunner

    from certdoctor.cli.main import cli

    res = CliRunner().invoke(cli, ["lab", "--duration", "0.2", "--json", "-s", "good", "-s", "stall"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [e["scenario"] for e in doc["endpoints"]] == ["good", "stall"]
    assert doc["resolve"] == "*.lab.test:127.0.0.1" and doc["ca_file"].endswith("lab-root.pem")
    port = doc["endpoints"][0]["port"]
    assert _refused(port)
    res = CliRunner().invoke(cli, ["lab", "-s", "bogus"])
    assert res.exit_code != 0


def test_cli_lab_stops_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["COLUMNS"] = "200"
    proc = subprocess.Popen([sys.executable, "-m", "certdoctor", "lab", "-s", "good"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = b""
    try:
        deadline = time.monotonic() + 30
        while b"Ctrl-C stops the lab." not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        assert b"Ctrl-C stops the lab." in out, out
        assert b"https://good.lab.test:" in out and b"lab-root.pem" in out
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert b"lab stopped." in rest
