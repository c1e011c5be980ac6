"""The command line. ``main`` answers ``--version`` before importing click, so that the
cheapest call stays as cheap as ``python -c pass`` plus a few milliseconds, and runs
``diagnose …`` without click where :mod:`certdoctor.cli.fast` reads the command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from certdoctor import __version__

        sys.stdout.write(f"certdoctor, version {__version__}\n")
        sys.exit(0)
    one_shot = bool(args) and args[0] in ONE_SHOT and "--debug" not in args
    if one_shot:
        if args[0] in ONE_TARGET:
            import gc

            gc.disable()  # one bounded run against one target, then the process ends (see _leave)
        if args[0] == "diagnose":  # the command run most: without click when it can
            from certdoctor.cli.fast import main as fast_main

            code = fast_main(list(args))
            if code is not None:
                _leave(code)
        from certdoctor.cli.common import run
        from certdoctor.cli.main import cli

        _leave(run(cli, argv))
    from certdoctor.cli.main import main as full_main

    full_main(argv)


#: the commands that make one bounded run and end: they leave through :func:`_leave` (a fleet,
#: a renewal loop, the lab's servers, a lint of a whole tree keep Python's normal exit)
ONE_SHOT = frozenset({"diagnose", "inspect", "expiry", "pin", "revocation"})
#: those of them that take one target: the cyclic collector is off for their whole run (``expiry``
#: takes any number of sources: its garbage would grow with them, so its collector stays on)
ONE_TARGET = frozenset({"diagnose", "inspect", "pin", "revocation"})


def _leave(code: int) -> None:
    """End the process now with ``code``, its output flushed, without the interpreter's teardown.

    ``diagnose`` (and every :data:`ONE_SHOT` command) is one run bounded by ``--timeout`` (every
    download and chain it reads has a size limit), after which the process ends: its cyclic
    garbage collector only walks, again and again, what the imports defined and the run keeps to
    the end anyway, and the teardown then frees ~300 modules one by one. Measured here (A/B of 15
    runs of ``diagnose --json``): the collector off −18 ms (:data:`ONE_TARGET` commands only),
    the teardown skipped −35 ms more, of ~370 ms. Nothing is left to the teardown: the output is
    written and flushed here, files are written atomically when they are written, the real
    client's child is reaped (gather), and certdoctor registers no ``atexit`` handler. A standard
    output closed early is exit code 1, as a ``BrokenPipeError`` while writing it is."""
    import os

    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # closed early (a `| head`): the output could not be written
        code = code or 1
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(int(code))

