"""The Evidence value: frozen, slotted, tuples, picklable, and what TrustEvidence keeps of a store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import pytest

from certdoctor import evidence as evidence_module
from certdoctor.checks import run
from certdoctor.diagnose import Diagnosis, judge
from certdoctor.evidence import Evidence, Options, RevocationEvidence, RevocationFetch, TrustEvidence
from certdoctor.model import Code, Finding, Severity

from support.evidence import canary, client_failed, downloaded, evidence, trust
from support.pki import NOW, TestCA, der

TYPES = [Evidence, TrustEvidence, RevocationEvidence, RevocationFetch, evidence_module.CanaryProbe, Options,
         evidence_module.AIAAttempt]


@pytest.fixture(scope="module")
def rich():
    """Evidence with every part filled: AIA, revocation answers, a canary, the client's error."""
    root = TestCA("Evidence Root")
    inter = root.intermediate("Evidence Intermediate")
    leaf = inter.issue_cert("www.example.test", not_after=NOW + dt.timedelta(days=5))
    rev = RevocationEvidence(der(leaf.cert), der(inter.cert), "all", None, ("http://crl.example.test/ca.crl",), (),
                             (RevocationFetch("crl", "http://crl.example.test/ca.crl", None, NOW, False, "fetch",
                                              "fetching … failed: refused", None, (), 0.2),))
    env = Finding(Code.CA_BUNDLE_ENV, Severity.INFO, "REQUESTS_CA_BUNDLE is set")
    return evidence([leaf.cert], anchors=[root.cert, TestCA("Unrelated").cert], aia=[downloaded(inter.cert)],
                    revocation=rev, proxy="http://proxy.example.test:3128", pins=("sha256/" + "A" * 43 + "=",),
                    canaries=[canary("pypi.org", [leaf.cert]), canary("www.python.org", error="timed out")],
                    outcome=client_failed(), description=trust(findings=[env]))


@pytest.mark.parametrize("kind", TYPES, ids=lambda t: t.__name__)
def test_every_type_is_a_frozen_slotted_dataclass(kind):
    assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen
    assert "__slots__" in kind.__dict__ and "__dict__" not in dir(kind)


def test_sequences_are_tuples_and_nothing_can_be_changed(rich):
    def walk(value):
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                item = getattr(value, f.name)
                assert not isinstance(item, (list, dict, set)), f"{type(value).__name__}.{f.name}"
                walk(item)
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(rich)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rich.client = "httpx"  # type: ignore[misc]


def test_pickle_round_trip_keeps_every_byte_and_the_verdict(rich):
    back = pickle.loads(pickle.dumps(rich))
    assert back == rich and back is not rich
    assert back.aia[0].der == rich.aia[0].der and back.probe.chain_der == rich.probe.chain_der
    assert back.trust.anchors_der == rich.trust.anchors_der
    assert run(back) == run(rich)
    assert {f.code for f in run(back)} >= {Code.CA_BUNDLE_ENV, Code.CHAIN_INCOMPLETE, Code.EXPIRING_SOON,
                                           Code.PIN_MISMATCH, Code.REVOCATION_UNKNOWN}


def test_trust_evidence_keeps_the_anchors_that_matter():
    root = TestCA("Kept Root")
    inter = root.intermediate("Kept Intermediate")
    leaf = inter.issue_cert("www.example.test")
    others = [TestCA(f"Other {i}").cert for i in range(5)]
    store = others[:2] + [root.cert] + others[2:]
    t = TrustEvidence.of(trust(), store, [leaf.cert, inter.cert])
    assert t.anchors_der == (der(root.cert),) and t.store_size == 6
    assert [a.subject for a in t.anchors()] == [root.cert.subject]
    # the leaf's own issuer counts, and an anchor equal to a presented certificate does too
    assert der(inter.cert) in TrustEvidence.of(trust(), others + [inter.cert], [leaf.cert]).anchors_der
    assert TrustEvidence.of(trust(), [leaf.cert], [leaf.cert]).anchors_der == (der(leaf.cert),)
    # nothing matters: one witness that the store was not empty; an empty store stays empty
    w = TrustEvidence.of(trust(), others, [leaf.cert])
    assert w.anchors_der == (der(others[0]),) and w.store_size == 5
    assert TrustEvidence.of(trust(), [], [leaf.cert]).anchors_der == ()
    # the digest names the store: same store, same digest; another store, another digest
    assert TrustEvidence.of(trust(), store, []).store_digest == t.store_digest
    assert TrustEvidence.of(trust(), store[:-1], []).store_digest != t.store_digest


def test_judge_gives_a_diagnosis_that_carries_its_evidence(rich):
    d = judge(rich)
    assert isinstance(d, Diagnosis) and d.evidence is rich
    assert d.trust is rich.trust.description and d.probe is rich.probe and d.outcome is rich.outcome
    assert [f.code for f in d.findings] == [f.code for f in run(rich)]
    assert d.verifies is False and d.exit_code == 1 and d.now == rich.now
    # suggested commands carry the URL of the evidence
    incomplete = next(f for f in d.findings if f.code is Code.CHAIN_INCOMPLETE)
    assert "`certdoctor fix https://www.example.test/ --proxy http://proxy.example.test:3128 --out DIR`" in \
        incomplete.fix
    later = judge(rich, NOW + dt.timedelta(days=30))
    assert later.now == NOW + dt.timedelta(days=30)
    assert Code.EXPIRED in {f.code for f in later.findings} and Code.EXPIRING_SOON not in {f.code for f in later.findings}
