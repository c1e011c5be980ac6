"""checks.run / checks.judge: every finding code from evidence alone, and never an exception on odd evidence."""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certdoctor.checks import ORDER, judge, run
from certdoctor.checks.context import derive
from certdoctor.evidence import RevocationEvidence, RevocationFetch, TrustEvidence
from certdoctor.lab.pki import resign_sha1
from certdoctor.model import Code, Finding, Severity, spki_pin

from support.evidence import canary, client_failed, client_ok, downloaded, evidence, trust
from support.removed import under_removed_root
from support.pki import NOW, TestCA, der, issue, make_key, make_name

DAY = dt.timedelta(days=1)
ROOT = TestCA("Run Root")
INTER = ROOT.intermediate("Run Intermediate")
GOOD = INTER.issue_cert("www.example.test")


def _chain(issued):
    return list(issued.chain[:-1])


def _sha1():
    root = TestCA("Run RSA Root", kind="rsa")
    inter = root.intermediate("Run RSA Intermediate")
    return evidence([resign_sha1(inter.issue_cert("www.example.test").cert, inter.key), inter.cert], anchors=[root.cert])


def _self_signed():
    key = make_key("ec")
    name = make_name("www.example.test")
    return evidence([issue(key, key, name, name, ca=False, sans=("www.example.test",))], anchors=[ROOT.cert])


def _no_aki():
    key = make_key("ec")
    leaf = issue(key, INTER.key, make_name("www.example.test"), INTER.name, ca=False, sans=("www.example.test",))
    return evidence([leaf, INTER.cert], anchors=[ROOT.cert], python="3.13")


def _canary():
    corp = TestCA("Corp Run Root").intermediate("Corp Run CA")
    return evidence(_chain(corp.issue_cert("www.example.test")), anchors=[ROOT.cert], proxy="http://proxy.test:3128",
                    canaries=[canary("pypi.org", [corp.issue_cert("pypi.org").cert])])


def _revoked():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    body = (x509.CertificateRevocationListBuilder().issuer_name(INTER.cert.subject)
            .last_update(NOW - DAY).next_update(NOW + DAY)
            .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(GOOD.cert.serial_number)
                                     .revocation_date(NOW - DAY).build())
            .sign(INTER.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    rev = RevocationEvidence(der(GOOD.cert), der(INTER.cert), crl_urls=("http://crl.test/ca.crl",),
                             fetches=(RevocationFetch("crl", "http://crl.test/ca.crl", body, NOW),))
    return evidence(_chain(GOOD), anchors=[ROOT.cert], revocation=rev)


#: every code a check module can emit, with evidence that makes run() emit it
CATALOGUE = {
    Code.EXPIRED: lambda: evidence(_chain(INTER.issue_cert("www.example.test", not_before=NOW - 9 * DAY,
                                                          not_after=NOW - DAY)), anchors=[ROOT.cert]),
    Code.NOT_YET_VALID: lambda: evidence(_chain(INTER.issue_cert("www.example.test", not_before=NOW + DAY)),
                                         anchors=[ROOT.cert]),
    Code.EXPIRING_SOON: lambda: evidence(_chain(INTER.issue_cert("www.example.test", not_after=NOW + 3 * DAY)),
                                         anchors=[ROOT.cert]),
    Code.HOSTNAME_MISMATCH: lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], host="other.example.test"),
    Code.NO_SAN: lambda: evidence(_chain(INTER.issue_cert(cn="www.example.test")), anchors=[ROOT.cert]),
    Code.WEAK_SIGNATURE: _sha1,
    Code.WEAK_KEY: lambda: evidence(_chain(INTER.issue_cert(
        "www.example.test", key=rsa.generate_private_key(public_exponent=65537, key_size=1024))), anchors=[ROOT.cert]),
    Code.WRONG_EKU: lambda: evidence(_chain(INTER.issue_cert("www.example.test", eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))),
                                     anchors=[ROOT.cert]),
    Code.CHAIN_ORDER: lambda: evidence([GOOD.cert, ROOT.cert, INTER.cert], anchors=[ROOT.cert]),
    Code.CHAIN_EXTRA_CERT: lambda: evidence(_chain(GOOD) + [TestCA("Extra").cert], anchors=[ROOT.cert]),
    Code.CHAIN_INCOMPLETE: lambda: evidence([GOOD.cert], anchors=[ROOT.cert], aia=[downloaded(INTER.cert)]),
    Code.UNTRUSTED_ROOT: lambda: evidence(list(GOOD.chain), anchors=[TestCA("Elsewhere").cert]),
    Code.SELF_SIGNED: _self_signed,
    Code.INTERCEPTING_PROXY: _canary,
    Code.CERTIFI_OUTDATED: lambda: evidence(list(under_removed_root()), anchors=[ROOT.cert]),
    Code.STRICT_X509: _no_aki,
    Code.PIN_MISMATCH: lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], pins=["sha256/" + spki_pin(TestCA("Pin").cert)]),
    Code.REVOKED: _revoked,
    Code.REVOCATION_UNKNOWN: lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], revocation=RevocationEvidence(
        der(GOOD.cert), der(INTER.cert), error="could not run")),
    Code.CLOCK_SKEW: lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], outcome=client_ok(http_date=NOW - DAY)),
    Code.VERDICT_UNCONFIRMED: lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], outcome=client_failed("odd")),
}


@pytest.mark.parametrize("code", list(CATALOGUE), ids=lambda c: c.value)
def test_every_code_comes_from_evidence_alone(code):
    ev = CATALOGUE[code]()
    assert code in {f.code for f in run(ev)}, [f.code.value for f in run(ev)]


def test_healthy_evidence_has_no_finding():
    ev = evidence(_chain(GOOD), anchors=[ROOT.cert], outcome=client_ok())
    j = judge(ev)
    assert j.findings == () and j.verifies is True and j.path.trusted and j.chain.in_order


def test_a_failed_probe_is_its_own_finding():
    refused = Finding(Code.CONNECTION_REFUSED, Severity.ERROR, "www.example.test:443 refused the connection")
    j = judge(evidence(failure=refused))
    assert j.findings == (refused,) and j.verifies is False and j.chain is None and j.path is None
    # a failure after the chain was received (TLS version) still judges the chain
    j = judge(evidence(_chain(GOOD), anchors=[ROOT.cert], failure=refused))
    assert j.findings[0] is refused and j.path is not None


def test_the_stores_own_findings_come_first():
    env = Finding(Code.CA_BUNDLE_ENV, Severity.INFO, "REQUESTS_CA_BUNDLE replaces certifi")
    ev = evidence(_chain(GOOD), anchors=[ROOT.cert], description=trust(findings=[env]))
    assert run(ev)[0] == env


ODD = {
    "empty chain": lambda: evidence(),
    "unparsable leaf": lambda: evidence(chain_der=[b"\x30\x82\x00\x10garbage"]),
    "unparsable intermediate": lambda: evidence(chain_der=[der(GOOD.cert), b"not DER at all"]),
    "empty bytes": lambda: evidence(chain_der=[b""]),
    "junk anchors and AIA": lambda: replace(
        evidence([GOOD.cert], aia=[replace(downloaded(INTER.cert), der=(b"junk",))]),
        trust=TrustEvidence(trust(), (b"junk", b""), 2, "00")),
    "junk canary": lambda: evidence(list(TestCA("Corp").issue_cert("www.example.test").chain), anchors=[ROOT.cert],
                                    proxy="http://p.test:1", canaries=[replace(canary("pypi.org"), chain_der=(b"x",))]),
    "junk revocation": lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], revocation=RevocationEvidence(
        b"x", b"y", stapled=b"z", crl_urls=("u",), fetches=(RevocationFetch("crl", "u", b"junk", None),))),
    "odd outcome": lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], outcome=replace(client_ok(), ok=False, error=None,
                                                                                       http_date=None)),
    "odd pins": lambda: evidence(_chain(GOOD), anchors=[ROOT.cert], pins=["", "/", "sha256/"]),
}


@pytest.mark.parametrize("name", list(ODD))
def test_odd_evidence_never_raises(name):
    ev = ODD[name]()
    found = run(ev)
    assert all(isinstance(f, Finding) for f in found)
    ctx = derive(ev)
    for module in ORDER + ("reconcile",):
        mod = importlib.import_module(f"certdoctor.checks.{module}")
        if hasattr(mod, "check"):
            assert isinstance(mod.check(ctx), list)
    if name.startswith("unparsable") or name == "empty bytes":
        (f,) = [f for f in found if f.code is Code.INVALID_CERT]
        assert f.severity is Severity.ERROR and f.cert_index == (1 if "intermediate" in name else 0)
        assert ctx.chain is None and ctx.path is None
