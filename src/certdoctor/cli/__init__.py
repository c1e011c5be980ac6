"""The command line. ``main`` answers ``--version`` before importing click, so that the
cheapest call stays as cheap as ``python -c pass`` plus a few milliseconds, and runs
``diagnose … --json`` without click where :mod:`certdoctor.cli.fast` reads the command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from certdoctor import __version__

        sys.stdout.write(f"certdoctor, version {__version__}\n")
        sys.exit(0)
    if args[:1] == ["diagnose"]:  # `diagnose … --json` as scripts run it: without click when it can
        from certdoctor.cli.fast import main as fast_main

        code = fast_main(list(args))
        if code is not None:
            sys.exit(code)
    from certdoctor.cli.main import main as full_main

    full_main(argv)
