"""Every command reads its arguments through the one classifier and takes the shared options:
the same words for the same mistake, the same --timeout/--proxy/--servername/--resolve/--ca-file
everywhere. No socket is opened here (the unit guard would fail the test)."""

from __future__ import annotations

import importlib
import io
import json
import sys

import click
import pytest
from support.pki import TestCA

from certdoctor import policy
from certdoctor.cli.common import run
from certdoctor.cli.main import cli

CONNECTING = ("diagnose", "fix", "inspect", "pin", "expiry", "revocation")
SHARED = ("timeout", "proxy", "servername", "resolve", "ca_file", "as_json")


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = run(cli, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- the one classifier

READERS = [
    ["inspect", "{}"],
    ["pin", "{}"],
    ["revocation", "{}"],
    ["convert", "{}", "out.pem"],
    ["bundle", "--check", "{}"],
    ["bundle", "--add", "{}", "--out", "out.pem"],
]


@pytest.mark.parametrize("argv", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_missing_file_is_the_same_error_everywhere(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    rc, out, err = _cli(capsys, *[a.format("certs/site.crt") for a in argv])
    lines = err.splitlines()
    assert rc == 2 and out == "" and not (tmp_path / "out.pem").exists()
    assert lines[0] == "error: 'certs/site.crt': no such file"
    assert lines[1].startswith("hint: ") and len(lines) == 2


def test_expiry_says_it_the_same_way_as_an_unknown_source(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc, out, _ = _cli(capsys, "expiry", "certs/site.crt")
    assert rc == 3 and "'certs/site.crt': no such file" in out.splitlines()[0]


@pytest.mark.parametrize("argv", READERS[:4], ids=lambda a: a[0])
def test_a_directory_is_not_a_certificate_file(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "certs").mkdir()
    rc, _, err = _cli(capsys, *[a.format("certs") for a in argv])
    assert rc == 2 and err.startswith("error: 'certs': is a directory, not a file\nhint: ")


@pytest.mark.parametrize("command", ["inspect", "pin", "revocation"])
def test_servername_applies_to_hosts_only(tmp_path, capsys, command):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(TestCA().intermediate().issue_cert("a.example.test").chain_pem())
    rc, _, err = _cli(capsys, command, str(chain), "--servername", "a.example.test")
    assert rc == 2 and err.startswith("error: --servername applies to hosts, not files")


def test_pin_and_bundle_read_stdin(monkeypatch, capsys):
    leaf = TestCA().intermediate().issue_cert("stdin.example.test")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(leaf.chain_pem())))
    rc, out, err = _cli(capsys, "pin", "-", "--json")
    doc = json.loads(out)
    assert rc == 0, err
    assert doc["target"]["kind"] == "stdin" and doc["source"] == "<stdin>" and len(doc["certificates"]) == 2
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(leaf.chain_pem())))
    rc, out, _ = _cli(capsys, "bundle", "--check", "-", "--json")
    doc = json.loads(out)
    assert doc["target"]["kind"] == "stdin" and doc["count"] == 2 and {f["code"] for f in doc["findings"]} == {
        "BUNDLE_NOT_IN_CERTIFI", "BUNDLE_NOT_CA"}


def test_lint_takes_paths_only(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc, _, err = _cli(capsys, "lint", "example.org")  # never a host
    assert rc == 2 and err.startswith("error: 'example.org': no such file or directory\nhint: ")


# --------------------------------------------------------------------------- the shared options

def _params(command: str) -> dict[str, click.Parameter]:
    from certdoctor.cli.main import COMMANDS

    module = importlib.import_module(f"certdoctor.cli.{COMMANDS[command][0]}")
    return {p.name: p for p in module.command.params}


def test_every_connecting_command_takes_the_same_options():
    first = _params(CONNECTING[0])
    for command in CONNECTING:
        params = _params(command)
        for name in SHARED:
            assert name in params, (command, name)
            p, q = params[name], first[name]
            assert (p.opts, p.help, p.default, p.multiple, p.metavar) == (q.opts, q.help, q.default, q.multiple,
                                                                          q.metavar), (command, name)
        t = params["timeout"].type
        assert params["timeout"].default == policy.TIMEOUT_SECONDS
        assert isinstance(t, click.FloatRange)
        assert (t.min, t.max) == (policy.TIMEOUT_MIN_SECONDS, policy.TIMEOUT_MAX_SECONDS)


def test_every_command_takes_json():
    from certdoctor.cli.main import COMMANDS

    helps = {_params(c)["as_json"].help for c in COMMANDS}
    assert len(helps) == 1


@pytest.mark.parametrize("command", [c for c in CONNECTING if c != "expiry"])
@pytest.mark.parametrize("value", ["0", "301", "x"])
def test_a_timeout_out_of_range_is_bad_usage(capsys, command, value):
    extra = ["--out", "o"] if command == "fix" else []
    rc, out, err = _cli(capsys, command, "example.org", *extra, "--timeout", value)
    assert rc == 2 and out == "" and "--timeout" in err


@pytest.mark.parametrize("value", ["0", "301", "x"])
def test_expiry_timeout_out_of_range_is_nagios_unknown(capsys, value):
    rc, out, _ = _cli(capsys, "expiry", "example.org", "--timeout", value)
    assert rc == 3 and len(out.splitlines()) == 1 and out.startswith("CERT UNKNOWN - bad usage: ")
    assert "--timeout" in out


@pytest.mark.parametrize("command", CONNECTING)
def test_a_missing_ca_file_is_bad_input_before_any_connection(capsys, command):
    extra = ["--out", "o"] if command == "fix" else []
    rc, out, err = _cli(capsys, command, "example.org", *extra, "--ca-file", "/nonexistent/ca.pem")
    if command == "expiry":
        assert rc == 3 and "--ca-file '/nonexistent/ca.pem': no such file" in out
    else:
        assert rc == 2 and err.startswith("error: --ca-file '/nonexistent/ca.pem': no such file\nhint: ")


def test_revocation_derives_its_request_timeouts_from_the_one_option():
    from certdoctor.cli.revocation import check_budget, request_timeout

    assert request_timeout(policy.TIMEOUT_SECONDS) == policy.REVOCATION_TIMEOUT_SECONDS
    assert check_budget(policy.TIMEOUT_SECONDS) == policy.REVOCATION_TOTAL_SECONDS
    assert request_timeout(2.0) < request_timeout(60.0) < check_budget(60.0)
    assert request_timeout(policy.TIMEOUT_MIN_SECONDS) > 0
