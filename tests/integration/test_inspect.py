"""``certdoctor inspect`` on hosts: lab endpoints, a refused port, proxies.

Files, targets and the renderers (no socket): tests/unit/test_inspect.py.
"""

from __future__ import annotations

import json

from support.servers import closed_port

from certdoctor.cli.common import run
from certdoctor.cli.main import cli


def inspect(capsys, *args: str) -> tuple[int, str, str]:
    rc = run(cli, ["inspect", *args])
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- the command on hosts (lab)

def _host_json(capsys, lab, scenario: str, *extra: str) -> dict:
    ep = lab.endpoint(scenario)
    rc, out, err = inspect(capsys, f"{ep.hostname}:{ep.port}", "--json", "--timeout", "5", *extra)
    assert rc == 0, err
    return json.loads(out)


def test_inspect_lab_good(lab, capsys):
    doc = _host_json(capsys, lab, "good")
    ep = lab.endpoint("good")
    assert doc["source"] == {"kind": "host", "name": f"{ep.hostname}:{ep.port}", "format": "tls",
                             "host": ep.hostname, "port": ep.port, "servername": ep.hostname}
    assert doc["hostname_match"] is True
    assert doc["chain"]["in_order"] is True and doc["chain"]["root_included"] is False
    assert [c["role"] for c in doc["certificates"]] == ["leaf", "intermediate"]


def test_inspect_lab_human_and_url(lab, capsys):
    ep = lab.endpoint("good")
    rc, out, err = inspect(capsys, f"https://{ep.hostname}:{ep.port}/some/path")
    assert rc == 0, err
    assert "the server presents 2 certificates" in out and "the leaf covers" in out


def test_inspect_lab_broken_chains_are_shown(lab, capsys):
    doc = _host_json(capsys, lab, "wrong_order")
    assert doc["chain"]["in_order"] is False and doc["chain"]["root_included"] is True
    assert doc["chain"]["suggested_order"][0] == 0
    doc = _host_json(capsys, lab, "extra_cert")
    assert doc["chain"]["off_path"]
    doc = _host_json(capsys, lab, "expired_leaf")
    assert doc["certificates"][0]["expired"] is True
    doc = _host_json(capsys, lab, "hostname_mismatch")
    assert doc["hostname_match"] is False
    doc = _host_json(capsys, lab, "self_signed")
    assert doc["certificates"][0]["self_signed"] is True and doc["certificates"][0]["role"] == "self-signed"


def test_inspect_lab_servername(lab, capsys):
    ep = lab.endpoint("good")
    rc, out, err = inspect(capsys, f"127.0.0.1:{ep.port}", "--servername", ep.hostname, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["source"]["servername"] == ep.hostname and doc["hostname_match"] is True


def test_inspect_network_failure_exits_1(capsys):
    port = closed_port()  # a port that was free a moment ago: connection refused
    rc, out, err = inspect(capsys, f"127.0.0.1:{port}", "--timeout", "2")
    assert rc == 1 and err.startswith("error: ") and "Traceback" not in err and out == ""


def _root_subject(doc: dict) -> str:
    return doc["certificates"][-1]["subject"]


def test_inspect_lab_through_the_proxy_option(lab, capsys):
    doc = _host_json(capsys, lab, "good", "--proxy", lab.proxy_url)
    assert "Intercept" in _root_subject(doc)  # the interceptor answered: the traffic went through it
    assert "Intercept" not in _root_subject(_host_json(capsys, lab, "good"))


def test_inspect_lab_follows_https_proxy_and_no_proxy(lab, capsys, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", lab.proxy_url)
    assert "Intercept" in _root_subject(_host_json(capsys, lab, "good"))
    monkeypatch.setenv("NO_PROXY", ".lab.test")
    doc = _host_json(capsys, lab, "good")
    assert "Intercept" not in _root_subject(doc)
    assert [c["role"] for c in doc["certificates"]] == ["leaf", "intermediate"]
