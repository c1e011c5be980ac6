"""Text shown to a person: the one sanitiser (:func:`safe`) and the one shell quoting (:func:`shell`).

Certificates, servers and scanned files are hostile by assumption: a subject may hold
``ESC ] 52 ; c ; … BEL`` (a clipboard write), ``ESC [ 2 J`` (clear the screen), the 8-bit CSI
``U+009B`` or a right-to-left override (``U+202E``) that makes ``moc.elpmaxe`` read as
``example.com``. Every string from outside passes through :func:`safe` before a terminal or the
HTML report sees it; the JSON output keeps the exact data (``json.dumps`` escapes every control
and non-ASCII character itself).

Commands the user is asked to paste are built with :func:`shell`: each word quoted for a POSIX
shell, and a word holding a character :func:`safe` would escape written in bash's ``$'…'`` form
so that the command is printable *and* names the same file.

    >>> safe("CN=evil\\x1b]52;c;ZWNobyBoaQ==\\x07")
    'CN=evil\\\\x1b]52;c;ZWNobyBoaQ==\\\\x07'
    >>> safe("moc.elpmaxe\\u202e")
    'moc.elpmaxe\\\\u202e'
    >>> print(shell("certdoctor", "fix", "https://h/", "--out", "my fix's dir"))
    certdoctor fix https://h/ --out 'my fix'"'"'s dir'
    >>> print(shell("cat", "bad\\x1bname"))
    cat $'bad\\x1bname'

This module is layer 0 (it imports nothing of certdoctor) so that ``remedies`` can build its
commands and ``render`` its output with the same two functions; :mod:`certdoctor.render.text`
re-exports them for the renderers.
"""

from __future__ import annotations

import shlex
import unicodedata

#: categories escaped by :func:`safe`: controls (C0, DEL, C1), format characters (the bidi
#: embeddings, overrides and isolates, LRM/RLM/ALM, zero-width characters, the tag characters),
#: line and paragraph separators, and lone surrogates (undecodable bytes of a file name). Other
#: non-printable categories (private use, unassigned, the non-ASCII spaces) are shown as they
#: are: a terminal draws them as a glyph or a blank and never acts on them.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def unsafe(ch: str) -> bool:
    """Would :func:`safe` escape this one character?"""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    o = ord(ch)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def safe(text: object, *, multiline: bool = False) -> str:
    """``text`` (``str()`` of anything else) with every character that could act on a terminal or
    reorder what is shown replaced by a visible escape in Python's spelling: ``\\x1b``, ``\\x9b``,
    ``\\x00``, ``\\x7f``, ``\\u202e``, ``\\n``, ``\\t``. See :data:`UNSAFE_CATEGORIES`.

    A certificate field, a server's message or a path is one line: a newline in it is shown as
    ``\\n`` and cannot start a forged line. ``multiline=True`` keeps ``\\n`` (only that) for a
    text certdoctor itself laid out over several lines.

    Properties (tested with hypothesis): the result holds no character of
    :data:`UNSAFE_CATEGORIES` (nor ``\\n`` unless ``multiline``); printable text (any ``str`` for
    which ``str.isprintable()`` holds, so all printable ASCII) comes back unchanged; ``safe`` is
    idempotent (``safe(safe(s)) == safe(s)``). It is not injective, by choice: a backslash is
    kept as it is (Windows paths, RFC 4514's ``\\,``, regular expressions in scanned code stay
    readable), so the literal text ``\\x1b`` and an escaped ESC look the same. Where the exact
    value matters, ``--json`` has it.
    """
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case: nothing to do (str.isprintable is C-fast)
        return s
    out = []
    for ch in s:
        if ch.isprintable() or (multiline and ch == "\n") or not unsafe(ch):
            out.append(ch)
        else:
            out.append(_escape(ch))
    return "".join(out)


def _ansi_c(word: str) -> str:
    """``word`` in bash's ``$'…'`` quoting, every unsafe character as an escape bash decodes back:
    ``\\xHH`` below 0x80, ``\\uHHHH``/``\\UHHHHHHHH`` above, and a lone surrogate from Python's
    ``surrogateescape`` (an undecodable byte of a file name) as that byte, ``\\xHH``."""
    out = ["$'"]
    for ch in word:
        o = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif not unsafe(ch):
            out.append(ch)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x80:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append("'")
    return "".join(out)


def quote(word: object) -> str:
    """One shell word: :func:`shlex.quote`, or bash's ``$'…'`` when ``word`` holds a character
    :func:`safe` would escape (a single-quoted ESC or newline would reach the terminal raw, and
    an escaped one would name another file). The result is always printable."""
    w = word if isinstance(word, str) else str(word)
    if any(unsafe(ch) for ch in w):
        return _ansi_c(w)
    return shlex.quote(w)


def shell(*argv: object) -> str:
    """A command line to paste into a POSIX shell (bash for the rare ``$'…'`` word): every
    argument quoted by :func:`quote`, joined by spaces.

        >>> shell("export", assign("SSL_CERT_FILE", "/tmp/a b/ca.pem"))
        "export SSL_CERT_FILE='/tmp/a b/ca.pem'"
    """
    return " ".join(a.word if isinstance(a, _Raw) else quote(a) for a in argv)


class _Raw:
    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        self.word = word


def assign(name: str, value: object) -> _Raw:
    """``NAME=value`` for :func:`shell` (``export``, ``env``, a prefix assignment): the value
    quoted, the name as it is (it must be a shell identifier)."""
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"not a shell variable name: {name!r}")
    return _Raw(f"{name}={quote(value)}")


__all__ = ["UNSAFE_CATEGORIES", "unsafe", "safe", "quote", "shell", "assign"]
