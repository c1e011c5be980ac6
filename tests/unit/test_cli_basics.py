"""The ``certdoctor`` command itself: --version, --help, ``python -m certdoctor``, and bad input
that never shows a traceback and always exits 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certdoctor import __version__
from certdoctor.cli.common import run
from certdoctor.cli.main import cli


def test_version(capsys):
    for flag in ("--version", "-V"):
        assert run(cli, [flag]) == 0
        assert capsys.readouterr().out.strip() == f"certdoctor, version {__version__}"


def test_help_lists_the_commands(capsys):
    assert run(cli, ["--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit codes" in out
    for name in ("inspect", "convert"):
        assert name in out


@pytest.mark.parametrize("command", ["inspect", "convert"])
def test_command_help(capsys, command):
    assert run(cli, [command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"certdoctor {command}" in out and "--json" in out and "--password" in out


def test_python_dash_m(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "certdoctor", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"certdoctor, version {__version__}"


def test_python_dash_m_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a certificate\n")
    proc = subprocess.run([sys.executable, "-m", "certdoctor", "inspect", str(bad)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {bad}: text, not a certificate") and "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("argv", [
    ["inspect"],                                   # missing SOURCE
    ["inspect", "{d}/missing.pem"],
    ["inspect", "{d}"],                            # a directory
    ["inspect", "{d}/garbage.bin"],
    ["inspect", "{d}/empty.pem"],
    ["inspect", "http://example.org"],
    ["inspect", "example.org:70000"],
    ["inspect", "{d}/garbage.bin", "--timeout", "-1"],
    ["inspect", "{d}/garbage.bin", "--json"],
    ["convert"],
    ["convert", "{d}/garbage.bin", "{d}/out.pem"],
    ["convert", "{d}/empty.pem", "{d}/out.pem", "--json"],
    ["convert", "{d}/missing.pem", "{d}/out.pem"],
    ["convert", "{d}/garbage.bin", "{d}/out.pem", "--to", "xml"],
    ["no-such-command"],
    ["--no-such-option"],
])
def test_bad_input_exits_2_without_traceback(tmp_path, capsys, argv):
    (tmp_path / "garbage.bin").write_bytes(os.urandom(64).replace(b"0", b"1").replace(b"-", b"+") + b"\x00")
    (tmp_path / "empty.pem").write_bytes(b"")
    rc = run(cli, [a.format(d=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert "Traceback" not in out + err
    assert err.strip(), "an error message is expected on stderr"
    assert not (tmp_path / "out.pem").exists()
    if "--json" not in argv:
        assert out == ""
        # click's own usage errors too: exactly one error: line and one hint: line
        lines = err.splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_random_files_never_traceback(tmp_path, capsys, data):
    path = tmp_path / "random.crt"
    path.write_bytes(data)
    for argv in (["inspect", str(path)], ["convert", str(path), str(tmp_path / "out.pem")]):
        rc = run(cli, argv)
        out, err = capsys.readouterr()
        assert rc in (0, 2)
        assert "Traceback" not in err
        if rc == 2:
            assert err.startswith("error: ")
