"""The monitor's state: one SQLite file keeping, per target, the last result and a history of
its transitions, so that a run reports what *changed* (docs/MONITOR.md, "State").

    >>> with State.open("/var/lib/certdoctor/monitor.sqlite") as st:     # doctest: +SKIP
    ...     run = st.begin_run()
    ...     changes, changed_at = st.record(key, row, run)
    ...     st.finish_run(run, targets=1, transitions=len(changes))

Default file: ``$XDG_DATA_HOME/certdoctor/monitor.sqlite`` (``~/.local/share/certdoctor/…``),
its directory created 0700 by :func:`certdoctor.fsutil.private_dir`; the file itself is 0600.

Safety:

* **crash**: each row is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) that reads the
  target's previous snapshot, computes the transitions (:mod:`certdoctor.monitor.changes`) and
  writes the new snapshot and the history. A process killed at any point leaves every target
  either at its previous result or at its new one, never between (WAL journal,
  ``synchronous=NORMAL``: durable against a crash of the process; a power loss may lose the
  last transactions, never consistency). A run that did not finish is left in ``runs`` with no
  ``finished_at``.
* **two runs on one file**: SQLite's own locking. ``BEGIN IMMEDIATE`` takes the write lock
  before the read, so two runs updating one target are serialised and each computes its
  transitions from the other's committed result; a run waits at most
  :data:`~certdoctor.policy.MONITOR_STATE_BUSY_TIMEOUT_SECONDS` for the lock (a row whose update
  still fails is reported, its result is not lost from the output).
* **versioned schema**: ``meta.schema_version``; a file from a newer certdoctor, or a file that
  is not a state file, is refused with a hint, never altered.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

from certdoctor import policy
from certdoctor._sqlite import journal_wal
from certdoctor.errors import UsageError
from certdoctor.monitor import changes as C

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.result import Row

#: the schema of the state file (``meta.schema_version``); bumped when a table changes
SCHEMA_VERSION = 1
APPLICATION = "certdoctor-monitor"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS targets (
    key TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    leaf_changed_at TEXT,
    run_id INTEGER,
    snapshot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    run_id INTEGER,
    checked_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    old TEXT,
    new TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_key ON history (key, id);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    pid INTEGER,
    targets INTEGER NOT NULL DEFAULT 0,
    transitions INTEGER NOT NULL DEFAULT 0
);
"""


def default_path(environ: "os._Environ[str] | dict[str, str] | None" = None) -> Path:
    """``$XDG_DATA_HOME/certdoctor/monitor.sqlite``, else ``~/.local/share/certdoctor/monitor.sqlite``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "certdoctor" / "monitor.sqlite"


def _now() -> str:
    return C._iso(_dt.datetime.now(_dt.timezone.utc))  # type: ignore[return-value]


def _refused(path: Path, why: str, what: str = "--state") -> UsageError:
    if what != "--state":  # a reader (certdoctor report): the file is an input, never created
        return UsageError(f"{what} {path}: {why}",
                          "Give the state file certdoctor monitor writes (--state FILE; default "
                          "$XDG_DATA_HOME/certdoctor/monitor.sqlite).")
    return UsageError(f"--state {path}: {why}",
                      "Give --state a file of certdoctor monitor's (or a new path), or run with --no-state.")


class Recorded(NamedTuple):
    """What :meth:`State.record` did: the transitions, the target's ``leaf_changed_at``
    (``…Z`` or ``None``), and its snapshots before (``None``: first sight) and after."""

    transitions: list[C.Transition]
    leaf_changed_at: str | None
    previous: dict[str, Any] | None
    snapshot: dict[str, Any]


class State:
    """An open state file. Use :meth:`open` (or the constructor with a path); close it (or use
    it as a context manager)."""

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = Path(path)
        self._db = self._connect()

    @classmethod
    def open(cls, path: "str | os.PathLike[str] | None" = None) -> "State":
        """The state at ``path`` (created when missing), or at :func:`default_path` (its
        directory made private to this user)."""
        from certdoctor.fsutil import check_parent, private_dir

        if path is None:
            p = default_path()
            private_dir(p.parent, what="state directory")
        else:
            p = Path(os.path.expanduser(str(path)))
            check_parent(p, "--state", create=True)
            if p.is_dir():
                raise _refused(p, "is a directory")
        return cls(p)

    @classmethod
    def read(cls, path: "str | os.PathLike[str]", what: str = "STATE") -> "State":
        """An existing state file opened **read-only** (``certdoctor report``): never created,
        migrated or written; a missing file, a directory, an SQLite file of something else or a
        newer schema is a :class:`~certdoctor.errors.UsageError` naming ``what``."""
        from urllib.parse import quote

        p = Path(os.path.expanduser(str(path)))
        if not p.exists():
            raise _refused(p, "no such file", what)
        if p.is_dir():
            raise _refused(p, "is a directory", what)
        try:
            with open(p, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise _refused(p, f"cannot be read ({exc.strerror or exc})", what) from None
        if head != b"SQLite format 3\x00":
            raise _refused(p, "is not a certdoctor state file (not SQLite)", what)
        self = cls.__new__(cls)
        self.path = p
        try:
            db = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True,
                                 timeout=policy.MONITOR_STATE_BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _refused(p, f"cannot be opened ({exc})", what) from None
        try:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "targets", "history"} <= names:
                raise _refused(p, "is an SQLite file of something else (no certdoctor tables)", what)
            meta = dict(db.execute("SELECT name, value FROM meta"))
            if meta.get("application") != APPLICATION:
                raise _refused(p, f"is an SQLite file of {meta.get('application')!r}, not certdoctor's", what)
            version = int(meta.get("schema_version", "0"))
            if version > SCHEMA_VERSION:
                raise UsageError(f"{what} {p}: written by a newer certdoctor (schema {version}; this one reads "
                                 f"{SCHEMA_VERSION})", "Upgrade certdoctor to read it.")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _refused(p, f"is not a certdoctor state file ({exc})", what) from None
        except BaseException:
            db.close()
            raise
        self._db = db
        return self

    def latest(self) -> list[dict[str, Any]]:
        """Every target's last result, by target: ``key``, ``target``, ``kind``, ``status``,
        ``checked_at``, ``leaf_changed_at`` and its ``snapshot``."""
        rows = self._db.execute("SELECT key, target, kind, status, checked_at, leaf_changed_at, snapshot FROM targets "
                                "ORDER BY target, key").fetchall()
        return [{"key": r[0], "target": r[1], "kind": r[2], "status": r[3], "checked_at": r[4],
                 "leaf_changed_at": r[5], "snapshot": json.loads(r[6])} for r in rows]

    def recent(self, limit: int = policy.REPORT_CHANGES_MAX, keys: "Iterable[str] | None" = None) -> list[dict[str, Any]]:
        """The latest ``limit`` transitions of every target (or of ``keys``), newest first, each
        with its ``target`` (as last written) besides :meth:`history`'s keys."""
        sql = ("SELECT h.key, t.target, h.run_id, h.checked_at, h.kind, h.old, h.new, h.detail FROM history h "
               "LEFT JOIN targets t ON t.key = h.key")
        args: list[Any] = []
        if keys is not None:
            wanted = list(dict.fromkeys(keys))
            if not wanted:
                return []
            sql += f" WHERE h.key IN ({','.join('?' * len(wanted))})"
            args += wanted
        rows = self._db.execute(sql + " ORDER BY h.id DESC LIMIT ?", (*args, int(limit))).fetchall()
        return [{"key": r[0], "target": r[1] if r[1] is not None else (r[0].split("\x1f") + [""])[1],
                 "run": r[2], "checked_at": r[3], "kind": r[4], "old": json.loads(r[5]) if r[5] else None,
                 "new": json.loads(r[6]) if r[6] else None, "detail": r[7]} for r in rows]

    # ----------------------------------------------------------------------- opening
    def _connect(self) -> sqlite3.Connection:
        p = self.path
        if not p.exists():
            try:  # created 0600 (sqlite would follow the umask); O_EXCL: never through a symlink
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise _refused(p, f"cannot be created ({exc.strerror or exc})") from None
        try:
            db = sqlite3.connect(str(p), timeout=policy.MONITOR_STATE_BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.Error as exc:
            raise _refused(p, f"cannot be opened ({exc})") from None
        try:
            db.execute(f"PRAGMA busy_timeout = {int(policy.MONITOR_STATE_BUSY_TIMEOUT_SECONDS * 1000)}")
            mode = journal_wal(db, policy.MONITOR_STATE_BUSY_TIMEOUT_SECONDS)
            if str(mode).lower() != "wal":  # pragma: no cover - a filesystem without shared memory
                db.execute("PRAGMA journal_mode = DELETE")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _refused(p, f"is not a certdoctor state file ({exc})") from None
        except UsageError:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if names and "meta" not in names:
                raise _refused(self.path, "is an SQLite file of something else (no meta table)")
            if "meta" in names:
                meta = dict(db.execute("SELECT name, value FROM meta"))
                if meta.get("application") != APPLICATION:
                    raise _refused(self.path, f"is an SQLite file of {meta.get('application')!r}, not certdoctor's")
                version = int(meta.get("schema_version", "0"))
                if version > SCHEMA_VERSION:
                    raise UsageError(f"--state {self.path}: written by a newer certdoctor (schema {version}; "
                                     f"this one reads {SCHEMA_VERSION})",
                                     "Upgrade certdoctor, or give --state another file.")
            for stmt in (s.strip() for s in _SCHEMA.split(";")):
                if stmt:
                    db.execute(stmt)
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('application', ?)", (APPLICATION,))
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('created_at', ?)", (_now(),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ----------------------------------------------------------------------- runs
    def begin_run(self) -> int:
        cur = self._db.execute("INSERT INTO runs (started_at, pid) VALUES (?, ?)", (_now(), os.getpid()))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, targets: int, transitions: int) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("UPDATE runs SET finished_at = ?, targets = ?, transitions = ? WHERE id = ?",
                       (_now(), targets, transitions, run_id))
            db.execute("DELETE FROM runs WHERE id <= (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?)",
                       (policy.MONITOR_STATE_RUNS_KEPT,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ----------------------------------------------------------------------- targets
    def record(self, key: str, row: "Row", run_id: int | None = None) -> "Recorded":
        """One transaction: the previous snapshot of ``key``, the transitions to ``row``, the new
        snapshot and history written."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            got = db.execute("SELECT snapshot, leaf_changed_at FROM targets WHERE key = ?", (key,)).fetchone()
            previous = json.loads(got[0]) if got else None
            changed_at = got[1] if got else None
            snap = C.snapshot(row, previous)
            found = C.diff(previous, snap, row.target, {f.code.value: f for f in row.findings})
            checked = snap["checked_at"]
            if any(t.kind in C.LEAF_KINDS for t in found):
                changed_at = checked
            db.execute(
                "INSERT INTO targets (key, target, kind, status, checked_at, leaf_changed_at, run_id, snapshot) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET target = excluded.target, "
                "kind = excluded.kind, status = excluded.status, checked_at = excluded.checked_at, "
                "leaf_changed_at = excluded.leaf_changed_at, run_id = excluded.run_id, snapshot = excluded.snapshot",
                (key, row.target, row.kind, row.status, checked, changed_at, run_id,
                 json.dumps(snap, separators=(",", ":"), sort_keys=True)))
            if found:
                db.executemany("INSERT INTO history (key, run_id, checked_at, kind, old, new, detail) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [(key, run_id, checked, t.kind, json.dumps(t.old), json.dumps(t.new), t.detail)
                                for t in found])
                db.execute("DELETE FROM history WHERE key = ? AND id <= (SELECT id FROM history WHERE key = ? "
                           "ORDER BY id DESC LIMIT 1 OFFSET ?)",
                           (key, key, policy.MONITOR_STATE_HISTORY_PER_TARGET))
            db.execute("COMMIT")
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - the transaction is already gone
                pass
            raise
        return Recorded(found, changed_at, previous, snap)

    def previous(self, key: str) -> dict[str, Any] | None:
        """The last snapshot recorded for ``key`` (``None``: never seen)."""
        got = self._db.execute("SELECT snapshot FROM targets WHERE key = ?", (key,)).fetchone()
        return json.loads(got[0]) if got else None

    def history(self, key: str) -> list[dict[str, Any]]:
        """The transitions recorded for ``key``, oldest first."""
        rows = self._db.execute("SELECT run_id, checked_at, kind, old, new, detail FROM history WHERE key = ? "
                                "ORDER BY id", (key,)).fetchall()
        return [{"run": r[0], "checked_at": r[1], "kind": r[2], "old": json.loads(r[3]) if r[3] else None,
                 "new": json.loads(r[4]) if r[4] else None, "detail": r[5]} for r in rows]

    def runs(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT id, started_at, finished_at, pid, targets, transitions FROM runs "
                                "ORDER BY id").fetchall()
        return [dict(zip(("id", "started_at", "finished_at", "pid", "targets", "transitions"), r)) for r in rows]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "State":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["State", "Recorded", "SCHEMA_VERSION", "default_path"]
