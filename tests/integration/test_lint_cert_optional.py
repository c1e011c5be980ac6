"""Why ``certdoctor lint`` is quiet about CERT_OPTIONAL on a client context: on a client,
Python's CERT_OPTIONAL is OpenSSL's SSL_VERIFY_PEER, which aborts the handshake on a chain that
does not verify, exactly like CERT_REQUIRED (SSL_VERIFY_FAIL_IF_NO_PEER_CERT only matters on a
server). Proved here against real TLS servers on 127.0.0.1: an untrusted certificate fails the
handshake, a trusted one passes, and CERT_NONE (the real finding) accepts the untrusted one."""

from __future__ import annotations

import socket
import ssl

import pytest
from support.pki import TestCA
from support.servers import tls_server

from certdoctor.lint.scan import lint_source, scan_source


@pytest.fixture(scope="module")
def cas():
    return TestCA("CERT_OPTIONAL Trusted Root"), TestCA("CERT_OPTIONAL Unknown Root")


def _client(ca: TestCA, mode: ssl.VerifyMode, check_hostname: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = check_hostname
    ctx.verify_mode = mode
    ctx.load_verify_locations(cadata=ca.cert_pem().decode())
    return ctx


def _handshake(ctx: ssl.SSLContext, port: int) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    except BaseException:
        raw.close()
        raise


@pytest.mark.parametrize("check_hostname", [True, False])
def test_cert_optional_client_refuses_an_untrusted_certificate(cas, check_hostname):
    trusted, unknown = cas
    ctx = _client(trusted, ssl.CERT_OPTIONAL, check_hostname)
    assert ctx.verify_mode is ssl.CERT_OPTIONAL  # really set, not upgraded behind our back
    with tls_server(unknown.issue_cert("127.0.0.1")) as srv:
        with pytest.raises(ssl.SSLCertVerificationError) as exc:
            _handshake(ctx, srv.port)
        assert exc.value.verify_code == 20  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY


def test_cert_optional_client_accepts_a_trusted_certificate_and_checks_it(cas):
    trusted, _ = cas
    ctx = _client(trusted, ssl.CERT_OPTIONAL)
    with tls_server(trusted.issue_cert("127.0.0.1")) as srv:
        tls = _handshake(ctx, srv.port)
        try:
            peer = tls.getpeercert()
            assert peer and dict(x[0] for x in peer["subject"]).get("commonName") == "127.0.0.1"
        finally:
            tls.close()


def test_cert_none_client_accepts_the_untrusted_certificate(cas):
    # the contrast: CERT_NONE is what really turns verification off
    trusted, unknown = cas
    ctx = _client(trusted, ssl.CERT_NONE, check_hostname=False)
    with tls_server(unknown.issue_cert("127.0.0.1")) as srv:
        tls = _handshake(ctx, srv.port)
        tls.close()


CLIENT_OPTIONAL = """\
import ssl
ctx = ssl.create_default_context()
ctx.verify_mode = ssl.CERT_OPTIONAL
"""


def test_lint_matches_the_experiment():
    # what the handshakes above prove is what the lint says: no finding, no hygiene note
    assert lint_source(CLIENT_OPTIONAL) == ()
    assert scan_source(CLIENT_OPTIONAL).hygiene == ()
    none = CLIENT_OPTIONAL.replace("CERT_OPTIONAL", "CERT_NONE")
    assert [f.code.value for f in lint_source(none)] == ["CERT_NONE"]
