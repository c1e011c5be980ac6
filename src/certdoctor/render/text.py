"""What every human-readable renderer shares: the sanitiser, shell quoting, the one console.

* :func:`safe` (from :mod:`certdoctor._text`): every certificate field, server-supplied text,
  path and scanned source line goes through it before a terminal (or the HTML report) sees it;
  :func:`markup` is ``safe`` + :func:`rich.markup.escape` for text put inside rich markup.
* :func:`shell`/:func:`quote`/:func:`assign`: commands the user is asked to paste.
* :func:`console`: the one rich console of the CLI. On a terminal it behaves as rich does; written
  to a pipe or a file it never inserts a newline (no hard wrap, however long a path, command,
  fingerprint or error is). Whatever reaches it is sanitised once more, segment by segment (a
  renderer that forgot :func:`safe` still prints no control character).
* :func:`echo`: the same last guard for the renderers that print plain lines with click.

    >>> from certdoctor.render.text import markup, safe
    >>> markup("[bold]CN=x\\x1b[2J")
    '\\\\[bold]CN=x\\\\x1b[2J'
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

from certdoctor._text import UNSAFE_CATEGORIES, assign, quote, safe, shell, unsafe

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

#: the width of a console that is not a terminal: wide enough that rich never wraps a line
#: (rich pads nothing to the width: a short line stays short)
PIPE_WIDTH = 1_000_000


def markup(value: object) -> str:
    """``value`` sanitised and escaped for rich markup (``[`` cannot open a tag)."""
    from rich.markup import escape

    return escape(safe(value))


def is_terminal(file: IO[str] | None) -> bool:
    """Is ``file`` (default: stdout) a terminal? ``FORCE_COLOR`` and ``TTY_COMPATIBLE`` do not
    make a pipe one: this decides wrapping, and a pipe's reader pastes what it reads."""
    f = sys.stdout if file is None else file
    try:
        return bool(f.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def console(file: IO[str] | None = None, *, stderr: bool = False) -> "Console":
    """The rich console every command prints with (stdout, or ``file``/stderr).

    On a terminal: rich's own width and wrapping. Otherwise (a pipe, a file, a test's capture):
    a line is never broken (:data:`PIPE_WIDTH`, ``soft_wrap``), so a path, a command, a
    fingerprint or a client's error text stays on one physical line, whatever ``COLUMNS`` says.
    Every segment written is passed through :func:`safe` (newlines kept)."""
    from rich.console import Console

    target = sys.stderr if (file is None and stderr) else file
    tty = is_terminal(target if target is not None else sys.stdout)
    kwargs = {} if tty else {"width": PIPE_WIDTH, "soft_wrap": True}
    c = Console(file=target, stderr=stderr and file is None, highlight=False, emoji=False,
                **({"soft_wrap": False} | kwargs))
    c.push_render_hook(_SafeHook())
    return c


class _SafeRenderable:
    """Renders ``inner`` and sanitises the text of every segment (control segments — cursor moves
    rich itself emits — pass, they are not text)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        for seg in console.render(self.inner, options):
            if seg.control or seg.text.isprintable() or not seg.text:
                yield seg
            else:
                yield Segment(safe(seg.text, multiline=True), seg.style)


class _SafeHook:
    """A rich render hook (``Console.push_render_hook``; rich calls only ``process_renderables``)."""

    def process_renderables(self, renderables):
        return [_SafeRenderable(r) for r in renderables]


def echo(line: object = "", *, err: bool = False) -> None:
    """``click.echo`` of one plain line (or several certdoctor laid out), sanitised: the last
    guard of the renderers that print without rich. Fields inside the line should already have
    been through :func:`safe` (a newline in a field must not start a line)."""
    import click

    click.echo(safe(line, multiline=True), err=err)


__all__ = ["UNSAFE_CATEGORIES", "PIPE_WIDTH", "unsafe", "safe", "quote", "shell", "assign", "markup",
           "is_terminal", "console", "echo"]
