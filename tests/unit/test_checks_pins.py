"""checks.pins: PIN_MISMATCH when no certificate of the path carries a pinned key."""

from __future__ import annotations

from certdoctor.checks import pins, run
from certdoctor.checks.context import derive
from certdoctor.model import Code, spki_pin

from support.evidence import evidence
from support.pki import TestCA


def test_a_pinned_intermediate_or_leaf_matches_and_another_key_does_not():
    root = TestCA()
    inter = root.intermediate()
    leaf = inter.issue_cert("www.example.test")
    chain = [leaf.cert, inter.cert]
    for pinned in (leaf.cert, inter.cert):
        assert pins.check(derive(evidence(chain, anchors=[root.cert], pins=["sha256/" + spki_pin(pinned)]))) == []
    other = "sha256/" + spki_pin(TestCA("Other").cert)
    (f,) = pins.check(derive(evidence(chain, anchors=[root.cert], pins=[other])))
    assert f.code is Code.PIN_MISMATCH and f"expected: {other}" in f.evidence
    assert any(e.startswith("presented: sha256/") for e in f.evidence)
    assert pins.check(derive(evidence(chain, anchors=[root.cert]))) == []  # no pins, no check
    assert Code.PIN_MISMATCH in {f.code for f in run(evidence(chain, anchors=[root.cert], pins=["not-canonical"]))}
