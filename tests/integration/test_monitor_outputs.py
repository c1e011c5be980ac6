"""``certdoctor monitor --nagios`` and ``--textfile`` through the CLI against real TLS servers on
127.0.0.1: one plugin line per run, parsed with the plugin guidelines' perfdata grammar, for ok,
warning, critical and unknown fleets with their exit codes; the textfile parsed with
prometheus_client's parser, replaced atomically and written through a symlink."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.cli import run_cli_captured
from support.pki import NOW, TestCA, pem
from support.servers import closed_port

RANGE = r"@?(?:~|-?\d+(?:\.\d+)?)?:?(?:-?\d+(?:\.\d+)?)?"
PERF = re.compile(r"'(?P<label>(?:[^'=]|'')+)'=(?P<value>-?\d+(?:\.\d+)?|U)(?:s|ms|us|%|B|KB|MB|TB|c)?"
                  rf";(?P<warn>{RANGE});(?P<crit>{RANGE});-?\d*(?:\.\d+)?;-?\d*(?:\.\d+)?$")
LINE = re.compile(r"^CERTDOCTOR (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]*?)(?: \| ([^\n]*))?$")


@pytest.fixture
def pki(tmp_path, servers):
    root = TestCA("Outputs Root")
    inter = root.intermediate("Outputs Inter")
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))

    def serve(days: int, *, leaf_only: bool = False) -> str:
        leaf = inter.issue_cert("127.0.0.1", not_after=NOW + dt.timedelta(days=days, hours=2))
        srv = servers.tls(leaf.chain[:1] if leaf_only else leaf.chain[:-1], leaf.key)
        return f"127.0.0.1:{srv.port}"

    return str(ca), serve


def _nagios(argv, capsys):
    code, out, err = run_cli_captured(["monitor", *argv, "--nagios"], capsys)
    lines = out.splitlines()
    assert len(lines) == 1, out
    m = LINE.match(lines[0])
    assert m, lines[0]
    perf = [PERF.match(p) for p in (m.group(3) or "").split(" ") if p]
    assert all(perf), m.group(3)
    return code, m.group(1), m.group(2), {p.group("label").removesuffix("_days"): p.groupdict() for p in perf}


@pytest.mark.parametrize("fleet, word, code", [
    ("ok", "OK", 0), ("warning", "WARNING", 1), ("critical", "CRITICAL", 2), ("unknown", "UNKNOWN", 3)])
def test_nagios_line_and_exit_code_of_each_kind_of_fleet(pki, capsys, fleet, word, code):
    ca, serve = pki
    good = serve(80)
    extra = {"ok": [], "warning": [serve(20)], "critical": [serve(80, leaf_only=True)],
             "unknown": [f"127.0.0.1:{closed_port()}"]}[fleet]
    got_code, got_word, text, perf = _nagios([good, *extra, "--ca-file", ca, "--warn-days", "30", "--crit-days",
                                              "7", "--timeout", "5"], capsys)
    assert (got_code, got_word) == (code, word)
    assert text.startswith(f"{1 + len(extra)} target")
    assert perf[good] == {"label": f"{good}_days", "value": "80", "warn": "30:", "crit": "7:"}
    if fleet == "warning":
        assert perf[extra[0]]["value"] == "20" and f"warning: {extra[0]} (EXPIRING_SOON)" in text
    if fleet == "critical":
        assert f"critical: {extra[0]} (CHAIN_INCOMPLETE)" in text
    if fleet == "unknown":
        assert perf[extra[0]]["value"] == "U" and f"unknown: {extra[0]} (CONNECTION_REFUSED)" in text


def test_nagios_bad_input_is_unknown_on_stdout_and_error_hint_on_stderr(tmp_path, capsys):
    code, out, err = run_cli_captured(["monitor", "--nagios", "--config", str(tmp_path / "missing.toml")], capsys)
    assert code == 3
    assert out.startswith("CERTDOCTOR UNKNOWN - ") and len(out.splitlines()) == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    code, out, err = run_cli_captured(["monitor", "--nagios", "--no-such-option"], capsys)
    assert code == 3 and out.startswith("CERTDOCTOR UNKNOWN - ") and "no-such-option" in out
    code, out, err = run_cli_captured(["monitor", "--nagios", "--json", "x.example"], capsys)
    assert code == 3 and out.startswith("CERTDOCTOR UNKNOWN - ")


def _families(path) -> dict:
    return {f.name: f for f in text_string_to_metric_families(open(path).read())}


def test_textfile_is_parsable_replaced_atomically_and_written_through_a_symlink(pki, tmp_path, capsys):
    ca, serve = pki
    good, bad = serve(80), serve(40, leaf_only=True)
    real = tmp_path / "collector" / "certdoctor.prom.real"
    real.parent.mkdir()
    real.write_text("# stale\n")
    link = tmp_path / "collector" / "certdoctor.prom"
    link.symlink_to(real)
    before = os.stat(real).st_ino
    code, out, err = run_cli_captured(["monitor", good, bad, "--ca-file", ca, "--textfile", str(link)], capsys)
    assert code == 2, err
    assert "CHAIN_INCOMPLETE" in out  # the table still goes to stdout beside the file
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert os.stat(real).st_ino != before  # a new file renamed into place, never rewritten in place
    assert sorted(os.listdir(real.parent)) == ["certdoctor.prom", "certdoctor.prom.real"]  # no temp left
    fams = _families(real)
    success = {s.labels["target"]: s.value for s in fams["certdoctor_probe_success"].samples}
    assert success == {good: 1.0, bad: 1.0}
    verified = {s.labels["target"]: (s.labels["reason"], s.value) for s in fams["certdoctor_chain_verified"].samples}
    assert verified == {good: ("", 1.0), bad: ("unable to get local issuer certificate", 0.0)}
    leaf_na = [s for s in fams["certdoctor_cert_not_after_timestamp_seconds"].samples
               if s.labels["target"] == bad and s.labels["position"] == "0"]
    assert len(leaf_na) == 1 and leaf_na[0].value > NOW.timestamp() + 39 * 86400
    assert fams["certdoctor_monitor_targets"].samples[0].value == 2.0
    assert os.stat(real).st_mode & 0o777 == 0o644  # readable by node_exporter


def test_textfile_with_nagios_and_bad_paths(pki, tmp_path, capsys):
    ca, serve = pki
    good = serve(80)
    out_file = tmp_path / "a.prom"
    code, out, _ = run_cli_captured(["monitor", good, "--ca-file", ca, "--nagios", "--textfile", str(out_file)],
                                    capsys)
    assert code == 0 and out.startswith("CERTDOCTOR OK - ")
    assert "certdoctor_probe_success" in _families(out_file)
    code, out, err = run_cli_captured(["monitor", good, "--textfile", str(tmp_path / "nodir" / "x" / "a.prom")],
                                      capsys)
    # a missing directory is a typo until proven otherwise (the collector's directory exists): error + hint
    assert code == 3 and err.startswith("error: --textfile") and "does not exist" in err
    assert not (tmp_path / "nodir").exists()
    (tmp_path / "file").write_text("x")
    code, out, err = run_cli_captured(["monitor", good, "--textfile", str(tmp_path / "file" / "a.prom")], capsys)
    assert code == 3 and err.startswith("error: --textfile") and "\nhint: " in err
    code, out, err = run_cli_captured(["monitor", good, "--textfile", str(tmp_path)], capsys)
    assert code == 3 and "is a directory" in err
