"""What every command shares: exit codes, error printing, reading a source, resolving names.

Options are declared in :mod:`certdoctor.cli.options`, output is built in :mod:`certdoctor.render`
(the JSON envelope in :mod:`certdoctor.render.json`).
"""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    import click

    from certdoctor.errors import CertdoctorError
    from certdoctor.net.target import Source

# click is imported by the functions that use it: `certdoctor diagnose … --json` runs without it
# (certdoctor.cli.fast), and shares this module's error lines and helpers.


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


def run(group: "click.Group", argv: list[str] | None) -> int:
    """Run a click group; map certdoctor errors to ``error:``/``hint:`` lines and an exit code."""
    import click

    from certdoctor.errors import CertdoctorError
    from certdoctor.render.text import safe  # an error may quote a server's text or a hostile path

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    if not debug:
        quiet_warnings()
    try:
        rv = group.main(args=argv, prog_name="certdoctor", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:  # `certdoctor` alone: the two lines, not the help
        ctx = exc.ctx
        names = ", ".join(group.list_commands(ctx)) if isinstance(group, click.Group) else ""
        click.echo(f"error: no command given{f' (one of: {names})' if names else ''}", err=True)
        click.echo(f"hint: run '{safe(ctx.command_path)} COMMAND --help', or '{safe(ctx.command_path)} --help' "
                   "for every command.", err=True)
        return Exit.USAGE
    except click.ClickException as exc:
        click.echo(f"error: {safe(' '.join(exc.format_message().split()))}", err=True)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "certdoctor"
        hint = getattr(exc, "hint", None)  # options.BadValue says what a good value is
        help_line = f"run '{safe(where)} --help' for the arguments and options it takes."
        click.echo(f"hint: {safe(' '.join(hint.split())) if hint else help_line}", err=True)
        return exc.exit_code if exc.exit_code not in (None, 0, 1) else Exit.USAGE
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return Exit.USAGE
    except CertdoctorError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        for line in error_lines(exc, _help_hint(group, argv)):
            click.echo(line, err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return Exit.PROBLEM
    return int(rv or 0)


def quiet_warnings() -> None:
    """Public CA bundles still hold a few roots with non-positive serials; cryptography warns
    on each. The user cannot act on it, so it is not printed (``--debug`` shows it)."""
    import warnings

    warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")


def error_lines(exc: "CertdoctorError", help_hint: str) -> tuple[str, str]:
    """The ``error:`` and ``hint:`` lines of a certdoctor error (``help_hint`` when it has no
    hint of its own), each on one line and sanitised."""
    from certdoctor.render.text import safe  # an error may quote a server's text or a hostile path

    hint = " ".join(exc.hint.split()) if exc.hint else help_hint
    return f"error: {safe(' '.join(str(exc.message).split()))}", f"hint: {safe(hint)}"


def help_hint(command: str | None) -> str:
    """Where the help of ``command`` (a command's name; ``None``: the group's) is."""
    where = f"certdoctor {command}" if command else "certdoctor"
    return f"run '{where} --help' for the arguments and options it takes."


def _help_hint(group: "click.Group", argv: list[str] | None) -> str:
    """The hint of an error that has none of its own: where the command's help is."""
    import click

    words = argv if argv is not None else sys.argv[1:]
    name = next((w for w in words if not w.startswith("-")), None)
    return help_hint(name if name in group.list_commands(click.Context(group)) else None)


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
    if source.kind == "stdin":
        claim_stdin(f"the argument {text!r}")
    return source


def endpoint(text: str, command: str) -> None:
    """``diagnose`` and ``fix`` take a server only: a TARGET that names a file (``-``, a path, a
    name ending like a certificate file: :func:`certdoctor.net.target.looks_like_path`) is bad
    usage, said before any DNS lookup."""
    import os

    from certdoctor.errors import UsageError
    from certdoctor.net.target import looks_like_path, quote_input

    if text == "-" or looks_like_path(text) or (text and os.path.isdir(text)):
        raise UsageError(f"{quote_input(text)}: {command} takes a server (an https:// URL or host[:port]), "
                         "not a file",
                         "For a certificate file use `certdoctor inspect FILE` (or expiry, pin, revocation).")


#: ``ctx.meta`` key: which input of this command reads standard input
_STDIN_META = "certdoctor.stdin"


def claim_stdin(what: str, ctx: "click.Context | None" = None) -> None:
    """Standard input can be read once per command: the second input given as ``-`` is bad
    usage naming the first (instead of reading it as empty)."""
    import click

    from certdoctor.errors import UsageError

    ctx = ctx if ctx is not None else click.get_current_context(silent=True)
    if ctx is None:  # a library caller without click: nothing to share
        return
    first = ctx.meta.get(_STDIN_META)
    if first is not None:
        raise UsageError(f"standard input (-) can be read once, and {first} reads it already ({what} too)",
                         "Give all but one of them as files.")
    ctx.meta[_STDIN_META] = what


def stdin_file(what: str, ctx: "click.Context | None" = None) -> str:
    """``-`` for a file input (``--ca-file -``, ``--intermediate -``, ``--backup-key -``,
    ``--issuer -``, an ``expiry`` SOURCE): read standard input once, bounded by
    :data:`~certdoctor.policy.MAX_INPUT_BYTES` (:func:`certdoctor.x509.load.read_stdin`), into a
    private temporary file (a fresh 0700 directory, the file 0600) that the rest of the command
    reads like any other (a client's ``verify=`` needs a path); it is removed when the command
    ends, whatever the outcome. Returns that file's path."""
    import shutil

    import click

    from certdoctor.fsutil import fresh_dir, write_new
    from certdoctor.x509.load import read_stdin

    ctx = ctx if ctx is not None else click.get_current_context(silent=True)
    claim_stdin(what, ctx)
    data = read_stdin(what)
    directory, _ = fresh_dir(None, prefix="certdoctor-stdin-")
    if ctx is not None:  # the root context is closed on every way out, parse errors included
        ctx.find_root().call_on_close(lambda: shutil.rmtree(directory, ignore_errors=True))
    path = directory / "stdin"
    write_new(path, data, 0o600)
    return str(path)


def console():
    """The rich console on stdout (:func:`certdoctor.render.text.console`: sanitised, and never
    hard-wrapped when stdout is not a terminal; rich is imported lazily, it costs ~30 ms)."""
    from certdoctor.render.text import console as _console

    return _console()
