"""fsutil: every write through links, devices, FIFOs and stdout; private and fresh directories.

Real files, a real FIFO with a reader thread, /dev/null, real ownership changes (the tests run as
root here: another uid's directory is made with os.chown; skipped when not root).
"""

from __future__ import annotations

import os
import stat
import threading

import pytest

from certdoctor.errors import CertdoctorError, InputError, UsageError
from certdoctor.fsutil import fresh_dir, private_dir, write_atomic, write_new

NOBODY = 65534
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                             reason="making another user's directory needs root")


def test_symlink_is_written_through_and_stays_a_link(tmp_path):
    # certbot's layout: live/site/cert.pem -> ../../archive/site/cert1.pem
    archive = tmp_path / "archive"
    archive.mkdir()
    target = archive / "cert1.pem"
    target.write_bytes(b"old")
    live = tmp_path / "live"
    live.mkdir()
    (live / "cert.pem").symlink_to("../archive/cert1.pem")
    (live / "again.pem").symlink_to("cert.pem")  # a chain of two links
    before = target.stat().st_ino
    got = write_atomic(live / "again.pem", b"new")
    assert got == live / "again.pem"
    assert os.path.islink(live / "again.pem") and os.path.islink(live / "cert.pem")
    assert target.read_bytes() == b"new" and (live / "cert.pem").read_bytes() == b"new"
    assert target.stat().st_ino != before  # replaced atomically (a new inode), not rewritten in place
    assert sorted(p.name for p in archive.iterdir()) == ["cert1.pem"]  # no temp file left


def test_dangling_link_and_loop_are_refused(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x.pem")
    with pytest.raises(UsageError, match="does not exist") as info:
        write_atomic(tmp_path / "dangling", b"x")
    assert info.value.hint
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(UsageError, match="loop"):
        write_atomic(tmp_path / "a", b"x")


def test_fifo_is_written_in_place_never_replaced(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader():
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    write_atomic(fifo, b"-----BEGIN CERTIFICATE-----\n")
    t.join(5)
    assert got == [b"-----BEGIN CERTIFICATE-----\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fifo"]


def test_dev_null_is_a_device_after_the_write():
    write_atomic("/dev/null", b"\x30\x82")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_dash_is_stdout_binary(capfdbinary):
    assert str(write_atomic("-", b"\x30\x82\x01\x00binary")) == "-"
    assert capfdbinary.readouterr().out == b"\x30\x82\x01\x00binary"
    assert not os.path.exists("-")


@pytest.mark.parametrize("bad, words", [
    ("", "empty path"),
    ("  ", "empty path"),
    ("{file}/sub", "is a file, not a directory"),
    ("{file}/a/b", "is a file, not a directory"),
    ("{tmp}", "is a directory"),
])
def test_bad_paths_are_usage_errors_with_a_hint(tmp_path, bad, words):
    f = tmp_path / "file"
    f.write_bytes(b"keep")
    path = bad.format(file=f, tmp=tmp_path)
    with pytest.raises(UsageError, match=words) as info:
        write_atomic(path, b"x")
    assert info.value.hint
    assert f.read_bytes() == b"keep"


def test_proc_is_refused_without_a_traceback():
    with pytest.raises(CertdoctorError) as info:
        write_atomic("/proc/certdoctor-x", b"x")
    assert info.value.hint and "/proc" in info.value.message


def test_exclusive_never_replaces(tmp_path):
    key = tmp_path / "id.key"
    key.write_bytes(b"old key")
    os.chmod(key, 0o600)
    with pytest.raises(UsageError, match="already exists") as info:
        write_atomic(key, b"new key", 0o600, exclusive=True)
    assert "--force" in info.value.hint
    assert key.read_bytes() == b"old key"
    new = write_atomic(tmp_path / "new.key", b"k", 0o600, exclusive=True)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600


def test_os_failure_is_an_input_error_and_leaves_nothing(tmp_path, monkeypatch):
    import certdoctor.fsutil as fsutil

    def full(a, b):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", full)
    with pytest.raises(InputError, match="No space left"):
        write_atomic(tmp_path / "x.pem", b"x")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- private_dir

def test_private_dir_is_created_0700(tmp_path):
    old = os.umask(0)  # even with a permissive umask
    try:
        d = private_dir(tmp_path / "cache" / "bundles", root=tmp_path / "cache")
    finally:
        os.umask(old)
    for p in (d, d.parent):
        assert stat.S_IMODE(os.lstat(p).st_mode) == 0o700


def test_group_or_world_writable_is_refused(tmp_path):
    d = tmp_path / "cache"
    d.mkdir()
    for mode, who in ((0o770, "its group"), (0o707, "others"), (0o777, "group and others")):
        os.chmod(d, mode)
        with pytest.raises(UsageError, match=f"writable by {who}") as info:
            private_dir(d)
        assert "chmod 700" in info.value.hint
    os.chmod(d, 0o755)
    assert private_dir(d) == d  # readable by others is fine: nobody else can put anything there


def test_parent_up_to_the_root_is_checked(tmp_path):
    root = tmp_path / "cache"
    (root / "bundles").mkdir(parents=True)
    os.chmod(root, 0o777)  # anyone could swap 'bundles' for their own
    with pytest.raises(UsageError, match="cache directory .*cache is writable"):
        private_dir(root / "bundles", root=root)


def test_symlinked_dir_is_refused(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "cache").symlink_to(real)
    with pytest.raises(UsageError, match="symlink"):
        private_dir(tmp_path / "cache")


@as_root
def test_another_users_dir_is_refused(tmp_path):
    d = tmp_path / "cache"
    d.mkdir(mode=0o755)
    os.chown(d, NOBODY, NOBODY)
    with pytest.raises(UsageError, match=f"belongs to uid {NOBODY}") as info:
        private_dir(d)
    assert "CERTDOCTOR_CACHE_DIR" in info.value.hint


# --------------------------------------------------------------------------- fresh_dir / write_new

def test_fresh_dir_made_new_or_empty(tmp_path):
    d, made = fresh_dir(tmp_path / "new" / "wd")
    assert made and stat.S_IMODE(d.stat().st_mode) == 0o700
    again, made = fresh_dir(d)  # empty and ours: used, not made
    assert again == d and not made
    (d / "x").write_bytes(b"")
    with pytest.raises(UsageError, match="not empty"):
        fresh_dir(d)
    t, made = fresh_dir(None, prefix="certdoctor-test-")
    try:
        assert made and t.name.startswith("certdoctor-test-") and stat.S_IMODE(t.stat().st_mode) == 0o700
    finally:
        t.rmdir()


def test_fresh_dir_refuses_a_symlink(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "wd").symlink_to(real)
    with pytest.raises(UsageError, match="symlink"):
        fresh_dir(tmp_path / "wd")


def test_write_new_never_follows_a_planted_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "key.pem").symlink_to(victim)
    with pytest.raises(UsageError, match="already exists"):
        write_new(tmp_path / "key.pem", b"PRIVATE KEY", 0o600)
    assert victim.read_bytes() == b"precious"
    k = write_new(tmp_path / "other.pem", b"PRIVATE KEY", 0o600)
    assert stat.S_IMODE(k.stat().st_mode) == 0o600
