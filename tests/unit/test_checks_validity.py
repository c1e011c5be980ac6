"""checks.validity: EXPIRED, NOT_YET_VALID, EXPIRING_SOON from evidence, at the clock judged at."""

from __future__ import annotations

import datetime as dt

from certdoctor.checks import run, validity
from certdoctor.checks.context import derive
from certdoctor.model import Code, Severity

from support.evidence import evidence
from support.pki import NOW, TestCA

DAY = dt.timedelta(days=1)


def codes(ev, now=None):
    return [(f.code, f.severity, f.cert_index) for f in validity.check(derive(ev, now))]


def test_a_healthy_chain_has_no_validity_finding():
    ca = TestCA()
    leaf = ca.intermediate().issue_cert("www.example.test")
    assert codes(evidence(leaf.chain[:-1], anchors=[ca.cert])) == []


def test_expired_leaf_and_intermediate():
    ca = TestCA()
    leaf = ca.intermediate().issue_cert("www.example.test", not_before=NOW - 30 * DAY, not_after=NOW - 2 * DAY)
    found = validity.check(derive(evidence(leaf.chain[:-1], anchors=[ca.cert])))
    assert [(f.code, f.severity, f.cert_index) for f in found] == [(Code.EXPIRED, Severity.ERROR, 0)]
    assert "expired 2 day(s) ago" in found[0].summary and "certbot" in found[0].fix

    old = ca.intermediate("Old Intermediate", not_before=NOW - 90 * DAY, not_after=NOW - DAY)
    leaf = old.issue_cert("www.example.test")
    found = validity.check(derive(evidence(leaf.chain[:-1], anchors=[ca.cert])))
    assert [(f.code, f.cert_index) for f in found] == [(Code.EXPIRED, 1)]
    assert found[0].summary.startswith("The intermediate certificate expired")
    assert "replace the expired CA certificate" in found[0].fix


def test_not_yet_valid():
    ca = TestCA()
    leaf = ca.intermediate().issue_cert("www.example.test", not_before=NOW + 2 * DAY, not_after=NOW + 90 * DAY)
    found = validity.check(derive(evidence(leaf.chain[:-1], anchors=[ca.cert])))
    assert [(f.code, f.severity) for f in found] == [(Code.NOT_YET_VALID, Severity.ERROR)]
    assert "clock" in found[0].fix


def test_expiring_soon_follows_warn_days_and_the_clock():
    ca = TestCA()
    leaf = ca.intermediate().issue_cert("www.example.test", not_after=NOW + 10 * DAY + dt.timedelta(hours=1))
    ev = evidence(leaf.chain[:-1], anchors=[ca.cert])
    assert codes(ev) == [(Code.EXPIRING_SOON, Severity.WARNING, 0)]
    assert codes(evidence(leaf.chain[:-1], anchors=[ca.cert], warn_days=5)) == []
    # the same stored evidence, judged two weeks later: expired
    assert codes(ev, NOW + 14 * DAY) == [(Code.EXPIRED, Severity.ERROR, 0)]
    assert Code.EXPIRED in {f.code for f in run(ev, NOW + 14 * DAY)}
