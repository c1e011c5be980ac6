"""fix --client pip (issue 9, item 7): the bundle is proven with the real pip (`pip download
--cert BUNDLE` against the target as an index), a TLS failure is told apart from the index's
404, and the pip advice holds in the present environment (REQUESTS_CA_BUNDLE beats --cert)."""

from __future__ import annotations

import os
import subprocess
import sys

from support.pki import TestCA

from certdoctor.remedies.fix import fix, prove_pip, usage_lines
from support.servers import server_context

NO_ENV = {"PIP_CONFIG_FILE": os.devnull}


def _site(servers, host="pip-index.example"):
    """A TLS server answering 404 to everything (an index without the package), and its root."""
    ca = TestCA()
    issued = ca.intermediate().issue_cert(host)
    srv = servers.http({}, tls=server_context(issued))
    return ca, srv


def test_pip_proof_tells_a_tls_failure_from_the_index_404(servers, tmp_path):
    ca, srv = _site(servers)
    good = tmp_path / "good.pem"
    good.write_bytes(ca.cert_pem())
    other = tmp_path / "other.pem"
    other.write_bytes(TestCA().cert_pem())
    url = f"https://127.0.0.1:{srv.port}/"

    ok = prove_pip(url, str(good), servername="pip-index.example", timeout=30)
    assert ok.client == "pip" and ok.ok is True and ok.status == 404, ok
    asked = [r for r in srv.records if r.path.startswith("/simple/")]
    assert asked and asked[0].headers.get("Host", "").startswith("pip-index.example")  # pip asked by the name

    bad = prove_pip(url, str(other), servername="pip-index.example", timeout=30)
    assert bad.ok is False and "CERTIFICATE_VERIFY_FAILED" in (bad.error or ""), bad
    # the name is checked, not only sent: the IP itself is not in the certificate
    mismatch = prove_pip(url, str(good), timeout=30)
    assert mismatch.ok is False and "CERTIFICATE_VERIFY_FAILED" in (mismatch.error or ""), mismatch


def test_pip_proof_is_not_fooled_by_requests_ca_bundle(servers, tmp_path, monkeypatch):
    """A REQUESTS_CA_BUNDLE in certdoctor's own environment neither makes the proof pass nor fail:
    pip runs without it, so the bundle alone decides."""
    ca, srv = _site(servers)
    good = tmp_path / "good.pem"
    good.write_bytes(ca.cert_pem())
    other = tmp_path / "other.pem"
    other.write_bytes(TestCA().cert_pem())
    url = f"https://127.0.0.1:{srv.port}/"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    assert prove_pip(url, str(good), servername="pip-index.example", timeout=30).ok is True
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(good))
    assert prove_pip(url, str(other), servername="pip-index.example", timeout=30).ok is False


def test_requests_ca_bundle_beats_pips_cert_so_the_advice_says_so(servers, tmp_path):
    """What the advice claims, checked with the real pip: with REQUESTS_CA_BUNDLE set to another
    bundle, `--cert BUNDLE` does not help; without it, it does."""
    ca, srv = _site(servers, host="127.0.0.1")
    good = tmp_path / "good.pem"
    good.write_bytes(ca.cert_pem())
    other = tmp_path / "other.pem"
    other.write_bytes(TestCA().cert_pem())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "REQUESTS_", "CURL_"))}
    env["PIP_CONFIG_FILE"] = os.devnull

    def pip(extra_env):
        out = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--retries", "0", "--timeout", "5",
             "--disable-pip-version-check", "--index-url", f"https://127.0.0.1:{srv.port}/simple/",
             "--cert", str(good), "-d", str(tmp_path / "dl"), "certdoctor-no-such-pkg"],
            capture_output=True, text=True, env={**env, **extra_env}, timeout=120)
        return out.stdout + out.stderr

    assert "CERTIFICATE_VERIFY_FAILED" in pip({"REQUESTS_CA_BUNDLE": str(other)})
    assert "CERTIFICATE_VERIFY_FAILED" not in pip({})

    lines = usage_lines(str(good), environ={"REQUESTS_CA_BUNDLE": str(other)})
    pip_line = next(line for line in lines if line.startswith("pip:"))
    assert "REQUESTS_CA_BUNDLE" in pip_line and "unset REQUESTS_CA_BUNDLE" in pip_line
    assert f"--cert {good}" in pip_line and "do nothing" in pip_line
    plain = next(line for line in usage_lines(str(good), environ={}) if line.startswith("pip:"))
    assert plain.endswith(f"pip config set global.cert {good}")
    # a variable already pointing at the bundle needs no warning
    same = next(line for line in usage_lines(str(good), environ={"REQUESTS_CA_BUNDLE": str(good)})
                if line.startswith("pip:"))
    assert same.endswith(f"pip config set global.cert {good}")


def test_fix_client_pip_runs_the_real_pip(lab, tmp_path):
    url = lab.endpoint("missing_intermediate").url  # a lab name: resolved for pip's process too
    r = fix(url, tmp_path, ca_file=str(lab.ca_file), client="pip", environ=NO_ENV, timeout=30)
    assert r.bundle and r.proven is True, (r.proofs, r.statements)
    pip = next(p for p in r.proofs if p.client == "pip")
    assert pip.ok is True
    assert {p.client for p in r.proofs} == {"requests", "httpx", "pip"}


def test_fix_client_pip_with_requests_ca_bundle_gives_advice_that_works(lab, tmp_path):
    url = lab.endpoint("missing_intermediate").url
    env = {**NO_ENV, "REQUESTS_CA_BUNDLE": str(lab.ca_file)}
    r = fix(url, tmp_path, client="pip", environ=env, timeout=30)
    assert r.bundle and r.proven is True, (r.proofs, r.statements)
    pip_line = next(line for line in r.usage if line.startswith("pip:"))
    assert f"REQUESTS_CA_BUNDLE={lab.ca_file}" in pip_line and "unset REQUESTS_CA_BUNDLE" in pip_line


def test_a_pip_proof_that_fails_is_not_a_fix(lab, tmp_path):
    """The bundle is made for requests (works for it), and pip is pointed at a dead port: pip's own
    failure (no TLS, no 404) keeps the fix unproven."""
    from support.servers import closed_port

    proof = prove_pip(f"https://127.0.0.1:{closed_port()}/", str(lab.ca_file), timeout=2)
    assert proof.ok is False and proof.error


def test_fix_client_pip_text_names_the_pip_proof(lab, tmp_path, capsys):
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    ep = lab.endpoint("missing_intermediate")
    rc = run(cli, ["fix", f"127.0.0.1:{ep.port}", "--servername", ep.hostname, "--client", "pip",
                   "--ca-file", str(lab.ca_file), "--out", str(tmp_path), "--timeout", "30"])
    out = capsys.readouterr().out
    assert rc == 0 and "Fix proven." in out, out[-3000:]
    assert "real pip (pip download --cert BUNDLE" in out and "NOT make the client succeed" not in out
