"""Every command's ``--json`` is the one envelope of docs/JSON.md: the same top-level keys, one
target object, one finding object, one certificate object (against the lab for the commands that
connect, against files for the others)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import fields
from pathlib import Path

import pytest
from support.pki import NOW, TestCA, pem

from certdoctor.cli.common import run
from certdoctor.cli.main import COMMANDS, cli
from certdoctor.model import SCHEMA_VERSION, CertInfo
from certdoctor.render.json import ENVELOPE_KEYS, FINDING_KEYS, LOCATION_KEYS, TARGET_KEYS, TARGET_KINDS

CERTIFICATE_KEYS = {"index", "role", *(f.name for f in fields(CertInfo) if f.name != "der"), "pin_sha256",
                    "issued_by", "on_path", "pem"}
SEVERITIES = {"info", "warning", "error"}
WHO = {"server-operator", "client-user", "network-admin", "nobody"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A chain file, a bundle with defects (a duplicate, an expired CA, a broken block), Python
    code with verify=False: the inputs of the commands that read files."""
    d = tmp_path_factory.mktemp("envelope")
    ca = TestCA("Envelope Root")
    inter = ca.intermediate("Envelope Intermediate")
    leaf = inter.issue_cert("envelope.example.test", not_after=NOW + dt.timedelta(days=3))
    old = TestCA("Envelope Expired Root", not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(days=1))
    (d / "chain.pem").write_bytes(leaf.chain_pem(with_root=True))
    (d / "root.pem").write_bytes(ca.cert_pem())
    (d / "bad-bundle.pem").write_bytes(ca.cert_pem() + inter.cert_pem() + ca.cert_pem() + old.cert_pem()
                                       + b"-----BEGIN CERTIFICATE-----\nnot base64 !!!\n-----END CERTIFICATE-----\n")
    (d / "app.py").write_text("import requests\nrequests.get('https://x', verify=False)\n")
    (d / "renew.toml").write_text(f'state = "{d / "renew.sqlite"}"\n[[certificate]]\nname = "web"\n'
                                  'domains = ["envelope.example.test"]\ndirectory = "https://acme.invalid/dir"\n'
                                  f'install = {{ lineage = "{d / "certs"}" }}\n')
    _state_file(d / "state.sqlite")
    return d


def _state_file(path: Path) -> None:
    """A monitor state file holding one target (the input of `certdoctor report`)."""
    from certdoctor.monitor.changes import identity
    from certdoctor.monitor.result import Row
    from certdoctor.monitor.state import State

    with State.open(path) as st:
        st.record(identity("endpoint", "envelope.example.test:443"),
                  Row("envelope.example.test:443", "endpoint", "argument 1", "ok", None, True, None, NOW, 0.1))


def _lab_cases(lab, d: Path):
    ca = str(lab.ca_file)
    return {
        "diagnose": (["diagnose", lab.endpoint("expired_leaf").url, "--ca-file", ca], 1),
        "fix": (["fix", lab.endpoint("missing_intermediate").url, "--out", str(d / "fix"), "--ca-file", ca], 0),
        "inspect": (["inspect", lab.endpoint("good").url, "--ca-file", ca], 0),
        "pin": (["pin", lab.endpoint("good").url, "--ca-file", ca], 0),
        "expiry": (["expiry", lab.endpoint("expiring_soon").url, lab.endpoint("good").url, "--ca-file", ca], 2),
        "revocation": (["revocation", lab.endpoint("revoked").url, "--method", "crl", "--no-cache"], 1),
        "monitor": (["monitor", lab.endpoint("good").url, lab.endpoint("self_signed").url, "--ca-file", ca], 2),
        # a chain file whose CRL the lab serves: GOOD, no finding
        "revocation-file": (["revocation", str(lab.workdir / "good.chain.pem"), "--method", "crl", "--no-cache"], 0),
    }


def _file_cases(d: Path):
    return {
        "inspect-file": (["inspect", str(d / "chain.pem")], 0),
        "convert": (["convert", str(d / "chain.pem"), str(d / "out.p7b"), "--order"], 0),
        "bundle": (["bundle", "--base", "none", "--add", str(d / "root.pem"), "--out", str(d / "built.pem")], 0),
        "bundle --check": (["bundle", "--check", str(d / "bad-bundle.pem")], 1),
        "lint": (["lint", str(d / "app.py")], 1),
        "pin-file": (["pin", str(d / "chain.pem")], 0),
        "expiry-file": (["expiry", str(d / "chain.pem"), "--no-clock"], 2),
        "lab --list": (["lab", "--list"], 0),
        "csr": (["csr", "--name", "a.test", "--out-key", str(d / "csr.key"), "--out-csr", str(d / "a.csr")], 0),
        # nothing installed yet: due now (WARNING); --check asks no server
        "renew --check": (["renew", "--config", str(d / "renew.toml"), "--check"], 1),
        "report": (["report", str(d / "state.sqlite")], 0),
    }


CASES = ["diagnose", "fix", "inspect", "pin", "expiry", "revocation", "monitor", "inspect-file", "convert", "bundle",
         "bundle --check", "lint", "pin-file", "expiry-file", "revocation-file", "lab --list", "csr",
         "renew --check", "report"]


def test_every_command_is_covered():
    """Every command of the CLI has a case here (lab serving is covered by test_lab)."""
    assert {c.split("-file")[0].split(" ")[0] for c in CASES} == set(COMMANDS)


@pytest.mark.parametrize("case", CASES)
def test_json_envelope(case, files, request, capsys):
    if case in _file_cases(files):
        argv, want_rc = _file_cases(files)[case]
    else:
        argv, want_rc = _lab_cases(request.getfixturevalue("lab"), files)[case]
    rc = run(cli, [*argv, "--json"])
    out, err = capsys.readouterr()
    assert rc == want_rc, err
    doc = json.loads(out)  # one JSON document, nothing else on stdout
    command = argv[0]
    _check_envelope(doc, command, rc)
    _check_target(doc["target"], command, argv)
    certs = doc["certificates"]
    for i, c in enumerate(certs):
        _check_certificate(c, i, len(certs))
    for f in doc["findings"]:
        _check_finding(f, len(certs))
    _check_command(case, doc, files)
    _check_documented(doc, command)


def _sections() -> dict[str, str]:
    """docs/JSON.md's per-command sections, by command (both ``bundle`` sections together)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "JSON.md").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for part in text.split("\n### `")[1:]:
        out[part.split()[0].rstrip("`")] = out.get(part.split()[0].rstrip("`"), "") + part.split("\n## ")[0]
    return out


def _documented_rules() -> set[str]:
    """The rule identifiers docs/JSON.md lists (its "Rule identifiers" table)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "JSON.md").read_text(encoding="utf-8")
    table = text.split("### Rule identifiers")[1].split("The location object")[0]
    return set(re.findall(r"`([a-z0-9]+(?:_[a-z0-9]+)+|[a-z0-9]+)`", table))


def _check_documented(doc: dict, command: str) -> None:
    """Every key a command writes is in its section of docs/JSON.md, the one place it is documented."""
    section = _sections()[command]
    missing = [k for k in doc if k not in ENVELOPE_KEYS and f"`{k}`" not in section]
    assert not missing, f"docs/JSON.md does not document {command}'s {missing}"


def _check_envelope(doc: dict, command: str, rc: int) -> None:
    assert tuple(doc)[: len(ENVELOPE_KEYS)] == ENVELOPE_KEYS  # the envelope first, in this order
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert doc["command"] == command
    assert doc["exit_code"] == rc
    assert isinstance(doc["findings"], list) and isinstance(doc["certificates"], list)


def _check_target(target, command: str, argv: list[str]) -> None:
    if command in ("lab", "csr"):  # nothing looked at: lab serves, csr makes
        assert target is None
        return
    assert isinstance(target, dict) and tuple(target) == TARGET_KEYS
    assert target["kind"] in TARGET_KINDS
    if target["kind"] == "several":
        assert target["input"] is None and target["path"] is None and target["host"] is None
        return
    assert isinstance(target["input"], str) and target["input"]
    if target["kind"] == "endpoint":
        assert target["input"] in argv
        assert target["host"] and 1 <= target["port"] <= 65535 and target["servername"]
        assert target["url"].startswith("https://") and target["path"] is None
    else:
        assert target["kind"] in ("file", "directory", "stdin")
        assert target["host"] is target["port"] is target["servername"] is target["url"] is None
        assert target["path"] == target["input"]


def _check_certificate(c: dict, index: int, count: int) -> None:
    assert set(c) == CERTIFICATE_KEYS, set(c) ^ CERTIFICATE_KEYS
    assert c["index"] == index
    assert c["role"] in ("leaf", "intermediate", "root", "self-signed")
    assert c["issued_by"] is None or (0 <= c["issued_by"] < count and c["issued_by"] != index)
    assert c["on_path"] in (True, False, None)
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", c["fingerprint_sha256"])
    assert c["pin_sha256"] == "sha256/" + c["spki_pin"]
    assert c["pem"].startswith("-----BEGIN CERTIFICATE-----\n") and c["not_after"].endswith("Z")
    assert isinstance(c["days_left"], int) and isinstance(c["san_dns"], list)


def _check_finding(f: dict, count: int) -> None:
    assert tuple(f) == FINDING_KEYS
    assert isinstance(f["code"], str) and re.fullmatch(r"[A-Z0-9_]+", f["code"])
    assert f["severity"] in SEVERITIES and f["who"] in WHO
    assert isinstance(f["summary"], str) and f["summary"]
    assert isinstance(f["explanation"], str) and isinstance(f["fix"], str)
    assert isinstance(f["evidence"], list) and all(isinstance(e, str) for e in f["evidence"])
    assert f["cert_index"] is None or 0 <= f["cert_index"] < count  # it points into this document
    assert f["rule"] is None or f["rule"] in _documented_rules(), f["rule"]  # snake case, in docs/JSON.md
    loc = f["location"]
    if loc is not None:
        assert tuple(loc) == LOCATION_KEYS
        assert loc["line"] is None or loc["line"] >= 1
        assert loc["column"] is None or loc["column"] >= 1
        assert loc["block"] is None or loc["block"] >= 1


def _check_command(case: str, doc: dict, d: Path) -> None:
    """What each command puts in the envelope (and the keys kept from schema 1)."""
    codes = [f["code"] for f in doc["findings"]]
    certs = doc["certificates"]
    if case == "diagnose":
        assert "EXPIRED" in codes and doc["verdict"]["primary"] == "EXPIRED"
        expired = next(f for f in doc["findings"] if f["code"] == "EXPIRED")
        assert expired["cert_index"] == 0 and certs[0]["expired"] is True and expired["rule"] == "expired"
        assert doc["chain"]["certs"][0]["subject"] == certs[0]["subject"]  # schema 1's chain stays
    elif case == "monitor":
        assert codes == [] and certs == [] and doc["summary"]["targets"] == 2
        assert sorted(r["reason"] or "" for r in doc["rows"]) == ["", "SELF_SIGNED"]
    elif case == "report":
        assert codes == [] and certs == [] and doc["state"] == {"path": str(d / "state.sqlite")}
        assert [t["target"] for t in doc["targets"]] == ["envelope.example.test:443"]
        assert [c["kind"] for c in doc["changes"]] == ["new_target"]
    elif case == "fix":
        assert "CHAIN_INCOMPLETE" in codes and doc["proven"] is True  # finding objects, not code strings
        assert [c["role"] for c in certs][0] == "leaf"
    elif case == "inspect":
        assert doc["target"]["kind"] == "endpoint" and doc["source"]["kind"] == "host"
        assert [c["role"] for c in certs] == ["leaf", "intermediate"]
        assert doc["anchor"]["reached"] is True and doc["anchor"]["via"] == 1
    elif case == "inspect-file":
        assert doc["target"] == {"input": str(d / "chain.pem"), "kind": "file", "path": str(d / "chain.pem"),
                                 "host": None, "port": None, "servername": None, "url": None}
        assert len(certs) == 3 and doc["anchor"] is None
    elif case == "convert":
        assert len(certs) == 3 and doc["input"]["count"] == 3 and doc["written"][0]["format"] == "p7b"
    elif case == "bundle":
        assert doc["action"] == "build" and doc["target"]["path"] == str(d / "built.pem")
        assert doc["count"] == len(certs) == 1 and certs[0]["subject"] == doc["added"][0]["subject"]
    elif case == "bundle --check":
        assert doc["action"] == "check" and doc["worst"] == "error" and doc["count"] == len(certs) == 4
        assert {"BUNDLE_DUPLICATE", "BUNDLE_EXPIRED", "BUNDLE_UNPARSEABLE"} <= set(codes)
        dup = next(f for f in doc["findings"] if f["code"] == "BUNDLE_DUPLICATE")
        assert dup["location"]["path"] == str(d / "bad-bundle.pem") and dup["location"]["block"] == 3
    elif case == "lint":
        assert codes == ["VERIFY_FALSE"] and doc["files_scanned"] == 1
        loc = doc["findings"][0]["location"]
        assert (loc["path"], loc["line"], loc["snippet"]) == (str(d / "app.py"), 2,
                                                              "requests.get('https://x', verify=False)")
    elif case in ("pin", "pin-file"):
        assert [c["pin"] for c in doc["certs"]] == [c["pin_sha256"] for c in certs]
        assert doc["recommended"][0] == certs[0]["pin_sha256"]
    elif case in ("expiry", "expiry-file"):
        assert "EXPIRING_SOON" in codes and doc["state"] == "CRITICAL"
        soon = next(f for f in doc["findings"] if f["code"] == "EXPIRING_SOON")
        assert certs[soon["cert_index"]]["days_left"] < 7 and soon["rule"] == "expiring_soon"
        indices = [i for s in doc["sources"] for i in s["certificate_index"]]
        assert indices == list(range(len(certs)))  # every source's chain, one after the other
        if case == "expiry":
            assert doc["target"]["kind"] == "several" and len(doc["sources"]) == 2
    elif case == "revocation":
        assert doc["status"] == "REVOKED" and codes == ["REVOKED"] and doc["finding"] == doc["findings"][0]
        assert certs[0]["issued_by"] == 1 and doc["findings"][0]["cert_index"] == 0
    elif case == "revocation-file":
        assert doc["status"] == "GOOD" and codes == [] and doc["finding"] is None
        assert doc["target"]["kind"] == "file" and len(certs) == 2 and certs[0]["issued_by"] == 1
    elif case == "lab --list":
        assert certs == [] and doc["findings"] == [] and doc["scenarios"]
    elif case == "csr":
        assert certs == [] and codes == [] and doc["csr"]["names"] == ["a.test"] and doc["key"]["new"] is True
    elif case == "renew --check":
        assert certs == [] and codes == ["RENEW_DUE"] and doc["check"] is True
        assert doc["results"][0]["status"] == "warning" and doc["results"][0]["action"] == "checked"
