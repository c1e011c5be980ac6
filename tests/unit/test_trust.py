"""certdoctor.trust.effective: which store each client uses (failure catalogue §8), read from
files and variables only. Real handshakes with the contexts it builds: tests/integration/test_trust.py.

Every test passes ``environ=`` explicitly: the machines here export CA variables and
/etc/pip.conf has ``cert =``, and none of that may leak into a result.
"""

from __future__ import annotations

import os
import ssl

import pytest
from cryptography.hazmat.primitives import serialization
from support.pki import TestCA, pem

from certdoctor.errors import InputError, UsageError
from certdoctor.model import Code, Severity
from certdoctor.trust.effective import clear_cache, effective_trust
from certdoctor.x509.pem import openssl_certificates


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("trustpki")
    root, other = TestCA("Trust Test Root").cert, TestCA("Trust Test Other Root").cert
    files = {
        "root": d / "root.pem", "other": d / "other.pem", "both": d / "both.pem",
        "empty": d / "empty.pem", "garbage": d / "garbage.pem",
    }
    files["root"].write_bytes(pem(root))
    files["other"].write_bytes(pem(other))
    files["both"].write_bytes(pem(root, other))
    files["empty"].write_bytes(b"")
    files["garbage"].write_bytes(b"this is not a certificate\n" * 10)
    return {"root": root, "other": other, "files": {k: str(v) for k, v in files.items()}, "dir": d}


# --------------------------------------------------------------------------- requests

def test_requests_defaults_to_certifi():
    import certifi

    t = effective_trust("requests", environ={})
    assert t.source == "certifi" and t.cafile == certifi.where() and t.capath is None
    assert t.certifi_path == certifi.where() and t.certifi_version == certifi.__version__
    assert not t.uses_os_store and t.findings == () and t.env == ()
    assert t.context_kind == "urllib3"


def test_requests_bundle_beats_curl_and_warns_about_session_verify(pki):
    f = pki["files"]
    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": f["root"], "CURL_CA_BUNDLE": f["other"]})
    assert t.source == "REQUESTS_CA_BUNDLE" and t.cafile == f["root"]
    assert any("shadowed" in r for r in t.reasons)
    w = [x for x in t.findings if x.severity is Severity.WARNING]
    assert len(w) == 1 and w[0].code is Code.CA_BUNDLE_ENV
    assert "session.verify" in w[0].summary and "session.verify" in w[0].explanation
    assert "trust_env = False" in w[0].fix
    assert t.env == (("REQUESTS_CA_BUNDLE", f["root"]), ("CURL_CA_BUNDLE", f["other"]))


def test_requests_curl_bundle_when_requests_bundle_empty(pki):
    f = pki["files"]
    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": f["other"]})
    assert t.source == "CURL_CA_BUNDLE" and t.cafile == f["other"]
    assert any("empty string" in r for r in t.reasons)
    assert ("REQUESTS_CA_BUNDLE", "") in t.env


def test_requests_bundle_directory_is_a_capath(pki, tmp_path):
    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": str(tmp_path)})
    assert t.capath == str(tmp_path) and t.cafile is None
    assert any(f.severity is Severity.ERROR and "hashed" in f.summary for f in t.findings)


def test_requests_per_request_verify_wins(pki):
    f = pki["files"]
    t = effective_trust("requests", ca_file=f["root"], environ={"REQUESTS_CA_BUNDLE": f["other"]})
    assert t.source == "argument" and t.cafile == f["root"]
    info = [x for x in t.findings if x.severity is Severity.INFO]
    assert info and "session.verify would not" in info[0].summary


def test_requests_ignores_ssl_cert_file(pki):
    f = pki["files"]
    t = effective_trust("requests", environ={"SSL_CERT_FILE": f["root"], "SSL_CERT_DIR": str(pki["dir"])})
    assert t.source == "certifi"
    ignored = [x for x in t.findings if "ignores" in x.summary]
    assert [x.summary.split()[0] for x in ignored] == ["SSL_CERT_FILE", "SSL_CERT_DIR"]
    assert all(x.severity is Severity.WARNING for x in ignored)
    assert any("REQUESTS_CA_BUNDLE" in x.fix for x in ignored)


# --------------------------------------------------------------------------- httpx

def test_httpx_precedence(pki):
    import certifi

    f = pki["files"]
    assert effective_trust("httpx", environ={}).cafile == certifi.where()
    t = effective_trust("httpx", environ={"SSL_CERT_FILE": f["root"], "SSL_CERT_DIR": str(pki["dir"]),
                                          "REQUESTS_CA_BUNDLE": f["other"]})
    assert t.source == "SSL_CERT_FILE" and t.cafile == f["root"] and t.capath is None
    assert any("SSL_CERT_FILE wins" in r for r in t.reasons)
    assert any("REQUESTS_CA_BUNDLE" in x.summary and x.severity is Severity.INFO for x in t.findings)
    t = effective_trust("httpx", environ={"SSL_CERT_FILE": "", "SSL_CERT_DIR": str(pki["dir"])})
    assert t.source == "SSL_CERT_DIR" and t.capath == str(pki["dir"]) and t.cafile is None
    t = effective_trust("httpx", ca_file=f["root"], environ={"SSL_CERT_FILE": f["other"]})
    assert t.source == "argument" and t.cafile == f["root"]


def test_httpx_broken_variables_give_its_exact_errors(pki, tmp_path):
    t = effective_trust("httpx", environ={"SSL_CERT_FILE": "/nonexistent.pem"})
    err = [x for x in t.findings if x.severity is Severity.ERROR]
    assert err and "FileNotFoundError: [Errno 2] No such file or directory" in err[0].explanation
    t = effective_trust("httpx", environ={"SSL_CERT_FILE": str(tmp_path)})
    assert any("IsADirectoryError" in x.explanation for x in t.findings if x.severity is Severity.ERROR)
    t = effective_trust("httpx", environ={"SSL_CERT_FILE": pki["files"]["empty"]})
    assert any("NO_CERTIFICATE_OR_CRL_FOUND" in e for x in t.findings for e in x.evidence)


# --------------------------------------------------------------------------- urllib

def test_urllib_uses_openssl_default_paths():
    p = ssl.get_default_verify_paths()
    t = effective_trust("urllib", environ={})
    assert t.source == "openssl-default"
    assert (t.cafile, t.capath) == (p.openssl_cafile, p.openssl_capath)


def test_urllib_ssl_cert_file_replaces_only_the_file(pki):
    p = ssl.get_default_verify_paths()
    f = pki["files"]
    t = effective_trust("urllib", environ={"SSL_CERT_FILE": f["root"], "REQUESTS_CA_BUNDLE": f["other"]})
    assert t.source == "SSL_CERT_FILE" and t.cafile == f["root"] and t.capath == p.openssl_capath
    assert any("replaces OpenSSL's default file" in x.summary for x in t.findings)
    assert any("REQUESTS_CA_BUNDLE" in x.summary and "ignores" in x.summary for x in t.findings)


def test_urllib_empty_store_is_an_error(pki, tmp_path):
    t = effective_trust("urllib", environ={"SSL_CERT_FILE": "/nonexistent.pem", "SSL_CERT_DIR": str(tmp_path)})
    errors = [x for x in t.findings if x.severity is Severity.ERROR]
    assert errors and all(x.code is Code.CA_BUNDLE_ENV for x in errors)
    assert any("unable to get local issuer certificate" in x.explanation for x in errors)
    assert not t.uses_os_store


def test_urllib_garbage_file_is_silently_empty(pki, tmp_path):
    t = effective_trust("urllib", environ={"SSL_CERT_FILE": pki["files"]["garbage"], "SSL_CERT_DIR": str(tmp_path)})
    err = [x for x in t.findings if x.severity is Severity.ERROR]
    assert err and "holds no usable certificate" in err[0].summary


# --------------------------------------------------------------------------- pip

def _pipenv(tmp_path, **extra) -> dict:
    """An environment whose pip user/XDG config lives in tmp_path."""
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "XDG_CONFIG_DIRS": str(tmp_path / "xdgdirs")}
    env.update(extra)
    return env


def test_pip_config_file_cert(pki, tmp_path):
    f = pki["files"]
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\ncert = {f['other']}\n[install]\ncert = {f['root']}\n")
    t = effective_trust("pip", environ=_pipenv(tmp_path, PIP_CONFIG_FILE=str(conf)))
    assert t.source == "pip.conf" and t.cafile == f["root"]  # [install] beats [global]
    assert str(conf) in t.pip_config_files
    assert t.context_kind == "truststore" and t.uses_os_store
    assert t.certifi_path and "_vendor" in t.certifi_path and t.certifi_path in t.extra_cafiles
    assert t.findings == ()


def test_pip_user_config_skipped_when_config_file_exists(pki, tmp_path):
    f = pki["files"]
    user = tmp_path / "xdg" / "pip"
    user.mkdir(parents=True)
    (user / "pip.conf").write_text(f"[global]\ncert = {f['other']}\n")
    t = effective_trust("pip", environ=_pipenv(tmp_path, PIP_CONFIG_FILE=str(tmp_path / "missing.conf")))
    assert t.cafile == f["other"] and str(user / "pip.conf") in t.pip_config_files
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\ntimeout = 5\n")
    t = effective_trust("pip", environ=_pipenv(tmp_path, PIP_CONFIG_FILE=str(conf)))
    assert str(user / "pip.conf") not in t.pip_config_files


def test_pip_devnull_reads_no_file(pki, tmp_path):
    t = effective_trust("pip", environ=_pipenv(tmp_path, PIP_CONFIG_FILE=os.devnull))
    assert t.source == "truststore" and t.cafile is None and t.pip_config_files == ()
    assert any(os.devnull in r for r in t.reasons)


def test_pip_cert_env_and_argument(pki, tmp_path):
    f = pki["files"]
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\ncert = {f['other']}\n")
    env = _pipenv(tmp_path, PIP_CONFIG_FILE=str(conf), PIP_CERT=f["root"])
    t = effective_trust("pip", environ=env)
    assert t.source == "PIP_CERT" and t.cafile == f["root"]
    t = effective_trust("pip", ca_file=f["both"], environ=env)
    assert t.source == "argument" and t.cafile == f["both"]


def test_pip_requests_bundle_overrides_cert(pki, tmp_path):
    f = pki["files"]
    env = _pipenv(tmp_path, PIP_CONFIG_FILE=os.devnull, PIP_CERT=f["root"], CURL_CA_BUNDLE=f["other"])
    t = effective_trust("pip", environ=env)
    assert t.source == "CURL_CA_BUNDLE" and t.cafile == f["other"]
    w = [x for x in t.findings if x.severity is Severity.WARNING]
    assert w and "overrides pip's cert" in w[0].summary and f["root"] in w[0].summary


def test_pip_legacy_certs(pki, tmp_path):
    t = effective_trust("pip", environ=_pipenv(tmp_path, PIP_CONFIG_FILE=os.devnull,
                                               PIP_USE_DEPRECATED="legacy-certs"), python="3.13")
    assert t.context_kind == "urllib3" and not t.uses_os_store
    assert t.source == "certifi" and t.cafile == t.certifi_path
    assert t.strict  # pip vendors urllib3 2.x, which copies 3.13's flags


def test_pip_missing_cert_is_an_error(tmp_path):
    t = effective_trust("pip", environ=_pipenv(tmp_path, PIP_CONFIG_FILE=os.devnull, PIP_CERT="/nonexistent.pem"))
    err = [x for x in t.findings if x.severity is Severity.ERROR]
    assert err and "invalid path: /nonexistent.pem" in err[0].explanation


# --------------------------------------------------------------------------- broken files

@pytest.mark.parametrize("which", ["missing", "empty", "garbage"])
def test_requests_broken_bundle_findings(pki, which):
    path = "/nonexistent/bundle.pem" if which == "missing" else pki["files"][which]
    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": path})
    err = [x for x in t.findings if x.severity is Severity.ERROR]
    assert len(err) == 1 and err[0].code is Code.CA_BUNDLE_ENV
    if which == "missing":
        assert f"Could not find a suitable TLS CA certificate bundle, invalid path: {path}" in err[0].explanation
    else:
        assert "NO_CERTIFICATE_OR_CRL_FOUND" in err[0].explanation
        assert "requests.exceptions.SSLError" in err[0].explanation
    with pytest.raises(InputError):
        t.ssl_context()


# --------------------------------------------------------------------------- real contexts

def test_bad_arguments():
    with pytest.raises(UsageError):
        effective_trust("curl", environ={})
    with pytest.raises(UsageError):
        effective_trust("requests", environ={}, python="three")


# --------------------------------------------------------------------------- anchors

def test_anchors_parse_and_cache_invalidation(pki, tmp_path):
    clear_cache()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(pki["root"]))
    t = effective_trust("requests", ca_file=str(bundle), environ={})
    assert [c.subject for c in t.anchors()] == [pki["root"].subject]
    assert t.anchors() is not None
    bundle.write_bytes(pem(pki["root"], pki["other"]))
    os.utime(bundle, ns=(1, 1))  # even with an old mtime, the size changed
    assert [c.subject for c in t.anchors()] == [pki["root"].subject, pki["other"].subject]


def test_anchors_hashed_directory_and_trusted_certificate(pki, tmp_path):
    d = tmp_path / "hashed"
    d.mkdir()
    (d / "0a1b2c3d.0").write_bytes(pem(pki["root"]))
    (d / "README").write_bytes(pem(pki["other"]))  # not a hash name: OpenSSL never reads it
    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": str(d)})
    assert [c.subject for c in t.anchors()] == [pki["root"].subject]
    der = pki["other"].public_bytes(serialization.Encoding.DER)
    import base64

    aux = bytes([0x30, 0x03, 0x06, 0x01, 0x00])  # trailing X509_AUX-ish junk
    block = b"-----BEGIN TRUSTED CERTIFICATE-----\n" + base64.encodebytes(der + aux) + b"-----END TRUSTED CERTIFICATE-----\n"
    got = openssl_certificates(pem(pki["root"]) + b"junk\n" + block)
    assert [c.subject for c in got] == [pki["root"].subject, pki["other"].subject]


def test_a_broken_block_does_not_hide_the_next_one(pki, tmp_path):
    # a commented or cut BEGIN line has no END of its own: skipped alone, as OpenSSL reads the file
    data = (b"# paste below -----BEGIN CERTIFICATE-----\n" + pem(pki["root"])
            + b"-----BEGIN CERTIFICATE-----\nMIIB\n" + pem(pki["other"]))
    got = openssl_certificates(data)
    assert [c.subject for c in got] == [pki["root"].subject, pki["other"].subject]
    path = tmp_path / "commented.pem"
    path.write_bytes(data.replace(b"-----BEGIN CERTIFICATE-----\nMIIB\n", b""))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(path))
    assert {c.public_bytes(serialization.Encoding.DER) for c in openssl_certificates(path.read_bytes())} == set(
        ctx.get_ca_certs(binary_form=True))


def test_pip_anchors_include_os_certifi_and_cert(pki, tmp_path):
    import certifi

    t = effective_trust("pip", ca_file=pki["files"]["root"], environ=_pipenv(tmp_path, PIP_CONFIG_FILE=os.devnull))
    subjects = {c.subject for c in t.anchors()}
    assert pki["root"].subject in subjects
    with open(certifi.where(), "rb") as fh:
        certifi_subjects = {c.subject for c in openssl_certificates(fh.read())}
    assert len(subjects & certifi_subjects) > 50


def test_truststore_injection_is_detected():
    import truststore

    truststore.inject_into_ssl()
    try:
        t = effective_trust("requests", environ={})
        assert t.truststore_injected and t.uses_os_store
        assert any("inject_into_ssl" in r for r in t.reasons)
    finally:
        truststore.extract_from_ssl()
    assert not effective_trust("requests", environ={}).truststore_injected
