"""Revocation by CRL and OCSP against real components on 127.0.0.1.

A small PKI (root -> intermediate -> leaves, ``support.pki``) is made in a module fixture *after*
the servers are listening (port 0), so that the leaves name their real CRL and OCSP URLs. CRLs are
served by the plain-HTTP mode of ``support.servers``; OCSP answers come from the real ``openssl
ocsp`` behind :class:`certdoctor.lab.ocsp.OpenSSLOCSPResponder`. Every server is stopped in the
fixture's teardown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.cli import run_cli_captured as _cli
from support.pki import NO_URLS, TestCA, self_signed
from support.servers import closed_port, http_server, tls_server

from certdoctor.net.fetch import FetchCache
from certdoctor.model import Code, Severity
from certdoctor.lab.ocsp import OpenSSLOCSPResponder, write_index
from certdoctor.revocation.check import (
    MethodAttempt,
    Problem,
    RevocationResult,
    RevocationStatus,
    build_ocsp_request,
    check_chain,
    check_revocation,
)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI (openssl ocsp)")

GOOD, REVOKED, UNKNOWN, ERROR = (RevocationStatus.GOOD, RevocationStatus.REVOKED,
                                 RevocationStatus.UNKNOWN, RevocationStatus.ERROR)
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
REVOKED_AT = NOW - dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- hostile CRL answers

def _huge_unannounced(handler) -> None:
    """2 MiB with no Content-Length (close-delimited): only the read bound can stop it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/pkix-crl")
    handler.end_headers()
    chunk = b"\x30" * 65536
    for _ in range(32):
        handler.wfile.write(chunk)


def _huge_announced(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(50 * 1024 * 1024))
    handler.end_headers()
    handler.wfile.write(b"\x30" * 1024)


# --------------------------------------------------------------------------- the PKI

def _crl(issuer_name, key, revoked=(), *, last=None, next_=None):
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer_name)
         .last_update(last or NOW - dt.timedelta(minutes=10))
         .next_update(next_ or NOW + 7 * DAY))
    for cert, when, reason in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(when)
        if reason is not None:
            rb = rb.add_extension(x509.CRLReason(reason), critical=False)
        b = b.add_revoked_certificate(rb.build())
    return b.sign(key, hashes.SHA256())


def _pem(path: Path, obj) -> Path:
    if hasattr(obj, "private_bytes"):
        path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    else:
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    return path


def _der(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("revocation")
    with contextlib.ExitStack() as started:  # every server stopped at the module's end
        # 1. servers first (port 0), so the certificates can name their real URLs
        web = started.enter_context(http_server())
        index = d / "index.txt"

        # 2. the PKI
        root = TestCA("Test Root", **NO_URLS)
        inter = root.intermediate("Test Intermediate", path_length=None, **NO_URLS)
        root_key, int_key = root.key, inter.key
        crl_url = f"{web.base}/crl/intermediate.crl"
        # the OCSP front must be listening before the leaves are issued: start it on port 0 now,
        # with its signer files written just after (openssl reads them per request)
        paths = {n: d / n for n in ("inter.pem", "inter.key", "signer.pem", "signer.key")}
        delegated = OpenSSLOCSPResponder(paths["inter.pem"], index, paths["signer.pem"], paths["signer.key"],
                                         nmin=60).start()
        started.callback(delegated.stop)
        ocsp_url = delegated.url
        urls = {"crl_url": crl_url, "ocsp_url": ocsp_url}
        good_issued = inter.issue_cert("good.test", "127.0.0.1", **urls)
        good, gk = good_issued.cert, good_issued.key
        bad = inter.issue_cert(cn="revoked.test", **urls).cert
        unlisted = inter.issue_cert(cn="unlisted.test", **urls).cert
        bare = inter.issue_cert(cn="bare.test").cert
        stranger = TestCA("Other CA", **NO_URLS).issue_cert(cn="stranger.test").cert

        ocsp_eku = [ExtendedKeyUsageOID.OCSP_SIGNING]
        signer_issued = inter.issue_cert(cn="Test OCSP Responder", eku=ocsp_eku)
        signer, signer_key = signer_issued.cert, signer_issued.key
        noeku = inter.issue_cert(cn="Test Responder without EKU", eku=None)
        expired = inter.issue_cert(cn="Test Expired Responder", eku=ocsp_eku, not_before=NOW - 30 * DAY,
                                   not_after=NOW - DAY)
        evil = self_signed(cn="Evil Responder", eku=ocsp_eku)
        # same subject as the intermediate, another key: "signed by the wrong key" at its purest
        forged = self_signed(subject=inter.subject, ca=True)
        forged_key = forged.key

        for name, obj in [("root.pem", root.cert), ("inter.pem", inter.cert), ("inter.key", int_key),
                          ("signer.pem", signer), ("signer.key", signer_key), ("noeku.pem", noeku.cert),
                          ("noeku.key", noeku.key), ("expired.pem", expired.cert), ("expired.key", expired.key),
                          ("evil.pem", evil.cert), ("evil.key", evil.key), ("forged.pem", forged.cert),
                          ("forged.key", forged_key)]:
            _pem(d / name, obj)
        root, inter = root.cert, inter.cert
        write_index(index, good=[good, signer], revoked=[(bad, REVOKED_AT, x509.ReasonFlags.key_compromise)])

        def front(cert, key, *extra, nmin=60):
            r = OpenSSLOCSPResponder(d / "inter.pem", index, d / cert, d / key, extra, nmin=nmin).start()
            started.callback(r.stop)
            return r

        fronts = {
            "delegated": delegated,
            "issuer": front("inter.pem", "inter.key"),
            "keyid": front("signer.pem", "signer.key", "-resp_key_id"),
            "wrong": front("evil.pem", "evil.key"),
            "forged": front("forged.pem", "forged.key", "-resp_no_certs"),
            "noeku": front("noeku.pem", "noeku.key"),
            "expired": front("expired.pem", "expired.key"),
            "nonext": front("signer.pem", "signer.key", nmin=None),
        }

        # 3. what the web server serves
        crl = _crl(inter.subject, int_key, [(bad, REVOKED_AT, x509.ReasonFlags.key_compromise)])
        web.routes.update({
            "/crl/intermediate.crl": _der(crl),
            "/crl/intermediate.pem": crl.public_bytes(serialization.Encoding.PEM),
            "/crl/badsig.crl": _der(_crl(inter.subject, forged_key, [(bad, REVOKED_AT, None)])),
            "/crl/stale.crl": _der(_crl(inter.subject, int_key, (), last=NOW - 10 * DAY, next_=NOW - 3 * DAY)),
            "/crl/future.crl": _der(_crl(inter.subject, int_key, (), last=NOW + DAY, next_=NOW + 8 * DAY)),
            "/crl/root.crl": _der(_crl(root.subject, root_key, ())),
            "/crl/garbage.crl": b"this is not a CRL",
            "/crl/huge.crl": _huge_unannounced,
            "/crl/huge-announced.crl": _huge_announced,
        })
        yield SimpleNamespace(
            dir=d, web=web, root=root, root_key=root_key, inter=inter, int_key=int_key, good=good, good_key=gk,
            bad=bad, unlisted=unlisted, bare=bare, stranger=stranger, signer=signer, signer_key=signer_key,
            fronts=fronts, crl_url=crl_url, ocsp_url=ocsp_url, index=index,
        )


def _attempt(result: RevocationResult, method: str) -> MethodAttempt:
    return next(a for a in result.attempts if a.method == method)


# --------------------------------------------------------------------------- the happy paths

@pytest.mark.parametrize("method", ["crl", "ocsp"])
def test_revoked_leaf_is_revoked_by_both_methods(pki, method):
    result = check_revocation(pki.bad, pki.inter, method=method)
    assert result.status is REVOKED, result.evidence
    assert result.method == method
    assert result.reason == "keyCompromise"
    assert result.revocation_date == REVOKED_AT
    finding = result.finding("soft")
    assert finding.code is Code.REVOKED and finding.severity is Severity.ERROR
    assert "keyCompromise" in finding.summary


@pytest.mark.parametrize("method", ["crl", "ocsp"])
def test_good_leaf_is_good_by_both_methods(pki, method):
    result = check_revocation(pki.good, pki.inter, method=method)
    assert result.status is GOOD, result.evidence
    assert result.method == method and result.reason is None and result.revocation_date is None
    assert result.finding("hard") is None
    a = _attempt(result, method)
    assert a.this_update is not None and a.next_update is not None and a.next_update > NOW
    assert a.url == (pki.crl_url if method == "crl" else pki.ocsp_url)


def test_ocsp_evidence_names_the_delegated_signer_and_the_nonce(pki):
    result = check_revocation(pki.good, pki.inter, method="ocsp")
    a = _attempt(result, "ocsp")
    assert a.signer == "CN=Test OCSP Responder,O=certdoctor tests"
    text = " ".join(result.evidence)
    assert "delegated responder" in text and "nonce echoed" in text and "GET" in text


def test_all_asks_the_crl_first_and_stops_there(pki):
    before = pki.fronts["delegated"].requests
    result = check_revocation(pki.bad, pki.inter, method="all")
    assert result.status is REVOKED and result.method == "crl"
    assert [a.method for a in result.attempts] == ["crl"]
    assert pki.fronts["delegated"].requests == before


def test_all_falls_back_to_ocsp_when_the_crl_fails(pki):
    result = check_revocation(pki.bad, pki.inter, crl_urls=[f"{pki.web.base}/crl/badsig.crl"])
    assert result.status is REVOKED and result.method == "ocsp"
    assert [a.status for a in result.attempts] == [ERROR, REVOKED]


def test_pem_crl_is_accepted(pki):
    result = check_revocation(pki.bad, pki.inter, method="crl", crl_urls=[f"{pki.web.base}/crl/intermediate.pem"])
    assert result.status is REVOKED and result.reason == "keyCompromise"


@pytest.mark.parametrize("transport", ["get", "post"])
def test_ocsp_get_and_post(pki, transport):
    front = pki.fronts["delegated"]
    n = len(front.log)
    result = check_revocation(pki.bad, pki.inter, method="ocsp", ocsp_transport=transport)
    assert result.status is REVOKED
    assert front.log[n][0] == transport.upper()


@pytest.mark.parametrize("label, signer", [
    ("issuer", "CN=Test Intermediate,O=certdoctor tests"),       # the CA signs its own responses
    ("keyid", "CN=Test OCSP Responder,O=certdoctor tests"),      # ResponderID byKey
])
def test_other_legitimate_signers(pki, label, signer):
    result = check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[pki.fronts[label].url])
    assert result.status is GOOD, result.evidence
    assert _attempt(result, "ocsp").signer == signer


def test_response_without_next_update_is_accepted_but_not_cached(pki, tmp_path):
    cache = FetchCache(tmp_path)
    url = pki.fronts["nonext"].url
    r1 = check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[url], cache=cache)
    assert r1.status is GOOD and _attempt(r1, "ocsp").next_update is None
    r2 = check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[url], cache=cache)
    assert not _attempt(r2, "ocsp").from_cache


def test_responder_that_does_not_know_the_cert_is_unknown(pki):
    result = check_revocation(pki.unlisted, pki.inter, method="ocsp")
    assert result.status is UNKNOWN
    assert _attempt(result, "ocsp").problem is Problem.UNKNOWN_STATUS
    assert result.finding("soft").severity is Severity.WARNING


# --------------------------------------------------------------------------- refused: OCSP

def _refused(result: RevocationResult, problem: Problem) -> MethodAttempt:
    assert result.status is not GOOD, result.evidence
    assert result.status in (ERROR, UNKNOWN)
    a = next(a for a in result.attempts if a.problem is not None)
    assert a.problem is problem, (a.problem, a.error)
    assert a.error
    return a


def test_ocsp_signed_by_an_unrelated_responder_is_refused(pki):
    # openssl ocsp -rsigner/-rkey of a self-signed cert that the CA never issued
    a = _refused(check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[pki.fronts["wrong"].url]),
                 Problem.SIGNER)
    assert "was not issued by" in a.error


def test_ocsp_signed_by_the_wrong_key_under_the_issuers_name_is_refused(pki):
    # the responder claims to be the intermediate (same subject) but signs with another key
    a = _refused(check_revocation(pki.bad, pki.inter, method="ocsp", ocsp_urls=[pki.fronts["forged"].url]),
                 Problem.SIGNATURE)
    assert "does not verify" in a.error


def test_responder_without_ocsp_signing_eku_is_refused(pki):
    a = _refused(check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[pki.fronts["noeku"].url]),
                 Problem.SIGNER)
    assert "OCSPSigning" in a.error


def test_expired_responder_certificate_is_refused(pki):
    a = _refused(check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[pki.fronts["expired"].url]),
                 Problem.SIGNER)
    assert "not valid now" in a.error


def _crafted(pki, cert, *, this_update, next_update, status=ocsp.OCSPCertStatus.GOOD, nonce=None) -> bytes:
    b = (ocsp.OCSPResponseBuilder()
         .add_response(cert=cert, issuer=pki.inter, algorithm=hashes.SHA1(), cert_status=status,
                       this_update=this_update, next_update=next_update, revocation_time=None,
                       revocation_reason=None)
         .responder_id(ocsp.OCSPResponderEncoding.HASH, pki.signer)
         .certificates([pki.signer]))
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return _der(b.sign(pki.signer_key, hashes.SHA256()))


def test_stale_ocsp_response_is_refused(pki):
    # openssl ocsp cannot produce a nextUpdate in the past (-nmin/-ndays only go forward), so the
    # stale response is crafted with cryptography's OCSPResponseBuilder, signed by the real
    # delegated responder: everything about it is right except its age.
    stale = _crafted(pki, pki.good, this_update=NOW - 3 * DAY, next_update=NOW - DAY)
    pki.web.routes["/canned/stale"] = stale
    a = _refused(check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[f"{pki.web.base}/canned/stale"]),
                 Problem.STALE)
    assert a.next_update == NOW - DAY
    # a stapled copy is verified the same way
    s = _refused(check_revocation(pki.good, pki.inter, method="ocsp", stapled=stale, ocsp_urls=[]), Problem.STALE)
    assert s.method == "stapled"


def test_ocsp_response_for_another_serial_is_refused(pki):
    # openssl's real answer about the *good* leaf, replayed when the revoked one is asked about
    other = pki.fronts["delegated"].respond(build_ocsp_request(pki.good, pki.inter))
    pki.web.routes["/canned/other-serial"] = other
    a = _refused(check_revocation(pki.bad, pki.inter, method="ocsp",
                                  ocsp_urls=[f"{pki.web.base}/canned/other-serial"]), Problem.CERTID)
    assert format(pki.good.serial_number, "X") in a.error
    _refused(check_revocation(pki.bad, pki.inter, stapled=other, method="ocsp", ocsp_urls=[]), Problem.CERTID)


def test_ocsp_nonce_mismatch_is_refused_and_missing_nonce_is_noted(pki):
    front = pki.fronts["delegated"]
    replayed = front.respond(build_ocsp_request(pki.good, pki.inter, nonce=b"\x01" * 16))
    pki.web.routes["/canned/wrong-nonce"] = replayed
    _refused(check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[f"{pki.web.base}/canned/wrong-nonce"]),
             Problem.NONCE)
    no_nonce = front.respond(build_ocsp_request(pki.good, pki.inter, nonce=None))
    pki.web.routes["/canned/no-nonce"] = no_nonce
    ok = check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[f"{pki.web.base}/canned/no-nonce"])
    assert ok.status is GOOD
    assert any("did not echo the nonce" in e for e in ok.evidence)


def test_stapled_good_response_is_verified_but_the_ca_is_still_asked(pki):
    """A GOOD staple is the server's choice of answer: the CA's own sources are still asked (a
    REVOKED from them would win); the staple decides GOOD when nothing says REVOKED."""
    staple = pki.fronts["delegated"].respond(build_ocsp_request(pki.good, pki.inter))
    result = check_revocation(pki.good, pki.inter, stapled=staple, ocsp_urls=["http://127.0.0.1:1/never"])
    assert result.status is GOOD and result.method == "stapled"
    assert [(a.method, a.status) for a in result.attempts] == [("stapled", GOOD), ("crl", GOOD), ("ocsp", ERROR)]
    assert result.findings() == []
    # with no other source to ask, the staple alone decides, without any network
    alone = check_revocation(pki.good, pki.inter, stapled=staple, method="ocsp", ocsp_urls=[])
    assert alone.status is GOOD and [a.method for a in alone.attempts] == ["stapled"]


def test_unsuccessful_responder_status_is_an_error(pki):
    pki.web.routes["/canned/try-later"] = _der(
        ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER))
    a = _refused(check_revocation(pki.good, pki.inter, method="ocsp",
                                  ocsp_urls=[f"{pki.web.base}/canned/try-later"]), Problem.RESPONDER_STATUS)
    assert "TRY_LATER" in a.error


# --------------------------------------------------------------------------- refused: CRL

def test_crl_with_a_bad_signature_is_refused(pki):
    a = _refused(check_revocation(pki.good, pki.inter, method="crl", crl_urls=[f"{pki.web.base}/crl/badsig.crl"]),
                 Problem.SIGNATURE)
    assert "signed by another key" in a.error


def test_stale_crl_is_refused(pki):
    a = _refused(check_revocation(pki.good, pki.inter, method="crl", crl_urls=[f"{pki.web.base}/crl/stale.crl"]),
                 Problem.STALE)
    assert a.next_update == NOW - 3 * DAY


def test_crl_from_the_future_is_refused(pki):
    _refused(check_revocation(pki.good, pki.inter, method="crl", crl_urls=[f"{pki.web.base}/crl/future.crl"]),
             Problem.NOT_YET_VALID)


def test_crl_of_another_issuer_is_refused(pki):
    a = _refused(check_revocation(pki.good, pki.inter, method="crl", crl_urls=[f"{pki.web.base}/crl/root.crl"]),
                 Problem.SCOPE)
    assert "Test Root" in a.error


def test_garbage_crl_is_refused(pki):
    _refused(check_revocation(pki.good, pki.inter, method="crl", crl_urls=[f"{pki.web.base}/crl/garbage.crl"]),
             Problem.PARSE)


def test_pinned_now_after_next_update_makes_the_real_crl_stale(pki):
    later = NOW + 30 * DAY
    _refused(check_revocation(pki.good, pki.inter, method="crl", now=later), Problem.STALE)
    _refused(check_revocation(pki.good, pki.inter, method="ocsp", now=later), Problem.STALE)


@pytest.mark.parametrize("route", ["/crl/huge.crl", "/crl/huge-announced.crl"])
def test_hostile_crl_url_is_bounded(pki, route):
    t0 = time.monotonic()
    a = _refused(check_revocation(pki.good, pki.inter, method="crl", crl_urls=[pki.web.base + route]),
                 Problem.FETCH)
    assert "1,048,576-byte limit" in a.error
    assert time.monotonic() - t0 < 5


# --------------------------------------------------------------------------- policy, sources, issuer

def test_unreachable_responder_soft_vs_hard(pki):
    dead = f"http://127.0.0.1:{closed_port()}/ocsp"
    t0 = time.monotonic()
    soft = check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[dead], policy="soft")
    assert time.monotonic() - t0 < 5
    a = _refused(soft, Problem.FETCH)
    assert soft.status is ERROR and "refused" in a.error.lower()
    assert soft.finding().severity is Severity.WARNING
    assert soft.finding("hard").severity is Severity.ERROR
    hard = check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[dead], policy="hard")
    f = hard.finding()
    assert f.code is Code.REVOCATION_UNKNOWN and f.severity is Severity.ERROR
    assert "port 80" in f.fix


# --------------------------------------------------------------------------- cache

def test_crl_cache_hit_sends_no_second_request(pki, tmp_path):
    cache = FetchCache(tmp_path)
    route = "/crl/intermediate.crl"
    before = pki.web.hits[route]
    first = check_revocation(pki.bad, pki.inter, method="crl", cache=cache)
    assert pki.web.hits[route] == before + 1
    second = check_revocation(pki.bad, pki.inter, method="crl", cache=cache)
    assert pki.web.hits[route] == before + 1, "the second check reached the server"
    assert first.status is second.status is REVOKED
    assert not _attempt(first, "crl").from_cache and _attempt(second, "crl").from_cache


def test_ocsp_cache_hit_sends_no_second_request(pki, tmp_path):
    cache = FetchCache(tmp_path)
    front = pki.fronts["delegated"]
    before = front.requests
    first = check_revocation(pki.good, pki.inter, method="ocsp", cache=cache)
    second = check_revocation(pki.good, pki.inter, method="ocsp", cache=cache)
    assert front.requests == before + 1, "the second check reached the responder"
    assert first.status is second.status is GOOD
    assert _attempt(second, "ocsp").from_cache


def test_refused_answers_are_not_cached(pki, tmp_path):
    cache = FetchCache(tmp_path)
    route = "/crl/badsig.crl"
    before = pki.web.hits[route]
    for _ in range(2):
        check_revocation(pki.good, pki.inter, method="crl", crl_urls=[pki.web.base + route], cache=cache)
    assert pki.web.hits[route] == before + 2


def test_cached_crl_is_reverified_when_read_back(pki, tmp_path):
    cache = FetchCache(tmp_path)
    url = pki.crl_url
    # poison the cache with a CRL signed by another key, as a corrupted or tampered disk would
    cache.put(url, pki.web.routes["/crl/badsig.crl"], expires=time.time() + 3600)
    result = check_revocation(pki.bad, pki.inter, method="crl", cache=cache)
    assert result.status is REVOKED and not _attempt(result, "crl").from_cache


# --------------------------------------------------------------------------- chain, JSON, fuzz

def test_check_chain_checks_every_non_root(pki):
    results = check_chain([pki.bad, pki.inter, pki.root], method="crl")
    assert [r.cert_index for r in results] == [0, 1]
    assert results[0].status is REVOKED
    assert results[1].status is UNKNOWN  # the intermediate names no CRL
    assert results[0].finding().cert_index == 0 and results[1].finding().cert_index == 1


def test_result_is_jsonable(pki):
    from certdoctor.model import to_jsonable

    doc = to_jsonable(check_revocation(pki.bad, pki.inter, method="ocsp"))
    text = json.dumps(doc)
    assert doc["status"] == "REVOKED" and doc["attempts"][0]["method"] == "ocsp"
    assert doc["revocation_date"].endswith("Z") and "keyCompromise" in text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flip=st.integers(min_value=0, max_value=10_000), bit=st.integers(min_value=0, max_value=7))
def test_a_flipped_bit_in_a_real_response_is_never_good_unless_unsigned(pki, flip, bit):
    """One bit changed in a real openssl answer: refused, unless everything signed is unchanged.

    (An exhaustive run found exactly one such spot: the unused-bits byte of the included
    responder certificate's signature BIT STRING, which cryptography tolerates; the signed
    bytes and the signatures are then identical, so the answer is still authentic.)
    """
    original = pki.fronts["delegated"].respond(build_ocsp_request(pki.good, pki.inter, nonce=None))
    der = bytearray(original)
    der[flip % len(der)] ^= 1 << bit
    result = check_revocation(pki.good, pki.inter, method="ocsp", stapled=bytes(der), ocsp_urls=[])
    if result.status is GOOD:
        got, want = ocsp.load_der_ocsp_response(bytes(der)), ocsp.load_der_ocsp_response(original)
        assert (got.tbs_response_bytes, got.signature) == (want.tbs_response_bytes, want.signature)
        assert [(c.tbs_certificate_bytes, c.signature) for c in got.certificates] == [
            (c.tbs_certificate_bytes, c.signature) for c in want.certificates]


# --------------------------------------------------------------------------- the responder front


def test_responder_handler_shape(pki):
    import base64
    from urllib.parse import quote

    front = pki.fronts["delegated"]
    req = build_ocsp_request(pki.bad, pki.inter)
    status, headers, body = front.handle("POST", "/ocsp", req)
    assert status == 200 and headers["Content-Type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.REVOKED
    status, _, body = front.handle("GET", "/ocsp/" + quote(base64.b64encode(req).decode(), safe=""), None)
    assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.REVOKED
    _, _, body = front.handle("POST", "/ocsp", b"junk")
    assert ocsp.load_der_ocsp_response(body).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert front.handle("DELETE", "/ocsp", None)[0] == 405


def test_responder_listens_on_loopback_only_and_stops(pki):
    front = OpenSSLOCSPResponder(pki.dir / "inter.pem", pki.index, pki.dir / "signer.pem", pki.dir / "signer.key")
    front.start()
    try:
        assert front._server.server_address[0] == "127.0.0.1"
        port = front.port
        assert check_revocation(pki.good, pki.inter, method="ocsp", ocsp_urls=[front.url]).status is GOOD
    finally:
        front.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# --------------------------------------------------------------------------- CLI

def test_cli_revoked_chain_file_json(pki, cache_dir, capsys):
    chain = cache_dir / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (pki.bad, pki.inter)))
    code, out, _ = _cli(["revocation", str(chain), "--method", "crl", "--json"], capsys)
    doc = json.loads(out)
    assert code == 1
    assert doc["schema_version"] == 2 and doc["status"] == "REVOKED" and doc["reason"] == "keyCompromise"
    assert doc["finding"]["code"] == "REVOKED"


def test_cli_good_with_issuer_option_human(pki, cache_dir, capsys):
    leaf, issuer = cache_dir / "leaf.pem", cache_dir / "issuer.pem"
    _pem(leaf, pki.good)
    _pem(issuer, pki.inter)
    code, out, _ = _cli(["revocation", str(leaf), "--issuer", str(issuer)], capsys)
    assert code == 0 and "GOOD" in out and "good.test" in out


def test_python_m_certdoctor_revocation(pki, cache_dir):
    import subprocess
    import sys

    chain = cache_dir / "bare.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (pki.bare, pki.inter)))
    proc = subprocess.run([sys.executable, "-m", "certdoctor", "revocation", str(chain), "--json", "--no-cache"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "UNKNOWN" and doc["finding"]["code"] == "REVOCATION_UNKNOWN"
    assert doc["finding"]["severity"] == "warning"


def test_cli_target_over_tls(pki, cache_dir, capsys):
    with tls_server([pki.good, pki.inter], pki.good_key) as srv:
        code, out, err = _cli(["revocation", f"127.0.0.1:{srv.port}", "--json", "--timeout", "3"], capsys)
        doc = json.loads(out)
        assert code == 0, err
        assert doc["status"] == "GOOD" and doc["target"]["input"] == f"127.0.0.1:{srv.port}"
        assert doc["target"]["kind"] == "endpoint" and doc["target"]["port"] == srv.port


# --------------------------------------------------------------------------- the lab

def test_lab_revoked_scenario_is_revoked_by_crl(lab):
    import ssl

    from certdoctor.revocation.check import find_issuer

    ep = lab.endpoint("revoked")
    # the revoked leaf passes ordinary verification (that is the point of REVOKED_NOT_CHECKED)
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    with socket.create_connection((ep.host, ep.port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=ep.hostname) as tls:
            leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    issuer = find_issuer(leaf, [lab.pki.intermediate_cert])
    assert issuer is not None
    crl_url = lab.http_base + "/crl/intermediate.crl"
    result = check_revocation(leaf, issuer, method="crl", crl_urls=[crl_url])
    assert result.status is REVOKED, result.evidence
    assert result.method == "crl" and result.revocation_date is not None
    # and through the URL the leaf itself names
    assert check_revocation(leaf, issuer, method="crl").status is REVOKED


def test_lab_route_serves_openssl_ocsp_for_the_revoked_scenario(tmp_path):
    """The handler shape fits ``lab.add_route``: a private lab (so the session lab is untouched)
    answers OCSP at the URL its leaves name, from the real ``openssl ocsp``."""
    import ssl

    from certdoctor.lab import Lab

    from certdoctor.lab.ocsp import make_handler

    lab = Lab(scenarios=["revoked"], workdir=tmp_path / "lab").start()
    try:
        ep = lab.endpoint("revoked")
        ctx = ssl.create_default_context(cafile=str(lab.ca_file))
        with socket.create_connection((ep.host, ep.port), timeout=5) as sock:
            with ctx.wrap_socket(sock, server_hostname=ep.hostname) as tls:
                leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        inter, inter_key = lab.pki.intermediate_cert, lab.pki.intermediate_key
        when = lab.pki.revoked[leaf.serial_number]
        index = write_index(tmp_path / "index.txt", revoked=[(leaf, when, "keyCompromise")])
        ca, key = _pem(tmp_path / "inter.pem", inter), _pem(tmp_path / "inter.key", inter_key)
        lab.add_route("/ocsp", make_handler(ca, index, ca, key))
        result = check_revocation(leaf, inter, method="ocsp")
        assert result.status is REVOKED, result.evidence
        assert _attempt(result, "ocsp").url == lab.http_base + "/ocsp"
        assert result.reason == "keyCompromise"
    finally:
        lab.stop()


def _checked_issuer(argv, capsys) -> str:
    """The issuer of the checked certificate, from the JSON evidence line naming it."""
    _, out, err = _cli(["revocation", "--json", "--timeout", "5", "--method", "crl", *argv], capsys)
    doc = json.loads(out)
    line = next(e for e in doc["evidence"] if e.startswith("certificate "))
    return line.split(", issuer ", 1)[1]


def test_cli_lab_through_the_proxy_option(lab, cache_dir, capsys):
    good = lab.endpoint("good")
    assert "Intercept" in _checked_issuer([good.url, "--proxy", lab.proxy_url], capsys)
    assert _checked_issuer([good.url], capsys) == lab.pki.intermediate_cert.subject.rfc4514_string()


def test_cli_lab_follows_https_proxy_and_no_proxy(lab, cache_dir, capsys, monkeypatch):
    good = lab.endpoint("good")
    monkeypatch.setenv("HTTPS_PROXY", lab.proxy_url)
    assert "Intercept" in _checked_issuer([good.url], capsys)
    monkeypatch.setenv("NO_PROXY", ".lab.test")
    assert _checked_issuer([good.url], capsys) == lab.pki.intermediate_cert.subject.rfc4514_string()
