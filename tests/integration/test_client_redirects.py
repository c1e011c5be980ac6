"""No client run follows a redirect (issue 10, item 6): ``diagnose --client X`` against a server
that answers ``302 Location:`` another host (plain http, or https under another name) asks the
redirecting server once and nobody else; the 302 is a TLS success with its status recorded.

Real servers on 127.0.0.1, port 0; the redirect targets record every byte they receive, and a
control (urllib's default opener) shows they would have received the followed request.
"""

from __future__ import annotations

import ssl
import urllib.request

import pytest
from support.cli import run_cli
from support.pki import TestCA, pem
from support.servers import http_server, reply, tls_server

from certdoctor.diagnose import diagnose
from certdoctor.model import CLIENTS
from certdoctor.net.resolve import override


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("redirects")
    root = TestCA("Redirect Root")
    leaf = root.issue_cert("127.0.0.1", "origin.test", "other-host.test", cn="origin.test")
    (d / "root.pem").write_bytes(pem(root.cert))
    return leaf, str(d / "root.pem")


def _redirect(location):
    return reply(b"moved", status=f"302 Found\r\nLocation: {location}")


@pytest.fixture
def targets(pki):
    """(plain http server, https server for other-host.test), both recording what they get."""
    leaf, _ = pki
    with override({"other-host.test": "127.0.0.1", "origin.test": "127.0.0.1"}), \
            http_server({"/": b"plain"}) as plain, tls_server(leaf, handler=reply(b"other")) as other:
        yield plain, other


def _locations(plain, other):
    return [f"http://127.0.0.1:{plain.port}/", f"https://other-host.test:{other.port}/"]


def test_control_urllibs_default_opener_would_follow(pki, targets):
    leaf, ca_file = pki
    plain, other = targets
    with tls_server(leaf, handler=_redirect(_locations(plain, other)[0])) as srv:
        ctx = ssl.create_default_context(cafile=ca_file)
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx))
        with opener.open(f"https://127.0.0.1:{srv.port}/", timeout=5) as resp:
            assert resp.read() == b"plain"  # downgraded to http and followed: what diagnose must not do
    assert [r.path for r in plain.records] == ["/"]


@pytest.mark.parametrize("which", ["http", "other-host"])
@pytest.mark.parametrize("client", CLIENTS)
def test_no_client_run_follows_a_redirect(pki, targets, client, which):
    leaf, ca_file = pki
    plain, other = targets
    location = _locations(plain, other)[0 if which == "http" else 1]
    with tls_server(leaf, handler=_redirect(location)) as srv:
        d = diagnose(f"https://origin.test:{srv.port}/", client=client, ca_file=ca_file, aia=False,
                     revocation=False, timeout=5)
    # the probe's handshake (no byte sent) and the client's one request: the origin was asked once
    assert len(srv.records) == 2 and b"" in srv.records, srv.records
    asked = [r for r in srv.records if r]
    assert len(asked) == 1 and asked[0].startswith(b"GET / HTTP/1.1"), srv.records
    assert d.outcome is not None and d.outcome.ok, d.outcome
    assert d.outcome.status == 302  # a redirect is a TLS success: its status is the record
    assert plain.records == []      # plain http: not one request
    assert other.records == []      # the other host: not one connection that sent a byte
    assert not other.handshake_errors


def test_cli_diagnose_urllib_json_records_the_302(pki, targets, capsys):
    import json

    leaf, ca_file = pki
    plain, other = targets
    with tls_server(leaf, handler=_redirect(_locations(plain, other)[0])) as srv:
        code = run_cli(["diagnose", f"https://origin.test:{srv.port}/", "--client", "urllib", "--ca-file", ca_file,
                        "--no-aia", "--no-revocation", "--json", "--timeout", "5"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["client_outcome"]["ok"] is True and doc["client_outcome"]["status"] == 302
    assert plain.records == []
