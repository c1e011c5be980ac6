"""``diagnose --pin`` (issue 10, item 6): a server that fails the pin gets no request from the
real client (not the URL, not one header): the outcome is recorded as "not run: pin mismatch"
and judging stays coherent (PIN_MISMATCH, no verdict claimed, no VERDICT_UNCONFIRMED). With
the right pin the client runs as before. Real TLS servers on 127.0.0.1 (port 0) that record
every byte received after the handshake.
"""

from __future__ import annotations

import json

import pytest
from support.cli import run_cli_captured
from support.pki import TestCA, pem
from support.servers import reply, tls_server

from certdoctor.diagnose import diagnose
from certdoctor.model import CLIENTS, Code
from certdoctor.pinning.pins import pin_of_certificate, pin_of_key


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pindiag")
    root = TestCA("Pin Diagnose Root")
    leaf = root.issue_cert("127.0.0.1", cn="pinned.test")
    (d / "root.pem").write_bytes(pem(root.cert))
    return leaf, root, str(d / "root.pem")


def _other_pin():
    from cryptography.hazmat.primitives.asymmetric import ec

    return pin_of_key(ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize("client", CLIENTS)
def test_a_server_failing_the_pin_is_sent_nothing(pki, client):
    leaf, _, ca_file = pki
    wrong = _other_pin()
    with tls_server(leaf, handler=reply(b"secret")) as srv:
        d = diagnose(f"https://127.0.0.1:{srv.port}/private/path?token=1", client=client, ca_file=ca_file,
                     pins=[wrong], aia=False, revocation=False, timeout=5)
    # every connection (the probe's, and nothing else) completed its handshake and sent no byte
    assert srv.records and all(r == b"" for r in srv.records), srv.records
    assert len(srv.records) == 1  # the probe only: the real client never connected
    assert d.outcome is not None and d.outcome.not_run == "pin mismatch" and not d.outcome.ok
    assert d.outcome.error is None and d.outcome.status is None
    assert d.verifies is None and not d.ok and d.exit_code == 1
    codes = [f.code for f in d.findings]
    assert Code.PIN_MISMATCH in codes and Code.VERDICT_UNCONFIRMED not in codes
    pin = next(f for f in d.findings if f.code is Code.PIN_MISMATCH)
    assert any("not run (pin mismatch)" in e for e in pin.evidence)
    assert not any(" says: " in e for f in d.findings for e in f.evidence)  # no client spoke


def test_the_right_pin_runs_the_client(pki):
    leaf, root, ca_file = pki
    for pin in (pin_of_certificate(leaf.cert), pin_of_certificate(root.cert)):
        with tls_server(leaf, handler=reply(b"ok")) as srv:
            d = diagnose(f"https://127.0.0.1:{srv.port}/", ca_file=ca_file, pins=[_other_pin(), pin],
                         aia=False, revocation=False, timeout=5)
        assert d.ok and d.verifies is True and d.outcome.not_run is None and d.outcome.status == 200
        assert sum(r.startswith(b"GET / HTTP/1.1") for r in srv.records) == 1


def test_cli_pin_mismatch_json_and_text(pki, capsys):
    leaf, _, ca_file = pki
    wrong = _other_pin()
    with tls_server(leaf, handler=reply(b"secret")) as srv:
        url = f"https://127.0.0.1:{srv.port}/"
        code, out, _ = run_cli_captured(["diagnose", url, "--ca-file", ca_file, "--pin", wrong, "--json",
                                         "--no-aia", "--no-revocation", "--timeout", "5"], capsys)
        doc = json.loads(out)
        assert code == 1
        assert doc["client_outcome"]["not_run"] == "pin mismatch" and doc["client_outcome"]["ok"] is False
        assert doc["verdict"]["client_verifies"] is None
        assert "PIN_MISMATCH" in [f["code"] for f in doc["findings"]]
        code, out, _ = run_cli_captured(["diagnose", url, "--ca-file", ca_file, "--pin", wrong,
                                         "--no-aia", "--no-revocation", "--timeout", "5"], capsys)
        assert code == 1 and "was not run" in out and "pin mismatch" in out
    assert all(r == b"" for r in srv.records) and len(srv.records) == 2  # two probes, no request
