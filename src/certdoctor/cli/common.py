"""What every command shares: exit codes, error printing, reading a source, resolving names.

Options are declared in :mod:`certdoctor.cli.options`, output is built in :mod:`certdoctor.render`
(the JSON envelope in :mod:`certdoctor.render.json`).
"""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Iterable

import click

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.target import Source


class Exit(enum.IntEnum):
    """Exit codes of every command except ``expiry`` (which uses Nagios codes)."""

    OK = 0
    PROBLEM = 1
    USAGE = 2


class Nagios(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def run(group: click.Group, argv: list[str] | None) -> int:
    """Run a click group; map certdoctor errors to ``error:``/``hint:`` lines and an exit code."""
    from certdoctor.errors import CertdoctorError
    from certdoctor.render.text import safe  # an error may quote a server's text or a hostile path

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    if not debug:
        import warnings

        # Public CA bundles still hold a few roots with non-positive serials; cryptography warns
        # on each. The user cannot act on it, so it is not printed (--debug shows it).
        warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
    try:
        rv = group.main(args=argv, prog_name="certdoctor", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"error: {safe(' '.join(exc.format_message().split()))}", err=True)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "certdoctor"
        click.echo(f"hint: run '{safe(where)} --help' for the arguments and options it takes.", err=True)
        return exc.exit_code if exc.exit_code not in (None, 0, 1) else Exit.USAGE
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return Exit.USAGE
    except CertdoctorError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {safe(exc.message)}", err=True)
        if exc.hint:
            click.echo(f"hint: {safe(exc.hint)}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return Exit.PROBLEM
    return int(rv or 0)


def install_resolve(specs) -> None:
    """``--resolve HOST:ADDR`` (repeatable) plus ``CERTDOCTOR_RESOLVE``: names this process resolves
    itself (certdoctor.net.resolve), for every command that connects."""
    import os

    spec = ",".join([*specs, *filter(None, [os.environ.get("CERTDOCTOR_RESOLVE")])])
    if spec:
        from certdoctor.net.resolve import install_from_spec

        install_from_spec(spec)


def classify(text: str, kinds: Iterable[str], servername: str | None = None) -> "Source":
    """:func:`certdoctor.net.target.classify`, refusing ``--servername`` for anything but an
    endpoint (it names the server to ask; a file has none)."""
    from certdoctor.errors import UsageError
    from certdoctor.net.target import classify as _classify

    source = _classify(text, servername=servername, kinds=kinds)
    if servername and not source.is_endpoint:
        raise UsageError("--servername applies to hosts, not files",
                         "Drop --servername, or give host[:port] or an https:// URL.")
    return source


def console():
    """The rich console on stdout (:func:`certdoctor.render.text.console`: sanitised, and never
    hard-wrapped when stdout is not a terminal; rich is imported lazily, it costs ~30 ms)."""
    from certdoctor.render.text import console as _console

    return _console()
