"""The one sanitiser (``safe``), the one shell quoting (``shell``) and the one console
(``certdoctor.render.text``), from generated text.

``safe``'s contract, chosen and documented in :mod:`certdoctor._text`: no character that can act on
a terminal or reorder text survives; printable text is unchanged; idempotent. Not injective (a
backslash is kept, so ``\\x1b`` typed and an escaped ESC look alike): ``--json`` keeps the exact data.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certdoctor._text import UNSAFE_CATEGORIES, assign, quote, safe, shell
from certdoctor.render.text import PIPE_WIDTH, console, markup

#: what the issue names: ESC (OSC 52, CSI), BEL, NUL, the 8-bit CSI, DEL, the bidi controls
HOSTILE = ("\x1b]52;c;ZWNobyBwd25lZA==\x07", "\x1b[2J", "\x9b31m", "\x07", "\x00", "\x7f", "\x1b",
           "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
           "\u200e", "\u200f", "\u061c", "\u2028", "\u2029", "\ufeff", "\u200b", "\U000e0041", "\udcff",
           "\r", "\n", "\t", "\x85", "\x08")

BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _bad(ch: str) -> bool:
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def _assert_clean(s: str, *, multiline: bool = False) -> None:
    bad = [c for c in s if _bad(c) and not (multiline and c == "\n")]
    assert not bad, (s, bad)
    assert not BIDI & set(s)
    assert not any(0x80 <= ord(c) <= 0x9f for c in s)


hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8)), max_size=12).map("".join)


@given(st.text())
def test_safe_output_holds_no_control_format_or_separator_character(s):
    _assert_clean(safe(s))


@given(hostile_text)
def test_safe_output_is_clean_for_the_sequences_the_issue_names(s):
    _assert_clean(safe(s))
    _assert_clean(safe(s, multiline=True), multiline=True)


@given(st.text())
def test_safe_is_idempotent(s):
    once = safe(s)
    assert safe(once) == once
    assert safe(safe(s, multiline=True), multiline=True) == safe(s, multiline=True)


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e)))
def test_printable_ascii_comes_back_unchanged(s):
    assert safe(s) == s


@given(st.text())
def test_printable_text_comes_back_unchanged(s):
    if s.isprintable():
        assert safe(s) == s


@given(st.text())
def test_only_unsafe_characters_change_and_each_becomes_a_visible_escape(s):
    out = safe(s)
    kept = "".join(c for c in s if not _bad(c))
    # removing every escape from the output leaves exactly the characters that were safe
    assert len(out) >= len(s)
    for c in s:
        if _bad(c):
            assert (repr(c)[1:-1] if c not in "\t\n\r" else {"\t": "\\t", "\n": "\\n", "\r": "\\r"}[c]) in out
    assert all(c in out for c in kept)


def test_escapes_are_pythons_spelling():
    assert safe("a\x1bb") == "a\\x1bb"
    assert safe("\x9b") == "\\x9b"
    assert safe("\x00\x7f") == "\\x00\\x7f"
    assert safe("moc.elpmaxe\u202e") == "moc.elpmaxe\\u202e"
    assert safe("tag\U000e0041") == "tag\\U000e0041"
    assert safe("one\ntwo") == "one\\ntwo"
    assert safe("one\ntwo", multiline=True) == "one\ntwo"
    assert safe("\r\t") == "\\r\\t"
    assert safe(42) == "42" and safe(None) == "None"
    # not injective, by choice: a typed backslash sequence stays as it is
    assert safe("\\x1b") == safe("\x1b")
    # non-ASCII letters, marks and spaces are text, not controls
    assert safe("Ünïcödé · 証明書 — ok\u00a0") == "Ünïcödé · 証明書 — ok\u00a0"


def test_markup_cannot_open_a_rich_tag():
    from rich.text import Text

    assert Text.from_markup(f"[bold]{markup('[red]x[/red]')}[/]").plain == "[red]x[/red]"
    assert Text.from_markup(f"[bold]{markup('trailing' + chr(92))}[/]").plain == "trailing" + chr(92)
    assert "\x1b" not in markup("\x1b[2J")


# --------------------------------------------------------------------------- shell

def _bash_argv(line: str) -> list[str]:
    """What bash makes of ``line`` as arguments (printf prints each between NULs)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}  # bash decodes \\u only in a UTF-8 locale
    out = subprocess.run(["bash", "-c", f"printf '%s\\0' {line}"], capture_output=True, timeout=10, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.split(b"\0")[:-1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                        max_size=12), min_size=1, max_size=4))
def test_shell_words_reach_bash_as_they_were(words):
    line = shell(*words)
    assert safe(line) == line, "a printed command holds no control character"
    assert _bash_argv(line) == [w.encode("utf-8") for w in words]


def test_a_surrogate_escaped_byte_of_a_file_name_is_quoted_as_that_byte():
    name = b"ca-\xff.pem".decode("utf-8", "surrogateescape")
    line = quote(name)
    assert line == "$'ca-\\xff.pem'" and safe(line) == line
    assert _bash_argv(line) == [b"ca-\xff.pem"]


def test_shell_quotes_like_shlex_for_printable_words():
    for w in ("plain", "my fix's dir", "a b", "$(touch pwned)", '"q"', "`id`", "*", ""):
        assert quote(w) == shlex.quote(w)
    assert shell("export", assign("SSL_CERT_FILE", "/a b/c.pem")) == "export SSL_CERT_FILE='/a b/c.pem'"
    with pytest.raises(ValueError):
        assign("A B", "x")


# --------------------------------------------------------------------------- the console

def test_a_console_on_a_pipe_never_breaks_a_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    buf = io.StringIO()
    c = console(buf)
    assert c.width == PIPE_WIDTH
    long_path = "/tmp/" + "/".join(["a-rather-long-directory-name"] * 12) + "/ca-bundle.pem"
    c.print(f"  [bold]fix:[/] export SSL_CERT_FILE={markup(long_path)}")
    c.print(f"  {markup('word ' * 60)}", soft_wrap=False)  # even where a renderer asks for wrapping
    lines = buf.getvalue().splitlines()
    assert lines[0] == f"  fix: export SSL_CERT_FILE={long_path}"
    assert lines[1].rstrip() == "  " + ("word " * 60).rstrip()
    assert len(lines) == 2


def test_the_console_sanitises_what_a_renderer_forgot():
    from rich.text import Text
    from rich.tree import Tree

    buf = io.StringIO()
    c = console(buf)
    tree = Tree(Text("root\x1b]52;c;QQ==\x07"))
    tree.add("child \x1b[2J \x9b \u202e \x00")
    c.print(tree)
    c.print(Text("\x1b[31mred?"))
    out = buf.getvalue()
    _assert_clean(out, multiline=True)
    assert "\\x1b]52;c;QQ==" in out and "\\u202e" in out and "\\x9b" in out


def test_a_console_on_a_terminal_keeps_richs_width(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("COLUMNS", "80")
    c = console(Tty())
    assert c.width == 80
