"""``-`` is standard input for every file input (issue 10 item 8), and arguments that pass the
parser but name a server nobody answers on never end in a traceback (item 11).

* through real pipes (``python -m certdoctor`` in a subprocess): inspect, convert, bundle --add,
  expiry, revocation and pin read ``-``; ``--ca-file -``, ``--backup-key -``, ``--issuer -`` and
  ``fix --intermediate -`` too; standard input larger than ``policy.MAX_INPUT_BYTES`` or closed
  is one error:/hint: pair, exit 2; the private temporary file behind ``--ca-file -`` is gone
  after the run;
* ``diagnose good.lab.test --ca-file -`` with the lab's root on stdin: the real client verifies;
* every command that connects, against a closed port on 127.0.0.1 with --timeout 1 and odd but
  well-formed values (a proxy that is not a URL, a servername with spaces, a canary that is
  not a host): documented exit codes, no traceback, error:/hint: when the exit is 2.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_cli_captured
from support.pki import NO_URLS, TestCA, key_pem
from support.servers import closed_port

from certdoctor import policy
from certdoctor.pinning.pins import load_key_pin

SRC = str(Path(__file__).resolve().parents[2] / "src")

ROOT = TestCA("Stdin Root", **NO_URLS)
INTER = ROOT.intermediate("Stdin Intermediate", aia_url=None, crl_url=None, ocsp_url=None)
LEAF = INTER.issue_cert("www.stdin.test", aia_url=None, crl_url=None, ocsp_url=None)
CHAIN = LEAF.cert_pem() + INTER.cert_pem()
ROOT_PEM = ROOT.cert_pem()


def certdoctor(*args: str, stdin: bytes | None = b"", tmp: Path, close_stdin: bool = False):
    """``python -m certdoctor ARGS`` with ``stdin`` piped in (or fd 0 closed), TMPDIR in ``tmp``."""
    env = {**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(tmp)}
    cmd = [sys.executable, "-m", "certdoctor", *args]
    if close_stdin:
        cmd = ["sh", "-c", 'exec "$@" <&-', "sh", *cmd]
        return subprocess.run(cmd, capture_output=True, timeout=120, env=env, cwd=tmp)
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, env=env, cwd=tmp)


def _no_stdin_files(tmp: Path) -> None:
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("certdoctor-stdin-")]


def _bad_input(proc) -> None:
    err = proc.stderr.decode()
    lines = err.splitlines()
    assert proc.returncode == 2, (proc.stdout, err)
    assert "Traceback" not in err and len(lines) == 2, err
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), err


# --------------------------------------------------------------------------- - reads stdin, through a pipe

def test_inspect_convert_bundle_read_stdin(tmp_path):
    proc = certdoctor("inspect", "-", stdin=CHAIN, tmp=tmp_path)
    assert proc.returncode == 0 and b"www.stdin.test" in proc.stdout and b"Stdin Intermediate" in proc.stdout
    out = tmp_path / "out.pem"
    proc = certdoctor("convert", "-", str(out), stdin=CHAIN, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().count(b"BEGIN CERTIFICATE") == 2
    bundle = tmp_path / "bundle.pem"
    proc = certdoctor("bundle", "--add", "-", "--out", str(bundle), "--base", "none", stdin=ROOT_PEM, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert bundle.read_bytes().count(b"BEGIN CERTIFICATE") == 1


def test_ca_file_dash_is_the_trust(tmp_path):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(CHAIN)
    proc = certdoctor("inspect", str(chain), "--ca-file", "-", "--json", stdin=ROOT_PEM, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert b"Stdin Root" in proc.stdout
    _no_stdin_files(tmp_path)
    # an unrelated root on stdin: the same file no longer reaches a CA of --ca-file
    other = TestCA("Other Root", **NO_URLS).cert_pem()
    again = certdoctor("inspect", str(chain), "--ca-file", "-", "--json", stdin=other, tmp=tmp_path)
    assert again.returncode == 0 and again.stdout != proc.stdout
    _no_stdin_files(tmp_path)


def test_expiry_reads_stdin(tmp_path):
    proc = certdoctor("expiry", "-", stdin=CHAIN, tmp=tmp_path)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stdout.startswith(b"CERT OK - 2 certificates in 1 chain")
    _no_stdin_files(tmp_path)


def test_pin_backup_key_and_revocation_issuer_read_stdin(tmp_path):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(CHAIN)
    backup = TestCA("Backup", **NO_URLS)
    key_file = tmp_path / "backup.key"
    key_file.write_bytes(key_pem(backup.key))
    proc = certdoctor("pin", str(chain), "--backup-key", "-", stdin=key_pem(backup.key), tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert load_key_pin(key_file).encode() in proc.stdout
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(LEAF.cert_pem())
    # the leaf alone: its issuer comes from stdin; no CRL/OCSP URL, so the status is unknown (exit 1)
    proc = certdoctor("revocation", str(leaf), "--issuer", "-", stdin=INTER.cert_pem(), tmp=tmp_path)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    assert b"issuer is not in the chain" not in proc.stderr
    # and without --issuer it is bad usage naming the missing issuer
    _bad_input(certdoctor("revocation", str(leaf), tmp=tmp_path))
    _no_stdin_files(tmp_path)


def test_fix_intermediate_dash(tmp_path):
    port = closed_port()
    proc = certdoctor("fix", f"127.0.0.1:{port}", "--out", str(tmp_path / "fix"), "--intermediate", "-",
                      "--timeout", "1", stdin=INTER.cert_pem(), tmp=tmp_path)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr  # nobody answers: no fix
    _no_stdin_files(tmp_path)
    _bad_input(certdoctor("fix", f"127.0.0.1:{port}", "--out", str(tmp_path / "fix2"), "--intermediate", "-",
                          "--timeout", "1", stdin=b"garbage", tmp=tmp_path))
    _no_stdin_files(tmp_path)


@pytest.mark.parametrize("args", [["inspect", "-"], ["inspect", "{chain}", "--ca-file", "-"],
                                  ["pin", "{chain}", "--backup-key", "-"], ["expiry", "-"]])
def test_stdin_too_large_or_closed_is_one_error(tmp_path, args):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(CHAIN)
    argv = [a.format(chain=chain) for a in args]
    big = b"A" * (policy.MAX_INPUT_BYTES + 1)
    for proc in (certdoctor(*argv, stdin=big, tmp=tmp_path), certdoctor(*argv, close_stdin=True, tmp=tmp_path)):
        if argv[0] == "expiry":  # Nagios: UNKNOWN, the plugin line on stdout, error:/hint: on stderr
            assert proc.returncode == 3, proc.stderr
            assert proc.stdout.startswith(b"CERT UNKNOWN - ")
            err = proc.stderr.decode()
            assert err.startswith("error: ") and "\nhint: " in err and "Traceback" not in err
        else:
            _bad_input(proc)
        _no_stdin_files(tmp_path)
    assert b"too large" in certdoctor(*argv, stdin=big, tmp=tmp_path).stderr


def test_stdin_is_read_once(tmp_path):
    _bad_input(certdoctor("inspect", "-", "--ca-file", "-", stdin=CHAIN, tmp=tmp_path))
    _no_stdin_files(tmp_path)


# --------------------------------------------------------------------------- the real client, trust from stdin

def test_diagnose_ca_file_from_stdin_verifies(lab, capsys, monkeypatch):
    url = lab.endpoint("good").url
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(Path(lab.ca_file).read_bytes())))
    code, out, err = run_cli_captured(["diagnose", url, "--ca-file", "-", "--no-revocation", "--canary", "none"],
                                      capsys)
    assert code == 0, (out, err)
    assert "requests verifies" in out


# --------------------------------------------------------------------------- well-formed values, nobody answering

ODD = [
    ["--proxy", "not a proxy"],
    ["--proxy", "ftp://127.0.0.1:9"],
    ["--proxy", "http://[::1"],
    ["--servername", "a b"],
    ["--servername", ""],
    ["--resolve", "closed.test:127.0.0.1"],
    ["--timeout", "0.1"],
    [],
]
CONNECTING = {"diagnose": {0, 1, 2}, "fix": {0, 1, 2}, "inspect": {0, 1, 2}, "pin": {0, 1, 2},
              "expiry": {0, 1, 2, 3}, "revocation": {0, 1, 2}}


@pytest.mark.parametrize("command", sorted(CONNECTING))
@pytest.mark.parametrize("odd", ODD, ids=lambda o: " ".join(o) or "plain")
def test_closed_port_with_odd_values_never_traceback(command, odd, tmp_path, capsys):
    port = closed_port()
    extra = {"fix": ["--out", str(tmp_path / "fix"), "--canary", "none"], "diagnose": ["--canary", "none"]}
    argv = [command, f"127.0.0.1:{port}", "--timeout", "1", *odd, *extra.get(command, [])]
    code, out, err = run_cli_captured(argv, capsys)
    assert code in CONNECTING[command], (argv, out, err)
    assert "Traceback" not in out + err
    if code == 2 or (command == "expiry" and code == 3 and "bad usage" in out):
        lines = err.splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), (argv, err)
    assert not (tmp_path / "fix").exists() or code == 0


def test_lint_reads_standard_input_as_one_source_file():
    """`certdoctor lint -`: the source piped in is linted like a file named '-' (with other paths too)."""
    import json
    import subprocess
    import sys

    src = b'import requests\nrequests.get("https://example.test/", verify=False)\n'
    r = subprocess.run([sys.executable, "-m", "certdoctor", "lint", "-", "--json"], input=src,
                       capture_output=True, timeout=60)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["target"]["kind"] == "stdin"
    assert [(f["code"], f["location"]["path"]) for f in doc["findings"]] == [("VERIFY_FALSE", "-")]
    clean = subprocess.run([sys.executable, "-m", "certdoctor", "lint", "-"], input=b"x = 1\n",
                           capture_output=True, timeout=60)
    assert clean.returncode == 0, clean.stdout
    twice = subprocess.run([sys.executable, "-m", "certdoctor", "lint", "-", "-"], input=src,
                           capture_output=True, timeout=60)
    assert twice.returncode == 2 and twice.stderr.startswith(b"error: ") and b"\nhint: " in twice.stderr
