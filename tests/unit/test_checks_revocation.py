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


def crl(inter, *revoked, next_update=NOW + dt.timedelta(days=1), key=None,
        last_update=NOW - dt.timedelta(hours=1)) -> bytes:
    b = (x509.CertificateRevocationListBuilder().issuer_name(inter.cert.subject)
         .last_update(last_update).next_update(next_update))
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


# --------------------------------------------------------------------------- freshness (issue 10 item 4)
#
# Every answer here is genuinely signed by the test CA (or its delegated responder) with
# cryptography's builders; only its times, nonce and status vary. What the real `openssl ocsp`
# produces is judged in tests/integration/test_revocation_freshness.py.

from certdoctor import policy  # noqa: E402
from certdoctor.checks.revocation import crl_freshness, ocsp_freshness  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

G, R = ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED
ABSENT = object()


def ocsp_at(inter, cert, *, this_update, next_update=ABSENT, status=G, nonce=None, reason=x509.ReasonFlags.key_compromise,
            responder=None) -> bytes:
    """An OCSP response for ``cert`` with exactly these times (``next_update=None``: no nextUpdate)."""
    nu = NOW + dt.timedelta(hours=12) if next_update is ABSENT else next_update
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=cert, issuer=inter.cert, algorithm=hashes.SHA1(), cert_status=status,
        this_update=this_update, next_update=nu,
        revocation_time=this_update - dt.timedelta(hours=1) if status is R else None,
        revocation_reason=reason if status is R else None,
    ).responder_id(ocsp.OCSPResponderEncoding.NAME if responder else ocsp.OCSPResponderEncoding.HASH,
                   responder.cert if responder else inter.cert)
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.sign(responder.key if responder else inter.key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)


def _tlvs(body: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(body):
        start, n = i, body[i + 1]
        i += 2
        if n & 0x80:
            width = n & 0x7F
            n = int.from_bytes(body[i:i + width], "big")
            i += width
        i += n
        out.append(body[start:i])
    return out


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _seq(items) -> bytes:
    body = b"".join(items)
    return b"\x30" + _der_len(len(body)) + body


def crl_without_next_update(ca, *revoked, this_update) -> bytes:
    """A CRL with no nextUpdate (cryptography's builder refuses to make one): the nextUpdate of
    a built CRL is cut out of its TBSCertList, which is signed again with the CA's (EC) key."""
    built = x509.load_der_x509_crl(crl(ca, *revoked))  # its thisUpdate and nextUpdate are replaced
    tbs = built.tbs_certlist_bytes
    head = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)
    items = _tlvs(tbs[head:])  # version, signature, issuer, thisUpdate, nextUpdate, revoked..., [0] exts
    this = b"\x17\x0d" + this_update.strftime("%y%m%d%H%M%SZ").encode()
    new_tbs = _seq([items[0], items[1], items[2], this] + items[5:])
    sig = ca.key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    out = _seq([new_tbs, items[1], b"\x03" + _der_len(len(sig) + 1) + b"\x00" + sig])
    parsed = x509.load_der_x509_crl(out)
    assert parsed.next_update_utc is None and parsed.is_signature_valid(ca.cert.public_key())
    return out


def _fresh_crl(inter, *revoked) -> RevocationFetch:
    return RevocationFetch("crl", CRL_URL, crl(inter, *revoked), NOW)


def _codes(result) -> list[Code]:
    return [f.code for f in result.findings()]


def test_stale_stapled_good_without_next_update_loses_to_the_current_crls_revoked(pki):
    """The issue's case: a genuine GOOD, thisUpdate 400 days ago, no nextUpdate, stapled; the CA's
    current CRL says REVOKED. Main said GOOD (exit 0)."""
    inter, _, revoked = pki
    staple = ocsp_at(inter, revoked, this_update=NOW - dt.timedelta(days=400), next_update=None)
    r = judge(evidence(inter, revoked, _fresh_crl(inter, revoked), stapled=staple), NOW)
    assert r.status is RevocationStatus.REVOKED and r.method == "crl" and r.reason == "keyCompromise"
    assert [(a.method, a.status, a.problem) for a in r.attempts] == [
        ("stapled", RevocationStatus.ERROR, Problem.STALE), ("crl", RevocationStatus.REVOKED, None)]
    assert "400 days old" in r.attempts[0].error and "no nextUpdate" in r.attempts[0].error
    assert _codes(r) == [Code.REVOKED, Code.REVOCATION_STALE]
    stale = r.findings()[1]
    assert stale.severity is Severity.WARNING and stale.who.value == "server-operator"
    assert "stapled OCSP response" in stale.summary and "REVOKED per its CRL" in stale.summary
    assert "ssl_stapling" in stale.fix and any("thisUpdate" in e for e in stale.evidence)


def test_a_fresh_good_staple_never_hides_a_revoked_from_the_crl(pki):
    inter, _, revoked = pki
    staple = ocsp_at(inter, revoked, this_update=NOW - dt.timedelta(minutes=5))
    r = judge(evidence(inter, revoked, _fresh_crl(inter, revoked), stapled=staple), NOW)
    assert r.status is RevocationStatus.REVOKED and r.method == "crl"
    assert [a.status for a in r.attempts] == [RevocationStatus.GOOD, RevocationStatus.REVOKED]
    assert _codes(r) == [Code.REVOKED]


def test_a_current_good_crl_never_hides_a_revoked_from_ocsp(pki):
    inter, good, _ = pki
    sent = os.urandom(16)
    answer = RevocationFetch("ocsp", OCSP_URL, ocsp_at(inter, good, this_update=NOW, status=R, nonce=sent), NOW,
                             nonce=sent, notes=("POST",))
    r = judge(evidence(inter, good, _fresh_crl(inter), answer), NOW)
    assert r.status is RevocationStatus.REVOKED and r.method == "ocsp"
    assert [a.status for a in r.attempts] == [RevocationStatus.GOOD, RevocationStatus.REVOKED]


def test_revoked_staple_wins_over_a_good_crl(pki):
    inter, good, _ = pki
    staple = ocsp_at(inter, good, this_update=NOW - dt.timedelta(minutes=5), status=R)
    r = judge(evidence(inter, good, _fresh_crl(inter), stapled=staple), NOW)
    assert r.status is RevocationStatus.REVOKED and r.method == "stapled"
    assert [a.method for a in r.attempts] == ["stapled"]  # a verified REVOKED settles it
    # even when the GOOD CRL is in the evidence and judged first by hand: REVOKED beats GOOD
    from certdoctor.checks.revocation import judge_stapled, result_of

    both = [judge_crl(_fresh_crl(inter), good, inter.cert, NOW), judge_stapled(staple, good, inter.cert, NOW)]
    assert result_of(good, inter.cert, both, "soft").status is RevocationStatus.REVOKED


def test_an_unverified_revoked_never_wins(pki):
    inter, good, _ = pki
    # the intermediate's name, another key: the response names the issuer, its signature does not verify
    forged = ocsp_at(inter, good, this_update=NOW, status=R, responder=TestCA(inter.cert.subject))
    r = judge(evidence(inter, good, _fresh_crl(inter), stapled=forged), NOW)
    assert r.status is RevocationStatus.GOOD and r.method == "crl"
    assert r.attempts[0].problem is Problem.SIGNATURE


def test_a_900_day_old_good_replayed_over_http_without_the_nonce_is_stale(pki):
    """The issue's second case: the request sent a nonce, the answer (replayed) echoes none."""
    inter, good, _ = pki
    sent = os.urandom(16)
    for next_update in (None, NOW + dt.timedelta(days=365)):  # no nextUpdate, or a far one
        old = ocsp_at(inter, good, this_update=NOW - dt.timedelta(days=900), next_update=next_update)
        a = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, old, NOW, nonce=sent, notes=("GET (80 base64 bytes)",)),
                       good, inter.cert, NOW)
        assert (a.status, a.problem) == (RevocationStatus.ERROR, Problem.STALE), a.error
        assert "900 days old" in a.error
        r = judge(evidence(inter, good, RevocationFetch("ocsp", OCSP_URL, old, NOW, nonce=sent), crl_urls=()), NOW)
        assert r.status is RevocationStatus.ERROR and not r.ok
        assert _codes(r) == [Code.REVOCATION_UNKNOWN, Code.REVOCATION_STALE]


def test_no_nonce_lifetime_cap_and_what_an_echoed_nonce_changes(pki):
    """Not made for this request (no nonce echoed): believed at most OCSP_MAX_LIFETIME_DAYS after
    thisUpdate whatever its nextUpdate; with our nonce echoed, its own nextUpdate is believed."""
    inter, good, _ = pki
    sent = os.urandom(16)
    cap = dt.timedelta(days=policy.OCSP_MAX_LIFETIME_DAYS)
    far = NOW + dt.timedelta(days=30)
    inside = ocsp_at(inter, good, this_update=NOW - cap + dt.timedelta(hours=1), next_update=far)
    outside = ocsp_at(inter, good, this_update=NOW - cap - dt.timedelta(hours=1), next_update=far)
    echoed = ocsp_at(inter, good, this_update=NOW - cap - dt.timedelta(hours=1), next_update=far, nonce=sent)

    def status(body, nonce=None, from_cache=False):
        a = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, body, NOW, nonce=nonce, from_cache=from_cache,
                                       notes=("POST",)), good, inter.cert, NOW)
        return a.status, a.problem

    assert status(inside, sent) == (RevocationStatus.GOOD, None)
    assert status(outside, sent) == (RevocationStatus.ERROR, Problem.STALE)
    assert status(echoed, sent) == (RevocationStatus.GOOD, None)  # made for this request
    # read back from the cache, the same answer is no longer "made for this request"
    assert status(echoed, from_cache=True) == (RevocationStatus.ERROR, Problem.STALE)
    # and a staple never is
    r = judge(evidence(inter, good, stapled=echoed, crl_urls=(), ocsp_urls=()), NOW)
    assert r.attempts[0].problem is Problem.STALE


def test_ocsp_without_next_update_is_believed_within_the_max_age_only(pki):
    inter, good, _ = pki
    sent = os.urandom(16)
    age = dt.timedelta(days=policy.OCSP_MAX_AGE_DAYS)
    for this_update, want in ((NOW - dt.timedelta(hours=2), RevocationStatus.GOOD),
                              (NOW - age + dt.timedelta(minutes=1), RevocationStatus.GOOD),
                              (NOW - age - dt.timedelta(minutes=1), RevocationStatus.ERROR)):
        # with the nonce echoed too: without nextUpdate, the age bound always applies
        body = ocsp_at(inter, good, this_update=this_update, next_update=None, nonce=sent)
        a = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, body, NOW, nonce=sent, notes=("POST",)), good, inter.cert, NOW)
        assert a.status is want, (this_update, a.error)
        assert a.next_update is None
        assert (a.problem is Problem.STALE) is (want is RevocationStatus.ERROR)


def test_fresh_good_with_the_nonce_echoed_is_good(pki):
    inter, good, _ = pki
    sent = os.urandom(16)
    body = ocsp_at(inter, good, this_update=NOW, next_update=NOW + dt.timedelta(hours=1), nonce=sent)
    r = judge(evidence(inter, good, RevocationFetch("ocsp", OCSP_URL, body, NOW, nonce=sent, notes=("POST",)),
                       crl_urls=()), NOW)
    assert r.status is RevocationStatus.GOOD and r.method == "ocsp" and r.findings() == []
    assert any("nonce echoed" in e for e in r.evidence)


def test_this_update_in_the_future_beyond_the_skew_is_not_current(pki):
    inter, good, _ = pki
    skew = policy.REVOCATION_CLOCK_SKEW
    near = ocsp_at(inter, good, this_update=NOW + skew - dt.timedelta(seconds=30))
    ahead = ocsp_at(inter, good, this_update=NOW + skew + dt.timedelta(seconds=30))
    assert judge(evidence(inter, good, stapled=near, crl_urls=(), ocsp_urls=()), NOW).status is RevocationStatus.GOOD
    r = judge(evidence(inter, good, stapled=ahead, crl_urls=(), ocsp_urls=()), NOW)
    assert r.attempts[0].problem is Problem.NOT_YET_VALID and r.status is RevocationStatus.ERROR
    assert _codes(r) == [Code.REVOCATION_UNKNOWN, Code.REVOCATION_STALE]
    assert "clock" in r.findings()[1].fix


def test_a_revocation_is_never_undone_but_a_stale_hold_is_stale(pki):
    inter, _, revoked = pki
    long_ago = NOW - dt.timedelta(days=900)
    old_revoked = ocsp_at(inter, revoked, this_update=long_ago, next_update=long_ago + dt.timedelta(days=7), status=R)
    r = judge(evidence(inter, revoked, stapled=old_revoked, crl_urls=(), ocsp_urls=()), NOW)
    assert r.status is RevocationStatus.REVOKED and r.reason == "keyCompromise" and r.findings()[0].code is Code.REVOKED
    assert any("never undone" in e for e in r.evidence)
    hold = ocsp_at(inter, revoked, this_update=long_ago, next_update=long_ago + dt.timedelta(days=7), status=R,
                   reason=x509.ReasonFlags.certificate_hold)
    r = judge(evidence(inter, revoked, stapled=hold, crl_urls=(), ocsp_urls=()), NOW)
    assert r.status is RevocationStatus.ERROR and r.attempts[0].problem is Problem.STALE
    # a current hold is a revocation
    current_hold = ocsp_at(inter, revoked, this_update=NOW, status=R, reason=x509.ReasonFlags.certificate_hold)
    assert judge(evidence(inter, revoked, stapled=current_hold, crl_urls=(), ocsp_urls=()), NOW).status is \
        RevocationStatus.REVOKED
    # a CRL past its nextUpdate that lists the serial: revoked all the same
    stale_crl = RevocationFetch("crl", CRL_URL, crl(inter, revoked, next_update=NOW - dt.timedelta(days=2),
                                                    last_update=NOW - dt.timedelta(days=9)), NOW)
    r = judge(evidence(inter, revoked, stale_crl, ocsp_urls=()), NOW)
    assert r.status is RevocationStatus.REVOKED and r.method == "crl"
    # a REVOKED carrying another nonce than ours is still the CA's signed word
    wrong = ocsp_at(inter, revoked, this_update=NOW, status=R, nonce=os.urandom(16))
    a = judge_ocsp(RevocationFetch("ocsp", OCSP_URL, wrong, NOW, nonce=os.urandom(16), notes=("POST",)),
                   revoked, inter.cert, NOW)
    assert a.status is RevocationStatus.REVOKED and "never undone" in a.evidence[0]


def test_crl_past_next_update_is_stale_and_other_sources_decide(pki):
    inter, good, _ = pki
    stale_crl = RevocationFetch("crl", CRL_URL, crl(inter, next_update=NOW - dt.timedelta(minutes=1)), NOW)
    sent = os.urandom(16)
    fresh = RevocationFetch("ocsp", OCSP_URL, ocsp_at(inter, good, this_update=NOW, nonce=sent), NOW, nonce=sent,
                            notes=("POST",))
    r = judge(evidence(inter, good, stale_crl, fresh), NOW)
    assert [(a.method, a.problem) for a in r.attempts] == [("crl", Problem.STALE), ("ocsp", None)]
    assert r.status is RevocationStatus.GOOD and r.method == "ocsp"
    assert _codes(r) == [Code.REVOCATION_STALE]
    assert "GOOD comes from its OCSP responder" in r.findings()[0].summary and CRL_URL in r.findings()[0].summary


def test_crl_without_next_update_is_believed_within_the_max_age_ca_longer(pki):
    inter, good, _ = pki
    limit = policy.CRL_MAX_AGE_DAYS
    for days, want in ((limit - 1, RevocationStatus.GOOD), (limit + 1, RevocationStatus.ERROR)):
        body = crl_without_next_update(inter, this_update=NOW - dt.timedelta(days=days))
        a = judge_crl(RevocationFetch("crl", CRL_URL, body, NOW), good, inter.cert, NOW)
        assert a.status is want, a.error
        assert a.next_update is None
    old = crl_without_next_update(inter, this_update=NOW - dt.timedelta(days=limit + 1))
    assert "no nextUpdate" in judge_crl(RevocationFetch("crl", CRL_URL, old, NOW), good, inter.cert, NOW).error
    # the intermediate itself, judged against its root's CRL: a CA's status may be a year old
    root = inter.parent
    body = crl_without_next_update(root, this_update=NOW - dt.timedelta(days=limit + 1))
    assert judge_crl(RevocationFetch("crl", CRL_URL, body, NOW), inter.cert, root.cert, NOW).status is \
        RevocationStatus.GOOD
    ancient = crl_without_next_update(root, this_update=NOW - dt.timedelta(days=policy.CRL_MAX_AGE_CA_DAYS + 1))
    assert judge_crl(RevocationFetch("crl", CRL_URL, ancient, NOW), inter.cert, root.cert, NOW).problem is \
        Problem.STALE


def test_freshness_rules_directly():
    t = NOW - dt.timedelta(days=3)
    assert ocsp_freshness(t, NOW + dt.timedelta(days=1), NOW, nonce_echoed=True) is None
    assert ocsp_freshness(t, None, NOW, nonce_echoed=True)[0] is Problem.STALE
    assert ocsp_freshness(t, NOW + dt.timedelta(days=1), NOW) is None  # 3 days < the 10-day cap
    assert ocsp_freshness(NOW - dt.timedelta(days=11), NOW + dt.timedelta(days=1), NOW)[0] is Problem.STALE
    assert ocsp_freshness(NOW - dt.timedelta(days=11), NOW + dt.timedelta(days=1), NOW, ca=True) is None
    assert ocsp_freshness(t, t - dt.timedelta(seconds=1), NOW)[0] is Problem.PARSE  # nextUpdate < thisUpdate
    assert crl_freshness(t, None, NOW) is None and crl_freshness(t, NOW - dt.timedelta(seconds=1), NOW)[0] is \
        Problem.STALE


def test_the_diagnosis_check_reports_a_stale_staple_next_to_the_verdict():
    from certdoctor.checks import revocation as check_module
    from certdoctor.checks import run
    from certdoctor.checks.context import derive

    root = TestCA("Stale Staple Root")
    inter = root.intermediate("Stale Staple Intermediate")
    leaf = inter.issue_cert("www.example.test")
    staple = ocsp_at(inter, leaf.cert, this_update=NOW - dt.timedelta(days=400), next_update=None)
    rev = evidence(inter, leaf.cert, RevocationFetch("crl", CRL_URL, crl(inter), NOW), stapled=staple, ocsp_urls=())
    found = check_module.check(derive(_diagnosis_evidence(inter, leaf, rev)))
    assert [(f.code, f.severity, f.cert_index) for f in found] == [(Code.REVOCATION_STALE, Severity.WARNING, 0)]
    assert Code.REVOCATION_STALE in {f.code for f in run(_diagnosis_evidence(inter, leaf, rev))}
