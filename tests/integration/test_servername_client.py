"""--servername with an IP target (issue 9, item 5): the real-client run of diagnose and the proof
of fix connect to 127.0.0.1:PORT, send the servername as SNI and check the certificate against
it, for every client — and a servername the certificate does not cover still fails."""

from __future__ import annotations

import json

import pytest

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.diagnose import diagnose
from certdoctor.model import CLIENTS, Code
from certdoctor.net.client import run_client
from certdoctor.remedies.fix import fix
from certdoctor.trust.effective import effective_trust

NO_ENV = {"PIP_CONFIG_FILE": "/dev/null"}


@pytest.mark.parametrize("client", CLIENTS)
def test_diagnose_ip_target_with_servername_is_verified_by_the_real_client(lab, client):
    ep = lab.endpoint("good")
    d = diagnose(f"127.0.0.1:{ep.port}", servername=ep.hostname, client=client, ca_file=str(lab.ca_file),
                 environ=NO_ENV, timeout=5)
    codes = {f.code for f in d.findings}
    assert d.verifies is True, d.findings
    assert Code.VERDICT_UNCONFIRMED not in codes and Code.HOSTNAME_MISMATCH not in codes
    assert d.target.url == f"https://127.0.0.1:{ep.port}/"  # connected to the address


@pytest.mark.parametrize("client", CLIENTS)
def test_the_servername_is_what_the_real_client_checks(lab, client):
    """Not a switched-off hostname check: a servername the leaf does not cover fails in the real
    client with OpenSSL's own mismatch, and without a servername the IP is checked."""
    ep = lab.endpoint("good")
    trust = effective_trust(client, ca_file=str(lab.ca_file), environ=NO_ENV)
    url = f"https://127.0.0.1:{ep.port}/"
    ok = run_client(client, url, trust, timeout=5, servername=ep.hostname)
    assert ok.ok is True and ok.status is not None, ok.error
    wrong = run_client(client, url, trust, timeout=5, servername="nobody.example")
    assert wrong.ok is False and "Hostname mismatch" in (wrong.error or ""), wrong.error
    bare = run_client(client, url, trust, timeout=5)
    assert bare.ok is False and "IP address mismatch" in (bare.error or ""), bare.error
    d = diagnose(url, servername="nobody.example", client=client, ca_file=str(lab.ca_file), environ=NO_ENV, timeout=5)
    assert d.verifies is False and d.primary.code is Code.HOSTNAME_MISMATCH


@pytest.mark.parametrize("client", CLIENTS)
def test_fix_ip_target_with_servername_is_proven(lab, tmp_path, client):
    ep = lab.endpoint("missing_intermediate")
    r = fix(f"127.0.0.1:{ep.port}", tmp_path, servername=ep.hostname, client=client, ca_file=str(lab.ca_file),
            environ=NO_ENV, timeout=5)
    assert r.bundle, r.statements
    assert r.proven is True and all(p.ok for p in r.proofs), r.proofs
    assert {p.client for p in r.proofs} >= {"requests", "httpx"} | ({"pip"} if client == "pip" else set())
    assert not any("NOT a fix" in s or "not a fix" in s for s in r.statements)


def test_fix_cli_ip_target_with_servername(lab, tmp_path, capsys):
    ep = lab.endpoint("missing_intermediate")
    code = run(cli, ["fix", f"127.0.0.1:{ep.port}", "--servername", ep.hostname, "--ca-file", str(lab.ca_file),
                     "--out", str(tmp_path), "--timeout", "5", "--json"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert code == 0 and doc["proven"] is True, out[-2000:]
    assert all(p["ok"] for p in doc["proofs"])


def test_diagnose_cli_ip_target_with_servername(lab, capsys):
    ep = lab.endpoint("good")
    code = run(cli, ["diagnose", f"127.0.0.1:{ep.port}", "--servername", ep.hostname,
                     "--ca-file", str(lab.ca_file), "--timeout", "5", "--json"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert code == 0, out[-2000:]
    assert "VERDICT_UNCONFIRMED" not in {f["code"] for f in doc["findings"]}


@pytest.mark.parametrize("client", CLIENTS)
def test_servername_through_a_connect_proxy(servers, tmp_path, client):
    """Through a proxy the tunnel goes to the IP and the handshake still names the servername
    (httpcore's tunnel ignores sni_hostname: certdoctor's httpx run must not)."""
    from support.pki import TestCA
    from support.servers import connect_proxy, server_context

    ca = TestCA()
    srv = servers.http({"/": b"ok"}, tls=server_context(ca.intermediate().issue_cert("named.example")))
    proxy = servers.tcp(connect_proxy())
    root = tmp_path / "root.pem"
    root.write_bytes(ca.cert_pem())
    url, via = f"https://127.0.0.1:{srv.port}/", f"http://127.0.0.1:{proxy.port}"
    trust = effective_trust(client, ca_file=str(root), environ=NO_ENV)
    ok = run_client(client, url, trust, proxy=via, timeout=5, servername="named.example")
    assert ok.ok is True and ok.status == 200, ok.error
    wrong = run_client(client, url, effective_trust(client, ca_file=str(root), environ=NO_ENV), proxy=via,
                       timeout=5, servername="other.example")
    assert wrong.ok is False and "Hostname mismatch" in (wrong.error or ""), wrong.error
    assert f"127.0.0.1:{srv.port}" in proxy.records  # it did go through the proxy, to the address
    d = diagnose(url, servername="named.example", client=client, ca_file=str(root), proxy=via, environ=NO_ENV,
                 timeout=5, revocation=False)
    assert d.verifies is True, d.findings
