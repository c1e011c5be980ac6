"""What a directory tree holds, for the tests that prove a command wrote nothing (bad input, a
failed install): compare a snapshot taken before with one taken after."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def snapshot(base: Path) -> dict[str, tuple]:
    """Every entry under ``base``, by its path relative to ``base``: files by content hash and
    mode, links by target (not followed), directories."""
    out: dict[str, tuple] = {}
    for root, dirs, files in os.walk(base):
        for name in dirs + files:
            p = Path(root, name)
            rel = str(p.relative_to(base))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode))
    return out
