"""renew/deploy: the deploy hook (no shell, bounded, its process group killed at the timeout; a
non-zero exit is RENEW_HOOK_FAILED with the stderr tail, sanitised). The probe loop runs against
real servers in tests/integration/test_renew_flow.py."""

from __future__ import annotations

import sys
import time

import pytest

from certdoctor.model import Code
from certdoctor.renew.deploy import RenewFailure, fingerprint_der, run_hook


def test_a_hook_that_exits_0_passes_and_gets_its_environment(tmp_path):
    out = tmp_path / "env"
    run = run_hook([sys.executable, "-c", "import os, sys; open(sys.argv[1], 'w').write(os.environ['CERTDOCTOR_NAME'])",
                    str(out)], timeout=30, env={"CERTDOCTOR_NAME": "web"})
    assert run.returncode == 0 and out.read_text() == "web"


def test_a_hook_exiting_1_is_an_error_with_its_stderr_tail_sanitised():
    with pytest.raises(RenewFailure) as info:
        run_hook([sys.executable, "-c", "import sys; sys.stderr.write('x' * 5000 + '\\nnginx: [emerg] bad\\x1b[2J\\n'); "
                  "sys.exit(1)"], timeout=30)
    f = info.value.finding
    assert f.code is Code.RENEW_HOOK_FAILED and f.rule == "hook_exit_status" and info.value.kind == "hook_failed"
    assert "exited with status 1: nginx: [emerg] bad\\x1b[2J" in f.summary and "\x1b" not in f.summary
    tail = next(e for e in f.evidence if e.startswith("stderr: "))
    assert len(tail) < 2100 and tail.endswith("bad\\x1b[2J") and "\x1b" not in tail
    assert info.value.exit_code == 1 and info.value.hint


def test_a_hook_is_run_without_a_shell():
    with pytest.raises(RenewFailure) as info:
        run_hook(["true && false"], timeout=30)
    assert info.value.finding.rule == "hook_not_started"
    run_hook(["sh", "-c", "true && exit 0"], timeout=30)  # shell syntax only when asked for


def test_a_hanging_hook_is_killed_at_its_timeout_with_its_children(tmp_path):
    marker = tmp_path / "child-alive"
    started = time.monotonic()
    with pytest.raises(RenewFailure) as info:
        run_hook(["sh", "-c", f"(sleep 5; touch {marker}) & sleep 30"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert info.value.finding.rule == "hook_timeout" and "0.5 s timeout" in info.value.finding.summary
    time.sleep(5.5)
    assert not marker.exists()  # the whole process group went


def test_fingerprint_der_is_the_models_form():
    from support.pki import TestCA
    from certdoctor.model import fingerprint_sha256
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf = TestCA("fp root").issue_cert("fp.example")
    cert = leaf.cert
    assert fingerprint_der(cert.public_bytes(Encoding.DER)) == fingerprint_sha256(cert)


def test_every_renew_rule_and_code_is_documented():
    import re
    from pathlib import Path

    from certdoctor.renew import deploy, run

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "JSON.md").read_text(encoding="utf-8")
    table = doc.split("### Rule identifiers")[1].split("The location object")[0]
    for rule in [*deploy.RULES, *run.RULES, "rolled_back"]:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", rule), rule
        assert f"`{rule}`" in table, f"docs/JSON.md does not list the rule {rule!r}"
    renew_md = (root / "docs" / "RENEW.md").read_text(encoding="utf-8")
    for code in Code:
        if code.value.startswith("RENEW_") or code is Code.DEPLOY_NOT_SERVED:
            assert f"`{code.value}`" in table and f"`{code.value}`" in renew_md, code
