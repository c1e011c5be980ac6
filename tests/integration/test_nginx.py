"""certdoctor against a real nginx on 127.0.0.1: what a real web server sends is what is diagnosed.

* the server-side fix (``full_chain.pem``) served by nginx really makes the real client succeed;
* a chain file in the wrong order, as nginx sends it, is a CHAIN_ORDER warning, not a failure;
* an OCSP response made by the real ``openssl ocsp`` and stapled by nginx is read by
  ``probe(..., ocsp=True)`` and believed by ``check_revocation`` (GOOD and REVOKED).

Skipped only when nginx is not installed (``scripts/ensure-tools.sh`` installs nginx-light).
Every nginx is stopped in ``finally`` (see ``support.nginx.run_nginx``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certdoctor.diagnose import diagnose
from certdoctor.lab import SCENARIOS
from certdoctor.lab.pki import cert_pem, key_pem
from certdoctor.model import Code, Severity, fingerprint_sha256
from certdoctor.lab.ocsp import OpenSSLOCSPResponder, write_index
from certdoctor.net.probe import probe
from certdoctor.remedies.fix import fix
from certdoctor.revocation.check import RevocationStatus, check_revocation
from support.nginx import nginx_binary, run_nginx

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(
        nginx_binary() is None,
        reason="nginx is not installed (not in PATH, no /usr/sbin/nginx); "
               "scripts/ensure-tools.sh installs nginx-light",
    ),
]

REQUEST_TIMEOUT = 5.0


def _get(url: str, ca_file) -> requests.Response:
    """The real requests call a user makes, trusting only the lab root (no environment)."""
    with requests.Session() as s:
        s.trust_env = False
        return s.get(url, verify=str(ca_file), timeout=REQUEST_TIMEOUT)


def _pem_certs(path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


# --------------------------------------------------------------------------- a. the fix works

def test_full_chain_written_by_fix_makes_nginx_verify(lab, tmp_path):
    files = lab.scenario_files("missing_intermediate")
    # the lab serves this leaf alone: its "chain" file is the leaf and nothing else
    assert len(_pem_certs(files["chain"])) == 1
    leaf = _pem_certs(files["leaf"])[0]
    hostname = SCENARIOS["missing_intermediate"].hostname
    expected_error = SCENARIOS["missing_intermediate"].requests_error
    assert expected_error == "unable to get local issuer certificate"

    with run_nginx(tmp_path / "broken", files["leaf"], files["key"]) as (_host, port):
        url = f"https://{hostname}:{port}/"
        with pytest.raises(requests.exceptions.SSLError, match=expected_error):
            _get(url, lab.ca_file)
        result = fix(url, tmp_path / "out", ca_file=str(lab.ca_file))

    assert Code.CHAIN_INCOMPLETE in {f.code for f in result.diagnosis.findings}
    assert result.full_chain == str(tmp_path / "out" / "full_chain.pem")
    full_chain = tmp_path / "out" / "full_chain.pem"
    served = _pem_certs(full_chain)
    # leaf first, then the intermediate found by AIA; no root
    assert served == [leaf, lab.pki.intermediate_cert]

    # the operator installs full_chain.pem: same key, same name, same client call
    with run_nginx(tmp_path / "fixed", full_chain, files["key"]) as (_host, port):
        url = f"https://{hostname}:{port}/"
        r = _get(url, lab.ca_file)
        assert (r.status_code, r.text) == (200, "ok\n")
        d = diagnose(url, ca_file=str(lab.ca_file))
    assert d.verifies is True
    assert d.errors == (), [f"{f.code.value}: {f.summary}" for f in d.errors]
    assert Code.CHAIN_INCOMPLETE not in {f.code for f in d.findings}
    assert d.ok
    assert [c.fingerprint_sha256 for c in d.chain.certs] == [
        fingerprint_sha256(leaf), fingerprint_sha256(lab.pki.intermediate_cert)]


# --------------------------------------------------------------------------- b. wrong order

def test_wrong_order_served_by_nginx_is_a_warning(lab, tmp_path):
    files = lab.scenario_files("wrong_order")
    sent = _pem_certs(files["chain"])
    assert sent == [_pem_certs(files["leaf"])[0], lab.pki.root.cert, lab.pki.intermediate_cert]
    hostname = SCENARIOS["wrong_order"].hostname

    with run_nginx(tmp_path / "nginx", files["chain"], files["key"]) as (_host, port):
        url = f"https://{hostname}:{port}/"
        r = _get(url, lab.ca_file)  # OpenSSL sorts it out: the client succeeds
        assert (r.status_code, r.text) == (200, "ok\n")
        d = diagnose(url, ca_file=str(lab.ca_file))

    # nginx sent the file as is, in that order
    assert [c.fingerprint_sha256 for c in d.chain.certs] == [fingerprint_sha256(c) for c in sent]
    order = [f for f in d.findings if f.code is Code.CHAIN_ORDER]
    assert len(order) == 1 and order[0].severity is Severity.WARNING
    assert d.verifies is True
    assert d.errors == (), [f"{f.code.value}: {f.summary}" for f in d.errors]


# --------------------------------------------------------------------------- c. OCSP stapling

_NO_PYOPENSSL = importlib.util.find_spec("OpenSSL") is None


def _ocsp_response(tmp_path, lab, leaf: x509.Certificate, *, revoked: bool) -> bytes:
    """A DER OCSP response for ``leaf`` made by the real ``openssl ocsp``, signed by the issuer."""
    inter = tmp_path / "intermediate.pem"
    inter_key = tmp_path / "intermediate.key.pem"
    inter.write_bytes(cert_pem(lab.pki.intermediate_cert))
    inter_key.write_bytes(key_pem(lab.pki.intermediate_key))
    inter_key.chmod(0o600)
    index = tmp_path / f"index-{leaf.serial_number:x}.txt"
    if revoked:
        when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
        write_index(index, revoked=[(leaf, when, "keyCompromise")])
    else:
        write_index(index, good=[leaf])
    request = (ocsp.OCSPRequestBuilder()
               .add_certificate(leaf, lab.pki.intermediate_cert, hashes.SHA1())
               .build().public_bytes(serialization.Encoding.DER))
    der = OpenSSLOCSPResponder(inter, index, inter, inter_key, nmin=60).respond(request)
    parsed = ocsp.load_der_ocsp_response(der)
    assert parsed.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL, "openssl ocsp failed"
    return der


def _leaf_files(tmp_path, issued, name: str):
    chain = tmp_path / f"{name}.chain.pem"
    key = tmp_path / f"{name}.key.pem"
    chain.write_bytes(b"".join(cert_pem(c) for c in issued.chain))
    key.write_bytes(key_pem(issued.key))
    key.chmod(0o600)
    return chain, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI makes the OCSP responses")
@pytest.mark.skipif(_NO_PYOPENSSL, reason="pyOpenSSL is not installed: probe(ocsp=True) needs it to "
                    "send status_request (the stdlib ssl module cannot ask for a stapled OCSP response)")
@pytest.mark.parametrize("revoked", [False, True], ids=["good", "revoked"])
def test_ocsp_response_stapled_by_nginx(lab, tmp_path, revoked):
    hostname = "ocsp-staple-revoked.lab.test" if revoked else "ocsp-staple.lab.test"
    # a fresh leaf: the lab's own CRL is left alone, only this index.txt says "revoked"
    issued = lab.pki.issue_leaf([hostname])
    leaf, issuer = issued.cert, lab.pki.intermediate_cert
    chain, key = _leaf_files(tmp_path, issued, "leaf")
    staple_der = _ocsp_response(tmp_path, lab, leaf, revoked=revoked)
    staple_file = tmp_path / "staple.der"
    staple_file.write_bytes(staple_der)

    with run_nginx(tmp_path / "nginx", chain, key, stapling_file=staple_file) as (host, port):
        asked = probe(host, port, servername=hostname, ocsp=True, timeout=5)
        not_asked = probe(host, port, servername=hostname, timeout=5)

    assert asked.ok, asked.failure
    assert asked.ocsp_requested is True
    assert asked.ocsp_staple == staple_der  # nginx stapled exactly openssl's response
    assert not_asked.ok and not_asked.ocsp_requested is False and not_asked.ocsp_staple is None

    result = check_revocation(leaf, issuer, stapled=asked.ocsp_staple, method="ocsp")
    assert result.method == "stapled", result.attempts
    # a REVOKED staple settles it without any network; after a GOOD one the CA is still asked
    # (a REVOKED from it would win), and the staple decides GOOD when nothing says REVOKED
    assert [a.method for a in result.attempts][:1] == ["stapled"]
    assert len(result.attempts) == (1 if revoked else 2), result.attempts
    if revoked:
        assert result.status is RevocationStatus.REVOKED, result.attempts
        assert result.reason == "keyCompromise"
        assert result.finding().code is Code.REVOKED
    else:
        assert result.status is RevocationStatus.GOOD, result.attempts
        assert result.finding() is None


@pytest.mark.skipif(_NO_PYOPENSSL, reason="pyOpenSSL is not installed: probe(ocsp=True) needs it to "
                    "send status_request (the stdlib ssl module cannot ask for a stapled OCSP response)")
def test_no_staple_when_nginx_staples_nothing(lab, tmp_path):
    files = lab.scenario_files("good")
    with run_nginx(tmp_path / "nginx", files["chain"], files["key"]) as (host, port):
        r = probe(host, port, servername=SCENARIOS["good"].hostname, ocsp=True, timeout=5)
    assert r.ok, r.failure
    assert r.ocsp_requested is True and r.ocsp_staple is None
