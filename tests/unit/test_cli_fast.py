"""``certdoctor diagnose …`` without click (certdoctor.cli.fast), text or ``--json``: what it
reads is what click reads, anything else goes to click, and errors print the same lines with the
same codes."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from certdoctor.cli.common import run
from certdoctor.cli.diagnose import command
from certdoctor.cli.fast import main as fast_main
from certdoctor.cli.fast import parse_diagnose
from certdoctor.cli.main import cli

READ = [
    ["https://example.test/", "--json"],
    ["example.test:8443", "--json", "--ca-file", "root.pem"],
    ["--json", "example.test", "--ca-file=root.pem", "--timeout", "3.5"],
    ["example.test", "--json", "--timeout=0.5", "--timeout", " 7 "],
    ["example.test", "--json", "--client", "httpx", "--python", "3.13"],
    ["example.test", "--json", "--client=pip", "--python=current", "--no-revocation", "--no-aia", "--no-cache"],
    ["example.test", "--json", "--staple", "--allow-private-fetch", "--servername", "other.test"],
    ["example.test", "--json", "--proxy", "http://127.0.0.1:3128", "--resolve", "example.test:127.0.0.1",
     "--resolve", "*.lab.test:127.0.0.2"],
    ["10.0.0.1", "--json", "--servername=name.test", "--timeout", "1e1"],
    ["example.test"],                                   # no --json: the text output
    ["example.test", "--ca-file", "root.pem", "--timeout", "3", "--no-revocation"],
]

TO_CLICK = [
    ["example.test", "--json", "--help"],
    ["example.test", "--help"],
    ["example.test", "--html", "report.html"],          # --html: click's
    ["example.test", "--html=report.html", "--json"],
    ["example.test", "--json", "--pin", "sha256/" + "A" * 43 + "="],
    ["example.test", "--json", "--canary", "pypi.org"],
    ["example.test", "--json", "--ca-file", "-"],       # standard input
    ["example.test", "--json", "--timeout", "nan"],
    ["example.test", "--json", "--timeout", "-1"],
    ["example.test", "--json", "--timeout", "1e9"],
    ["example.test", "--json", "--timeout", "soon"],
    ["example.test", "--json", "--client", "curl"],
    ["example.test", "--json", "--resolve", "nonsense"],
    ["example.test", "--json", "--timeout"],            # a missing value
    ["example.test", "other.test", "--json"],           # two targets
    ["--json"],                                         # none
    ["example.test", "--json=yes"],
    ["example.test", "--json", "--no-such-option"],
    ["example.test", "--json", "-"],
    ["example.test", "--json", "--", "x"],
]


def _click_params(argv: list[str]) -> dict:
    ctx = command.make_context("diagnose", list(argv))
    return dict(ctx.params)


@pytest.mark.parametrize("argv", READ, ids=lambda a: " ".join(a))
def test_what_the_fast_path_reads_is_what_click_reads(argv):
    fast = parse_diagnose(argv)
    assert fast is not None, argv
    assert fast == _click_params(argv)


@pytest.mark.parametrize("argv", TO_CLICK, ids=lambda a: " ".join(a))
def test_anything_else_goes_to_click(argv):
    assert parse_diagnose(argv) is None


def test_errors_print_the_same_lines_and_codes_on_both_paths(tmp_path, capsys):
    """A file where a server is expected, and a --ca-file that is not there: bad usage/input,
    said before any connection, identically."""
    for argv in (["diagnose", str(tmp_path), "--json"], ["diagnose", str(tmp_path)],
                 ["diagnose", "example.test", "--json", "--ca-file", str(tmp_path / "missing.pem")],
                 ["diagnose", "example.test", "--ca-file", str(tmp_path / "missing.pem")]):
        fast_code = fast_main(list(argv))
        fast_err = capsys.readouterr().err
        slow_code = run(cli, list(argv))
        slow_err = capsys.readouterr().err
        assert fast_code == slow_code != 0, argv
        assert fast_err == slow_err and fast_err.startswith("error: ") and "\nhint: " in fast_err, argv


@pytest.mark.parametrize("extra", [["--json"], []], ids=["json", "text"])
def test_the_fast_path_imports_no_click(tmp_path, extra):
    code = ("import sys\nfrom certdoctor.cli.fast import main\n"
            f"rc = main(['diagnose', {str(tmp_path)!r}, *{extra!r}])\n"
            "print(rc, 'click' in sys.modules, 'rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["2", "False", "False"], out.stdout + out.stderr


def test_click_still_declares_what_the_fast_path_knows():
    """Every option the fast path reads is one of diagnose's, with the same choices."""
    from certdoctor.cli.fast import CHOICES, FLAGS, MULTIPLE, VALUES

    declared = {opt: p for p in command.params for opt in p.opts}
    for opt, name in {**FLAGS, **VALUES, **MULTIPLE}.items():
        assert declared[opt].name == name, opt
    for name, choices in CHOICES.items():
        param = next(p for p in command.params if p.name == name)
        assert isinstance(param.type, click.Choice) and tuple(param.type.choices) == choices
    assert all(declared[o].multiple for o in MULTIPLE) and all(declared[o].is_flag for o in FLAGS)
