"""renew/acme.py and renew/challenge.py against the real parts: Debian's pebble and
pebble-challtestsrv (support.pebble), pebble's VA validating over real HTTP against certdoctor's
own http-01 server, a webroot served by a plain HTTP server, a dns-01 hook that sets the TXT
record in challtestsrv, and the RFC 9773 proxy (support.ari) for what pebble 2.4 lacks.
No mocks of the ACME server: every failure below is one pebble (or the proxy) really produced.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import socket
import sys
import threading
import time

import pytest
from acme import client as acme_client
from acme import crypto_util
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certdoctor.renew.acme import AcmeFailure, AcmeSession
from certdoctor.renew.challenge import ChallengeError, DnsHook, Http01Server, Webroot
from certdoctor.renew.schedule import cert_id, parse_renewal_info
from support.ari import run_ari_proxy
from support.pebble import cert_chain_verifies, run_pebble
from support.pki import TestCA

NAMES = ["www.example.test", "example.test"]


def new_csr(names=NAMES) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return crypto_util.make_csr(pem, list(names))


def sans(cert_pem: bytes) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return sorted(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                  .get_values_for_type(x509.DNSName))


@pytest.fixture
def acme_env(tmp_path):
    """certdoctor's http-01 server on a free port, and pebble validating against it."""
    with Http01Server("127.0.0.1:0") as srv, run_pebble(tmp_path / "pebble", http_port=srv.port) as pb:
        yield srv, pb


def open_session(pb, tmp_path, *, url=None, ca_file=None, key="account.key", **kw) -> AcmeSession:
    return AcmeSession.open(url or pb.directory_url, ca_file=ca_file or pb.ca_file, account_key=tmp_path / key,
                            timeout=10, **kw)


# --------------------------------------------------------------------------- issuing

def test_issue_two_names_through_a_real_http01_validation(acme_env, tmp_path):
    srv, pb = acme_env
    session = open_session(pb, tmp_path, contact=["ops@example.test"])
    assert session.account_created and session.key_created and session.account_uri.startswith("https://127.0.0.1:")
    assert not session.has_ari and session.profiles == {}  # pebble 2.4: neither
    issued = session.issue(new_csr(), responder=srv, deadline=60)
    assert sans(issued.cert_pem) == sorted(NAMES)
    assert issued.fullchain_pem == issued.cert_pem + issued.chain_pem and issued.chain_pem
    cert_chain_verifies(issued.fullchain_pem, pb.roots_pem(), "www.example.test")
    cert_chain_verifies(issued.fullchain_pem, pb.roots_pem(), "example.test")
    # pebble's VA really fetched both tokens from our server (it asks from several "perspectives")
    answered = {path for _client, path, ok in srv.requests if ok}
    assert len(answered) == 2 and all(p.startswith("/.well-known/acme-challenge/") for p in answered)
    assert srv.lookup(next(iter(answered)).rsplit("/", 1)[1]) is None  # cleaned up after
    assert issued.warnings == ()


def test_account_is_reused_on_a_second_issue(acme_env, tmp_path):
    srv, pb = acme_env
    first = open_session(pb, tmp_path)
    first.issue(new_csr(), responder=srv, deadline=60)
    key_bytes = (tmp_path / "account.key").read_bytes()
    second = open_session(pb, tmp_path)
    assert (second.account_created, second.key_created) == (False, False)
    assert second.account_uri == first.account_uri
    assert (tmp_path / "account.key").read_bytes() == key_bytes
    issued = second.issue(new_csr(["other.example.test"]), responder=srv, deadline=60)
    assert sans(issued.cert_pem) == ["other.example.test"]


def test_an_existing_key_the_ca_does_not_know_gets_a_new_account(tmp_path):
    """The key file stays (never replaced); the CA that has no account for it (a new CA, or
    pebble restarted: it keeps accounts in memory) answers accountDoesNotExist and one is made."""
    with Http01Server("127.0.0.1:0") as srv:
        with run_pebble(tmp_path / "pebble-1", http_port=srv.port) as pb:
            assert open_session(pb, tmp_path).key_created
        key_bytes = (tmp_path / "account.key").read_bytes()
        with run_pebble(tmp_path / "pebble-2", http_port=srv.port) as pb:
            session = open_session(pb, tmp_path)
            assert (session.key_created, session.account_created) == (False, True)
            assert sans(session.issue(new_csr(["again.example.test"]), responder=srv, deadline=60).cert_pem) == \
                ["again.example.test"]
        assert (tmp_path / "account.key").read_bytes() == key_bytes


def test_issue_through_a_webroot_served_by_a_plain_http_server(tmp_path):
    webroot = tmp_path / "www"
    webroot.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(webroot))

    class Quiet(handler.func):
        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(webroot)))
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        with run_pebble(tmp_path / "pebble", http_port=httpd.server_address[1]) as pb:
            session = open_session(pb, tmp_path)
            issued = session.issue(new_csr(["web.example.test"]), responder=Webroot(webroot), deadline=60)
            assert sans(issued.cert_pem) == ["web.example.test"]
            cert_chain_verifies(issued.fullchain_pem, pb.roots_pem(), "web.example.test")
        assert list(webroot.iterdir()) == []  # the challenge file and the directories made for it are gone
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(5)


HOOK = """
import json, os, sys, urllib.request
base = sys.argv[1]
host = os.environ["CERTDOCTOR_TXT_NAME"] + "."
if os.environ["CERTDOCTOR_ACTION"] == "set":
    path, body = "/set-txt", {"host": host, "value": os.environ["CERTDOCTOR_TXT_VALUE"]}
else:
    path, body = "/clear-txt", {"host": host}
urllib.request.urlopen(urllib.request.Request(base + path, data=json.dumps(body).encode()), timeout=5).read()
with open(sys.argv[2], "a") as log:
    log.write(os.environ["CERTDOCTOR_ACTION"] + " " + host + "\\n")
"""


def test_dns01_through_a_hook_that_sets_the_txt_record_in_challtestsrv(tmp_path):
    log = tmp_path / "hook.log"
    with run_pebble(tmp_path / "pebble", http_port=1) as pb:  # nothing on http: only dns-01 can pass
        hook = DnsHook([sys.executable, "-c", HOOK, pb.challtestsrv_url, str(log)], timeout=30)
        session = open_session(pb, tmp_path)
        issued = session.issue(new_csr(["*.dns.example.test", "dns.example.test"]), responder=hook, deadline=60)
        assert sans(issued.cert_pem) == ["*.dns.example.test", "dns.example.test"]
        cert_chain_verifies(issued.fullchain_pem, pb.roots_pem(), "x.dns.example.test")
    lines = log.read_text().splitlines()
    # the wildcard and the bare name share one TXT name (two values); each set is cleared again
    assert sorted(lines) == sorted(["set _acme-challenge.dns.example.test."] * 2
                                   + ["clear _acme-challenge.dns.example.test."] * 2)


def test_valid_authorizations_are_skipped_when_the_ca_reuses_them(tmp_path):
    with Http01Server("127.0.0.1:0") as srv, \
            run_pebble(tmp_path / "pebble", http_port=srv.port, env={"PEBBLE_AUTHZREUSE": "100"}) as pb:
        session = open_session(pb, tmp_path)
        session.issue(new_csr(), responder=srv, deadline=60)
        asked = len(srv.requests)
        issued = session.issue(new_csr(), responder=srv, deadline=60)
        assert len(srv.requests) == asked  # no validation the second time: both were valid already
        assert sans(issued.cert_pem) == sorted(NAMES)


def test_external_account_binding(tmp_path):
    hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    with Http01Server("127.0.0.1:0") as srv, \
            run_pebble(tmp_path / "pebble", http_port=srv.port, eab_keys={"kid-1": hmac}) as pb:
        with pytest.raises(AcmeFailure) as err:
            open_session(pb, tmp_path, key="no-eab.key")
        assert err.value.kind == "account" and "External Account Binding" in err.value.detail
        session = open_session(pb, tmp_path, eab_kid="kid-1", eab_hmac_key=hmac)
        assert session.account_created
        assert sans(session.issue(new_csr(["eab.example.test"]), responder=srv, deadline=60).cert_pem) == \
            ["eab.example.test"]


# --------------------------------------------------------------------------- faults

class WrongToken:
    """An http-01 responder that serves someone else's key authorization."""

    types = ("http-01",)

    def __init__(self, srv: Http01Server) -> None:
        self.srv = srv
        self.cleaned = 0

    def prepare(self, identifier, challenge_type, token, key_authorization, dns_value):
        self.srv.prepare(identifier, challenge_type, token, "wrongtoken." + key_authorization.split(".")[1],
                         dns_value)

    def cleanup(self, *args):
        self.cleaned += 1
        self.srv.cleanup(*args)


def test_wrong_token_served_is_challenge_failed_with_pebbles_words(acme_env, tmp_path):
    srv, pb = acme_env
    responder = WrongToken(srv)
    session = open_session(pb, tmp_path)
    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(["bad.example.test"]), responder=responder, deadline=60)
    f = err.value
    assert f.kind == "challenge_failed" and not f.transient
    assert "bad.example.test" in f.detail and "wrongtoken" in f.detail  # pebble quotes what it got
    assert responder.cleaned == 1 and srv._tokens == {}


def test_port_in_use_is_a_clear_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ChallengeError) as err:
            Http01Server(f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in err.value.message and "in use" in err.value.message
    assert "\n" not in err.value.message and "stop it" in err.value.hint


class StopsPebble:
    """Serves the right answer, then kills pebble before the challenge is answered."""

    types = ("http-01",)

    def __init__(self, srv, pb) -> None:
        self.srv, self.pb, self.cleaned = srv, pb, 0

    def prepare(self, *args):
        self.srv.prepare(*args)
        self.pb.stop()

    def cleanup(self, *args):
        self.cleaned += 1
        self.srv.cleanup(*args)


def test_pebble_stopped_mid_order_is_unreachable_and_transient(acme_env, tmp_path):
    srv, pb = acme_env
    session = open_session(pb, tmp_path)
    responder = StopsPebble(srv, pb)
    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(["gone.example.test"]), responder=responder, deadline=30)
    assert err.value.kind == "unreachable" and err.value.transient, repr(err.value)
    assert "refused" in err.value.detail.lower()
    assert responder.cleaned == 1 and not pb.running


def test_an_ACME_server_nobody_listens_on_is_unreachable(tmp_path):
    from support.servers import closed_port

    with pytest.raises(AcmeFailure) as err:
        AcmeSession.open(f"https://127.0.0.1:{closed_port()}/dir", ca_file=None, account_key=tmp_path / "a.key",
                         timeout=5)
    assert err.value.kind == "unreachable" and err.value.transient
    assert not (tmp_path / "a.key").exists()


def test_tls_is_verified_a_server_of_another_ca_is_refused(acme_env, tmp_path):
    _srv, pb = acme_env
    other = tmp_path / "other-ca.pem"
    other.write_bytes(TestCA("Some Other Root").cert_pem())
    with pytest.raises(AcmeFailure) as err:
        open_session(pb, tmp_path, ca_file=str(other))
    assert err.value.kind == "tls" and not err.value.transient
    assert "certificate verify failed" in err.value.detail.lower()
    assert not (tmp_path / "account.key").exists()  # no key is made for a server that is not trusted


# --------------------------------------------------------------------------- ARI, replaces, rate limits

@pytest.fixture
def ari_env(tmp_path):
    with Http01Server("127.0.0.1:0") as srv, run_pebble(tmp_path / "pebble", http_port=srv.port) as pb, \
            run_ari_proxy(pb) as ari:
        yield srv, pb, ari


def test_ari_window_replaces_and_already_replaced(ari_env, tmp_path):
    srv, pb, ari = ari_env
    session = open_session(pb, tmp_path, url=ari.directory_url)
    assert session.has_ari and session.renewal_info_url == ari.origin + "/renewal-info"
    assert session.account_uri.startswith(ari.origin)  # the client only ever sees the proxy
    first = session.issue(new_csr(), responder=srv, deadline=60)
    leaf = x509.load_pem_x509_certificate(first.cert_pem)
    cid = cert_id(leaf)
    assert cid == acme_client._renewal_info_path_component(leaf)
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1)
    end = start + dt.timedelta(days=2)
    ari.set_window(cid, start, end, retry_after=21600, explanation_url="https://ca.example.test/why")
    status, headers, body = session.renewal_info(leaf)
    assert status == 200 and headers["Retry-After"] == "21600"
    doc = json.loads(body)
    assert doc["suggestedWindow"] == {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                      "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    info = parse_renewal_info(body, headers, dt.datetime.now(dt.timezone.utc))  # what renew reads it with
    assert (info.start, info.end, info.retry_after) == (start, end, 21600.0)
    assert info.explanation_url == "https://ca.example.test/why"

    second = session.issue(new_csr(), responder=srv, replaces=cid, deadline=60)
    assert ari.orders[-1]["replaces"] == cid and "replaces" not in ari.orders[0]
    cert_chain_verifies(second.fullchain_pem, pb.roots_pem(), "www.example.test")

    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(), responder=srv, replaces=cid, deadline=60)
    assert err.value.kind == "already_replaced" and not err.value.transient and err.value.status == 409


def test_renewal_info_of_an_unknown_certificate_is_a_404_returned_raw(ari_env, tmp_path):
    _srv, pb, ari = ari_env
    session = open_session(pb, tmp_path, url=ari.directory_url)
    leaf = TestCA().issue_cert("x.example.test").cert
    status, _headers, body = session.renewal_info(leaf)
    assert status == 404 and b"malformed" in body


def test_oversized_renewal_info_is_refused(ari_env, tmp_path):
    _srv, pb, ari = ari_env
    session = open_session(pb, tmp_path, url=ari.directory_url)
    leaf = TestCA().issue_cert("x.example.test").cert
    ari.set_raw_renewal_info(cert_id(leaf), b" " * (70 * 1024))
    with pytest.raises(AcmeFailure) as err:
        session.renewal_info(leaf)
    assert err.value.kind == "bad_response" and "larger than" in err.value.detail


def test_replaces_is_not_sent_without_ari(ari_env, tmp_path):
    srv, pb, ari = ari_env
    ari.ari = False
    session = open_session(pb, tmp_path, url=ari.directory_url)
    assert not session.has_ari and session.renewal_info_url is None
    issued = session.issue(new_csr(), responder=srv, replaces="aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", deadline=60)
    assert "replaces" not in ari.orders[-1]
    assert any("replaces" in w for w in issued.warnings)
    with pytest.raises(AcmeFailure) as err:
        session.renewal_info(x509.load_pem_x509_certificate(issued.cert_pem))
    assert err.value.kind == "bad_response" and "no renewalInfo" in err.value.detail


def test_rate_limited_429_with_retry_after(ari_env, tmp_path):
    srv, pb, ari = ari_env
    session = open_session(pb, tmp_path, url=ari.directory_url)
    ari.fail_next("newOrder", "429", retry_after=120)
    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(), responder=srv, deadline=60)
    f = err.value
    assert (f.kind, f.transient, f.retry_after, f.status) == ("rate_limited", True, 120.0, 429)
    assert "rateLimited" in f.detail
    # the limit passes: the same session issues on the next try
    assert sans(session.issue(new_csr(), responder=srv, deadline=60).cert_pem) == sorted(NAMES)


def test_503_is_a_transient_bad_response(ari_env, tmp_path):
    srv, pb, ari = ari_env
    session = open_session(pb, tmp_path, url=ari.directory_url)
    ari.fail_next("newOrder", "503", retry_after=30)
    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(), responder=srv, deadline=60)
    assert (err.value.kind, err.value.transient, err.value.status, err.value.retry_after) == \
        ("bad_response", True, 503, 30.0)


def test_a_stalled_server_is_a_timeout_within_the_deadline(ari_env, tmp_path):
    srv, pb, ari = ari_env
    session = open_session(pb, tmp_path, url=ari.directory_url)
    ari.fail_next("newOrder", "stall", stall=20)
    t0 = time.monotonic()
    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(), responder=srv, deadline=2)
    assert err.value.kind == "timeout" and err.value.transient
    assert time.monotonic() - t0 < 5


def test_a_stalled_directory_is_a_timeout_at_open(ari_env, tmp_path):
    _srv, pb, ari = ari_env
    ari.fail_next("directory", "stall", stall=20)
    t0 = time.monotonic()
    with pytest.raises(AcmeFailure) as err:
        AcmeSession.open(ari.directory_url, ca_file=ari.ca_file, account_key=tmp_path / "a.key", timeout=1.5)
    assert err.value.kind == "timeout"
    assert time.monotonic() - t0 < 5


def test_an_endless_answer_is_cut_at_the_size_bound(ari_env, tmp_path):
    from certdoctor import policy

    _srv, _pb, ari = ari_env
    ari.fail_next("directory", "huge")
    with pytest.raises(AcmeFailure) as err:
        AcmeSession.open(ari.directory_url, ca_file=ari.ca_file, account_key=tmp_path / "a.key", timeout=10)
    assert err.value.kind == "bad_response" and f"larger than {policy.ACME_MAX_RESPONSE_BYTES} bytes" in \
        err.value.detail


def test_a_dripping_answer_is_cut_at_the_deadline(ari_env, tmp_path):
    """A byte every 0.2 s never trips the 1 s per-read timeout; the whole budget (4 x timeout at
    open) still ends it."""
    _srv, _pb, ari = ari_env
    ari.fail_next("directory", "drip", stall=25)
    t0 = time.monotonic()
    with pytest.raises(AcmeFailure) as err:
        AcmeSession.open(ari.directory_url, ca_file=ari.ca_file, account_key=tmp_path / "a.key", timeout=1)
    assert err.value.kind == "timeout" and "still coming" in err.value.detail
    assert 3.5 < time.monotonic() - t0 < 8


def test_profiles_only_when_the_directory_lists_them(ari_env, tmp_path):
    srv, pb, ari = ari_env
    ari.profiles = {"classic": "90 days", "shortlived": "6 days"}
    session = open_session(pb, tmp_path, url=ari.directory_url)
    assert session.profiles == {"classic": "90 days", "shortlived": "6 days"}
    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(), responder=srv, profile="tlsserver", deadline=60)
    assert err.value.kind == "order_invalid" and "tlsserver" in err.value.detail and "shortlived" in err.value.detail
    orders_before = len(ari.orders)
    assert orders_before == 0  # refused before any order was sent
    session.issue(new_csr(), responder=srv, profile="shortlived", deadline=60)
    assert ari.orders[-1]["profile"] == "shortlived"


def test_a_name_pebble_refuses_is_order_invalid(acme_env, tmp_path):
    srv, pb = acme_env
    session = open_session(pb, tmp_path)
    with pytest.raises(AcmeFailure) as err:
        session.issue(new_csr(["bad_name.example.test"]), responder=srv, deadline=30)
    assert err.value.kind == "order_invalid" and not err.value.transient
    assert "illegal character" in err.value.detail and err.value.status == 400
    assert srv.requests == []  # refused before any validation


def test_a_csr_pebble_refuses_at_finalize_is_finalize_failed(acme_env, tmp_path):
    """A CSR for the account's own key: pebble validates the names, then refuses the CSR (badCSR)."""
    srv, pb = acme_env
    session = open_session(pb, tmp_path)
    account_pem = (tmp_path / "account.key").read_bytes()
    with pytest.raises(AcmeFailure) as err:
        session.issue(crypto_util.make_csr(account_pem, ["fin.example.test"]), responder=srv, deadline=30)
    assert err.value.kind == "finalize_failed" and err.value.problem.endswith(":badCSR")
    assert "public key for a known account" in err.value.detail
    assert any(ok for _c, _p, ok in srv.requests)  # the names were validated first


def test_an_ip_address_identifier(acme_env, tmp_path):
    import ipaddress

    srv, pb = acme_env
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    csr = crypto_util.make_csr(pem, ["ip.example.test"], ipaddrs=[ipaddress.ip_address("127.0.0.1")])
    issued = open_session(pb, tmp_path).issue(csr, responder=srv, deadline=60)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    ips = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.IPAddress)
    assert ips == [ipaddress.ip_address("127.0.0.1")]


# --------------------------------------------------------------------------- the http-01 server itself

def _raw(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_http01_server_answers_only_tokens_being_validated():
    with Http01Server("127.0.0.1:0") as srv:
        srv.prepare("a.test", "http-01", "tok-1", "tok-1.thumb", "")
        ok = _raw(srv.port, b"GET /.well-known/acme-challenge/tok-1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ") and ok.endswith(b"\r\n\r\ntok-1.thumb")
        head = _raw(srv.port, b"HEAD /.well-known/acme-challenge/tok-1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
        for path in (b"/.well-known/acme-challenge/other", b"/", b"/.well-known/acme-challenge/../../etc/passwd",
                     b"/tok-1"):
            got = _raw(srv.port, b"GET " + path + b" HTTP/1.1\r\nHost: a.test\r\n\r\n")
            assert got.startswith(b"HTTP/1.1 404 "), (path, got)
        assert _raw(srv.port, b"POST /.well-known/acme-challenge/tok-1 HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405 ")
        assert _raw(srv.port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        srv.cleanup("a.test", "http-01", "tok-1", "tok-1.thumb", "")
        gone = _raw(srv.port, b"GET /.well-known/acme-challenge/tok-1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
        assert gone.startswith(b"HTTP/1.1 404 ")


def test_http01_server_bounds_request_size_and_time(monkeypatch):
    from certdoctor import policy

    monkeypatch.setattr(policy, "ACME_HTTP01_REQUEST_SECONDS", 0.5)
    with Http01Server("127.0.0.1:0") as srv:
        huge = b"GET /x HTTP/1.1\r\nX: " + b"a" * (policy.ACME_HTTP01_MAX_REQUEST_BYTES + 100) + b"\r\n\r\n"
        assert _raw(srv.port, huge).startswith(b"HTTP/1.1 400 ")
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"GET /.well-known/acme-challenge/x HTTP/1.1\r\n")  # and never the blank line
            got = s.recv(1024)
        assert got.startswith(b"HTTP/1.1 400 ") and time.monotonic() - t0 < 3
        # the server still answers after both
        assert _raw(srv.port, b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404 ")
    # and the port is released when it stops: a new server listens on it at once
    with Http01Server(f"127.0.0.1:{srv.port}") as again:
        assert again.port == srv.port
