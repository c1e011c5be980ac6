"""Revocation freshness against real components on 127.0.0.1 (issue 10 item 4).

OCSP answers come from the real ``openssl ocsp`` (certdoctor.lab.ocsp). ``openssl ocsp`` always
dates thisUpdate *now* (``-nmin``/``-ndays`` set nextUpdate, without them there is none): an old
answer is shown either by judging a real answer later (``now=`` of ``check_revocation``: the same
bytes replayed days later) or, where a backdated thisUpdate must be served to the CLI, by an
answer built with cryptography's ``OCSPResponseBuilder`` and signed by the test intermediate (a
genuine signature; only its thisUpdate is old). CRLs are served by ``support.servers.http_server``;
the stapling TLS server is pyOpenSSL's (the stdlib cannot staple). Everything is stopped at the
module's end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from support.cli import run_cli_captured as _cli
from support.pki import NO_URLS, TestCA
from support.servers import http_server, serve

from certdoctor import policy
from certdoctor.lab.ocsp import OpenSSLOCSPResponder, write_index
from certdoctor.model import Code
from certdoctor.revocation.check import Problem, RevocationStatus, build_ocsp_request, check_revocation

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI (openssl ocsp)")

GOOD, REVOKED, ERROR = RevocationStatus.GOOD, RevocationStatus.REVOKED, RevocationStatus.ERROR
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY = dt.timedelta(days=1)
REVOKED_AT = NOW - dt.timedelta(hours=1)


def _pem(path: Path, obj) -> Path:
    if hasattr(obj, "private_bytes"):
        path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    else:
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    return path


def _crl(inter, revoked=(), *, last, next_):
    b = x509.CertificateRevocationListBuilder().issuer_name(inter.cert.subject).last_update(last).next_update(next_)
    for cert in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(REVOKED_AT)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False).build())
    return b.sign(inter.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("freshness")
    with contextlib.ExitStack() as started:
        web = started.enter_context(http_server())
        root = TestCA("Freshness Root", **NO_URLS)
        inter = root.intermediate("Freshness Intermediate", path_length=None, **NO_URLS)
        ca, key = _pem(d / "inter.pem", inter.cert), _pem(d / "inter.key", inter.key)
        _pem(d / "root.pem", root.cert)
        now_index, before_index = d / "index.txt", d / "index-before.txt"

        def front(index, nmin):
            r = OpenSSLOCSPResponder(ca, index, ca, key, nmin=nmin).start()  # signed by the issuer itself
            started.callback(r.stop)
            return r

        fronts = {"live": front(now_index, 60), "nonext": front(now_index, None),
                  "before": front(before_index, 60)}  # the CA's database before the revocation
        urls = {"crl_url": f"{web.base}/crl/current.crl", "ocsp_url": fronts["live"].url}
        good = inter.issue_cert("good.fresh.test", "127.0.0.1", **urls)
        bad = inter.issue_cert("revoked.fresh.test", "127.0.0.1", **urls)
        write_index(now_index, good=[good.cert], revoked=[(bad.cert, REVOKED_AT, x509.ReasonFlags.key_compromise)])
        write_index(before_index, good=[good.cert, bad.cert])
        web.routes.update({
            "/crl/current.crl": _crl(inter, [bad.cert], last=NOW - dt.timedelta(minutes=10), next_=NOW + 7 * DAY),
            "/crl/empty.crl": _crl(inter, (), last=NOW - dt.timedelta(minutes=10), next_=NOW + 7 * DAY),
            "/crl/stale.crl": _crl(inter, (), last=NOW - 10 * DAY, next_=NOW - 3 * DAY),
        })
        yield SimpleNamespace(dir=d, web=web, root=root, inter=inter, good=good, bad=bad, fronts=fronts)


def _openssl(pki, front: str, cert, nonce=None) -> bytes:
    """The real ``openssl ocsp`` answer of ``front`` about ``cert`` (no nonce asked: a replayable one)."""
    der = pki.fronts[front].respond(build_ocsp_request(cert, pki.inter.cert, nonce=nonce))
    assert ocsp.load_der_ocsp_response(der).response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    return der


def _backdated(pki, cert, *, days: int, next_update=None) -> bytes:
    """A GOOD about ``cert`` dated ``days`` ago, signed by the intermediate (openssl cannot backdate)."""
    this = NOW - dt.timedelta(days=days)
    return (ocsp.OCSPResponseBuilder()
            .add_response(cert=cert, issuer=pki.inter.cert, algorithm=hashes.SHA1(),
                          cert_status=ocsp.OCSPCertStatus.GOOD, this_update=this, next_update=next_update,
                          revocation_time=None, revocation_reason=None)
            .responder_id(ocsp.OCSPResponderEncoding.NAME, pki.inter.cert)
            .sign(pki.inter.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


def _codes(result) -> list[Code]:
    return [f.code for f in result.findings()]


# --------------------------------------------------------------------------- OCSP over HTTP

def test_fresh_good_with_the_nonce_echoed_is_good(pki):
    for front in ("live", "nonext"):  # with nextUpdate, and without (believed: thisUpdate is now)
        r = check_revocation(pki.good.cert, pki.inter.cert, method="ocsp", ocsp_urls=[pki.fronts[front].url])
        assert r.status is GOOD, r.evidence
        assert "nonce echoed" in " ".join(r.evidence) and r.findings() == []
        assert (r.attempts[0].next_update is None) is (front == "nonext")


def test_a_real_answer_without_next_update_replayed_later_is_believed_one_day_only(pki):
    """openssl's own answer (no nextUpdate, no nonce) served again by a plain HTTP server: the
    request carries a nonce, the replay echoes none; judged as if hours, days, 900 days later."""
    der = _openssl(pki, "nonext", pki.good.cert)
    pki.web.routes["/replay/nonext"] = der
    url = f"{pki.web.base}/replay/nonext"
    # judged from when openssl made it (a module-level NOW can be minutes older in a slow suite)
    made = ocsp.load_der_ocsp_response(der).this_update_utc
    for later, want in ((dt.timedelta(0), GOOD), (dt.timedelta(hours=12), GOOD),
                        (dt.timedelta(days=policy.OCSP_MAX_AGE_DAYS, hours=1), ERROR), (900 * DAY, ERROR)):
        r = check_revocation(pki.good.cert, pki.inter.cert, method="ocsp", ocsp_urls=[url], now=made + later)
        assert r.status is want, (later, r.evidence)
        assert "did not echo the nonce" in " ".join(r.evidence) or want is ERROR
        if want is ERROR:
            a = r.attempts[0]
            assert a.problem is Problem.STALE and "no nextUpdate" in a.error and " old, more than the" in a.error
            assert _codes(r) == [Code.REVOCATION_UNKNOWN, Code.REVOCATION_STALE]


def test_a_real_answer_with_next_update_replayed_past_the_lifetime_cap_is_stale(pki):
    """openssl -ndays 30: nextUpdate a month away; replayed without the nonce 11 days later, it is
    past the 10-day cap on answers not made for this request (its own nextUpdate is still ahead)."""
    ca, key = pki.dir / "inter.pem", pki.dir / "inter.key"
    index = pki.dir / "index.txt"
    with OpenSSLOCSPResponder(ca, index, ca, key, ("-ndays", "30"), nmin=None) as month:
        der = month.respond(build_ocsp_request(pki.good.cert, pki.inter.cert))
    made = ocsp.load_der_ocsp_response(der).this_update_utc  # not NOW: that can be minutes older
    assert ocsp.load_der_ocsp_response(der).next_update_utc > made + 29 * DAY
    pki.web.routes["/replay/month"] = der
    url = f"{pki.web.base}/replay/month"
    later = dt.timedelta(days=policy.OCSP_MAX_LIFETIME_DAYS + 1)
    assert check_revocation(pki.good.cert, pki.inter.cert, method="ocsp", ocsp_urls=[url],
                            now=made + 3 * DAY).status is GOOD
    r = check_revocation(pki.good.cert, pki.inter.cert, method="ocsp", ocsp_urls=[url], now=made + later)
    assert r.status is ERROR and r.attempts[0].problem is Problem.STALE
    assert "no nonce echoed" in r.attempts[0].error


def test_a_900_day_old_good_replayed_over_http_is_stale_and_the_crl_decides(pki):
    """The issue's replay: a genuine GOOD dated 900 days ago answers the OCSP request over plain
    HTTP, without the nonce. Not GOOD; with the CRL asked too, the revoked leaf is REVOKED."""
    pki.web.routes["/replay/old-good"] = _backdated(pki, pki.good.cert, days=900)
    pki.web.routes["/replay/old-bad"] = _backdated(pki, pki.bad.cert, days=900)
    r = check_revocation(pki.good.cert, pki.inter.cert, method="ocsp", ocsp_urls=[f"{pki.web.base}/replay/old-good"])
    assert r.status is ERROR and r.attempts[0].problem is Problem.STALE and "900 days old" in r.attempts[0].error
    r = check_revocation(pki.bad.cert, pki.inter.cert, ocsp_urls=[f"{pki.web.base}/replay/old-bad"])
    assert r.status is REVOKED and r.method == "crl"


# --------------------------------------------------------------------------- CRLs

def test_crl_past_next_update_is_stale_and_ocsp_decides(pki):
    stale = [f"{pki.web.base}/crl/stale.crl"]
    r = check_revocation(pki.good.cert, pki.inter.cert, crl_urls=stale)
    assert [(a.method, a.problem) for a in r.attempts] == [("crl", Problem.STALE), ("ocsp", None)]
    assert r.status is GOOD and r.method == "ocsp" and _codes(r) == [Code.REVOCATION_STALE]
    r = check_revocation(pki.bad.cert, pki.inter.cert, crl_urls=stale)
    assert r.status is REVOKED and r.method == "ocsp" and _codes(r) == [Code.REVOKED, Code.REVOCATION_STALE]
    # only the stale CRL to ask: no verified current answer
    r = check_revocation(pki.good.cert, pki.inter.cert, method="crl", crl_urls=stale)
    assert r.status is ERROR and _codes(r) == [Code.REVOCATION_UNKNOWN, Code.REVOCATION_STALE]


def test_a_current_good_crl_does_not_hide_the_responders_revoked(pki):
    r = check_revocation(pki.bad.cert, pki.inter.cert, crl_urls=[f"{pki.web.base}/crl/empty.crl"])
    assert [(a.method, a.status) for a in r.attempts] == [("crl", GOOD), ("ocsp", REVOKED)]
    assert r.status is REVOKED and r.method == "ocsp" and r.reason == "keyCompromise"


# --------------------------------------------------------------------------- staples, through the CLI

@contextlib.contextmanager
def stapling_server(issued, inter, staple: bytes):
    """A pyOpenSSL TLS server on 127.0.0.1:0 that staples ``staple`` and sends leaf + ``inter``."""
    SSL = pytest.importorskip("OpenSSL.SSL")

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate(issued.cert)
    ctx.add_extra_chain_cert(inter)
    ctx.use_privatekey(issued.key)
    ctx.set_ocsp_server_callback(lambda conn, data: staple)

    def handle(raw, srv):
        raw.settimeout(None)  # pyOpenSSL wants a blocking socket (stop() shuts it down)
        conn = SSL.Connection(ctx, raw)
        conn.set_accept_state()
        with contextlib.suppress(Exception):
            conn.do_handshake()
            conn.recv(1024)

    with serve(handle) as srv:
        yield srv


def _cli_json(pki, port, capsys, cache_dir):
    code, out, err = _cli(["revocation", f"127.0.0.1:{port}", "--json", "--timeout", "5",
                           "--ca-file", str(pki.dir / "root.pem")], capsys)
    return code, json.loads(out)


def test_cli_stale_stapled_good_loses_to_the_current_crls_revoked(pki, cache_dir, capsys):
    """The issue's case: the server staples a genuine GOOD dated 400 days ago without nextUpdate;
    the CA's current CRL says REVOKED. Main printed GOOD and exited 0."""
    staple = _backdated(pki, pki.bad.cert, days=400)
    with stapling_server(pki.bad, pki.inter.cert, staple) as srv:
        code, doc = _cli_json(pki, srv.port, capsys, cache_dir)
        human_code, human, _ = _cli(["revocation", f"127.0.0.1:{srv.port}", "--timeout", "5", "--no-cache"], capsys)
    assert code == 1 and doc["exit_code"] == 1
    assert doc["status"] == "REVOKED" and doc["method"] == "crl" and doc["reason"] == "keyCompromise"
    assert [f["code"] for f in doc["findings"]] == ["REVOKED", "REVOCATION_STALE"]
    assert doc["finding"]["code"] == "REVOKED"
    assert doc["attempts"][0]["method"] == "stapled" and doc["attempts"][0]["problem"] == "stale"
    assert "400 days old" in doc["findings"][1]["summary"]
    assert human_code == 1 and "REVOKED" in human and "REVOCATION_STALE" in human


def test_cli_fresh_real_good_staple_from_before_the_revocation_loses_to_the_crl(pki, cache_dir, capsys):
    """A current, genuine GOOD made by openssl from the CA's database before the revocation (what
    a server keeps stapling after its key was revoked): the CA is still asked, REVOKED wins."""
    staple = _openssl(pki, "before", pki.bad.cert)
    assert ocsp.load_der_ocsp_response(staple).certificate_status is ocsp.OCSPCertStatus.GOOD
    with stapling_server(pki.bad, pki.inter.cert, staple) as srv:
        code, doc = _cli_json(pki, srv.port, capsys, cache_dir)
    assert code == 1 and doc["status"] == "REVOKED" and doc["method"] == "crl"
    assert [a["status"] for a in doc["attempts"]][:2] == ["GOOD", "REVOKED"]
    assert [f["code"] for f in doc["findings"]] == ["REVOKED"]


def test_cli_revoked_staple_wins_over_a_good_crl(pki, cache_dir, capsys):
    revoked = _openssl(pki, "live", pki.bad.cert)  # openssl's REVOKED
    r = check_revocation(pki.bad.cert, pki.inter.cert, stapled=revoked, crl_urls=[f"{pki.web.base}/crl/empty.crl"])
    assert r.status is REVOKED and r.method == "stapled" and [a.method for a in r.attempts] == ["stapled"]
    with stapling_server(pki.bad, pki.inter.cert, revoked) as srv:
        code, doc = _cli_json(pki, srv.port, capsys, cache_dir)
    assert code == 1 and doc["status"] == "REVOKED" and doc["method"] == "stapled"


def test_cli_fresh_good_staple_of_a_good_leaf_is_good(pki, cache_dir, capsys):
    with stapling_server(pki.good, pki.inter.cert, _openssl(pki, "live", pki.good.cert)) as srv:
        code, doc = _cli_json(pki, srv.port, capsys, cache_dir)
    assert code == 0 and doc["status"] == "GOOD" and doc["method"] == "stapled" and doc["findings"] == []
    assert [a["method"] for a in doc["attempts"]] == ["stapled", "crl", "ocsp"]
