"""expiry on endpoints: lab scenarios, a refused port, and a TLS server on 127.0.0.1 that sends a
wrong ``Date`` (clock skew). Files, states and exit codes: tests/unit/test_expiry.py.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json

from cryptography.hazmat.primitives import serialization
from support.pki import TestCA
from support.servers import closed_port, http_server, server_context

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.expiry import State, check_expiry
from certdoctor.model import Code

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- certificates

def _chain_file(tmp_path, days_left: int) -> str:
    """root -> intermediate -> leaf (``support.pki``), the leaf with ``days_left`` whole days at NOW."""
    na = NOW + dt.timedelta(days=days_left, hours=1)
    root = TestCA("Expiry Root", not_before=NOW - 900 * DAY, not_after=NOW + 3000 * DAY)
    inter = root.intermediate("Expiry Intermediate", not_before=NOW - 400 * DAY, not_after=NOW + 1500 * DAY)
    path = tmp_path / "chain.pem"
    path.write_bytes(inter.issue_cert("www.example.com", not_before=na - 90 * DAY, not_after=na)
                     .chain_pem(with_root=True))
    return str(path)


# --------------------------------------------------------------------------- endpoints

def test_an_unreachable_endpoint_is_unknown(tmp_path):
    port = closed_port()  # nothing listens there now
    rep = check_expiry([f"127.0.0.1:{port}", _chain_file(tmp_path, 84)], now=NOW, timeout=3)
    assert rep.sources[0].state is State.UNKNOWN and rep.sources[0].kind == "endpoint"
    assert rep.sources[0].error and rep.sources[1].state is State.OK
    assert rep.exit_code == 3


def DateServer(chain, date_offset: dt.timedelta):
    """A TLS HTTP server on 127.0.0.1 (``support.servers``) answering every request with a chosen
    ``Date``. ``received()`` gives every request that reached it (``.requestline``)."""
    def answer(h) -> None:
        date = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + date_offset, usegmt=True)
        h.send_response_only(200)  # no Date of its own: only the chosen one
        h.send_header("Date", date)
        h.send_header("Content-Length", "0")
        h.send_header("Connection", "close")
        h.end_headers()

    ctx = server_context(chain)  # an Issued: leaf and intermediate, its key
    return http_server({"/": answer}, tls=ctx, timeout=3)


def _server_chain():
    now = dt.datetime.now(dt.timezone.utc)
    root = TestCA("Expiry Root", not_before=now - 900 * DAY)
    inter = root.intermediate("Expiry Intermediate", not_before=now - 400 * DAY)
    return inter.issue_cert("127.0.0.1", cn="skew.test", not_before=now - 10 * DAY, not_after=now + 80 * DAY)


def test_clock_skew_is_measured_over_a_verified_connection_and_flagged(tmp_path):
    chain = _server_chain()
    ca = tmp_path / "root.pem"
    ca.write_bytes(chain.root.public_bytes(serialization.Encoding.PEM))
    with DateServer(chain, dt.timedelta(hours=1)) as srv:
        rep = check_expiry([f"https://127.0.0.1:{srv.port}/status?x=1"], ca_file=ca, timeout=5)
        assert srv.received(timeout=5).requestline == "HEAD /status?x=1 HTTP/1.1"
    src = rep.sources[0]
    assert src.clock is not None and src.clock.flagged
    assert 3590 <= src.clock.skew_seconds <= 3610
    assert Code.CLOCK_SKEW in [f.code for f in src.findings]
    assert src.state is State.WARNING and rep.exit_code == 1 and "clock skew" in rep.summary


def test_clock_skew_small_is_not_flagged(tmp_path):
    chain = _server_chain()
    ca = tmp_path / "root.pem"
    ca.write_bytes(chain.root.public_bytes(serialization.Encoding.PEM))
    with DateServer(chain, dt.timedelta(0)) as srv:
        rep = check_expiry([f"127.0.0.1:{srv.port}"], ca_file=ca, timeout=5)
    clock = rep.sources[0].clock
    assert clock.skew_seconds is not None and abs(clock.skew_seconds) < 5 and not clock.flagged
    assert rep.state is State.OK


def test_clock_skew_is_unknown_and_no_request_is_sent_when_the_chain_does_not_verify():
    chain = _server_chain()
    with DateServer(chain, dt.timedelta(hours=5)) as srv:
        rep = check_expiry([f"127.0.0.1:{srv.port}"], timeout=5)  # default store: the root is unknown
        assert srv.records == []  # never read a Date over an unverified connection
    clock = rep.sources[0].clock
    assert clock.skew_seconds is None and not clock.flagged and "does not verify" in clock.note
    assert rep.state is State.OK and Code.CLOCK_SKEW not in [f.code for f in rep.sources[0].findings]


def test_lab_endpoints_through_the_cli(lab, capsys):
    good = lab.endpoint("good").url
    expired = lab.endpoint("expired_leaf").url
    soon = lab.endpoint("expiring_soon").url
    ca = str(lab.ca_file)

    assert run(cli, ["expiry", good, "--ca-file", ca]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CERT OK - 2 certificates in 1 chain, soonest good.lab.test expires in ")
    assert "in step" in out  # the Date was read over the verified connection

    assert run(cli, ["expiry", expired, "--ca-file", ca]) == 2
    out = capsys.readouterr().out
    assert out.startswith("CERT CRITICAL - 2 certificates in 1 chain, expired-leaf.lab.test expired 10 days ago")
    assert "days_left=-10;30;7" in out.splitlines()[0]

    # 4 full days left: WARNING with the default --warn-days 30 once --crit-days is below it
    assert run(cli, ["expiry", soon, "--crit-days", "3"]) == 1
    assert capsys.readouterr().out.startswith("CERT WARNING - 2 certificates in 1 chain, soonest expiring-soon.lab.test expires in 4 days")
    # ...and CRITICAL with the default --crit-days 7 (4 < 7)
    assert run(cli, ["expiry", soon]) == 2
    capsys.readouterr()


def test_lab_many_endpoints_in_one_run_json(lab, capsys):
    ids = ["good", "expired_leaf", "expiring_soon", "good_rsa", "not_yet_valid", "stall"]
    urls = [lab.endpoint(i).url for i in ids]
    assert run(cli, ["expiry", "--json", "--timeout", "2", "--ca-file", str(lab.ca_file), *urls]) == 2
    doc = json.loads(capsys.readouterr().out)
    states = {s["source"]: s["state"] for s in doc["sources"]}
    assert [states[u] for u in urls] == ["OK", "CRITICAL", "CRITICAL", "OK", "CRITICAL", "UNKNOWN"]
    by = {s["source"]: s for s in doc["sources"]}
    assert by[urls[0]]["clock"]["skew_seconds"] is not None
    assert by[urls[1]]["clock"]["skew_seconds"] is None  # expired: does not verify, skew unknown
    assert by[urls[5]]["error"] and by[urls[5]]["certs"] == []


def _expiry_json(capsys, *argv: str) -> tuple[int, dict]:
    rc = run(cli, ["expiry", "--json", "--timeout", "5", *argv])
    return rc, json.loads(capsys.readouterr().out)


def test_lab_proxy_option_reads_the_interceptors_chain_and_date(lab, capsys):
    good = lab.endpoint("good").url
    rc, doc = _expiry_json(capsys, good, "--proxy", lab.proxy_url, "--ca-file", str(lab.proxy_ca_file))
    src = doc["sources"][0]
    assert rc == 0 and "Intercept" in src["certs"][-1]["subject"]
    # the HEAD for the Date went through the proxy too, verified against the interceptor's root
    assert src["clock"]["skew_seconds"] is not None and str(lab.proxy_ca_file) in src["clock"]["note"]
    # verification stays on through the proxy: the lab CA does not vouch for the interceptor
    rc, doc = _expiry_json(capsys, good, "--proxy", lab.proxy_url, "--ca-file", str(lab.ca_file))
    assert doc["sources"][0]["clock"]["skew_seconds"] is None
    assert "does not verify" in doc["sources"][0]["clock"]["note"]


def test_lab_https_proxy_env_and_no_proxy(lab, monkeypatch, capsys):
    good = lab.endpoint("good").url
    monkeypatch.setenv("HTTPS_PROXY", lab.proxy_url)
    _, doc = _expiry_json(capsys, good, "--ca-file", str(lab.ca_file))
    assert "Intercept" in doc["sources"][0]["certs"][-1]["subject"]
    monkeypatch.setenv("NO_PROXY", ".lab.test")
    rc, doc = _expiry_json(capsys, good, "--ca-file", str(lab.ca_file))
    src = doc["sources"][0]
    assert rc == 0 and "Intercept" not in src["certs"][-1]["subject"]
    assert src["clock"]["skew_seconds"] is not None  # direct, verified against the lab CA
    # the library's proxy= wins over NO_PROXY, like --proxy
    rep = check_expiry([good], timeout=5, ca_file=lab.ca_file, proxy=lab.proxy_url)
    assert "Intercept" in rep.sources[0].certs[-1].subject
