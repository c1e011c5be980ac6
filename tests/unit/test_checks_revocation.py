"""Judging revocation answers from their bytes alone (checks.revocation.judge): no socket.

The answers are built in-process (CRLs and OCSP responses signed by the test PKI) and handed to
the judge as the gathering would store them (RevocationEvidence / RevocationFetch). What the
gathering does on the wire (GET/POST, the cache, the budget) is tested against real servers in
tests/integration/test_revocation.py.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certdoctor.checks.revocation import Problem, RevocationStatus, judge, judge_crl, judge_ocsp
from certdoctor.evidence import RevocationEvidence, RevocationFetch
from certdoctor.model import Code, Severity

from support.pki import NOW, TestCA, der

CRL_URL = "http://crl.example.test/ca.crl"
OCSP_URL = "http://ocsp.example.test"


@pytest.fixture(scope="module")
def pki():
    root = TestCA("Revocation Root")
    inter = root.intermediate("Revocation Intermediate")
    good = inter.issue_cert("good.example.test")
    revoked = inter.issue_cert("revoked.example.test")
    return inter, good.cert, revoked.cert


def crl(inter, *revoked, next_update=NOW + dt.timedelta(days=1), key=None) -> bytes:
    b = (x509.CertificateRevocationListBuilder().issuer_name(inter.cert.subject)
         .last_update(NOW - dt.timedelta(hours=1)).next_update(next_update))
    for cert in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(NOW - dt.timedelta(minutes=30))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False).build())
    return b.sign(key or inter.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_answer(inter, cert, status=ocsp.OCSPCertStatus.GOOD, nonce: bytes | None = None) -> bytes:
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=cert, issuer=inter.cert, algorithm=hashes.SHA1(), cert_status=status,
        this_update=NOW - dt.timedelta(minutes=5), next_update=NOW + dt.timedelta(hours=12),
        revocation_time=NOW - dt.timedelta(hours=1) if status is ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=x509.ReasonFlags.key_compromise if status is ocsp.OCSPCertStatus.REVOKED else None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, inter.cert)
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.sign(inter.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def evidence(inter, cert, *fetches, method="all", stapled=None, crl_urls=(CRL_URL,), ocsp_urls=(OCSP_URL,)):
    return RevocationEvidence(der(cert), der(inter.cert), method, stapled, tuple(crl_urls), tuple(ocsp_urls),
                              tuple(fetches))


def test_a_crl_that_lists_the_serial_says_revoked(pki):
    inter, good, revoked = pki
    body = crl(inter, revoked)
    r = judge(evidence(inter, revoked, RevocationFetch("crl", CRL_URL, body, NOW)), NOW)
    assert r.status is RevocationStatus.REVOKED and r.method == "crl" and r.reason == "keyCompromise"
    f = r.finding()
    assert f.code is Code.REVOKED and f.severity is Severity.ERROR
    r = judge(evidence(inter, good, RevocationFetch("crl", CRL_URL, body, NOW)), NOW)
    assert r.status is RevocationStatus.GOOD and r.finding() is None
    assert any("not listed" in e for e in r.evidence)


def test_stored_answers_judged_later_go_stale(pki):
    """Judging again at another time is judging again: a CRL past its nextUpdate is not believed."""
    inter, good, _ = pki
    ev = evidence(inter, good, RevocationFetch("crl", CRL_URL, crl(inter), NOW), ocsp_urls=())
    assert judge(ev, NOW).status is RevocationStatus.GOOD
    later = judge(ev, NOW + dt.timedelta(days=3))
    assert later.status is RevocationStatus.ERROR and later.attempts[0].problem is Problem.STALE
    assert later.finding("soft").code is Code.REVOCATION_UNKNOWN and later.finding("soft").severity is Severity.WARNING
    assert later.finding("hard").severity is Severity.ERROR


def test_a_crl_signed_by_another_key_is_refused(pki):
    inter, good, _ = pki
    forged = crl(inter, key=TestCA("Forger").key)
    attempt = judge_crl(RevocationFetch("crl", CRL_URL, forged, NOW), good, inter.cert, NOW)
    assert attempt.status is RevocationStatus.ERROR and attempt.problem is Problem.SIGNATURE
    assert "refused" in attempt.evidence[0]


def test_ocsp_nonce_is_checked_against_the_one_sent(pki):
    inter, good, _ = pki
    sent = os.urandom(16)
    ok = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, ocsp_answer(inter, good, nonce=sent), NOW, nonce=sent,
                                    notes=("POST",)), good, inter.cert, NOW)
    assert ok.status is RevocationStatus.GOOD and "nonce echoed" in ok.evidence[0] and "(POST, " in ok.evidence[0]
    replay = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, ocsp_answer(inter, good, nonce=os.urandom(16)), NOW,
                                        nonce=sent, notes=("POST",)), good, inter.cert, NOW)
    assert replay.status is RevocationStatus.ERROR and replay.problem is Problem.NONCE
    # from the cache, the nonce was checked when the answer was fetched: not checked again
    cached = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, ocsp_answer(inter, good, nonce=os.urandom(16)), NOW,
                                        from_cache=True), good, inter.cert, NOW)
    assert cached.status is RevocationStatus.GOOD and cached.from_cache
    assert "the nonce was checked when it was fetched" in cached.evidence[0]


def test_ocsp_about_another_certificate_is_refused(pki):
    inter, good, revoked = pki
    a = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, ocsp_answer(inter, revoked), NOW, nonce=None),
                   good, inter.cert, NOW)
    assert a.problem is Problem.CERTID


def test_order_staple_then_crl_then_ocsp_first_verified_answer_decides(pki):
    inter, _, revoked = pki
    staple = ocsp_answer(inter, revoked, ocsp.OCSPCertStatus.REVOKED)
    r = judge(evidence(inter, revoked, stapled=staple), NOW)
    assert r.status is RevocationStatus.REVOKED and r.method == "stapled" and len(r.attempts) == 1
    # the CRL download failed, OCSP answered: both attempts are kept, OCSP decides
    fetches = (RevocationFetch("crl", CRL_URL, None, NOW, problem="fetch", error="fetching … failed: refused"),
               RevocationFetch("ocsp", OCSP_URL, ocsp_answer(inter, revoked, ocsp.OCSPCertStatus.REVOKED), NOW,
                               notes=("GET (100 base64 bytes)",)))
    r = judge(evidence(inter, revoked, *fetches), NOW)
    assert [a.method for a in r.attempts] == ["crl", "ocsp"] and r.method == "ocsp"
    assert r.attempts[0].problem is Problem.FETCH and r.status is RevocationStatus.REVOKED
    # method="crl" never looks at OCSP answers
    r = judge(evidence(inter, revoked, *fetches, method="crl"), NOW)
    assert [a.method for a in r.attempts] == ["crl"] and r.status is RevocationStatus.ERROR


def test_no_source_unsupported_scheme_and_budget_are_named(pki):
    inter, good, _ = pki
    r = judge(evidence(inter, good, crl_urls=(), ocsp_urls=()), NOW)
    assert r.status is RevocationStatus.UNKNOWN and {a.problem for a in r.attempts} == {Problem.NO_SOURCE}
    assert "names no CRL or OCSP URL" in r.finding().fix
    ldap = RevocationFetch("crl", "ldap://x/ca", None, NOW, problem="unsupported-scheme", error="ldap://x/ca: only http(s)")
    late = RevocationFetch("ocsp", OCSP_URL, None, NOW, problem="budget", error=f"{OCSP_URL}: not tried")
    r = judge(evidence(inter, good, ldap, late, crl_urls=("ldap://x/ca",)), NOW)
    assert [(a.status, a.problem) for a in r.attempts] == [(RevocationStatus.UNKNOWN, Problem.UNSUPPORTED_SCHEME),
                                                          (RevocationStatus.ERROR, Problem.BUDGET)]
    assert r.finding().who.value == "network-admin"


def test_an_issuer_that_did_not_issue_is_refused_before_any_answer(pki):
    inter, good, _ = pki
    other = TestCA("Not The Issuer")
    ev = RevocationEvidence(der(good), der(other.cert), "all", None, (CRL_URL,), (),
                            (RevocationFetch("crl", CRL_URL, crl(inter), NOW),))
    r = judge(ev, NOW)
    assert [a.problem for a in r.attempts] == [Problem.ISSUER] and r.status is RevocationStatus.ERROR


def test_garbage_bytes_are_a_parse_refusal_never_an_exception(pki):
    inter, good, _ = pki
    ev = evidence(inter, good, RevocationFetch("crl", CRL_URL, b"<html>", NOW),
                  RevocationFetch("ocsp", OCSP_URL, b"\x30\x00", NOW, nonce=b"n" * 16, notes=("POST",)),
                  stapled=b"not ocsp")
    r = judge(ev, NOW)
    assert [a.problem for a in r.attempts] == [Problem.PARSE, Problem.PARSE, Problem.PARSE]
    assert r.status is RevocationStatus.ERROR


# --------------------------------------------------------------------------- the diagnosis check

def _diagnosis_evidence(inter, leaf_issued, rev, **kw):
    from support.evidence import evidence as make

    root_cert = inter.parent.cert
    return make(leaf_issued.chain[:-1], anchors=[root_cert], revocation=rev, **kw)


def test_the_check_reports_revoked_from_the_gathered_crl():
    from certdoctor.checks import revocation as check_module
    from certdoctor.checks import run
    from certdoctor.checks.context import derive

    root = TestCA("Diag Revocation Root")
    inter = root.intermediate("Diag Revocation Intermediate")
    leaf = inter.issue_cert("www.example.test")
    rev = evidence(inter, leaf.cert, RevocationFetch("crl", CRL_URL, crl(inter, leaf.cert), NOW))
    ev = _diagnosis_evidence(inter, leaf, rev)
    (f,) = check_module.check(derive(ev))
    assert f.code is Code.REVOKED and f.severity is Severity.ERROR and f.cert_index == 0
    assert "keyCompromise" in f.summary and "per its CRL" in f.summary
    assert Code.REVOKED in {x.code for x in run(ev)}
    # revocation=False: the answers are not looked at
    assert Code.REVOKED not in {x.code for x in run(_diagnosis_evidence(inter, leaf, rev, revocation_checked=False))}


def test_the_check_says_unknown_when_gathering_failed_or_the_evidence_is_odd():
    from certdoctor.checks import revocation as check_module
    from certdoctor.checks.context import derive

    root = TestCA("Odd Revocation Root")
    inter = root.intermediate("Odd Revocation Intermediate")
    leaf = inter.issue_cert("www.example.test")
    failed = RevocationEvidence(der(leaf.cert), der(inter.cert), error="the revocation step could not run")
    (f,) = check_module.check(derive(_diagnosis_evidence(inter, leaf, failed)))
    assert (f.code, f.severity) == (Code.REVOCATION_UNKNOWN, Severity.WARNING)
    assert "could not run" in f.explanation and "certdoctor revocation URL" in f.fix
    junk = RevocationEvidence(b"not a certificate", b"neither", crl_urls=(CRL_URL,))
    (f,) = check_module.check(derive(_diagnosis_evidence(inter, leaf, junk)))
    assert f.code is Code.REVOCATION_UNKNOWN
    # soft-fail: an unreachable CRL is a warning in a diagnosis
    down = evidence(inter, leaf.cert, RevocationFetch("crl", CRL_URL, None, NOW, problem="fetch", error="refused"),
                    ocsp_urls=())
    (f,) = check_module.check(derive(_diagnosis_evidence(inter, leaf, down)))
    assert (f.code, f.severity) == (Code.REVOCATION_UNKNOWN, Severity.WARNING)
    assert check_module.check(derive(_diagnosis_evidence(inter, leaf, None))) == []
