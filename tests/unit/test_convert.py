"""certdoctor.x509.convert and ``certdoctor convert``: round trips, options, never half a file, the CLI.

What the openssl CLI reads back from our output (and writes for us): tests/integration/test_convert.py.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from support.pki import der, make_pki, p12, pem

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.x509.convert import convert, format_for_path, order_chain, safe_name, serialize
from certdoctor.errors import InputError, PasswordError, UsageError
from certdoctor.x509.load import load_file


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- round trips

def test_pkcs12_password_errors(tmp_path, pki_ec):
    src = write(tmp_path, "id.p12", p12(pki_ec, b"s3cret"))
    with pytest.raises(PasswordError, match="none was given"):
        convert(src, tmp_path / "out.pem")
    with pytest.raises(PasswordError, match="wrong password"):
        convert(src, tmp_path / "out.pem", password="nope")
    assert not (tmp_path / "out.pem").exists()


def test_every_format_round_trips_through_every_other(tmp_path, pki_ec):
    """pem → p7b → p7b-pem → pem, and der → pem → der: the same certificates come back."""
    src = write(tmp_path, "a.pem", pem(*pki_ec.chain))
    convert(src, tmp_path / "b.p7b")
    convert(tmp_path / "b.p7b", tmp_path / "c.p7b", to="p7b-pem")
    convert(tmp_path / "c.p7b", tmp_path / "d.pem")
    assert set(load_file(tmp_path / "d.pem")) == set(pki_ec.chain)
    leaf = write(tmp_path, "leaf.der", der(pki_ec.leaf))
    convert(leaf, tmp_path / "leaf.pem")
    convert(tmp_path / "leaf.pem", tmp_path / "leaf2.der")
    assert (tmp_path / "leaf2.der").read_bytes() == der(pki_ec.leaf)


# --------------------------------------------------------------------------- options

def test_format_from_suffix():
    assert [format_for_path(p) for p in ("a.pem", "a.crt", "a.CER", "a.der", "a.p7b", "a.p7c", "a.txt", None)] == \
        ["pem", "pem", "der", "der", "p7b", "p7b", "pem", "pem"]
    with pytest.raises(UsageError, match="does not write PKCS#12"):
        format_for_path("x.pfx")


def test_der_holds_exactly_one(tmp_path, pki_ec):
    src = write(tmp_path, "chain.pem", pem(*pki_ec.chain))
    with pytest.raises(UsageError) as exc:
        convert(src, tmp_path / "chain.der")
    assert "DER holds exactly one certificate; there are 3" in exc.value.message
    assert "--to pem" in exc.value.hint and "p7b" in exc.value.hint and "--split" in exc.value.hint
    assert not (tmp_path / "chain.der").exists()


def test_order_puts_leaf_first_and_extras_last(tmp_path, pki_ec, pki_rsa):
    # root, stranger, intermediate, leaf: reversed, with a certificate from another chain
    src = write(tmp_path, "mixed.pem", pem(pki_ec.root, pki_rsa.leaf, pki_ec.intermediate, pki_ec.leaf))
    result = convert(src, tmp_path / "full_chain.pem", order=True)
    assert load_file(tmp_path / "full_chain.pem") == (*pki_ec.chain, pki_rsa.leaf)
    assert result.order == (3, 2, 0, 1) and result.off_path == (1,)
    assert any("certificate 1 of the input is not on the leaf's path" in n for n in result.notes)


def test_order_chain_cases(pki_ec, pki_rsa):
    assert order_chain([]).order == ()
    assert order_chain(list(pki_ec.chain)).order == (0, 1, 2)
    assert order_chain([pki_ec.intermediate, pki_ec.leaf]).order == (1, 0)  # no root: still leaf first
    co = order_chain([pki_ec.root, pki_rsa.root])
    assert co.path == (0,) and co.off_path == (1,)


def test_without_order_input_order_is_kept(tmp_path, pki_ec):
    src = write(tmp_path, "rev.pem", pem(*reversed(pki_ec.chain)))
    convert(src, tmp_path / "out.pem")
    assert load_file(tmp_path / "out.pem") == tuple(reversed(pki_ec.chain))


def test_split_writes_readable_names(tmp_path, pki_ec):
    src = write(tmp_path, "rev.pem", pem(*reversed(pki_ec.chain)))
    result = convert(src, None, split_dir=tmp_path / "certs", order=True)
    names = sorted(p.name for p in (tmp_path / "certs").iterdir())
    assert names == [
        "00-leaf-www.example.test.pem",
        "01-intermediate-Test_Intermediate_EC.pem",
        "02-root-Test_Root_EC.pem",
    ]
    for name, cert in zip(names, pki_ec.chain):
        assert load_file(tmp_path / "certs" / name) == (cert,)
    assert [w.count for w in result.written] == [1, 1, 1]


def test_split_der_with_out_too(tmp_path, pki_ec):
    src = write(tmp_path, "chain.pem", pem(*pki_ec.chain))
    convert(src, None, split_dir=tmp_path / "d", to="der")
    files = sorted((tmp_path / "d").iterdir())
    assert [f.suffix for f in files] == [".der"] * 3
    assert files[0].read_bytes() == der(pki_ec.leaf)
    result = convert(src, tmp_path / "all.p7b", split_dir=tmp_path / "e")  # OUT and DIR together
    assert [w.format for w in result.written] == ["p7b"] * 4
    assert set(load_file(tmp_path / "all.p7b")) == set(pki_ec.chain)


def test_split_names_are_sanitized(tmp_path):
    evil = make_pki("ec", leaf_name="*.example.test")
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("*.example.test") == "wildcard.example.test"
    assert safe_name("") == "unnamed" and safe_name("///") == "unnamed"
    assert len(safe_name("a" * 500)) == 60
    src = write(tmp_path, "w.pem", pem(evil.leaf))
    convert(src, None, split_dir=tmp_path / "s")
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["00-leaf-wildcard.example.test.pem"]


def test_key_file_mode_and_key_out(tmp_path, pki_ec):
    src = write(tmp_path, "id.p12", p12(pki_ec, b"pw"))
    old_umask = os.umask(0)  # even with a permissive umask the key is 0600
    try:
        convert(src, tmp_path / "id.pem", with_key=True, key_out=tmp_path / "keys" / "id-key.pem", password="pw")
    finally:
        os.umask(old_umask)
    key_path = tmp_path / "keys" / "id-key.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert key.private_numbers() == pki_ec.leaf_key.private_numbers()
    assert stat.S_IMODE((tmp_path / "id.pem").stat().st_mode) == 0o644


def test_key_option_errors(tmp_path, pki_ec):
    pem_src = write(tmp_path, "chain.pem", pem(*pki_ec.chain))
    with pytest.raises(InputError, match="holds no private key"):
        convert(pem_src, tmp_path / "o.pem", with_key=True)
    p12_src = write(tmp_path, "id.p12", p12(pki_ec, None))
    with pytest.raises(UsageError, match="same file"):
        convert(p12_src, tmp_path / "o.pem", with_key=True, key_out=tmp_path / "o.pem")
    with pytest.raises(UsageError, match="--key-out needs --with-key"):
        convert(p12_src, tmp_path / "o.pem", key_out=tmp_path / "k.pem")
    with pytest.raises(UsageError, match="nothing to write"):
        convert(p12_src, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.pem", "id.p12"]


# --------------------------------------------------------------------------- never half a file

def test_bad_input_leaves_out_untouched(tmp_path):
    src = write(tmp_path, "key.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    out = write(tmp_path, "out.pem", b"old content")
    with pytest.raises(InputError, match="a private key"):
        convert(src, out)
    assert out.read_bytes() == b"old content"
    with pytest.raises(InputError):
        convert(src, tmp_path / "new.pem")
    assert not (tmp_path / "new.pem").exists()


def test_failed_write_leaves_no_half_file(tmp_path, pki_ec, monkeypatch):
    import certdoctor.fsutil as fsutil

    src = write(tmp_path, "chain.pem", pem(*pki_ec.chain))

    def broken_replace(a, b):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", broken_replace)
    with pytest.raises(InputError, match="out.pem: cannot write: No space left on device"):
        convert(src, tmp_path / "out.pem")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.pem"]  # no OUT, no temp file


def test_in_place_conversion(tmp_path, pki_ec):
    src = write(tmp_path, "chain.crt", pem(*reversed(pki_ec.chain)))
    convert(src, src, order=True)
    assert load_file(src) == pki_ec.chain


def test_serialize_rejects_nonsense(pki_ec):
    with pytest.raises(InputError):
        serialize([], "pem")
    with pytest.raises(UsageError):
        serialize([pki_ec.leaf], "pkcs12")


# --------------------------------------------------------------------------- CLI

def test_cli_convert_json(tmp_path, pki_ec, capsys):
    src = write(tmp_path, "id.p12", p12(pki_ec, b"pw"))
    rc = run(cli, ["convert", str(src), str(tmp_path / "id.pem"), "--order", "--with-key", "--password", "pw",
                   "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["schema_version"] == 2
    assert doc["input"] == {"source": str(src), "format": "pkcs12", "count": 3}
    assert [(w["kind"], w["mode"]) for w in doc["written"]] == [("certificates", "0644"), ("private-key", "0600")]
    assert doc["order"] == [0, 1, 2] and doc["ordered"] is True and doc["key_written"] is True


def test_cli_convert_human(tmp_path, pki_ec, capsys):
    src = write(tmp_path, "rev.pem", pem(pki_ec.root, pki_ec.leaf, pki_ec.intermediate))
    rc = run(cli, ["convert", str(src), str(tmp_path / "chain.p7b"), "--order"])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "chain.p7b" in out and "PKCS#7 (DER), 3 certificates" in out and "[1 2 0]" in out


def test_cli_convert_stdin(tmp_path, pki_ec, monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pem(pki_ec.leaf))))
    assert run(cli, ["convert", "-", str(tmp_path / "leaf.der")]) == 0
    assert (tmp_path / "leaf.der").read_bytes() == der(pki_ec.leaf)


@pytest.mark.parametrize("args,words", [
    (["convert", "{d}/missing.pem", "{d}/o.pem"], "no such file"),
    (["convert", "{d}/chain.pem", "{d}/o.der"], "DER holds exactly one certificate"),
    (["convert", "{d}/chain.pem", "{d}/o.pfx"], "does not write PKCS#12"),
    (["convert", "{d}/chain.pem"], "nothing to write"),
    (["convert", "{d}/chain.pem", "{d}/o.pem", "--with-key"], "holds no private key"),
    (["convert", "{d}/chain.pem", "{d}/o.pem", "--to", "pkcs12"], "Invalid value for '--to'"),
])
def test_cli_convert_bad_input_exits_2(tmp_path, pki_ec, capsys, args, words):
    write(tmp_path, "chain.pem", pem(*pki_ec.chain))
    rc = run(cli, [a.format(d=tmp_path) for a in args])
    out, err = capsys.readouterr()
    assert rc == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "o.pem").exists() and not (tmp_path / "o.der").exists()


@pytest.mark.parametrize("out, match", [("X", "inside the output"), ("X/00-leaf-www.example.test.pem", "same file")])
def test_out_on_the_split_directory_is_refused_before_anything_is_written(tmp_path, pki_ec, out, match):
    """Found by test_cli_fuzz: `convert --split X IN X` made the directory X, then refused OUT X
    as a directory. OUT as the split directory, or on one of the split files, is one error first."""
    src = write(tmp_path, "chain.pem", pem(*pki_ec.chain))
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(UsageError, match=match):
        convert(src, tmp_path / out, split_dir=tmp_path / "X")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
