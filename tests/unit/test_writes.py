"""What certdoctor writes holds what it says, where it says (issue 10 items 5, 7, 8), without a network:
the private bundle cache (a bundle planted by another uid is never used), bundle bases that must
hold CA certificates, convert's `-` and its keys that are never replaced without --force.

The same against real servers (fix's certifi fallback and unproven bundle, the lab's work
directory, convert through a pipe): tests/integration/test_writes.py.
"""

from __future__ import annotations

import os
import stat

import certifi
import pytest
from support.cli import run_cli_captured
from support.pki import TestCA, make_pki, p12, pem

from certdoctor.errors import UsageError
from certdoctor.remedies.bundle import build_bundle
from certdoctor.remedies.client import ca_bundle, requests_session

NOBODY = 65534
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                             reason="planting a file as another user needs root")


@pytest.fixture(scope="module")
def corp(tmp_path_factory):
    d = tmp_path_factory.mktemp("corp")
    root = TestCA("certdoctor writes test root")
    f = d / "corp-root.pem"
    f.write_bytes(root.cert_pem())
    return {"root": root, "file": f, "dir": d}


def _bundle_dir(cache_dir):
    return cache_dir / "bundles"


# --------------------------------------------------------------------------- the bundle cache (item 5)

def test_cache_dir_is_created_0700(corp, tmp_path, monkeypatch):
    root = tmp_path / "fresh-cache"
    monkeypatch.setenv("CERTDOCTOR_CACHE_DIR", str(root))
    path = ca_bundle(extra=[corp["file"]])
    assert path.startswith(str(root / "bundles"))
    assert stat.S_IMODE(os.lstat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(root / "bundles").st_mode) == 0o700


@as_root
def test_bundle_planted_by_another_uid_is_not_used(corp, cache_dir, tmp_path):
    # the attacker makes the cache directory first and plants a bundle holding only their root
    evil = TestCA("attacker root")
    honest = ca_bundle(extra=[corp["file"]])  # learn the name the victim's bundle gets
    name = os.path.basename(honest)
    for p in sorted(_bundle_dir(cache_dir).iterdir()):
        p.unlink()
    _bundle_dir(cache_dir).rmdir()
    planted_dir = _bundle_dir(cache_dir)
    planted_dir.mkdir(mode=0o755)
    (planted_dir / name).write_bytes(evil.cert_pem())
    os.chown(planted_dir / name, NOBODY, NOBODY)
    os.chown(planted_dir, NOBODY, NOBODY)
    with pytest.raises(UsageError, match=f"belongs to uid {NOBODY}") as info:
        ca_bundle(extra=[corp["file"]])
    assert "CERTDOCTOR_CACHE_DIR" in info.value.hint
    with pytest.raises(UsageError):
        requests_session(extra=[corp["file"]])
    assert (planted_dir / name).read_bytes() == evil.cert_pem()  # nothing trusted it, nothing touched it


@as_root
def test_file_planted_in_our_dir_is_rewritten(corp, cache_dir):
    path = ca_bundle(extra=[corp["file"]])
    good = open(path, "rb").read()
    evil = TestCA("attacker root 2")
    with open(path, "wb") as fh:  # same size or not: only the exact bytes count
        fh.write(evil.cert_pem())
    os.chown(path, NOBODY, NOBODY)
    again = ca_bundle(extra=[corp["file"]])
    assert again == path and open(again, "rb").read() == good
    assert os.stat(again).st_uid == os.geteuid()  # a new file of ours replaced it


def test_wrong_bytes_of_the_right_size_are_rewritten(corp, cache_dir):
    path = ca_bundle(extra=[corp["file"]])
    good = open(path, "rb").read()
    forged = good.replace(b"writes test root", b"writes test ROOT")
    assert len(forged) == len(good) and forged != good
    with open(path, "wb") as fh:
        fh.write(forged)
    assert open(ca_bundle(extra=[corp["file"]]), "rb").read() == good


def test_symlink_in_the_cache_is_replaced_not_followed(corp, cache_dir, tmp_path):
    path = ca_bundle(extra=[corp["file"]])
    good = open(path, "rb").read()
    elsewhere = tmp_path / "elsewhere.pem"
    elsewhere.write_bytes(b"not yours")
    os.unlink(path)
    os.symlink(elsewhere, path)
    assert open(ca_bundle(extra=[corp["file"]]), "rb").read() == good
    assert not os.path.islink(path) and elsewhere.read_bytes() == b"not yours"


def test_group_writable_cache_is_refused(corp, cache_dir):
    os.chmod(cache_dir, 0o775)
    with pytest.raises(UsageError, match="writable by its group") as info:
        ca_bundle(extra=[corp["file"]])
    assert "chmod 700" in info.value.hint


def test_fetch_cache_uses_the_same_rule(cache_dir):
    from certdoctor.net.fetch import FetchCache

    c = FetchCache()
    c.put("http://ca.example/x.der", b"der", expires=4e9)
    assert c.get("http://ca.example/x.der") == b"der"
    os.chmod(cache_dir, 0o777)
    with pytest.raises(UsageError, match="writable by group and others"):
        c.get("http://ca.example/x.der")


# --------------------------------------------------------------------------- bundle bases (item 7)

@pytest.mark.parametrize("content, words", [
    (b"", "holds no PEM certificate"),
    (b"garbage\n", "holds no PEM certificate"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", "not valid base64"),
    ("leaf", "none of them a CA"),
])
def test_base_without_a_ca_is_an_error_exit_2(corp, tmp_path, capsys, content, words):
    base = tmp_path / "base.pem"
    if content == "leaf":
        content = pem(corp["root"].issue_cert("www.example.test").cert)
    base.write_bytes(content)
    out = tmp_path / "out.pem"
    code, stdout, err = run_cli_captured(["bundle", "--base", str(base), "--add", str(corp["file"]),
                                          "--out", str(out)], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and words in lines[0] and lines[1].startswith("hint: ")
    assert "--base none" in lines[1]
    assert not out.exists() and "already holds the public roots" not in stdout


def test_base_none_is_explicit_and_said(corp, tmp_path, capsys):
    out = tmp_path / "only.pem"
    code, stdout, _ = run_cli_captured(["bundle", "--base", "none", "--add", str(corp["file"]), "--out", str(out)],
                                       capsys)
    assert code == 0 and out.read_bytes().count(b"BEGIN CERTIFICATE") == 1
    assert "ONLY the certificates added" in stdout and "already holds the public roots" not in stdout


def test_base_from_stdin_and_bundle_to_stdout(corp, tmp_path, monkeypatch, capfdbinary):
    import io
    import sys

    certifi_bytes = open(certifi.where(), "rb").read()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(certifi_bytes)))
    from support.cli import run_cli

    code = run_cli(["bundle", "--base", "-", "--add", str(corp["file"]), "--out", "-"])
    out = capfdbinary.readouterr()
    assert code == 0
    n = build_bundle([], base=certifi_bytes).entries
    assert out.out.startswith(b"# CA bundle written by certdoctor")
    assert out.out.count(b"-----BEGIN CERTIFICATE-----") == len(n) + 1  # the report went to stderr
    assert b"Wrote" in out.err
    assert not os.path.exists("-")


def test_library_base_checks(corp, tmp_path):
    from certdoctor.errors import InputError

    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="trust no public site"):
        build_bundle([corp["file"]], base=empty)
    with pytest.raises(InputError):
        ca_bundle(extra=[corp["file"]], base=str(empty))
    assert len(build_bundle([corp["file"]], base="none").entries) == 1


# --------------------------------------------------------------------------- convert (item 8)

@pytest.fixture(scope="module")
def ec():
    return make_pki("ec")


def test_convert_dash_in_and_out_binary(ec, tmp_path, monkeypatch, capfdbinary):
    import io
    import sys

    from support.cli import run_cli

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pem(ec.leaf))))
    code = run_cli(["convert", "-", "-", "--to", "der"])
    out = capfdbinary.readouterr()
    from cryptography.hazmat.primitives.serialization import Encoding

    assert code == 0 and out.out == ec.leaf.public_bytes(Encoding.DER)
    assert not os.path.exists("-")


def test_convert_json_with_stdout_output_is_refused(ec, tmp_path, capsys):
    src = tmp_path / "leaf.pem"
    src.write_bytes(pem(ec.leaf))
    code, _, err = run_cli_captured(["convert", str(src), "-", "--json"], capsys)
    assert code == 2 and err.startswith("error: ") and "hint: " in err


def test_convert_never_replaces_a_key_without_force(ec, tmp_path, capsys):
    src = tmp_path / "id.p12"
    src.write_bytes(p12(ec, b"pw"))
    key = tmp_path / "id.key"
    key.write_bytes(b"the old key")
    os.chmod(key, 0o600)
    out = tmp_path / "id.pem"
    code, _, err = run_cli_captured(["convert", str(src), str(out), "--with-key", "--password", "pw"], capsys)
    assert code == 2 and "refusing to replace a private key" in err and "--force" in err
    assert key.read_bytes() == b"the old key" and not out.exists()  # nothing written at all
    code, _, err = run_cli_captured(["convert", str(src), str(out), "--with-key", "--password", "pw", "--force"],
                                    capsys)
    assert code == 0, err
    assert b"PRIVATE KEY" in key.read_bytes() and stat.S_IMODE(key.stat().st_mode) == 0o600


def test_convert_writes_through_a_symlinked_output(ec, tmp_path, capsys):
    src = tmp_path / "chain.pem"
    src.write_bytes(pem(*ec.chain))
    (tmp_path / "archive").mkdir()
    real = tmp_path / "archive" / "fullchain1.pem"
    real.write_bytes(b"stale")
    link = tmp_path / "fullchain.pem"
    link.symlink_to("archive/fullchain1.pem")
    code, _, err = run_cli_captured(["convert", str(src), str(link)], capsys)
    assert code == 0, err
    assert os.path.islink(link) and real.read_bytes() == pem(*ec.chain)


@pytest.mark.parametrize("out", ["{file}/sub.pem", "/proc/certdoctor-x.pem", ""])
def test_convert_bad_out_is_error_hint(ec, tmp_path, capsys, out):
    src = tmp_path / "leaf.pem"
    src.write_bytes(pem(ec.leaf))
    code, _, err = run_cli_captured(["convert", str(src), out.format(file=src)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
    assert "Traceback" not in err and src.read_bytes() == pem(ec.leaf)
