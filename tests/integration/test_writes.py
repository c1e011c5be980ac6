"""What fix, convert and the lab write, against real servers and real pipes (issue 10 items 7, 8).

* fix with REQUESTS_CA_BUNDLE naming a missing file: the bundle is certifi + the root, never the
  root alone, and the output says so (text and JSON);
* a proof that fails leaves only ca-bundle.UNPROVEN.pem in --out, and says what to do;
* fix --out '', FILE/sub, /proc/x: error + hint before any connection;
* the lab's --workdir: a planted symlink never receives a key, a symlinked or non-empty workdir is refused;
* convert through a real pipe: stdin in, /dev/stdout out (a pipe stays a pipe).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from support.cli import run_cli_captured
from support.pki import make_pki, pem, self_signed
from support.servers import tls_server

from certdoctor.errors import UsageError
from certdoctor.lab import Lab
from certdoctor.remedies.fix import UNPROVEN_NAME, fix

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _count(path) -> int:
    return Path(path).read_bytes().count(b"-----BEGIN CERTIFICATE-----")


# --------------------------------------------------------------------------- fix: what the bundle holds

def test_missing_requests_ca_bundle_falls_back_to_certifi_and_says_so(lab, tmp_path, capsys):
    url = lab.endpoint("self_signed").url
    env = {"REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")}
    first = fix(url, tmp_path / "a", timeout=5, environ=env)
    assert first.needs_trust and first.bundle is None
    r = fix(url, tmp_path / "b", timeout=5, environ=env, trust_fingerprints=[first.needs_trust])
    assert r.proven is True, r.statements
    assert r.base_fallback and "holds no certificate" in r.base_fallback and "certifi" in r.base_fallback
    assert r.base_fallback in r.statements
    import certifi

    public = Path(certifi.where()).read_bytes().count(b"-----BEGIN CERTIFICATE-----")
    assert _count(r.bundle) == public + 1  # certifi's roots and the one confirmed, not the root alone
    # the exported bundle still opens a public-CA-signed site: a certifi root verifies, as before
    assert b"# Source: certifi" in Path(r.bundle).read_bytes()
    # and the JSON says it too
    code, out, err = run_cli_captured(["fix", url, "--out", str(tmp_path / "c"), "--trust", first.needs_trust,
                                       "--timeout", "5", "--json"], capsys)
    assert code == 0, err  # (no env here: the JSON has base_fallback null)
    assert json.loads(out)["base_fallback"] is None


def test_failed_proof_leaves_only_the_unproven_file(tmp_path):
    # a self-signed certificate for another name: trusting it cannot make the hostname check pass
    cert = self_signed("other.example.test")
    with tls_server(cert) as srv:
        url = f"https://127.0.0.1:{srv.port}/"
        first = fix(url, tmp_path / "a", timeout=5)
        assert first.needs_trust
        out = tmp_path / "b"
        r = fix(url, out, timeout=5, trust_fingerprints=[first.needs_trust])
    assert r.proven is False and r.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == [UNPROVEN_NAME]
    assert r.bundle == str(out / UNPROVEN_NAME) and r.written == (("ca_bundle_unproven", r.bundle),)
    said = " ".join(r.statements)
    assert "not ca-bundle.pem" in said and "do not use it" in said and f"--ca-file {r.bundle}" in said
    assert not r.usage  # no "use it like this" for a bundle that does not work


def test_a_proven_bundle_replaces_an_earlier_unproven_one(lab, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / UNPROVEN_NAME).write_bytes(b"from an earlier run")
    url = lab.endpoint("missing_intermediate").url
    r = fix(url, out, ca_file=str(lab.ca_file), timeout=5)
    assert r.proven is True
    assert sorted(p.name for p in out.iterdir()) == ["ca-bundle.pem", "full_chain.pem"]
    assert requests.get(url, verify=r.bundle, timeout=5).status_code in (200, 404)


@pytest.mark.parametrize("out", ["", "{file}/sub", "-"])
def test_fix_bad_out_is_error_hint_before_connecting(tmp_path, capsys, out):
    f = tmp_path / "file"
    f.write_bytes(b"keep")
    # an unreachable target: a bad --out must be said before any connection is tried
    code, stdout, err = run_cli_captured(["fix", "https://127.0.0.1:9/", "--out", out.format(file=f),
                                          "--timeout", "1"], capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert lines[0].startswith("error: --out") and lines[1].startswith("hint: ") and len(lines) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] and f.read_bytes() == b"keep"


def test_fix_out_under_proc_is_error_hint(lab, capsys):
    code, _, err = run_cli_captured(["fix", lab.endpoint("missing_intermediate").url, "--out", "/proc/certdoctor-x",
                                     "--ca-file", str(lab.ca_file), "--timeout", "5"], capsys)
    assert code == 2 and err.startswith("error: ") and "hint: " in err and "Traceback" not in err


# --------------------------------------------------------------------------- the lab's work directory

def test_lab_workdir_planted_symlink_gets_no_key(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "root.key.pem").symlink_to(victim)  # planted before the lab starts
    with pytest.raises(UsageError, match="not empty"):
        Lab(scenarios=["good"], workdir=wd).start()
    assert victim.read_bytes() == b"precious"
    link = tmp_path / "linked-wd"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UsageError, match="symlink"):
        Lab(scenarios=["good"], workdir=link).start()


def test_lab_workdir_is_0700_and_keys_0600(tmp_path):
    with Lab(scenarios=["good"], workdir=tmp_path / "new") as lab:
        assert stat.S_IMODE(os.lstat(lab.workdir).st_mode) == 0o700
        keys = list(lab.workdir.glob("*.key.pem"))
        assert keys and all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
        assert requests.get(lab.endpoint("good").url, verify=str(lab.ca_file), timeout=5).ok


# --------------------------------------------------------------------------- convert through real pipes

def _certdoctor(*args, stdin: bytes = b""):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = SRC
    return subprocess.run([sys.executable, "-m", "certdoctor", *args], input=stdin, capture_output=True, env=env,
                          timeout=60)


def test_convert_stdin_to_dev_stdout_pipe_stays_a_pipe(tmp_path):
    from cryptography.hazmat.primitives.serialization import Encoding

    p = make_pki("ec")
    done = _certdoctor("convert", "-", "/dev/stdout", "--to", "der", stdin=pem(p.leaf))
    assert done.returncode == 0, done.stderr
    assert done.stdout == p.leaf.public_bytes(Encoding.DER)  # the pipe got the bytes: it was not replaced
    assert b"wrote /dev/stdout" in done.stderr  # the report went to stderr, not into the DER
    done = _certdoctor("convert", "-", "-", stdin=pem(*p.chain))
    assert done.returncode == 0 and done.stdout == pem(*p.chain)
    assert b"wrote -: PEM, 3 certificates" in done.stderr
    assert not Path("-").exists()


def test_convert_to_a_fifo_with_a_reader(tmp_path):
    p = make_pki("ec")
    src = tmp_path / "leaf.pem"
    src.write_bytes(pem(p.leaf))
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        done = _certdoctor("convert", str(src), str(fifo))
        got, _ = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert done.returncode == 0, done.stderr
    assert got == pem(p.leaf) and stat.S_ISFIFO(os.lstat(fifo).st_mode)
