"""monitor/result and the engine's row builders, from hand-made evidence (no socket)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from certdoctor.diagnose import judge
from certdoctor.monitor import result as R
from certdoctor.monitor.config import Defaults, endpoint
from certdoctor.monitor.engine import endpoint_row
from support import evidence as E
from support.pki import NOW, TestCA


def _row(chain, anchors, **kw):
    spec = endpoint(f"https://{E.HOST}/", Defaults(**{k: kw.pop(k) for k in ("warn_days", "crit_days") if k in kw}))
    ev = E.evidence(chain, anchors=anchors, warn_days=spec.warn_days, **kw)
    return endpoint_row(spec, judge(ev), NOW, 0.01)


def test_good_chain_is_ok_with_facts_of_every_certificate():
    root = TestCA("R")
    inter = root.intermediate("I")
    leaf = inter.issue_cert(E.HOST, not_after=NOW + dt.timedelta(days=60))
    row = _row(leaf.chain[:-1], [root.cert])
    assert (row.status, row.reason, row.verified, row.days_left) == ("ok", None, True, 60)
    assert [c.on_path for c in row.certificates] == [True, True]
    assert row.certificates[0].subject == f"CN={E.HOST},O=certdoctor tests" or row.certificates[0].subject
    doc = json.loads(json.dumps(row.to_json()))
    assert doc["row_version"] == R.ROW_VERSION and doc["labels"] == {}
    assert set(doc) >= {"target", "status", "reason", "verified", "certificates", "findings", "days_left"}


def test_untrusted_chain_keeps_its_facts_and_is_critical():
    other = TestCA("Other")
    leaf = other.intermediate("I").issue_cert(E.HOST)
    row = _row(leaf.chain[:-1], [TestCA("Unrelated").cert])
    assert row.status == "critical" and row.verified is False
    assert len(row.certificates) == 2 and all(c.fingerprint_sha256 for c in row.certificates)


@pytest.mark.parametrize("left, status", [(60, "ok"), (20, "warning"), (3, "critical")])
def test_days_decide_with_warn_and_crit(left, status):
    root = TestCA("R")
    leaf = root.intermediate("I").issue_cert(E.HOST, not_after=NOW + dt.timedelta(days=left, hours=1))
    row = _row(leaf.chain[:-1], [root.cert], warn_days=30, crit_days=7)
    assert row.status == status
    assert row.reason == (None if status == "ok" else "EXPIRING_SOON")


def test_no_certificate_is_unknown():
    from certdoctor.model import Actor, Code, Finding, Severity

    fail = Finding(Code.CONNECTION_REFUSED, Severity.ERROR, "refused", who=Actor.SERVER_OPERATOR)
    row = _row((), [TestCA("R").cert], failure=fail)
    assert (row.status, row.reason, row.verified, row.error) == ("unknown", "CONNECTION_REFUSED", None, "refused")


@pytest.mark.parametrize("n, text", [(0, "00"), (1, "01"), (0x7F, "7f"), (0x80, "0080"), (0x0A0B, "0a0b"),
                                     (-1, "ff")])
def test_serial_hex_keeps_the_der_bytes(n, text):
    assert R.serial_hex(n) == text


def test_exit_code_ranks_critical_over_unknown_over_warning():
    assert R.exit_code([]) == 0
    assert R.exit_code(["ok", "warning"]) == 1
    assert R.exit_code(["warning", "unknown"]) == 3
    assert R.exit_code(["unknown", "critical", "error"]) == 2
    assert R.exit_code(["error"]) == 3
