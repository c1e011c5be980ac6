"""Issue 10 item 1: ``--timeout`` bounds the whole run, against hostile real servers on 127.0.0.1.

A TLS server that completes the handshake and then drips its HTTP headers one byte at a time, an
AIA/CRL server that does the same, a 3,600-certificate PKCS#7 AIA answer and a 20-deep AIA chain:
every command that talks to them ends within ``--timeout`` plus
:data:`certdoctor.policy.DEADLINE_MARGIN_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import pkcs7

from support.cli import run_cli_captured
from support.pki import TestCA, make_name, pem
from support.servers import http_server, read_head, tcp_server, tls_server

from certdoctor import policy
from certdoctor.diagnose import diagnose

TIMEOUT = 3.0
LIMIT = TIMEOUT + policy.DEADLINE_MARGIN_SECONDS


def _drip(conn, srv) -> None:
    """Read a request, then send an HTTP answer's head one byte every 0.3 s, never finishing."""
    try:
        read_head(conn)
    except OSError:
        return
    srv.record("request")
    head = b"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Slow: " + b"a" * 100_000
    for i in range(len(head)):
        if srv.stopping.wait(0.3):
            return
        conn.sendall(head[i:i + 1])


def _pki(tmp_path, *, crl_url=None, aia_url=None):
    root = TestCA("Bounded Root", aia_url=None, crl_url=None, ocsp_url=None)
    inter = root.intermediate("Bounded Intermediate", aia_url=aia_url, crl_url=crl_url, ocsp_url=None)
    leaf = inter.issue_cert("127.0.0.1")
    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(root.cert_pem())
    return root, inter, leaf, ca_file


def _timed(argv, capsys):
    start = time.monotonic()
    code, out, err = run_cli_captured(argv, capsys)
    return time.monotonic() - start, code, out, err


# --------------------------------------------------------------------------- a TLS server dripping headers

@pytest.mark.parametrize("client", ["requests", "httpx", "urllib"])
def test_diagnose_is_bounded_by_a_header_dripping_tls_server(tmp_path, capsys, client):
    _, _, leaf, ca_file = _pki(tmp_path)
    with tls_server(leaf, handler=_drip, timeout=30) as srv:
        took, code, out, err = _timed(["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", str(ca_file),
                                       "--client", client, "--timeout", str(TIMEOUT), "--no-cache", "--json"],
                                      capsys)
        assert srv.received(1) == "request"  # the real client did reach the dripping server
    assert took <= LIMIT, f"diagnose --client {client} took {took:.1f} s with --timeout {TIMEOUT}"
    assert "s budget (--timeout): stopped after" in out and "--timeout" in out  # the outcome says elapsed and budget


def test_fix_and_expiry_are_bounded_by_a_header_dripping_tls_server(tmp_path, capsys):
    _, _, leaf, ca_file = _pki(tmp_path)
    with tls_server(leaf, handler=_drip, timeout=30) as srv:
        url = f"https://127.0.0.1:{srv.port}/"
        took, *_ = _timed(["fix", url, "--out", str(tmp_path / "out"), "--ca-file", str(ca_file),
                           "--timeout", str(TIMEOUT), "--json"], capsys)
        assert took <= LIMIT, f"fix took {took:.1f} s with --timeout {TIMEOUT}"
        took, code, out, _ = _timed(["expiry", url, "--ca-file", str(ca_file), "--timeout", str(TIMEOUT),
                                     "--json"], capsys)
        assert took <= LIMIT, f"expiry took {took:.1f} s with --timeout {TIMEOUT}"
        assert srv.hits or srv.records  # the clock check's HEAD reached the server
        assert "s budget (--timeout): stopped after" in out


# --------------------------------------------------------------------------- an AIA / CRL server dripping headers

def test_diagnose_is_bounded_by_a_header_dripping_aia_server(tmp_path, capsys):
    with tcp_server(_drip, timeout=30) as aia:
        _, _, leaf, ca_file = _pki(tmp_path, aia_url=f"http://127.0.0.1:{aia.port}/inter.der")
        with tls_server(leaf.cert, leaf.key) as srv:  # the leaf alone: the intermediate is fetched
            took, code, out, err = _timed(["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", str(ca_file),
                                           "--timeout", str(TIMEOUT), "--no-cache", "--json"], capsys)
        assert aia.received(1) == "request"
    assert took <= LIMIT, f"diagnose took {took:.1f} s with a dripping AIA server"
    assert "s budget (--timeout): stopped after" in out


def test_diagnose_and_revocation_are_bounded_by_a_header_dripping_crl_server(tmp_path, capsys):
    with tcp_server(_drip, timeout=30) as crl:
        _, inter, leaf, ca_file = _pki(tmp_path, crl_url=f"http://127.0.0.1:{crl.port}/inter.crl")
        with tls_server(leaf.cert_pem() + inter.cert_pem(), leaf.key) as srv:  # a trusted chain: CRL asked
            took, code, out, err = _timed(["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", str(ca_file),
                                           "--timeout", str(TIMEOUT), "--no-cache", "--json"], capsys)
            assert crl.received(1) == "request"
            assert took <= LIMIT, f"diagnose took {took:.1f} s with a dripping CRL server"
        chain = tmp_path / "chain.pem"
        chain.write_bytes(pem(leaf.cert, inter.cert))
        took, code, out, err = _timed(["revocation", str(chain), "--method", "crl", "--no-cache",
                                       "--timeout", str(TIMEOUT), "--json"], capsys)
        assert crl.received(1) == "request"
    assert took <= LIMIT, f"revocation took {took:.1f} s with a dripping CRL server"
    assert "s budget (--timeout): stopped after" in out


# --------------------------------------------------------------------------- hostile AIA answers

def _named_like(subject: x509.Name, n: int) -> bytes:
    """A PKCS#7 of ``n`` small certificates, each named ``subject``, none the real issuer."""
    key = ed25519.Ed25519PrivateKey.generate()
    now = dt.datetime.now(dt.timezone.utc)
    certs = []
    for i in range(n):
        certs.append(x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(key.public_key()).serial_number(i + 1)
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                     .sign(key, None))
    return pkcs7.serialize_certificates(certs, serialization.Encoding.DER)


def test_a_3600_certificate_pkcs7_aia_answer_stays_within_the_timeout(tmp_path):
    root = TestCA("Bounded Root", aia_url=None, crl_url=None, ocsp_url=None)
    inter = root.intermediate(make_name("BI", None), aia_url=None, crl_url=None, ocsp_url=None)  # short: 3,600 fit in 1 MiB
    body = _named_like(inter.subject, 3600)
    assert len(body) < policy.FETCH_MAX_BYTES  # the answer is within the download limit: it is parsed
    with http_server({"/p7": (200, {"Content-Type": "application/pkcs7-mime"}, body)}) as aia:
        leaf = inter.issue_cert("127.0.0.1", aia_url=aia.url_for("/p7"))
        ca_file = tmp_path / "root.pem"
        ca_file.write_bytes(root.cert_pem())
        with tls_server(leaf.cert, leaf.key) as srv:
            start = time.monotonic()
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=str(ca_file), timeout=TIMEOUT)
            took = time.monotonic() - start
        assert aia.hits["/p7"] >= 1
    assert took <= LIMIT, f"diagnose took {took:.1f} s on a 3,600-certificate AIA answer"
    attempts = d.evidence.aia
    assert attempts and all(len(a.der) <= policy.AIA_MAX_CERTS_PER_ANSWER for a in attempts)
    assert not d.path.trusted


def test_a_20_deep_aia_chain_is_chased_at_most_aia_max_hops(tmp_path):
    base = {}
    with http_server(base) as aia:
        root = TestCA("Deep Root", aia_url=None, crl_url=None, ocsp_url=None)
        cas = []
        parent = root
        for k in range(1, 21):
            ca = TestCA(f"Deep {k}", parent=parent, aia_url=aia.url_for(f"/deep{k}.der"), crl_url=None, ocsp_url=None)
            base[f"/deep{k}.der"] = ca.cert.public_bytes(serialization.Encoding.DER)
            cas.append(ca)
            parent = ca
        leaf = cas[-1].issue_cert("127.0.0.1")  # its AIA names /deep20.der, whose AIA names /deep19.der…
        ca_file = tmp_path / "root.pem"
        ca_file.write_bytes(root.cert_pem())
        with tls_server(leaf.cert, leaf.key) as srv:
            start = time.monotonic()
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=str(ca_file), timeout=TIMEOUT)
            took = time.monotonic() - start
    assert took <= LIMIT
    fetched = sum(aia.hits.values())
    assert 1 <= fetched <= policy.AIA_MAX_HOPS, aia.hits
    assert len(d.evidence.aia) <= policy.AIA_MAX_HOPS
    assert not d.path.trusted  # 20 above the leaf: never reached within the hop limit



# --------------------------------------------------------------------------- a server dripping its handshake

def _drip_handshake(conn, srv) -> None:
    """Read the ClientHello, then answer with a TLS handshake record header announcing 16 KiB and
    send its body one byte every 0.3 s: every read gets a byte well within any per-read timeout."""
    try:
        conn.recv(65536)
    except OSError:
        return
    srv.record("hello")
    try:
        conn.sendall(b"\x16\x03\x03\x40\x00")
        for _ in range(16384):
            if srv.stopping.wait(0.3):
                return
            conn.sendall(b"\x02")
    except OSError:
        return


@pytest.mark.parametrize("argv", [
    ["inspect", "{url}"],
    ["pin", "{url}"],
    ["expiry", "{url}"],
    ["revocation", "{url}"],
    ["diagnose", "{url}", "--no-cache"],
    ["diagnose", "{url}", "--no-cache", "--client", "pip"],
    ["fix", "{url}", "--out", "{out}"],
], ids=lambda a: " ".join(a[:1] + [x for x in a[2:] if x.startswith("--client") or x == "pip"]))
def test_every_connecting_command_is_bounded_by_a_handshake_dripping_server(tmp_path, capsys, argv):
    """A server that dribbles its ServerHello never completes the handshake, yet answers every read:
    only a whole-run deadline ends the command, within --timeout plus the margin, with exit code
    and message (no traceback)."""
    with tcp_server(_drip_handshake, timeout=30) as srv:
        url = f"https://127.0.0.1:{srv.port}/"
        args = [a.format(url=url, out=tmp_path / "out") for a in argv] + ["--timeout", str(TIMEOUT)]
        took, code, out, err = _timed(args, capsys)
        assert srv.received(1) == "hello"  # the command did reach the dripping server
    assert took <= LIMIT, f"{' '.join(argv[:1])} took {took:.1f} s with --timeout {TIMEOUT}"
    assert "Traceback" not in out + err
    assert code != 0, (out, err)
