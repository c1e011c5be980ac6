"""expiry on files: every certificate of every chain, Nagios states and exit codes.

Files are built here with ``support.pki`` and checked with ``now=`` pinned. Endpoints (lab
scenarios, a server sending a wrong ``Date``, a refused port): tests/integration/test_expiry.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from support.pki import TestCA

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.errors import UsageError
from certdoctor.expiry import State, build_report, check_expiry
from certdoctor.model import Code

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


# --------------------------------------------------------------------------- certificates

class Chain:
    """root -> intermediate -> leaf, with chosen validity windows (``support.pki.TestCA``)."""

    def __init__(self, leaf_nb, leaf_na, *, cn="www.example.com", inter_na=None, root_na=None, names=None):
        base = leaf_nb
        root = TestCA("Expiry Root", not_before=base - 900 * DAY, not_after=root_na or base + 3000 * DAY)
        inter = root.intermediate("Expiry Intermediate", not_before=base - 400 * DAY,
                                  not_after=inter_na or base + 1500 * DAY)
        leaf = inter.issue_cert(*(names or [cn]), cn=cn, not_before=leaf_nb, not_after=leaf_na)
        self.root, self.inter, self.leaf = root.cert, inter.cert, leaf.cert
        self.root_key, self.inter_key, self.leaf_key = root.key, inter.key, leaf.key

    def pem(self, root=True):
        certs = [self.leaf, self.inter] + ([self.root] if root else [])
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    def write(self, path: Path, root=True) -> str:
        path.write_bytes(self.pem(root))
        return str(path)


def _chain_file(tmp_path, days_left, *, lifetime=90, name="chain.pem", now=NOW, **kw):
    na = now + dt.timedelta(days=days_left, hours=1)  # an hour of margin: whole days stay whole
    return Chain(na - lifetime * DAY, na, **kw).write(tmp_path / name)


# --------------------------------------------------------------------------- library, files

@pytest.mark.parametrize("days_left,state", [
    (84, State.OK), (30, State.OK), (29, State.WARNING), (8, State.WARNING), (7, State.WARNING),
    (6, State.CRITICAL), (0, State.CRITICAL),
])
def test_states_by_days_left(tmp_path, days_left, state):
    rep = check_expiry([_chain_file(tmp_path, days_left)], 30, 7, now=NOW)
    leaf = rep.sources[0].certs[0]
    assert leaf.days_left == days_left
    assert (leaf.state, rep.state, rep.exit_code) == (state, state, state.exit_code)


def test_expired_and_not_yet_valid_are_critical(tmp_path):
    expired = Chain(NOW - 100 * DAY, NOW - 10 * DAY - HOUR, cn="old.example.com").write(tmp_path / "old.pem")
    future = Chain(NOW + 10 * DAY, NOW + 100 * DAY, cn="new.example.com").write(tmp_path / "new.pem")
    rep = check_expiry([expired], now=NOW)
    c = rep.sources[0].certs[0]
    assert c.expired and c.state is State.CRITICAL and rep.exit_code == 2
    assert c.days_left == -10 and c.lifetime_used == 100.0
    assert rep.summary == ("CERT CRITICAL - 3 certificates in 1 chain, old.example.com expired 10 days ago"
                           " | days_left=-10;30;7")
    assert [f.code for f in rep.sources[0].findings] == [Code.EXPIRED]
    rep = check_expiry([future], now=NOW)
    c = rep.sources[0].certs[0]
    assert c.not_yet_valid and c.state is State.CRITICAL and c.lifetime_used == 0.0
    assert "new.example.com is not valid yet (starts in 10 days)" in rep.summary
    assert rep.sources[0].findings[0].code is Code.NOT_YET_VALID


def test_ok_summary_is_a_nagios_line(tmp_path):
    rep = check_expiry([_chain_file(tmp_path, 84)], now=NOW)
    assert rep.summary == "CERT OK - 3 certificates in 1 chain, soonest www.example.com expires in 84 days | days_left=84;30;7"
    assert rep.state is State.OK and rep.exit_code == 0 and rep.soonest_days_left == 84


def test_every_certificate_counts_an_expiring_intermediate(tmp_path):
    path = Chain(NOW - 10 * DAY, NOW + 300 * DAY, inter_na=NOW + 3 * DAY + HOUR).write(tmp_path / "c.pem")
    rep = check_expiry([path], now=NOW)
    states = [c.state for c in rep.sources[0].certs]
    assert states == [State.OK, State.CRITICAL, State.OK]
    assert rep.state is State.CRITICAL and "soonest Expiry Intermediate expires in 3 days" in rep.summary
    assert rep.sources[0].findings[0].cert_index == 1


def test_lifetime_used_and_dates(tmp_path):
    path = Chain(NOW - 30 * DAY, NOW + 90 * DAY).write(tmp_path / "c.pem")
    c = check_expiry([path], now=NOW).sources[0].certs[0]
    assert c.lifetime_used == 25.0 and c.days_left == 90
    assert c.not_before == NOW - 30 * DAY and c.not_after == NOW + 90 * DAY
    assert c.fingerprint_sha256.count(":") == 31


def test_several_chains_and_the_soonest(tmp_path):
    a = _chain_file(tmp_path, 84, name="a.pem", cn="a.example.com")
    b = _chain_file(tmp_path, 20, name="b.pem", cn="b.example.com")
    rep = check_expiry([a, b], now=NOW)
    assert rep.state is State.WARNING and rep.exit_code == 1
    assert rep.summary == ("CERT WARNING - 6 certificates in 2 chains, soonest b.example.com expires in 20 days"
                           " | days_left=20;30;7")


def test_unreadable_sources_are_unknown_entries_not_crashes(tmp_path):
    good = _chain_file(tmp_path, 84)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"this is not a certificate")
    missing = tmp_path / "missing.pem"
    rep = check_expiry([good, str(junk), str(missing), str(tmp_path)], now=NOW)
    states = [s.state for s in rep.sources]
    assert states == [State.OK, State.UNKNOWN, State.UNKNOWN, State.UNKNOWN]
    assert all(s.error for s in rep.sources[1:]) and rep.sources[0].error is None
    assert "junk.pem" in rep.sources[1].error and "no such file" in rep.sources[2].error
    assert rep.state is State.UNKNOWN and rep.exit_code == 3
    assert rep.summary.startswith("CERT UNKNOWN - 3 certificates in 1 chain, soonest www.example.com")
    assert "3 of 4 sources not checked" in rep.summary and rep.summary.endswith("| days_left=84;30;7")
    only_bad = check_expiry([str(junk)], now=NOW)
    assert only_bad.exit_code == 3 and "|" not in only_bad.summary


def test_critical_outranks_unknown_outranks_warning(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"x")
    crit = _chain_file(tmp_path, 2, name="crit.pem")
    warn = _chain_file(tmp_path, 20, name="warn.pem")
    assert check_expiry([crit, str(junk)], now=NOW).state is State.CRITICAL
    assert check_expiry([warn, str(junk)], now=NOW).state is State.UNKNOWN


@pytest.mark.parametrize("warn,crit", [(5, 7), (-1, 0), (30, -2)])
def test_bad_thresholds_raise(tmp_path, warn, crit):
    with pytest.raises(UsageError):
        check_expiry([_chain_file(tmp_path, 84)], warn, crit, now=NOW)


def test_build_report_from_nothing_checked():
    rep = build_report([], 30, 7, NOW)
    assert rep.state is State.OK and rep.soonest_days_left is None


# --------------------------------------------------------------------------- CLI, files

def _real_now_file(tmp_path, days_left, name="c.pem", **kw):
    return _chain_file(tmp_path, days_left, name=name, now=dt.datetime.now(dt.timezone.utc), **kw)


def test_cli_ok_warning_critical_exit_codes(tmp_path, capsys):
    ok = _real_now_file(tmp_path, 84, "ok.pem")
    assert run(cli, ["expiry", ok]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "CERT OK - 3 certificates in 1 chain, soonest www.example.com expires in 84 days | days_left=84;30;7"
    assert any("www.example.com" in line and "OK" in line for line in out[1:])
    assert run(cli, ["expiry", _real_now_file(tmp_path, 20, "w.pem")]) == 1
    assert capsys.readouterr().out.startswith("CERT WARNING - ")
    assert run(cli, ["expiry", "--warn-days", "10", "--crit-days", "3", _real_now_file(tmp_path, 20, "w2.pem")]) == 0
    capsys.readouterr()
    assert run(cli, ["expiry", _real_now_file(tmp_path, 2, "c.pem")]) == 2
    assert capsys.readouterr().out.startswith("CERT CRITICAL - 3 certificates in 1 chain, soonest www.example.com expires in 2 days")


def test_cli_unreadable_file_is_unknown(tmp_path, capsys):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"nope")
    assert run(cli, ["expiry", str(junk)]) == 3
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("CERT UNKNOWN - 1 of 1 source not checked: ") and "junk.pem" in first


@pytest.mark.parametrize("argv,words", [
    (["--warn-days", "5", "--crit-days", "7"], "must not be below"),
    (["--warn-days", "-1"], "negative"),
    (["--crit-days", "x"], "not a valid integer"),
    (["--timeout", "0"], "--timeout"),
    ([], "Missing argument"),
])
def test_cli_bad_usage_exits_3_with_one_line(tmp_path, capsys, argv, words):
    src = [_real_now_file(tmp_path, 84)] if argv else []
    assert run(cli, ["expiry", *argv, *src]) == 3
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and out.startswith("CERT UNKNOWN - bad usage: ") and words in out


def test_cli_json(tmp_path, capsys):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"nope")
    assert run(cli, ["expiry", "--json", _real_now_file(tmp_path, 20), str(junk)]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 2 and doc["state"] == "UNKNOWN" and doc["exit_code"] == 3
    assert doc["summary"].startswith("CERT UNKNOWN - ")
    first, bad = doc["sources"]
    assert first["kind"] == "file" and first["state"] == "WARNING" and first["clock"] is None
    assert [c["days_left"] for c in first["certs"]][0] == 20
    assert {"not_before", "not_after", "lifetime_used", "state"} <= set(first["certs"][0])
    assert first["findings"][0]["code"] == "EXPIRING_SOON"
    assert bad["state"] == "UNKNOWN" and bad["error"]
    assert run(cli, ["expiry", "--json", "--warn-days", "1", _real_now_file(tmp_path, 20, "x.pem")]) == 3
    assert json.loads(capsys.readouterr().out)["state"] == "UNKNOWN"
