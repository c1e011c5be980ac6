"""Certificate sources through the monitor and the CLI: PEM bundle, DER, PKCS#7, PKCS#12 with a
password, a certbot live/ directory of symlinks into archive/, globs; --json and --jsonl."""

from __future__ import annotations

import datetime as dt
import json
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from certdoctor.monitor.config import Defaults, source
from certdoctor.monitor.run import monitor
from support.cli import run_cli_captured
from support.pki import NOW, TestCA, der, pem


def _chain():
    root = TestCA("Src Root")
    inter = root.intermediate("Src Inter")
    return root, inter, inter.issue_cert("www.example.test")


def test_every_format_and_every_certificate_of_a_bundle(tmp_path):
    root, inter, leaf = _chain()
    (tmp_path / "bundle.pem").write_bytes(pem(leaf.cert, inter.cert, root.cert))
    (tmp_path / "leaf.der").write_bytes(der(leaf.cert))
    (tmp_path / "chain.p7b").write_bytes(pkcs7.serialize_certificates([leaf.cert, inter.cert],
                                                                      serialization.Encoding.DER))
    (tmp_path / "id.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"id", leaf.key, leaf.cert, [inter.cert], serialization.BestAvailableEncryption(b"s3cret")))
    rows = {os.path.basename(r.target): r for r in monitor([source(str(tmp_path / "*"), Defaults(password="s3cret"))])}
    assert set(rows) == {"bundle.pem", "leaf.der", "chain.p7b", "id.p12"}
    assert [len(rows[n].certificates) for n in ("bundle.pem", "leaf.der", "chain.p7b", "id.p12")] == [3, 1, 2, 2]
    assert all(r.status == "ok" for r in rows.values()), {n: r.error for n, r in rows.items()}
    fp = rows["leaf.der"].certificates[0].fingerprint_sha256
    assert all(fp in {c.fingerprint_sha256 for c in r.certificates} for r in rows.values())


def test_pkcs12_with_a_wrong_password_is_unknown_not_a_crash(tmp_path):
    _, inter, leaf = _chain()
    (tmp_path / "id.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"id", leaf.key, leaf.cert, [inter.cert], serialization.BestAvailableEncryption(b"right")))
    [row] = monitor([source(str(tmp_path / "id.p12"), Defaults(password="wrong"))])
    assert row.status == "unknown" and "password" in row.error.lower()


def test_certbot_live_layout_is_followed_through_its_symlinks(tmp_path):
    root, inter, old = _chain()
    new = inter.issue_cert("www.example.test", not_after=NOW + dt.timedelta(days=5))
    archive, live = tmp_path / "archive" / "example", tmp_path / "live" / "example"
    archive.mkdir(parents=True)
    live.mkdir(parents=True)
    for n, leaf in ((1, old), (2, new)):
        (archive / f"cert{n}.pem").write_bytes(pem(leaf.cert))
        (archive / f"chain{n}.pem").write_bytes(pem(inter.cert))
        (archive / f"fullchain{n}.pem").write_bytes(pem(leaf.cert, inter.cert))
        (archive / f"privkey{n}.pem").write_bytes(leaf.key_pem())
    for name in ("cert", "chain", "fullchain", "privkey"):  # certbot points live/ at the newest
        os.symlink(f"../../archive/example/{name}2.pem", live / f"{name}.pem")
    [row] = monitor([source(str(tmp_path / "live"))])
    assert row.target == str(live / "fullchain.pem")
    assert row.path == str((archive / "fullchain2.pem").resolve())
    assert len(row.certificates) == 2 and row.days_left == 4
    assert row.status == "critical" and row.reason == "EXPIRING_SOON"


def test_expired_file_is_critical_and_missing_source_unknown(tmp_path):
    ca = TestCA("Old")
    old = ca.issue_cert("old.example.test", not_before=NOW - dt.timedelta(days=90),
                        not_after=NOW - dt.timedelta(days=3))
    (tmp_path / "old.pem").write_bytes(pem(old.cert))
    rows = {r.input if hasattr(r, "input") else r.target: r
            for r in monitor([source(str(tmp_path / "old.pem")), source(str(tmp_path / "nothing-*.pem"))])}
    assert rows[str(tmp_path / "old.pem")].status == "critical"
    assert rows[str(tmp_path / "old.pem")].reason == "EXPIRED"
    missing = rows[str(tmp_path / "nothing-*.pem")]
    assert missing.status == "unknown" and "matches no file" in missing.error


def test_cli_json_and_jsonl(tmp_path, capsys):
    root, inter, leaf = _chain()
    f = tmp_path / "bundle.pem"
    f.write_bytes(pem(leaf.cert, inter.cert))
    code, out, err = run_cli_captured(["monitor", "--json", str(f), "127.0.0.1:1", "--timeout", "2"], capsys)
    doc = json.loads(out)
    assert code == 3 and doc["command"] == "monitor" and doc["schema_version"] and doc["exit_code"] == 3
    assert doc["summary"] == {"targets": 2, "ok": 1, "warning": 0, "critical": 0, "unknown": 1, "error": 0}
    assert {r["status"] for r in doc["rows"]} == {"ok", "unknown"}
    code, out, err = run_cli_captured(["monitor", "--jsonl", str(f)], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 1 and json.loads(lines[0])["certificates"][1]["subject"].startswith("CN=Src Inter")


def test_cli_table_when_piped_is_only_results(tmp_path, capsys):
    _, inter, leaf = _chain()
    f = tmp_path / "b.pem"
    f.write_bytes(pem(leaf.cert, inter.cert))
    code, out, err = run_cli_captured(["monitor", str(f)], capsys)
    assert code == 0 and "OK" in out and "1 target: 1 ok (exit 0)" in out and err == ""


def test_cli_config_error_names_the_line(tmp_path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[defaults]\nwarn_days = 20\n\n[[endpoint]]\ntarget = "example.org"\n\n'
                   '[[endpoint]]\ntarget = "example.net"\nservrname = "x"\n')
    code, out, err = run_cli_captured(["monitor", "--config", str(cfg)], capsys)
    assert code == 3 and out == ""
    assert err.splitlines()[0] == f"error: {cfg}:9: [[endpoint]] #2: unknown key 'servrname'"
    assert err.splitlines()[1].startswith("hint: ")
    cfg.write_text('[[endpoint]]\ntarget = "example.org"\nwarn_days = = 3\n')
    code, out, err = run_cli_captured(["monitor", "--config", str(cfg)], capsys)
    assert code == 3 and err.startswith(f"error: {cfg}:3:") and "Traceback" not in err
