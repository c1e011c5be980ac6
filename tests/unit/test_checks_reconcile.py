"""checks.reconcile: CLOCK_SKEW and VERDICT_UNCONFIRMED, our verdict against the real client's."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from certdoctor.checks import judge, run
from certdoctor.model import Code, Severity

from support.evidence import client_failed, client_ok, evidence
from support.pki import NOW, TestCA


@pytest.fixture(scope="module")
def chains():
    root = TestCA()
    inter = root.intermediate()
    good = inter.issue_cert("www.example.test")
    expired = inter.issue_cert("www.example.test", not_before=NOW - dt.timedelta(days=30),
                               not_after=NOW - dt.timedelta(days=1))
    return root, good.chain[:-1], expired.chain[:-1]


def test_a_server_date_far_from_our_clock_is_clock_skew(chains):
    root, good, expired = chains
    ahead = client_ok(http_date=NOW - dt.timedelta(hours=3))
    (f,) = [f for f in run(evidence(good, anchors=[root.cert], outcome=ahead)) if f.code is Code.CLOCK_SKEW]
    assert f.severity is Severity.WARNING and "ahead of" in f.summary  # nothing else fails: a warning
    behind = replace(client_failed("certificate has expired"), http_date=NOW + dt.timedelta(hours=2))
    ev = evidence(expired, anchors=[root.cert], outcome=behind)
    skew = [f for f in run(ev) if f.code is Code.CLOCK_SKEW]
    assert skew and skew[0].severity is Severity.ERROR and "behind" in skew[0].summary
    assert not [f for f in run(evidence(good, anchors=[root.cert], outcome=client_ok())) if f.code is Code.CLOCK_SKEW]


def test_the_client_connected_although_we_predicted_a_failure(chains):
    root, good, expired = chains
    found = run(evidence(expired, anchors=[root.cert], outcome=client_ok()))
    (f,) = [f for f in found if f.code is Code.VERDICT_UNCONFIRMED]
    assert f.severity is Severity.WARNING and "predicted: EXPIRED" in f.evidence
    assert judge(evidence(expired, anchors=[root.cert], outcome=client_ok())).verifies is True
    # the caller pinned the clock (or we judge at another time): the client ran on the real one
    assert not [f for f in run(evidence(expired, anchors=[root.cert], outcome=client_ok(), clock_pinned=True))
                if f.code is Code.VERDICT_UNCONFIRMED]
    later = run(evidence(good, anchors=[root.cert], outcome=client_ok()), NOW + dt.timedelta(days=400))
    assert Code.EXPIRED in {f.code for f in later} and Code.VERDICT_UNCONFIRMED not in {f.code for f in later}


def test_the_client_fails_and_nothing_explains_it(chains):
    root, good, _ = chains
    found = run(evidence(good, anchors=[root.cert], outcome=client_failed("something odd")))
    (f,) = [f for f in found if f.code is Code.VERDICT_UNCONFIRMED]
    assert f.severity is Severity.ERROR and "something odd" in f.evidence[0]


def test_the_clients_words_join_the_first_certificate_error(chains):
    root, _, expired = chains
    found = run(evidence(expired, anchors=[root.cert], outcome=client_failed("certificate has expired")))
    (f,) = [f for f in found if f.code is Code.EXPIRED]
    assert f.evidence[-1].startswith("requests says: ") and "certificate has expired" in f.evidence[-1]
