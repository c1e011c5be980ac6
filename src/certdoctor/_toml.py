"""TOML text to a document, every syntax error one ``UsageError`` naming ``file:line:column``
(the monitor's and the renew command's configs)."""

from __future__ import annotations

import re

from certdoctor.errors import UsageError


def loads(text: str, name: str) -> dict:
    """``tomllib.loads(text)``; a syntax error is ``error: NAME:LINE:COL: not valid TOML: …``."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{name}:{m.group(1)}:{m.group(2)}" if m else name
        raise UsageError(f"{where}: not valid TOML: {str(exc).split(' (at line')[0]}",
                         "Fix the syntax at that line (https://toml.io).") from None
