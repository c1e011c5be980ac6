"""Atomic file writes: a temp file beside the target, then ``os.replace`` (pip's way)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a temp file beside it, then ``os.replace``.

    A failure leaves the old file (or nothing) in place: never half a file. ``mode`` is set on
    the temp file before any byte is written, so a key (``mode=0o600``) is never readable by others.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_temp_beside(target, data, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        remove_quietly(tmp)
        raise
    return target


def write_temp_beside(target: Path, data: bytes, mode: int) -> str:
    """A new temp file in ``target``'s directory holding ``data``, flushed to disk; its path.

    ``mode`` is set before any byte is written. On failure the temp file is removed. The caller
    moves it into place (``os.replace``, or ``os.link`` to never overwrite) and removes it if that fails.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        write_fd(fd, data)
    except BaseException:
        remove_quietly(tmp)
        raise
    return tmp


def write_fd(fd: int, data: bytes) -> None:
    """Write ``data`` to the open descriptor ``fd``, fsync it and close it."""
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def remove_quietly(path: str) -> None:
    """``os.unlink``, where a file already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
