"""``certdoctor inspect`` on files, its targets, and the certificate/chain renderers of
certdoctor.render.inspect. On hosts (the lab, a refused port): tests/integration/test_inspect.py."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from rich.console import Console
from support.pki import NOW, der, make_pki, p12, pem

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.errors import InputError, UsageError
from certdoctor.model import ChainInfo, spki_pin
from certdoctor.render.inspect import (
    ChainShape,
    Inspection,
    cert_json,
    inspection_json,
    render_inspection,
    validity_words,
)


def parse_target(source: str) -> tuple[str, str, int]:
    """inspect's view of SOURCE through the one classifier: (kind, name, port)."""
    from certdoctor.cli.inspect import KINDS
    from certdoctor.net.target import classify

    s = classify(source, kinds=KINDS)
    if s.target is not None:
        return "host", s.target.host, s.target.port
    return s.kind, s.input, 0


CERT_KEYS = {
    "index", "role", "subject", "issuer", "common_name", "san_dns", "san_ip", "serial", "not_before", "not_after",
    "days_left", "expired", "not_yet_valid", "key_type", "key_size", "signature_algorithm", "is_ca", "path_length",
    "key_usage", "extended_key_usage", "ski", "aki", "ocsp_urls", "ca_issuers_urls", "crl_urls", "self_signed",
    "fingerprint_sha256", "spki_pin", "pin_sha256", "issued_by", "on_path", "pem",
}


def text_of(insp: Inspection, width: int = 120) -> str:
    buf = io.StringIO()
    render_inspection(insp, Console(file=buf, width=width, color_system=None, highlight=False))
    return buf.getvalue()


def inspect(capsys, *args: str) -> tuple[int, str, str]:
    rc = run(cli, ["inspect", *args])
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- targets

@pytest.mark.parametrize("source,expected", [
    ("example.org", ("host", "example.org", 443)),
    ("example.org:8443", ("host", "example.org", 8443)),
    ("https://example.org/path?q=1", ("host", "example.org", 443)),
    ("https://example.org:4443", ("host", "example.org", 4443)),
    ("HTTPS://Example.org", ("host", "example.org", 443)),
    ("127.0.0.1:8443", ("host", "127.0.0.1", 8443)),
    ("[2001:db8::1]:8443", ("host", "2001:db8::1", 8443)),
    ("2001:db8::1", ("host", "2001:db8::1", 443)),
    ("-", ("stdin", "-", 0)),
])
def test_parse_target(source, expected):
    assert parse_target(source) == expected


@pytest.mark.parametrize("source,words", [
    ("http://example.org", "http:// URL has no certificate"),
    ("ftp://example.org", "unsupported URL scheme"),
    ("missing.pem", "no such file"),
    ("./certs/site.crt", "no such file"),
    ("example.org:0", "not a number from 1 to 65535"),
    ("example.org:99999", "not a number from 1 to 65535"),
    ("example.org:https", "not a number"),
    ("exa mple.org", "' ' cannot be part of a host name"),
    ("bücher.de", "use its IDNA form 'xn--bcher-kva.de'"),
    ("[2001:db8::1", "missing ']'"),
])
def test_parse_target_refuses(source, words):
    # a missing file is bad input, a malformed endpoint bad usage: both exit 2 with a hint
    error = InputError if "no such file" in words else UsageError
    with pytest.raises(error, match=re.escape(words)) as info:
        parse_target(source)
    assert info.value.hint and info.value.exit_code == 2  # "no such file": check the path; else: a file, host[:port] or URL


def test_existing_path_is_a_file(tmp_path, monkeypatch, pki_ec):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "example.org").write_bytes(pem(pki_ec.leaf))  # a file named like a host wins
    assert parse_target("example.org") == ("file", "example.org", 0)


# --------------------------------------------------------------------------- renderers from factories

def test_inspection_of_a_chain(pki_ec):
    insp = Inspection.of(pki_ec.chain, kind="file", name="chain.pem", format="pem")
    doc = inspection_json(insp)
    assert doc["schema_version"] == 2
    assert doc["chain"]["path"] == [0, 1, 2] and doc["chain"]["in_order"] is True
    assert doc["chain"]["root_included"] is True and doc["chain"]["off_path"] == []
    assert doc["chain"]["links"] == [{"child": 0, "parent": 1}, {"child": 1, "parent": 2}]
    certs = doc["certificates"]
    assert [c["role"] for c in certs] == ["leaf", "intermediate", "root"]
    assert [c["issued_by"] for c in certs] == [1, 2, None]
    assert CERT_KEYS <= set(certs[0])
    leaf = certs[0]
    assert leaf["san_dns"] == ["www.example.test"] and leaf["is_ca"] is False
    assert leaf["extended_key_usage"] == ["serverAuth"] and "digital_signature" in leaf["key_usage"]
    assert leaf["ocsp_urls"] == ["http://ocsp.example.test"]
    assert leaf["ca_issuers_urls"] == ["http://ca.example.test/issuer.der"]
    assert leaf["crl_urls"] == ["http://crl.example.test/ca.crl"]
    assert leaf["pin_sha256"] == "sha256/" + spki_pin(pki_ec.leaf)
    assert leaf["aki"] == certs[1]["ski"]
    assert leaf["key_type"] == "EC secp256r1" and leaf["key_size"] == 256
    assert certs[1]["path_length"] == 0 and certs[1]["is_ca"] is True
    assert leaf["not_after"].endswith("Z") and 88 <= leaf["days_left"] <= 90
    assert leaf["pem"] == pem(pki_ec.leaf).decode()
    json.dumps(doc)  # JSON-ready all the way down


def test_human_text_has_every_field(pki_rsa):
    out = text_of(Inspection.of(pki_rsa.chain, kind="file", name="chain.pem", format="pem"))
    for words in ("chain.pem: PEM, 3 certificates", "[0] leaf www.example.test", "[1] intermediate",
                  "[2] root", "order:  leaf → root", "a self-signed root is included", "Subject", "SANs",
                  "www.example.test", "Serial", "Valid until", "expires in", "RSA 2048 bits", "sha256WithRSAEncryption",
                  "CA, path length 0 (critical)", "not a CA", "Key usage", "digital_signature", "serverAuth",
                  "Subject key id", "Authority key id", "http://ocsp.example.test", "CA issuers", "CRL",
                  "SHA-256", "sha256/", "signed by [1]"):
        assert words in out, words


def test_reversed_and_extra_certificates(pki_ec, pki_rsa):
    certs = (pki_ec.root, pki_rsa.leaf, pki_ec.intermediate, pki_ec.leaf)
    insp = Inspection.of(certs, kind="file", name="mixed.pem", format="pem")
    doc = inspection_json(insp)
    assert doc["chain"]["in_order"] is False
    assert doc["chain"]["suggested_order"] == [3, 2, 0, 1]
    assert [c["issued_by"] for c in doc["certificates"]] == [None, None, 0, 2]
    assert doc["chain"]["leaf"] == 3 and doc["chain"]["path"] == [3, 2, 0] and doc["chain"]["off_path"] == [1]
    assert [c["on_path"] for c in doc["certificates"]] == [True, False, True, True]
    out = text_of(insp)
    assert "not leaf → root: leaf → root would be [3 2 0 1]" in out
    assert "not on the leaf's path: [1] www.example.test" in out
    assert "issued by Test Intermediate RSA (not in this list)" in out


def test_a_ca_bundle_is_not_a_broken_chain(pki_ec, pki_rsa):
    insp = Inspection.of((pki_ec.root, pki_rsa.root, pki_ec.intermediate), kind="file", name="ca.pem", format="pem")
    assert insp.shape.bundle is True and inspection_json(insp)["chain"]["bundle"] is True
    out = text_of(insp)
    assert "a CA bundle: 2 root(s), 1 intermediate(s), no leaf" in out and "not on the leaf's path" not in out
    assert Inspection.of(pki_ec.chain, kind="file", name="c.pem", format="pem").shape.bundle is False


def test_a_server_leaf_is_what_it_sends_first(pki_ec):
    """Sent root-first, the server's "leaf" is the root: nothing else is on its path."""
    insp = Inspection.of(tuple(reversed(pki_ec.chain)), kind="host", name="h:443", format="tls", host="h", port=443)
    doc = inspection_json(insp)["chain"]
    assert doc["leaf"] == 0 and doc["path"] == [0] and doc["off_path"] == [1, 2] and doc["in_order"] is False
    assert doc["suggested_order"] == [2, 1, 0]  # what `convert --order` would write for the server
    assert insp.hostname_match is False
    assert "not leaf → root: leaf → root would be [2 1 0]" in text_of(insp)


def test_extra_certificate_after_an_ordered_path(pki_ec, pki_rsa):
    insp = Inspection.of((*pki_ec.chain[:2], pki_rsa.root), kind="host", name="h:443", format="tls",
                         host="www.example.test", port=443)
    assert insp.shape.path == (0, 1) and insp.shape.off_path == (2,) and insp.hostname_match is True
    out = text_of(insp)
    assert "leaf → root, then certificates that are not on that path" in out
    assert "root:   not included" in out


def test_expired_and_not_yet_valid_are_flagged(pki_ec):
    expired = make_pki("ec", leaf_not_before=NOW - dt.timedelta(days=100), leaf_not_after=NOW - dt.timedelta(days=3))
    future = make_pki("ec", leaf_not_before=NOW + dt.timedelta(days=5), leaf_not_after=NOW + dt.timedelta(days=50))
    e = Inspection.of(expired.chain, kind="file", name="e.pem", format="pem")
    f = Inspection.of(future.chain, kind="file", name="f.pem", format="pem")
    assert inspection_json(e)["certificates"][0]["expired"] is True
    assert inspection_json(f)["certificates"][0]["not_yet_valid"] is True
    assert "EXPIRED 3 days ago" in text_of(e)
    assert "NOT YET VALID (starts in" in text_of(f)
    assert validity_words(e.chain.certs[1]).startswith("expires in")


def test_markup_in_names_is_not_interpreted(pki_ec):
    odd = make_pki("ec", leaf_name="[/bold] [link=x]evil[/link]")
    out = text_of(Inspection.of((odd.leaf, pki_ec.root), kind="file", name="[red]x.pem", format="pem"))
    assert "[/bold] [link=x]evil[/link]" in out and "[red]x.pem" in out


def test_chain_tree_handles_signing_cycles():
    from support.pki import issue, make_key, make_name

    ka, kb, kl = make_key("ec"), make_key("ec"), make_key("ec")
    a = issue(ka, kb, make_name("CA A"), make_name("CA B"), ca=True)  # A signed by B
    b = issue(kb, ka, make_name("CA B"), make_name("CA A"), ca=True)  # B signed by A
    leaf = issue(kl, ka, make_name("leaf.example.test"), make_name("CA A"), ca=False, sans=("leaf.example.test",))
    insp = Inspection.of((leaf, a, b), kind="file", name="cycle.pem", format="pem")
    assert insp.chain.path == (0, 1, 2)
    out = text_of(insp)
    assert all(f"[{i}]" in out for i in range(3))
    nothing = ChainInfo.analyse([])
    empty = Inspection(kind="file", name="x", format="pem", chain=nothing, shape=ChainShape.of(nothing))
    assert inspection_json(empty)["chain"]["in_order"] is None
    assert "0 certificates" in text_of(empty)


def test_cert_json_without_index(pki_ec):
    info = ChainInfo.analyse([pki_ec.leaf]).certs[0]
    doc = cert_json(info)
    assert "index" not in doc and doc["issued_by"] is None


# --------------------------------------------------------------------------- the command on files

def test_inspect_file_human(tmp_path, capsys, pki_ec):
    path = tmp_path / "chain.pem"
    path.write_bytes(pem(*pki_ec.chain))
    rc, out, err = inspect(capsys, str(path))
    assert rc == 0, err
    assert "PEM, 3 certificates" in out and "www.example.test" in out and "SHA-256" in out


@pytest.mark.parametrize("fmt", ["der", "p7-der", "p7-pem"])
def test_inspect_file_json_every_format(tmp_path, capsys, pki_ec, fmt):
    data = {"der": der(pki_ec.leaf),
            "p7-der": pkcs7.serialize_certificates(list(pki_ec.chain), serialization.Encoding.DER),
            "p7-pem": pkcs7.serialize_certificates(list(pki_ec.chain), serialization.Encoding.PEM)}[fmt]
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    rc, out, err = inspect(capsys, str(path), "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert list(doc)[0] == "schema_version"
    assert set(doc) >= {"source", "chain", "certificates", "notes", "private_key", "hostname_match"}
    assert doc["source"]["format"] == {"der": "der", "p7-der": "pkcs7-der", "p7-pem": "pkcs7-pem"}[fmt]
    assert all(CERT_KEYS <= set(c) for c in doc["certificates"])


def test_inspect_pkcs12_shows_the_key(tmp_path, capsys, pki_rsa):
    path = tmp_path / "id.p12"
    path.write_bytes(p12(pki_rsa, b"pw"))
    rc, out, err = inspect(capsys, str(path), "--password", "pw", "--json")
    assert rc == 0, err
    assert json.loads(out)["private_key"] == {"key_type": "RSA", "key_size": 2048, "matches": 0}
    rc, out, err = inspect(capsys, str(path), "--password", "pw")
    assert "private key RSA 2048 bits, fits certificate [0]" in out
    rc, out, err = inspect(capsys, str(path))
    assert rc == 2 and "error:" in err and "password" in err and out == ""


def test_inspect_stdin(capsys, monkeypatch, pki_ec):
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pem(pki_ec.leaf))))
    rc, out, err = inspect(capsys, "-", "--json")
    assert rc == 0 and json.loads(out)["source"]["name"] == "<stdin>"


@pytest.mark.parametrize("content,words", [
    (b"", "empty file"),
    (b"<html><body>Sign in</body></html>", "an HTML page"),
    (b"\x30\x82\x05\x00\x01\x02", "truncated DER"),
])
def test_inspect_bad_file_exits_2(tmp_path, capsys, content, words):
    path = tmp_path / "bad.crt"
    path.write_bytes(content)
    rc, out, err = inspect(capsys, str(path))
    assert rc == 2 and f"error: {path}: " in err and words in err and "hint:" in err
    assert "Traceback" not in err and out == ""


def test_inspect_option_mismatch(tmp_path, capsys, pki_ec):
    path = tmp_path / "c.pem"
    path.write_bytes(pem(pki_ec.leaf))
    rc, _, err = inspect(capsys, str(path), "--servername", "x.example")
    assert rc == 2 and "--servername applies to hosts" in err
