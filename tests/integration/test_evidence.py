"""Stored evidence is judged again without the network: pickled from a lab diagnosis, judged after the
lab (and its CA file) is gone, in a fresh process where every socket is refused: the same findings.

Also here: the layering the evidence/checks split exists for (importing the checks loads no
module of certdoctor.net), and the one AIA fetcher behind `certdoctor revocation`.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from certdoctor.diagnose import diagnose, judge
from certdoctor.model import Code

SCENARIOS = ("good", "expired_leaf", "missing_intermediate", "revoked", "intercepting_proxy", "hostname_mismatch",
             "self_signed", "wrong_order")

JUDGE_OFFLINE = textwrap.dedent("""
    import pickle, socket, sys

    def refuse(*args, **kwargs):
        raise AssertionError("judging stored evidence tried to open a connection")

    for name in ("connect", "connect_ex", "bind"):
        setattr(socket.socket, name, refuse)
    socket.create_connection = socket.getaddrinfo = refuse

    from certdoctor.diagnose import judge

    out = {}
    for sid, blob in pickle.loads(sys.stdin.buffer.read()).items():
        d = judge(pickle.loads(blob))
        out[sid] = (d.findings, d.verifies, d.exit_code)
    sys.stdout.buffer.write(pickle.dumps(out))
""")


def _python(code: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter that imports this certdoctor."""
    import certdoctor

    env = {**os.environ, "PYTHONPATH": str(Path(certdoctor.__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, env=env, timeout=120)


def test_stored_evidence_is_judged_the_same_after_the_lab_stopped(tmp_path):
    from certdoctor.lab import Lab
    from certdoctor.net.fetch import FetchCache

    stored: dict[str, bytes] = {}
    seen: dict[str, tuple] = {}
    with Lab(scenarios=list(SCENARIOS)) as lab, lab.resolving():
        workdir = lab.workdir
        for sid in SCENARIOS:
            proxy = lab.proxy_url if sid == "intercepting_proxy" else None
            d = diagnose(lab.endpoint(sid).url, ca_file=str(lab.ca_file), proxy=proxy, timeout=5,
                         cache=FetchCache(tmp_path / "cache"))
            assert d.evidence is not None and d.findings == judge(d.evidence).findings
            stored[sid] = pickle.dumps(d.evidence)
            seen[sid] = (d.findings, d.verifies, d.exit_code)
    assert not workdir.exists()  # the servers, the CA file and the CRL are gone

    # what the evidence proves needs no socket and no file: AIA, CRL, canary, client outcome
    codes = {sid: {f.code for f in seen[sid][0]} for sid in SCENARIOS}
    assert Code.CHAIN_INCOMPLETE in codes["missing_intermediate"] and Code.REVOKED in codes["revoked"]
    assert Code.INTERCEPTING_PROXY in codes["intercepting_proxy"] and not seen["good"][0]

    proc = _python(JUDGE_OFFLINE, pickle.dumps(stored))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    again = pickle.loads(proc.stdout)
    for sid in SCENARIOS:
        assert again[sid] == seen[sid], sid

    # and in this process, after the lab stopped
    for sid in SCENARIOS:
        d = judge(pickle.loads(stored[sid]))
        assert (d.findings, d.verifies, d.exit_code) == seen[sid], sid


def test_the_checks_import_no_network_module():
    proc = _python(textwrap.dedent("""
        import json, pkgutil, sys, importlib
        import certdoctor.checks, certdoctor.x509
        names = ["certdoctor.evidence"]
        for pkg in (certdoctor.checks, certdoctor.x509):
            names += [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]
        for name in names:
            importlib.import_module(name)
        print(json.dumps({"imported": names, "net": sorted(m for m in sys.modules
                                                            if m.startswith(("certdoctor.net", "certdoctor.cli")))}))
    """))
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert "certdoctor.checks.trust" in doc["imported"] and "certdoctor.x509.path" in doc["imported"]
    assert doc["net"] == []


def test_the_one_aia_fetcher_finds_the_issuer_for_certdoctor_revocation(lab, capsys, tmp_path, monkeypatch):
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli
    from certdoctor.net.aia import fetch_issuers, issuer_from_aia
    from certdoctor.net.probe import fetch_chain

    monkeypatch.setenv("CERTDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    ep = lab.endpoint("missing_intermediate")
    (leaf,) = fetch_chain(ep.hostname, ep.port, timeout=5)  # the server sends its leaf alone
    assert issuer_from_aia(leaf, timeout=5) == lab.pki.intermediate_cert
    (attempt,) = fetch_issuers(leaf, budget=5)
    assert attempt.ok and attempt.url == lab.pki.aia_url and attempt.certificates() == (lab.pki.intermediate_cert,)
    # certdoctor revocation finds the issuer over AIA and checks the leaf against its CRL
    rc = run(cli, ["revocation", ep.url, "--json", "--method", "crl", "--timeout", "5"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["status"] == "GOOD"
    assert any(e.endswith(f"issuer {lab.pki.intermediate_cert.subject.rfc4514_string()}") for e in doc["evidence"])
