"""certdoctor.trust.effective: the contexts it builds, in real handshakes with TLS servers on
127.0.0.1 and the lab. Which store each client uses, from files and variables: tests/unit/test_trust.py.

Every test passes ``environ=`` explicitly: the machines here export CA variables and
/etc/pip.conf has ``cert =``, and none of that may leak into a result.
"""

from __future__ import annotations

import os
import socket
import ssl

import pytest
from support.pki import TestCA, pem

from certdoctor.trust.effective import effective_trust

STRICT = ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("trustpki")
    root, other = TestCA("Trust Test Root"), TestCA("Trust Test Other Root")
    files = {"root": d / "root.pem", "other": d / "other.pem", "both": d / "both.pem"}
    files["root"].write_bytes(pem(root.cert))
    files["other"].write_bytes(pem(other.cert))
    files["both"].write_bytes(pem(root.cert, other.cert))
    return {"files": {k: str(v) for k, v in files.items()},
            "good": root.issue_cert("trust.test"), "noaki": root.issue_cert("noaki.trust.test", aki=False)}


@pytest.fixture
def server(pki, servers):
    """``server(kind)``: a TLS server (``support.servers``) for the ``pki[kind]`` leaf."""
    return lambda kind="good": servers.tls(pki[kind])


def handshake(ctx: ssl.SSLContext, port: int, hostname: str, host: str = "127.0.0.1") -> None:
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=hostname):
            pass


# --------------------------------------------------------------------------- pip

def _pipenv(tmp_path, **extra) -> dict:
    """An environment whose pip user/XDG config lives in tmp_path."""
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "XDG_CONFIG_DIRS": str(tmp_path / "xdgdirs")}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- real contexts

def test_requests_context_verifies_with_ca_file_and_fails_without(pki, server):
    srv = server()
    ok = effective_trust("requests", ca_file=pki["files"]["root"], environ={}).ssl_context()
    assert ok.check_hostname and ok.verify_mode is ssl.CERT_REQUIRED
    handshake(ok, srv.port, "trust.test")
    certifi_only = effective_trust("requests", environ={}).ssl_context()
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        handshake(certifi_only, srv.port, "trust.test")
    wrong = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": pki["files"]["other"]}).ssl_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(wrong, srv.port, "trust.test")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(ok, srv.port, "other.test")


@pytest.mark.parametrize("client", ["httpx", "urllib", "pip"])
def test_other_clients_contexts_verify_with_ca_file(pki, server, client, tmp_path):
    srv = server()
    env = _pipenv(tmp_path, PIP_CONFIG_FILE=os.devnull)
    handshake(effective_trust(client, ca_file=pki["files"]["root"], environ=env).ssl_context(), srv.port, "trust.test")
    if client == "httpx":
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake(effective_trust(client, environ=env).ssl_context(), srv.port, "trust.test")
        t = effective_trust(client, environ={"SSL_CERT_FILE": pki["files"]["both"]})
        handshake(t.ssl_context(), srv.port, "trust.test")


def test_python_313_sets_the_strict_flags(pki, server):
    for client in ("requests", "httpx", "urllib"):
        t = effective_trust(client, ca_file=pki["files"]["root"], environ={}, python="3.13")
        assert t.strict and t.python == "3.13"
        assert t.ssl_context().verify_flags & STRICT == STRICT
        assert t.ssl_context(python="3.11").verify_flags & STRICT == 0
        assert effective_trust(client, environ={}, python="3.11").ssl_context().verify_flags & STRICT == 0
    pip = effective_trust("pip", environ={"PIP_CONFIG_FILE": os.devnull}, python="3.13")
    assert not pip.strict and pip.ssl_context().verify_flags & STRICT == 0
    # and it matters: a leaf without authorityKeyIdentifier passes on 3.11, fails on 3.13
    srv = server("noaki")
    t = effective_trust("requests", ca_file=pki["files"]["root"], environ={})
    handshake(t.ssl_context(python="3.11"), srv.port, "noaki.trust.test")
    with pytest.raises(ssl.SSLCertVerificationError, match="Missing Authority Key Identifier"):
        handshake(t.ssl_context(python="3.13"), srv.port, "noaki.trust.test")


# --------------------------------------------------------------------------- the lab

def test_lab_good_with_and_without_ca_file(lab):
    ep = lab.endpoint("good")
    handshake(effective_trust("requests", ca_file=str(lab.ca_file), environ={}).ssl_context(), ep.port, ep.hostname)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(effective_trust("requests", environ={}).ssl_context(), ep.port, ep.hostname)


def test_lab_strict_scenario_fails_only_with_313(lab):
    from certdoctor.lab import SCENARIOS

    sc = SCENARIOS["strict_no_aki"] if "strict_no_aki" in SCENARIOS else None
    if sc is None:
        pytest.skip("no strict_no_aki scenario")
    ep = lab.endpoint("strict_no_aki")
    t = effective_trust("requests", ca_file=str(lab.ca_file), environ={})
    handshake(t.ssl_context(python="3.11"), ep.port, ep.hostname)
    with pytest.raises(ssl.SSLCertVerificationError, match=sc.strict_error):
        handshake(t.ssl_context(python="3.13"), ep.port, ep.hostname)
