"""certdoctor.x509.convert and ``certdoctor convert``: real round trips checked with the openssl CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from support.pki import OPENSSL, der, key_pem, make_pki, needs_openssl, openssl, p12, pem

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.x509.convert import (
    KEY_MODE,
    convert,
    format_for_path,
    order_chain,
    safe_name,
    serialize,
)
from certdoctor.errors import InputError, PasswordError, UsageError
from certdoctor.x509.load import load_bundle_file, load_file


@pytest.fixture(scope="module", params=["ec", "rsa"])
def pki(request, pki_ec, pki_rsa):
    return pki_ec if request.param == "ec" else pki_rsa


def fp(cert: x509.Certificate) -> str:
    from certdoctor.model import fingerprint_sha256

    return fingerprint_sha256(cert)


def openssl_fp(path: Path, inform: str = "PEM") -> str:
    out = openssl("x509", "-in", str(path), "-inform", inform, "-noout", "-fingerprint", "-sha256").decode()
    return out.strip().split("=", 1)[1]


def openssl_p7_certs(path: Path, inform: str) -> tuple[x509.Certificate, ...]:
    """What ``openssl pkcs7 -print_certs`` reads from ``path``, parsed back."""
    text = openssl("pkcs7", "-print_certs", "-inform", inform, "-in", str(path))
    return tuple(x509.load_pem_x509_certificates(text))


def openssl_pem_certs(path: Path) -> tuple[x509.Certificate, ...]:
    """Every certificate openssl finds in a PEM file (through crl2pkcs7, which reads them all)."""
    p7 = openssl("crl2pkcs7", "-nocrl", "-certfile", str(path))
    return tuple(x509.load_pem_x509_certificates(openssl("pkcs7", "-print_certs", input=p7)))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- round trips

@needs_openssl
def test_to_pem_read_by_openssl(tmp_path, pki):
    src = write(tmp_path, "in.p7b", pkcs7.serialize_certificates(list(pki.chain), serialization.Encoding.DER))
    result = convert(src, tmp_path / "out.pem", order=True)  # PKCS#7 is a SET: order it
    out = tmp_path / "out.pem"
    assert openssl_fp(out) == fp(pki.leaf)  # `openssl x509 -in` reads the first block
    assert set(openssl_pem_certs(out)) == set(pki.chain)
    assert result.input_format == "pkcs7-der" and result.written[0].count == 3


@needs_openssl
def test_to_der_read_by_openssl(tmp_path, pki):
    src = write(tmp_path, "leaf.pem", pem(pki.leaf))
    convert(src, tmp_path / "leaf.cer")  # .cer means DER
    out = tmp_path / "leaf.cer"
    assert out.read_bytes() == der(pki.leaf)
    assert openssl_fp(out, "DER") == fp(pki.leaf)


@needs_openssl
@pytest.mark.parametrize("to,inform", [("p7b", "DER"), ("p7b-pem", "PEM")])
def test_to_pkcs7_read_by_openssl(tmp_path, pki, to, inform):
    src = write(tmp_path, "chain.pem", pem(*pki.chain))
    convert(src, tmp_path / "chain.p7b", to=to)
    assert set(openssl_p7_certs(tmp_path / "chain.p7b", inform)) == set(pki.chain)  # a SET: no order
    assert load_bundle_file(tmp_path / "chain.p7b").format == ("pkcs7-der" if to == "p7b" else "pkcs7-pem")


@needs_openssl
@pytest.mark.parametrize("outform", ["PEM", "DER"])
def test_from_pkcs7_made_by_openssl(tmp_path, pki, outform):
    chain = write(tmp_path, "chain.pem", pem(*pki.chain))
    p7 = tmp_path / "chain.p7c"
    openssl("crl2pkcs7", "-nocrl", "-certfile", str(chain), "-outform", outform, "-out", str(p7))
    convert(p7, tmp_path / "back.pem", order=True)
    assert load_file(tmp_path / "back.pem") == pki.chain
    assert openssl_fp(tmp_path / "back.pem") == fp(pki.leaf)


@needs_openssl
@pytest.mark.parametrize("password", ["s3cret", ""])
def test_from_pkcs12_made_by_openssl(tmp_path, pki, password):
    chain = write(tmp_path, "chain.pem", pem(*pki.chain))
    key = write(tmp_path, "key.pem", key_pem(pki.leaf_key))
    p12_path = tmp_path / "id.pfx"
    openssl("pkcs12", "-export", "-in", str(chain), "-inkey", str(key), "-out", str(p12_path),
            "-passout", f"pass:{password}")
    result = convert(p12_path, tmp_path / "id.pem", with_key=True, password=password or None, order=True)
    assert load_file(tmp_path / "id.pem") == pki.chain
    key_out = tmp_path / "id.key"
    assert stat.S_IMODE(key_out.stat().st_mode) == 0o600 == KEY_MODE
    assert result.key_written and [w.kind for w in result.written] == ["certificates", "private-key"]
    # openssl agrees that the key written fits the leaf written
    key_pub = openssl("pkey", "-in", str(key_out), "-pubout")
    cert_pub = openssl("x509", "-in", str(tmp_path / "id.pem"), "-noout", "-pubkey")
    assert key_pub == cert_pub


@pytest.mark.parametrize("password", [b"s3cret", None])
def test_pkcs12_round_trip_with_and_without_password(tmp_path, pki, password):
    src = write(tmp_path, "id.p12", p12(pki, password))
    result = convert(src, tmp_path / "id.pem", password=password, order=True)
    assert load_file(tmp_path / "id.pem") == pki.chain
    assert result.key_skipped and not result.key_written
    assert not (tmp_path / "id.key").exists()  # never without --with-key
    assert any("--with-key" in n for n in result.notes)
    if OPENSSL:
        assert openssl_fp(tmp_path / "id.pem") == fp(pki.leaf)


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
