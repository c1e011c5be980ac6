"""Webhooks against real HTTP servers on 127.0.0.1: one POST per transition with the JSON event,
retries after 500s, a stalled hook that neither blocks the run past its drain deadline nor goes
unreported, and credentials that never appear unredacted in any output."""

from __future__ import annotations

import base64
import json
import time

import pytest

from certdoctor import policy
from certdoctor.monitor.config import Defaults, endpoint
from certdoctor.monitor.run import RunReport, monitor
from certdoctor.monitor.state import State
from support import hostile
from support.cli import run_cli_captured
from support.pki import TestCA, pem, self_signed
from support.servers import closed_port, server_context


@pytest.fixture
def pki(tmp_path):
    root = TestCA("Hook Root")
    inter = root.intermediate("Hook Inter")
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))
    return inter, str(ca)


def _status(code: int):
    def handle(h) -> None:
        h.send_response(code)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handle


def test_one_post_per_transition_with_the_event(tmp_path, servers, pki):
    inter, ca = pki
    srv = servers.tls(inter.issue_cert("127.0.0.1"))
    web = servers.http({"/hook": (200, {}, b"ok")})
    url = web.url_for("/hook")
    spec = endpoint(f"127.0.0.1:{srv.port}", Defaults(ca_file=ca, labels=(("team", "web"),)), webhook=url)
    with State.open(tmp_path / "s.sqlite") as st:
        report = RunReport()
        [first] = monitor([spec], state=st, report=report)
        assert [t.kind for t in first.transitions] == ["new_target"] and first.status == "ok"
        assert web.records == [] and report.webhooks_sent == 0  # a new target that is fine is no news

        srv.tls = server_context(self_signed("127.0.0.1"))
        report = RunReport()
        [row] = monitor([spec], state=st, report=report)
    assert len(row.transitions) >= 4
    assert report.webhooks_sent == len(row.transitions) and report.webhook_errors == []
    assert len(web.records) == len(row.transitions)  # delivered before monitor() returned
    events = [json.loads(r.body) for r in web.records]
    assert all(r.method == "POST" and r.headers["Content-Type"] == "application/json" for r in web.records)
    assert sorted(e["kind"] for e in events) == sorted(t.kind for t in row.transitions)
    for e in events:
        assert e["event_version"] == 1 and e["target"] == spec.input and e["labels"] == {"team": "web"}
        assert e["old"]["status"] == "ok" and e["old"]["verified"] is True
        assert e["new"]["status"] == "critical" and e["new"]["verified"] is False
        assert e["old"]["leaf"]["fingerprint_sha256"] == first.leaf.fingerprint_sha256
        assert e["new"]["leaf"]["fingerprint_sha256"] == row.leaf.fingerprint_sha256
        assert e["transition"]["kind"] == e["kind"] and e["status"] == "critical"
        assert {f["code"] for f in e["findings"]} >= {row.reason}
        assert e["certificates"][0]["fingerprint_sha256"] == row.leaf.fingerprint_sha256


def test_a_hook_answering_500_twice_then_200_gets_the_event_with_retries(tmp_path, servers, pki):
    _, ca = pki
    srv = servers.tls(self_signed("127.0.0.1"))
    calls: list[float] = []

    def flaky(h) -> None:
        calls.append(time.monotonic())
        _status(500 if len(calls) <= 2 else 200)(h)

    web = servers.http({"/hook": flaky})
    report = RunReport()
    with State.open(tmp_path / "s.sqlite") as st:
        [row] = monitor([endpoint(f"127.0.0.1:{srv.port}", Defaults(ca_file=ca))], state=st, report=report,
                        webhooks=[web.url_for("/hook")])
    assert row.status == "critical" and [t.kind for t in row.transitions] == ["new_target"]
    assert len(calls) == 3 and report.webhooks_sent == 1 and report.webhook_errors == []
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    want = policy.WEBHOOK_BACKOFF_SECONDS
    assert gaps[0] >= want[0] * 0.9 and gaps[1] >= want[1] * 0.9, gaps  # the backoff was waited


def test_a_hook_that_always_fails_is_reported_after_its_tries(tmp_path, servers, pki):
    _, ca = pki
    srv = servers.tls(self_signed("127.0.0.1"))
    web = servers.http({"/hook": _status(503), "/gone": _status(404)})
    report = RunReport()
    with State.open(tmp_path / "s.sqlite") as st:
        [row] = monitor([endpoint(f"127.0.0.1:{srv.port}", Defaults(ca_file=ca))], state=st, report=report,
                        webhooks=[web.url_for("/hook"), web.url_for("/gone")])
    assert row.status == "critical"  # the run and its row are whole
    by = {e.webhook.rsplit("/", 1)[1]: e for e in report.webhook_errors}
    assert by["hook"].tries == policy.WEBHOOK_TRIES and by["hook"].error == "HTTP 503"
    assert by["gone"].tries == 1 and by["gone"].error == "HTTP 404"  # a 4xx is not retried
    assert web.hits["/hook"] == policy.WEBHOOK_TRIES and web.hits["/gone"] == 1


def test_a_stalled_hook_never_holds_the_run_past_its_drain_deadline(tmp_path, servers, pki, capsys, monkeypatch):
    _, ca = pki
    srv = servers.tls(self_signed("127.0.0.1"))
    stall = servers.tcp(hostile.stall, timeout=60)
    monkeypatch.setattr(policy, "WEBHOOK_DRAIN_SECONDS", 2.0)
    t0 = time.monotonic()
    rc, out, err = run_cli_captured(["monitor", f"127.0.0.1:{srv.port}", "--ca-file", ca, "--json",
                                     "--state", str(tmp_path / "s.sqlite"),
                                     "--webhook", f"http://127.0.0.1:{stall.port}/hook"], capsys)
    took = time.monotonic() - t0
    assert rc == 2, err
    assert took < 2.0 + 4.0, took  # the row, then at most the drain deadline (and some slack)
    assert policy.WEBHOOK_TIMEOUT_SECONDS > 2.0  # so the one try was still in flight at the deadline
    doc = json.loads(out)
    [e] = doc["webhook_errors"]
    assert e["kind"] == "new_target" and "not delivered within 2 s" in e["error"]
    assert len(doc["rows"]) == 1 and doc["rows"][0]["status"] == "critical"
    assert "warning: webhook http://127.0.0.1:" in err and "not delivered" in err


SECRETS = ("s3cretpass", "hunter2user", "T0kenValue9", "AbCdEf0123456789xyzSEG")


def test_credentials_in_webhook_urls_never_appear_in_any_output(tmp_path, servers, pki, capsys):
    _, ca = pki
    srv = servers.tls(self_signed("127.0.0.1"))
    web = servers.http({"/hook": _status(500)})
    with_userinfo = f"http://hunter2user:s3cretpass@127.0.0.1:{web.port}/hook?token=T0kenValue9&team=web"
    with_path_token = f"http://127.0.0.1:{closed_port()}/services/AbCdEf0123456789xyzSEG?sig=T0kenValue9"
    outputs, docs = [], []
    for i, mode in enumerate((["--json"], ["--jsonl"], [])):
        rc, out, err = run_cli_captured(["monitor", f"127.0.0.1:{srv.port}", "--ca-file", ca, *mode,
                                         "--state", str(tmp_path / f"s{i}.sqlite"),
                                         "--webhook", with_userinfo, "--webhook", with_path_token], capsys)
        assert rc == 2, err
        outputs.append(out + err)
        if mode == ["--json"]:
            docs.append(json.loads(out))
        assert err.count("warning: webhook") == 2, err  # both failures reported, in every mode
        assert "http://***@127.0.0.1:" in err and "token=***" in err and "/services/***?sig=***" in err
    # the credentials were used (HTTP Basic), and never shown
    auth = web.records[0].headers["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"hunter2user:s3cretpass"
    assert len(docs[0]["webhook_errors"]) == 2
    for text in outputs:
        for secret in SECRETS:
            assert secret not in text, (secret, text)
    # a bad URL is refused with the URL redacted too
    rc, out, err = run_cli_captured(["monitor", f"127.0.0.1:{srv.port}", "--webhook",
                                     "ftp://hunter2user:s3cretpass@example.org/x"], capsys)
    assert rc == 3 and err.startswith("error: webhook ftp://***@example.org/x") and "s3cretpass" not in err
    conf = tmp_path / "m.toml"
    conf.write_text('[defaults]\nwebhook = ["gopher://hunter2user:s3cretpass@h/"]\n[[endpoint]]\ntarget = "h"\n')
    rc, out, err = run_cli_captured(["monitor", "--config", str(conf)], capsys)
    assert rc == 3 and f"{conf}:2" in err and "s3cretpass" not in err and "***@h" in err
    rc, out, err = run_cli_captured(["monitor", f"127.0.0.1:{srv.port}", "--no-state", "--webhook",
                                     with_userinfo], capsys)
    assert rc == 3 and "needs the state" in err and "s3cretpass" not in err
