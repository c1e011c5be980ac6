"""gather's steps overlap (issue 13): the probe, the staple, AIA/CRL/OCSP downloads and the real
client run at the same time, and the result is the one the steps give one after the other
(``CERTDOCTOR_SEQUENTIAL=1``). Real servers on 127.0.0.1; no timing is asserted except the one
upper bound the deadline promises under a stalled step."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from support.normal import normal as _normal
from support.pki import NO_URLS, TestCA, pem
from support.servers import counting, http_server, tls_server

from certdoctor.diagnose import diagnose
from certdoctor.gather import SEQUENTIAL_ENV
from certdoctor.render.diagnose import diagnosis_json


def _both_ways(monkeypatch, *args, **kw):
    out = []
    for mode in ("1", "0"):
        monkeypatch.setenv(SEQUENTIAL_ENV, mode)
        d = diagnose(*args, **kw)
        out.append(_normal(json.loads(json.dumps(diagnosis_json(d, args[0]), default=str))))
    return out


def test_every_lab_scenario_gives_the_same_json_both_ways(lab, monkeypatch):
    from certdoctor.lab import SCENARIOS

    compared = 0
    for scenario in SCENARIOS:
        if scenario.id == "stall":  # only a timeout either way (test_stalled_crl_server_... below)
            continue
        ep = lab.endpoint(scenario.id)
        proxy = lab.proxy_url if scenario.via_proxy else None
        sequential, together = _both_ways(monkeypatch, ep.url, ca_file=str(lab.ca_file), proxy=proxy, timeout=5)
        assert sequential == together, scenario.id
        compared += 1
    assert compared >= 20


# --------------------------------------------------------------------------- a PKI of our own

def _crl(ca: TestCA, revoked: tuple[int, ...] = ()) -> bytes:
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
         .last_update(now - dt.timedelta(hours=1)).next_update(now + dt.timedelta(days=1)))
    for serial in revoked:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                      .revocation_date(now - dt.timedelta(minutes=30)).build())
    return b.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _root(tmp_path):
    root = TestCA("Concurrent Gather Root", **NO_URLS)
    (tmp_path / "root.pem").write_bytes(pem(root.cert))
    return root, str(tmp_path / "root.pem")


def _gated(body: bytes, gate: threading.Event, wait: float, outcome: list):
    """A route that answers only once ``gate`` is set (or after ``wait`` seconds), noting which."""
    def route(h) -> None:
        outcome.append("released" if gate.wait(wait) else "waited out")
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return route


@pytest.mark.parametrize("mode", ["sequential", "together"])
def test_the_real_client_runs_while_the_crl_download_waits(tmp_path, monkeypatch, mode):
    """The CRL server holds its answer until the real client's request has reached the TLS
    server: together, the client is already there; one after the other, it only comes once the
    CRL step is over, so the CRL server waits its time out first. Same verdict both ways."""
    monkeypatch.setenv(SEQUENTIAL_ENV, "1" if mode == "sequential" else "0")
    root, ca_file = _root(tmp_path)
    arrived = threading.Event()
    outcome: list[str] = []
    crl_body = _crl(root)
    with http_server({"/ca.crl": _gated(crl_body, arrived, 2.0, outcome)}) as web:
        leaf = root.issue_cert("127.0.0.1", cn="overlap.test", crl_url=web.url_for("/ca.crl"), ocsp_url=None,
                               aia_url=None)
        with tls_server(leaf, handler=counting(arrived)) as srv:
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=ca_file, timeout=10, cache=None)
    assert d.verifies is True and not d.errors, [f.code for f in d.findings]
    assert d.evidence.revocation is not None and [f.method for f in d.evidence.revocation.fetches] == ["crl"]
    assert outcome == (["waited out"] if mode == "sequential" else ["released"])


@pytest.mark.parametrize("ocsp_url", [None, "http://127.0.0.1:9/ocsp"], ids=["no-ocsp-url", "ocsp-url"])
def test_the_staple_handshake_only_when_the_leaf_names_a_responder(tmp_path, ocsp_url):
    """Counted at the server: the probe and the real client always; the pyOpenSSL staple
    handshake only for a leaf with an OCSP URL (or ``staple=True``), never with revocation off.
    (The staple handshake reads the server's flight and hangs up: the server sees a handshake
    that does not complete, so connections are counted, not completed handshakes.)"""
    pytest.importorskip("OpenSSL")
    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="staple.test", ocsp_url=ocsp_url, crl_url=None, aia_url=None)
    runs = {"default": {}, "asked": {"staple": True}, "no revocation": {"revocation": False}}
    silent = {}
    for name, kw in runs.items():
        with tls_server(leaf, handler=counting()) as srv:
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=ca_file, timeout=5, cache=None, **kw)
            assert d.verifies is True
            want = 3 if _expect_staple(ocsp_url, kw) else 2
            end = time.monotonic() + 5
            while len(srv.records) + len(srv.handshake_errors) < want and time.monotonic() < end:
                time.sleep(0.02)
            time.sleep(0.2)  # a connection that should not happen would have arrived by now
            heads = list(srv.records)
            silent[name] = sum(1 for h in heads if not h) + len(srv.handshake_errors)
        assert sum(1 for h in heads if h.startswith(b"GET ")) == 1, name  # the real client, once
        assert d.probe.ocsp_requested is _expect_staple(ocsp_url, kw), name
    assert silent == {"default": 2 if ocsp_url else 1, "asked": 2, "no revocation": 1}


def _expect_staple(ocsp_url, kw) -> bool:
    if kw.get("revocation") is False:
        return False
    return bool(ocsp_url) or kw.get("staple") is True


def test_a_staple_saying_revoked_leaves_out_the_downloads_made_ahead(tmp_path, monkeypatch):
    """With the staple under way the CRL and OCSP downloads start at once; a source that
    decides first (here the CRL: REVOKED) makes the OCSP download one the sequential order never
    made, so it is not in the evidence: both ways give the same fetches."""
    root, ca_file = _root(tmp_path)
    with http_server({}) as web:
        leaf = root.issue_cert("127.0.0.1", cn="revoked.test", crl_url=web.url_for("/ca.crl"),
                               ocsp_url=web.url_for("/ocsp"), aia_url=None)
        web.routes["/ca.crl"] = _crl(root, revoked=(leaf.cert.serial_number,))
        web.routes["/ocsp"] = (500, {}, b"no")
        with tls_server(leaf, handler=counting()) as srv:
            url = f"https://127.0.0.1:{srv.port}/"
            sequential, together = _both_ways(monkeypatch, url, ca_file=ca_file, timeout=5, cache=None)
    assert sequential == together
    codes = [f["code"] for f in together["findings"]]
    assert "REVOKED" in codes, codes


def test_a_stalled_crl_server_is_cut_off_by_the_deadline(tmp_path, monkeypatch):
    """The CRL server never answers: the whole diagnosis still ends by --timeout (plus the
    unwinding of its threads), the real client's verdict is in, and the CRL step says it ran out."""
    monkeypatch.setenv(SEQUENTIAL_ENV, "0")
    root, ca_file = _root(tmp_path)
    never = threading.Event()
    seen: list[str] = []
    try:
        with http_server({"/ca.crl": _gated(b"", never, 30.0, seen)}) as web:
            leaf = root.issue_cert("127.0.0.1", cn="stall.test", crl_url=web.url_for("/ca.crl"), ocsp_url=None,
                                   aia_url=None)
            with tls_server(leaf, handler=counting()) as srv:
                started = time.monotonic()
                d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=ca_file, timeout=2, cache=None)
                took = time.monotonic() - started
                never.set()  # let the server's handler go before the server stops
    finally:
        never.set()
    assert took < 2 + 1.5, took
    assert d.verifies is True  # the real client ran alongside and answered
    fetches = d.evidence.revocation.fetches
    assert fetches and fetches[0].method == "crl" and fetches[0].error, fetches


def test_the_overlapped_run_prints_no_library_warning(tmp_path):
    """The command as a user runs it, in a process of its own: stdout is the JSON, stderr is
    empty. (Reading a CA bundle swaps the process's warning filters for a while; done while
    another thread imports requests, requests' silencing of urllib3's DependencyWarning was lost
    and the warning printed: the anchors are read after the client's library is imported.)"""
    import os
    import subprocess
    import sys

    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="quiet.test", ocsp_url=None, crl_url=None, aia_url=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS") and k != SEQUENTIAL_ENV}
    with tls_server(leaf, handler=counting()) as srv:
        for _ in range(3):
            p = subprocess.run([sys.executable, "-m", "certdoctor", "diagnose", f"https://127.0.0.1:{srv.port}/",
                                "--ca-file", ca_file, "--json", "--no-cache"], capture_output=True, text=True,
                               env=env, timeout=60)
            assert p.returncode == 0, p.stderr
            assert json.loads(p.stdout)["verdict"]["client_verifies"] is True
            assert p.stderr == ""


def test_diagnose_json_without_click_prints_what_click_prints(tmp_path, capsys):
    """The same command line through certdoctor.cli.fast and through click: the same JSON
    (durations and the clock aside) and exit code, against a real server."""
    from certdoctor.cli.common import run
    from certdoctor.cli.fast import main as fast_main
    from certdoctor.cli.main import cli

    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="fast.test", ocsp_url=None, crl_url=None, aia_url=None)
    with tls_server(leaf, handler=counting()) as srv:
        argv = ["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", ca_file, "--json", "--no-cache",
                "--timeout", "5"]
        fast_code = fast_main(list(argv))
        fast = capsys.readouterr()
        slow_code = run(cli, list(argv))
        slow = capsys.readouterr()
    assert fast_code == slow_code == 0
    assert fast.err == slow.err == ""
    assert _normal(json.loads(fast.out)) == _normal(json.loads(slow.out))


def test_diagnose_text_without_click_prints_what_click_prints(tmp_path, capsys):
    """The text output (no --json) also runs without click: the same lines and exit code as
    click's path, against a real server, and a wrong store refused the same way."""
    from certdoctor.cli.common import run
    from certdoctor.cli.fast import main as fast_main
    from certdoctor.cli.main import cli

    root, ca_file = _root(tmp_path)
    other = TestCA("Text Path Other Root", **NO_URLS)
    (tmp_path / "other.pem").write_bytes(pem(other.cert))
    leaf = root.issue_cert("127.0.0.1", cn="text.test", ocsp_url=None, crl_url=None, aia_url=None)
    with tls_server(leaf, handler=counting()) as srv:
        for store, want in ((ca_file, 0), (str(tmp_path / "other.pem"), 1)):
            argv = ["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", store, "--no-cache", "--timeout", "5"]
            fast_code = fast_main(list(argv))
            fast = capsys.readouterr()
            slow_code = run(cli, list(argv))
            slow = capsys.readouterr()
            assert fast_code == slow_code == want, (fast.err, slow.err)
            assert fast.err == slow.err == ""
            assert fast.out == slow.out and "certdoctor diagnose https://127.0.0.1:" in fast.out
