"""Install a new certificate without ever leaving a broken or half-written one in place.

Two kinds of destination:

* :class:`Files` — flat files (``cert``, ``chain``, ``fullchain``, ``key``; any may be left out).
  A path that is a symlink is written *through* (its final target is replaced, the link stays:
  :func:`certdoctor.fsutil.resolve_output`, the house's rule). The version replaced is kept
  beside it as ``<file>.prev`` (the real file's name: ``/etc/ssl/real.pem.prev``).
* :class:`Lineage` — certbot's layout: ``ROOT/live/NAME/{cert,chain,fullchain,privkey}.pem``
  are relative symlinks to ``ROOT/archive/NAME/{cert,chain,fullchain,privkey}N.pem``. A new
  version is written as the next ``N`` (new files: nothing is overwritten) and the four links are
  repointed; every earlier version stays in ``archive/``.

:func:`install` works in phases, so that a fault leaves the old files byte-identical:

1. **check** — every path resolved, every input parsed (the certificate is PEM, the key is the
   certificate's key, the full chain starts with the certificate); a directory, a missing
   directory, a path through a regular file is refused before anything is written;
2. **write** — every new file goes to a temp file *beside* its target (same directory, so the
   rename is atomic), mode set before the first byte (keys 0600), fsynced; for Files also a copy
   of each file being replaced (the coming ``.prev``); for a Lineage the new archive files
   (``O_EXCL``: hard-linked into place, never over a file) and the new links under temp names.
   A fault here (disk full, file-size limit, read-only) removes the temps: nothing changed;
3. **swap** — ``os.replace`` one by one (renames only, no data written), recorded in a journal;
   if any swap fails, the journal is undone in reverse (the old files and ``.prev`` files back),
   the temps removed, and :class:`InstallError` raised with one line and a hint;
4. **sync** — the directories are fsynced, and the displaced old ``.prev`` files removed.

:func:`rollback` puts the previous set back (all-or-nothing the same way) and refuses when the
installed files were changed since (someone else installed meanwhile). :func:`current` reads
what is installed now.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

from certdoctor.errors import CertdoctorError, UsageError
from certdoctor.fsutil import _fsync_dir as fsync_dir  # the house's one directory fsync
from certdoctor.fsutil import remove_quietly, resolve_output, write_temp_beside

ROLES = ("cert", "chain", "fullchain", "key")
#: certbot's file names in live/NAME and (with the version) in archive/NAME
LINEAGE_FILES = {"cert": "cert", "chain": "chain", "fullchain": "fullchain", "key": "privkey"}


class InstallError(CertdoctorError):
    """The new files could not be put in place; the old ones are untouched (or were put back)."""

    exit_code = 1


@dataclass(frozen=True)
class Files:
    """Flat files; the previous version of each is kept as ``<file>.prev``."""

    cert: Path | None = None
    chain: Path | None = None
    fullchain: Path | None = None
    key: Path | None = None

    def paths(self) -> dict[str, Path]:
        return {r: Path(getattr(self, r)) for r in ROLES if getattr(self, r) is not None}


@dataclass(frozen=True)
class Lineage:
    """A certbot-like lineage: ``root/live/NAME/*.pem`` → ``root/archive/NAME/*N.pem``."""

    root: Path
    name: str

    @property
    def live(self) -> Path:
        return Path(self.root) / "live" / self.name

    @property
    def archive(self) -> Path:
        return Path(self.root) / "archive" / self.name

    def link(self, role: str) -> Path:
        return self.live / f"{LINEAGE_FILES[role]}.pem"

    def archived(self, role: str, version: int) -> Path:
        return self.archive / f"{LINEAGE_FILES[role]}{version}.pem"


Destination = Union[Files, Lineage]


@dataclass(frozen=True)
class Swap:
    """One file put in place: ``target`` (the real file, or a live/ link) held ``old_sha256``
    (``None``: it did not exist) and now holds ``new_sha256``; ``prev`` where the old one is kept."""

    role: str
    target: Path
    prev: Path | None
    old_sha256: str | None
    new_sha256: str
    old_link: str | None = None  # Lineage: the link's previous target
    new_link: str | None = None


@dataclass(frozen=True)
class Installed:
    """What :func:`install` did, enough for :func:`rollback`."""

    dest: Any
    swaps: tuple[Swap, ...]
    version: int | None = None           # Lineage: the new N
    previous_version: int | None = None  # Lineage: the N before (None: the first)


@dataclass(frozen=True)
class Current:
    """What is installed: the leaf, and where its files are."""

    cert: Any  # x509.Certificate
    cert_path: Path
    key_path: Path | None
    fullchain_path: Path | None
    chain_path: Path | None = None
    version: int | None = None


# ----------------------------------------------------------------------------- helpers

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _oserror(exc: OSError, what: str) -> InstallError:
    reason = exc.strerror or str(exc)
    if exc.errno is not None:
        import errno as _errno

        hints = {_errno.ENOSPC: "Free disk space", _errno.EFBIG: "The file-size limit (ulimit -f) is too small",
                 _errno.EDQUOT: "The disk quota is full", _errno.EROFS: "The file system is read-only",
                 _errno.EACCES: "Run as a user who may write there", _errno.EPERM: "Run as a user who may write there"}
        hint = hints.get(exc.errno)
    else:
        hint = None
    return InstallError(f"{what}: {reason}; the installed files are unchanged",
                        f"{hint + ', then' if hint else 'Fix that, then'} run the renewal again.")


def _mode_for(role: str, st: "os.stat_result | None") -> int:
    """Keys 0600 (an existing key's mode kept if it grants others nothing: 0640 for a ssl-cert
    group stays); other files keep their mode, new ones 0644."""
    if role == "key":
        if st is not None and not stat.S_IMODE(st.st_mode) & 0o007 and stat.S_IMODE(st.st_mode) & 0o600 == 0o600:
            return stat.S_IMODE(st.st_mode) & 0o640
        return 0o600
    return stat.S_IMODE(st.st_mode) if st is not None else 0o644


def _temp_beside(target: Path, data: bytes, mode: int, st: "os.stat_result | None") -> str:
    """fsutil's temp file beside ``target`` (mode before any byte, fsynced), owned like the file
    it replaces when we may (root)."""
    tmp = write_temp_beside(target, data, mode)
    if st is not None and hasattr(os, "geteuid") and os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, mode)  # chown may drop bits
        except OSError:  # pragma: no cover - a file system without owners
            pass
    return tmp


def _check_inputs(cert_pem: bytes | None, chain_pem: bytes | None, fullchain_pem: bytes | None,
                  key_pem: bytes | None) -> None:
    """A certificate that is PEM, a key that is its key, a full chain that starts with it: what
    is installed must at least be usable."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    def certs(data: bytes, what: str):
        try:
            out = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise UsageError(f"the new {what} is not PEM certificates: nothing installed",
                             "This is a bug in what produced it: report it.") from None
        return out

    leaf = certs(cert_pem, "certificate")[0] if cert_pem is not None else None
    if chain_pem is not None:
        certs(chain_pem, "chain")
    if fullchain_pem is not None:
        full = certs(fullchain_pem, "full chain")
        if leaf is None:
            leaf = full[0]
        elif full[0] != leaf:
            raise UsageError("the new full chain does not start with the new certificate: nothing installed",
                             "The full chain is the certificate followed by the chain.")
    if key_pem is not None:
        try:
            key = serialization.load_pem_private_key(key_pem, None)
        except (ValueError, TypeError):
            raise UsageError("the new key is not an unencrypted PEM private key: nothing installed",
                             "Give the key the CSR was made with.") from None
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if leaf is not None and key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
            raise UsageError("the new key is not the new certificate's key: nothing installed",
                             "Install the key the CSR was made with (a server given both would refuse to start).")


class _Journal:
    """The swaps done so far and how to undo each (in reverse), plus the temps to remove."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []
        self.temps: list[str] = []
        self.dirs: set[Path] = set()

    def rewind(self) -> list[str]:
        failures = []
        for step in reversed(self.undo):
            try:
                step()
            except OSError as exc:  # pragma: no cover - a second fault while putting things back
                failures.append(str(exc))
        self.undo.clear()
        failures += [f"a temp file is left: {t}" for t in self.clean()]
        for d in self.dirs:
            fsync_dir(d)
        return failures

    def clean(self) -> list[str]:
        """Remove the temps; the ones that could not be removed (an append-only directory)."""
        left = []
        for t in self.temps:
            try:
                remove_quietly(t)
            except OSError:
                left.append(t)
        self.temps.clear()
        return left


def _fail(journal: _Journal, exc: BaseException, what: str) -> None:
    failures = journal.rewind()
    if failures:  # the disk refused even the renames back, or the removal of a temp
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InstallError(f"{what}: {reason}; cleaning up also failed ({'; '.join(failures)})",
                           "Check the files by hand: the .prev files (or archive/) hold the previous version.") from None
    if isinstance(exc, CertdoctorError):
        raise exc
    if isinstance(exc, OSError):
        raise _oserror(exc, what) from None
    raise exc


def _temp_name(directory: Path, name: str) -> str:
    """A fresh name in ``directory`` for a symlink or a rename (nothing is created)."""
    return str(directory / f".{name}.{secrets.token_hex(6)}.tmp")


# ----------------------------------------------------------------------------- install

def install(dest: Destination, *, cert_pem: bytes | None, chain_pem: bytes | None, fullchain_pem: bytes | None,
            key_pem: bytes | None) -> Installed:
    """Put the new files in place, all or nothing (see the module's text); the previous ones kept."""
    data = {"cert": cert_pem, "chain": chain_pem, "fullchain": fullchain_pem, "key": key_pem}
    _check_inputs(cert_pem, chain_pem, fullchain_pem, key_pem)
    if isinstance(dest, Lineage):
        return _install_lineage(dest, data)
    if isinstance(dest, Files):
        return _install_files(dest, data)
    raise TypeError("dest is a Files or a Lineage")


def _install_files(dest: Files, data: dict[str, bytes | None]) -> Installed:
    paths = dest.paths()
    if not paths:
        raise UsageError("nowhere to install: no certificate, chain, full chain or key path",
                         "Give at least the full chain and the key paths.")
    # 1. check
    plan = []
    seen: dict[Path, str] = {}
    for role, path in paths.items():
        if data[role] is None:
            raise UsageError(f"{role} {path}: nothing to write there (no {role} was given)", None)
        target, st = resolve_output(path, f"the {role} file")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise UsageError(f"the {role} file {path} is not a regular file", "Give a file path.")
        if target in seen:
            raise UsageError(f"the {role} and {seen[target]} files are the same file ({target})",
                             "Give each its own path.")
        seen[target] = role
        plan.append((role, target, st))
    journal = _Journal()
    prepared = []
    # 2. write: the new files and the copies that become .prev, beside their targets
    try:
        for role, target, st in plan:
            mode = _mode_for(role, st)
            new_tmp = _temp_beside(target, data[role], mode, st)
            journal.temps.append(new_tmp)
            old = prev_tmp = None
            if st is not None:
                old = _read(target)
                prev_tmp = _temp_beside(target, old, mode, st)
                journal.temps.append(prev_tmp)
            prepared.append((role, target, st, new_tmp, prev_tmp, old))
            journal.dirs.add(target.parent)
    except BaseException as exc:  # noqa: BLE001 - every way out removes the temps
        _fail(journal, exc, f"cannot write the new {role} beside {target}")
    # 3. swap
    swaps = []
    displaced = []
    try:
        for role, target, st, new_tmp, prev_tmp, old in prepared:
            prev = Path(f"{target}.prev") if st is not None else None
            if prev is not None:
                if os.path.lexists(prev) and not os.path.isdir(prev) or os.path.islink(prev):
                    keep = _temp_name(target.parent, prev.name)
                    os.rename(prev, keep)  # the old .prev, kept until the end
                    journal.undo.append(lambda keep=keep, prev=prev: os.rename(keep, prev))
                    displaced.append(keep)
                os.replace(prev_tmp, prev)
                journal.temps.remove(prev_tmp)
                journal.undo.append(lambda prev=prev: os.unlink(prev))
                os.replace(new_tmp, target)
                journal.temps.remove(new_tmp)
                journal.undo[-1] = lambda prev=prev, target=target: os.rename(prev, target)  # old content back
            else:
                os.replace(new_tmp, target)
                journal.temps.remove(new_tmp)
                journal.undo.append(lambda target=target: os.unlink(target))
            swaps.append(Swap(role, target, prev, _sha(old) if old is not None else None, _sha(data[role])))
    except BaseException as exc:  # noqa: BLE001
        _fail(journal, exc, f"cannot put the new {role} in place at {target}")
    # 4. sync, and drop the displaced .prev files
    for d in journal.dirs:
        fsync_dir(d)
    for keep in displaced:
        remove_quietly(keep)
    journal.clean()
    return Installed(dest, tuple(swaps))


_VERSION = re.compile(r"^(cert|chain|fullchain|privkey)(\d+)\.pem$")


def _versions(lineage: Lineage) -> set[int]:
    try:
        names = os.listdir(lineage.archive)
    except FileNotFoundError:
        return set()
    return {int(m.group(2)) for m in map(_VERSION.match, names) if m}


def _link_version(lineage: Lineage, role: str) -> int | None:
    link = lineage.link(role)
    if not os.path.islink(link):
        return None
    m = _VERSION.match(os.path.basename(os.readlink(link)))
    return int(m.group(2)) if m else None


def _check_lineage(lineage: Lineage) -> None:
    if not lineage.name or "/" in lineage.name or lineage.name in (".", ".."):
        raise UsageError(f"lineage name {lineage.name!r}: not a plain directory name", "Give a name like example.com.")
    for d in (Path(lineage.root), Path(lineage.root) / "live", Path(lineage.root) / "archive", lineage.live,
              lineage.archive):
        if os.path.lexists(d) and not os.path.isdir(d):
            raise UsageError(f"lineage {d} is not a directory", "Give the lineage root (e.g. /etc/letsencrypt).")
    for role in ROLES:
        link = lineage.link(role)
        if os.path.lexists(link) and not os.path.islink(link):
            raise UsageError(f"{link} is a regular file, not a link into archive/: not a certbot-like lineage",
                             "Install to it as flat files (cert/chain/fullchain/key paths) instead.")


def _install_lineage(lineage: Lineage, data: dict[str, bytes | None]) -> Installed:
    missing = [r for r in ROLES if data[r] is None]
    if missing:
        raise UsageError(f"a lineage takes all four files; missing: {', '.join(missing)}", None)
    _check_lineage(lineage)
    existing = _versions(lineage)
    version = max(existing, default=0) + 1
    previous = _link_version(lineage, "cert")
    journal = _Journal()
    made_dirs: list[Path] = []
    swaps = []
    written: list[Path] = []
    # 2. write: the archive files (new names, never over a file), then the new links under temp names
    try:
        for d in (Path(lineage.root), Path(lineage.root) / "archive", Path(lineage.root) / "live",
                  lineage.archive, lineage.live):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)  # certbot's live/ and archive/ are 0700
                made_dirs.append(d)
        links = []
        for role in ROLES:
            target = lineage.archived(role, version)
            tmp = _temp_beside(target, data[role], 0o600 if role == "key" else 0o644, None)
            journal.temps.append(tmp)
            os.link(tmp, target)  # O_EXCL in effect: an existing certN.pem is never replaced
            written.append(target)
            relative = os.path.relpath(target, lineage.live)
            link_tmp = _temp_name(lineage.live, LINEAGE_FILES[role])
            os.symlink(relative, link_tmp)
            journal.temps.append(link_tmp)
            links.append((role, link_tmp, relative))
        journal.dirs.update({lineage.archive, lineage.live})
        fsync_dir(lineage.archive)
    except BaseException as exc:  # noqa: BLE001
        for p in written:
            remove_quietly(str(p))
        for d in reversed(made_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass
        if isinstance(exc, FileExistsError):
            exc = InstallError(f"{exc.filename}: already exists; the installed files are unchanged",
                               "Another renewal ran at the same time: run again.")
        _fail(journal, exc, f"cannot write version {version} in {lineage.archive}")
    # 3. swap the links
    try:
        for role, link_tmp, relative in links:
            link = lineage.link(role)
            old_link = os.readlink(link) if os.path.islink(link) else None
            old_sha = _sha(_read(link)) if old_link is not None and os.path.exists(link) else None
            os.replace(link_tmp, link)
            journal.temps.remove(link_tmp)
            if old_link is None:
                journal.undo.append(lambda link=link: os.unlink(link))
            else:
                journal.undo.append(lambda link=link, old=old_link: _repoint(link, old))
            swaps.append(Swap(role, link, None, old_sha, _sha(data[role]), old_link, relative))
    except BaseException as exc:  # noqa: BLE001
        for p in written:
            journal.undo.insert(0, lambda p=p: remove_quietly(str(p)))
        _fail(journal, exc, f"cannot repoint {lineage.live}")
    fsync_dir(lineage.live)
    journal.clean()  # the archive files' temp names (each was hard-linked into place)
    return Installed(lineage, tuple(swaps), version, previous)


def _repoint(link: Path, target: str) -> None:
    """``link`` now points at ``target``: a new symlink under a temp name, renamed over it."""
    tmp = _temp_name(link.parent, link.name)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        remove_quietly(tmp)
        raise


# ----------------------------------------------------------------------------- rollback

def rollback(installed: Installed) -> None:
    """Put back the files :func:`install` replaced (all or nothing). Refused (UsageError) when
    the installed files changed since, or when the previous version is gone."""
    journal = _Journal()
    if isinstance(installed.dest, Lineage):
        _rollback_lineage(installed, journal)
        return
    plan = []
    for s in installed.swaps:
        try:
            now_data = _read(s.target)
        except FileNotFoundError:
            now_data = None
        if now_data is None or _sha(now_data) != s.new_sha256:
            raise UsageError(f"{s.target} changed since it was installed: not rolling back",
                             "Another install ran since; check the files by hand.")
        if s.prev is not None:
            try:
                old = _read(s.prev)
            except FileNotFoundError:
                raise UsageError(f"{s.prev} is gone: the previous {s.role} cannot be put back", None) from None
            if _sha(old) != s.old_sha256:
                raise UsageError(f"{s.prev} is not the file that was replaced: not rolling back",
                                 "Check the files by hand.")
        plan.append((s, now_data))
    try:
        staged = []
        for s, now_data in plan:  # 2. temps: the previous content (to put back), the current (undo)
            st = os.stat(s.target)
            back = _temp_beside(s.target, _read(s.prev), stat.S_IMODE(st.st_mode), st) if s.prev else None
            if back:
                journal.temps.append(back)
            keep = _temp_beside(s.target, now_data, stat.S_IMODE(st.st_mode), st)
            journal.temps.append(keep)
            staged.append((s, back, keep))
            journal.dirs.add(s.target.parent)
    except BaseException as exc:  # noqa: BLE001
        _fail(journal, exc, "cannot stage the previous files for the rollback")
    try:
        for s, back, keep in staged:  # 3. swap
            if back is not None:
                os.replace(back, s.target)
                journal.temps.remove(back)
            else:
                os.unlink(s.target)  # it did not exist before the install
            journal.undo.append(lambda keep=keep, target=s.target: os.replace(keep, target))
    except BaseException as exc:  # noqa: BLE001
        _fail(journal, exc, "cannot put the previous files back")
    for d in journal.dirs:
        fsync_dir(d)
    journal.undo.clear()
    journal.clean()


def _rollback_lineage(installed: Installed, journal: _Journal) -> None:
    for s in installed.swaps:
        if not os.path.islink(s.target) or os.readlink(s.target) != s.new_link:
            raise UsageError(f"{s.target} changed since it was installed: not rolling back",
                             "Another install ran since; check the lineage by hand.")
        if s.old_link is not None and not os.path.exists(Path(s.target).parent / s.old_link):
            raise UsageError(f"{s.old_link} (the previous {s.role}) is gone: cannot roll back", None)
    try:
        staged = []
        for s in installed.swaps:
            if s.old_link is None:
                staged.append((s, None))
                continue
            tmp = _temp_name(s.target.parent, s.target.name)
            os.symlink(s.old_link, tmp)
            journal.temps.append(tmp)
            staged.append((s, tmp))
    except BaseException as exc:  # noqa: BLE001
        _fail(journal, exc, "cannot stage the previous links")
    try:
        for s, tmp in staged:
            if tmp is None:
                os.unlink(s.target)
                journal.undo.append(lambda s=s: _repoint(s.target, s.new_link))
            else:
                os.replace(tmp, s.target)
                journal.temps.remove(tmp)
                journal.undo.append(lambda s=s: _repoint(s.target, s.new_link))
    except BaseException as exc:  # noqa: BLE001
        _fail(journal, exc, "cannot repoint the links to the previous version")
    fsync_dir(installed.dest.live)


# ----------------------------------------------------------------------------- current

def _leaf(path: Path):
    from cryptography import x509

    from certdoctor.errors import InputError

    try:
        return x509.load_pem_x509_certificates(_read(path))[0]
    except (ValueError, IndexError):
        raise InputError(f"{path}: not a PEM certificate", "Check the installed file.") from None


def current(dest: Destination) -> Current | None:
    """The installed leaf and where its files are; ``None`` when nothing is installed there."""
    if isinstance(dest, Lineage):
        cert, full = dest.link("cert"), dest.link("fullchain")
        source = cert if os.path.exists(cert) else full if os.path.exists(full) else None
        if source is None:
            return None
        key, chain = dest.link("key"), dest.link("chain")
        return Current(_leaf(source), source, key if os.path.exists(key) else None,
                       full if os.path.exists(full) else None, chain if os.path.exists(chain) else None,
                       _link_version(dest, "cert"))
    paths = dest.paths()
    source = next((paths[r] for r in ("cert", "fullchain") if r in paths and os.path.isfile(paths[r])), None)
    if source is None:
        return None
    return Current(_leaf(source), source, paths.get("key"), paths.get("fullchain"), paths.get("chain"))


__all__ = ["ROLES", "LINEAGE_FILES", "InstallError", "Files", "Lineage", "Destination", "Swap", "Installed",
           "Current", "install", "rollback", "current"]
