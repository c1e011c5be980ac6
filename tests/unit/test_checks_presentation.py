"""checks.presentation: CHAIN_ORDER and CHAIN_EXTRA_CERT, about the chain as the server sends it."""

from __future__ import annotations

from certdoctor.checks import presentation
from certdoctor.checks.context import derive
from certdoctor.model import Code, Severity

from support.evidence import evidence
from support.pki import TestCA


def test_leaf_first_then_each_issuer_is_clean():
    root = TestCA()
    leaf = root.intermediate().issue_cert("www.example.test")
    assert presentation.check(derive(evidence(leaf.chain, anchors=[root.cert]))) == []


def test_wrong_order():
    root = TestCA()
    inter = root.intermediate()
    leaf = inter.issue_cert("www.example.test")
    (f,) = presentation.check(derive(evidence([leaf.cert, root.cert, inter.cert], anchors=[root.cert])))
    assert f.code is Code.CHAIN_ORDER and f.severity is Severity.WARNING
    assert "right order: www.example.test, Test Intermediate, Test Root" in f.evidence[1]
    assert "--order" in f.fix


def test_a_certificate_off_the_path_is_extra():
    root = TestCA()
    inter = root.intermediate()
    leaf = inter.issue_cert("www.example.test")
    stranger = TestCA("Stranger CA").cert
    (f,) = presentation.check(derive(evidence([leaf.cert, inter.cert, stranger], anchors=[root.cert])))
    assert f.code is Code.CHAIN_EXTRA_CERT and f.severity is Severity.WARNING
    assert "1 certificate(s)" in f.summary and "#2 'Stranger CA'" in f.evidence[0]
