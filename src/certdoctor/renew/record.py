"""The attempt record of ``certdoctor renew`` and the lock that keeps two runs apart.

    >>> with Lock.acquire(state_path), Record.open(state_path) as rec:      # doctest: +SKIP
    ...     n = rec.begin("web", old_fingerprint=fp)
    ...     rec.finish(n, outcome="renewed", new_fingerprint=new_fp)
    >>> rec.last("web").outcome                                            # doctest: +SKIP
    'renewed'

The record is one SQLite file (default ``$XDG_DATA_HOME/certdoctor/renew.sqlite``, 0600, its
directory 0700), WAL journal like the monitor's state: an attempt is a row written when it
starts and completed when it ends (a run killed in between leaves ``outcome = 'interrupted'``
with no ``finished``), so ``renew --check`` can say "last attempt failed at …, because …". The
last ARI answer of each certificate is kept beside it (``--check`` reads it, it never asks the CA).

The lock is ``fcntl.flock`` (non-blocking, exclusive) on ``<state>.lock`` beside the record, held
for the whole run; the holder writes its pid into it, so a second run fails at once with
:class:`Locked` naming that pid. ``flock`` is released by the kernel when the process dies:
a stale lock file never blocks a later run.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certdoctor import policy
from certdoctor._sqlite import journal_wal
from certdoctor.errors import CertdoctorError, UsageError

SCHEMA_VERSION = 1
APPLICATION = "certdoctor-renew"

#: outcomes of an attempt
RENEWED = "renewed"            # issued, installed, deployed, served
FAILED = "failed"              # nothing changed on disk (or the install was undone by itself)
ROLLED_BACK = "rolled_back"    # installed, not served; the previous files restored (--rollback-on-fail)
NOT_SERVED = "not_served"      # installed, the deploy failed, the new files left in place
INTERRUPTED = "interrupted"    # begun, never finished (the process died)
OUTCOMES = (RENEWED, FAILED, ROLLED_BACK, NOT_SERVED, INTERRUPTED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    error_kind TEXT,
    error_text TEXT,
    transient INTEGER NOT NULL DEFAULT 0,
    old_fingerprint TEXT,
    new_fingerprint TEXT,
    retry_after REAL,
    next_attempt TEXT,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS attempts_by_name ON attempts (name, id);
CREATE TABLE IF NOT EXISTS ari (
    name TEXT PRIMARY KEY,
    cert_id TEXT NOT NULL,
    fetched TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    explanation_url TEXT,
    retry_after REAL
);
"""


class Locked(CertdoctorError):
    """Another ``certdoctor renew`` holds the lock."""

    exit_code = 1


def default_path(environ: "os._Environ[str] | dict[str, str] | None" = None) -> Path:
    """``$XDG_DATA_HOME/certdoctor/renew.sqlite``, else ``~/.local/share/certdoctor/renew.sqlite``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "certdoctor" / "renew.sqlite"


def state_path(path: "str | os.PathLike[str] | None", *, create: bool = True) -> Path:
    """The record's path, its directory made when ``create`` (0700 when it is the default one)."""
    from certdoctor.fsutil import check_parent, private_dir

    if path is None:
        p = default_path()
        if create:
            private_dir(p.parent, what="renew state directory")
        return p
    p = Path(os.path.expanduser(str(path)))
    if create:
        check_parent(p, "state", create=True)
    if p.is_dir():
        raise UsageError(f"state {p}: is a directory", "Give state the path of a file (e.g. renew.sqlite).")
    return p


def _iso(t: _dt.datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    return _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc)


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


# --------------------------------------------------------------------------- the lock

class Lock:
    """An exclusive ``flock`` on ``<state>.lock``; :meth:`acquire` or raise :class:`Locked`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, state: "str | os.PathLike[str]") -> "Lock":
        import fcntl

        path = Path(f"{os.fspath(state)}.lock")
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot open the lock file {path}: {exc.strerror or exc}",
                             "Give state a path in a directory this user can write.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise Locked(f"another certdoctor renew is running ({who} holds the lock {path})",
                         "Wait for it to end; runs take turns so that two never renew the same certificate. "
                         "The lock goes away with its process: a stale lock file never blocks.") from None
        except OSError as exc:  # pragma: no cover - a filesystem without flock
            os.close(fd)
            raise UsageError(f"cannot lock {path}: {exc.strerror or exc}",
                             "Put the state on a local filesystem.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "Lock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:  # pragma: no cover
        return None
    return int(text) if text.isdigit() else None


# --------------------------------------------------------------------------- the record

@dataclass(frozen=True, slots=True)
class Attempt:
    """One row of the record."""

    id: int
    name: str
    started: _dt.datetime
    finished: _dt.datetime | None
    outcome: str
    reason: str | None = None
    error_kind: str | None = None
    error_text: str | None = None
    transient: bool = False
    old_fingerprint: str | None = None
    new_fingerprint: str | None = None
    retry_after: float | None = None
    next_attempt: _dt.datetime | None = None
    pid: int | None = None

    @property
    def failed(self) -> bool:
        return self.outcome not in (RENEWED,)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "started": _iso(self.started), "finished": _iso(self.finished),
                "outcome": self.outcome, "reason": self.reason, "error_kind": self.error_kind,
                "error": self.error_text, "transient": self.transient, "old_fingerprint": self.old_fingerprint,
                "new_fingerprint": self.new_fingerprint, "retry_after": self.retry_after,
                "next_attempt": _iso(self.next_attempt)}


@dataclass(frozen=True, slots=True)
class StoredAri:
    """The last ARI answer seen for a certificate (``cert_id`` says which one it was about)."""

    cert_id: str
    fetched: _dt.datetime
    start: _dt.datetime
    end: _dt.datetime
    explanation_url: str | None
    retry_after: float | None


_COLUMNS = ("id", "name", "started", "finished", "outcome", "reason", "error_kind", "error_text", "transient",
            "old_fingerprint", "new_fingerprint", "retry_after", "next_attempt", "pid")


def _refused(path: Path, why: str) -> UsageError:
    return UsageError(f"state {path}: {why}",
                      "Give state a file of certdoctor renew's (or a new path).")


class Record:
    """An open attempt record; use :meth:`open`, close it (or use it as a context manager)."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path, self._db = path, db

    @classmethod
    def open(cls, path: "str | os.PathLike[str]", *, create: bool = True) -> "Record":
        """The record at ``path``; created (0600) when missing and ``create``; else a missing file is
        an empty record that is never written (``--check`` changes nothing)."""
        p = Path(path)
        if not p.exists():
            if not create:
                db = sqlite3.connect(":memory:", isolation_level=None)
                _migrate(db, p)
                return cls(p, db)
            try:
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise _refused(p, f"cannot be created ({exc.strerror or exc})") from None
        uri = f"file:{p}?mode={'rwc' if create else 'ro'}"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=policy.RENEW_RECORD_BUSY_TIMEOUT_SECONDS,
                                 isolation_level=None)
        except sqlite3.Error as exc:
            raise _refused(p, f"cannot be opened ({exc})") from None
        try:
            db.execute(f"PRAGMA busy_timeout = {int(policy.RENEW_RECORD_BUSY_TIMEOUT_SECONDS * 1000)}")
            if create:
                if db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
                    _check(db, p)  # before WAL mode, which rewrites a foreign file's header
                mode = journal_wal(db, policy.RENEW_RECORD_BUSY_TIMEOUT_SECONDS)
                if str(mode).lower() != "wal":  # pragma: no cover - no shared memory here
                    db.execute("PRAGMA journal_mode = DELETE")
                db.execute("PRAGMA synchronous = NORMAL")
                _migrate(db, p)
            else:
                _check(db, p)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _refused(p, f"is not a certdoctor renew record ({exc})") from None
        except UsageError:
            db.close()
            raise
        return cls(p, db)

    # ----------------------------------------------------------------------- attempts
    def begin(self, name: str, *, old_fingerprint: str | None, reason: str | None = None,
              now: _dt.datetime | None = None) -> int:
        cur = self._db.execute(
            "INSERT INTO attempts (name, started, outcome, reason, old_fingerprint, pid) VALUES (?, ?, ?, ?, ?, ?)",
            (name, _iso(now or _utcnow()), INTERRUPTED, reason, old_fingerprint, os.getpid()))
        return int(cur.lastrowid)

    def finish(self, attempt: int, *, outcome: str, error_kind: str | None = None, error_text: str | None = None,
               transient: bool = False, new_fingerprint: str | None = None, retry_after: float | None = None,
               next_attempt: _dt.datetime | None = None, now: _dt.datetime | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("UPDATE attempts SET finished = ?, outcome = ?, error_kind = ?, error_text = ?, transient = ?, "
                       "new_fingerprint = ?, retry_after = ?, next_attempt = ? WHERE id = ?",
                       (_iso(now or _utcnow()), outcome, error_kind, error_text, int(transient), new_fingerprint,
                        retry_after, _iso(next_attempt), attempt))
            name = db.execute("SELECT name FROM attempts WHERE id = ?", (attempt,)).fetchone()
            if name is not None:
                db.execute("DELETE FROM attempts WHERE name = ? AND id <= (SELECT id FROM attempts WHERE name = ? "
                           "ORDER BY id DESC LIMIT 1 OFFSET ?)", (name[0], name[0], policy.RENEW_RECORD_ATTEMPTS_KEPT))
            db.execute("COMMIT")
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover
                pass
            raise

    def attempts(self, name: str) -> list[Attempt]:
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM attempts WHERE name = ? ORDER BY id",
                                (name,)).fetchall()
        return [_attempt(r) for r in rows]

    def last(self, name: str) -> Attempt | None:
        row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM attempts WHERE name = ? ORDER BY id DESC LIMIT 1",
                               (name,)).fetchone()
        return _attempt(row) if row else None

    def not_before(self, name: str) -> _dt.datetime | None:
        """When the next attempt may start (a failed last attempt's retry-after), ``None``: now."""
        last = self.last(name)
        if last is None or not last.failed:
            return None
        return last.next_attempt

    # ----------------------------------------------------------------------- ARI
    def save_ari(self, name: str, cert_id: str, info, *, now: _dt.datetime | None = None) -> None:
        """Keep ``info`` (a :class:`certdoctor.renew.schedule.RenewalInfo`) as ``name``'s last ARI answer."""
        self._db.execute(
            "INSERT OR REPLACE INTO ari (name, cert_id, fetched, window_start, window_end, explanation_url, "
            "retry_after) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, cert_id, _iso(now or _utcnow()), _iso(info.start), _iso(info.end), info.explanation_url,
             info.retry_after))

    def ari(self, name: str) -> StoredAri | None:
        row = self._db.execute("SELECT cert_id, fetched, window_start, window_end, explanation_url, retry_after "
                               "FROM ari WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return StoredAri(row[0], _parse(row[1]), _parse(row[2]), _parse(row[3]), row[4], row[5])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Record":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _attempt(r) -> Attempt:
    d = dict(zip(_COLUMNS, r))
    return Attempt(id=d["id"], name=d["name"], started=_parse(d["started"]), finished=_parse(d["finished"]),
                   outcome=d["outcome"], reason=d["reason"], error_kind=d["error_kind"], error_text=d["error_text"],
                   transient=bool(d["transient"]), old_fingerprint=d["old_fingerprint"],
                   new_fingerprint=d["new_fingerprint"], retry_after=d["retry_after"],
                   next_attempt=_parse(d["next_attempt"]), pid=d["pid"])


def _check(db: sqlite3.Connection, path: Path) -> None:
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in names:
        raise _refused(path, "is an SQLite file of something else (no meta table)")
    meta = dict(db.execute("SELECT name, value FROM meta"))
    if meta.get("application") != APPLICATION:
        raise _refused(path, f"is an SQLite file of {meta.get('application')!r}, not certdoctor renew's")
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise UsageError(f"state {path}: written by a newer certdoctor (schema {version}; this one reads "
                         f"{SCHEMA_VERSION})", "Upgrade certdoctor, or give state another file.")


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if names:
            _check(db, path)
        for stmt in (s.strip() for s in _SCHEMA.split(";")):
            if stmt:
                db.execute(stmt)
        db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('application', ?)", (APPLICATION,))
        db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


__all__ = ["Record", "Attempt", "StoredAri", "Lock", "Locked", "default_path", "state_path", "OUTCOMES",
           "RENEWED", "FAILED", "ROLLED_BACK", "NOT_SERVED", "INTERRUPTED"]
