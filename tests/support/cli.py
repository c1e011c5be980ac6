"""The CLI in-process, as a user runs it (``certdoctor ARGS``), for every test that drives it."""

from __future__ import annotations


def run_cli(argv: list[str]) -> int:
    """``certdoctor *argv``: the exit code (output stays in pytest's capture)."""
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    return run(cli, list(argv))


def run_cli_captured(argv: list[str], capsys) -> tuple[int, str, str]:
    """``certdoctor *argv``: (exit code, stdout, stderr)."""
    code = run_cli(argv)
    out = capsys.readouterr()
    return code, out.out, out.err
