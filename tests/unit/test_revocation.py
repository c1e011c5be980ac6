"""Revocation verdicts that need no network: OCSP responses built in-process and handed over as
staples, certificates without sources or with the wrong issuer, the time budget, the arguments,
the responder's index lines, and ``certdoctor revocation`` when nothing is fetched.

CRLs and OCSP fetched from real servers on 127.0.0.1 (``openssl ocsp``): tests/integration/test_revocation.py.
"""

from __future__ import annotations

import datetime as dt
import json
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
from support.pki import NO_URLS, TestCA

from certdoctor.model import Severity
from certdoctor.lab.ocsp import index_line
from certdoctor.revocation.check import MethodAttempt, Problem, RevocationResult, RevocationStatus, check_revocation

GOOD, REVOKED, UNKNOWN, ERROR = (RevocationStatus.GOOD, RevocationStatus.REVOKED,
                                 RevocationStatus.UNKNOWN, RevocationStatus.ERROR)
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
REVOKED_AT = NOW - dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- the PKI

@pytest.fixture(scope="module")
def pki():
    """The integration test's PKI without its servers: the URLs the leaves name are never reached
    (a unit test opening a socket fails)."""
    root = TestCA("Test Root", **NO_URLS)
    inter = root.intermediate("Test Intermediate", path_length=None, **NO_URLS)
    nowhere = {"crl_url": "http://127.0.0.1:9/crl/intermediate.crl", "ocsp_url": "http://127.0.0.1:9/ocsp"}
    signer = inter.issue_cert(cn="Test OCSP Responder", eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
    return SimpleNamespace(
        root=root.cert, inter=inter.cert, good=inter.issue_cert("good.test", "127.0.0.1", **nowhere).cert,
        bad=inter.issue_cert(cn="revoked.test", **nowhere).cert, bare=inter.issue_cert(cn="bare.test").cert,
        stranger=TestCA("Other CA", **NO_URLS).issue_cert(cn="stranger.test").cert,
        signer=signer.cert, signer_key=signer.key, crl_url=nowhere["crl_url"],
    )


def _pem(path: Path, obj) -> Path:
    if hasattr(obj, "private_bytes"):
        path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    else:
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    return path


def _der(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.DER)


def _attempt(result: RevocationResult, method: str) -> MethodAttempt:
    return next(a for a in result.attempts if a.method == method)


def _refused(result: RevocationResult, problem: Problem) -> MethodAttempt:
    assert result.status is not GOOD, result.evidence
    assert result.status in (ERROR, UNKNOWN)
    a = next(a for a in result.attempts if a.problem is not None)
    assert a.problem is problem, (a.problem, a.error)
    assert a.error
    return a


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


# --------------------------------------------------------------------------- refused: OCSP

def test_ocsp_response_from_the_future_is_refused(pki):
    future = _crafted(pki, pki.good, this_update=NOW + DAY, next_update=NOW + 2 * DAY)
    _refused(check_revocation(pki.good, pki.inter, stapled=future, method="ocsp", ocsp_urls=[]),
             Problem.NOT_YET_VALID)


# --------------------------------------------------------------------------- refused: CRL

def test_ldap_crl_is_not_fetched(pki):
    result = check_revocation(pki.good, pki.inter, method="crl", crl_urls=["ldap://127.0.0.1/cn=crl"])
    assert result.status is UNKNOWN
    assert _attempt(result, "crl").problem is Problem.UNSUPPORTED_SCHEME


# --------------------------------------------------------------------------- policy, sources, issuer

def test_certificate_without_sources_is_unknown(pki):
    result = check_revocation(pki.bare, pki.inter)
    assert result.status is UNKNOWN
    assert {a.problem for a in result.attempts} == {Problem.NO_SOURCE}
    assert result.finding().severity is Severity.WARNING
    assert result.finding("hard").severity is Severity.ERROR


def test_wrong_issuer_is_an_error_not_an_exception(pki):
    result = check_revocation(pki.stranger, pki.inter)
    _refused(result, Problem.ISSUER)


def test_time_budget_is_honoured(pki):
    result = check_revocation(pki.good, pki.inter, method="crl", budget=0,
                              crl_urls=[pki.crl_url, pki.crl_url + "?again"])
    assert result.status is ERROR
    assert all(a.problem is Problem.BUDGET for a in result.attempts)


def test_bad_arguments_raise_usage_error(pki):
    from certdoctor.errors import UsageError

    with pytest.raises(UsageError):
        check_revocation(pki.good, pki.inter, method="ldap")
    with pytest.raises(UsageError):
        check_revocation(pki.good, pki.inter, policy="lenient")


# --------------------------------------------------------------------------- chain, JSON, fuzz

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=600))
def test_random_bytes_are_never_good(pki, junk):
    result = check_revocation(pki.good, pki.inter, method="ocsp", stapled=junk, ocsp_urls=[])
    assert result.status is not GOOD


# --------------------------------------------------------------------------- the responder front

def test_index_lines_have_openssl_format(pki):
    v = index_line(pki.good)
    fields = v.split("\t")
    assert fields[0] == "V" and fields[2] == "" and fields[4] == "unknown" and fields[5].endswith("/CN=good.test")
    assert len(fields[1]) == 13 and fields[1].endswith("Z")
    assert int(fields[3], 16) == pki.good.serial_number and len(fields[3]) % 2 == 0
    r = index_line(pki.bad, revoked_at=REVOKED_AT, reason="keyCompromise").split("\t")
    assert r[0] == "R" and r[2] == REVOKED_AT.strftime("%y%m%d%H%M%SZ") + ",keyCompromise"
    with pytest.raises(ValueError):
        index_line(pki.bad, revoked_at=REVOKED_AT, reason="bored")


# --------------------------------------------------------------------------- CLI

def test_cli_unknown_is_exit_1_and_hard_policy_says_error(pki, cache_dir, capsys):
    chain = cache_dir / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (pki.bare, pki.inter)))
    code, out, _ = _cli(["revocation", str(chain), "--policy", "hard", "--json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["status"] == "UNKNOWN" and doc["finding"]["severity"] == "error"


def test_cli_missing_issuer_is_a_usage_error(pki, cache_dir, capsys):
    leaf = _pem(cache_dir / "leaf.pem", pki.good)
    code, _, err = _cli(["revocation", str(leaf)], capsys)
    assert code == 2 and "--issuer" in err
    code, _, err = _cli(["revocation", str(leaf), "--issuer", str(_pem(cache_dir / "x.pem", pki.root))], capsys)
    assert code == 2 and "error:" in err


def test_cli_missing_file_is_bad_input(cache_dir, capsys):
    code, _, err = _cli(["revocation", str(cache_dir / "nope.pem")], capsys)
    assert code == 2 and "no such file" in err
