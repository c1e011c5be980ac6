"""Every public name in ``certdoctor.__all__`` resolves (httpx's test of the same name)."""

import importlib

import certdoctor


def test_all_exports_resolve():
    for name in certdoctor.__all__:
        assert getattr(certdoctor, name) is not None, name


def test_every_cli_command_imports():
    from certdoctor.cli.main import COMMANDS

    for name, (module, _help) in COMMANDS.items():
        mod = importlib.import_module(f"certdoctor.cli.{module}")
        assert mod.command.name == name


def test_import_is_lazy():
    import subprocess
    import sys

    code = ("import sys, certdoctor.cli.main; "
            "heavy=[m for m in ('cryptography','requests','rich','urllib3') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
