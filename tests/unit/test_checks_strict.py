"""checks.strict: STRICT_X509, the RFC 5280 rules of Python 3.13's VERIFY_X509_STRICT."""

from __future__ import annotations

from certdoctor.checks import strict
from certdoctor.checks.context import derive
from certdoctor.model import Code, Severity

from support.evidence import evidence
from support.pki import TestCA, issue, make_key, make_name


def leaf_without_aki():
    root = TestCA()
    inter = root.intermediate()
    key = make_key("ec")
    # support.pki.issue adds the AKI only when told the issuer's certificate
    leaf = issue(key, inter.key, make_name("www.example.test"), inter.name, ca=False, sans=("www.example.test",))
    return root, inter, leaf


def test_missing_aki_is_an_error_on_313_and_a_warning_before():
    root, inter, leaf = leaf_without_aki()
    (f,) = strict.check(derive(evidence([leaf, inter.cert], anchors=[root.cert], python="3.13")))
    assert (f.code, f.severity, f.cert_index) == (Code.STRICT_X509, Severity.ERROR, 0)
    assert f.summary == "Python 3.13 refuses the leaf: Missing Authority Key Identifier."
    (f,) = strict.check(derive(evidence([leaf, inter.cert], anchors=[root.cert], python="3.11")))
    assert f.severity is Severity.WARNING and "passes on this Python" in f.summary


def test_pip_is_exempt_and_a_clean_chain_passes():
    root, inter, leaf = leaf_without_aki()
    assert strict.check(derive(evidence([leaf, inter.cert], anchors=[root.cert], python="3.13", client="pip"))) == []
    good = inter.issue_cert("www.example.test")
    assert strict.check(derive(evidence([good.cert, inter.cert], anchors=[root.cert], python="3.13"))) == []


def test_a_single_certificate_is_exempt():
    key = make_key("ec")
    name = make_name("self.example.test")
    cert = issue(key, key, name, name, ca=False, sans=("self.example.test",))
    ctx = derive(evidence([cert], host="self.example.test"))
    assert strict.strict_violations(ctx.path.path, [cert]) == []  # it has no AKI, but stands alone
    assert strict.check(ctx) == []
