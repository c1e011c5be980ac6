"""SQLite's write-ahead log, switched on by two processes at once (the monitor's state file, the
renew record)."""

from __future__ import annotations

import sqlite3
import time


def journal_wal(db: sqlite3.Connection, timeout: float) -> str:
    """``PRAGMA journal_mode = WAL``; the mode now in force. Two runs opening one new file at the
    same moment race for this switch, and SQLite answers the loser ``database is locked`` at once
    (its busy handler is not called for it), so the switch is retried for up to ``timeout`` s."""
    end = time.monotonic() + timeout
    while True:
        try:
            return str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= end:
                raise
            time.sleep(0.02)
