"""inspect, expiry, pin and revocation on an endpoint do no work they do not promise (issue 13):
counted at a real TLS server, every connection it accepts — the probe, a staple handshake
(which hangs up after the server's flight), a verified request — for each command.

  inspect, pin           one handshake (no real client, no staple)
  expiry                 the probe and the clock check's verified HEAD; --no-clock: the probe
  revocation             the probe; the staple handshake only when the leaf names an OCSP
                         responder (or --staple), never with --method crl
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from support.cli import run_cli_captured
from support.pki import NO_URLS, TestCA, pem
from support.servers import counting, http_server, tls_server


def _connections(srv, at_least: int) -> int:
    """Connections the server accepted (completed handshakes and hang-ups alike), once at least
    ``at_least`` came and a moment passed for one that should not."""
    end = time.monotonic() + 5
    while len(srv.records) + len(srv.handshake_errors) < at_least and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(0.2)
    return len(srv.records) + len(srv.handshake_errors)


@pytest.fixture
def pki(tmp_path):
    root = TestCA("Endpoint Work Root", **NO_URLS)
    (tmp_path / "root.pem").write_bytes(pem(root.cert))
    return root, str(tmp_path / "root.pem")


def _crl(ca: TestCA) -> bytes:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
            .last_update(now - dt.timedelta(hours=1)).next_update(now + dt.timedelta(days=1))
            .sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


@pytest.mark.parametrize("argv, expected", [
    (["inspect"], 1),
    (["pin"], 1),
    (["expiry"], 2),
    (["expiry", "--no-clock"], 1),
], ids=["inspect", "pin", "expiry", "expiry-no-clock"])
def test_connections_of_inspect_pin_expiry(pki, capsys, argv, expected):
    root, ca_file = pki
    leaf = root.issue_cert("127.0.0.1", cn="work.test", ocsp_url="http://127.0.0.1:9/ocsp", crl_url=None,
                           aia_url=None)  # an OCSP URL: none of these commands staples anyway
    with tls_server(leaf, handler=counting()) as srv:
        code, out, err = run_cli_captured([argv[0], f"127.0.0.1:{srv.port}", *argv[1:], "--ca-file", ca_file,
                                           "--json"], capsys)
        seen = _connections(srv, expected)
        heads = list(srv.records)
    assert code in (0, 1), err
    json.loads(out)
    assert seen == expected, (argv, heads, srv.handshake_errors)
    requests = [h for h in heads if h]
    assert len(requests) == (1 if argv == ["expiry"] else 0)  # only the clock check asks anything
    if requests:
        assert requests[0].startswith(b"HEAD ")


@pytest.mark.parametrize("ocsp, extra, expected", [
    (False, [], 1),
    (False, ["--staple"], 2),
    (True, [], 2),
    (True, ["--method", "crl"], 1),
], ids=["no-responder", "no-responder-staple-asked", "responder", "responder-method-crl"])
def test_revocation_staples_only_with_a_reason(pki, capsys, ocsp, extra, expected):
    pytest.importorskip("OpenSSL")
    root, ca_file = pki
    with http_server({"/ca.crl": _crl(root), "/ocsp": (500, {}, b"no")}) as web:
        leaf = root.issue_cert("127.0.0.1", cn="revocation-work.test", crl_url=web.url_for("/ca.crl"),
                               ocsp_url=web.url_for("/ocsp") if ocsp else None, aia_url=None)
        with tls_server(leaf, handler=counting()) as srv:
            code, out, err = run_cli_captured(["revocation", f"127.0.0.1:{srv.port}", "--ca-file", ca_file,
                                               "--allow-private-fetch", "--no-cache", "--json", *extra], capsys)
            seen = _connections(srv, expected)
    doc = json.loads(out)
    assert code == 0, (err, doc.get("findings"))
    assert seen == expected, (extra, srv.records, srv.handshake_errors)
    assert not [h for h in srv.records if h]  # revocation sends the server no request
