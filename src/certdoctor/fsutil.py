"""Every file certdoctor writes goes through here: atomic replacement, links, devices, stdout,
private directories and fresh ones.

* :func:`write_atomic`: ``-`` is standard output; an existing symlink is written *through* (its
  final target is replaced atomically, the link stays a link); an existing device, FIFO or
  terminal is written in place, never replaced by a regular file; a regular file is replaced by a
  temp file beside it (``mode`` set before the first byte, fsync, ``os.replace``: pip's way);
  ``exclusive=True`` never replaces anything (keys). A missing parent directory, an empty path
  or a directory given as a file is a :class:`~certdoctor.errors.UsageError` with a hint; an OS
  refusal (no space, read-only, ``/proc``) an :class:`~certdoctor.errors.InputError`.
* :func:`private_dir`: a cache directory, created 0700, refused when it is a symlink, belongs to
  another user or can be written by group or others (another local user could plant what this
  user then trusts).
* :func:`fresh_dir`: a work directory created new (or an empty one of ours), never a symlink;
  :func:`write_new` puts files in it with ``O_EXCL|O_NOFOLLOW`` so a planted link is never followed.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path

from certdoctor.errors import InputError, UsageError

#: the spellings of standard output an output option accepts (``-`` first)
STDOUT_NAMES = ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")
#: O_NOFOLLOW where the platform has it (not on Windows)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def is_stdout(path: "str | os.PathLike[str] | None") -> bool:
    """``-`` (or ``/dev/stdout`` and its aliases): the output goes to standard output."""
    return path is not None and os.fspath(path) in STDOUT_NAMES


def write_stdout(data: bytes) -> None:
    """``data`` to standard output, as bytes (DER stays binary), flushed."""
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # a text-only stdout (a test's capture): the bytes as latin-1 text
        sys.stdout.write(data.decode("latin-1"))
        sys.stdout.flush()
        return
    sys.stdout.flush()
    stream.write(data)
    stream.flush()


def _nonempty(path: "str | os.PathLike[str]", what: str) -> str:
    text = os.fspath(path)
    if not text or not text.strip():
        raise UsageError(f"{what}: an empty path", f"Give a file name (or - for standard output) as {what}.")
    if "\0" in text:
        raise UsageError(f"{what}: a path with a NUL byte", "Give a real file name.")
    return text


def check_parent(target: Path, what: str = "output", *, create: bool = False) -> None:
    """``target``'s directory exists and is a directory (``create``: made if missing, as
    ``mkdir -p``), or a UsageError saying which part is not."""
    parent = target.parent
    try:
        st = os.stat(parent)
    except FileNotFoundError:
        if create:
            try:
                parent.mkdir(parents=True, exist_ok=True)
                return
            except NotADirectoryError:
                raise UsageError(f"{what} {target}: a part of {parent} is a file, not a directory",
                                 "Give a path whose directories exist.") from None
            except OSError as exc:
                raise UsageError(f"{what} {target}: the directory {parent} cannot be created ({exc.strerror or exc})",
                                 "Give a path in a directory you can write.") from None
        raise UsageError(f"{what} {target}: the directory {parent} does not exist",
                         "Create it first, or give a path in an existing directory.") from None
    except NotADirectoryError:
        raise UsageError(f"{what} {target}: a part of {parent} is a file, not a directory",
                         "Give a path whose directories exist.") from None
    except OSError as exc:
        raise UsageError(f"{what} {target}: {parent} cannot be used ({exc.strerror or exc})",
                         "Give a path in a directory you can write.") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{what} {target}: {parent} is a file, not a directory", "Give a path whose directories exist.")


def resolve_output(path: "str | os.PathLike[str]", what: str = "output", *,
                   parents: bool = False) -> tuple[Path, "os.stat_result | None"]:
    """Where a write to ``path`` really lands: the final target of a symlink chain (a dangling or
    looping link is refused), and that target's ``stat`` (``None`` when it does not exist yet)."""
    text = _nonempty(path, what)
    target = Path(text)
    try:
        st = os.stat(target)  # follows links: what a write would reach
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        check_parent(target, what)
        raise  # pragma: no cover - check_parent raises
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"{what} {target}: a symlink loop", "Point the link at a file, or give another path.") from None
        raise InputError(f"{target}: cannot write: {exc.strerror or exc}", "Check the path and its permissions.") from None
    if os.path.islink(target):
        if st is None:
            raise UsageError(f"{what} {target}: a symlink to a file that does not exist ({os.readlink(target)})",
                             "Create the target first, or remove the link, or give another path.")
        if stat.S_ISREG(st.st_mode):
            target = Path(os.path.realpath(target))
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{what} {path}: is a directory", "Give a file name inside it.")
    if st is None:
        check_parent(target, what, create=parents)
    return target, st


def check_output(path: "str | os.PathLike[str]", what: str = "output") -> None:
    """:func:`resolve_output`'s refusals (``parents=True``) without making anything, for a check
    before the work: missing directories are made only when the file is written; until then the
    nearest existing one must be a directory."""
    text = _nonempty(path, what)
    parent = Path(text).parent
    if parent.is_dir():
        resolve_output(text, what)
        return
    above = parent
    while not os.path.lexists(above) and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise UsageError(f"{what} {text}: {above} is not a directory", "Give a path whose directories exist.")


def write_atomic(path: "str | os.PathLike[str]", data: bytes, mode: int = 0o644, *, exclusive: bool = False,
                 parents: bool = True, what: str = "output") -> Path:
    """Write ``data`` to ``path`` so that no reader ever sees half a file; the path written.

    ``-`` (and ``/dev/stdout``) is standard output. An existing symlink is written through: its final target is
    replaced atomically and the link stays. An existing non-regular file (character device,
    FIFO, ``/dev/stdout`` behind a pipe) is opened and written in place, never replaced. A regular
    file (or a new one) gets a temp file beside it, ``mode`` set before any byte, fsync, then
    ``os.replace``; with ``exclusive`` an existing file is never replaced (``os.link`` into place).
    Missing parent directories are made (``parents``); a part of the path that is a file, or a
    directory that cannot be made, is a UsageError.
    """
    if is_stdout(path):  # the stream itself (a shell's `>>` keeps appending), never a file made there
        write_stdout(data)
        return Path(os.fspath(path))
    target, st = resolve_output(path, what, parents=parents)
    if st is not None and exclusive:
        raise UsageError(f"{path} already exists: refusing to replace it",
                         "Give a new file name, or add --force to replace it.")
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(target, data)
        return Path(path)
    try:
        tmp = write_temp_beside(target, data, mode)
    except OSError as exc:
        raise InputError(f"{target}: cannot write: {exc.strerror or exc}",
                         "Check that the directory exists and is writable.") from None
    try:
        if exclusive:
            try:
                os.link(tmp, target)  # fails if the target appeared meanwhile: never overwrites
            except FileExistsError:
                raise UsageError(f"{path} already exists: refusing to replace it",
                                 "Give a new file name, or add --force to replace it.") from None
            finally:
                remove_quietly(tmp)
        else:
            os.replace(tmp, target)
    except OSError as exc:
        remove_quietly(tmp)
        raise InputError(f"{target}: cannot write: {exc.strerror or exc}",
                         "Check that the directory exists and is writable.") from None
    except BaseException:
        remove_quietly(tmp)
        raise
    _fsync_dir(target.parent)
    return Path(path) if os.path.islink(path) else target


def _write_in_place(target: Path, data: bytes) -> None:
    """A device or FIFO: open it for writing (no create, no rename) and write the bytes."""
    try:
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(f"{target}: cannot write: {exc.strerror or exc}",
                         "It is not a regular file: give a file name, or - for standard output.") from None
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError as exc:
        raise InputError(f"{target}: cannot write: {exc.strerror or exc}", None) from None
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def atomic_write(path: "str | os.PathLike[str]", data: bytes, mode: int = 0o644) -> Path:
    """:func:`write_atomic` (the older name; same rules)."""
    return write_atomic(path, data, mode)


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


# --------------------------------------------------------------------------- directories

def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


def _refuse_unsafe_dir(p: Path, st: os.stat_result, what: str) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"{what} {p} is a symlink: refusing to use it",
                         f"Remove the link (rm {p}) so certdoctor creates the directory itself, "
                         "or set CERTDOCTOR_CACHE_DIR to a directory of yours.")
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{what} {p} is not a directory", "Remove it, or set CERTDOCTOR_CACHE_DIR elsewhere.")
    euid = _euid()
    if euid != -1 and st.st_uid != euid:
        raise UsageError(
            f"{what} {p} belongs to uid {st.st_uid}, not to you (uid {euid}): refusing to use it",
            "Another user could put there what you then trust. Remove it (as its owner or root), "
            "or set CERTDOCTOR_CACHE_DIR to a directory of yours.")
    if st.st_mode & 0o022:
        raise UsageError(
            f"{what} {p} is writable by {'group and others' if st.st_mode & 0o022 == 0o022 else 'its group' if st.st_mode & 0o020 else 'others'} "
            f"(mode {stat.S_IMODE(st.st_mode):o}): refusing to use it",
            f"Another user could put there what you then trust: chmod 700 {p}, "
            "or set CERTDOCTOR_CACHE_DIR to a directory of yours.")


def private_dir(path: "str | os.PathLike[str]", *, root: "str | os.PathLike[str] | None" = None,
                what: str = "cache directory") -> Path:
    """``path`` as a directory only this user controls: created (mode 0700, missing parents
    too) or checked with ``lstat`` (never through a symlink): owned by the effective user, not
    writable by group or others. ``root`` (an ancestor of ``path``, e.g. the cache root) is held
    to the same rule, and every directory between it and ``path``. Raises
    :class:`~certdoctor.errors.UsageError` with a hint otherwise."""
    p = Path(_nonempty(path, what))
    chain = [p]
    if root is not None:
        r = Path(root)
        q = p
        while q != r and q.parent != q:
            q = q.parent
            chain.append(q)
        if q != r:
            chain = [p]  # root is no ancestor: only the directory itself
    # create what is missing, outermost first
    missing = []
    q = p
    while True:
        try:
            os.lstat(q)
            break
        except FileNotFoundError:
            missing.append(q)
            if q.parent == q:
                break
            q = q.parent
        except OSError as exc:
            raise UsageError(f"{what} {q} cannot be used ({exc.strerror or exc})",
                             "Set CERTDOCTOR_CACHE_DIR to a directory of yours.") from None
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass  # made meanwhile: checked below like any other
        except OSError as exc:
            raise UsageError(f"{what} {d} cannot be created ({exc.strerror or exc})",
                             "Set CERTDOCTOR_CACHE_DIR to a directory you can write.") from None
        else:
            try:
                os.chmod(d, 0o700)  # the umask may have taken more than group/other bits
            except OSError:  # pragma: no cover
                pass
    for d in chain:
        try:
            st = os.lstat(d)
        except OSError as exc:
            raise UsageError(f"{what} {d} cannot be used ({exc.strerror or exc})",
                             "Set CERTDOCTOR_CACHE_DIR to a directory of yours.") from None
        _refuse_unsafe_dir(d, st, what)
    return p


def fresh_dir(path: "str | os.PathLike[str] | None", *, prefix: str = "certdoctor-",
              what: str = "--workdir") -> tuple[Path, bool]:
    """A directory made for this run: ``(path, made)``. ``None`` makes one with ``mkdtemp``
    (0700, a new name). A given path is created 0700 if missing; an existing one is used only when
    it is a real directory (not a symlink), owned by this user, not writable by others, and empty.
    """
    if path is None:
        return Path(tempfile.mkdtemp(prefix=prefix)), True
    p = Path(_nonempty(path, what))
    try:
        if not os.path.lexists(p):
            check_parent(p, what, create=True)
        os.mkdir(p, 0o700)
        return p, True
    except FileExistsError:
        pass
    except OSError as exc:
        raise UsageError(f"{what} {p} cannot be created ({exc.strerror or exc})",
                         "Give a directory you can write, or leave --workdir out for a temporary one.") from None
    st = os.lstat(p)
    _refuse_unsafe_dir(p, st, what)
    if any(os.scandir(p)):
        raise UsageError(f"{what} {p} exists and is not empty: refusing to write into it",
                         "Give a new (or empty) directory, or leave --workdir out for a temporary one.")
    return p, False


def write_new(path: "str | os.PathLike[str]", data: bytes, mode: int = 0o644) -> Path:
    """Create ``path`` (``O_CREAT|O_EXCL|O_NOFOLLOW``, ``mode`` from the start) and write ``data``:
    a file or symlink already there is never opened, followed or replaced."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
    except FileExistsError:
        raise UsageError(f"{p} already exists: refusing to replace it", "Use a new, empty directory.") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        remove_quietly(str(p))
        raise
    return p


__all__ = [
    "STDOUT_NAMES",
    "is_stdout",
    "write_stdout",
    "write_atomic",
    "atomic_write",
    "resolve_output",
    "check_output",
    "check_parent",
    "private_dir",
    "fresh_dir",
    "write_new",
    "write_temp_beside",
    "write_fd",
    "remove_quietly",
]
